//! O11: event-to-UI latency, from the commit in the store to the row patched
//! in a tab's cache, over every realtime apply of the run. The p99 must stay
//! under `ui_latency_p99_bound_ms` (2 s) on a healthy network; a scenario
//! opts in by listing O11, since under faults the latency is the fault's.

use super::{Evidence, Violation};
use crate::observation::Observation;
use crate::time::SimTime;
use std::collections::BTreeMap;

/// Every apply's latency in ms, sorted.
pub fn latencies(ev: &Evidence) -> Vec<u64> {
    let mut committed: BTreeMap<(u32, u64), SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        match &step.obs {
            Observation::Committed { org, seq, .. } => {
                committed.insert((*org, *seq), step.t);
            }
            Observation::Applied { org, seq, .. } => {
                if let Some(c) = committed.get(&(*org, *seq)) {
                    out.push(step.t.since(*c));
                }
            }
            _ => {}
        }
    }
    out.sort_unstable();
    out
}

/// The `p`-th percentile (nearest rank) of sorted `values`.
pub fn percentile(values: &[u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let expect = &ev.scenario.expect;
    let asked = |list: &[String]| list.iter().any(|o| o == "O11");
    if !asked(&expect.hold) && !asked(&expect.fail) {
        return vec![];
    }
    let bound = ev.scenario.config.check.ui_latency_p99_bound_ms;
    let all = latencies(ev);
    match percentile(&all, 99.0) {
        Some(p99) if p99 > bound => vec![Violation {
            oracle: "O11",
            t: ev.scenario.end(),
            subject: ev.scenario.name.clone(),
            detail: format!(
                "event-to-UI latency p99 {p99} ms over {} applies exceeds {bound} ms",
                all.len()
            ),
        }],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
