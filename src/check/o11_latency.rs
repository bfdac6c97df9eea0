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
    /// Every apply's latency (the run's figures).
    applied: Latencies,
    /// v2: the applied latencies per service.
    by_service: BTreeMap<Service, Latencies>,
    /// Those of tabs that ran from the commit to the apply: what O11 judges
    /// (kept only when asked).
    judged: Latencies,
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
            applied: Latencies::default(),
            by_service: BTreeMap::new(),
            judged: Latencies::default(),
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
                    self.applied.add(latency);
                    if let Some((service, _)) = stream {
                        self.by_service.entry(*service).or_default().add(latency);
                    }
                    if self.asked && self.thawed.get(tab).is_none_or(|thaw| thaw < c) {
                        self.judged.add(latency);
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
        if !self.asked {
            return vec![];
        }
        let scenario = end.scenario;
        let bound = scenario.config.check.ui_latency_p99_bound_ms;
        let all = &self.judged;
        match all.percentile(99.0) {
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

/// Latencies in ms, counted per value: the exact percentiles of a run's
/// applies in one entry per distinct millisecond, where a list of every
/// apply grew with the run (800,000 at 50k tabs, kept twice).
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    counts: BTreeMap<u64, u64>,
    len: u64,
}

impl Latencies {
    pub fn add(&mut self, ms: u64) {
        *self.counts.entry(ms).or_default() += 1;
        self.len += 1;
    }

    /// How many latencies were added.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `p`-th percentile, by nearest rank.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.is_empty() {
            return None;
        }
        let rank = (((p / 100.0) * self.len as f64).ceil() as u64).clamp(1, self.len);
        let mut below = 0;
        self.counts.iter().find_map(|(&ms, &n)| {
            below += n;
            (below >= rank).then_some(ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Latencies;

    /// The nearest-rank percentile of the counts is that of the sorted list.
    #[test]
    fn percentiles_of_the_counts_are_those_of_the_sorted_list() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for len in [1usize, 2, 3, 7, 100, 1_001] {
            let mut list = Vec::new();
            let mut counted = Latencies::default();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let ms = x % 50;
                list.push(ms);
                counted.add(ms);
            }
            list.sort_unstable();
            for p in [0.0, 1.0, 50.0, 95.0, 99.0, 100.0] {
                let rank = ((p / 100.0) * len as f64).ceil() as usize;
                let want = list[rank.clamp(1, len) - 1];
                assert_eq!(counted.percentile(p), Some(want), "p{p} of {len}");
            }
        }
        assert_eq!(Latencies::default().percentile(50.0), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v = Latencies::default();
        (1..=100).for_each(|ms| v.add(ms));
        assert_eq!(v.percentile(50.0), Some(50));
        assert_eq!(v.percentile(99.0), Some(99));
        let mut one = Latencies::default();
        one.add(7);
        assert_eq!(one.percentile(99.0), Some(7));
    }
}
