//! O6: the auth lifecycle (A1-A5, C7), per browser (one login session at a time).
//!
//! - No call for data (poll, refetch) goes out without a bearer token.
//! - One refresh request per expiry: a refresh is legitimate as the first
//!   for a token that is due (past the pre-expiry mark, or expired by the
//!   server), or as a retry after a failed one, no sooner than the backoff
//!   owes (A3). A refresh while another of the session's is in flight, or of
//!   a token that is neither due nor failed, is a herd the mutex should stop.
//!   Once the session is revoked (logged out), only the logout rule applies.
//! - After a logout, no tab of the browser sends a request later than
//!   `logout_silence_bound_ms`, and every call in flight at the logout has
//!   ended by then, until the user signs in again (A4). A tab frozen at the
//!   logout, or within the bound after it, runs nothing until it thaws (B4):
//!   its bound counts from the thaw.
//! - Every access token the token service issues, at login or refresh, lives
//!   `access_token_ttl_ms` from its issue (S9): one that runs out sooner
//!   sends every tab of its session back to the refresh mutex early.
//! - No telemetry payload carries a token (C14); the server, which knows
//!   every token it issued, witnesses each one it receives.
//!
//! `Checker::audit` (and `audit`) also yields the figures the summary reports.

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What O6 found, and the auth figures of the run.
#[derive(Clone, Debug, Default)]
pub struct AuthAudit {
    pub violations: Vec<Violation>,
    pub refresh_requests: u64,
    /// Refreshes that opened an expiry (the first for a due token).
    pub expiries: u64,
    /// The most refresh requests any one expiry took (retries included).
    pub max_refreshes_per_expiry: u64,
    /// Retries after a failed refresh: the exceptions to one-per-expiry, with their cause.
    pub refresh_retries: u64,
    /// The longest any logout took to silence every tab of its browser, in ms.
    pub logout_silence_ms: Option<u64>,
}

#[derive(Default)]
struct Browser {
    /// The latest access token's expiry, and whether the server expired it early.
    expires_at: SimTime,
    force_expired: bool,
    /// The session was logged out on the server: a 401 for that is no expiry, and
    /// what the tabs do about it is judged by the logout rule alone.
    revoked: bool,
    /// Refresh calls in flight: (tab, req) -> sent at.
    refreshing: BTreeMap<(Actor, u64), SimTime>,
    /// Failed refreshes in a row, and when the last one failed.
    failures: u32,
    failed_at: SimTime,
    /// The last refresh was abandoned by its tab (closed, crashed, signed
    /// out): the next, by any tab, carries the same attempt on.
    abandoned: bool,
    in_this_expiry: u64,
    /// Every call in flight (not the logout call itself): (tab, req).
    in_flight: BTreeSet<(Actor, u64)>,
    /// Tabs frozen now.
    frozen: BTreeSet<Actor>,
    logout: Option<Logout>,
}

struct Logout {
    at: SimTime,
    /// Calls that were in flight when the user logged out.
    pending: BTreeSet<(Actor, u64)>,
    /// When the browser last did anything after the logout.
    quiet_from: SimTime,
    /// Tabs frozen at the logout or within the bound after it, and when each thawed.
    held: BTreeMap<Actor, Option<SimTime>>,
}

impl Logout {
    /// The browser did `what` at `t`; past the bound, that breaks A4.
    fn activity(&mut self, t: SimTime, bound: u64, tab: Actor, what: &str) -> Option<Violation> {
        self.quiet_from = self.quiet_from.max(t);
        let from = match self.held.get(&tab) {
            Some(thawed) => thawed.unwrap_or(t),
            None => self.at,
        };
        let after = t.since(from);
        (after > bound).then(|| Violation {
            oracle: "O6",
            t,
            subject: tab.to_string(),
            detail: format!(
                "{what} {after} ms after the logout at {} (bound {bound} ms)",
                self.at
            ),
        })
    }
}

/// A3's backoff as the SPEC states it: 2, 4, 8 ... s from the base, doubling
/// per failure in a row, capped. Computed here, not by the client's code.
fn backoff_owed_ms(base_ms: u64, max_ms: u64, failures: u32) -> u64 {
    let mut owed = base_ms;
    for _ in 1..failures {
        owed = owed.saturating_mul(2).min(max_ms);
    }
    owed.min(max_ms)
}

fn violation(t: SimTime, subject: impl std::fmt::Display, detail: String) -> Violation {
    Violation {
        oracle: "O6",
        t,
        subject: subject.to_string(),
        detail,
    }
}

