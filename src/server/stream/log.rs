//! One `(org, service)` of the v2 stream: its sequence, its replay buffer
//! (S15, bounded as S2) and its adaptive batch (S12).

use super::{StreamConfig, StreamEvent};
use crate::event::{Event, PropertyId, Service};
use crate::mutant::{fires, Mutant};
use crate::time::SimTime;
use std::collections::VecDeque;

#[derive(Debug)]
pub(super) struct ServiceLog {
    capacity: usize,
    ttl_ms: u64,
    /// The last sequence given out in this epoch.
    last_seq: u64,
    /// Recent events with their expiry, oldest first.
    entries: VecDeque<(StreamEvent, SimTime)>,
    /// Every sequence at or under this one has left the buffer: a cursor
    /// below it cannot be replayed.
    floor: u64,
    /// The last sequence sent to connections (flushed).
    head: u64,
    pending: Vec<StreamEvent>,
    /// When the pending batch opened and is due.
    opened: Option<(SimTime, SimTime)>,
    window_ms: u64,
}

/// A batch that left the log.
pub(super) struct Flushed {
    pub due: SimTime,
    pub through: u64,
    pub events: Vec<StreamEvent>,
    /// The window the batch opened with, and how long it waited (less, if it filled).
    pub window_ms: u64,
    pub waited_ms: u64,
    pub next_window_ms: u64,
}

impl ServiceLog {
    pub fn new(config: &StreamConfig, service: Service) -> Self {
        let capacity = match service {
            Service::Tasks => config.tasks_buffer_size,
            _ => config.service_buffer_size,
        };
        ServiceLog {
            capacity,
            ttl_ms: config.event_ttl_ms,
            last_seq: 0,
            entries: VecDeque::new(),
            floor: 0,
            head: 0,
            pending: Vec::new(),
            opened: None,
            // Quiet to begin with: the narrowest window.
            window_ms: config.batch_window_min_ms,
        }
    }

    pub fn head(&self) -> u64 {
        self.head
    }

    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn buffered(&self) -> usize {
        self.entries.len()
    }

    /// Give `event` the next sequence, buffer it, and add it to the pending
    /// batch; returns when that batch is due if this event opened it.
    pub fn append(&mut self, now: SimTime, event: Event) -> Option<SimTime> {
        self.expire(now);
        self.last_seq += 1;
        let item = StreamEvent {
            seq: self.last_seq,
            event,
        };
        if self.entries.len() >= self.capacity {
            if let Some((old, _)) = self.entries.pop_front() {
                self.floor = self.floor.max(old.seq);
            }
        }
        self.entries.push_back((item.clone(), now + self.ttl_ms));
        self.pending.push(item);
        if self.opened.is_some() {
            return None;
        }
        let due = now + self.window_ms;
        self.opened = Some((now, due));
        Some(due)
    }

    /// S2: drop what has outlived its TTL.
    pub fn expire(&mut self, now: SimTime) {
        while let Some((e, _)) = self.entries.front().filter(|(_, at)| *at <= now) {
            self.floor = self.floor.max(e.seq);
            self.entries.pop_front();
        }
    }

    /// S12: the pending batch leaves; the window widens after a batch near
    /// the maximum size and narrows after a quiet one.
    pub fn flush(
        &mut self,
        now: SimTime,
        config: &StreamConfig,
        mutant: Option<Mutant>,
    ) -> Option<Flushed> {
        let (opened, due) = self.opened.take()?;
        let events = std::mem::take(&mut self.pending);
        let through = events.last().map_or(self.head, |e| e.seq);
        self.head = through;
        let waited_ms = now.0.saturating_sub(opened.0);
        let (n, max) = (events.len(), config.batch_max_events);
        let (lo, hi) = (config.batch_window_min_ms, config.batch_window_max_ms);
        if 4 * n >= 3 * max {
            if self.window_ms >= hi || !fires(mutant, Mutant::WindowNeverWidens) {
                self.window_ms = (self.window_ms * 2).min(hi);
            }
        } else if 4 * n <= max {
            if self.window_ms <= lo || !fires(mutant, Mutant::WindowNeverNarrows) {
                self.window_ms = (self.window_ms / 2).max(lo);
            }
        }
        Some(Flushed {
            due,
            through,
            events,
            window_ms: due.0 - opened.0,
            waited_ms,
            next_window_ms: self.window_ms,
        })
    }

    /// The highest sequence the buffer no longer holds (0: it holds them all).
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// S15: every event after `last` up to the head that `property` lets
    /// through, if the buffer still holds all of them (`None`: it does not,
    /// or `last` is not a sequence of this log).
    pub fn since(&self, last: u64, property: Option<PropertyId>) -> Option<Vec<StreamEvent>> {
        if last < self.floor || last > self.head {
            return None;
        }
        let events = self
            .entries
            .iter()
            .map(|(e, _)| e)
            .filter(|e| e.seq > last && e.seq <= self.head)
            .filter(|e| passes(property, &e.event))
            .cloned()
            .collect();
        Some(events)
    }
}

/// A connection filtered to `property` gets only that property's events (as v1's S3).
pub(super) fn passes(property: Option<PropertyId>, event: &Event) -> bool {
    property.is_none() || event.property_id == property
}
