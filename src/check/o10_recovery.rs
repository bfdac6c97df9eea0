//! O10: after the faults heal, every scope with live tabs has a tab running the
//! transport (a leader, or every tab in declared fallback) within
//! `leader_bound_ms`, and keeps one to the end. (Cache convergence within the
//! settle window is O2's.)

use super::{Evidence, Violation};
use crate::observation::Observation;
use crate::observation::Role;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let bound = ev.scenario.config.check.leader_bound_ms;
    let mut scope_of: BTreeMap<&str, &str> = BTreeMap::new();
    let mut role_of: BTreeMap<&str, Role> = BTreeMap::new();
    let mut members_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut frozen: BTreeSet<&str> = BTreeSet::new();
    // Per scope: since when no live tab has run the transport.
    let mut leaderless_since: BTreeMap<&str, SimTime> = BTreeMap::new();
    let mut heal: Option<SimTime> = None;
    let mut out = Vec::new();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let report = |scope: &str,
                  since: SimTime,
                  now: SimTime,
                  heal: Option<SimTime>,
                  out: &mut Vec<Violation>| {
        let Some(h) = heal else { return };
        let from = since.max(h);
        if now.since(from) > bound {
            out.push(Violation {
                oracle: "O10",
                t: from + bound,
                subject: scope.to_string(),
                detail: format!(
                    "no tab runs the transport from {from} for more than {bound} ms after the heal"
                ),
            });
        }
    };
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
                scope_of.insert(tab, scope);
                members_of
                    .entry(scope.as_str())
                    .or_default()
                    .insert(tab.as_str());
                role_of.insert(tab, *role);
                tab.as_str()
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                frozen.insert(tab);
                tab.as_str()
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                frozen.remove(tab.as_str());
                tab.as_str()
            }
            _ => continue,
        };
        let Some(&scope) = scope_of.get(tab) else {
            continue;
        };
        let members = &members_of[scope];
        let live = members
            .iter()
            .filter(|m| role_of.get(*m) != Some(&Role::Closed))
            .count();
        let running = members.iter().any(|m| {
            !frozen.contains(m) && matches!(role_of.get(m), Some(Role::Leader | Role::Solo))
        });
        match (running || live == 0, leaderless_since.get(scope).copied()) {
            (false, None) => {
                leaderless_since.insert(scope, t);
            }
            (true, Some(since)) => {
                leaderless_since.remove(scope);
                if !reported.contains(scope) {
                    let before = out.len();
                    report(scope, since, t, heal, &mut out);
                    if out.len() > before {
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
            report(scope, since, end, heal, &mut out);
        }
    }
    out
}
