//! Oracles (SPEC O1-O11, and O12 for the rollout flags of C13): one checker per concern, each reading only the
//! history and the final state. Safety checkers walk every step; liveness
//! checkers (convergence) look at the state after the settle window.

pub mod history;
mod o10_recovery;
pub mod o11_latency;
mod o12_flags;
mod o1_exactly_once;
mod o1_ui;
mod o2_convergence;
mod o3_order;
pub mod o4_one_leader;
mod o5_isolation;
pub mod o6_auth;
mod o7_pacing;
mod o8_server_bounds;
mod o9_debounce;

use crate::scenario::Scenario;
use crate::time::SimTime;
use history::{FinalState, History};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq)]
pub struct CheckConfig {
    /// O7: at most this many requests from one tab in any 60 s window.
    pub max_requests_per_tab_per_min: usize,
    /// O4: the longest a split brain (two leaders, or two streams, in one scope) may last.
    pub split_brain_bound_ms: u64,
    /// O10: after the heal, every scope with live tabs has a leader within this long.
    pub leader_bound_ms: u64,
    /// O6: every tab of a session is silent this long after its logout (A4).
    pub logout_silence_bound_ms: u64,
    /// O9: a tab refetches its aggregates at most once per this long.
    pub derived_min_gap_ms: u64,
    /// O11: the event-to-UI latency p99 stays under this on a healthy network.
    pub ui_latency_p99_bound_ms: u64,
    /// O1 (U2): an optimistic row is settled within this long (the echo
    /// timeout plus one refetch) while the tab's calls go through.
    pub optimistic_resolve_bound_ms: u64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            max_requests_per_tab_per_min: 300,
            split_brain_bound_ms: 3_000,
            leader_bound_ms: 45_000,
            logout_silence_bound_ms: 200,
            derived_min_gap_ms: 1_000,
            ui_latency_p99_bound_ms: 2_000,
            optimistic_resolve_bound_ms: 8_000,
        }
    }
}

/// One broken promise: which oracle, who, what, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub oracle: &'static str,
    pub t: SimTime,
    /// The tab, org or server concerned.
    pub subject: String,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {} {}: {}",
            self.oracle, self.t, self.subject, self.detail
        )
    }
}

/// What the checkers look at.
pub struct Evidence<'a> {
    pub scenario: &'a Scenario,
    pub history: &'a History,
    pub last: &'a FinalState,
}

/// Run every checker; violations come back in time order, per oracle at most
/// `PER_ORACLE_LIMIT` of them so a broken run stays readable.
pub fn check_all(ev: &Evidence) -> Vec<Violation> {
    const PER_ORACLE_LIMIT: usize = 20;
    let mut all = Vec::new();
    for mut found in [
        o1_exactly_once::check(ev),
        o1_ui::check(ev),
        o2_convergence::check(ev),
        o3_order::check(ev),
        o4_one_leader::check(ev),
        o5_isolation::check(ev),
        o6_auth::check(ev),
        o7_pacing::check(ev),
        o8_server_bounds::check(ev),
        o9_debounce::check(ev),
        o10_recovery::check(ev),
        o11_latency::check(ev),
        o12_flags::check(ev),
    ] {
        found.truncate(PER_ORACLE_LIMIT);
        all.extend(found);
    }
    all.sort_by(|a, b| (a.t, a.oracle, &a.subject).cmp(&(b.t, b.oracle, &b.subject)));
    all
}
