//! U1 and U2: a list query's cache, patched row by row from events, with the
//! optimistic rows of the tab's own writes.
//!
//! Each row remembers the sequence that last changed it, and deletions leave
//! a tombstone, so an event older than what the cache already shows is a
//! no-op, and a snapshot (refetch) taken before newer patches does not undo
//! them: the snapshot is merged, not swapped in.
//!
//! An optimistic row stands for a write the server has not echoed yet. It
//! leaves the list the moment its committed row enters it (from the echo or a
//! refetch), never after, so the two are never shown together; or it is rolled
//! back when the write fails or its row is gone. Every such change is recorded
//! for the oracle (`ListRow` observations).

use crate::event::{Action, Event, MutationId, OrgId, PropertyId, Row, RowId};
use crate::mutant::{fires, Mutant};
use crate::observation::Resolution;
use litemap::LiteMap;
use std::collections::BTreeMap;

/// An optimistic row id never collides with a server id (those count from 1).
const OPTIMISTIC_IDS: RowId = 1 << 63;

/// One change to what the list shows, about a row of a tab mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListChange {
    pub mutation: MutationId,
    /// `None` for the optimistic row, else the committed row.
    pub row: Option<RowId>,
    pub shown: bool,
    pub how: Option<Resolution>,
}

#[derive(Clone, Debug)]
struct Optimistic {
    row: Row,
    /// The sequence that committed it, once the write's answer said so.
    committed: Option<u64>,
    /// The write's call is over without a commit (failed or timed out).
    call_over: bool,
}

#[derive(Clone, Debug)]
pub struct ListCache {
    pub org: OrgId,
    pub property: Option<PropertyId>,
    /// Tens of rows per list at most in any scenario: sorted vectors, which
    /// cost a third of what B-tree nodes do per tab.
    rows: LiteMap<RowId, Row>,
    /// Deleted rows and the sequence of their deletion.
    removed: LiteMap<RowId, u64>,
    optimistic: LiteMap<MutationId, Optimistic>,
    mutant: Option<Mutant>,
    changes: Vec<ListChange>,
}

impl ListCache {
    pub fn new(org: OrgId, property: Option<PropertyId>, mutant: Option<Mutant>) -> Self {
        ListCache {
            org,
            property,
            rows: LiteMap::new(),
            removed: LiteMap::new(),
            optimistic: LiteMap::new(),
            mutant,
            changes: Vec::new(),
        }
    }

    fn known_seq(&self, id: RowId) -> u64 {
        let shown = self.rows.get(&id).map_or(0, |r| r.last_seq);
        shown.max(self.removed.get(&id).copied().unwrap_or(0))
    }

    fn note_row(&mut self, row: &Row, shown: bool) {
        if let Some(mutation) = row.created_by {
            self.changes.push(ListChange {
                mutation,
                row: Some(row.id),
                shown,
                how: None,
            });
        }
    }

    fn resolve(&mut self, mutation: MutationId, how: Resolution) {
        if self.optimistic.remove(&mutation).is_some() {
            self.changes.push(ListChange {
                mutation,
                row: None,
                shown: false,
                how: Some(how),
            });
        }
    }

    /// Whether the optimistic row of `mutation` is still shown.
    pub fn is_pending(&self, mutation: MutationId) -> bool {
        self.optimistic.contains_key(&mutation)
    }

    /// U2: show the row of a write before the server has it. An update
    /// or delete is not shown ahead (only adds are optimistic).
    pub fn insert_optimistic(&mut self, mutation: MutationId, property: PropertyId, amount: i64) {
        let row = Row {
            id: OPTIMISTIC_IDS | (mutation >> 1),
            org_id: self.org,
            property_id: property,
            entity_type: crate::event::EntityType::Revenue,
            version: 0,
            amount_cents: amount,
            last_seq: 0,
            created_by: Some(mutation),
            days_ago: 0,
            pending: false,
        };
        self.optimistic.insert(
            mutation,
            Optimistic {
                row,
                committed: None,
                call_over: false,
            },
        );
        self.changes.push(ListChange {
            mutation,
            row: None,
            shown: true,
            how: None,
        });
    }

