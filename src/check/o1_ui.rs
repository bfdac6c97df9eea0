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

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation, RequestKind};
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

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let bound = ev.scenario.config.check.optimistic_resolve_bound_ms;
    let mut out = Vec::new();
    // (tab, mutation) -> when its optimistic row appeared.
    let mut optimistic: BTreeMap<(Actor, u64), SimTime> = BTreeMap::new();
    // (tab, mutation) -> the committed row the list shows.
    let mut committed: BTreeMap<(Actor, u64), u64> = BTreeMap::new();
    // When each tab's calls failed, it paused for a token, or it froze.
    let mut troubled: BTreeMap<Actor, BTreeSet<SimTime>> = BTreeMap::new();
    let mut settled: Vec<(Actor, u64, SimTime, SimTime)> = Vec::new();
    let mut refreshes = Refreshes::default();
    let twice = |t: SimTime, tab: Actor, m: u64, row: u64| Violation {
        oracle: "O1",
        t,
        subject: tab.to_string(),
        detail: format!("row {row} shown twice: beside the optimistic row of write {m:016x}"),
    };
    for step in &ev.history.steps {
        refreshes.see(step.t, &step.obs);
        match &step.obs {
            Observation::ListRow {
                tab,
                mutation,
                row,
                shown,
                ..
            } => {
                let key = (*tab, *mutation);
                match (row, shown) {
                    (None, true) => {
                        if let Some(&r) = committed.get(&key) {
                            out.push(twice(step.t, *tab, *mutation, r));
                        }
                        optimistic.insert(key, step.t);
                    }
                    (None, false) => {
                        if let Some(t0) = optimistic.remove(&key) {
                            settled.push((*tab, *mutation, t0, step.t));
                        }
                    }
                    (Some(r), true) => {
                        if optimistic.contains_key(&key) {
                            out.push(twice(step.t, *tab, *mutation, *r));
                        }
                        committed.insert(key, *r);
                    }
                    (Some(_), false) => {
                        committed.remove(&key);
                    }
                }
            }
            Observation::Response { tab, outcome, .. } if super::call_failed(outcome) => {
                troubled.entry(*tab).or_default().insert(step.t);
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                troubled.entry(*tab).or_default().insert(step.t);
            }
            Observation::AuthPaused { tab, .. } => {
                troubled.entry(*tab).or_default().insert(step.t);
            }
            _ => {}
        }
    }
    let end = ev.scenario.end();
    settled.extend(optimistic.iter().map(|(&(tab, m), &t0)| (tab, m, t0, end)));
    let never: BTreeSet<(Actor, u64)> = optimistic.keys().copied().collect();
    out.extend(late(
        ev,
        bound,
        &settled,
        &never,
        &troubled,
        &refreshes.held_up,
    ));
    out.sort_by_key(|v| v.t);
    out
}

/// Optimistic rows settled past the bound (or never, `never`), unless their
/// tab's calls failed, it froze, or a fault slowed its calls in that time.
fn late(
    ev: &Evidence,
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
            || super::calls_impaired(ev.scenario, (tab.org, tab.browser), t0, due);
        let end = ev.scenario.end();
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
