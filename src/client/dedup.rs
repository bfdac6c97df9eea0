//! C2: the dedup LRU. Per org, the last `dedup_capacity` keys, each kept
//! for `dedup_ttl_ms`; only the `dedup_orgs` most recently used orgs are kept.
//! v1 keys by event id (E3); the v2 stream by `service:entity_type:event_id`.

use crate::event::{EventId, OrgId};
use crate::time::SimTime;
use litemap::LiteMap;
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct DedupConfig {
    pub dedup_capacity: usize,
    pub dedup_ttl_ms: u64,
    pub dedup_orgs: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            dedup_capacity: 1000,
            dedup_ttl_ms: 5 * 60 * 1000,
            dedup_orgs: 3,
        }
    }
}

/// An org's ids, oldest first. Found by a scan, not a set beside them: the
/// window holds tens of ids at a time, and a set doubled the memory of every tab.
#[derive(Debug)]
struct OrgIds<K> {
    order: VecDeque<(K, SimTime)>,
}

impl<K> Default for OrgIds<K> {
    fn default() -> Self {
        OrgIds {
            order: VecDeque::new(),
        }
    }
}

#[derive(Debug)]
pub struct Dedup<K = EventId> {
    config: DedupConfig,
    orgs: LiteMap<OrgId, OrgIds<K>>,
    /// Orgs from least to most recently used.
    recency: VecDeque<OrgId>,
}

impl<K: PartialEq> Dedup<K> {
    pub fn new(config: DedupConfig) -> Self {
        Dedup {
            config,
            orgs: LiteMap::new(),
            recency: VecDeque::new(),
        }
    }

    /// Record `id` for `org`; true if it was not seen within the window (apply it).
    pub fn first_sighting(&mut self, now: SimTime, org: OrgId, id: K) -> bool {
        self.touch(org);
        let ttl = self.config.dedup_ttl_ms;
        let cap = self.config.dedup_capacity;
        let ids = self.orgs.entry(org).or_default();
        while ids.order.front().is_some_and(|(_, at)| *at + ttl <= now) {
            ids.order.pop_front();
        }
        if ids.order.iter().any(|(seen, _)| *seen == id) {
            return false;
        }
        ids.order.push_back((id, now));
        while ids.order.len() > cap {
            ids.order.pop_front();
        }
        true
    }

    fn touch(&mut self, org: OrgId) {
        self.recency.retain(|o| *o != org);
        self.recency.push_back(org);
        while self.recency.len() > self.config.dedup_orgs {
            if let Some(old) = self.recency.pop_front() {
                self.orgs.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_caught_until_ttl_or_capacity_forgets_them() {
        let mut d: Dedup = Dedup::new(DedupConfig {
            dedup_capacity: 2,
            dedup_ttl_ms: 100,
            dedup_orgs: 3,
        });
        assert!(d.first_sighting(SimTime(0), 1, EventId(1)));
        assert!(!d.first_sighting(SimTime(10), 1, EventId(1)));
        assert!(
            d.first_sighting(SimTime(10), 2, EventId(1)),
            "ids are per org"
        );
        assert!(
            d.first_sighting(SimTime(100), 1, EventId(1)),
            "expired after the TTL"
        );
        assert!(d.first_sighting(SimTime(101), 1, EventId(2)));
        assert!(d.first_sighting(SimTime(102), 1, EventId(3)));
        assert!(
            d.first_sighting(SimTime(103), 1, EventId(1)),
            "evicted by capacity"
        );
    }

    #[test]
    fn only_the_most_recent_orgs_are_kept() {
        let mut d: Dedup = Dedup::new(DedupConfig {
            dedup_capacity: 10,
            dedup_ttl_ms: 1000,
            dedup_orgs: 2,
        });
        assert!(d.first_sighting(SimTime(0), 1, EventId(9)));
        assert!(d.first_sighting(SimTime(0), 2, EventId(9)));
        assert!(d.first_sighting(SimTime(0), 3, EventId(9)));
        assert!(
            d.first_sighting(SimTime(0), 1, EventId(9)),
            "org 1 was dropped as least recent"
        );
    }
}
