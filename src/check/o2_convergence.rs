//! O2: after the last fault heals and the settle window passes, every live
//! tab's list queries equal the store's rows for their keys, and every
//! aggregate it shows equals the store's (U3).
//!
//! The aggregates are recomputed here from SPEC U3's definitions, apart from
//! the server's projection and the client's invalidation rules, so a mistake
//! in either cannot hide by being shared with the checker.

use super::{Check, End, Violation};
use crate::event::{EntityType, Row};
use crate::observation::Step;
use crate::query::{list_key, AggregateKind, OLDEST_DAY};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// What `kind` is over the store's `rows` of one org and property.
fn truth(kind: AggregateKind, rows: &[&Row]) -> i64 {
    let dated = |e: EntityType, days: &RangeInclusive<u32>| -> Vec<&Row> {
        let of = |r: &&&Row| r.entity_type == e && days.contains(&r.days_ago);
        rows.iter().filter(of).copied().collect()
    };
    let net = |days: RangeInclusive<u32>| {
        let sum = |e| dated(e, &days).iter().map(|r| r.amount_cents).sum::<i64>();
        sum(EntityType::Revenue) - sum(EntityType::Expense)
    };
    let open = |e, days| dated(e, &days).iter().filter(|r| r.pending).count() as i64;
    match kind {
        AggregateKind::ProfitLoss => net(0..=OLDEST_DAY),
        AggregateKind::Report { from, to } => net(to..=from),
        AggregateKind::DailyApproval => open(EntityType::Expense, 0..=OLDEST_DAY),
        AggregateKind::TodayPending => open(EntityType::Task, 0..=0),
    }
}

/// O2 judges the final state alone, so it keeps nothing of the steps.
#[derive(Default)]
pub struct Checker;

impl Check for Checker {
    fn step(&mut self, _: &Scenario, _: &Step) {}

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        converged(end)
    }
}

/// Every live tab's lists and aggregates against the store's rows.
fn converged(run: &End) -> Vec<Violation> {
    let end = run.scenario.end();
    let store: BTreeMap<u32, &Vec<crate::event::Row>> =
        run.last.store.iter().map(|(o, r)| (*o, r)).collect();
    let mut out = Vec::new();
    for tab in &run.last.tabs {
        let empty = Vec::new();
        let scope: Vec<_> = store
            .get(&tab.org)
            .copied()
            .unwrap_or(&empty)
            .iter()
            .filter(|r| tab.property.is_none_or(|p| p == r.property_id))
            .collect();
        for (kind, value) in &tab.aggregates {
            let truth = truth(*kind, &scope);
            if *value != truth {
                out.push(Violation {
                    oracle: "O2",
                    t: end,
                    subject: tab.name.to_string(),
                    detail: format!(
                        "aggregate {kind} shows {value} after settle, the store's rows give {truth}"
                    ),
                });
            }
        }
        for (kind, rows) in &tab.lists {
            let truth: Vec<_> = scope
                .iter()
                .filter(|r| r.entity_type == kind.entity())
                .map(|r| (r.id, r.version, r.amount_cents))
                .collect();
            let shown: Vec<_> = rows
                .iter()
                .map(|r| (r.id, r.version, r.amount_cents))
                .collect();
            if truth != shown {
                let missing = truth.iter().filter(|r| !shown.contains(r)).count();
                let extra = shown.iter().filter(|r| !truth.contains(r)).count();
                let first = truth
                    .iter()
                    .find(|r| !shown.contains(r))
                    .or_else(|| shown.iter().find(|r| !truth.contains(r)));
                out.push(Violation {
                    oracle: "O2",
                    t: end,
                    subject: tab.name.to_string(),
                    detail: format!(
                        "{} differs from the store after settle: {missing} rows missing or stale, {extra} extra or stale; first (row, version, amount) = {first:?}",
                        list_key(*kind, tab.org, tab.property)
                    ),
                });
            }
        }
    }
    out
}