/// O6's state, one step at a time: per-browser state, the figures, the findings.
pub struct Checker {
    ttl_ms: u64,
    pre_expiry_ms: u64,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
    silence_bound_ms: u64,
    browsers: PerActor<Browser>,
    audit: AuthAudit,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        let config = &scenario.config;
        Checker {
            ttl_ms: config.tokens.access_token_ttl_ms,
            pre_expiry_ms: config.provider.auth.pre_expiry_refresh_ms,
            backoff_base_ms: config.provider.auth.backoff_base_ms,
            backoff_max_ms: config.provider.auth.backoff_max_ms,
            silence_bound_ms: config.check.logout_silence_bound_ms,
            browsers: PerActor::default(),
            audit: AuthAudit::default(),
        }
    }

    /// What O6 found and the run's auth figures; complete once `finish` has
    /// closed the logouts still open at the end.
    pub fn audit(&self) -> AuthAudit {
        self.audit.clone()
    }

    fn browser(&mut self, key: Actor) -> &mut Browser {
        self.browsers.or_default(key.of_browser())
    }

    /// A logout window closes (at a sign-in, or the end): judge what it left.
    fn close(&mut self, key: Actor) {
        let bound = self.silence_bound_ms;
        let Some(l) = self.browser(key).logout.take() else {
            return;
        };
        // A tab frozen since the logout could not abort anything.
        let still_frozen = |tab: &Actor| l.held.get(tab).is_some_and(Option::is_none);
        for (tab, req) in l.pending.iter().filter(|(tab, _)| !still_frozen(tab)) {
            let detail = format!(
                "request {req}, in flight at the logout at {}, was never aborted",
                l.at
            );
            self.audit
                .violations
                .push(violation(l.at + bound, tab, detail));
        }
        let silence = l.quiet_from.since(l.at);
        let longest = self.audit.logout_silence_ms.unwrap_or(0).max(silence);
        self.audit.logout_silence_ms = Some(longest);
    }

    fn take(&mut self, t: SimTime, obs: &Observation) {
        match obs {
            Observation::TokenIssued {
                org,
                user,
                via,
                expires_at,
                ..
            } => {
                let ttl_ms = self.ttl_ms;
                if *expires_at != t + ttl_ms {
                    let detail = format!(
                        "the token issued at {via} expires at {expires_at}, not access_token_ttl_ms {ttl_ms} after its issue (S9)"
                    );
                    let subject = Actor::browser(*org, *user).to_string();
                    self.audit.violations.push(violation(t, &subject, detail));
                }
                let b = self.browser(Actor::browser(*org, *user));
                b.expires_at = *expires_at;
                b.force_expired = false;
                if via == "login" {
                    // A new session: nothing of the old one's attempts goes on.
                    b.failures = 0;
                    b.abandoned = false;
                    b.revoked = false;
                }
            }
            Observation::SessionRevoked { org, user, .. } => {
                self.browser(Actor::browser(*org, *user)).revoked = true;
            }
            Observation::TokensExpired { org, user, .. } => {
                self.browser(Actor::browser(*org, *user)).force_expired = true;
            }
            Observation::Logout { tab } => {
                let b = self.browser(*tab);
                b.logout = Some(Logout {
                    at: t,
                    pending: b.in_flight.clone(),
                    quiet_from: t,
                    held: b.frozen.iter().map(|f| (*f, None)).collect(),
                });
            }
            Observation::Lifecycle { tab, what } if tab.tab.is_some() => {
                self.lifecycle(t, *tab, what)
            }
            Observation::Telemetry {
                payload,
                leaks_token: true,
            } => {
                let detail = format!("a telemetry payload carries a token (C14): {payload}");
                self.audit
                    .violations
                    .push(violation(t, "telemetry", detail));
            }
            Observation::Request {
                tab,
                req,
                what,
                bearer,
                ..
            } => self.request(t, *tab, *req, *what, *bearer),
            Observation::Response {
                tab, req, outcome, ..
            } => self.response(t, *tab, *req, outcome),
            _ => {}
        }
    }

    /// B4: a tab frozen at a logout, or soon after, answers for it from its thaw.
    fn lifecycle(&mut self, t: SimTime, tab: Actor, what: &str) {
        let bound = self.silence_bound_ms;
        let b = self.browser(tab);
        match what {
            "freeze" => {
                b.frozen.insert(tab);
                if let Some(l) = b.logout.as_mut().filter(|l| t.since(l.at) <= bound) {
                    l.held.insert(tab, None);
                }
            }
            "thaw" => {
                b.frozen.remove(&tab);
                if let Some(h) = b.logout.as_mut().and_then(|l| l.held.get_mut(&tab)) {
                    h.get_or_insert(t);
                }
            }
            _ => {}
        }
    }

    fn request(&mut self, t: SimTime, tab: Actor, req: u64, what: RequestKind, bearer: bool) {
        let key = tab.of_browser();
        if what == RequestKind::Login {
            self.close(key);
            return;
        }
        if what == RequestKind::Logout {
            return;
        }
        let bound = self.silence_bound_ms;
        let b = self.browser(key);
        b.in_flight.insert((tab, req));
        if let Some(l) = b.logout.as_mut() {
            let found = l.activity(t, bound, tab, &format!("{what:?} request {req} sent"));
            self.audit.violations.extend(found);
        }
        match what {
            RequestKind::Poll
            | RequestKind::Stream
            | RequestKind::UpdateServices
            | RequestKind::Refetch
                if !bearer =>
            {
                let detail = format!("{what:?} request {req} without a bearer token (C7)");
                self.audit.violations.push(violation(t, tab, detail));
            }
            RequestKind::Refresh if self.browser(key).revoked => self.audit.refresh_requests += 1,
            RequestKind::Refresh => self.refresh(t, key, tab, req),
            _ => {}
        }
    }

    /// A1, A3: a refresh is the first for a due token, or a retry after the backoff.
    fn refresh(&mut self, t: SimTime, key: Actor, tab: Actor, req: u64) {
        self.audit.refresh_requests += 1;
        let (pre_expiry, base, max) = (
            self.pre_expiry_ms,
            self.backoff_base_ms,
            self.backoff_max_ms,
        );
        let b = self.browsers.get_mut(&key).expect("the request made it");
        let a = &mut self.audit;
        if let Some(((other, r), _)) = b.refreshing.iter().next() {
            let detail = format!("a second refresh while {other}'s request {r} is in flight (A1)");
            a.violations.push(violation(t, tab, detail));
        } else if std::mem::take(&mut b.abandoned) {
            // The attempt its tab abandoned goes on: neither early nor a retry.
        } else if b.failures > 0 {
            a.refresh_retries += 1;
            let owed = backoff_owed_ms(base, max, b.failures);
            if t.since(b.failed_at) < owed {
                let detail = format!(
                    "refresh retried {} ms after failure {} in a row; the backoff owes {owed} ms (A3)",
                    t.since(b.failed_at),
                    b.failures
                );
                a.violations.push(violation(t, tab, detail));
            }
        } else if !b.force_expired && t.as_ms() + pre_expiry < b.expires_at.as_ms() {
            let detail = format!(
                "refresh of a token good until {}, neither due nor refused",
                b.expires_at
            );
            a.violations.push(violation(t, tab, detail));
        } else {
            a.expiries += 1;
            b.in_this_expiry = 0;
        }
        b.in_this_expiry += 1;
        a.max_refreshes_per_expiry = a.max_refreshes_per_expiry.max(b.in_this_expiry);
        b.refreshing.insert((tab, req), t);
    }

    fn response(&mut self, t: SimTime, tab: Actor, req: u64, outcome: &Outcome) {
        let bound = self.silence_bound_ms;
        let b = self.browser(tab);
        let call = (tab, req);
        b.in_flight.remove(&call);
        if let Some(l) = b.logout.as_mut() {
            if l.pending.remove(&call) {
                let found = l.activity(t, bound, tab, &format!("request {req} ended"));
                self.audit.violations.extend(found);
            }
        }
        let b = self.browser(tab);
        if b.refreshing.remove(&call).is_some() {
            match outcome {
                Outcome::Status(200) => {
                    b.failures = 0;
                    b.abandoned = false;
                }
                // Abandoned by the client (its tab closed, or signed out): the
                // server neither refused nor failed it, so A3 has no failure to
                // count, and another tab may carry the attempt on at once.
                Outcome::Aborted => b.abandoned = true,
                _ => {
                    b.failures += 1;
                    b.failed_at = t;
                }
            }
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        self.take(step.t, &step.obs);
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        // The logouts no sign-in closed close at the end.
        let keys: Vec<Actor> = self
            .browsers
            .sorted()
            .into_iter()
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            self.close(key);
        }
        self.audit.violations.sort_by_key(|v| v.t);
        self.audit.violations.clone()
    }

    fn figures(&self, figures: &mut super::Figures) {
        figures.auth = self.audit();
    }
}
