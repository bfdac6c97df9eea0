//! S11-S15: the v2 unified stream, sans-IO; `ServerNode` deploys it where a
//! scenario's clients use it.
//!
//! One long-lived connection per client carries many services. Each
//! `(org, service)` has a log (`log.rs`): its own sequence, a bounded replay
//! buffer and an adaptive batch window; each connection (`conn.rs`) has a
//! bounded send queue, flow-controlled by the client's acknowledgements, and
//! may be quarantined as a slow consumer.
//!
//! What the seed leaves open, decided here and why:
//! - Sequences and buffers live in the stream's memory, as in Centrifugo's
//!   memory engine: a restart loses them and starts a new **epoch** (drawn
//!   from the machine's seeded generator, since a counter would restart with
//!   the process). A cursor of another epoch is never spliced onto this one.
//! - A redelivered pub/sub copy gets a sequence of its own (the stream does
//!   not dedup): that is what the client's `service:entity_type:event_id`
//!   dedup key is for.
//! - The send queue's capacity is soft: a frame arriving when the queue is
//!   over it is an overflow, and is still queued; only past twice the
//!   capacity is the connection severed (the client reconnects and replays).
//!   So no event of any tier is ever dropped from a connection; quarantine
//!   sheds low tiers (analytics, dashboard) on that connection only, and
//!   says so in a `Suppressed` frame, so the client knows its copy of the
//!   service is stale rather than seeing a gap.
//! - `update-services` changes the one connection the caller names (the
//!   `client` id its welcome gave it), not every connection of the user as
//!   the seed's `updateUserConnections(orgId, userId, ..)` does: a user has
//!   a stream per tab, each tab on its own route, and a route change in one
//!   tab must not retarget the others (the `update-services-whole-user`
//!   mutant is the seed's reading; `v2_route_changes` catches it).
//! - Staff and guest check-in are in no tier the seed names; they rank with
//!   properties, above the shed tier, since only analytics and dashboard are
//!   named as shed.

mod conn;
mod log;

use crate::event::{Event, OrgId, PropertyId, Service};
pub use crate::frames::{Frame, Resume, ServiceStart, StreamEvent};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
pub use crate::observation::CloseReason;
use crate::observation::Observation;
use crate::seed::SimRng;
use crate::time::SimTime;
use conn::Conn;
use log::ServiceLog;
use rand::RngCore;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use conn::Tier;

/// A connection id chosen by the driver; the stream only hands it back.
pub type ConnId = u64;

