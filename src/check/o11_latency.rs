//! O11: event-to-UI latency, from the commit in the store to the row patched
//! in a tab's cache, over every realtime apply of the run by a tab that ran
//! from the commit to the apply (one frozen in between, or cached in the
//! back-forward cache, measures its freeze, not the system). The p99 must
//! stay under `ui_latency_p99_bound_ms` (2 s) on a healthy network; a
//! scenario opts in by listing O11, since under network faults the latency is
//! the fault's.

use super::{Check, End, Violation};
use crate::event::Service;
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeMap;

pub struct Checker {
    /// The scenario lists O11, so the latencies are judged, not only reported.
    asked: bool,
    /// When each (org, seq) was committed; every tab that applies it measures from here.
    committed: BTreeMap<(u32, u64), SimTime>,
    /// Every apply's latency in ms: in the order applied, sorted by `finish`
    /// (the run's figures).
    applied: Vec<u64>,
    /// v2: the applied latencies per service.
    by_service: BTreeMap<Service, Vec<u64>>,
    /// Those of tabs that ran from the commit to the apply: what O11 judges
    /// (kept only when asked).
    judged: Vec<u64>,
    /// When each tab last thawed (B4): a tab applies nothing while frozen, so
    /// one that thawed after a commit did not run from the commit on.
    thawed: BTreeMap<Actor, SimTime>,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        let expect = &scenario.expect;
        let asked = |list: &[String]| list.iter().any(|o| o == "O11");
        Checker {
            asked: asked(&expect.hold) || asked(&expect.fail),
            committed: BTreeMap::new(),
            applied: Vec::new(),
            by_service: BTreeMap::new(),
            judged: Vec::new(),
            thawed: BTreeMap::new(),
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        match &step.obs {
            Observation::Committed { org, seq, .. } => {
                self.committed.insert((*org, *seq), step.t);
            }
            Observation::Applied {
                tab,
                org,
                seq,
                stream,
                ..
            } => {
                if let Some(c) = self.committed.get(&(*org, *seq)) {
                    let latency = step.t.since(*c);
                    self.applied.push(latency);
                    if let Some((service, _)) = stream {
                        self.by_service.entry(*service).or_default().push(latency);
                    }
                    if self.asked && self.thawed.get(tab).is_none_or(|thaw| thaw < c) {
                        self.judged.push(latency);
                    }
                }
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                self.thawed.insert(*tab, step.t);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        self.applied.sort_unstable();
        for latencies in self.by_service.values_mut() {
            latencies.sort_unstable();
        }
        self.judged.sort_unstable();
        if !self.asked {
            return vec![];
        }
        let scenario = end.scenario;
        let bound = scenario.config.check.ui_latency_p99_bound_ms;
        let all = &self.judged;
        match percentile(all, 99.0) {
            Some(p99) if p99 > bound => vec![Violation {
                oracle: "O11",
                t: scenario.end(),
                subject: scenario.name.clone(),
                detail: format!(
                    "event-to-UI latency p99 {p99} ms over {} applies by tabs that ran throughout exceeds {bound} ms",
                    all.len()
                ),
            }],
            _ => vec![],
        }
    }

    fn figures(&self, figures: &mut super::Figures) {
        figures.ui_latencies = self.applied.clone();
        figures.ui_latencies_by_service = self.by_service.clone();
    }
}

/// The `p`-th percentile (nearest rank) of sorted `values`.
pub fn percentile(values: &[u64], p: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
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
