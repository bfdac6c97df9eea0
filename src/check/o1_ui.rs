//! O1 on the screen (U2): the row of a tab's write is never shown twice in a
//! list, not even for a moment (its optimistic row beside its committed row),
//! and every optimistic row is settled (replaced by its committed row, or
//! rolled back) within `optimistic_resolve_bound_ms`: the echo timeout plus
//! one refetch. The bound assumes the tab's calls go through at the
//! scenario's normal latency: a tab whose calls failed or were refused for
//! its token (a C7 pause: its refetch waits for a refresh), whose session
//! was held up by a slow or failed refresh (A2: every tab waits for it), that was frozen, or
//! whose browser had a latency, partition or slow-write fault on in that time
//! is excused it (a round trip may take longer than the bound), never the
//! duplicate.

use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A refresh answered later than this held its session's calls up noticeably.
const SLOW_REFRESH_MS: u64 = 1_000;

/// Refreshes out, and each browser's slow or failed ones (sent, answered).
#[derive(Default)]
struct Refreshes {
    out: BTreeMap<(Actor, u64), SimTime>,
    held_up: BTreeMap<Actor, Vec<(SimTime, SimTime)>>,
}

impl Refreshes {
    fn see(&mut self, t: SimTime, obs: &Observation) {
        match obs {
            Observation::Request {
                tab,
                req,
                what: RequestKind::Refresh,
                ..
            } => {
                self.out.insert((*tab, *req), t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                let Some(sent) = self.out.remove(&(*tab, *req)) else {
                    return;
                };
                if super::call_failed(outcome) || t.since(sent) > SLOW_REFRESH_MS {
                    let spans = self.held_up.entry(tab.of_browser()).or_default();
                    spans.push((sent, t));
                }
            }
            _ => {}
        }
    }
}

#[derive(Default)]
pub struct Checker {
    bound: u64,
    /// Rows shown twice, as they happen.
    twice: Vec<Violation>,
    /// (tab, mutation) -> when its optimistic row appeared.
    optimistic: BTreeMap<(Actor, u64), SimTime>,
    /// (tab, mutation) -> the committed row the list shows.
    committed: BTreeMap<(Actor, u64), u64>,
    /// When each tab's calls failed, it paused for a token, or it froze.
    troubled: BTreeMap<Actor, BTreeSet<SimTime>>,
    /// Optimistic rows settled past the bound: (tab, mutation, shown, settled).
    /// One settled in time can break nothing, so it is not kept.
    settled_late: Vec<(Actor, u64, SimTime, SimTime)>,
    refreshes: Refreshes,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            bound: scenario.config.check.optimistic_resolve_bound_ms,
            ..Self::default()
        }
    }

    /// A list row of `tab`'s write `m` shown or hidden at `t`.
    fn list_row(&mut self, t: SimTime, tab: Actor, m: u64, row: Option<u64>, shown: bool) {
        let twice = |r: u64| Violation {
            oracle: "O1",
            t,
            subject: tab.to_string(),
            detail: format!("row {r} shown twice: beside the optimistic row of write {m:016x}"),
        };
        let key = (tab, m);
        match (row, shown) {
            (None, true) => {
                if let Some(&r) = self.committed.get(&key) {
                    self.twice.push(twice(r));
                }
                self.optimistic.insert(key, t);
            }
            (None, false) => {
                if let Some(t0) = self.optimistic.remove(&key) {
                    if t > t0 + self.bound {
                        self.settled_late.push((tab, m, t0, t));
                    }
                }
            }
            (Some(r), true) => {
                if self.optimistic.contains_key(&key) {
                    self.twice.push(twice(r));
                }
                self.committed.insert(key, r);
            }
            (Some(_), false) => {
                self.committed.remove(&key);
            }
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        self.refreshes.see(step.t, &step.obs);
        match &step.obs {
            Observation::ListRow {
                tab,
                mutation,
                row,
                shown,
                ..
            } => self.list_row(step.t, *tab, *mutation, *row, *shown),
            Observation::Response { tab, outcome, .. } if super::call_failed(outcome) => {
                self.troubled.entry(*tab).or_default().insert(step.t);
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                self.troubled.entry(*tab).or_default().insert(step.t);
            }
            Observation::AuthPaused { tab, .. } => {
                self.troubled.entry(*tab).or_default().insert(step.t);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let scenario_end = end.scenario.end();
        let mut settled = std::mem::take(&mut self.settled_late);
        settled.extend(
            self.optimistic
                .iter()
                .map(|(&(tab, m), &t0)| (tab, m, t0, scenario_end)),
        );
        let never: BTreeSet<(Actor, u64)> = self.optimistic.keys().copied().collect();
        let mut out = std::mem::take(&mut self.twice);
        out.extend(late(
            end.scenario,
            self.bound,
            &settled,
            &never,
            &self.troubled,
            &self.refreshes.held_up,
        ));
        out.sort_by_key(|v| v.t);
        out
    }
}

/// Optimistic rows settled past the bound (or never, `never`), unless their
/// tab's calls failed, it froze, or a fault slowed its calls in that time.
fn late(
    scenario: &Scenario,
    bound: u64,
    settled: &[(Actor, u64, SimTime, SimTime)],
    never: &BTreeSet<(Actor, u64)>,
    troubled: &BTreeMap<Actor, BTreeSet<SimTime>>,
    held_up: &BTreeMap<Actor, Vec<(SimTime, SimTime)>>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for &(tab, m, t0, t1) in settled {
        let due = t0 + bound;
        let excused = troubled
            .get(&tab)
            .is_some_and(|ts| ts.range(t0..=due).next().is_some())
            || held_up
                .get(&tab.of_browser())
                .is_some_and(|spans| spans.iter().any(|&(a, b)| a <= due && b >= t0))
            || super::calls_impaired(scenario, (tab.org, tab.browser), t0, due);
        let end = scenario.end();
        if t1 > due && !excused {
            let how = if t1 == end && never.contains(&(tab, m)) {
                "never settled".to_string()
            } else {
                format!("settled after {} ms", t1.since(t0))
            };
            out.push(Violation {
                oracle: "O1",
                t: due,
                subject: tab.to_string(),
                detail: format!(
                    "optimistic row of write {m:016x} {how}, past the {bound} ms bound"
                ),
            });
        }
    }
    out
}
