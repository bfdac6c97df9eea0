//! O1: each tab applies each event it may see at most once, and none is lost
//! without a refetch (a snapshot at or after its sequence) that restores it.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation};
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut applied: BTreeMap<(Actor, u128), u32> = BTreeMap::new();
    let mut applied_seqs: BTreeMap<(Actor, u32, u64), ()> = BTreeMap::new();
    let mut covered_through: BTreeMap<Actor, u64> = BTreeMap::new();
    for step in &ev.history.steps {
        match &step.obs {
            Observation::Applied {
                tab,
                org,
                seq,
                event_id,
            } => {
                let n = applied.entry((*tab, event_id.0)).or_insert(0);
                *n += 1;
                if *n == 2 {
                    out.push(Violation {
                        oracle: "O1",
                        t: step.t,
                        subject: tab.to_string(),
                        detail: format!("event {event_id} (org {org} seq {seq}) applied twice"),
                    });
                }
                applied_seqs.insert((*tab, *org, *seq), ());
            }
            Observation::Snapshot { tab, as_of_seq, .. } => {
                let c = covered_through.entry(*tab).or_insert(0);
                *c = (*c).max(*as_of_seq);
            }
            _ => {}
        }
    }
    // Commits per org, so each tab looks only at its own org's events.
    let mut commits: BTreeMap<u32, Vec<(crate::time::SimTime, u64, u32, crate::event::EventId)>> =
        BTreeMap::new();
    for step in &ev.history.steps {
        if let Observation::Committed {
            org,
            seq,
            event_id,
            property,
            ..
        } = &step.obs
        {
            commits
                .entry(*org)
                .or_default()
                .push((step.t, *seq, *property, *event_id));
        }
    }
    for tab in &ev.last.tabs {
        let covered = covered_through.get(&tab.name).copied().unwrap_or(0);
        for &(t, seq, property, event_id) in commits.get(&tab.org).map(Vec::as_slice).unwrap_or(&[])
        {
            let org = tab.org;
            let visible = tab.property.is_none_or(|p| p == property);
            if visible && seq > covered && !applied_seqs.contains_key(&(tab.name, org, seq)) {
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
