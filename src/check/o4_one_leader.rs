//! O4: at most one leader per scope, and at most one backend stream per scope
//! outside declared fallback. A moment with two is a split-brain window; each
//! window is recorded with its start, length and cause, and one longer than
//! `split_brain_bound_ms` (or still open at the end) is a violation.

use super::{Evidence, Violation};
use crate::observation::Role;
use crate::observation::{Observation, RequestKind};
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
    leaders: BTreeSet<String>,
    streams: BTreeSet<String>,
    leader_window: Option<(SimTime, String)>,
    stream_window: Option<(SimTime, String)>,
}

/// Every split-brain window of the run, in time order.
pub fn windows(ev: &Evidence) -> Vec<SplitBrain> {
    let mut scope_of: BTreeMap<&str, String> = BTreeMap::new();
    let mut role_of: BTreeMap<&str, Role> = BTreeMap::new();
    let mut frozen: BTreeSet<&str> = BTreeSet::new();
    let mut polls: BTreeMap<(&str, u64), ()> = BTreeMap::new();
    let mut scopes: BTreeMap<String, ScopeState> = BTreeMap::new();
    let mut found = Vec::new();
    let mut last_fault = String::from("no fault");
    for step in &ev.history.steps {
        let t = step.t;
        let touched: Option<&str> = match &step.obs {
            Observation::Fault { what } => {
                last_fault = what.clone();
                None
            }
            Observation::Role {
                tab, scope, role, ..
            } => {
                scope_of.insert(tab, scope.clone());
                role_of.insert(tab, *role);
                Some(tab)
            }
            Observation::Lifecycle { tab, what } => {
                match what.as_str() {
                    "freeze" => frozen.insert(tab),
                    "thaw" => frozen.remove(tab.as_str()),
                    _ => false,
                };
                Some(tab)
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Poll,
                ..
            } => {
                polls.insert((tab, *req), ());
                Some(tab)
            }
            Observation::Response { tab, req, .. } => {
                polls.remove(&(tab.as_str(), *req)).map(|_| tab.as_str())
            }
            _ => None,
        };
        let Some(tab) = touched else { continue };
        let Some(scope) = scope_of.get(tab) else {
            continue;
        };
        let role = role_of.get(tab).copied();
        let active = !frozen.contains(tab) && role != Some(Role::Closed);
        let st = scopes.entry(scope.clone()).or_default();
        let leads = active && role == Some(Role::Leader);
        let streams = active
            && role != Some(Role::Solo)
            && polls.range((tab, 0)..=(tab, u64::MAX)).next().is_some();
        toggle(&mut st.leaders, tab, leads);
        toggle(&mut st.streams, tab, streams);
        let cause = format!("{} ({})", last_fault, tab);
        track(
            &mut st.leader_window,
            st.leaders.len() > 1,
            t,
            &cause,
            scope,
            "leaders",
            &mut found,
        );
        track(
            &mut st.stream_window,
            st.streams.len() > 1,
            t,
            &cause,
            scope,
            "streams",
            &mut found,
        );
    }
    let end = ev.scenario.end();
    for (scope, st) in &mut scopes {
        track(
            &mut st.leader_window,
            false,
            end,
            "",
            scope,
            "leaders",
            &mut found,
        );
        track(
            &mut st.stream_window,
            false,
            end,
            "",
            scope,
            "streams",
            &mut found,
        );
    }
    found.sort_by(|a, b| (a.start, &a.scope, a.what).cmp(&(b.start, &b.scope, b.what)));
    found
}

fn toggle(set: &mut BTreeSet<String>, tab: &str, on: bool) {
    if on {
        set.insert(tab.to_string());
    } else {
        set.remove(tab);
    }
}

fn track(
    window: &mut Option<(SimTime, String)>,
    split: bool,
    t: SimTime,
    cause: &str,
    scope: &str,
    what: &'static str,
    found: &mut Vec<SplitBrain>,
) {
    match (window.as_ref(), split) {
        (None, true) => *window = Some((t, cause.to_string())),
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

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let bound = ev.scenario.config.check.split_brain_bound_ms;
    windows(ev)
        .into_iter()
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
