//! O7: breaker and pacing, as the seeds state them. Every rule holds at all
//! times, whatever the faults; each is about one tab's own polls:
//!
//! - C4: after `breaker_failures` consecutive failed polls (a network
//!   failure, a timeout or a 5xx) the tab makes no poll for `breaker_open_ms`;
//! - C5: after a fast-empty answer (empty, in under `fast_empty_ms`) it waits
//!   at least the minimum backoff, except after the handshake (a poll without
//!   `lastEventId`, which the server answers at once with its cursor);
//! - no hot loop (C1): a tab never has two polls out at once; each poll is
//!   answered, times out or is given up before the next goes;
//! - a frozen tab runs nothing (B4): from its freeze to its thaw it sends no
//!   request at all.
//!
//! How many requests a tab sends is a load figure, not a pacing rule: the
//! design re-polls once per event batch, so a busy org drives it up. The run
//! reports the peak (`peak_requests_per_tab_per_min`); a scenario that sets
//! `max_requests_per_tab_per_min` makes it a budget O7 holds every tab to.

use super::{Evidence, Violation};
use crate::client::ProviderConfig;
use crate::observation::{Actor, Observation, Outcome, RequestKind};
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

#[derive(Default)]
struct TabPace {
    /// Requests in flight: when sent, what for, and whether a handshake.
    sent: BTreeMap<u64, (SimTime, RequestKind, bool)>,
    consecutive_failures: u32,
    quiet_until: Option<(SimTime, &'static str)>,
    /// The poll out now, if any.
    polling: Option<u64>,
    window: VecDeque<SimTime>,
    rate_reported: bool,
}

impl TabPace {
    /// A request goes out: early if a quiet period holds polls, and counted in the window.
    fn on_request(
        &mut self,
        t: SimTime,
        tab: Actor,
        req: u64,
        what: RequestKind,
        handshake: bool,
        limit: Option<usize>,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let violation = |detail: String| Violation {
            oracle: "O7",
            t,
            subject: tab.to_string(),
            detail,
        };
        self.sent.insert(req, (t, what, handshake));
        if what == RequestKind::Poll {
            if let Some((until, why)) = self.quiet_until.filter(|(until, _)| t < *until) {
                out.push(violation(format!(
                    "poll sent {} ms early: {why} holds polls until {until}",
                    until.since(t)
                )));
            }
            self.quiet_until = None;
            if let Some(earlier) = self.polling.replace(req) {
                out.push(violation(format!(
                    "poll {req} sent while poll {earlier} is still out"
                )));
            }
        }
        self.count(t);
        let Some(limit) = limit else { return out };
        if self.window.len() > limit && !self.rate_reported {
            self.rate_reported = true;
            out.push(violation(format!(
                "{} requests in 60 s, above the limit of {limit}",
                self.window.len()
            )));
        }
        out
    }

    /// Count a request in the 60 s window that ends at `t`.
    fn count(&mut self, t: SimTime) {
        self.window.push_back(t);
        while self.window.front().is_some_and(|&w| w + 60_000 <= t) {
            self.window.pop_front();
        }
    }

    /// A poll's answer: a failure counts towards the breaker (C4: a network
    /// failure, a timeout or a 5xx, as the SPEC has it), a fast-empty 200
    /// starts the backoff (C5).
    fn on_poll_answer(
        &mut self,
        t: SimTime,
        p: &ProviderConfig,
        sent_at: SimTime,
        handshake: bool,
        outcome: &Outcome,
        events: usize,
    ) {
        if super::call_failed(outcome) {
            self.consecutive_failures += 1;
            if self.consecutive_failures >= p.breaker.breaker_failures {
                self.quiet_until = Some((t + p.breaker.breaker_open_ms, "the open breaker"));
            }
        } else {
            self.consecutive_failures = 0;
            let fast_empty = !handshake && events == 0 && t.since(sent_at) < p.fast_empty_ms;
            if fast_empty && *outcome == Outcome::Status(200) {
                self.quiet_until =
                    Some((t + p.fast_empty_backoff_min_ms, "the fast-empty backoff"));
            }
        }
    }
}

/// The most requests any one tab sent in a 60 s window (the run's load figure).
pub fn peak_requests_per_tab_per_min(ev: &Evidence) -> u64 {
    let mut tabs: BTreeMap<Actor, TabPace> = BTreeMap::new();
    let mut peak = 0;
    for step in &ev.history.steps {
        if let Observation::Request { tab, .. } = &step.obs {
            let pace = tabs.entry(*tab).or_default();
            pace.count(step.t);
            peak = peak.max(pace.window.len() as u64);
        }
    }
    peak
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let p = &ev.scenario.config.provider;
    let limit = Some(ev.scenario.config.check.max_requests_per_tab_per_min).filter(|&l| l > 0);
    let mut tabs: BTreeMap<Actor, TabPace> = BTreeMap::new();
    let mut frozen: BTreeMap<Actor, SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Lifecycle { tab, what } => {
                if what == "freeze" {
                    frozen.insert(*tab, t);
                } else if matches!(what.as_str(), "thaw" | "close" | "crash") {
                    frozen.remove(tab);
                }
            }
            Observation::Request {
                tab,
                req,
                what,
                path,
                ..
            } => {
                if let Some(since) = frozen.get(tab) {
                    out.push(Violation {
                        oracle: "O7",
                        t,
                        subject: tab.to_string(),
                        detail: format!(
                            "{what:?} request {req} sent by a tab frozen since {since} (B4: a frozen tab runs nothing)"
                        ),
                    });
                }
                let handshake = !path.contains("lastEventId=");
                let pace = tabs.entry(*tab).or_default();
                out.extend(pace.on_request(t, *tab, *req, *what, handshake, limit));
            }
            Observation::Response {
                tab,
                req,
                outcome,
                events,
            } => {
                let Some(pace) = tabs.get_mut(tab) else {
                    continue;
                };
                let Some((sent_at, RequestKind::Poll, handshake)) = pace.sent.remove(req) else {
                    continue;
                };
                if pace.polling == Some(*req) {
                    pace.polling = None;
                }
                pace.on_poll_answer(t, p, sent_at, handshake, outcome, *events);
            }
            _ => {}
        }
    }
    out
}
