//! S1: the domain store, the ground truth every cache must converge to.
//!
//! A mutation changes one row and yields the one event that publishes it, with
//! the org's next sequence. The store survives a server restart (it is the
//! database, not the realtime process).

use crate::event::{Action, EntityType, Event, EventId, MutationId, OrgId, PropertyId, Row, RowId};
use crate::http::{MutationRequest, WriteOp};
use crate::query::{AggregateKind, OLDEST_DAY};
use crate::seed::SimRng;
use crate::time::SimTime;
use rand::Rng;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
struct OrgRows {
    rows: BTreeMap<RowId, Row>,
    head_seq: u64,
}

/// One mutation of one row, as decided before it is committed.
struct Change {
    entity: EntityType,
    property: PropertyId,
    action: Action,
    /// The row an update or delete targets; `None` for an add.
    target: Option<RowId>,
    amount_cents: i64,
    /// The day of an added row (days ago); an update keeps the row's day.
    days_ago: u32,
    pending: bool,
    event_id: EventId,
    mutation: Option<MutationId>,
}

#[derive(Debug, Default)]
pub struct Store {
    orgs: BTreeMap<OrgId, OrgRows>,
    next_row_id: RowId,
}

impl Store {
    pub fn new() -> Self {
        Store::default()
    }

    /// The org's last committed sequence (0 before any mutation).
    pub fn head_seq(&self, org: OrgId) -> u64 {
        self.orgs.get(&org).map_or(0, |o| o.head_seq)
    }

    /// The rows a list query for `org` (and `property`, if given) shows.
    pub fn rows(&self, org: OrgId, property: Option<PropertyId>) -> Vec<Row> {
        self.orgs.get(&org).map_or_else(Vec::new, |o| {
            o.rows
                .values()
                .filter(|r| property.is_none_or(|p| r.property_id == p))
                .cloned()
                .collect()
        })
    }

    /// U3: an aggregate over the rows of `org` (and `property`): revenues
    /// less expenses (all of them, or those dated in a report's range), the
    /// expenses awaiting approval, or the open tasks due today.
    pub fn aggregate(&self, org: OrgId, property: Option<PropertyId>, kind: AggregateKind) -> i64 {
        use AggregateKind::*;
        use EntityType::{Expense, Revenue, Task};
        let in_range = |r: &Row, from: u32, to: u32| r.days_ago >= to && r.days_ago <= from;
        self.rows(org, property)
            .iter()
            .map(|r| match (kind, r.entity_type) {
                (ProfitLoss, Revenue) => r.amount_cents,
                (ProfitLoss, Expense) => -r.amount_cents,
                (Report { from, to }, Revenue) if in_range(r, from, to) => r.amount_cents,
                (Report { from, to }, Expense) if in_range(r, from, to) => -r.amount_cents,
                (DailyApproval, Expense) if r.pending => 1,
                (TodayPending, Task) if r.pending && r.days_ago == 0 => 1,
                _ => 0,
            })
            .sum()
    }

