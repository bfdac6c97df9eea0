//! O2: after the last fault heals and the settle window passes, every live
//! tab's list cache equals the store's rows for its query, and the aggregate
//! it shows (if any) equals the store's (U3).

use super::{Evidence, Violation};
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let end = ev.scenario.end();
    let store: BTreeMap<u32, &Vec<crate::event::Row>> =
        ev.last.store.iter().map(|(o, r)| (*o, r)).collect();
    let mut out = Vec::new();
    for tab in &ev.last.tabs {
        let empty = Vec::new();
        let truth: Vec<_> = store
            .get(&tab.org)
            .copied()
            .unwrap_or(&empty)
            .iter()
            .filter(|r| tab.property.is_none_or(|p| p == r.property_id))
            .map(|r| (r.id, r.version, r.amount_cents))
            .collect();
        let shown: Vec<_> = tab
            .rows
            .iter()
            .map(|r| (r.id, r.version, r.amount_cents))
            .collect();
        let truth_total: i64 = truth.iter().map(|r| r.2).sum();
        if let Some(total) = tab.aggregate.filter(|t| *t != truth_total) {
            out.push(Violation {
                oracle: "O2",
                t: end,
                subject: tab.name.clone(),
                detail: format!(
                    "aggregate shows {total} cents after settle, the store's rows sum to {truth_total}"
                ),
            });
        }
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
                subject: tab.name.clone(),
                detail: format!(
                    "cache differs from the store after settle: {missing} rows missing or stale, {extra} extra or stale; first (row, version, amount) = {first:?}"
                ),
            });
        }
    }
    out
}
