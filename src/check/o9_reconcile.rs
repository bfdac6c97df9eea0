//! O9 the other way (C10): aggregates are reconciled every ~`reconcile_ms`
//! (a tenth either way) even when no event invalidates them, through the same
//! throttle. So a tab that shows aggregates never goes longer than one
//! reconcile period, its jitter, one throttle window and two seconds between
//! two aggregate refetches (or from its last one to the end of the run).
//!
//! It applies to a tab that runs throughout the gap: one that is hidden (its
//! timers may be throttled), frozen, closed, crashed, signed out or paused
//! for a token at any time in it is excused for that gap.

use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Checker {
    /// Per tab: the instants it refetched aggregates at. The gaps between
    /// them are judged at the end, once every away time they span is known.
    refetches: BTreeMap<Actor, BTreeSet<SimTime>>,
    /// Per tab: when it stopped running normally (true) or came back (false).
    away: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        match &step.obs {
            Observation::Request {
                tab,
                what: RequestKind::Aggregate,
                ..
            } => {
                self.refetches.entry(*tab).or_default().insert(t);
            }
            Observation::Lifecycle { tab, what } => {
                let gone = matches!(what.as_str(), "hide" | "freeze" | "close" | "crash");
                let back = matches!(what.as_str(), "show" | "thaw");
                if gone || back {
                    self.away.entry(*tab).or_default().insert(t, gone);
                }
            }
            Observation::SignedOut { tab, .. } | Observation::AuthPaused { tab, .. } => {
                self.away.entry(*tab).or_default().insert(t, true);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let d = &end.scenario.config.provider.derived;
        let bound = d.reconcile_ms + d.reconcile_ms / 10 + d.debounce_ms + 2_000;
        let end_of_run = end.scenario.end();
        let mut out = Vec::new();
        for (tab, instants) in &self.refetches {
            let no_changes = BTreeMap::new();
            let changes = self.away.get(tab).unwrap_or(&no_changes);
            let away_in = |from: SimTime, to: SimTime| {
                changes
                    .range(..=from)
                    .next_back()
                    .is_some_and(|(_, gone)| *gone)
                    || changes.range(from..=to).any(|(_, gone)| *gone)
            };
            let gaps = instants.iter().zip(
                instants
                    .iter()
                    .skip(1)
                    .map(|&t| (t, true))
                    .chain([(end_of_run, false)]),
            );
            for (&from, (to, refetched)) in gaps {
                if to.since(from) > bound && !away_in(from, to) {
                    out.push(Violation {
                        oracle: "O9",
                        t: from + bound,
                        subject: tab.to_string(),
                        detail: format!(
                            "no aggregate refetch from {from} {}: reconciliation (C10) comes every {} ms, jittered by a tenth",
                            if refetched {
                                format!("until {to}")
                            } else {
                                "to the end of the run".to_string()
                            },
                            d.reconcile_ms
                        ),
                    });
                }
            }
        }
        out.sort_by_key(|v| v.t);
        out
    }
}
