//! O1 across a server restart (S10, C9): what a restart loses is shown, not
//! left for some later repair to cover. A restart empties every buffer, and
//! what is committed while the process is down never reaches one; so the
//! first answer to a poll whose cursor is older than such a lost event must
//! make the tab see the loss (a `Gap`: the restarted buffer's floor, or a hole
//! in the sequences it returns), whether or not a later event, a degraded
//! refetch or a hardRecover would have repaired the list anyway.
//!
//! It holds whatever the faults: it looks only at polls sent after the server
//! came back and answered 200, each tab's first one per restart.

use super::{Check, End, Violation};
use crate::http::{Method, Route};
use crate::observation::{Actor, DropReason, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// The `lastEventId` a poll resumes from; `None` for a handshake.
fn cursor(path: &str) -> Option<u64> {
    match Route::parse(Method::Get, path) {
        Ok(Route::Subscribe { last_event_id, .. }) => last_event_id,
        _ => None,
    }
}

#[derive(Default)]
pub struct Checker {
    /// Per org: the highest sequence the last restart lost.
    lost: BTreeMap<u32, u64>,
    down: bool,
    /// Tabs still owed their first answered poll since the last restart.
    owed: BTreeSet<Actor>,
    seen_tabs: BTreeSet<Actor>,
    polls: BTreeMap<(Actor, u64), Option<u64>>,
    /// (tab, answered at, cursor, lost through) to confirm against the gaps,
    /// which may be recorded after the answer at its instant.
    answered: Vec<(Actor, SimTime, u64, u64)>,
    gaps: BTreeSet<(Actor, SimTime)>,
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        match &step.obs {
            Observation::ServerDown => {
                self.down = true;
                self.lost.clear();
            }
            Observation::ServerUp => {
                self.down = false;
                self.owed = self.seen_tabs.clone();
                // An answer to a poll sent before the restart was made before it.
                self.polls.clear();
            }
            // Dropped by the restart, or committed while the process was down.
            Observation::BufferDrop {
                org,
                seq,
                reason: DropReason::Restart,
            } => lose(&mut self.lost, *org, *seq),
            Observation::Committed { org, seq, .. } if self.down => {
                lose(&mut self.lost, *org, *seq)
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Poll,
                path,
                ..
            } => {
                self.seen_tabs.insert(*tab);
                self.polls.insert((*tab, *req), cursor(path));
            }
            Observation::Response {
                tab,
                req,
                outcome: Outcome::Status(200),
                ..
            } => {
                let Some(c) = self.polls.remove(&(*tab, *req)) else {
                    return;
                };
                if !self.down && self.owed.remove(tab) {
                    let lost_through = self.lost.get(&tab.org).copied().unwrap_or(0);
                    if let Some(c) = c.filter(|&c| c < lost_through) {
                        self.answered.push((*tab, t, c, lost_through));
                    }
                }
            }
            Observation::Gap { tab, .. } => {
                self.gaps.insert((*tab, t));
            }
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.answered)
            .into_iter()
            .filter(|(tab, t, _, _)| !self.gaps.contains(&(*tab, *t)))
            .map(unshown)
            .collect()
    }
}

fn lose(lost: &mut BTreeMap<u32, u64>, org: u32, seq: u64) {
    let l = lost.entry(org).or_default();
    *l = (*l).max(seq);
}

/// A first poll after a restart that did not show the tab what it lost.
fn unshown((tab, t, c, lost_through): (Actor, SimTime, u64, u64)) -> Violation {
    Violation {
        oracle: "O1",
        t,
        subject: tab.to_string(),
        detail: format!(
            "its first poll after the restart, from lastEventId {c}, was answered without showing that the restart lost events up to seq {lost_through} (S10, C9)"
        ),
    }
}
