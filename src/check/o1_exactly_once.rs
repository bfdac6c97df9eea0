//! O1: each tab applies each event it may see at most once, and none is lost
//! without a refetch (a snapshot at or after its sequence) that restores it.

use super::{Check, End, Violation};
use crate::event::EventId;
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Checker {
    /// Double applies, as they happen.
    twice: Vec<Violation>,
    applied: BTreeMap<(Actor, u128), u32>,
    applied_seqs: BTreeSet<(Actor, u32, u64)>,
    covered_through: BTreeMap<Actor, u64>,
    /// Commits per org, so each tab looks only at its own org's events.
    commits: BTreeMap<u32, Vec<(SimTime, u64, u32, EventId)>>,
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        match &step.obs {
            Observation::Applied {
                tab,
                org,
                seq,
                event_id,
            } => {
                let n = self.applied.entry((*tab, event_id.0)).or_insert(0);
                *n += 1;
                if *n == 2 {
                    self.twice.push(Violation {
                        oracle: "O1",
                        t: step.t,
                        subject: tab.to_string(),
                        detail: format!("event {event_id} (org {org} seq {seq}) applied twice"),
                    });
                }
                self.applied_seqs.insert((*tab, *org, *seq));
            }
            Observation::Snapshot { tab, as_of_seq, .. } => {
                let c = self.covered_through.entry(*tab).or_insert(0);
                *c = (*c).max(*as_of_seq);
            }
            Observation::Committed {
                org,
                seq,
                event_id,
                property,
                ..
            } => self
                .commits
                .entry(*org)
                .or_default()
                .push((step.t, *seq, *property, *event_id)),
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.twice);
        for tab in &end.last.tabs {
            let covered = self.covered_through.get(&tab.name).copied().unwrap_or(0);
            let org = tab.org;
            for &(t, seq, property, event_id) in
                self.commits.get(&org).map(Vec::as_slice).unwrap_or(&[])
            {
                let visible = tab.property.is_none_or(|p| p == property);
                if visible && seq > covered && !self.applied_seqs.contains(&(tab.name, org, seq)) {
                    out.push(Violation {
                        oracle: "O1",
                        t,
                        subject: tab.name.to_string(),
                        detail: format!(
                            "event {event_id} (org {org} seq {seq}) lost: never applied, and no refetch covered it (snapshots reach seq {covered})"
                        ),
                    });
                }
            }
        }
        out
    }
}
