//! O10: after the faults heal, every scope with live tabs has a tab running the
//! transport (a leader, or every tab in declared fallback) within
//! `leader_bound_ms`, and keeps one to the end. (Cache convergence within the
//! settle window is O2's.)

use super::{Evidence, Violation};
use crate::observation::Role;
use crate::observation::{Actor, Observation};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A scope that had no transport from `since` to `now`: a violation if that
/// lasted past the bound after the heal.
fn overdue(
    bound: u64,
    scope: &str,
    since: SimTime,
    now: SimTime,
    heal: Option<SimTime>,
) -> Option<Violation> {
    let from = since.max(heal?);
    (now.since(from) > bound).then(|| Violation {
        oracle: "O10",
        t: from + bound,
        subject: scope.to_string(),
        detail: format!(
            "no tab runs the transport from {from} for more than {bound} ms after the heal"
        ),
    })
}

/// Whether some unfrozen member runs the transport, or no member is left alive.
fn served(
    members: &BTreeSet<Actor>,
    role_of: &BTreeMap<Actor, Role>,
    frozen: &BTreeSet<Actor>,
) -> bool {
    let live = members
        .iter()
        .filter(|m| role_of.get(*m) != Some(&Role::Closed))
        .count();
    let running = members
        .iter()
        .any(|m| !frozen.contains(m) && matches!(role_of.get(m), Some(Role::Leader | Role::Solo)));
    running || live == 0
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let bound = ev.scenario.config.check.leader_bound_ms;
    let mut scope_of: BTreeMap<Actor, &str> = BTreeMap::new();
    let mut role_of: BTreeMap<Actor, Role> = BTreeMap::new();
    let mut members_of: BTreeMap<&str, BTreeSet<Actor>> = BTreeMap::new();
    let mut frozen: BTreeSet<Actor> = BTreeSet::new();
    // Per scope: since when no live tab has run the transport.
    let mut leaderless_since: BTreeMap<&str, SimTime> = BTreeMap::new();
    let mut heal: Option<SimTime> = None;
    let mut out = Vec::new();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for step in &ev.history.steps {
        let t = step.t;
        let tab = match &step.obs {
            Observation::Heal => {
                heal = Some(t);
                continue;
            }
            Observation::Role {
                tab, scope, role, ..
            } => {
                scope_of.insert(*tab, scope);
                members_of.entry(scope.as_str()).or_default().insert(*tab);
                role_of.insert(*tab, *role);
                *tab
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                frozen.insert(*tab);
                *tab
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                frozen.remove(tab);
                *tab
            }
            _ => continue,
        };
        let Some(&scope) = scope_of.get(&tab) else {
            continue;
        };
        let ok = served(&members_of[scope], &role_of, &frozen);
        match (ok, leaderless_since.get(scope).copied()) {
            (false, None) => {
                leaderless_since.insert(scope, t);
            }
            (true, Some(since)) => {
                leaderless_since.remove(scope);
                if !reported.contains(scope) {
                    if let Some(v) = overdue(bound, scope, since, t, heal) {
                        out.push(v);
                        reported.insert(scope);
                    }
                }
            }
            _ => {}
        }
    }
    let end = ev.scenario.end();
    for (scope, since) in leaderless_since {
        if !reported.contains(scope) {
            out.extend(overdue(bound, scope, since, end, heal));
        }
    }
    out
}
