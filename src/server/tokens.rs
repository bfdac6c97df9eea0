//! S9: the token service. A login opens a session and issues an access token
//! with an expiry and a refresh token (the session cookie); `refresh` issues
//! a new access token for a live session; `logout` revokes the session and
//! every access token it was given. Each call is verified (S6): no token, or
//! an unknown, expired or revoked one, is 401; a token of another org is 403.

use crate::event::OrgId;
use crate::mutant::{fires, Mutant};
use crate::seed::SimRng;
use crate::time::SimTime;
use rand::Rng;
use rustc_hash::FxHashMap; // determinism-ok: `grants`, whose walks are order-free
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct TokenConfig {
    pub access_token_ttl_ms: u64,
    /// While a `refresh_slow` fault is on, a refresh is answered this much later.
    pub refresh_slow_ms: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            access_token_ttl_ms: 15 * 60 * 1000,
            refresh_slow_ms: 5_000,
        }
    }
}

/// How `POST /auth/refresh` behaves; the `refresh_fail` and `refresh_slow` faults set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshMode {
    Normal,
    /// Every refresh answers 503.
    Fail,
    /// Every refresh is answered `refresh_slow_ms` late.
    Slow,
}

/// What a login or a refresh hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub session: u64,
    pub token: String,
    pub refresh_token: String,
    pub expires_at: SimTime,
}

#[derive(Clone, Debug)]
struct Grant {
    session: u64,
    org: OrgId,
    expires_at: SimTime,
}

#[derive(Clone, Debug)]
struct Session {
    org: OrgId,
    user: u32,
    refresh_token: String,
}

/// Signed tokens in production; here a registry that, like a signing key and
/// a session table, survives a restart of the realtime process.
#[derive(Debug)]
pub struct Tokens {
    config: TokenConfig,
    mutant: Option<Mutant>,
    /// Found by hash: every request verifies its bearer here, and a tree of
    /// every grant compared strings down a walk of misses at 50,000 tabs. Its
    /// two walks (`logout`, `expire_user`) act on each grant alike, in any order.
    grants: FxHashMap<String, Grant>, // determinism-ok: walks are order-free
    /// Live sessions; a logout removes its session.
    sessions: BTreeMap<u64, Session>,
    next_session: u64,
    /// Every token and refresh token ever handed out, for `mentions_a_token`.
    ever_issued: std::collections::BTreeSet<String>,
}

impl Tokens {
    pub fn new(config: TokenConfig, mutant: Option<Mutant>) -> Self {
        Tokens {
            config,
            mutant,
            grants: FxHashMap::default(), // determinism-ok: walks are order-free
            sessions: BTreeMap::new(),
            ever_issued: Default::default(),
            next_session: 0,
        }
    }

    fn grant(&mut self, now: SimTime, session: u64, refresh: bool, rng: &mut SimRng) -> Issued {
        let s = &self.sessions[&session];
        let token = format!("tok.{}.{}.{:016x}", s.org, s.user, rng.gen::<u64>());
        let ttl_ms = self.config.access_token_ttl_ms;
        let expires_at = now
            + if refresh && fires(self.mutant, Mutant::RefreshShortTtl) {
                ttl_ms / 10
            } else {
                ttl_ms
            };
        let issued = Issued {
            session,
            token: token.clone(),
            refresh_token: s.refresh_token.clone(),
            expires_at,
        };
        let org = s.org;
        self.ever_issued.insert(issued.token.clone());
        self.ever_issued.insert(issued.refresh_token.clone());
        self.grants.insert(
            token,
            Grant {
                session,
                org,
                expires_at,
            },
        );
        issued
    }

    /// Sign `user` of `org` in: a new session and its first access token.
    pub fn login(&mut self, now: SimTime, org: OrgId, user: u32, rng: &mut SimRng) -> Issued {
        self.next_session += 1;
        let refresh_token = format!("ref.{org}.{user}.{:016x}", rng.gen::<u64>());
        self.sessions.insert(
            self.next_session,
            Session {
                org,
                user,
                refresh_token,
            },
        );
        self.grant(now, self.next_session, false, rng)
    }

    fn session_of(&self, refresh_token: &str) -> Option<u64> {
        self.sessions
            .iter()
            .find(|(_, s)| s.refresh_token == refresh_token)
            .map(|(id, _)| *id)
    }

    /// A new access token for the session `refresh_token` belongs to; 401 if it is gone.
    pub fn refresh(
        &mut self,
        now: SimTime,
        refresh_token: &str,
        rng: &mut SimRng,
    ) -> Result<Issued, u16> {
        let session = self.session_of(refresh_token).ok_or(401u16)?;
        Ok(self.grant(now, session, true, rng))
    }

    /// Revoke the session of `refresh_token`; returns (org, user, session) if it was live.
    pub fn logout(&mut self, refresh_token: &str) -> Option<(OrgId, u32, u64)> {
        let session = self.session_of(refresh_token)?;
        let s = self.sessions.remove(&session)?;
        self.grants.retain(|_, g| g.session != session);
        Some((s.org, s.user, session))
    }

