//! Oracles (SPEC O1-O11, and O12 for the rollout flags of C13): one checker per concern, each reading only the
//! history and the final state. Each takes the history a step at a time as the
//! driver records it (`Check`); safety checkers judge each step, liveness
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

use crate::observation::{FinalState, Observation, Outcome, RequestKind, Role, Step};
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

/// A checker reads the history one step at a time, as a driver records it,
/// and keeps only the state its property needs (as TigerBeetle's checkers do
/// through hooks), so a run's memory is its live state, not its history.
/// `finish` judges what is left once the run ends. The same checker serves a
/// live run and a stored history fed after it (`run::run_stored`) alike.
pub trait Check {
    fn step(&mut self, scenario: &Scenario, step: &Step);
    /// The violations found, in the order the checker found them.
    fn finish(&mut self, end: &End) -> Vec<Violation>;
    /// Hand the figures this checker computed for the summary, after `finish`.
    fn figures(&self, _: &mut Figures) {}
}

/// What a checker sees once the run is over.
pub struct End<'a> {
    pub scenario: &'a Scenario,
    pub last: &'a FinalState,
}

/// The figures of a run its summary reports, which checkers compute on the way.
#[derive(Default)]
pub struct Figures {
    /// O4: every window with two leaders or two streams in a scope.
    pub split_brains: Vec<o4_one_leader::SplitBrain>,
    /// O6: the refresh and logout figures.
    pub auth: o6_auth::AuthAudit,
    /// O11: every realtime apply's event-to-UI latency in ms, sorted.
    pub ui_latencies: Vec<u64>,
    /// O7: the most requests one tab sent in any 60 s.
    pub peak_requests_per_tab_per_min: u64,
    /// The oracles the run gave something to judge (`Exercised`).
    pub applied: Vec<&'static str>,
}

/// Every checker, fed the same steps in the same order.
pub struct Checkers {
    checks: Vec<Box<dyn Check>>,
}

impl Checkers {
    pub fn new(s: &Scenario) -> Self {
        Checkers {
            checks: vec![
                Box::<o1_exactly_once::Checker>::default(),
                Box::<o1_restart::Checker>::default(),
                Box::new(o1_ui::Checker::new(s)),
                Box::new(o2_convergence::Checker),
                Box::<o3_order::Checker>::default(),
                Box::new(o4_one_leader::Checker::new(s)),
                Box::new(o4_churn::Checker::new(s)),
                Box::<o5_isolation::Checker>::default(),
                Box::new(o6_auth::Checker::new(s)),
                Box::<o6_banner::Checker>::default(),
                Box::<o7_pacing::Checker>::default(),
                Box::new(o8_server_bounds::Checker::new(s)),
                Box::<o8_long_poll::Checker>::default(),
                Box::<o8_metrics::Checker>::default(),
                Box::new(o9_debounce::Checker::new(s)),
                Box::<o9_reconcile::Checker>::default(),
                Box::<o10_recovery::Checker>::default(),
                Box::<o10_handoff::Checker>::default(),
                Box::<o10_focus::Checker>::default(),
                Box::<o10_hard_recover::Checker>::default(),
                Box::<o11_latency::Checker>::default(),
                Box::new(o12_flags::Checker::new(s)),
                Box::new(Exercised::new(s)),
            ],
        }
    }

    pub fn step(&mut self, scenario: &Scenario, step: &Step) {
        for check in &mut self.checks {
            check.step(scenario, step);
        }
    }

    /// Every violation, in time order, per checker at most `PER_CHECKER_LIMIT`
    /// of them so a broken run stays readable; and the run's figures.
    pub fn finish(mut self, end: &End) -> (Vec<Violation>, Figures) {
        const PER_CHECKER_LIMIT: usize = 20;
        let mut all = Vec::new();
        let mut figures = Figures::default();
        for check in &mut self.checks {
            let mut found = check.finish(end);
            found.truncate(PER_CHECKER_LIMIT);
            all.extend(found);
            check.figures(&mut figures);
        }
        all.sort_by(|a, b| (a.t, a.oracle, &a.subject).cmp(&(b.t, b.oracle, &b.subject)));
        (all, figures)
    }
}

/// The oracles a run gave something to judge: the history holds the steps
/// the oracle reads (an applied event for O1, a leader in a browser of two
/// tabs or more for O4, a refresh or a logout for O6, ...). A swarm batch
/// counts them, so a batch that never exercised an oracle shows it.
struct Exercised {
    multi_tab: bool,
    seen: std::collections::BTreeSet<&'static str>,
    applied: Vec<&'static str>,
}

impl Exercised {
    fn new(scenario: &Scenario) -> Self {
        Exercised {
            multi_tab: scenario.topology.tabs_per_browser > 1
                || scenario.faults.iter().any(|f| f.spec.name == "open_tab"),
            seen: Default::default(),
            applied: Vec::new(),
        }
    }
}

impl Check for Exercised {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let multi_tab = self.multi_tab;
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
        self.seen.extend(o.iter().copied());
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        if !end.last.tabs.is_empty() {
            self.seen.insert("O2");
        }
        if end.scenario.must_hold().iter().any(|o| o == "O11") {
            self.seen.insert("O11");
        }
        self.applied = crate::scenario::ORACLES
            .iter()
            .copied()
            .filter(|o| self.seen.contains(o))
            .collect();
        Vec::new()
    }

    fn figures(&self, figures: &mut Figures) {
        figures.applied = self.applied.clone();
    }
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
