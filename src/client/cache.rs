//! U1: a list query's cache, patched row by row from events.
//!
//! Each row remembers the sequence that last changed it, and deletions leave
//! a tombstone, so an event older than what the cache already shows is a
//! no-op, and a snapshot (refetch) taken before newer patches does not undo
//! them: the snapshot is merged, not swapped in.

use crate::event::{Action, Event, OrgId, PropertyId, Row, RowId};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct ListCache {
    pub org: OrgId,
    pub property: Option<PropertyId>,
    rows: BTreeMap<RowId, Row>,
    /// Deleted rows and the sequence of their deletion.
    removed: BTreeMap<RowId, u64>,
}

impl ListCache {
    pub fn new(org: OrgId, property: Option<PropertyId>) -> Self {
        ListCache {
            org,
            property,
            rows: BTreeMap::new(),
            removed: BTreeMap::new(),
        }
    }

    fn known_seq(&self, id: RowId) -> u64 {
        let shown = self.rows.get(&id).map_or(0, |r| r.last_seq);
        shown.max(self.removed.get(&id).copied().unwrap_or(0))
    }

    /// Patch the row `event` carries: insert, update or remove it.
    pub fn apply(&mut self, event: &Event) {
        let row = &event.metadata;
        if event.sequence <= self.known_seq(row.id) {
            return;
        }
        match event.action {
            Action::Added | Action::Updated => {
                self.removed.remove(&row.id);
                self.rows.insert(row.id, row.clone());
            }
            Action::Deleted => {
                self.rows.remove(&row.id);
                self.removed.insert(row.id, event.sequence);
            }
        }
    }

    /// Merge a snapshot of the query taken at org sequence `as_of_seq`.
    pub fn merge_snapshot(&mut self, rows: Vec<Row>, as_of_seq: u64) {
        let mut merged: BTreeMap<RowId, Row> = rows.into_iter().map(|r| (r.id, r)).collect();
        for (id, row) in &self.rows {
            if row.last_seq > as_of_seq {
                merged.insert(*id, row.clone());
            }
        }
        self.removed.retain(|_, seq| *seq > as_of_seq);
        for id in self.removed.keys() {
            merged.remove(id);
        }
        self.rows = merged;
    }

    pub fn rows(&self) -> Vec<Row> {
        self.rows.values().cloned().collect()
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.removed.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EntityType, EventId, Service};

    fn ev(seq: u64, id: RowId, action: Action, version: u64) -> Event {
        Event {
            event_id: EventId(seq as u128),
            sequence: seq,
            timestamp_ms: seq,
            org_id: 0,
            property_id: Some(0),
            user_id: None,
            service: Service::Finance,
            entity_type: EntityType::Revenue,
            action,
            metadata: Row {
                id,
                org_id: 0,
                property_id: 0,
                entity_type: EntityType::Revenue,
                version,
                amount_cents: 100 * version as i64,
                last_seq: seq,
            },
        }
    }

    #[test]
    fn patches_insert_update_remove_and_ignore_stale_events() {
        let mut c = ListCache::new(0, None);
        c.apply(&ev(1, 10, Action::Added, 1));
        c.apply(&ev(3, 10, Action::Updated, 2));
        c.apply(&ev(2, 10, Action::Updated, 1));
        assert_eq!(
            c.rows()[0].version,
            2,
            "an older event does not roll the row back"
        );
        c.apply(&ev(4, 10, Action::Deleted, 3));
        c.apply(&ev(3, 10, Action::Updated, 2));
        assert!(
            c.rows().is_empty(),
            "a late update does not resurrect a deleted row"
        );
    }

    #[test]
    fn a_snapshot_older_than_a_patch_keeps_the_patch() {
        let mut c = ListCache::new(0, None);
        c.apply(&ev(5, 10, Action::Added, 1));
        c.apply(&ev(6, 11, Action::Added, 1));
        c.apply(&ev(7, 11, Action::Deleted, 2));
        let old = ev(4, 12, Action::Added, 1).metadata;
        let stale11 = ev(6, 11, Action::Added, 1).metadata;
        c.merge_snapshot(vec![old, stale11], 6);
        let ids: Vec<RowId> = c.rows().iter().map(|r| r.id).collect();
        // Row 10 (seq 5) is older than the snapshot, which no longer has it: the snapshot wins.
        // Row 11 was deleted at seq 7, after the snapshot: the tombstone wins.
        assert_eq!(ids, vec![12]);
    }
}
