//! O8 for the v2 stream (S12, S13): the server's batching and slow-consumer
//! bounds, read from what the server did and what the tabs were sent.
//!
//! S12, adaptive batching per `(org, service)`:
//! - every batch's window, and the one it leaves for the next, lies within
//!   `batch_window_min_ms..=batch_window_max_ms`;
//! - a batch near its maximum size (at least three quarters of
//!   `batch_max_events`) widens the window, unless it is at the ceiling; a
//!   quiet one (at most a quarter) narrows it, unless it is at the floor.
//!   ("Nears its maximum" and "quiet" are the SPEC's words; the quarters are
//!   this model's reading of them, declared with `batch_max_events`.)
//!
//! S13, quarantine:
//! - a connection enters it only once it has overflowed its send queue
//!   `quarantine_overflows` times within `overflow_window_ms` (counting since
//!   its last quarantine began), and then at once: on that connection alone;
//! - it ends within `quarantine_ms` (plus turmoil's tick: the server wakes on
//!   the tick after its deadline), or with the connection;
//! - only the low tier is ever shed: no tab is sent a `Suppressed` frame of a
//!   service other than analytics or dashboard (S13's tiers, listed here).
//!
//! A restart (a new epoch) starts every connection and window afresh.

use super::{Check, End, Violation};
use crate::event::Service;
use crate::observation::{Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

/// S13: the services a quarantine may shed, and no other.
const SHED_TIER: [Service; 2] = [Service::Analytics, Service::Dashboard];

#[derive(Default)]
struct ConnWatch {
    /// Overflows since its last quarantine began, oldest first.
    overflows: VecDeque<SimTime>,
    /// Since when it is quarantined.
    quarantined_at: Option<SimTime>,
    /// It overflowed often enough at this time, and is owed a quarantine.
    owed_at: Option<SimTime>,
}

pub struct Checker {
    window: (u64, u64),
    batch_max: usize,
    overflows: usize,
    overflow_window_ms: u64,
    quarantine_bound_ms: u64,
    conns: BTreeMap<u64, ConnWatch>,
    found: Vec<Violation>,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        let c = &scenario.config;
        Checker {
            window: (c.stream.batch_window_min_ms, c.stream.batch_window_max_ms),
            batch_max: c.stream.batch_max_events,
            overflows: c.stream.quarantine_overflows,
            overflow_window_ms: c.stream.overflow_window_ms,
            quarantine_bound_ms: c.stream.quarantine_ms + c.tick_ms,
            conns: BTreeMap::new(),
            found: Vec::new(),
        }
    }

    fn flag(&mut self, t: SimTime, subject: String, detail: String) {
        self.found.push(Violation {
            oracle: "O8",
            t,
            subject,
            detail,
        });
    }

    /// S12: one batch's window, and the one it leaves.
    fn batch(&mut self, t: SimTime, subject: String, events: usize, window: u64, next: u64) {
        let (lo, hi) = self.window;
        for (what, ms) in [("window", window), ("next window", next)] {
            if !(lo..=hi).contains(&ms) {
                let detail = format!("a batch's {what} of {ms} ms is outside {lo}..={hi} ms");
                self.flag(t, subject.clone(), detail);
            }
        }
        let near_full = 4 * events >= 3 * self.batch_max;
        let quiet = 4 * events <= self.batch_max;
        if near_full && window < hi && next <= window {
            let detail = format!(
                "a batch of {events} (maximum {}) left the window at {next} ms from {window} ms: it must widen",
                self.batch_max
            );
            self.flag(t, subject, detail);
        } else if quiet && window > lo && next >= window {
            let detail = format!(
                "a quiet batch of {events} (maximum {}) left the window at {next} ms from {window} ms: it must narrow",
                self.batch_max
            );
            self.flag(t, subject, detail);
        }
    }

    /// Quarantines owed before `now` that never came.
    fn owed_before(&mut self, now: SimTime) {
        let late: Vec<(u64, SimTime)> = self
            .conns
            .iter_mut()
            .filter_map(|(id, c)| {
                let owed = c.owed_at.filter(|t| *t < now)?;
                c.owed_at = None;
                Some((*id, owed))
            })
            .collect();
        for (id, t) in late {
            let detail = format!(
                "{} overflows within {} ms, and no quarantine",
                self.overflows, self.overflow_window_ms
            );
            self.flag(t, format!("conn{id}"), detail);
        }
    }

    /// Quarantines that outlasted their bound by `now`.
    fn overdue(&mut self, now: SimTime, ended: Option<u64>) {
        let bound = self.quarantine_bound_ms;
        let over: Vec<(u64, SimTime)> = self
            .conns
            .iter()
            .filter(|(id, _)| ended.is_none_or(|e| e == **id))
            .filter_map(|(id, c)| Some((*id, c.quarantined_at?)))
            .filter(|(_, since)| now.since(*since) > bound)
            .collect();
        for (id, since) in over {
            let detail = format!("quarantined for {} ms (bound {bound} ms)", now.since(since));
            self.flag(since, format!("conn{id}"), detail);
            if let Some(c) = self.conns.get_mut(&id) {
                c.quarantined_at = None;
            }
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        self.owed_before(t);
        match &step.obs {
            Observation::BatchFlushed {
                org,
                service,
                events,
                window_ms,
                next_window_ms,
                ..
            } => {
                let subject = format!("org{org}/{}", service.name());
                self.batch(t, subject, *events, *window_ms, *next_window_ms);
            }
            Observation::StreamOverflow { conn, .. } => {
                let (needed, window_ms) = (self.overflows, self.overflow_window_ms);
                let c = self.conns.entry(*conn).or_default();
                c.overflows.push_back(t);
                while c.overflows.front().is_some_and(|o| o.0 + window_ms <= t.0) {
                    c.overflows.pop_front();
                }
                if c.quarantined_at.is_none() && c.overflows.len() >= needed {
                    c.owed_at = Some(t);
                }
            }
            Observation::Quarantine { conn, on: true } => {
                let (needed, window_ms) = (self.overflows, self.overflow_window_ms);
                let c = self.conns.entry(*conn).or_default();
                let recent = c.overflows.iter().filter(|o| o.0 + window_ms > t.0).count();
                c.overflows.clear();
                c.owed_at = None;
                let twice = c.quarantined_at.replace(t).is_some();
                if twice {
                    self.flag(t, format!("conn{conn}"), "quarantined twice over".into());
                } else if recent < needed {
                    let detail = format!(
                        "quarantined after {recent} overflows within {window_ms} ms (it takes {needed})"
                    );
                    self.flag(t, format!("conn{conn}"), detail);
                }
            }
            Observation::Quarantine { conn, on: false } => {
                self.overdue(t, Some(*conn));
                if let Some(c) = self.conns.get_mut(conn) {
                    c.quarantined_at = None;
                }
            }
            Observation::StreamClosed { conn, .. } => {
                self.overdue(t, Some(*conn));
                self.conns.remove(conn);
            }
            Observation::StreamEpoch { .. } => {
                self.overdue(t, None);
                self.conns.clear();
            }
            Observation::StreamBatch {
                tab,
                service,
                suppressed: true,
                events,
                shared: false,
                ..
            } if !SHED_TIER.contains(service) => {
                let detail = format!(
                    "sent {events} {} events as suppressed: only analytics and dashboard may be shed",
                    service.name()
                );
                self.flag(t, tab.to_string(), detail);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let end_t = end.scenario.end();
        self.owed_before(SimTime(u64::MAX));
        self.overdue(end_t, None);
        std::mem::take(&mut self.found)
    }
}
