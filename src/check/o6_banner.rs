//! O6 on the screen (A3, A5): each banner comes down once its cause is gone.
//!
//! - Expired: when a tab's refresh succeeds, every tab of its browser (one
//!   session at a time) learns the token on `auth-refresh` or from
//!   localStorage and must no longer show "session expired" within
//!   `BANNER_CLEAR_BOUND_MS`. Every tab of the browser is excused if another
//!   refresh of it fails in the window (the banner goes back up by design).
//! - Offline: a tab that shows "offline" and then hears from the server (any
//!   HTTP answer to its poll) is back online and must not show it
//!   `BANNER_CLEAR_BOUND_MS` later, unless a poll of its failed again since.
//!
//! Both apply to a tab that runs throughout the window: one frozen, closed,
//! crashed or signed out in it is excused.

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::observation::{Actor, Banner, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A broadcast or a storage event reaches a running tab of the browser in tens
/// of milliseconds (B1, B2); two seconds leaves room for any such delay.
pub const BANNER_CLEAR_BOUND_MS: u64 = 2_000;

/// Each rule looks ahead (what a tab shows two seconds after a success or an
/// answer), so the history is kept as these projections, per tab or browser,
/// and judged in `finish`.
#[derive(Default)]
pub struct Checker {
    /// Each tab's banner changes, in time order.
    banners: PerActor<Vec<(SimTime, Banner)>>,
    /// When each tab froze, closed, crashed or signed out (true), or thawed (false).
    away: PerActor<BTreeMap<SimTime, bool>>,
    /// Refresh calls out, per tab.
    refreshing: BTreeSet<(Actor, u64)>,
    /// Polls out, per tab; and per tab when a poll got an HTTP answer, and
    /// when one failed in the network.
    polling: BTreeSet<(Actor, u64)>,
    reached: PerActor<Vec<SimTime>>,
    unreached: PerActor<BTreeSet<SimTime>>,
    /// Per browser: when a refresh succeeded, and when one failed.
    succeeded: PerActor<Vec<SimTime>>,
    failed: PerActor<BTreeSet<SimTime>>,
}

impl Checker {
    fn take(&mut self, t: SimTime, obs: &Observation) {
        match obs {
            Observation::Banner { tab, banner } => self.banners.or_default(*tab).push((t, *banner)),
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "freeze" | "thaw" | "close" | "crash") =>
            {
                self.away.or_default(*tab).insert(t, what != "thaw");
            }
            Observation::SignedOut { tab, .. } => {
                self.away.or_default(*tab).insert(t, true);
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Refresh,
                ..
            } => {
                self.refreshing.insert((*tab, *req));
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Poll,
                ..
            } => {
                self.polling.insert((*tab, *req));
            }
            Observation::Response {
                tab, req, outcome, ..
            } if self.polling.remove(&(*tab, *req)) => match outcome {
                Outcome::Status(_) => self.reached.or_default(*tab).push(t),
                Outcome::NetError | Outcome::Timeout => {
                    self.unreached.or_default(*tab).insert(t);
                }
                Outcome::Aborted => {}
            },
            Observation::Response {
                tab, req, outcome, ..
            } if self.refreshing.remove(&(*tab, *req)) => {
                let browser = Actor::browser(tab.org, tab.browser);
                if *outcome == Outcome::Status(200) {
                    self.succeeded.or_default(browser).push(t);
                } else {
                    self.failed.or_default(browser).insert(t);
                }
            }
            _ => {}
        }
    }

    /// Whether `tab` was away at `from`, or went away by `to`.
    fn away(&self, tab: &Actor, from: SimTime, to: SimTime) -> bool {
        self.away.get(tab).is_some_and(|a| {
            a.range(..from).next_back().is_some_and(|(_, away)| *away)
                || a.range(from..=to).any(|(_, away)| *away)
        })
    }

    /// A5: each offline spell ends at the first HTTP answer after it began.
    fn offline_stuck(&self, end: SimTime, out: &mut Vec<Violation>) {
        for (tab, changes) in self.banners.sorted() {
            let reached = self.reached.get(tab).map_or(&[][..], |r| &r[..]);
            for (raised, _) in changes.iter().filter(|(_, b)| *b == Banner::Offline) {
                let Some(&t0) = reached.iter().find(|&&r| r > *raised) else {
                    continue;
                };
                let due = t0 + BANNER_CLEAR_BOUND_MS;
                let failed_again = self
                    .unreached
                    .get(tab)
                    .is_some_and(|u| u.range(t0..=due).next().is_some());
                if failed_again || due > end || self.away(tab, t0, due) {
                    continue;
                }
                if banner_at(changes, due) == Banner::Offline {
                    out.push(Violation {
                        oracle: "O6",
                        t: due,
                        subject: tab.to_string(),
                        detail: format!(
                            "still shows the offline banner {BANNER_CLEAR_BOUND_MS} ms after the server answered its poll at {t0}"
                        ),
                    });
                }
            }
        }
    }

    /// A3: every tab of the browser drops "session expired" after a refresh succeeds.
    fn expired_stuck(&self, end: SimTime, out: &mut Vec<Violation>) {
        // Each browser's tabs with their banners, in tab order: looked up per
        // success, not searched for among every tab of the run.
        let mut tabs_of: BTreeMap<Actor, Vec<(&Actor, &Vec<(SimTime, Banner)>)>> = BTreeMap::new();
        for (tab, changes) in self.banners.sorted() {
            tabs_of
                .entry(tab.of_browser())
                .or_default()
                .push((tab, changes));
        }
        for (browser, successes) in self.succeeded.sorted() {
            for &t0 in successes {
                let due = t0 + BANNER_CLEAR_BOUND_MS;
                let failed_again = self
                    .failed
                    .get(browser)
                    .is_some_and(|f| f.range(t0..=due).next().is_some());
                if failed_again || due > end {
                    continue;
                }
                let tabs = tabs_of
                    .get(&browser.of_browser())
                    .map_or(&[][..], |t| &t[..]);
                for &(tab, changes) in tabs {
                    if !self.away(tab, t0, due) && banner_at(changes, due) == Banner::Expired {
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

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        self.take(step.t, &step.obs);
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = Vec::new();
        self.offline_stuck(end.scenario.end(), &mut out);
        self.expired_stuck(end.scenario.end(), &mut out);
        out.sort_by_key(|v| v.t);
        out
    }
}
