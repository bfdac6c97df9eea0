//! O8 for the long-poll itself (S3, S4): the server answers every poll it
//! takes. It answers at once when it has events past the cursor, or when the
//! org is at its waiter cap (S4's safe resolution, never a silent drop), and
//! otherwise parks the poll and answers it, empty, within
//! `long_poll_timeout_ms` (S3). So no poll should ever run into the tab's own
//! poll timeout.
//!
//! It applies when the tab's timeout leaves room for a parked poll's full wait
//! and a round trip (`poll_request_timeout_ms` above `long_poll_timeout_ms`
//! plus twice the largest one-way latency and a second), and to a poll whose
//! answer could come back in time: one sent while a latency, partition or
//! slow-write fault is on at the tab's browser, while the server is down, or
//! from a tab frozen in the meantime (its answer waits for the thaw) is
//! excused.

use super::{calls_impaired, Check, End, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeMap;

/// Whether the tab's poll timeout leaves room for a parked poll's full wait
/// and a round trip; if not, the oracle does not apply.
fn applies(scenario: &Scenario) -> bool {
    let cfg = &scenario.config;
    let room = cfg.buffer.long_poll_timeout_ms + 2 * cfg.net.max_latency_ms + 1_000;
    cfg.provider.poll_request_timeout_ms > room
}

#[derive(Default)]
pub struct Checker {
    polls: BTreeMap<(Actor, u64), SimTime>,
    /// (tab, req, sent, gave up). Judged at the end: a spell that excuses one
    /// may start at the same moment, or be closed only later.
    timed_out: Vec<(Actor, u64, SimTime, SimTime)>,
    /// When the server went down and came back, and when each tab froze and
    /// thawed; a spell still open runs to the scenario's end.
    down: Vec<(SimTime, SimTime)>,
    frozen: BTreeMap<Actor, Vec<(SimTime, SimTime)>>,
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        if !applies(scenario) {
            return;
        }
        let end = scenario.end();
        let t = step.t;
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what: RequestKind::Poll,
                ..
            } => {
                self.polls.insert((*tab, *req), t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                if let Some(sent) = self.polls.remove(&(*tab, *req)) {
                    if *outcome == Outcome::Timeout {
                        self.timed_out.push((*tab, *req, sent, t));
                    }
                }
            }
            Observation::ServerDown => self.down.push((t, end)),
            Observation::ServerUp => {
                if let Some(last) = self.down.last_mut() {
                    last.1 = t;
                }
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                self.frozen.entry(*tab).or_default().push((t, end));
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                if let Some(last) = self.frozen.get_mut(tab).and_then(|f| f.last_mut()) {
                    last.1 = t;
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        if !applies(end.scenario) {
            return Vec::new();
        }
        let wait = end.scenario.config.buffer.long_poll_timeout_ms;
        let overlaps = |spells: &[(SimTime, SimTime)], from: SimTime, to: SimTime| {
            spells.iter().any(|&(a, b)| a <= to && b >= from)
        };
        std::mem::take(&mut self.timed_out)
            .into_iter()
            .filter(|&(tab, _, sent, gave_up)| {
                !calls_impaired(end.scenario, (tab.org, tab.browser), sent, gave_up)
                    && !overlaps(&self.down, sent, gave_up)
                    && !self
                        .frozen
                        .get(&tab)
                        .is_some_and(|f| overlaps(f, sent, gave_up))
            })
            .map(|(tab, req, sent, gave_up)| Violation {
                oracle: "O8",
                t: gave_up,
                subject: tab.to_string(),
                detail: format!(
                    "poll {req} sent at {sent} was never answered and timed out after {} ms: the server answers a parked poll within long_poll_timeout_ms {wait} (S3) and one past the waiter cap at once (S4)",
                    gave_up.since(sent)
                ),
            })
            .collect()
    }
}
