//! O8: server bounds. Buffers stay within `max_buffer_size`, waiters within
//! the cap, idle orgs are evicted, and every event that leaves a buffer is
//! counted (what went in = what was dropped + what is still there).

use super::{Check, End, Violation};
use crate::observation::{Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

pub struct Checker {
    /// Violations in the order found, bounds and overdue evictions interleaved.
    out: Vec<Violation>,
    /// Each org's inserts less what left its buffer, to match its final size.
    inserted: BTreeMap<u32, i64>,
    idle: IdleWatch,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        let cfg = &scenario.config;
        // An org is idle once nothing touched it for the eviction window; a parked
        // poll may hold it up to a request timeout longer without being observed.
        let idle_ms = cfg.buffer.org_idle_evict_ms + cfg.provider.poll_request_timeout_ms + 1_000;
        Self {
            out: Vec::new(),
            inserted: BTreeMap::new(),
            idle: IdleWatch {
                idle_ms,
                deadline_of: BTreeMap::new(),
                deadlines: BTreeSet::new(),
            },
        }
    }
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let cfg = &scenario.config;
        let max = cfg.buffer.max_buffer_size;
        let cap = cfg.buffer.max_waiters_per_org;
        let t = step.t;
        self.idle.overdue(t, &mut self.out);
        match &step.obs {
            Observation::BufferInsert { org, seq, len, .. } => {
                *self.inserted.entry(*org).or_default() += 1;
                self.idle.touch(*org, t);
                if *len > max {
                    self.out.push(Violation {
                        oracle: "O8",
                        t,
                        subject: format!("org{org}"),
                        detail: format!("buffer holds {len} events after seq {seq}, above max_buffer_size {max}"),
                    });
                }
            }
            Observation::BufferDrop { org, .. } => *self.inserted.entry(*org).or_default() -= 1,
            Observation::OrgEvicted { org, entries } => {
                *self.inserted.entry(*org).or_default() -= *entries as i64;
                self.idle.forget(*org);
            }
            Observation::WaitersParked { org, count } => {
                self.idle.touch(*org, t);
                if *count > cap {
                    self.out.push(Violation {
                        oracle: "O8",
                        t,
                        subject: format!("org{org}"),
                        detail: format!("{count} parked polls, above max_waiters_per_org {cap}"),
                    });
                }
            }
            Observation::PollServed { org, .. } => self.idle.touch(*org, t),
            Observation::ServerDown => self.idle.clear(),
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.out);
        let at_end = end.scenario.end();
        self.idle.overdue(at_end, &mut out);
        let buffered: BTreeMap<u32, usize> = end.last.buffered.iter().copied().collect();
        for (&org, &net) in &self.inserted {
            let held = buffered.get(&org).copied().unwrap_or(0) as i64;
            if net != held {
                out.push(Violation {
                    oracle: "O8",
                    t: at_end,
                    subject: format!("org{org}"),
                    detail: format!("{} events left the buffer uncounted (inserted minus dropped is {net}, buffer holds {held})", net - held),
                });
            }
        }
        out
    }
}

/// Each org's idle deadline, indexed by time so a step looks only at the due ones.
struct IdleWatch {
    idle_ms: u64,
    deadline_of: BTreeMap<u32, SimTime>,
    deadlines: BTreeSet<(SimTime, u32)>,
}

impl IdleWatch {
    fn touch(&mut self, org: u32, t: SimTime) {
        self.forget(org);
        self.deadline_of.insert(org, t + self.idle_ms);
        self.deadlines.insert((t + self.idle_ms, org));
    }

    fn forget(&mut self, org: u32) {
        if let Some(old) = self.deadline_of.remove(&org) {
            self.deadlines.remove(&(old, org));
        }
    }

    fn clear(&mut self) {
        self.deadline_of.clear();
        self.deadlines.clear();
    }

    /// Report every org whose deadline passed before `now` without an eviction.
    fn overdue(&mut self, now: SimTime, out: &mut Vec<Violation>) {
        while let Some(&(due, org)) = self.deadlines.first() {
            if due >= now {
                break;
            }
            self.forget(org);
            out.push(Violation {
                oracle: "O8",
                t: due,
                subject: format!("org{org}"),
                detail: format!("idle since {} and not evicted", due - self.idle_ms),
            });
        }
    }
}
