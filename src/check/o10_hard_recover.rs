//! O10 for a long cut-off (C8, hardRecover): a tab whose poll succeeds more
//! than `hard_recover_after_ms` after its previous successful poll may be far
//! behind, so it refetches every list: a refetch goes out (or its snapshot
//! arrives) within `refetch_retry_ms` plus one refetch timeout plus a second.
//!
//! It applies while the tab's calls can go through: a tab that closes,
//! crashes, freezes, signs out, is paused for a token (C7), sees a call fail
//! or has a latency, partition or slow-write fault on its browser in that
//! window is excused.

use super::{call_failed, calls_impaired, Evidence, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let p = &ev.scenario.config.provider;
    let bound = p.refetch_retry_ms + p.refetch_request_timeout_ms + 1_000;
    let mut polls: BTreeSet<(Actor, u64)> = BTreeSet::new();
    let mut last_success: BTreeMap<Actor, SimTime> = BTreeMap::new();
    // (tab, when the long-silent poll succeeded, how long the silence was).
    let mut owed: Vec<(Actor, SimTime, u64)> = Vec::new();
    let mut reloads: BTreeMap<Actor, BTreeSet<SimTime>> = BTreeMap::new();
    let mut excused: BTreeMap<Actor, BTreeSet<SimTime>> = BTreeMap::new();
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Request { tab, req, what, .. } => match what {
                RequestKind::Poll => {
                    polls.insert((*tab, *req));
                }
                RequestKind::Refetch => {
                    reloads.entry(*tab).or_default().insert(t);
                }
                _ => {}
            },
            Observation::Snapshot { tab, .. } => {
                reloads.entry(*tab).or_default().insert(t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                if call_failed(outcome) {
                    excused.entry(*tab).or_default().insert(t);
                }
                if polls.remove(&(*tab, *req)) && *outcome == Outcome::Status(200) {
                    if let Some(last) = last_success.insert(*tab, t) {
                        let silent = t.since(last);
                        if silent > p.hard_recover_after_ms {
                            owed.push((*tab, t, silent));
                        }
                    }
                }
            }
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "close" | "crash" | "freeze") =>
            {
                excused.entry(*tab).or_default().insert(t);
            }
            Observation::SignedOut { tab, .. } | Observation::AuthPaused { tab, .. } => {
                excused.entry(*tab).or_default().insert(t);
            }
            _ => {}
        }
    }
    let within = |times: Option<&BTreeSet<SimTime>>, from: SimTime, to: SimTime| {
        times.is_some_and(|ts| ts.range(from..=to).next().is_some())
    };
    let mut out = Vec::new();
    for (tab, t0, silent) in owed {
        let due = t0 + bound;
        let reloaded = within(reloads.get(&tab), t0, due);
        let excuse = within(excused.get(&tab), t0, due)
            || calls_impaired(ev.scenario, (tab.org, tab.browser), t0, due)
            || due > ev.scenario.end();
        if !reloaded && !excuse {
            out.push(Violation {
                oracle: "O10",
                t: due,
                subject: tab.to_string(),
                detail: format!(
                    "no list refetch within {bound} ms of a poll that ended {silent} ms without a successful one (C8)"
                ),
            });
        }
    }
    out
}