    pub fn orgs(&self) -> impl Iterator<Item = OrgId> + '_ {
        self.orgs.keys().copied()
    }

    /// Commit one random mutation on `org` (add, update or delete a row of a
    /// random property, of an entity drawn from `entities`) and return the
    /// event that publishes it. With revenues alone, rows are undated, as the
    /// finance page first had them, and the draws are those it always made.
    pub fn mutate_random(
        &mut self,
        now: SimTime,
        org: OrgId,
        properties: u32,
        entities: &[EntityType],
        rng: &mut SimRng,
    ) -> Event {
        let dated = entities != [EntityType::Revenue];
        let entity = if entities.len() > 1 {
            entities[rng.gen_range(0..entities.len())]
        } else {
            entities.first().copied().unwrap_or(EntityType::Revenue)
        };
        let property = rng.gen_range(0..properties.max(1));
        let existing: Vec<RowId> = self
            .orgs
            .get(&org)
            .map(|o| {
                o.rows
                    .values()
                    .filter(|r| r.property_id == property && r.entity_type == entity)
                    .map(|r| r.id)
                    .collect()
            })
            .unwrap_or_default();
        let roll: u32 = rng.gen_range(0..100);
        let action = match (existing.is_empty(), roll) {
            (true, _) | (false, 0..=44) => Action::Added,
            (false, 45..=84) => Action::Updated,
            (false, _) => Action::Deleted,
        };
        let target = if action == Action::Added {
            None
        } else {
            Some(existing[rng.gen_range(0..existing.len())])
        };
        let amount_cents = rng.gen_range(100..1_000_000);
        // Dated rows: an entry's day, and whether an expense waits for approval
        // or a task is open (an update approves, completes or reopens it).
        let (days_ago, pending) = match (dated, action) {
            (false, _) => (0, false),
            (true, Action::Added) => (rng.gen_range(0..=OLDEST_DAY), entity != EntityType::Revenue),
            (true, _) => (0, entity != EntityType::Revenue && rng.gen_range(0..2) == 0),
        };
        let change = Change {
            entity,
            property,
            action,
            target,
            amount_cents,
            days_ago,
            pending,
            event_id: EventId(rng.gen()),
            mutation: None,
        };
        self.commit(now, org, change)
    }

    /// Commit a tab's write (U2). An update or delete of a row that is gone,
    /// or not in the named property, is refused (the HTTP 409 of a lost race).
    pub fn mutate(
        &mut self,
        now: SimTime,
        org: OrgId,
        req: &MutationRequest,
        event_id: EventId,
    ) -> Result<Event, &'static str> {
        let (action, target, amount_cents) = match req.op {
            WriteOp::Add { amount_cents } => (Action::Added, None, amount_cents),
            WriteOp::Update { row, amount_cents } => (Action::Updated, Some(row), amount_cents),
            WriteOp::Delete { row } => (Action::Deleted, Some(row), 0),
        };
        if let Some(id) = target {
            let current = self.orgs.get(&org).and_then(|o| o.rows.get(&id));
            let revenue =
                |r: &Row| r.property_id == req.property && r.entity_type == EntityType::Revenue;
            if !current.is_some_and(revenue) {
                return Err("the row is gone");
            }
        }
        let change = Change {
            entity: EntityType::Revenue,
            property: req.property,
            action,
            target,
            amount_cents,
            days_ago: 0,
            pending: false,
            event_id,
            mutation: Some(req.mutation),
        };
        Ok(self.commit(now, org, change))
    }

    fn commit(&mut self, now: SimTime, org: OrgId, change: Change) -> Event {
        let Change {
            entity,
            property,
            action,
            target,
            amount_cents,
            days_ago,
            pending,
            event_id,
            mutation,
        } = change;
        let org_rows = self.orgs.entry(org).or_default();
        org_rows.head_seq += 1;
        let seq = org_rows.head_seq;
        let row = match (action, target) {
            (Action::Added, _) => {
                self.next_row_id += 1;
                let row = Row {
                    id: self.next_row_id,
                    org_id: org,
                    property_id: property,
                    entity_type: entity,
                    version: 1,
                    amount_cents,
                    last_seq: seq,
                    created_by: mutation,
                    days_ago,
                    pending,
                };
                org_rows.rows.insert(row.id, row.clone());
                row
            }
            (Action::Updated, Some(id)) => {
                let row = org_rows
                    .rows
                    .get_mut(&id)
                    .expect("update targets an existing row");
                row.version += 1;
                row.amount_cents = amount_cents;
                row.pending = pending;
                row.last_seq = seq;
                row.clone()
            }
            (Action::Deleted, Some(id)) => {
                let mut row = org_rows
                    .rows
                    .remove(&id)
                    .expect("delete targets an existing row");
                row.version += 1;
                row.last_seq = seq;
                row
            }
            (_, None) => unreachable!("update and delete always name a row"),
        };
        Event {
            event_id,
            sequence: seq,
            timestamp_ms: now.as_ms(),
            org_id: org,
            property_id: Some(property),
            user_id: None,
            service: row.entity_type.service(),
            entity_type: row.entity_type,
            action,
            metadata: row,
            mutation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    #[test]
    fn sequences_are_gap_free_per_org_and_rows_follow_events() {
        let mut store = Store::new();
        let mut rng = rng_for(1, "store");
        for i in 0..200u64 {
            let org = (i % 3) as OrgId;
            let before = store.head_seq(org);
            let ev = store.mutate_random(SimTime(i), org, 2, &[EntityType::Revenue], &mut rng);
            assert_eq!(ev.sequence, before + 1);
            let present = store.rows(org, None).iter().any(|r| r.id == ev.metadata.id);
            assert_eq!(present, ev.action != Action::Deleted);
        }
        assert_eq!(
            store.head_seq(0) + store.head_seq(1) + store.head_seq(2),
            200
        );
    }

    #[test]
    fn aggregates_project_the_rows_of_the_org() {
        let mut store = Store::new();
        let row = crate::event::sample_row;
        let rows = [
            row(1, EntityType::Revenue, 0, false, 500),
            row(2, EntityType::Revenue, 3, false, 200),
            row(3, EntityType::Expense, 0, true, 120),
            row(4, EntityType::Expense, 5, false, 30),
            row(5, EntityType::Task, 0, true, 0),
            row(6, EntityType::Task, 1, true, 0),
            row(7, EntityType::Task, 0, false, 0),
        ];
        let org = store.orgs.entry(0).or_default();
        org.rows = rows.into_iter().map(|r| (r.id, r)).collect();
        let value = |kind| store.aggregate(0, None, kind);
        assert_eq!(value(AggregateKind::ProfitLoss), 500 + 200 - 120 - 30);
        assert_eq!(value(AggregateKind::DailyApproval), 1);
        assert_eq!(value(AggregateKind::TodayPending), 1);
        assert_eq!(value(AggregateKind::Report { from: 0, to: 0 }), 500 - 120);
        assert_eq!(value(AggregateKind::Report { from: 6, to: 1 }), 200 - 30);
    }
}
