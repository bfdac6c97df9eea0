//! O4 for v2 (C15's single-flight connect): a tab never has two stream
//! connections at once. v2's provider keeps a stream per tab (the seeds are
//! silent on sharing it), so the tab is the scope and no window is allowed:
//! a second stream opened while the first is still connecting or open is the
//! race the guard exists for. Read from the tab's own requests and their
//! ends (an answer, a failure or the tab's abort); holds under any fault.

use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, RequestKind, Step};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct Checker {
    /// Each tab's stream requests not ended yet.
    open: BTreeMap<Actor, BTreeSet<u64>>,
    found: Vec<Violation>,
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what: RequestKind::Stream,
                ..
            } => {
                let open = self.open.entry(*tab).or_default();
                if let Some(first) = open.first() {
                    self.found.push(Violation {
                        oracle: "O4",
                        t: step.t,
                        subject: tab.to_string(),
                        detail: format!(
                            "a second stream (request {req}) while stream request {first} is still open (C15: single-flight connect)"
                        ),
                    });
                }
                open.insert(*req);
            }
            Observation::Response { tab, req, .. } => {
                if let Some(open) = self.open.get_mut(tab) {
                    open.remove(req);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
