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

use super::{calls_impaired, Evidence, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind};
use crate::time::SimTime;
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let cfg = &ev.scenario.config;
    let wait = cfg.buffer.long_poll_timeout_ms;
    let room = wait + 2 * cfg.net.max_latency_ms + 1_000;
    if cfg.provider.poll_request_timeout_ms <= room {
        return Vec::new();
    }
    let mut polls: BTreeMap<(Actor, u64), SimTime> = BTreeMap::new();
    // (tab, req, sent, gave up).
    let mut timed_out = Vec::new();
    // When the server went down and came back, and when each tab froze and thawed.
    let mut down: Vec<(SimTime, SimTime)> = Vec::new();
    let mut frozen: BTreeMap<Actor, Vec<(SimTime, SimTime)>> = BTreeMap::new();
    let end = ev.scenario.end();
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what: RequestKind::Poll,
                ..
            } => {
                polls.insert((*tab, *req), t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                if let Some(sent) = polls.remove(&(*tab, *req)) {
                    if *outcome == Outcome::Timeout {
                        timed_out.push((*tab, *req, sent, t));
                    }
                }
            }
            Observation::ServerDown => down.push((t, end)),
            Observation::ServerUp => {
                if let Some(last) = down.last_mut() {
                    last.1 = t;
                }
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                frozen.entry(*tab).or_default().push((t, end));
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                if let Some(last) = frozen.get_mut(tab).and_then(|f| f.last_mut()) {
                    last.1 = t;
                }
            }
            _ => {}
        }
    }
    let overlaps = |spells: &[(SimTime, SimTime)], from: SimTime, to: SimTime| {
        spells.iter().any(|&(a, b)| a <= to && b >= from)
    };
    timed_out
        .into_iter()
        .filter(|&(tab, _, sent, gave_up)| {
            !calls_impaired(ev.scenario, (tab.org, tab.browser), sent, gave_up)
                && !overlaps(&down, sent, gave_up)
                && !frozen
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