#[derive(Clone, Debug, PartialEq)]
pub struct StreamConfig {
    /// S12: the adaptive batch window's bounds.
    pub batch_window_min_ms: u64,
    pub batch_window_max_ms: u64,
    /// S12: a batch is sent at once when it reaches this many events; the
    /// window widens after a batch of at least three quarters of it, and
    /// narrows after one of at most a quarter (quiet).
    pub batch_max_events: usize,
    /// S15 (as S2): replay buffer per `(org, service)`: tasks hold 300, the others 200.
    pub tasks_buffer_size: usize,
    pub service_buffer_size: usize,
    pub event_ttl_ms: u64,
    /// S13: events a connection's send queue holds before an arrival counts
    /// as an overflow; past twice this the connection is severed.
    pub send_queue_capacity: usize,
    /// Frames written to a connection and not yet acknowledged by the client
    /// (its socket's window); the rest wait in the send queue.
    pub socket_window_frames: usize,
    /// S13: this many overflows within `overflow_window_ms` quarantine the connection.
    pub quarantine_overflows: usize,
    pub overflow_window_ms: u64,
    pub quarantine_ms: u64,
    /// S13: a quarantine clears early once the queue has stayed at or under
    /// half its capacity for this long.
    pub quarantine_clear_ms: u64,
    /// Every connection gets a `Ping` this often (Centrifugo's 25 s), so a
    /// client can tell a dead connection from a quiet one.
    pub ping_interval_ms: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            batch_window_min_ms: 30,
            batch_window_max_ms: 150,
            batch_max_events: 50,
            tasks_buffer_size: 300,
            service_buffer_size: 200,
            event_ttl_ms: 25_000,
            send_queue_capacity: 200,
            socket_window_frames: 8,
            quarantine_overflows: 3,
            overflow_window_ms: 10_000,
            quarantine_ms: 30_000,
            quarantine_clear_ms: 5_000,
            ping_interval_ms: 25_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum StreamInput {
    /// An event arrives from pub/sub (possibly again, possibly late).
    Publish { event: Event },
    /// S11: `GET /v2/realtime/stream`.
    Open(Opening),
    /// The client consumed one frame (its socket has room again).
    Ack { conn: ConnId },
    /// The client went away.
    Close { conn: ConnId },
    /// The `drop_stream` fault.
    Sever { conn: ConnId },
    /// S14: `POST /v2/realtime/update-services` by `(org, user)`, request
    /// `req`, for its connection `client`.
    UpdateServices {
        req: u64,
        org: OrgId,
        user: u32,
        client: ConnId,
        services: BTreeSet<Service>,
        property: Option<PropertyId>,
        /// The org's store head now (see `Frame::Subscribed`).
        as_of: u64,
    },
    /// S10: the process restarts.
    Restart,
}

#[derive(Debug, PartialEq)]
pub enum StreamOutput {
    Push {
        conn: ConnId,
        frame: Frame,
    },
    Close {
        conn: ConnId,
        reason: CloseReason,
    },
    /// S14's answer: how many live connections of the caller it changed.
    Updated {
        req: u64,
        connections: usize,
    },
    Observe(Observation),
}

/// S7 for v2.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamMetrics {
    /// `currentBatchWindowMsByService`, per org that has a log of the service.
    pub current_batch_window_ms: BTreeMap<(OrgId, Service), u64>,
    pub delivered_by_service: BTreeMap<Service, u64>,
    pub suppressed_by_service: BTreeMap<Service, u64>,
    pub overflows: u64,
    pub quarantines: u64,
    pub connections: usize,
    /// Events waiting in send queues and held in replay buffers (memory).
    pub queued_events: usize,
    pub buffered_events: usize,
}

#[derive(Debug)]
pub struct Streams {
    config: StreamConfig,
    mutant: Option<Mutant>,
    rng: SimRng,
    epoch: u64,
    logs: BTreeMap<(OrgId, Service), ServiceLog>,
    /// (flush due, org, service) for every pending batch.
    due: BTreeSet<(SimTime, OrgId, Service)>,
    conns: BTreeMap<ConnId, Conn>,
    /// The connections of each org, for fan-out.
    by_org: BTreeMap<OrgId, BTreeSet<ConnId>>,
    /// (deadline, conn) for quarantines: their end, or their early clearing.
    quarantine_due: BTreeSet<(SimTime, ConnId)>,
    /// The next ping to every connection; none while there is none.
    next_ping: Option<SimTime>,
    metrics: StreamMetrics,
    out: VecDeque<StreamOutput>,
}

