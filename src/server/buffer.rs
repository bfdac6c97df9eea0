//! S2-S7: the per-org realtime buffer and its long-poll waiters.
//!
//! Each org has a bounded queue of events in arrival order (which, after the
//! pub/sub hop, is not sequence order and may hold a copy twice), each event
//! expiring after its TTL. A subscriber asks for what follows its cursor; if
//! nothing visible is buffered it parks as a waiter until an event arrives or
//! the long-poll times out. Whatever leaves the buffer before every reader
//! could have it raises the org's loss `floor`, which is what lets a client
//! tell "nothing happened" from "something was lost" (C9).

use crate::event::{Event, OrgId, PropertyId};
use crate::http::{Batch, BufferMetrics};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::observation::{DropReason, Observation};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct BufferConfig {
    pub max_buffer_size: usize,
    pub event_ttl_ms: u64,
    pub long_poll_timeout_ms: u64,
    pub max_waiters_per_org: usize,
    pub org_idle_evict_ms: u64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig {
            max_buffer_size: 200,
            event_ttl_ms: 25_000,
            long_poll_timeout_ms: 25_000,
            max_waiters_per_org: 5_000,
            org_idle_evict_ms: 120_000,
        }
    }
}

/// A connection id chosen by the driver; the buffer only hands it back.
pub type ConnId = u64;

/// What reaches the buffers.
#[derive(Clone, Debug, PartialEq)]
pub enum BufferInput {
    /// An event arrives from pub/sub (possibly again: `redelivery`, possibly late).
    Event { event: Event, redelivery: bool },
    /// S3/S4: a long-poll on `conn` for `org` after `cursor`; `store_head` is
    /// the org's committed sequence, where a fresh buffer starts.
    Subscribe {
        conn: ConnId,
        org: OrgId,
        property: Option<PropertyId>,
        cursor: Option<u64>,
        store_head: u64,
    },
    /// The subscriber on `conn` went away.
    Cancel { conn: ConnId },
    /// S10: the process restarts; every buffer and waiter is gone.
    Restart,
}

#[derive(Debug, PartialEq)]
pub enum BufferOutput {
    Respond {
        conn: ConnId,
        batch: Batch,
    },
    /// A parked poll the restart severed.
    Close {
        conn: ConnId,
    },
    Observe(Observation),
}

#[derive(Debug)]
struct Entry {
    event: Event,
    expires_at: SimTime,
}

#[derive(Debug)]
struct Waiter {
    conn: ConnId,
    property: Option<PropertyId>,
    cursor: u64,
    deadline: SimTime,
}

#[derive(Debug)]
struct OrgBuffer {
    entries: VecDeque<Entry>,
    floor: u64,
    last_activity: SimTime,
    waiters: Vec<Waiter>,
}

impl OrgBuffer {
    fn new(now: SimTime, floor: u64) -> Self {
        OrgBuffer {
            entries: VecDeque::new(),
            floor,
            last_activity: now,
            waiters: Vec::new(),
        }
    }

    fn next_deadline(&self, idle_ms: u64) -> SimTime {
        let expiry = self.entries.front().map(|e| e.expires_at);
        let waiter = self.waiters.iter().map(|w| w.deadline).min();
        let idle = if self.waiters.is_empty() {
            Some(self.last_activity + idle_ms)
        } else {
            None
        };
        [expiry, waiter, idle]
            .into_iter()
            .flatten()
            .min()
            .expect("an org without waiters has an idle deadline")
    }
}

