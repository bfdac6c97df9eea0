//! O6 on the screen (A3, A5): the expired banner comes down once the session
//! has a new token. When a tab's refresh succeeds, every tab of its browser
//! (one session at a time) learns the token on `auth-refresh` or from
//! localStorage and must no longer show "session expired" within
//! `BANNER_CLEAR_BOUND_MS`.
//!
//! It applies to a tab that runs throughout that window: one frozen, closed,
//! crashed or signed out in it is excused, and so is every tab of the browser
//! if another refresh of it fails in the window (the banner goes back up by
//! design).

use super::{Evidence, Violation};
use crate::observation::{Actor, Banner, Observation, Outcome, RequestKind};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A broadcast or a storage event reaches a running tab of the browser in tens
/// of milliseconds (B1, B2); two seconds leaves room for any such delay.
pub const BANNER_CLEAR_BOUND_MS: u64 = 2_000;

#[derive(Default)]
struct Seen {
    /// Each tab's banner changes, in time order.
    banners: BTreeMap<Actor, Vec<(SimTime, Banner)>>,
    /// When each tab froze, closed, crashed or signed out (true), or thawed (false).
    away: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
    /// Refresh calls out, per tab.
    refreshing: BTreeSet<(Actor, u64)>,
    /// Per browser: when a refresh succeeded, and when one failed.
    succeeded: BTreeMap<Actor, Vec<SimTime>>,
    failed: BTreeMap<Actor, BTreeSet<SimTime>>,
}

impl Seen {
    fn take(&mut self, t: SimTime, obs: &Observation) {
        match obs {
            Observation::Banner { tab, banner } => {
                self.banners.entry(*tab).or_default().push((t, *banner))
            }
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "freeze" | "thaw" | "close" | "crash") =>
            {
                self.away.entry(*tab).or_default().insert(t, what != "thaw");
            }
            Observation::SignedOut { tab, .. } => {
                self.away.entry(*tab).or_default().insert(t, true);
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Refresh,
                ..
            } => {
                self.refreshing.insert((*tab, *req));
            }
            Observation::Response {
                tab, req, outcome, ..
            } if self.refreshing.remove(&(*tab, *req)) => {
                let browser = Actor::browser(tab.org, tab.browser);
                if *outcome == Outcome::Status(200) {
                    self.succeeded.entry(browser).or_default().push(t);
                } else {
                    self.failed.entry(browser).or_default().insert(t);
                }
            }
            _ => {}
        }
    }
}

/// What `tab` showed at `t` (the last change at or before it).
fn banner_at(changes: &[(SimTime, Banner)], t: SimTime) -> Banner {
    changes
        .iter()
        .take_while(|(at, _)| *at <= t)
        .last()
        .map_or(Banner::None, |(_, b)| *b)
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let mut seen = Seen::default();
    for step in &ev.history.steps {
        seen.take(step.t, &step.obs);
    }
    let mut out = Vec::new();
    for (browser, successes) in &seen.succeeded {
        for &t0 in successes {
            let due = t0 + BANNER_CLEAR_BOUND_MS;
            let failed_again = seen
                .failed
                .get(browser)
                .is_some_and(|f| f.range(t0..=due).next().is_some());
            if failed_again || due > ev.scenario.end() {
                continue;
            }
            let tabs = seen
                .banners
                .iter()
                .filter(|(tab, _)| tab.org == browser.org && tab.browser == browser.browser);
            for (tab, changes) in tabs {
                // Away at the success, or at any time until the deadline.
                let away = seen.away.get(tab).is_some_and(|a| {
                    a.range(..t0).next_back().is_some_and(|(_, away)| *away)
                        || a.range(t0..=due).any(|(_, away)| *away)
                });
                if !away && banner_at(changes, due) == Banner::Expired {
                    out.push(Violation {
                        oracle: "O6",
                        t: due,
                        subject: tab.to_string(),
                        detail: format!(
                            "still shows the expired banner {BANNER_CLEAR_BOUND_MS} ms after its session's refresh succeeded at {t0}"
                        ),
                    });
                }
            }
        }
    }
    out.sort_by_key(|v| v.t);
    out
}