impl Streams {
    pub fn new(config: StreamConfig, mut rng: SimRng, mutant: Option<Mutant>) -> Self {
        let epoch = rng.next_u64();
        Streams {
            config,
            mutant,
            rng,
            epoch,
            logs: BTreeMap::new(),
            due: BTreeSet::new(),
            conns: BTreeMap::new(),
            by_org: BTreeMap::new(),
            quarantine_due: BTreeSet::new(),
            next_ping: None,
            metrics: StreamMetrics::default(),
            out: VecDeque::new(),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The live connections of `org` (of every org: none), in id order.
    pub fn conns(&self, org: Option<OrgId>) -> Vec<ConnId> {
        match org {
            Some(org) => self.conns_of(org),
            None => self.conns.keys().copied().collect(),
        }
    }

    fn note(&mut self, obs: Observation) {
        self.out.push_back(StreamOutput::Observe(obs));
    }

    fn log(&mut self, org: OrgId, service: Service) -> &mut ServiceLog {
        let config = &self.config;
        self.logs
            .entry((org, service))
            .or_insert_with(|| ServiceLog::new(config, service))
    }

    fn publish(&mut self, now: SimTime, event: Event) {
        let (org, service) = (event.org_id, event.service);
        let max = self.config.batch_max_events;
        let log = self.log(org, service);
        let opened = log.append(now, event);
        let full = log.pending_len() >= max;
        if let Some(due) = opened {
            self.due.insert((due, org, service));
        }
        if full {
            self.flush(now, org, service);
        }
    }

    /// S12: send `(org, service)`'s pending batch to every connection of the
    /// org that carries the service, each filtered to its property.
    fn flush(&mut self, now: SimTime, org: OrgId, service: Service) {
        let Some(log) = self.logs.get_mut(&(org, service)) else {
            return;
        };
        let Some(flushed) = log.flush(now, &self.config, self.mutant) else {
            return;
        };
        self.due.remove(&(flushed.due, org, service));
        self.note(Observation::BatchFlushed {
            org,
            service,
            events: flushed.events.len(),
            window_ms: flushed.window_ms,
            waited_ms: flushed.waited_ms,
            next_window_ms: flushed.next_window_ms,
        });
        let conns = self.conns_of(org);
        for id in conns {
            let conn = self.conns.get_mut(&id).expect("indexed connections exist");
            if let Some(frame) = conn.batch_for(service, flushed.through, &flushed.events) {
                self.enqueue(now, id, frame);
            }
        }
    }

    /// Queue `frame` on `id` (quarantine and overflow apply), then write what
    /// the socket has room for.
    fn enqueue(&mut self, now: SimTime, id: ConnId, frame: Frame) {
        let conn = self.conns.get_mut(&id).expect("live connection");
        let org = conn.org;
        let scheduled = conn.quarantine_deadline(&self.config);
        let effect = conn.enqueue(now, frame, &self.config, self.mutant);
        for (service, count) in effect.suppressed {
            *self
                .metrics
                .suppressed_by_service
                .entry(service)
                .or_default() += count;
        }
        if let Some(queued) = effect.overflow {
            self.metrics.overflows += 1;
            self.note(Observation::StreamOverflow { conn: id, queued });
        }
        if effect.quarantined {
            self.metrics.quarantines += 1;
            self.note(Observation::Quarantine { conn: id, on: true });
            self.quarantine_org(now, org, id);
        }
        if effect.sever {
            if let Some(t) = scheduled {
                self.quarantine_due.remove(&(t, id));
            }
            self.close(id, CloseReason::SlowConsumer);
            return;
        }
        self.settle(now, id, scheduled);
    }

    /// The `quarantine-whole-org` mutant: `slow`'s quarantine is put on every
    /// other connection of its org too (correctly, it is that connection's alone).
    fn quarantine_org(&mut self, now: SimTime, org: OrgId, slow: ConnId) {
        let others: Vec<ConnId> = self
            .conns_of(org)
            .into_iter()
            .filter(|c| *c != slow && !self.conns[c].quarantined())
            .collect();
        if others.is_empty() || !fires(self.mutant, Mutant::QuarantineWholeOrg) {
            return;
        }
        for id in others {
            let conn = self.conns.get_mut(&id).expect("live connection");
            let suppressed = conn.enter_quarantine(now, &self.config, self.mutant);
            for (service, count) in suppressed {
                *self
                    .metrics
                    .suppressed_by_service
                    .entry(service)
                    .or_default() += count;
            }
            self.metrics.quarantines += 1;
            self.note(Observation::Quarantine { conn: id, on: true });
            self.settle(now, id, None);
        }
    }

    /// Write what `id`'s socket has room for, and move its quarantine
    /// deadline from where it was `scheduled` to where it is now.
    fn settle(&mut self, now: SimTime, id: ConnId, scheduled: Option<SimTime>) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let old = scheduled;
        let written = conn.write(now, &self.config);
        let new = conn.quarantine_deadline(&self.config);
        for frame in written {
            if let Frame::Batch {
                service, events, ..
            } = &frame
            {
                let n = events.len() as u64;
                *self
                    .metrics
                    .delivered_by_service
                    .entry(*service)
                    .or_default() += n;
            }
            self.out.push_back(StreamOutput::Push { conn: id, frame });
        }
        if old != new {
            if let Some(t) = old {
                self.quarantine_due.remove(&(t, id));
            }
            if let Some(t) = new {
                self.quarantine_due.insert((t, id));
            }
        }
    }

    /// S11, S15: a connection opens; it is welcomed with where each of its
    /// services starts, then replayed what it missed.
    fn open(&mut self, now: SimTime, opening: Opening) {
        let Opening {
            conn: id,
            org,
            user,
            services,
            property,
            resume,
            as_of,
        } = opening;
        let same_epoch = resume.as_ref().filter(|r| {
            // The bug: any epoch's cursors are taken as this one's.
            r.epoch == self.epoch || fires(self.mutant, Mutant::EpochIgnored)
        });
        let mut starts = Vec::new();
        let mut replay = Vec::new();
        let mut conn = Conn::new(org, user, property);
        let mutant = self.mutant;
        for &service in &services {
            let cursor = same_epoch.and_then(|r| r.last.get(&service).copied());
            let log = self.log(org, service);
            log.expire(now);
            let head = log.head();
            let recovered = match cursor {
                Some(last) => match log.since(last, property) {
                    Some(events) => {
                        if last < head {
                            let floor = log.floor();
                            let resend = floor < last && fires(mutant, Mutant::ReplayFromStart);
                            replay.push(match resend {
                                // The bug: the whole buffer again, from its start.
                                true => {
                                    let all = log.since(floor, property).unwrap_or_default();
                                    conn::batch(service, floor, head, all)
                                }
                                false => conn::batch(service, last, head, events),
                            });
                        }
                        true
                    }
                    None => false,
                },
                None => false,
            };
            starts.push(ServiceStart {
                service,
                head: if recovered {
                    cursor.unwrap_or(head)
                } else {
                    head
                },
                recovered,
            });
            conn.carry(service, head);
        }
        self.conns.insert(id, conn);
        self.by_org.entry(org).or_default().insert(id);
        let welcome = Frame::Welcome {
            client: id,
            epoch: self.epoch,
            as_of,
            starts,
        };
        let interval = self.config.ping_interval_ms;
        self.next_ping.get_or_insert(now + interval);
        for frame in std::iter::once(welcome).chain(replay) {
            self.enqueue(now, id, frame);
            if !self.conns.contains_key(&id) {
                return;
            }
        }
    }

    fn ack(&mut self, now: SimTime, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(&id) {
            let scheduled = conn.quarantine_deadline(&self.config);
            conn.acked();
            self.settle(now, id, scheduled);
        }
    }

    fn close(&mut self, id: ConnId, reason: CloseReason) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(t) = conn.quarantine_deadline(&self.config) {
            self.quarantine_due.remove(&(t, id));
        }
        if let Some(ids) = self.by_org.get_mut(&conn.org) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_org.remove(&conn.org);
            }
        }
        self.note(Observation::StreamClosed { conn: id, reason });
        if reason != CloseReason::ByClient {
            self.out.push_back(StreamOutput::Close { conn: id, reason });
        }
    }

    /// The live connections of `org`, in id order.
    fn conns_of(&self, org: OrgId) -> Vec<ConnId> {
        self.by_org
            .get(&org)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    /// S14: change the caller's connection `set.client` in place (one of
    /// another org or user is not the caller's to change).
    fn update(&mut self, now: SimTime, req: u64, org: OrgId, user: u32, set: Changed) {
        let ids = self.conns_of(org);
        let mut changed = 0;
        for id in ids {
            // The bug (the seed's `updateUserConnections`): every connection
            // of the user, whichever tab's route changed.
            let whole_user = fires(self.mutant, Mutant::UpdateServicesWholeUser);
            if self.conns[&id].user != user || (id != set.client && !whole_user) {
                continue;
            }
            let heads: Vec<(Service, u64)> = set
                .services
                .iter()
                .map(|&s| (s, self.log(org, s).head()))
                .collect();
            let conn = self.conns.get_mut(&id).expect("indexed connections exist");
            let frame = conn.resubscribe(&heads, set.property, set.as_of, self.mutant);
            changed += 1;
            self.enqueue(now, id, frame);
        }
        self.out.push_back(StreamOutput::Updated {
            req,
            connections: changed,
        });
    }

    /// S10: every connection is severed, every log lost; a new epoch starts.
    fn restart(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, CloseReason::Restart);
        }
        self.logs.clear();
        self.due.clear();
        self.quarantine_due.clear();
        self.next_ping = None;
        self.metrics = StreamMetrics::default();
        self.epoch = self.rng.next_u64();
        let epoch = self.epoch;
        self.note(Observation::StreamEpoch { epoch });
    }

    /// Ping every connection, and schedule the next round while any is open.
    fn ping(&mut self, now: SimTime) {
        for id in self.conns.keys().copied().collect::<Vec<_>>() {
            if self.conns.contains_key(&id) {
                self.enqueue(now, id, Frame::Ping);
            }
        }
        let interval = self.config.ping_interval_ms;
        self.next_ping = (!self.conns.is_empty()).then_some(now + interval);
    }

    fn on_deadlines(&mut self, now: SimTime) {
        if self.next_ping.is_some_and(|t| t <= now) {
            self.ping(now);
        }
        while let Some(&(due, org, service)) = self.due.first() {
            if due > now {
                break;
            }
            self.flush(now, org, service);
        }
        while let Some(&(due, id)) = self.quarantine_due.first() {
            if due > now {
                break;
            }
            self.quarantine_due.remove(&(due, id));
            let conn = self
                .conns
                .get_mut(&id)
                .expect("scheduled connections exist");
            let ended = conn.end_quarantine(now, &self.config);
            if ended {
                self.note(Observation::Quarantine {
                    conn: id,
                    on: false,
                });
            }
            // Not ended: its deadline moved, and is scheduled again.
            let scheduled = if ended { None } else { Some(due) };
            self.settle(now, id, scheduled);
        }
    }

    /// S12: the narrowest a batch window gets.
    pub fn window_floor_ms(&self) -> u64 {
        self.config.batch_window_min_ms
    }

    /// Events held now: waiting in send queues, and in replay buffers.
    pub fn held(&self) -> (usize, usize) {
        let queued = self.conns.values().map(|c| c.queued_events()).sum();
        let buffered = self.logs.values().map(|l| l.buffered()).sum();
        (queued, buffered)
    }

    pub fn metrics(&self) -> StreamMetrics {
        let mut m = self.metrics.clone();
        m.current_batch_window_ms = self.logs.iter().map(|(k, l)| (*k, l.window_ms())).collect();
        m.connections = self.conns.len();
        m.queued_events = self.conns.values().map(|c| c.queued_events()).sum();
        m.buffered_events = self.logs.values().map(|l| l.buffered()).sum();
        m
    }
}

