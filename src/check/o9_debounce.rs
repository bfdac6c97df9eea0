//! O9: derived invalidations (aggregate refetches) at most one per
//! `derived_min_gap_ms` (a second by default) per tab (U3). The refetches a
//! tab sends at one instant are one invalidation of several aggregates.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation, RequestKind};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let gap = ev.scenario.config.check.derived_min_gap_ms;
    // Per tab: the instant of its last invalidation, and the aggregates it refetched then.
    let mut last: BTreeMap<Actor, (SimTime, BTreeSet<&str>)> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let Observation::Request {
            tab,
            what: RequestKind::Aggregate,
            path,
            ..
        } = &step.obs
        else {
            continue;
        };
        let (at, paths) = last.entry(*tab).or_insert((step.t, BTreeSet::new()));
        // One invalidation refetches every stale aggregate at one instant, each once.
        let same_invalidation = *at == step.t && !paths.contains(path.as_str());
        if !paths.is_empty() && !same_invalidation && step.t.since(*at) < gap {
            out.push(Violation {
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
        paths.insert(path);
    }
    out
}
