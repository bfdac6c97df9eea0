//! O8 (S7, S8): what the server says about itself, and the path it retired.
//!
//! Applies where a scenario runs the ops probe (`ops_probe_ms`), in every run
//! and under every fault.
//!
//! S7: the server computes a metrics answer at one moment between the probe's
//! request and its answer, so each counter it reports lies between what the
//! history shows the server had done when the request left and when the
//! answer came back: `published` (buffer inserts), `delivered` (events in
//! poll answers), `dropped` (buffer drops, and the entries of evicted orgs),
//! `waiter_cap_hits`, `evictions`. Every counter lives in the process, so a
//! restart (`ServerDown`) starts them from zero, and a request out across
//! one is held to the lower bound zero and to the upper bound of whichever
//! process had done more (the old one may have answered before it went
//! down); the drops the restart itself records (reason `restart`) belong to
//! the process that went down. Each org's reported buffer size lies
//! between the fewest and most events the history shows it holding over the
//! same window (inserts less drops; an eviction or a restart empties it), and
//! an org that held events throughout the window is listed.
//!
//! v2 (S7, S12): each `(org, service)`'s batch window the metrics report is
//! one in force while the call was out: the window its last flush before the
//! request left set (`BatchFlushed`'s next window; the floor for a log that
//! has not flushed since it was made or the stream restarted), or one a
//! flush set during the call.
//!
//! S8: the legacy subscribe path answers 410 whenever the server answers at all
//! (a failed call, by `call_failed`, or one the probe gave up says nothing of
//! the path).

use super::{call_failed, Check, End, Violation};
use crate::event::{OrgId, Service};
use crate::observation::{Actor, DropReason, Observation, Outcome, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A v2 stream's `(org, service)`.
type Log = (OrgId, Service);

/// What the history shows the server has done since its process started.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Tally {
    published: u64,
    delivered: u64,
    dropped: u64,
    waiter_cap_hits: u64,
    evictions: u64,
}

impl Tally {
    /// Field by field, the larger of the two.
    fn max(self, o: Tally) -> Tally {
        Tally {
            published: self.published.max(o.published),
            delivered: self.delivered.max(o.delivered),
            dropped: self.dropped.max(o.dropped),
            waiter_cap_hits: self.waiter_cap_hits.max(o.waiter_cap_hits),
            evictions: self.evictions.max(o.evictions),
        }
    }
}

/// The fewest and most events an org held while a metrics call was out.
type Range = (usize, usize);

/// A metrics call in flight: the tally when it left, and each org's range since.
struct Out {
    sent: Tally,
    /// The most a process that went down while the call was out had done: an
    /// answer it computed before going down may still arrive after.
    before_restart: Tally,
    held: BTreeMap<OrgId, Range>,
    /// v2: the windows each log had in force since the call left.
    windows: BTreeMap<Log, BTreeSet<u64>>,
}

#[derive(Default)]
struct Server {
    /// v2: the batch window's floor, and the window each log has in force.
    window_floor_ms: u64,
    windows: BTreeMap<Log, u64>,
    tally: Tally,
    held: BTreeMap<OrgId, usize>,
    metrics_out: BTreeMap<(Actor, u64), Out>,
    legacy_out: BTreeMap<(Actor, u64), SimTime>,
}

impl Server {
    fn set_held(&mut self, org: OrgId, n: usize) {
        // An org first seen now held nothing before, in any window already open.
        let before = self.held.insert(org, n).unwrap_or(0);
        for out in self.metrics_out.values_mut() {
            let r = out.held.entry(org).or_insert((before, before));
            *r = (r.0.min(n), r.1.max(n));
        }
    }

    fn restart(&mut self) {
        for out in self.metrics_out.values_mut() {
            out.before_restart = out.before_restart.max(self.tally);
            out.sent = Tally::default();
        }
        self.tally = Tally::default();
        let orgs: Vec<OrgId> = self.held.keys().copied().collect();
        for org in orgs {
            self.set_held(org, 0);
        }
    }

    fn step(&mut self, obs: &Observation) {
        let t = &mut self.tally;
        match obs {
            Observation::BufferInsert { org, .. } => {
                t.published += 1;
                let n = self.held.get(org).copied().unwrap_or(0) + 1;
                self.set_held(*org, n);
            }
            Observation::BufferDrop { org, reason, .. } => {
                // What a restart loses goes with the old process's counters.
                if *reason != DropReason::Restart {
                    t.dropped += 1;
                }
                let n = self.held.get(org).copied().unwrap_or(0).saturating_sub(1);
                self.set_held(*org, n);
            }
            Observation::PollServed { events, .. } => t.delivered += *events as u64,
            Observation::WaiterCapHit { .. } => t.waiter_cap_hits += 1,
            Observation::OrgEvicted { org, entries } => {
                t.evictions += 1;
                t.dropped += *entries as u64;
                self.set_held(*org, 0);
            }
            Observation::ServerDown => self.restart(),
            Observation::BatchFlushed {
                org,
                service,
                next_window_ms,
                ..
            } => {
                let (log, floor) = ((*org, *service), self.window_floor_ms);
                self.windows.insert(log, *next_window_ms);
                for out in self.metrics_out.values_mut() {
                    let seen = out.windows.entry(log).or_insert_with(|| [floor].into());
                    seen.insert(*next_window_ms);
                }
            }
            Observation::StreamEpoch { .. } => {
                // The logs are lost; each starts again at the floor.
                self.windows.clear();
                for out in self.metrics_out.values_mut() {
                    for seen in out.windows.values_mut() {
                        seen.insert(self.window_floor_ms);
                    }
                }
            }
            _ => {}
        }
    }
}

fn violation(t: SimTime, probe: Actor, detail: String) -> Violation {
    Violation {
        oracle: "O8",
        t,
        subject: probe.to_string(),
        detail,
    }
}