    /// The write's answer: committed at `seq`. The optimistic row stays until
    /// the echo (or a refetch) brings the committed row.
    pub fn write_committed(&mut self, mutation: MutationId, seq: u64) {
        if let Some(o) = self.optimistic.get_mut(&mutation) {
            o.committed = Some(seq);
        }
    }

    /// The write's call ended without a commit the tab knows of. A refused
    /// write is taken back at once; an unanswered one waits for a refetch.
    pub fn write_failed(&mut self, mutation: MutationId, refused: bool) {
        if refused {
            self.resolve(mutation, Resolution::RolledBack);
        } else if let Some(o) = self.optimistic.get_mut(&mutation) {
            o.call_over = true;
        }
    }

    /// Patch the row `event` carries: insert, update or remove it; the echo of
    /// an optimistic write replaces its optimistic row. So does any later event
    /// about the row the write created: pub/sub may deliver another tab's update
    /// of it before the echo (E4), and the row it brings is the write's own. An
    /// event the list already shows (the echo after the write's own answer)
    /// changes nothing.
    pub fn apply(&mut self, event: &Event) {
        let row = &event.metadata;
        // The event's own write (the echo), or the write that created its row
        // (another tab's update carries that tab's own mutation id).
        let pending = [event.mutation, row.created_by]
            .into_iter()
            .flatten()
            .find(|m| self.optimistic.contains_key(m));
        if let Some(m) = pending {
            // First the optimistic row goes, then the real one comes. The bug
            // adds the real row beside it.
            if !fires(self.mutant, Mutant::OptimisticDoubleInsert) {
                self.resolve(m, Resolution::Echo);
            }
        }
        if event.sequence <= self.known_seq(row.id) {
            return;
        }
        match event.action {
            Action::Added | Action::Updated => {
                self.removed.remove(&row.id);
                if self.rows.insert(row.id, row.clone()).is_none() {
                    self.note_row(row, true);
                }
            }
            Action::Deleted => {
                if let Some(old) = self.rows.remove(&row.id) {
                    self.note_row(&old, false);
                }
                self.removed.insert(row.id, event.sequence);
            }
        }
    }

