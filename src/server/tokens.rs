//! S9: the token service. Issues access tokens with an expiry and verifies
//! them per call (S6): no token or an unknown or expired one is 401, a token
//! of another org is 403. Refresh and logout arrive with the auth lifecycle.

use crate::event::OrgId;
use crate::seed::SimRng;
use crate::time::SimTime;
use rand::Rng;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct TokenConfig {
    pub access_token_ttl_ms: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            access_token_ttl_ms: 15 * 60 * 1000,
        }
    }
}

#[derive(Clone, Debug)]
struct Grant {
    org: OrgId,
    expires_at: SimTime,
}

/// Signed tokens in production; here a registry that, like a signing key,
/// survives a restart of the realtime process.
#[derive(Debug)]
pub struct Tokens {
    config: TokenConfig,
    grants: BTreeMap<String, Grant>,
}

impl Tokens {
    pub fn new(config: TokenConfig) -> Self {
        Tokens {
            config,
            grants: BTreeMap::new(),
        }
    }

    pub fn issue(
        &mut self,
        now: SimTime,
        org: OrgId,
        user: u32,
        rng: &mut SimRng,
    ) -> (String, SimTime) {
        let token = format!("tok.{org}.{user}.{:016x}", rng.gen::<u64>());
        let expires_at = now + self.config.access_token_ttl_ms;
        self.grants.insert(token.clone(), Grant { org, expires_at });
        (token, expires_at)
    }

    /// `Ok` if `bearer` may act for `org` (any org when `None`), else the status.
    pub fn verify(
        &self,
        now: SimTime,
        bearer: Option<&str>,
        org: Option<OrgId>,
    ) -> Result<(), u16> {
        let grant = bearer.and_then(|b| self.grants.get(b)).ok_or(401u16)?;
        if grant.expires_at <= now {
            return Err(401);
        }
        match org {
            Some(o) if o != grant.org => Err(403),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    #[test]
    fn verify_distinguishes_missing_expired_and_foreign() {
        let mut t = Tokens::new(TokenConfig {
            access_token_ttl_ms: 1000,
        });
        let mut rng = rng_for(1, "tokens");
        let (tok, _) = t.issue(SimTime(0), 7, 1, &mut rng);
        assert_eq!(t.verify(SimTime(10), Some(&tok), Some(7)), Ok(()));
        assert_eq!(t.verify(SimTime(10), Some(&tok), Some(8)), Err(403));
        assert_eq!(t.verify(SimTime(10), None, Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(10), Some("forged"), Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(1000), Some(&tok), Some(7)), Err(401));
    }
}
