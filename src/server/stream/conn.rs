//! One v2 stream connection (S11, S13, S14): the services it carries, its
//! property filter, its send queue behind the socket's window, and its
//! slow-consumer quarantine.

use super::log::passes;
use super::{Frame, ServiceStart, StreamConfig, StreamEvent};
use crate::event::{OrgId, PropertyId, Service};
use crate::mutant::{fires, Mutant};
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

/// S13: the services' tiers, highest first: finance, reports > users, tasks
/// > properties (with staff and guest check-in, which the seed ranks
/// nowhere) > analytics, dashboard. Only the lowest is ever shed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Low,
    Normal,
    High,
    Critical,
}

impl Tier {
    pub fn of(service: Service) -> Tier {
        match service {
            Service::Finance | Service::Reports => Tier::Critical,
            Service::Users | Service::Tasks => Tier::High,
            Service::Properties | Service::Staff | Service::GuestCheckin => Tier::Normal,
            Service::Analytics | Service::Dashboard => Tier::Low,
        }
    }
}

#[derive(Debug)]
struct Quarantine {
    until: SimTime,
    /// Since when the queue has stayed at or under half its capacity.
    healthy_since: Option<SimTime>,
}

#[derive(Debug)]
pub(super) struct Conn {
    pub org: OrgId,
    pub user: u32,
    property: Option<PropertyId>,
    /// Each carried service, and the sequence its frames have covered through.
    through: BTreeMap<Service, u64>,
    queue: VecDeque<Frame>,
    queued_events: usize,
    in_flight: usize,
    /// Recent overflows, oldest first.
    overflows: VecDeque<SimTime>,
    quarantine: Option<Quarantine>,
}

/// What queueing a frame did, for the stream's notes and metrics.
#[derive(Default)]
pub(super) struct Enqueued {
    pub suppressed: Vec<(Service, u64)>,
    pub overflow: Option<usize>,
    pub quarantined: bool,
    pub sever: bool,
}

/// A batch frame of `service` covering `(after, through]`.
pub(super) fn batch(service: Service, after: u64, through: u64, events: Vec<StreamEvent>) -> Frame {
    Frame::Batch {
        service,
        after,
        through,
        events,
    }
}

/// S13: a low-tier batch, shed: the same range as a `Suppressed` frame,
/// with its service and how many events it carried. Any other frame is
/// handed back as it is.
fn shed(frame: Frame, mutant: Option<Mutant>) -> Result<(Frame, Service, u64), Frame> {
    match frame {
        Frame::Batch {
            service,
            after,
            through,
            events,
        } if Tier::of(service) == Tier::Low || fires(mutant, Mutant::QuarantineShedsCritical) => {
            let count = events.len() as u64;
            let frame = Frame::Suppressed {
                service,
                after,
                through,
                count,
            };
            Ok((frame, service, count))
        }
        other => Err(other),
    }
}

impl Conn {
    pub fn new(org: OrgId, user: u32, property: Option<PropertyId>) -> Self {
        Conn {
            org,
            user,
            property,
            through: BTreeMap::new(),
            queue: VecDeque::new(),
            queued_events: 0,
            in_flight: 0,
            overflows: VecDeque::new(),
            quarantine: None,
        }
    }

    /// Carry `service`, its frames continuing after `head`.
    pub fn carry(&mut self, service: Service, head: u64) {
        self.through.insert(service, head);
    }

    pub fn quarantined(&self) -> bool {
        self.quarantine.is_some()
    }

    pub fn queued_events(&self) -> usize {
        self.queued_events
    }

    /// The frame this connection gets of a batch of `service` through
    /// `through`: its events past what it has, that its filter lets through.
    /// None if it does not carry the service, or none pass (then its next
    /// frame of the service covers this range too).
    pub fn batch_for(
        &mut self,
        service: Service,
        through: u64,
        events: &[StreamEvent],
    ) -> Option<Frame> {
        let after = *self.through.get(&service)?;
        let mine: Vec<StreamEvent> = events
            .iter()
            .filter(|e| e.seq > after && passes(self.property, &e.event))
            .cloned()
            .collect();
        if mine.is_empty() {
            return None;
        }
        self.through.insert(service, through);
        Some(batch(service, after, through, mine))
    }