    /// Merge a snapshot of the query taken at org sequence `as_of_seq`. It
    /// settles the optimistic rows it can: replaced by their committed row,
    /// or rolled back if the row is gone or the write never committed.
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
        let created: BTreeMap<MutationId, RowId> = merged
            .values()
            .filter_map(|r| r.created_by.map(|m| (m, r.id)))
            .collect();
        let settled: Vec<(MutationId, Resolution)> = self
            .optimistic
            .iter()
            .filter_map(|(m, o)| {
                if created.contains_key(m) {
                    Some((*m, Resolution::Refetch))
                } else if o.committed.is_some_and(|s| s <= as_of_seq) || o.call_over {
                    Some((*m, Resolution::RolledBack))
                } else {
                    None
                }
            })
            .collect();
        for (m, how) in settled {
            self.resolve(m, how);
        }
        let gone: Vec<Row> = self
            .rows
            .values()
            .filter(|r| !merged.contains_key(&r.id))
            .cloned()
            .collect();
        let new: Vec<Row> = merged
            .values()
            .filter(|r| !self.rows.contains_key(&r.id))
            .cloned()
            .collect();
        for r in &gone {
            self.note_row(r, false);
        }
        for r in &new {
            self.note_row(r, true);
        }
        self.rows = merged.into_iter().collect();
    }

    /// The rows the list shows: the cached ones, then the optimistic ones.
    pub fn rows(&self) -> Vec<Row> {
        self.rows
            .values()
            .chain(self.optimistic.values().map(|o| &o.row))
            .cloned()
            .collect()
    }

    /// Rows of the cache as the server has them (no optimistic ones).
    pub fn committed_rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values()
    }

    /// The page goes (the tab closes): its optimistic rows go with it.
    pub fn clear_optimistic(&mut self) {
        let pending: Vec<MutationId> = self.optimistic.keys().copied().collect();
        for m in pending {
            self.resolve(m, Resolution::Cleared);
        }
    }

    pub fn clear(&mut self) {
        self.clear_optimistic();
        let shown: Vec<Row> = self.rows.values().cloned().collect();
        for r in &shown {
            self.note_row(r, false);
        }
        self.rows.clear();
        self.removed.clear();
    }

    /// What the list started or stopped showing since the last call.
    pub fn take_changes(&mut self) -> Vec<ListChange> {
        std::mem::take(&mut self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{sample_event, EntityType};

    fn ev(seq: u64, id: RowId, action: Action, version: u64) -> Event {
        sample_event(seq, id, EntityType::Revenue, action, version)
    }

    #[test]
    fn patches_insert_update_remove_and_ignore_stale_events() {
        let mut c = ListCache::new(0, None, None);
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
        let mut c = ListCache::new(0, None, None);
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

    fn echo(seq: u64, id: RowId, mutation: u64) -> Event {
        let mut e = ev(seq, id, Action::Added, 1);
        e.metadata.created_by = Some(mutation);
        e.mutation = Some(mutation);
        e
    }

    #[test]
    fn the_echo_replaces_the_optimistic_row_before_showing_the_real_one() {
        let mut c = ListCache::new(0, None, None);
        c.insert_optimistic(7, 0, 500);
        assert_eq!(c.rows().len(), 1);
        c.apply(&echo(1, 10, 7));
        let ids: Vec<RowId> = c.rows().iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![10], "one row, the committed one");
        let changes = c.take_changes();
        let order: Vec<(Option<RowId>, bool)> = changes.iter().map(|c| (c.row, c.shown)).collect();
        assert_eq!(order, vec![(None, true), (None, false), (Some(10), true)]);
        assert_eq!(changes[1].how, Some(Resolution::Echo));
        // The write's late answer changes nothing.
        c.write_committed(7, 1);
        c.apply(&echo(1, 10, 7));
        assert_eq!(c.rows().len(), 1);
        assert!(c.take_changes().is_empty());
    }

    #[test]
    fn an_update_before_the_echo_replaces_the_optimistic_row_too() {
        let mut c = ListCache::new(0, None, None);
        c.insert_optimistic(7, 0, 500);
        // Another tab's update of the new row (its own write, 9) overtakes the echo (seq 1).
        let mut update = ev(2, 10, Action::Updated, 2);
        update.metadata.created_by = Some(7);
        update.mutation = Some(9);
        c.apply(&update);
        let ids: Vec<RowId> = c.rows().iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            vec![10],
            "the committed row alone, never beside its optimistic one"
        );
        c.apply(&echo(1, 10, 7));
        assert_eq!(c.rows()[0].version, 2, "the late echo changes nothing");
    }

    #[test]
    fn a_refetch_settles_optimistic_rows_it_can() {
        let mut c = ListCache::new(0, None, None);
        c.insert_optimistic(1, 0, 100); // committed, echo lost: the snapshot has it
        c.insert_optimistic(2, 0, 200); // unanswered, never committed
        c.insert_optimistic(3, 0, 300); // still in flight
        c.write_committed(1, 4);
        c.write_failed(2, false);
        c.take_changes();
        c.merge_snapshot(vec![echo(4, 40, 1).metadata], 4);
        let hows: Vec<(u64, Option<Resolution>)> = c
            .take_changes()
            .iter()
            .filter(|c| c.row.is_none())
            .map(|c| (c.mutation, c.how))
            .collect();
        assert_eq!(
            hows,
            vec![
                (1, Some(Resolution::Refetch)),
                (2, Some(Resolution::RolledBack))
            ]
        );
        assert!(c.is_pending(3));
        c.write_failed(3, true);
        assert!(!c.is_pending(3), "a refused write is rolled back at once");
    }

    #[test]
    fn the_double_insert_mutant_shows_both_rows() {
        let mut c = ListCache::new(0, None, Some(Mutant::OptimisticDoubleInsert));
        c.insert_optimistic(7, 0, 500);
        c.apply(&echo(1, 10, 7));
        assert_eq!(c.rows().len(), 2);
    }
}
