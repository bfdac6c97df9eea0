//! O7: breaker and pacing. After `breaker_failures` consecutive failed polls a
//! tab makes no poll for `breaker_open_ms` (C4); after a fast-empty answer it
//! waits at least the minimum backoff (C5), except after the handshake (a
//! poll without `lastEventId`, which the server answers at once with its
//! cursor); and no tab sends more than the configured number of requests in
//! any 60 s window.

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
        limit: usize,
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
        }
        self.window.push_back(t);
        while self.window.front().is_some_and(|&w| w + 60_000 <= t) {
            self.window.pop_front();
        }
        if self.window.len() > limit && !self.rate_reported {
            self.rate_reported = true;
            out.push(violation(format!(
                "{} requests in 60 s, above the limit of {limit}",
                self.window.len()
            )));
        }
        out
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
        let failed = match outcome {
            Outcome::Status(s) => *s >= 500,
            Outcome::NetError | Outcome::Timeout => true,
            Outcome::Aborted => false,
        };
        if failed {
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

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let p = &ev.scenario.config.provider;
    let limit = ev.scenario.config.check.max_requests_per_tab_per_min;
    let mut tabs: BTreeMap<Actor, TabPace> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what,
                path,
                ..
            } => {
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
                pace.on_poll_answer(t, p, sent_at, handshake, outcome, *events);
            }
            _ => {}
        }
    }
    out
}
