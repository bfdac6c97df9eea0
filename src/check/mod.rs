//! Oracles (SPEC O1-O11, and O12 for the rollout flags of C13): one checker per concern, each reading only the
//! history and the final state. Safety checkers walk every step; liveness
//! checkers (convergence) look at the state after the settle window.

mod o10_focus;
mod o10_handoff;
mod o10_hard_recover;
mod o10_recovery;
pub mod o11_latency;
mod o12_flags;
mod o1_exactly_once;
mod o1_restart;
mod o1_ui;
mod o2_convergence;
mod o3_order;
mod o4_churn;
pub mod o4_one_leader;
mod o5_isolation;
pub mod o6_auth;
mod o6_banner;
pub mod o7_pacing;
mod o8_long_poll;
mod o8_metrics;
mod o8_server_bounds;
mod o9_debounce;
mod o9_reconcile;

use crate::observation::{FinalState, History, Observation, Outcome, RequestKind, Role};
use crate::scenario::{FaultKind, Scenario};
use crate::time::SimTime;
use serde::Serialize;

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
        o1_restart::check(ev),
        o1_ui::check(ev),
        o2_convergence::check(ev),
        o3_order::check(ev),
        o4_one_leader::check(ev),
        o4_churn::check(ev),
        o5_isolation::check(ev),
        o6_auth::check(ev),
        o6_banner::check(ev),
        o7_pacing::check(ev),
        o8_server_bounds::check(ev),
        o8_long_poll::check(ev),
        o8_metrics::check(ev),
        o9_debounce::check(ev),
        o9_reconcile::check(ev),
        o10_recovery::check(ev),
        o10_handoff::check(ev),
        o10_focus::check(ev),
        o10_hard_recover::check(ev),
        o11_latency::check(ev),
        o12_flags::check(ev),
    ] {
        found.truncate(PER_ORACLE_LIMIT);
        all.extend(found);
    }
    all.sort_by(|a, b| (a.t, a.oracle, &a.subject).cmp(&(b.t, b.oracle, &b.subject)));
    all
}

/// The oracles a run gave something to judge: the history holds the steps
/// the oracle reads (an applied event for O1, a leader in a browser of two
/// tabs or more for O4, a refresh or a logout for O6, ...). A swarm batch
/// counts them, so a batch that never exercised an oracle shows it.
pub fn applied(ev: &Evidence) -> Vec<&'static str> {
    let mut seen = std::collections::BTreeSet::new();
    let multi_tab = ev.scenario.topology.tabs_per_browser > 1
        || ev.scenario.faults.iter().any(|f| f.spec.name == "open_tab");
    for step in &ev.history.steps {
        let o: &[&'static str] = match &step.obs {
            Observation::Applied { .. } => &["O1"],
            Observation::Delivered { .. } => &["O3", "O5"],
            Observation::Role {
                role: Role::Leader, ..
            } if multi_tab => &["O4", "O10"],
            Observation::Role {
                role: Role::Leader, ..
            } => &["O10"],
            Observation::Request {
                what: RequestKind::Refresh | RequestKind::Logout,
                ..
            } => &["O6"],
            Observation::Request {
                what: RequestKind::Poll,
                ..
            } => &["O7"],
            Observation::PollServed { .. } | Observation::Metrics { .. } => &["O8"],
            Observation::Request {
                what: RequestKind::Aggregate,
                ..
            } => &["O9"],
            Observation::Degraded { on: true, .. } | Observation::ShadowEvents { .. } => &["O12"],
            _ => &[],
        };
        seen.extend(o.iter().copied());
    }
    if !ev.last.tabs.is_empty() {
        seen.insert("O2");
    }
    if ev.scenario.must_hold().iter().any(|o| o == "O11") {
        seen.insert("O11");
    }
    crate::scenario::ORACLES
        .iter()
        .copied()
        .filter(|o| seen.contains(o))
        .collect()
}

/// Whether a call ended in failure as the SPEC counts one (C4): a network
/// failure, a timeout or a 5xx. An abort is the tab's own doing, not a failure.
pub(crate) fn call_failed(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Status(s) => *s >= 500,
        Outcome::NetError | Outcome::Timeout => true,
        Outcome::Aborted => false,
    }
}

/// Whether a fault that slows or cuts browser `(org, browser)`'s calls (added
/// latency, a partition either way, slow write answers) is on at some time in
/// `[from, to]`, by the scenario's fault plan. A timing bound that assumes
/// calls go through at the scenario's normal latency does not count then.
pub(crate) fn calls_impaired(
    scenario: &Scenario,
    (org, browser): (u32, u32),
    from: SimTime,
    to: SimTime,
) -> bool {
    scenario.faults.iter().any(|f| {
        let slows = matches!(
            f.kind,
            FaultKind::Partition
                | FaultKind::PartitionOneway(_)
                | FaultKind::Latency { .. }
                | FaultKind::MutateSlow
        );
        let until = f.ends(scenario.duration);
        slows
            && f.at <= to
            && until >= from
            && f.target
                .browsers(&scenario.topology)
                .contains(&(org, browser))
    })
}