    /// S13: queue `frame`. In quarantine a low-tier batch is shed; an
    /// arrival over capacity is an overflow, and enough of them quarantine
    /// the connection (its queued low-tier batches shed too); past twice the
    /// capacity it is to be severed.
    pub fn enqueue(
        &mut self,
        now: SimTime,
        frame: Frame,
        config: &StreamConfig,
        mutant: Option<Mutant>,
    ) -> Enqueued {
        let mut effect = Enqueued::default();
        let frame = match frame {
            frame if !self.quarantined() => frame,
            frame => shed(frame, mutant).map_or_else(
                |kept| kept,
                |(frame, service, count)| {
                    effect.suppressed.push((service, count));
                    frame
                },
            ),
        };
        self.queued_events += frame.events();
        self.queue.push_back(frame);
        let capacity = config.send_queue_capacity;
        if self.queued_events > capacity {
            effect.overflow = Some(self.queued_events);
            self.overflows.push_back(now);
            while self
                .overflows
                .front()
                .is_some_and(|t| t.0 + config.overflow_window_ms <= now.0)
            {
                self.overflows.pop_front();
            }
            if !self.quarantined()
                && self.overflows.len() >= config.quarantine_overflows
                && !fires(mutant, Mutant::NoQuarantine)
            {
                effect.quarantined = true;
                let shed = self.enter_quarantine(now, config, mutant);
                effect.suppressed.extend(shed);
            }
        }
        effect.sever = self.queued_events > 2 * capacity;
        self.note_health(now, config);
        effect
    }

    /// Quarantine the connection now, shedding its queued low-tier batches:
    /// which services lost how many events.
    pub fn enter_quarantine(
        &mut self,
        now: SimTime,
        config: &StreamConfig,
        mutant: Option<Mutant>,
    ) -> Vec<(Service, u64)> {
        self.overflows.clear();
        self.quarantine = Some(Quarantine {
            until: now + config.quarantine_ms,
            healthy_since: None,
        });
        let mut suppressed = Vec::new();
        let queue = std::mem::take(&mut self.queue);
        for frame in queue {
            let frame = match shed(frame, mutant) {
                Ok((frame, service, count)) => {
                    self.queued_events -= count as usize;
                    suppressed.push((service, count));
                    frame
                }
                Err(kept) => kept,
            };
            self.queue.push_back(frame);
        }
        suppressed
    }

    fn note_health(&mut self, now: SimTime, config: &StreamConfig) {
        let healthy = 2 * self.queued_events <= config.send_queue_capacity;
        if let Some(q) = &mut self.quarantine {
            q.healthy_since = match (healthy, q.healthy_since) {
                (true, since) => since.or(Some(now)),
                (false, _) => None,
            };
        }
    }

    /// Take the frames the socket has room for.
    pub fn write(&mut self, now: SimTime, config: &StreamConfig) -> Vec<Frame> {
        let mut written = Vec::new();
        while self.in_flight < config.socket_window_frames {
            let Some(frame) = self.queue.pop_front() else {
                break;
            };
            self.queued_events -= frame.events();
            self.in_flight += 1;
            written.push(frame);
        }
        self.note_health(now, config);
        written
    }

    pub fn acked(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// When the quarantine ends: at its 30 s, or once healthy long enough.
    pub fn quarantine_deadline(&self, config: &StreamConfig) -> Option<SimTime> {
        let q = self.quarantine.as_ref()?;
        let early = q.healthy_since.map(|t| t + config.quarantine_clear_ms);
        Some(early.map_or(q.until, |e| e.min(q.until)))
    }

    /// End the quarantine if it is due (true if it ended).
    pub fn end_quarantine(&mut self, now: SimTime, config: &StreamConfig) -> bool {
        let due = self.quarantine_deadline(config).is_some_and(|t| t <= now);
        if due {
            self.quarantine = None;
        }
        due
    }

    /// S14: carry `services` (each with its log's head) filtered to
    /// `property`, in place. Queued frames of a dropped service go, and queued
    /// events of another property; the frame returned tells the client where
    /// each service continues (a kept one continuously, unless the filter
    /// changed; a new one from its head, to be fetched).
    pub fn resubscribe(
        &mut self,
        services: &[(Service, u64)],
        property: Option<PropertyId>,
        as_of: u64,
        mutant: Option<Mutant>,
    ) -> Frame {
        let refiltered = property != self.property;
        // The bug: the answer names the new filter; the connection keeps the old.
        if !(refiltered && fires(mutant, Mutant::ResubscribeKeepsFilter)) {
            self.property = property;
        }
        let kept: BTreeMap<Service, u64> = services
            .iter()
            .map(|&(s, head)| (s, self.through.get(&s).copied().unwrap_or(head)))
            .collect();
        let mut starts = Vec::new();
        for &(service, _) in services {
            let continuous = self.through.contains_key(&service) && !refiltered;
            starts.push(ServiceStart {
                service,
                head: kept[&service],
                recovered: continuous,
            });
        }
        self.queue.retain_mut(|frame| match frame {
            Frame::Batch {
                service, events, ..
            } => {
                if !kept.contains_key(service) {
                    return false;
                }
                events.retain(|e| passes(property, &e.event));
                true
            }
            Frame::Suppressed { service, .. } => kept.contains_key(service),
            _ => true,
        });
        self.queued_events = self.queue.iter().map(Frame::events).sum();
        self.through = kept;
        Frame::Subscribed {
            as_of,
            starts,
            property,
        }
    }
}
