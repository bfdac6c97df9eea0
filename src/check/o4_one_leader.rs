//! O4: at most one leader per scope, and at most one backend stream per scope
//! outside declared fallback (v1's poll; v2's stream behind the leader). A moment with two is a split-brain window; each
//! window is recorded with its start, length and cause, and one longer than
//! `split_brain_bound_ms` (or still open at the end) is a violation.
//!
//! The scope is the SPEC's (L1), worked out here, not read from the tabs:
//! with `scope = "browser-org"` a browser's tabs of its org; with `"session"`
//! the tabs signed in with one login session, which is the one its browser
//! last logged in with (every open tab gets a new login at once). A tab that
//! keys its election wrongly is then still counted in the scope it belongs to.
//!
//! A tab leads while its last announced role is leader and it is neither
//! frozen nor closed or crashed (its lifecycle says so, whatever it last
//! announced: a real tab that crashes says nothing on its way out). Streams
//! are judged where the history has requests (a recording may not:
//! `recording`).

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::client::leader::Scope;
use crate::observation::Role;
use crate::observation::{Actor, Observation, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// One window with two leaders (or two streams) in a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitBrain {
    pub scope: String,
    pub start: SimTime,
    pub length_ms: u64,
    pub cause: String,
    /// "leaders" or "streams".
    pub what: &'static str,
}

#[derive(Default)]
struct ScopeState {
    leaders: BTreeSet<Actor>,
    streams: BTreeSet<Actor>,
    leader_window: Option<(SimTime, String)>,
    stream_window: Option<(SimTime, String)>,
}

/// The scope a tab belongs to by the SPEC (L1), from the logins the history shows.
pub(super) struct Scopes {
    /// How the scenario scopes elections.
    scoping: Scope,
    /// Each browser's latest login session, by (org, user).
    login_session: BTreeMap<(u32, u32), u64>,
}

impl Scopes {
    pub(super) fn for_scenario(scenario: &Scenario) -> Scopes {
        Scopes {
            scoping: scenario.config.provider.leader.scope,
            login_session: BTreeMap::new(),
        }
    }

    pub(super) fn see(&mut self, obs: &Observation) {
        if let Observation::TokenIssued {
            org,
            user,
            session,
            via,
            ..
        } = obs
        {
            if via == "login" {
                self.login_session.insert((*org, *user), *session);
            }
        }
    }

    /// The scope `tab` is in now.
    pub(super) fn of(&self, tab: Actor) -> String {
        match self.scoping {
            Scope::BrowserOrg => format!("org{}-browser{}", tab.org, tab.browser),
            Scope::Session => match self.login_session.get(&(tab.org, tab.browser)) {
                Some(session) => format!("session-{session}"),
                None => format!("org{}-browser{} before its login", tab.org, tab.browser),
            },
        }
    }
}

/// What O4 knows of one tab: its scope, role, whether it is frozen or gone,
/// its polls in flight. One entry per tab, so a step looks its tab up once.
#[derive(Default)]
struct Standing {
    /// Its scope's number in `Tabs::scope_names`, from its last role.
    scope: Option<usize>,
    role: Option<Role>,
    frozen: bool,
    /// Closed or crashed: it runs nothing, whatever role it last announced
    /// (a recorded tab that crashes says nothing on its way out).
    gone: bool,
    /// The requests of its polls in flight.
    polls: Vec<u64>,
}

impl Standing {
    /// Whether the tab leads, and whether it runs a stream, now.
    fn now(&self) -> (bool, bool) {
        let active = !self.frozen && !self.gone && self.role != Some(Role::Closed);
        let leads = active && self.role == Some(Role::Leader);
        let streams = active && self.role != Some(Role::Solo) && !self.polls.is_empty();
        (leads, streams)
    }
}

/// What O4 knows of each tab, and the scopes it has seen, each named once.
struct Tabs {
    scopes: Scopes,
    of: PerActor<Standing>,
    /// Every scope seen, by name: its number, which indexes `Checker::scopes`.
    scope_numbers: BTreeMap<String, usize>,
    scope_names: Vec<String>,
    /// v2 behind the leader: the scope's one stream counts as its poll.
    shared_streams: bool,
    last_fault: String,
}

impl Tabs {
    /// Take in one step; the tab whose standing it may have changed.
    fn touch(&mut self, obs: &Observation) -> Option<Actor> {
        self.scopes.see(obs);
        match obs {
            Observation::Fault { what } => {
                self.last_fault = what.clone();
                None
            }
            Observation::Role { tab, role, .. } => {
                let scope = self.number(self.scopes.of(*tab));
                let standing = self.of.or_default(*tab);
                standing.scope = Some(scope);
                standing.role = Some(*role);
                Some(*tab)
            }
            Observation::Lifecycle { tab, what } => {
                let standing = self.of.or_default(*tab);
                match what.as_str() {
                    "freeze" => standing.frozen = true,
                    "thaw" => standing.frozen = false,
                    "close" | "crash" => standing.gone = true,
                    _ => {}
                };
                Some(*tab)
            }
            Observation::Request { tab, req, what, .. }
                if *what == RequestKind::Poll
                    || (self.shared_streams && *what == RequestKind::Stream) =>
            {
                let polls = &mut self.of.or_default(*tab).polls;
                if !polls.contains(req) {
                    polls.push(*req);
                }
                Some(*tab)
            }
            Observation::Response { tab, req, .. } => {
                let polls = &mut self.of.get_mut(tab)?.polls;
                let at = polls.iter().position(|r| r == req)?;
                polls.swap_remove(at);
                Some(*tab)
            }
            _ => None,
        }
    }