/// S11, S15: a connection opening with the caller's services, optional
/// property filter and, on a reconnect, the cursors it has.
#[derive(Clone, Debug, PartialEq)]
pub struct Opening {
    pub conn: ConnId,
    pub org: OrgId,
    pub user: u32,
    pub services: BTreeSet<Service>,
    pub property: Option<PropertyId>,
    pub resume: Option<Resume>,
    /// The org's store head now (see `Frame::Welcome`).
    pub as_of: u64,
}

/// `UpdateServices`' connection and its new set.
struct Changed {
    client: ConnId,
    services: BTreeSet<Service>,
    property: Option<PropertyId>,
    as_of: u64,
}

impl Machine for Streams {
    type Input = StreamInput;
    type Output = StreamOutput;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: StreamInput, _: &()) {
        match input {
            StreamInput::Publish { event } => self.publish(now, event),
            StreamInput::Open(opening) => self.open(now, opening),
            StreamInput::Ack { conn } => self.ack(now, conn),
            StreamInput::Close { conn } => self.close(conn, CloseReason::ByClient),
            StreamInput::Sever { conn } => self.close(conn, CloseReason::Dropped),
            StreamInput::UpdateServices {
                req,
                org,
                user,
                client,
                services,
                property,
                as_of,
            } => {
                let set = Changed {
                    client,
                    services,
                    property,
                    as_of,
                };
                self.update(now, req, org, user, set)
            }
            StreamInput::Restart => self.restart(),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.on_deadlines(now)
    }

    fn poll_output(&mut self) -> Option<StreamOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        let flush = self.due.first().map(|d| d.0);
        let quarantine = self.quarantine_due.first().map(|d| d.0);
        [flush, quarantine, self.next_ping]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests;
