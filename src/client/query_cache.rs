//! U1: a tab's query cache: one `ListCache` per list query the page shows,
//! keyed as React Query keys them (`query.rs`).
//!
//! An event patches only the lists of its entity (`setQueryData` on the
//! relevant keys), a snapshot is split by entity among them, and the tab's
//! own writes (revenues, U2) go to the revenues list with their optimistic
//! rows.

use super::cache::{ListCache, ListChange};
use crate::event::{Event, MutationId, OrgId, PropertyId, Row};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::query::ListKind;
use crate::time::SimTime;
use litemap::LiteMap;
use std::collections::{BTreeMap, VecDeque};

/// What reaches a tab's query cache.
#[derive(Clone, Debug, PartialEq)]
pub enum CacheInput {
    /// U1: an event; it patches the lists that show its entity.
    Event(Event),
    /// A snapshot of every list, taken at `as_of_seq`.
    Snapshot { rows: Vec<Row>, as_of_seq: u64 },
    /// U2: the tab adds a row; it shows in the revenues list before the server has it.
    Optimistic {
        mutation: MutationId,
        property: PropertyId,
        amount_cents: i64,
    },
    /// The write's answer: committed at `seq`.
    Committed { mutation: MutationId, seq: u64 },
    /// The write's call ended without a commit the tab knows of (`refused`: taken back now).
    WriteFailed { mutation: MutationId, refused: bool },
    /// The tab closes: its optimistic rows go.
    ClearOptimistic,
    /// The session ended: nothing is shown.
    Clear,
}

/// The page's lists; each output is a change of an optimistic row, for the trace.
#[derive(Clone, Debug)]
pub struct QueryCache {
    pub org: OrgId,
    pub property: Option<PropertyId>,
    /// A handful of lists, kept in a sorted vector: a B-tree node holds
    /// room for eleven, a kilobyte per tab for the one list most pages show.
    lists: LiteMap<ListKind, ListCache>,
    mutant: Option<Mutant>,
    out: VecDeque<ListChange>,
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
            out: VecDeque::new(),
        }
    }

    /// Whether the page shows the list `kind`.
    pub fn shows(&self, kind: ListKind) -> bool {
        self.lists.contains_key(&kind)
    }

    /// The revenues list, where the tab's own writes show (none if the page lacks it).
    fn revenues(&mut self) -> Option<&mut ListCache> {
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
    fn apply(&mut self, event: &Event) {
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
    fn merge_snapshot(&mut self, rows: Vec<Row>, as_of_seq: u64) {
        let mut by_entity: BTreeMap<_, Vec<Row>> = BTreeMap::new();
        for r in rows {
            by_entity.entry(r.entity_type).or_default().push(r);
        }
        for (kind, list) in self.lists.iter_mut() {
            let rows = by_entity.remove(&kind.entity()).unwrap_or_default();
            list.merge_snapshot(rows, as_of_seq);
        }
    }

    /// C15: the page changes route (its lists) or filter (every key): a
    /// list it keeps under the same key stays; the others go, their rows
    /// with them, and the new ones start empty until the page reloads.
    pub fn set_page(&mut self, lists: &[ListKind], property: Option<PropertyId>) {
        let refiltered = property != self.property;
        self.property = property;
        let old = std::mem::take(&mut self.lists);
        for (kind, mut list) in old {
            if refiltered || !lists.contains(&kind) {
                list.clear();
                self.out.extend(list.take_changes());
            } else {
                self.lists.insert(kind, list);
            }
        }
        for &kind in lists {
            if !self.lists.contains_key(&kind) {
                let list = ListCache::new(self.org, property, self.mutant);
                self.lists.insert(kind, list);
            }
        }
    }

    pub fn kinds(&self) -> Vec<ListKind> {
        self.lists.keys().copied().collect()
    }

    /// What each list shows, optimistic rows included.
    pub fn shown(&self) -> Vec<(ListKind, Vec<Row>)> {
        self.lists.iter().map(|(k, l)| (*k, l.rows())).collect()
    }
}

impl Machine for QueryCache {
    type Input = CacheInput;
    type Output = ListChange;
    type View<'v> = ();

    fn handle(&mut self, _now: SimTime, input: CacheInput, _: &()) {
        match input {
            CacheInput::Event(event) => self.apply(&event),
            CacheInput::Snapshot { rows, as_of_seq } => self.merge_snapshot(rows, as_of_seq),
            CacheInput::Optimistic {
                mutation,
                property,
                amount_cents,
            } => {
                if let Some(list) = self.revenues() {
                    list.insert_optimistic(mutation, property, amount_cents);
                }
            }
            CacheInput::Committed { mutation, seq } => {
                if let Some(list) = self.revenues() {
                    list.write_committed(mutation, seq);
                }
            }
            CacheInput::WriteFailed { mutation, refused } => {
                if let Some(list) = self.revenues() {
                    list.write_failed(mutation, refused);
                }
            }
            CacheInput::ClearOptimistic => self
                .lists
                .iter_mut()
                .map(|(_, l)| l)
                .for_each(ListCache::clear_optimistic),
            CacheInput::Clear => self
                .lists
                .iter_mut()
                .map(|(_, l)| l)
                .for_each(ListCache::clear),
        }
    }

    /// A cache has no timers.
    fn handle_timeout(&mut self, _now: SimTime, _: &()) {}

    /// The lists' changes, list by list in key order.
    fn poll_output(&mut self) -> Option<ListChange> {
        if self.out.is_empty() {
            let changes = self
                .lists
                .iter_mut()
                .map(|(_, l)| l)
                .flat_map(ListCache::take_changes);
            self.out = changes.collect();
        }
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{sample_event, Action, EntityType};

    fn ev(seq: u64, entity_type: EntityType) -> Event {
        sample_event(seq, seq, entity_type, Action::Added, 1)
    }

    fn apply(c: &mut QueryCache, event: Event) {
        c.handle(SimTime::ZERO, CacheInput::Event(event), &());
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
        apply(&mut c, ev(1, EntityType::Revenue));
        apply(&mut c, ev(2, EntityType::Task));
        apply(&mut c, ev(3, EntityType::Expense));
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![1]), (ListKind::Tasks, vec![2])]
        );
        // A snapshot is split the same way.
        let rows = [4, 5].map(|s| ev(s, EntityType::Task).metadata).to_vec();
        c.handle(
            SimTime::ZERO,
            CacheInput::Snapshot { rows, as_of_seq: 5 },
            &(),
        );
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![]), (ListKind::Tasks, vec![4, 5])]
        );
    }

    #[test]
    fn the_mutant_patches_every_list() {
        let lists = [ListKind::Revenues, ListKind::Expenses];
        let mut c = QueryCache::new(0, None, &lists, Some(Mutant::QueryKeyIgnoresEntity));
        apply(&mut c, ev(1, EntityType::Expense));
        assert_eq!(
            ids(&c),
            vec![(ListKind::Revenues, vec![1]), (ListKind::Expenses, vec![1])]
        );
    }
}
