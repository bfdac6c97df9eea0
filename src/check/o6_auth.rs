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
//!   ended by then, until the user signs in again (A4).
//! - No telemetry payload carries a token (C14); the server, which knows
//!   every token it issued, witnesses each one it receives.
//!
//! `audit` also yields the figures the summary reports.

use super::{Evidence, Violation};
use crate::observation::{Observation, Outcome, RequestKind};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What O6 found, and the auth figures of the run.
#[derive(Debug, Default)]
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
    refreshing: BTreeMap<(String, u64), SimTime>,
    /// Failed refreshes in a row, and when the last one failed.
    failures: u32,
    failed_at: SimTime,
    in_this_expiry: u64,
    /// Every call in flight (not the logout call itself): (tab, req).
    in_flight: BTreeSet<(String, u64)>,
    logout: Option<Logout>,
}

struct Logout {
    at: SimTime,
    /// Calls that were in flight when the user logged out.
    pending: BTreeSet<(String, u64)>,
    /// When the browser last did anything after the logout.
    quiet_from: SimTime,
}

impl Logout {
    /// The browser did `what` at `t`; past the bound, that breaks A4.
    fn activity(&mut self, t: SimTime, bound: u64, tab: &str, what: &str) -> Option<Violation> {
        self.quiet_from = self.quiet_from.max(t);
        let after = t.since(self.at);
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

/// `org<i>/browser<j>` of a tab's name (or of the browser's own name).
fn browser_of(name: &str) -> &str {
    match name.match_indices('/').nth(1) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}

pub fn audit(ev: &Evidence) -> AuthAudit {
    let pre_expiry = ev.scenario.config.provider.auth.pre_expiry_refresh_ms;
    let auth = &ev.scenario.config.provider.auth;
    let bound = ev.scenario.config.check.logout_silence_bound_ms;
    let mut a = AuthAudit::default();
    let mut browsers: BTreeMap<String, Browser> = BTreeMap::new();
    let mut out = Vec::new();
    let violation = |t: SimTime, subject: &str, detail: String| Violation {
        oracle: "O6",
        t,
        subject: subject.to_string(),
        detail,
    };
    // A logout window closes (at a sign-in, or the end): judge what it left.
    let close = |b: &mut Browser, a: &mut AuthAudit, out: &mut Vec<Violation>| {
        let Some(l) = b.logout.take() else { return };
        for (tab, req) in &l.pending {
            out.push(violation(
                l.at + bound,
                tab,
                format!(
                    "request {req}, in flight at the logout at {}, was never aborted",
                    l.at
                ),
            ));
        }
        let silence = l.quiet_from.since(l.at);
        a.logout_silence_ms = Some(a.logout_silence_ms.unwrap_or(0).max(silence));
    };
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::TokenIssued {
                org,
                user,
                via,
                expires_at,
                ..
            } => {
                let b = browsers
                    .entry(format!("org{org}/browser{user}"))
                    .or_default();
                b.expires_at = *expires_at;
                b.force_expired = false;
                if via == "login" {
                    b.failures = 0;
                    b.revoked = false;
                }
            }
            Observation::SessionRevoked { org, user, .. } => {
                browsers
                    .entry(format!("org{org}/browser{user}"))
                    .or_default()
                    .revoked = true;
            }
            Observation::TokensExpired { org, user, .. } => {
                browsers
                    .entry(format!("org{org}/browser{user}"))
                    .or_default()
                    .force_expired = true;
            }
            Observation::Logout { tab } => {
                let key = browser_of(tab).to_string();
                let b = browsers.entry(key).or_default();
                b.logout = Some(Logout {
                    at: t,
                    pending: b.in_flight.clone(),
                    quiet_from: t,
                });
            }
            Observation::Telemetry {
                payload,
                leaks_token: true,
            } => out.push(violation(
                t,
                "telemetry",
                format!("a telemetry payload carries a token (C14): {payload}"),
            )),
            Observation::Request {
                tab,
                req,
                what,
                bearer,
                ..
            } => {
                let key = browser_of(tab).to_string();
                let b = browsers.entry(key).or_default();
                if *what == RequestKind::Login {
                    close(b, &mut a, &mut out);
                    continue;
                }
                if *what == RequestKind::Logout {
                    continue;
                }
                b.in_flight.insert((tab.clone(), *req));
                if let Some(l) = b.logout.as_mut() {
                    out.extend(l.activity(t, bound, tab, &format!("{what:?} request {req} sent")));
                }
                match what {
                    RequestKind::Poll | RequestKind::Refetch if !*bearer => out.push(violation(
                        t,
                        tab,
                        format!("{what:?} request {req} without a bearer token (C7)"),
                    )),
                    RequestKind::Refresh if b.revoked => a.refresh_requests += 1,
                    RequestKind::Refresh => {
                        a.refresh_requests += 1;
                        if let Some(((other, r), _)) = b.refreshing.iter().next() {
                            out.push(violation(
                                t,
                                tab,
                                format!("a second refresh while {other}'s request {r} is in flight (A1)"),
                            ));
                        } else if b.failures > 0 {
                            a.refresh_retries += 1;
                            let owed = auth.backoff_ms(b.failures);
                            if t.since(b.failed_at) < owed {
                                out.push(violation(
                                    t,
                                    tab,
                                    format!(
                                        "refresh retried {} ms after failure {} in a row; the backoff owes {owed} ms (A3)",
                                        t.since(b.failed_at),
                                        b.failures
                                    ),
                                ));
                            }
                        } else if !b.force_expired && t.as_ms() + pre_expiry < b.expires_at.as_ms()
                        {
                            out.push(violation(
                                t,
                                tab,
                                format!(
                                    "refresh of a token good until {}, neither due nor refused",
                                    b.expires_at
                                ),
                            ));
                        } else {
                            a.expiries += 1;
                            b.in_this_expiry = 0;
                        }
                        b.in_this_expiry += 1;
                        a.max_refreshes_per_expiry =
                            a.max_refreshes_per_expiry.max(b.in_this_expiry);
                        b.refreshing.insert((tab.clone(), *req), t);
                    }
                    _ => {}
                }
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                let key = browser_of(tab).to_string();
                let b = browsers.entry(key).or_default();
                let call = (tab.clone(), *req);
                b.in_flight.remove(&call);
                if let Some(l) = b.logout.as_mut() {
                    if l.pending.remove(&call) {
                        out.extend(l.activity(t, bound, tab, &format!("request {req} ended")));
                    }
                }
                if b.refreshing.remove(&call).is_some() {
                    if *outcome == Outcome::Status(200) {
                        b.failures = 0;
                    } else {
                        b.failures += 1;
                        b.failed_at = t;
                    }
                }
            }
            _ => {}
        }
    }
    for b in browsers.values_mut() {
        close(b, &mut a, &mut out);
    }
    out.sort_by_key(|v| v.t);
    a.violations = out;
    a
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    audit(ev).violations
}