/// What a subscriber at `cursor` gets now: visible events after it, the org
/// sequences it passes over, and the cursor to resume from.
fn batch_for(
    entries: &VecDeque<Entry>,
    floor: u64,
    property: Option<PropertyId>,
    cursor: u64,
    mutant: Option<Mutant>,
) -> Batch {
    let mut events = Vec::new();
    let mut org_sequences = BTreeSet::new();
    for e in entries.iter().filter(|e| e.event.sequence > cursor) {
        org_sequences.insert(e.event.sequence);
        let other = property.is_some() && e.event.property_id != property;
        if !other || fires(mutant, Mutant::NoPropertyFilter) {
            events.push(e.event.clone());
        }
    }
    let scanned_max = org_sequences.last().copied().unwrap_or(0);
    Batch {
        events,
        last_event_id: cursor.max(scanned_max).max(floor),
        org_sequences: org_sequences.into_iter().collect(),
        floor,
    }
}

#[derive(Debug)]
pub struct Buffers {
    config: BufferConfig,
    mutant: Option<Mutant>,
    orgs: BTreeMap<OrgId, OrgBuffer>,
    /// (next deadline, org) for every org, so the next timeout is a lookup.
    deadlines: BTreeSet<(SimTime, OrgId)>,
    deadline_of: BTreeMap<OrgId, SimTime>,
    waiter_org: BTreeMap<ConnId, OrgId>,
    metrics: BufferMetrics,
    out: VecDeque<BufferOutput>,
}

impl Buffers {
    pub fn new(config: BufferConfig, mutant: Option<Mutant>) -> Self {
        Buffers {
            config,
            mutant,
            orgs: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            deadline_of: BTreeMap::new(),
            waiter_org: BTreeMap::new(),
            metrics: BufferMetrics::default(),
            out: VecDeque::new(),
        }
    }

    fn observe(&mut self, obs: Observation) {
        self.out.push_back(BufferOutput::Observe(obs));
    }

    fn ttl_ms(&self) -> u64 {
        if fires(self.mutant, Mutant::EarlyExpiry) {
            self.config.event_ttl_ms / 5
        } else {
            self.config.event_ttl_ms
        }
    }

    fn reschedule(&mut self, org: OrgId) {
        if let Some(old) = self.deadline_of.remove(&org) {
            self.deadlines.remove(&(old, org));
        }
        if let Some(b) = self.orgs.get(&org) {
            let d = b.next_deadline(self.config.org_idle_evict_ms);
            self.deadlines.insert((d, org));
            self.deadline_of.insert(org, d);
        }
    }

    fn insert(&mut self, now: SimTime, event: Event, redelivery: bool) {
        let org = event.org_id;
        self.expire(now, org);
        let seq = event.sequence;
        let ttl_ms = self.ttl_ms();
        // A fresh buffer cannot vouch for anything before this event.
        let buf = self
            .orgs
            .entry(org)
            .or_insert_with(|| OrgBuffer::new(now, seq.saturating_sub(1)));
        buf.last_activity = now;
        let expires_at = now + ttl_ms;
        let mut overflowed = None;
        if buf.entries.len() >= self.config.max_buffer_size {
            if let Some(old) = buf.entries.pop_front() {
                buf.floor = buf.floor.max(old.event.sequence);
                overflowed = Some(old.event.sequence);
            }
        }
        buf.entries.push_back(Entry { event, expires_at });
        let len = buf.entries.len();
        self.metrics.published += 1;
        if let Some(lost) = overflowed {
            self.metrics.dropped += 1;
            self.observe(Observation::BufferDrop {
                org,
                seq: lost,
                reason: DropReason::Overflow,
            });
        }
        self.observe(Observation::BufferInsert {
            org,
            seq,
            len,
            redelivery,
        });
        self.wake(org);
        self.reschedule(org);
    }

