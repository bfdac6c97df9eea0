//! O13 (v2, S15): a stream continues exactly where the tab's copy of each
//! service ends. Read from what the tab saw, never from the server:
//! - a welcome that says a service is `recovered` names the very sequence
//!   the tab last had of it, in the epoch the tab had it in (a cursor of
//!   another epoch is never spliced onto this one);
//! - each batch of a service starts where the tab's copy ends (the welcome's
//!   head, or the last batch's end): never before (what the tab had, resent:
//!   a replay from the wrong place), never after (a hole nothing flags).
//!
//! A service that is not recovered restarts the tab's copy at the welcome's
//! head (the tab refetches; O1 and O2 judge that). Holds under any fault.
//!
//! Behind the leader, a follower's copy follows the frames its leader shares
//! (`shared`): they move the copy and are not judged, since a message the
//! channel loses leaves a hole the follower reloads over; the connection
//! the follower opens when it takes over is judged against that copy.

use super::{Check, End, Violation};
use crate::event::Service;
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
use std::collections::BTreeMap;

#[derive(Default)]
struct TabCopy {
    epoch: Option<u64>,
    /// Per service: where the tab's copy ends.
    through: BTreeMap<Service, u64>,
}

#[derive(Default)]
pub struct Checker {
    tabs: BTreeMap<Actor, TabCopy>,
    found: Vec<Violation>,
}

impl Checker {
    fn flag(&mut self, step: &Step, tab: Actor, detail: String) {
        self.found.push(Violation {
            oracle: "O13",
            t: step.t,
            subject: tab.to_string(),
            detail,
        });
    }
}

impl Checker {
    /// Behind the leader: a follower's copy moves with what it is shared.
    fn follow(&mut self, obs: &Observation) {
        match obs {
            Observation::StreamStarted {
                tab, epoch, starts, ..
            } => {
                let copy = self.tabs.entry(*tab).or_default();
                copy.epoch = epoch.or(copy.epoch);
                copy.through = starts.iter().map(|s| (s.service, s.head)).collect();
            }
            Observation::StreamBatch {
                tab,
                service,
                through,
                ..
            } => {
                let copy = self.tabs.entry(*tab).or_default();
                if let Some(end) = copy.through.get_mut(service) {
                    *end = (*end).max(*through);
                }
            }
            _ => {}
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        match &step.obs {
            Observation::StreamStarted { shared: true, .. }
            | Observation::StreamBatch { shared: true, .. } => self.follow(&step.obs),
            Observation::StreamStarted {
                tab, epoch, starts, ..
            } => {
                let copy = self.tabs.entry(*tab).or_default();
                let new_epoch = epoch.is_some_and(|e| copy.epoch != Some(e));
                let mut wrong = Vec::new();
                for s in starts.iter().filter(|s| s.recovered) {
                    let had = copy.through.get(&s.service).copied();
                    if new_epoch {
                        wrong.push(format!(
                            "{} recovered at {} in epoch {:?}, but the tab's copy is of epoch {:?}",
                            s.service.name(),
                            s.head,
                            epoch.unwrap_or_default(),
                            copy.epoch
                        ));
                    } else if had != Some(s.head) {
                        wrong.push(format!(
                            "{} recovered at {}, but the tab's copy ends at {had:?}",
                            s.service.name(),
                            s.head
                        ));
                    }
                }
                if epoch.is_some() {
                    copy.epoch = *epoch;
                }
                copy.through = starts.iter().map(|s| (s.service, s.head)).collect();
                for w in wrong {
                    self.flag(step, *tab, w);
                }
            }
            Observation::StreamBatch {
                tab,
                service,
                after,
                through,
                ..
            } => {
                let copy = self.tabs.entry(*tab).or_default();
                let Some(end) = copy.through.get_mut(service) else {
                    let detail = format!("a batch of {} it does not carry", service.name());
                    return self.flag(step, *tab, detail);
                };
                let had = *end;
                *end = (*end).max(*through);
                if *after != had {
                    let what = if *after < had { "resends" } else { "skips" };
                    let detail = format!(
                        "a {} batch ({after}, {through}] {what} what follows its copy's end at {had}",
                        service.name()
                    );
                    self.flag(step, *tab, detail);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