    /// The number of the scope called `name`, numbering it if it is new.
    fn number(&mut self, name: String) -> usize {
        if let Some(&n) = self.scope_numbers.get(&name) {
            return n;
        }
        let n = self.scope_names.len();
        self.scope_numbers.insert(name.clone(), n);
        self.scope_names.push(name);
        n
    }
}

/// O4's state: each tab's standing, each scope's leaders and streams and
/// open windows, and the windows closed so far (in the order they closed,
/// until `finish` puts them in time order).
pub struct Checker {
    /// Whether streams are judged too: a recording without requests shows none.
    streams: bool,
    tabs: Tabs,
    /// Each scope's leaders, streams and open windows, by its number.
    scopes: Vec<ScopeState>,
    found: Vec<SplitBrain>,
}

impl Checker {
    pub fn new(scenario: &Scenario, streams: bool) -> Self {
        Checker {
            streams,
            tabs: Tabs {
                scopes: Scopes::for_scenario(scenario),
                of: PerActor::default(),
                scope_numbers: BTreeMap::new(),
                scope_names: Vec::new(),
                shared_streams: scenario.config.provider.stream_behind_leader,
                last_fault: String::from("no fault"),
            },
            scopes: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Every split-brain window of the run, in time order; complete once
    /// `finish` has closed the windows still open at the end.
    pub fn windows(&self) -> Vec<SplitBrain> {
        self.found.clone()
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        let tabs = &mut self.tabs;
        let Some(tab) = tabs.touch(&step.obs) else {
            return;
        };
        let Some(standing) = tabs.of.get(&tab) else {
            return;
        };
        let Some(n) = standing.scope else {
            return;
        };
        let (leads, streams) = standing.now();
        if self.scopes.len() <= n {
            self.scopes.resize_with(n + 1, ScopeState::default);
        }
        let (st, scope) = (&mut self.scopes[n], &tabs.scope_names[n]);
        toggle(&mut st.leaders, tab, leads);
        toggle(&mut st.streams, tab, streams);
        // Spelled only when a window opens: this runs at every poll's start and end.
        let cause = || format!("{} ({})", tabs.last_fault, tab);
        let two_leaders = st.leaders.len() > 1;
        let two_streams = self.streams && st.streams.len() > 1;
        track(
            &mut st.leader_window,
            two_leaders,
            t,
            &cause,
            scope,
            "leaders",
            &mut self.found,
        );
        track(
            &mut st.stream_window,
            two_streams,
            t,
            &cause,
            scope,
            "streams",
            &mut self.found,
        );
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        // A window still open at the end lasts until the end.
        let end_t = end.scenario.end();
        // Scope by scope in the order of their names, as the windows' order
        // among equal starts depends on it.
        for (scope, &n) in &self.tabs.scope_numbers {
            let Some(st) = self.scopes.get_mut(n) else {
                continue;
            };
            track(
                &mut st.leader_window,
                false,
                end_t,
                &String::new,
                scope,
                "leaders",
                &mut self.found,
            );
            track(
                &mut st.stream_window,
                false,
                end_t,
                &String::new,
                scope,
                "streams",
                &mut self.found,
            );
        }
        self.found
            .sort_by(|a, b| (a.start, &a.scope, a.what).cmp(&(b.start, &b.scope, b.what)));
        let bound = end.scenario.config.check.split_brain_bound_ms;
        self.found
            .iter()
            .filter(|w| w.length_ms > bound)
            .map(|w| Violation {
                oracle: "O4",
                t: w.start,
                subject: w.scope.clone(),
                detail: format!(
                    "two {} for {} ms (bound {bound} ms), started by {}",
                    w.what, w.length_ms, w.cause
                ),
            })
            .collect()
    }

    fn figures(&self, figures: &mut super::Figures) {
        figures.split_brains = self.windows();
    }
}

fn toggle(set: &mut BTreeSet<Actor>, tab: Actor, on: bool) {
    if on {
        set.insert(tab);
    } else {
        set.remove(&tab);
    }
}

fn track(
    window: &mut Option<(SimTime, String)>,
    split: bool,
    t: SimTime,
    cause: &dyn Fn() -> String,
    scope: &str,
    what: &'static str,
    found: &mut Vec<SplitBrain>,
) {
    match (window.as_ref(), split) {
        (None, true) => *window = Some((t, cause())),
        (Some((start, cause)), false) => {
            found.push(SplitBrain {
                scope: scope.to_string(),
                start: *start,
                length_ms: t.since(*start),
                cause: cause.clone(),
                what,
            });
            *window = None;
        }
        _ => {}
    }
}
