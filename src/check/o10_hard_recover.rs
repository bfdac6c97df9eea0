//! O10 for a long cut-off (C8, hardRecover): a tab whose poll succeeds more
//! than `hard_recover_after_ms` after its previous successful poll may be far
//! behind, so it refetches every list: a refetch goes out (or its snapshot
//! arrives) within `refetch_retry_ms` plus one refetch timeout plus a second.
//!
//! A sign-out ends the tab's stream, so the silence is counted within one
//! session. It applies while the tab's calls can go through: a tab that closes,
//! crashes, freezes, signs out, is paused for a token (C7), sees a call fail
//! or has a latency, partition or slow-write fault on its browser in that
//! window is excused.

use super::per_actor::PerActor;
use super::{call_failed, calls_impaired, Check, End, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeSet;

/// What `refetch_retry_ms` plus one refetch timeout plus a second comes to.
fn bound(scenario: &Scenario) -> u64 {
    let p = &scenario.config.provider;
    p.refetch_retry_ms + p.refetch_request_timeout_ms + 1_000
}

/// The polls out, each tab's last successful poll, the long silences owed a
/// reload, and per tab when it reloaded or was excused: an owed reload is
/// judged once the run is over, since it may come up to the bound later.
#[derive(Default)]
pub struct Checker {
    polls: BTreeSet<(Actor, u64)>,
    last_success: PerActor<SimTime>,
    /// (tab, when the long-silent poll succeeded, how long the silence was).
    owed: Vec<(Actor, SimTime, u64)>,
    reloads: PerActor<BTreeSet<SimTime>>,
    excused: PerActor<BTreeSet<SimTime>>,
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let p = &scenario.config.provider;
        let t = step.t;
        match &step.obs {
            Observation::Request { tab, req, what, .. } => match what {
                RequestKind::Poll => {
                    self.polls.insert((*tab, *req));
                }
                RequestKind::Refetch => {
                    self.reloads.or_default(*tab).insert(t);
                }
                _ => {}
            },
            Observation::Snapshot { tab, .. } => {
                self.reloads.or_default(*tab).insert(t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => {
                if call_failed(outcome) {
                    self.excused.or_default(*tab).insert(t);
                }
                if self.polls.remove(&(*tab, *req)) && *outcome == Outcome::Status(200) {
                    if let Some(last) = self.last_success.insert(*tab, t) {
                        let silent = t.since(last);
                        if silent > p.hard_recover_after_ms {
                            self.owed.push((*tab, t, silent));
                        }
                    }
                }
            }
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "close" | "crash" | "freeze") =>
            {
                self.excused.or_default(*tab).insert(t);
            }
            Observation::SignedOut { tab, .. } => {
                // Its stream ends with the session: the first poll after the
                // next sign-in starts a new one (after a fresh load), and
                // resumes from no silence.
                self.excused.or_default(*tab).insert(t);
                self.last_success.remove(tab);
            }
            Observation::AuthPaused { tab, .. } => {
                self.excused.or_default(*tab).insert(t);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let scenario = end.scenario;
        let bound = bound(scenario);
        let within = |times: Option<&BTreeSet<SimTime>>, from: SimTime, to: SimTime| {
            times.is_some_and(|ts| ts.range(from..=to).next().is_some())
        };
        let mut out = Vec::new();
        for &(tab, t0, silent) in &self.owed {
            let due = t0 + bound;
            let reloaded = within(self.reloads.get(&tab), t0, due);
            let excuse = within(self.excused.get(&tab), t0, due)
                || calls_impaired(scenario, (tab.org, tab.browser), t0, due)
                || due > scenario.end();
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
}
