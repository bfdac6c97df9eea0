//! O10 at a clean handoff (L3, L5): a leader that closes its tab gives the
//! scope up at once (its lease removed, or its lock released), so a follower
//! that is there to take over leads within `HANDOFF_BOUND_MS`, not after the
//! takeover timeout a crash needs.
//!
//! It applies when, as the leader closes, some tab of its scope is a follower
//! that stays open, visible, unfrozen and signed in throughout the window (a
//! hidden tab's timers are throttled, B4, so its recheck may come late).
//! Falling back to polling alone (`Solo`) counts as taking over.

use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, Role, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// A removed lease reaches the other tabs in tens of milliseconds (B1); the
/// claim's recheck is `lease_recheck_ms` (100) later. Two seconds leaves room.
pub const HANDOFF_BOUND_MS: u64 = 2_000;

/// A tab that could take over: the time it stopped being able to, if it did.
type Ready = BTreeMap<Actor, Option<SimTime>>;

/// The scope and role of each tab, which tabs cannot take over now, each
/// leader's close with the followers ready then, and when each scope got a
/// tab running its transport: a handoff is judged once the run is over, since
/// the takeover may come up to the bound after the close.
#[derive(Default)]
pub struct Checker {
    scope_of: BTreeMap<Actor, String>,
    role_of: BTreeMap<Actor, Role>,
    unready: BTreeSet<Actor>,
    /// (scope, the leader that closed, when, the followers ready then).
    handoffs: Vec<(String, Actor, SimTime, Ready)>,
    /// When each scope got a tab running its transport.
    took_over: BTreeMap<String, BTreeSet<SimTime>>,
}

impl Checker {
    /// A tab's lifecycle: a leader's close opens a handoff; leaving or coming
    /// back changes who is ready.
    fn lifecycle(&mut self, tab: &Actor, what: &str, t: SimTime) {
        let leaving = matches!(what, "hide" | "freeze" | "close" | "crash");
        if what == "close" && self.role_of.get(tab) == Some(&Role::Leader) {
            let scope = self.scope_of[tab].clone();
            let ready: Ready = self
                .scope_of
                .iter()
                .filter(|(other, s)| {
                    *other != tab
                        && **s == scope
                        && self.role_of.get(*other) == Some(&Role::Follower)
                        && !self.unready.contains(*other)
                })
                .map(|(other, _)| (*other, None))
                .collect();
            self.handoffs.push((scope, *tab, t, ready));
        }
        if leaving {
            self.unready.insert(*tab);
        } else if matches!(what, "show" | "thaw") {
            self.unready.remove(tab);
        }
        mark_unready(&mut self.handoffs, tab, t, leaving);
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        match &step.obs {
            Observation::Role {
                tab, scope, role, ..
            } => {
                self.scope_of.insert(*tab, scope.clone());
                self.role_of.insert(*tab, *role);
                if matches!(role, Role::Leader | Role::Solo) {
                    self.took_over.entry(scope.clone()).or_default().insert(t);
                }
            }
            Observation::Lifecycle { tab, what } => self.lifecycle(tab, what, t),
            Observation::SignedOut { tab, .. } => {
                self.unready.insert(*tab);
                mark_unready(&mut self.handoffs, tab, t, true);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = Vec::new();
        for (scope, leader, t0, ready) in std::mem::take(&mut self.handoffs) {
            let due = t0 + HANDOFF_BOUND_MS;
            let stays = ready.values().any(|left| left.is_none_or(|l| l > due));
            let led = self
                .took_over
                .get(&scope)
                .is_some_and(|ts| ts.range(t0..=due).next().is_some());
            if stays && !led && due <= end.scenario.end() {
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
