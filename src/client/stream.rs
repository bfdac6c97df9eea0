//! The v2 stream as one tab keeps it (SPEC C15): the epoch its cursors are
//! from, the last sequence it has of each service, service-scoped dedup, and
//! per-service health. Plain bookkeeping: the provider (`provider/stream.rs`)
//! decides what to send and what to refetch.

use super::dedup::{Dedup, DedupConfig};
use crate::event::{EntityType, Event, EventId, OrgId, Service};
use crate::frames::{Resume, ServiceStart, StreamEvent};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What a stream carries: the page's services, filtered to a property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub services: BTreeSet<Service>,
    pub property: Option<crate::event::PropertyId>,
}

/// The v2 dedup key, `service:entity_type:event_id`: two services may mint
/// the same event id, and must not hide each other's events.
pub type StreamKey = (Service, EntityType, EventId);

/// What a batch frame held for the tab.
#[derive(Debug, Default, PartialEq)]
pub struct Taken {
    /// Events past the tab's cursor, in service order, not seen before.
    pub fresh: Vec<StreamEvent>,
    /// The frame started past the cursor: events between were never seen.
    pub hole: Option<(u64, u64)>,
}

#[derive(Debug)]
pub struct StreamState {
    epoch: Option<u64>,
    last: BTreeMap<Service, u64>,
    dedup: Dedup<StreamKey>,
    /// The request whose stream was welcomed last: a stream in flight that
    /// is not it is still connecting.
    pub welcomed: Option<u64>,
    /// The welcomed connection's id, which `update-services` names.
    pub client: Option<u64>,
    /// What the tab last asked its stream to carry (opening it, or with
    /// `update-services`); none after a change failed.
    pub asked: Option<Subscription>,
    /// What the server says the stream carries (its welcome's or last
    /// resubscription's set).
    pub carried: Option<Subscription>,
    /// `byServiceDelivered`, `byServiceSuppressed`, `byServiceReconnects`.
    pub delivered: BTreeMap<Service, u64>,
    pub suppressed: BTreeMap<Service, u64>,
    pub reconnects: BTreeMap<Service, u64>,
}

impl StreamState {
    pub fn new(dedup: DedupConfig) -> Self {
        StreamState {
            epoch: None,
            last: BTreeMap::new(),
            dedup: Dedup::new(dedup),
            welcomed: None,
            client: None,
            asked: None,
            carried: None,
            delivered: BTreeMap::new(),
            suppressed: BTreeMap::new(),
            reconnects: BTreeMap::new(),
        }
    }

    /// What a reconnect tells the server it has (none before a welcome).
    pub fn resume(&self) -> Option<Resume> {
        Some(Resume {
            epoch: self.epoch?,
            last: self.last.clone(),
        })
    }

    /// The epoch the tab's cursors are of (none before a welcome).
    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// Behind the leader: whether the tab's copy of each of `starts`'
    /// services reaches the start in `epoch` (a follower that missed a
    /// shared frame is behind the new stream's head; ahead is no loss, the
    /// overlap is deduplicated).
    pub fn reaches(&self, epoch: u64, starts: &[ServiceStart]) -> bool {
        self.epoch == Some(epoch)
            && starts
                .iter()
                .all(|s| self.last.get(&s.service).is_some_and(|&l| l >= s.head))
    }

    /// Behind the leader: a follower that did not take this epoch's welcome
    /// (it opened later, or the message was lost) picks `service` up where
    /// a shared frame starts. True if it joined now: what came before, it
    /// never saw.
    pub fn join(&mut self, epoch: u64, service: Service, after: u64) -> bool {
        if self.epoch != Some(epoch) {
            self.last.clear();
            self.epoch = Some(epoch);
        }
        if self.last.contains_key(&service) {
            return false;
        }
        self.last.insert(service, after);
        true
    }

    /// The tab's copy as starts (a follower's report of what it picked up).
    pub fn copy(&self) -> Vec<ServiceStart> {
        let start = |(&service, &head)| ServiceStart {
            service,
            head,
            recovered: false,
        };
        self.last.iter().map(start).collect()
    }