    fn subscribe(
        &mut self,
        now: SimTime,
        conn: ConnId,
        org: OrgId,
        property: Option<PropertyId>,
        cursor: Option<u64>,
        store_head: u64,
    ) {
        self.expire(now, org);
        // A fresh buffer (first use, or after a restart or an eviction) cannot
        // vouch for anything up to the store's head.
        let mut floor = store_head;
        let behind = cursor.is_some_and(|c| c < store_head);
        if behind
            && !self.orgs.contains_key(&org)
            && fires(self.mutant, Mutant::FreshBufferTrustsCursor)
        {
            floor = cursor.unwrap_or(store_head);
        }
        let buf = self
            .orgs
            .entry(org)
            .or_insert_with(|| OrgBuffer::new(now, floor));
        buf.last_activity = now;
        let Some(cursor) = cursor else {
            // A subscriber without a cursor starts from now; its first snapshot covers the past.
            let batch = Batch {
                events: vec![],
                last_event_id: store_head,
                org_sequences: vec![],
                floor: buf.floor,
            };
            self.respond(org, conn, batch);
            self.reschedule(org);
            return;
        };
        let batch = batch_for(&buf.entries, buf.floor, property, cursor, self.mutant);
        if !batch.events.is_empty() || batch.floor > cursor {
            self.respond(org, conn, batch);
        } else if buf.waiters.len() >= self.config.max_waiters_per_org {
            // S4 safe resolution: answer at once, empty, rather than drop the poll.
            self.metrics.waiter_cap_hits += 1;
            self.observe(Observation::WaiterCapHit { org });
            if !fires(self.mutant, Mutant::WaiterCapDrops) {
                self.respond(org, conn, batch);
            }
        } else {
            let timeout = self.config.long_poll_timeout_ms;
            let deadline = now
                + if fires(self.mutant, Mutant::PollNeverTimesOut) {
                    4 * timeout
                } else {
                    timeout
                };
            buf.waiters.push(Waiter {
                conn,
                property,
                cursor,
                deadline,
            });
            let count = buf.waiters.len();
            self.waiter_org.insert(conn, org);
            self.observe(Observation::WaitersParked { org, count });
        }
        self.reschedule(org);
    }

    /// The subscriber went away; forget its waiter.
    fn cancel(&mut self, now: SimTime, conn: ConnId) {
        if let Some(org) = self.waiter_org.remove(&conn) {
            if let Some(buf) = self.orgs.get_mut(&org) {
                buf.waiters.retain(|w| w.conn != conn);
                buf.last_activity = now;
            }
            self.reschedule(org);
        }
    }

    fn respond(&mut self, org: OrgId, conn: ConnId, batch: Batch) {
        self.waiter_org.remove(&conn);
        let events = batch.events.len() as u64;
        self.metrics.delivered += if events != 1 && fires(self.mutant, Mutant::MetricsCountAnswers)
        {
            1
        } else {
            events
        };
        self.observe(Observation::PollServed {
            org,
            events: batch.events.len(),
            last_event_id: batch.last_event_id,
        });
        self.out.push_back(BufferOutput::Respond { conn, batch });
    }

    /// Answer every waiter of `org` that now has something to see.
    fn wake(&mut self, org: OrgId) {
        let mutant = self.mutant;
        let Some(buf) = self.orgs.get_mut(&org) else {
            return;
        };
        let mut ready = Vec::new();
        buf.waiters.retain(|w| {
            let batch = batch_for(&buf.entries, buf.floor, w.property, w.cursor, mutant);
            if !batch.events.is_empty() || batch.floor > w.cursor {
                ready.push((w.conn, batch));
                false
            } else {
                true
            }
        });
        for (conn, batch) in ready {
            self.respond(org, conn, batch);
        }
    }

    /// Drop expired entries of `org` (S2).
    fn expire(&mut self, now: SimTime, org: OrgId) {
        let mutant = self.mutant;
        let Some(buf) = self.orgs.get_mut(&org) else {
            return;
        };
        let mut dropped = Vec::new();
        while buf.entries.front().is_some_and(|e| e.expires_at <= now) {
            let e = buf.entries.pop_front().expect("front exists");
            if !fires(mutant, Mutant::EarlyExpiry) {
                buf.floor = buf.floor.max(e.event.sequence);
                dropped.push(e.event.sequence);
            }
        }
        for seq in dropped {
            self.metrics.dropped += 1;
            self.observe(Observation::BufferDrop {
                org,
                seq,
                reason: DropReason::Expired,
            });
        }
    }

