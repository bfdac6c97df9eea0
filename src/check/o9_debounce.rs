//! O9: derived invalidations (aggregate refetches) at most one per
//! `derived_min_gap_ms` (a second by default) per tab (U3). The refetches a
//! tab sends at one instant are one invalidation of several aggregates.

use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Checker {
    gap: u64,
    /// Per tab: the instant of its last invalidation, and the aggregates it refetched then.
    last: BTreeMap<Actor, (SimTime, BTreeSet<String>)>,
    found: Vec<Violation>,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            gap: scenario.config.check.derived_min_gap_ms,
            ..Self::default()
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let Observation::Request {
            tab,
            what: RequestKind::Aggregate,
            path,
            ..
        } = &step.obs
        else {
            return;
        };
        let gap = self.gap;
        let (at, paths) = self.last.entry(*tab).or_insert((step.t, BTreeSet::new()));
        // One invalidation refetches every stale aggregate at one instant, each once.
        let same_invalidation = *at == step.t && !paths.contains(path.as_str());
        if !paths.is_empty() && !same_invalidation && step.t.since(*at) < gap {
            self.found.push(Violation {
                oracle: "O9",
                t: step.t,
                subject: tab.to_string(),
                detail: format!(
                    "aggregates refetched {} ms after the last refetch (at most one per {gap} ms)",
                    step.t.since(*at)
                ),
            });
        }
        if *at != step.t {
            *at = step.t;
            paths.clear();
        }
        if !paths.contains(path.as_str()) {
            paths.insert(path.clone());
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
