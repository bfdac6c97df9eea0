//! O4 (L7): leadership does not churn. The SPEC's SLI is "under 5 changes a
//! day per tab", a figure no minutes-long run can measure; what a run can
//! show is the change that should never happen at all: a leader that steps
//! down while no other tab of its scope leads. Every legitimate way out of
//! leadership has another cause the history shows: the tab closes, crashes
//! or signs out (its role becomes closed), it was frozen within the window (B4:
//! its lease lapsed while it ran nothing), its page is entering the
//! back-forward cache (`pagehide`: frozen there, it must not keep the
//! role), its browser loses the mechanism
//! (it becomes solo, or a platform switch or a login came within the last
//! `heartbeat_ms + takeover_ms + takeover_jitter_ms`), or another tab already
//! leads the scope or is claiming it (a takeover it saw, or a split brain
//! resolving: O4's windows). A leader that
//! gives up a healthy scope leaves it without a transport until a follower
//! takes over, and costs every tab of it a handoff.
//!
//! Applies in every run; scopes are the SPEC's (`o4_one_leader::Scopes`).

use super::o4_one_leader::Scopes;
use super::{Check, End, Violation};
use crate::observation::{Actor, Observation, Role, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeMap;

pub struct Checker {
    /// How far back a platform switch, login or freeze excuses a step-down.
    window_ms: u64,
    scopes: Scopes,
    role_of: BTreeMap<Actor, (String, Role)>,
    /// The last platform switch or login of each browser.
    switched: BTreeMap<Actor, SimTime>,
    found: Vec<Violation>,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        let leader = &scenario.config.provider.leader;
        Self {
            window_ms: leader.heartbeat_ms + leader.takeover_ms + leader.takeover_jitter_ms,
            scopes: Scopes::for_scenario(scenario),
            role_of: BTreeMap::new(),
            switched: BTreeMap::new(),
            found: Vec::new(),
        }
    }

    /// `tab` took `role` at `t`: churn if it stepped down as leader unexcused.
    fn role(&mut self, t: SimTime, tab: Actor, role: Role) {
        let scope = self.scopes.of(tab);
        let was = self.role_of.insert(tab, (scope.clone(), role));
        let stepped_down = matches!(was, Some((_, Role::Leader)))
            && matches!(role, Role::Follower | Role::Claiming);
        if !stepped_down {
            return;
        }
        let other_leads = self.role_of.iter().any(|(a, (s, r))| {
            *a != tab && *s == scope && matches!(r, Role::Leader | Role::Claiming)
        });
        let recent = |who: Actor| {
            self.switched
                .get(&who)
                .is_some_and(|at| t.since(*at) <= self.window_ms)
        };
        if !other_leads && !recent(tab.of_browser()) && !recent(tab) {
            self.found.push(Violation {
                oracle: "O4",
                t,
                subject: tab.to_string(),
                detail: format!(
                    "stepped down as leader of {scope} with no other leader there, open, signed in and on an unchanged platform: leadership churn (L7)"
                ),
            });
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        self.scopes.see(&step.obs);
        match &step.obs {
            Observation::Lifecycle { tab, .. } if tab.tab.is_none() => {
                self.switched.insert(*tab, t);
            }
            Observation::SignedOut { tab, .. } => {
                self.switched.insert(*tab, t);
            }
            // B4: a frozen leader renews nothing, so a takeover while it ran
            // nothing (by a tab that may be gone by the thaw) is not churn.
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "freeze" | "thaw" | "pagehide") =>
            {
                self.switched.insert(*tab, t);
            }
            Observation::Role { tab, role, .. } => self.role(t, *tab, *role),
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