    /// Expire, now, every access token of `user`'s sessions in `org`; returns how many.
    pub fn expire_user(&mut self, now: SimTime, org: OrgId, user: u32) -> usize {
        let sessions: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.org == org && s.user == user)
            .map(|(id, _)| *id)
            .collect();
        let mut n = 0;
        for g in self.grants.values_mut() {
            if sessions.contains(&g.session) && g.expires_at > now {
                g.expires_at = now;
                n += 1;
            }
        }
        n
    }

    /// C14's witness: whether `text` contains any token or refresh token this
    /// server ever issued (live, expired or revoked).
    ///
    /// Every issued token has one shape (`tok.` or `ref.`, the org and user
    /// in decimal, 16 hex digits, dot-separated), so one inside `text` begins
    /// at a `tok.` or `ref.` and ends where that shape does: each such
    /// candidate is one set lookup. Scanning the text once per issued token
    /// instead cost a telemetry call time in proportion to every token the
    /// run ever issued, which grows with the tabs and the minutes.
    pub fn mentions_a_token(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        (0..bytes.len())
            .filter(|&at| bytes[at..].starts_with(b"tok.") || bytes[at..].starts_with(b"ref."))
            .filter_map(|at| token_shaped_prefix(&text[at..]))
            .any(|candidate| self.ever_issued.contains(candidate))
    }

    /// The (org, user) a session belongs to, while it is live.
    pub fn owner(&self, session: u64) -> Option<(OrgId, u32)> {
        self.sessions.get(&session).map(|s| (s.org, s.user))
    }

    /// Whose session `bearer` was issued to: `(org, user)`, while the session lives.
    pub fn holder(&self, bearer: Option<&str>) -> Option<(OrgId, u32)> {
        let grant = self.grants.get(bearer?)?;
        self.owner(grant.session)
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

/// The token-shaped prefix of `s`, which starts with a four-byte `tok.` or
/// `ref.`: two dot-terminated decimal numbers, then 16 hex digits.
fn token_shaped_prefix(s: &str) -> Option<&str> {
    let bytes = s.as_bytes();
    let mut at = 4;
    for _ in 0..2 {
        let digits = bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || bytes.get(at + digits) != Some(&b'.') {
            return None;
        }
        at += digits + 1;
    }
    let end = at + 16;
    (end <= bytes.len() && bytes[at..end].iter().all(u8::is_ascii_hexdigit)).then(|| &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn service() -> (Tokens, SimRng) {
        (
            Tokens::new(
                TokenConfig {
                    access_token_ttl_ms: 1000,
                    ..TokenConfig::default()
                },
                None,
            ),
            rng_for(1, "tokens"),
        )
    }

    #[test]
    fn verify_distinguishes_missing_expired_and_foreign() {
        let (mut t, mut rng) = service();
        let tok = t.login(SimTime(0), 7, 1, &mut rng).token;
        assert_eq!(t.verify(SimTime(10), Some(&tok), Some(7)), Ok(()));
        assert_eq!(t.verify(SimTime(10), Some(&tok), Some(8)), Err(403));
        assert_eq!(t.verify(SimTime(10), None, Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(10), Some(""), Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(10), Some("forged"), Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(1000), Some(&tok), Some(7)), Err(401));
    }

    #[test]
    fn refresh_extends_the_session_and_logout_revokes_all_of_it() {
        let (mut t, mut rng) = service();
        let first = t.login(SimTime(0), 7, 1, &mut rng);
        let second = t
            .refresh(SimTime(900), &first.refresh_token, &mut rng)
            .unwrap();
        assert_eq!(second.session, first.session);
        assert_ne!(second.token, first.token);
        assert_eq!(
            t.verify(SimTime(1500), Some(&second.token), Some(7)),
            Ok(())
        );
        assert_eq!(t.logout(&first.refresh_token), Some((7, 1, first.session)));
        assert_eq!(
            t.verify(SimTime(1500), Some(&second.token), Some(7)),
            Err(401)
        );
        assert_eq!(
            t.refresh(SimTime(1500), &first.refresh_token, &mut rng),
            Err(401)
        );
        assert_eq!(t.logout(&first.refresh_token), None, "idempotent");
    }

    #[test]
    fn expire_user_ends_only_that_users_tokens_now() {
        let (mut t, mut rng) = service();
        let a = t.login(SimTime(0), 7, 1, &mut rng).token;
        let b = t.login(SimTime(0), 7, 2, &mut rng).token;
        assert_eq!(t.expire_user(SimTime(5), 7, 1), 1);
        assert_eq!(t.verify(SimTime(5), Some(&a), Some(7)), Err(401));
        assert_eq!(t.verify(SimTime(5), Some(&b), Some(7)), Ok(()));
    }

    #[test]
    fn mentions_a_token_agrees_with_a_scan_for_every_issued_token() {
        let (mut t, mut rng) = service();
        let first = t.login(SimTime(0), 7, 1, &mut rng);
        let second = t
            .refresh(SimTime(1), &first.refresh_token, &mut rng)
            .unwrap();
        let other = t.login(SimTime(2), 12, 30, &mut rng);
        let scan = |t: &Tokens, text: &str| t.ever_issued.iter().any(|k| text.contains(k.as_str()));
        let mut texts = vec![
            String::new(),
            "tok.".into(),
            "ref.7.1.".into(),
            r#"{"type":"poll","org":7}"#.into(),
            format!("tok.{}", &first.token),
            format!("tok.7.1.{}", &first.token),
            first.token[..first.token.len() - 1].to_string(),
        ];
        for token in [
            &first.token,
            &second.token,
            &first.refresh_token,
            &other.token,
        ] {
            texts.push(token.clone());
            texts.push(format!(r#"{{"authorization":"Bearer {token}"}}"#));
            texts.push(format!("{token}ff"));
            texts.push(format!("xtok.1{token}"));
        }
        for text in &texts {
            assert_eq!(t.mentions_a_token(text), scan(&t, text), "{text:?}");
        }
        assert!(texts.iter().filter(|x| t.mentions_a_token(x)).count() >= 16);
    }
}
