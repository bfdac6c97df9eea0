//! O7: breaker and pacing. After `breaker_failures` consecutive failed polls a
//! tab makes no poll for `breaker_open_ms` (C4); after a fast-empty answer it
//! waits at least the minimum backoff (C5), except after the handshake (a
//! poll without `lastEventId`, which the server answers at once with its
//! cursor); and no tab sends more than the configured number of requests in
//! any 60 s window.

use super::{Evidence, Violation};
use crate::observation::{Observation, RequestKind};
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

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let p = &ev.scenario.config.provider;
    let limit = ev.scenario.config.check.max_requests_per_tab_per_min;
    let mut tabs: BTreeMap<&str, TabPace> = BTreeMap::new();
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
                let pace = tabs.entry(tab.as_str()).or_default();
                let handshake = !path.contains("lastEventId=");
                pace.sent.insert(*req, (t, *what, handshake));
                if *what == RequestKind::Poll {
                    if let Some((until, why)) = pace.quiet_until {
                        if t < until {
                            out.push(Violation {
                                oracle: "O7",
                                t,
                                subject: tab.clone(),
                                detail: format!(
                                    "poll sent {} ms early: {why} holds polls until {until}",
                                    until.since(t)
                                ),
                            });
                        }
                    }
                    pace.quiet_until = None;
                }
                pace.window.push_back(t);
                while pace.window.front().is_some_and(|&w| w + 60_000 <= t) {
                    pace.window.pop_front();
                }
                if pace.window.len() > limit && !pace.rate_reported {
                    pace.rate_reported = true;
                    out.push(Violation {
                        oracle: "O7",
                        t,
                        subject: tab.clone(),
                        detail: format!(
                            "{} requests in 60 s, above the limit of {limit}",
                            pace.window.len()
                        ),
                    });
                }
            }
            Observation::Response {
                tab,
                req,
                outcome,
                events,
            } => {
                let Some(pace) = tabs.get_mut(tab.as_str()) else {
                    continue;
                };
                let Some((sent_at, RequestKind::Poll, handshake)) = pace.sent.remove(req) else {
                    continue;
                };
                if outcome.is_failure() {
                    pace.consecutive_failures += 1;
                    if pace.consecutive_failures >= p.breaker.breaker_failures {
                        pace.quiet_until =
                            Some((t + p.breaker.breaker_open_ms, "the open breaker"));
                    }
                } else {
                    pace.consecutive_failures = 0;
                    let fast_empty =
                        !handshake && *events == 0 && t.since(sent_at) < p.fast_empty_ms;
                    if fast_empty && *outcome == crate::observation::Outcome::Status(200) {
                        pace.quiet_until =
                            Some((t + p.fast_empty_backoff_min_ms, "the fast-empty backoff"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}
