//! O9: derived invalidations (aggregate refetches) at most one per
//! `derived_min_gap_ms` (a second by default) per tab (U3). The refetches a
//! tab sends at one instant are one invalidation of several aggregates.

use super::history::{Observation, RequestKind};
use super::{Evidence, Violation};
use crate::time::SimTime;
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let gap = ev.scenario.config.check.derived_min_gap_ms;
    let mut last: BTreeMap<&str, SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        if let Observation::Request {
            tab,
            what: RequestKind::Aggregate,
            ..
        } = &step.obs
        {
            // One invalidation refetches every stale aggregate at one instant.
            if let Some(prev) = last.insert(tab, step.t).filter(|p| *p != step.t) {
                if step.t.since(prev) < gap {
                    out.push(Violation {
                        oracle: "O9",
                        t: step.t,
                        subject: tab.clone(),
                        detail: format!(
                            "aggregates refetched {} ms after the last refetch (at most one per {gap} ms)",
                            step.t.since(prev)
                        ),
                    });
                }
            }
        }
    }
    out
}