/// The counters a reading reports that fall outside what the server did.
fn counters_out_of_range(low: Tally, high: Tally, read: Tally) -> Vec<String> {
    let fields = [
        ("published", low.published, high.published, read.published),
        ("delivered", low.delivered, high.delivered, read.delivered),
        ("dropped", low.dropped, high.dropped, read.dropped),
        (
            "waiter_cap_hits",
            low.waiter_cap_hits,
            high.waiter_cap_hits,
            read.waiter_cap_hits,
        ),
        ("evictions", low.evictions, high.evictions, read.evictions),
    ];
    fields
        .into_iter()
        .filter(|(_, lo, hi, v)| v < lo || v > hi)
        .map(|(name, lo, hi, v)| {
            format!("metrics report {name} = {v}, but the server had done {lo}..={hi} (S7)")
        })
        .collect()
}

/// The buffer sizes a reading reports that the history contradicts.
fn sizes_out_of_range(out: &Out, buffered: &[(OrgId, usize)]) -> Vec<String> {
    let listed: BTreeMap<OrgId, usize> = buffered.iter().copied().collect();
    let mut found = Vec::new();
    for (org, &(lo, hi)) in &out.held {
        match listed.get(org) {
            Some(&n) if n < lo || n > hi => found.push(format!(
                "metrics report org {org}'s buffer at {n} events; it held {lo}..={hi} (S7)"
            )),
            None if lo > 0 => found.push(format!(
                "metrics leave out org {org}, whose buffer held at least {lo} events (S7)"
            )),
            _ => {}
        }
    }
    for (org, n) in &listed {
        if *n > 0 && !out.held.contains_key(org) {
            found.push(format!(
                "metrics report org {org}'s buffer at {n} events; it held none (S7)"
            ));
        }
    }
    found
}

pub struct Checker {
    server: Server,
    found: Vec<Violation>,
}

/// The windows a reading reports that no flush had put in force.
fn windows_out_of_range(out: &Out, floor: u64, read: &[(OrgId, Service, u64)]) -> Vec<String> {
    let mut found = Vec::new();
    for &(org, service, ms) in read {
        let never_flushed = BTreeSet::from([floor]);
        let seen = out.windows.get(&(org, service)).unwrap_or(&never_flushed);
        if !seen.contains(&ms) {
            let seen: Vec<String> = seen.iter().map(u64::to_string).collect();
            found.push(format!(
                "metrics report org {org}'s {} batch window at {ms} ms; while the call was out it was {} ms (S7, S12)",
                service.name(),
                seen.join(" or ")
            ));
        }
    }
    found
}

impl Checker {
    pub fn new(s: &Scenario) -> Self {
        let floor = s
            .server_config()
            .streams
            .map_or(0, |c| c.batch_window_min_ms);
        Checker {
            server: Server {
                window_floor_ms: floor,
                ..Server::default()
            },
            found: Vec::new(),
        }
    }

    fn metrics_sent(&mut self, probe: Actor, req: u64) {
        let server = &mut self.server;
        // A probe gives up its last round when it starts the next.
        server.metrics_out.retain(|(p, _), _| *p != probe);
        let held = server.held.iter().map(|(o, n)| (*o, (*n, *n))).collect();
        let windows = server
            .windows
            .iter()
            .map(|(l, w)| (*l, [*w].into()))
            .collect();
        let out = Out {
            sent: server.tally,
            before_restart: Tally::default(),
            held,
            windows,
        };
        server.metrics_out.insert((probe, req), out);
    }

    fn answered(&mut self, t: SimTime, tab: Actor, req: u64, outcome: &Outcome) {
        let server = &mut self.server;
        if *outcome != Outcome::Status(200) {
            server.metrics_out.remove(&(tab, req));
        }
        if let Some(sent) = server.legacy_out.remove(&(tab, req)) {
            let answered = matches!(outcome, Outcome::Status(_));
            if answered && !call_failed(outcome) && *outcome != Outcome::Status(410) {
                let detail = format!(
                    "the legacy subscribe path (sent at {sent}) answered {outcome:?}, not 410 Gone (S8)"
                );
                self.found.push(violation(t, tab, detail));
            }
        }
    }

    fn reading(&mut self, t: SimTime, obs: &Observation) {
        let Observation::Metrics {
            probe,
            req,
            published,
            delivered,
            dropped,
            waiter_cap_hits,
            evictions,
            buffered,
            batch_window_ms,
        } = obs
        else {
            return;
        };
        let Some(out) = self.server.metrics_out.remove(&(*probe, *req)) else {
            return;
        };
        let read = Tally {
            published: *published,
            delivered: *delivered,
            dropped: *dropped,
            waiter_cap_hits: *waiter_cap_hits,
            evictions: *evictions,
        };
        let high = self.server.tally.max(out.before_restart);
        let floor = self.server.window_floor_ms;
        let wrong = counters_out_of_range(out.sent, high, read)
            .into_iter()
            .chain(sizes_out_of_range(&out, buffered))
            .chain(windows_out_of_range(&out, floor, batch_window_ms));
        self.found
            .extend(wrong.map(|detail| violation(t, *probe, detail)));
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        self.server.step(&step.obs);
        match &step.obs {
            Observation::Request {
                tab,
                req,
                what: RequestKind::Metrics,
                ..
            } => self.metrics_sent(*tab, *req),
            Observation::Request {
                tab,
                req,
                what: RequestKind::Legacy,
                ..
            } => {
                self.server.legacy_out.insert((*tab, *req), t);
            }
            Observation::Response {
                tab, req, outcome, ..
            } => self.answered(t, *tab, *req, outcome),
            Observation::Metrics { .. } => self.reading(t, &step.obs),
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
