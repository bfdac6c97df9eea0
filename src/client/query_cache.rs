//! U1: a tab's query cache: one `ListCache` per list query the page shows,
//! keyed as React Query keys them (`query.rs`).
//!
//! An event patches only the lists of its entity (`setQueryData` on the
//! relevant keys), a snapshot is split by entity among them, and the tab's
//! own writes (revenues, U2) go to the revenues list with their optimistic
//! rows.

use super::cache::{ListCache, ListChange};
use crate::event::{Event, OrgId, PropertyId, Row};
use crate::mutant::{fires, Mutant};
use crate::query::ListKind;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct QueryCache {
    pub org: OrgId,
    pub property: Option<PropertyId>,
    lists: BTreeMap<ListKind, ListCache>,
    mutant: Option<Mutant>,
}

impl QueryCache {
    pub fn new(
        org: OrgId,
        property: Option<PropertyId>,
        lists: &[ListKind],
        mutant: Option<Mutant>,
    ) -> Self {
        QueryCache {
            org,
            property,
            lists: lists
                .iter()
                .map(|&k| (k, ListCache::new(org, property, mutant)))
                .collect(),
            mutant,
        }
    }

    /// The revenues list, where the tab's own writes show (none if the page lacks it).
    pub fn revenues(&mut self) -> Option<&mut ListCache> {
        self.lists.get_mut(&ListKind::Revenues)
    }

    /// The committed rows of the revenues list: what the user may edit.
    pub fn editable_rows(&self) -> Vec<&Row> {
        self.lists
            .get(&ListKind::Revenues)
            .map(|l| l.committed_rows().collect())
            .unwrap_or_default()
    }

    /// U1: patch the lists that show `event`'s entity.
    pub fn apply(&mut self, event: &Event) {
        for (kind, list) in self.lists.iter_mut() {
            // The bug patches every list of the org, whatever the key.
            if kind.entity() == event.entity_type
                || fires(self.mutant, Mutant::QueryKeyIgnoresEntity)
            {
                list.apply(event);
            }
        }
    }

    /// Merge a snapshot of every list (taken at `as_of_seq`), each its own rows.
    pub fn merge_snapshot(&mut self, rows: Vec<Row>, as_of_seq: u64) {
        let mut by_entity: BTreeMap<_, Vec<Row>> = BTreeMap::new();
        for r in rows {
            by_entity.entry(r.entity_type).or_default().push(r);
        }
        for (kind, list) in self.lists.iter_mut() {
            let rows = by_entity.remove(&kind.entity()).unwrap_or_default();
            list.merge_snapshot(rows, as_of_seq);
        }
    }

    pub fn kinds(&self) -> Vec<ListKind> {
        self.lists.keys().copied().collect()
    }

    /// What each list shows, optimistic rows included.
    pub fn shown(&self) -> Vec<(ListKind, Vec<Row>)> {
        self.lists.iter().map(|(k, l)| (*k, l.rows())).collect()
    }

    pub fn clear_optimistic(&mut self) {
        self.lists
            .values_mut()
            .for_each(ListCache::clear_optimistic);
    }

    pub fn clear(&mut self) {
        self.lists.values_mut().for_each(ListCache::clear);
    }

    pub fn take_changes(&mut self) -> Vec<ListChange> {
        self.lists
            .values_mut()
            .flat_map(ListCache::take_changes)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{sample_event, Action, EntityType};

    fn ev(seq: u64, entity_type: EntityType) -> Event {
        sample_event(seq, seq, entity_type, Action::Added, 1)
    }

    fn ids(c: &QueryCache) -> Vec<(ListKind, Vec<u64>)> {
        c.shown()
            .into_iter()
            .map(|(k, rows)| (k, rows.iter().map(|r| r.id).collect()))
            .collect()
    }

    #[test]
    fn an_event_patches_the_lists_of_its_entity_only() {
        let mut c = QueryCache::new(0, None, &[ListKind::Revenues, ListKind::Tasks], None);
        c.apply(&ev(1, EntityType::Revenue));
        c.apply(&ev(2, EntityType::Task));
        c.apply(&ev(3, EntityType::Expense));
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![1]), (ListKind::Tasks, vec![2])]
        );
        // A snapshot is split the same way.
        let rows = [4, 5].map(|s| ev(s, EntityType::Task).metadata).to_vec();
        c.merge_snapshot(rows, 5);
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![]), (ListKind::Tasks, vec![4, 5])]
        );
    }

    #[test]
    fn the_mutant_patches_every_list() {
        let lists = [ListKind::Revenues, ListKind::Expenses];
        let mut c = QueryCache::new(0, None, &lists, Some(Mutant::QueryKeyIgnoresEntity));
        c.apply(&ev(1, EntityType::Expense));
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![1]), (ListKind::Expenses, vec![1])]
        );
    }
}
