//! O1: each tab applies each event it may see at most once, and none is lost
//! without a refetch (a snapshot at or after its sequence) that restores it.
//! What a tab may see is its org's events of its property; a v2 stream
//! carries only its page's services (E1: an entity's service), so a v2 tab
//! that ends on another route owes only what its last page shows.

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::event::{EntityType, EventId, Service};
use crate::observation::{Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A commit: when, its sequence, property, event and entity.
type Commit = (SimTime, u64, u32, EventId, EntityType);

#[derive(Default)]
pub struct Checker {
    /// Double applies, as they happen.
    twice: Vec<Violation>,
    tabs: PerActor<Applies>,
    /// Commits per org, so each tab looks only at its own org's events.
    commits: BTreeMap<u32, Vec<Commit>>,
}

/// What one tab applied, and how far its snapshots reach. Kept per tab, so
/// the tab is not repeated in every entry (this is most of the checkers'
/// memory in a large run).
#[derive(Default)]
struct Applies {
    ids: BTreeSet<u128>,
    /// Events already reported as applied twice (a third apply adds nothing).
    reported: BTreeSet<u128>,
    /// The sequences applied of the tab's own org's events, sorted. A tab
    /// applies them in nearly sequence order, so nearly every one is a push,
    /// and a list takes a third of a B-tree set's memory (issue 19).
    seqs: Vec<u64>,
    /// Any other org's events it applied (none, unless a machine leaks them).
    foreign: BTreeSet<(u32, u64)>,
    covered_through: u64,
}

impl Applies {
    fn applied(&mut self, own: u32, org: u32, seq: u64) {
        if org != own {
            self.foreign.insert((org, seq));
            return;
        }
        if let Err(at) = self.seqs.binary_search(&seq) {
            self.seqs.insert(at, seq);
        }
    }

    fn has_applied(&self, own: u32, org: u32, seq: u64) -> bool {
        if org == own {
            self.seqs.binary_search(&seq).is_ok()
        } else {
            self.foreign.contains(&(org, seq))
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        match &step.obs {
            Observation::Applied {
                tab,
                org,
                seq,
                event_id,
                ..
            } => {
                let applies = self.tabs.or_default(*tab);
                if !applies.ids.insert(event_id.0) && applies.reported.insert(event_id.0) {
                    self.twice.push(Violation {
                        oracle: "O1",
                        t: step.t,
                        subject: tab.to_string(),
                        detail: format!("event {event_id} (org {org} seq {seq}) applied twice"),
                    });
                }
                applies.applied(tab.org, *org, *seq);
            }
            Observation::Snapshot { tab, as_of_seq, .. } => {
                let c = &mut self.tabs.or_default(*tab).covered_through;
                *c = (*c).max(*as_of_seq);
            }
            Observation::Committed {
                org,
                seq,
                event_id,
                property,
                entity,
                ..
            } => self
                .commits
                .entry(*org)
                .or_default()
                .push((step.t, *seq, *property, *event_id, *entity)),
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.twice);
        let stream = end.scenario.config.provider.transport == crate::client::Transport::Stream;
        for tab in &end.last.tabs {
            let services: BTreeSet<Service> = tab
                .lists
                .iter()
                .map(|(l, _)| l.entity().service())
                .collect();
            let applies = self.tabs.get(&tab.name);
            let covered = applies.map_or(0, |a| a.covered_through);
            let org = tab.org;
            for &(t, seq, property, event_id, entity) in
                self.commits.get(&org).map(Vec::as_slice).unwrap_or(&[])
            {
                let carried = !stream || services.contains(&entity.service());
                let visible = carried && tab.property.is_none_or(|p| p == property);
                if visible
                    && seq > covered
                    && !applies.is_some_and(|a| a.has_applied(tab.name.org, org, seq))
                {
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

#[cfg(test)]
mod tests {
    use super::Applies;
    use std::collections::BTreeSet;

    /// Whatever order a tab applies in, and whichever orgs, `Applies`
    /// answers as the set of (org, seq) pairs it replaced.
    #[test]
    fn applies_answer_as_a_set_of_org_and_seq() {
        let own = 3;
        let (mut ours, mut set) = (Applies::default(), BTreeSet::new());
        let mut x: u64 = 11;
        for _ in 0..5_000 {
            // A small LCG: the test needs a varied sequence, not a good one.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let org = if (x >> 60) == 0 { 4 } else { own };
            // Sequences in any order, many repeated, a sixteenth of another org.
            let seq = (x >> 20) % 400;
            ours.applied(own, org, seq);
            set.insert((org, seq));
        }
        for org in [own, 4, 5] {
            for seq in 0..420 {
                assert_eq!(
                    ours.has_applied(own, org, seq),
                    set.contains(&(org, seq)),
                    "org {org} seq {seq}"
                );
            }
        }
        assert!(ours.seqs.windows(2).all(|w| w[0] < w[1]));
    }
}