    fn on_deadlines(&mut self, now: SimTime) {
        while let Some(&(due, org)) = self.deadlines.first() {
            if due > now {
                break;
            }
            self.expire(now, org);
            let mutant = self.mutant;
            let buf = self.orgs.get_mut(&org).expect("scheduled orgs exist");
            let mut timed_out = Vec::new();
            buf.waiters.retain(|w| {
                if w.deadline <= now {
                    timed_out.push((
                        w.conn,
                        batch_for(&buf.entries, buf.floor, w.property, w.cursor, mutant),
                    ));
                    false
                } else {
                    true
                }
            });
            if !timed_out.is_empty() {
                buf.last_activity = now;
            }
            for (conn, batch) in timed_out {
                self.respond(org, conn, batch);
            }
            let idle_ms = self.config.org_idle_evict_ms;
            let buf = self.orgs.get_mut(&org).expect("scheduled orgs exist");
            let idle = buf.waiters.is_empty() && buf.last_activity + idle_ms <= now;
            if idle && fires(self.mutant, Mutant::NoIdleEvict) {
                // The bug: the sweep that should free the org counts as activity on it.
                buf.last_activity = now;
            } else if idle {
                // S5: an idle org's buffer is freed; what it held is lost to late readers.
                let entries = buf.entries.len();
                self.orgs.remove(&org);
                self.metrics.evictions += 1;
                self.metrics.dropped += entries as u64;
                self.observe(Observation::OrgEvicted { org, entries });
            }
            self.reschedule(org);
        }
    }

    /// S10: the process restarts: the parked polls are severed, then what
    /// every buffer held is lost, and no waiter is left; the S7 counters are
    /// in memory too, so they start again from zero.
    fn restart(&mut self) {
        let conns: Vec<ConnId> = self.waiter_org.keys().copied().collect();
        for conn in conns {
            self.out.push_back(BufferOutput::Close { conn });
        }
        let lost: Vec<(OrgId, Vec<u64>)> = self
            .orgs
            .iter()
            .map(|(org, b)| (*org, b.entries.iter().map(|e| e.event.sequence).collect()))
            .collect();
        for (org, seqs) in lost {
            for seq in seqs {
                self.metrics.dropped += 1;
                self.observe(Observation::BufferDrop {
                    org,
                    seq,
                    reason: DropReason::Restart,
                });
            }
        }
        self.orgs.clear();
        self.deadlines.clear();
        self.deadline_of.clear();
        self.waiter_org.clear();
        self.metrics = BufferMetrics::default();
    }

    pub fn metrics(&self) -> BufferMetrics {
        let mut m = self.metrics.clone();
        m.buffer_sizes = self
            .orgs
            .iter()
            .map(|(o, b)| (*o, b.entries.len()))
            .collect();
        m.waiters = self.waiter_org.len();
        m
    }

    pub fn buffered(&self) -> Vec<(OrgId, usize)> {
        self.orgs
            .iter()
            .map(|(o, b)| (*o, b.entries.len()))
            .collect()
    }
}

impl Machine for Buffers {
    type Input = BufferInput;
    type Output = BufferOutput;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: BufferInput, _: &()) {
        match input {
            BufferInput::Event { event, redelivery } => self.insert(now, event, redelivery),
            BufferInput::Subscribe {
                conn,
                org,
                property,
                cursor,
                store_head,
            } => self.subscribe(now, conn, org, property, cursor, store_head),
            BufferInput::Cancel { conn } => self.cancel(now, conn),
            BufferInput::Restart => self.restart(),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.on_deadlines(now)
    }

    fn poll_output(&mut self) -> Option<BufferOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.deadlines.first().map(|(t, _)| *t)
    }
}
