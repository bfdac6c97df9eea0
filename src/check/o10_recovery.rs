//! O10: after the faults heal, every scope with live tabs has a tab running the
//! transport (a leader, or every tab in declared fallback) within
//! `leader_bound_ms`, and keeps one to the end. (Cache convergence within the
//! settle window is O2's.)

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::observation::Role;
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
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
fn served(members: &BTreeSet<Actor>, role_of: &PerActor<Role>, frozen: &PerActor<()>) -> bool {
    let live = members
        .iter()
        .filter(|m| role_of.get(*m) != Some(&Role::Closed))
        .count();
    let running = members.iter().any(|m| {
        !frozen.contains_key(m) && matches!(role_of.get(m), Some(Role::Leader | Role::Solo))
    });
    running || live == 0
}

/// Each tab's scope and role, each scope's members, the frozen tabs, since
/// when each scope has gone without a transport, the heal, and the scopes
/// already reported (each is reported once).
#[derive(Default)]
pub struct Checker {
    scope_of: PerActor<String>,
    role_of: PerActor<Role>,
    members_of: BTreeMap<String, BTreeSet<Actor>>,
    frozen: PerActor<()>,
    /// Per scope: since when no live tab has run the transport.
    leaderless_since: BTreeMap<String, SimTime>,
    heal: Option<SimTime>,
    /// Violations as the scopes regain a transport.
    found: Vec<Violation>,
    reported: BTreeSet<String>,
}

impl Checker {
    /// The tab concerned by a step that can change whether its scope is served.
    fn track(&mut self, step: &Step) -> Option<Actor> {
        match &step.obs {
            Observation::Heal => {
                self.heal = Some(step.t);
                None
            }
            Observation::Role {
                tab, scope, role, ..
            } => {
                self.scope_of.insert(*tab, scope.clone());
                self.members_of
                    .entry(scope.clone())
                    .or_default()
                    .insert(*tab);
                self.role_of.insert(*tab, *role);
                Some(*tab)
            }
            Observation::Lifecycle { tab, what } if what == "freeze" => {
                self.frozen.insert(*tab, ());
                Some(*tab)
            }
            Observation::Lifecycle { tab, what } if what == "thaw" => {
                self.frozen.remove(tab);
                Some(*tab)
            }
            _ => None,
        }
    }
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let bound = scenario.config.check.leader_bound_ms;
        let t = step.t;
        let Some(tab) = self.track(step) else {
            return;
        };
        let Some(scope) = self.scope_of.get(&tab) else {
            return;
        };
        let members = self.members_of.get(scope.as_str());
        let ok = members.is_some_and(|m| served(m, &self.role_of, &self.frozen));
        match (ok, self.leaderless_since.get(scope.as_str()).copied()) {
            (false, None) => {
                self.leaderless_since.insert(scope.clone(), t);
            }
            (true, Some(since)) => {
                self.leaderless_since.remove(scope.as_str());
                if !self.reported.contains(scope.as_str()) {
                    if let Some(v) = overdue(bound, scope, since, t, self.heal) {
                        self.found.push(v);
                        self.reported.insert(scope.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let bound = end.scenario.config.check.leader_bound_ms;
        let mut out = std::mem::take(&mut self.found);
        let end = end.scenario.end();
        for (scope, &since) in &self.leaderless_since {
            if !self.reported.contains(scope) {
                out.extend(overdue(bound, scope, since, end, self.heal));
            }
        }
        out
    }
}
