//! O10 at a clean handoff (L3, L5): a leader that closes its tab gives the
//! scope up at once (its lease removed, or its lock released), so a follower
//! that is there to take over leads within `HANDOFF_BOUND_MS`, not after the
//! takeover timeout a crash needs.
//!
//! It applies when, as the leader closes, some tab of its scope is a follower
//! that stays open, visible, unfrozen and signed in throughout the window (a
//! hidden tab's timers are throttled, B4, so its recheck may come late).
//! Falling back to polling alone (`Solo`) counts as taking over.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation, Role};
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A removed lease reaches the other tabs in tens of milliseconds (B1); the
/// claim's recheck is `lease_recheck_ms` (100) later. Two seconds leaves room.
pub const HANDOFF_BOUND_MS: u64 = 2_000;

/// A tab that could take over: the time it stopped being able to, if it did.
type Ready = BTreeMap<Actor, Option<SimTime>>;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let mut scope_of: BTreeMap<Actor, String> = BTreeMap::new();
    let mut role_of: BTreeMap<Actor, Role> = BTreeMap::new();
    let mut unready: BTreeSet<Actor> = BTreeSet::new();
    // (scope, when the leader closed, the followers ready then).
    let mut handoffs: Vec<(String, Actor, SimTime, Ready)> = Vec::new();
    // When each scope got a tab running its transport.
    let mut took_over: BTreeMap<String, BTreeSet<SimTime>> = BTreeMap::new();
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Role {
                tab, scope, role, ..
            } => {
                scope_of.insert(*tab, scope.clone());
                role_of.insert(*tab, *role);
                if matches!(role, Role::Leader | Role::Solo) {
                    took_over.entry(scope.clone()).or_default().insert(t);
                }
            }
            Observation::Lifecycle { tab, what } => {
                let leaving = matches!(what.as_str(), "hide" | "freeze" | "close" | "crash");
                if what == "close" && role_of.get(tab) == Some(&Role::Leader) {
                    let scope = scope_of[tab].clone();
                    let ready: Ready = scope_of
                        .iter()
                        .filter(|(other, s)| {
                            *other != tab
                                && **s == scope
                                && role_of.get(*other) == Some(&Role::Follower)
                                && !unready.contains(*other)
                        })
                        .map(|(other, _)| (*other, None))
                        .collect();
                    handoffs.push((scope, *tab, t, ready));
                }
                if leaving {
                    unready.insert(*tab);
                } else if matches!(what.as_str(), "show" | "thaw") {
                    unready.remove(tab);
                }
                mark_unready(&mut handoffs, tab, t, leaving);
            }
            Observation::SignedOut { tab, .. } => {
                unready.insert(*tab);
                mark_unready(&mut handoffs, tab, t, true);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (scope, leader, t0, ready) in handoffs {
        let due = t0 + HANDOFF_BOUND_MS;
        let stays = ready.values().any(|left| left.is_none_or(|l| l > due));
        let led = took_over
            .get(&scope)
            .is_some_and(|ts| ts.range(t0..=due).next().is_some());
        if stays && !led && due <= ev.scenario.end() {
            out.push(Violation {
                oracle: "O10",
                t: due,
                subject: scope.clone(),
                detail: format!(
                    "no tab took over within {HANDOFF_BOUND_MS} ms of leader {leader} closing, with a follower ready"
                ),
            });
        }
    }
    out
}

/// A follower counted on for a handoff that hides, freezes, closes or signs out.
fn mark_unready(
    handoffs: &mut [(String, Actor, SimTime, Ready)],
    tab: &Actor,
    t: SimTime,
    leaving: bool,
) {
    if !leaving {
        return;
    }
    for (_, _, _, ready) in handoffs.iter_mut() {
        if let Some(left @ None) = ready.get_mut(tab) {
            *left = Some(t);
        }
    }
}