    /// A welcome (or a resubscription): where each service continues. True
    /// if every service continues from what the tab has (nothing to refetch).
    pub fn start(&mut self, epoch: Option<u64>, starts: &[ServiceStart], reconnect: bool) -> bool {
        if let Some(e) = epoch {
            if self.epoch != Some(e) {
                // Another epoch's cursors mean nothing here.
                self.last.clear();
            }
            self.epoch = Some(e);
        }
        let mut continuous = true;
        let mut last = BTreeMap::new();
        for s in starts {
            continuous &= s.recovered;
            last.insert(s.service, s.head);
            if reconnect {
                *self.reconnects.entry(s.service).or_default() += 1;
            }
        }
        self.last = last;
        continuous
    }

    /// A batch of `service` covering `(after, through]`: what is new to the tab.
    pub fn batch(
        &mut self,
        now: SimTime,
        org: OrgId,
        service: Service,
        (after, through): (u64, u64),
        events: Vec<StreamEvent>,
        key: impl Fn(&Event) -> StreamKey,
    ) -> Taken {
        let Some(&cursor) = self.last.get(&service) else {
            return Taken::default();
        };
        let hole = (after > cursor).then_some((cursor, after));
        self.last.insert(service, cursor.max(through));
        let mut fresh: Vec<StreamEvent> = events.into_iter().filter(|e| e.seq > cursor).collect();
        fresh.sort_by_key(|e| e.seq);
        *self.delivered.entry(service).or_default() += fresh.len() as u64;
        let fresh = fresh
            .into_iter()
            .filter(|e| self.dedup.first_sighting(now, org, key(&e.event)))
            .collect();
        Taken { fresh, hole }
    }

    /// S13: quarantine shed `count` events of `service` in `(_, through]`.
    pub fn suppressed(&mut self, service: Service, through: u64, count: u64) {
        if let Some(c) = self.last.get_mut(&service) {
            *c = (*c).max(through);
        }
        *self.suppressed.entry(service).or_default() += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{sample_event, Action};

    fn key(e: &Event) -> StreamKey {
        (e.service, e.entity_type, e.event_id)
    }

    fn on(seq: u64, event: Event) -> StreamEvent {
        StreamEvent { seq, event }
    }

    #[test]
    fn a_batch_yields_what_is_past_the_cursor_once_and_names_a_hole() {
        let mut s = StreamState::new(DedupConfig::default());
        let start = ServiceStart {
            service: Service::Tasks,
            head: 2,
            recovered: true,
        };
        assert!(s.start(Some(9), &[start], false));
        let ev = |n| sample_event(n, n, EntityType::Task, Action::Added, 1);
        let t = SimTime(0);
        let got = s.batch(
            t,
            0,
            Service::Tasks,
            (1, 3),
            vec![on(2, ev(2)), on(3, ev(3))],
            key,
        );
        assert_eq!(got.fresh, vec![on(3, ev(3))], "seq 2 was had already");
        assert_eq!(got.hole, None);
        let again = s.batch(t, 0, Service::Tasks, (3, 4), vec![on(4, ev(3))], key);
        assert!(
            again.fresh.is_empty(),
            "a copy of an applied event is dropped"
        );
        let holed = s.batch(t, 0, Service::Tasks, (6, 7), vec![on(7, ev(7))], key);
        assert_eq!(holed.hole, Some((4, 6)));
        assert_eq!(s.resume().map(|r| r.last[&Service::Tasks]), Some(7));
    }

    #[test]
    fn a_new_epoch_drops_the_old_cursors() {
        let mut s = StreamState::new(DedupConfig::default());
        let at = |head, recovered| ServiceStart {
            service: Service::Finance,
            head,
            recovered,
        };
        s.start(Some(1), &[at(5, false)], false);
        assert!(!s.start(Some(2), &[at(0, false)], true));
        let r = s.resume().expect("welcomed");
        assert_eq!((r.epoch, r.last[&Service::Finance]), (2, 0));
        assert_eq!(s.reconnects[&Service::Finance], 1);
    }
}
