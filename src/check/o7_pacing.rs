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
//! - C6: a hidden tab, or one polling alone for want of a BroadcastChannel
//!   (its role `Solo` while election is on), waits at least
//!   `paced_poll_min_ms` after each answer to its poll before the next;
//! - a frozen tab sends nothing (B4): from its freeze to its thaw it sends no
//!   request at all (its channel handler may run, as Chromium's does, but
//!   the requests it makes go out at the thaw).
//!
//! How many requests a tab sends is a load figure, not a pacing rule: the
//! design re-polls once per event batch, so a busy org drives it up. The run
//! reports the peak (`peak_requests_per_tab_per_min`); a scenario that sets
//! `max_requests_per_tab_per_min` makes it a budget O7 holds every tab to.

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::client::ProviderConfig;
use crate::observation::{Actor, Observation, Outcome, RequestKind, Role, Step};
use crate::scenario::Scenario;
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

/// Why a hidden or fallback tab's next poll must wait.
const C6_PACING: &str = "the background pacing (C6)";

/// Where each tab is in its life, as far as pacing goes: frozen (B4: it
/// sends nothing), hidden, or polling alone in fallback (C6: it paces).
#[derive(Default)]
struct Background {
    frozen: PerActor<SimTime>,
    hidden: PerActor<()>,
    fallback: PerActor<()>,
}

impl Background {
    /// Follow a lifecycle or role change; true if it concerned `tab` and the
    /// tab is no longer in the background.
    fn take(&mut self, t: SimTime, obs: &Observation, election: bool) -> Option<Actor> {
        match obs {
            Observation::Lifecycle { tab, what } => {
                match what.as_str() {
                    "freeze" => {
                        self.frozen.insert(*tab, t);
                    }
                    "thaw" | "close" | "crash" => {
                        self.frozen.remove(tab);
                    }
                    "hide" => {
                        self.hidden.insert(*tab, ());
                    }
                    "show" => {
                        self.hidden.remove(tab);
                    }
                    _ => {}
                }
                (!self.paces(tab)).then_some(*tab)
            }
            Observation::Role { tab, role, .. } => {
                if *role == Role::Solo && election {
                    self.fallback.insert(*tab, ());
                } else {
                    self.fallback.remove(tab);
                }
                (!self.paces(tab)).then_some(*tab)
            }
            _ => None,
        }
    }

    fn paces(&self, tab: &Actor) -> bool {
        self.hidden.contains_key(tab) || self.fallback.contains_key(tab)
    }
}

#[derive(Default)]
pub struct Checker {
    tabs: PerActor<TabPace>,
    background: Background,
    found: Vec<Violation>,
    /// The most requests any one tab had in its 60 s window so far.
    peak: u64,
}

impl Checker {
    /// The most requests any one tab sent in a 60 s window (the run's load
    /// figure), over the steps seen so far.
    pub fn peak_requests_per_tab_per_min(&self) -> u64 {
        self.peak
    }

    fn request(
        &mut self,
        scenario: &Scenario,
        t: SimTime,
        (tab, req, what, path): (&Actor, &u64, &RequestKind, &str),
    ) {
        if let Some(since) = self.background.frozen.get(tab) {
            self.found.push(Violation {
                oracle: "O7",
                t,
                subject: tab.to_string(),
                detail: format!(
                    "{what:?} request {req} sent by a tab frozen since {since} (B4: a frozen tab sends nothing)"
                ),
            });
        }
        let limit = Some(scenario.config.check.max_requests_per_tab_per_min).filter(|&l| l > 0);
        let handshake = !path.contains("lastEventId=");
        let pace = self.tabs.or_default(*tab);
        self.found
            .extend(pace.on_request(t, *tab, *req, *what, handshake, limit));
        self.peak = self.peak.max(pace.window.len() as u64);
    }

    fn response(
        &mut self,
        p: &ProviderConfig,
        t: SimTime,
        (tab, req, outcome, events): (&Actor, &u64, &Outcome, &usize),
    ) {
        let Some(pace) = self.tabs.get_mut(tab) else {
            return;
        };
        let Some((sent_at, RequestKind::Poll, handshake)) = pace.sent.remove(req) else {
            return;
        };
        if pace.polling == Some(*req) {
            pace.polling = None;
        }
        pace.on_poll_answer(t, p, sent_at, handshake, outcome, *events);
        if self.background.paces(tab) && *outcome == Outcome::Status(200) {
            let until = t + p.paced_poll_min_ms;
            if pace.quiet_until.is_none_or(|(u, _)| u < until) {
                pace.quiet_until = Some((until, C6_PACING));
            }
        }
    }
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let p = &scenario.config.provider;
        let t = step.t;
        // C6 binds a tab only while it is in the background.
        if let Some(tab) = self.background.take(t, &step.obs, p.leader.leader_enabled) {
            if let Some(pace) = self.tabs.get_mut(&tab) {
                if pace.quiet_until.is_some_and(|(_, why)| why == C6_PACING) {
                    pace.quiet_until = None;
                }
            }
        }
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what,
                path,
                ..
            } => self.request(scenario, t, (tab, req, what, path)),
            Observation::Response {
                tab,
                req,
                outcome,
                events,
            } => self.response(p, t, (tab, req, outcome, events)),
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }

    fn figures(&self, figures: &mut super::Figures) {
        figures.peak_requests_per_tab_per_min = self.peak_requests_per_tab_per_min();
    }
}
