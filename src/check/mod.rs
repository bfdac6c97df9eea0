//! Oracles (SPEC O1-O11, O12 for the rollout flags of C13, O13 for v2's replay,
//! O14 for its in-place subscriptions): one checker per concern, each reading only the
//! history and the final state. Each takes the history a step at a time as the
//! driver records it (`Check`); safety checkers judge each step, liveness
//! checkers (convergence) look at the state after the settle window.

mod o10_focus;
mod o10_handoff;
mod o10_hard_recover;
mod o10_recovery;
pub mod o11_latency;
mod o12_flags;
mod o13_replay;
mod o14_subscriptions;
mod o1_exactly_once;
mod o1_restart;
mod o1_ui;
mod o2_convergence;
mod o3_order;
mod o4_churn;
pub mod o4_one_leader;
mod o4_one_stream;
mod o5_isolation;
pub mod o6_auth;
mod o6_banner;
pub mod o7_pacing;
mod o8_long_poll;
mod o8_metrics;
mod o8_server_bounds;
mod o8_stream;
mod o9_debounce;
mod o9_reconcile;
mod per_actor;

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
pub trait Check: Send {
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
    /// O11: every realtime apply's event-to-UI latency.
    pub ui_latencies: o11_latency::Latencies,
    /// O11, v2: the same per service.
    pub ui_latencies_by_service:
        std::collections::BTreeMap<crate::event::Service, o11_latency::Latencies>,
    /// O7: the most requests one tab sent in any 60 s.
    pub peak_requests_per_tab_per_min: u64,
    /// The oracles the run gave something to judge (`Exercised`).
    pub applied: Vec<&'static str>,
}

/// What a checker must see to judge a history: for `rtsim check`, which
/// judges a history recorded outside the simulator only with the checkers
/// whose needs the recording meets, and reports the rest as not checkable.
#[derive(Clone, Copy, Debug)]
pub enum Reads {
    /// Only these observation kinds (a recording's header lists what it holds).
    Kinds(&'static [&'static str]),
    /// What only a simulated run has, said in a few words: the scenario's
    /// fault plan, the final state, observations no recording schema carries.
    Simulation(&'static str),
}

/// The observation kinds a history holds: every kind, for a simulated run;
/// those its header lists, for a recording.
#[derive(Clone, Copy)]
pub enum Recorded<'a> {
    Everything,
    Only(&'a [String]),
}

impl Recorded<'_> {
    pub fn has_all(&self, kinds: &[&str]) -> bool {
        match self {
            Recorded::Everything => true,
            Recorded::Only(held) => kinds.iter().all(|k| held.iter().any(|h| h == k)),
        }
    }
}

/// One oracle's checker: its id, what it judges, what it reads, and how to
/// make it for a scenario (and for what a history holds: a checker may judge
/// a part of its property only where the history has the kinds it needs).
pub struct Entry {
    pub oracle: &'static str,
    pub judges: &'static str,
    pub reads: Reads,
    /// A part judged only where the history also has these kinds.
    pub part: Option<(&'static str, &'static [&'static str])>,
    pub make: fn(&Scenario, Recorded) -> Box<dyn Check>,
}

/// Everything a simulated run leaves a recording without: the checkers that read it.
const SIM: Reads =
    Reads::Simulation("the scenario's fault plan, the final state and the machines' observations");

/// Every checker, in the order each run feeds them.
pub const ENTRIES: &[Entry] = &[
    Entry {
        oracle: "O1",
        judges: "each event applied at most once, none lost without a refetch",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o1_exactly_once::Checker>::default(),
    },
    Entry {
        oracle: "O1",
        judges: "exactly once across a server restart",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o1_restart::Checker>::default(),
    },
    Entry {
        oracle: "O1",
        judges: "optimistic rows settle once",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o1_ui::Checker::new(s)),
    },
    Entry {
        oracle: "O2",
        judges: "caches converge to the store",
        reads: SIM,
        part: None,
        make: |_, _| Box::new(o2_convergence::Checker),
    },
    Entry {
        oracle: "O3",
        judges: "applied sequences increase",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o3_order::Checker>::default(),
    },
    Entry {
        oracle: "O4",
        judges: "at most one leader per scope, split-brain windows bounded",
        reads: Reads::Kinds(&["role", "lifecycle"]),
        part: Some((
            "at most one backend stream per scope",
            &["request", "response"],
        )),
        make: |s, rec| {
            Box::new(o4_one_leader::Checker::new(
                s,
                rec.has_all(&["request", "response"]),
            ))
        },
    },
    Entry {
        oracle: "O4",
        judges: "no leader steps down from a healthy scope (L7 churn)",
        reads: Reads::Kinds(&["role", "lifecycle", "signed_out"]),
        part: None,
        make: |s, _| Box::new(o4_churn::Checker::new(s)),
    },
    Entry {
        oracle: "O4",
        judges: "one v2 stream per tab (C15 single-flight connect)",
        reads: Reads::Kinds(&["request", "response"]),
        part: None,
        make: |_, _| Box::<o4_one_stream::Checker>::default(),
    },
    Entry {
        oracle: "O5",
        judges: "no event of another org or property",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o5_isolation::Checker>::default(),
    },
    Entry {
        oracle: "O6",
        judges: "one refresh per expiry, bearer on every call, silence after logout",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o6_auth::Checker::new(s)),
    },
    Entry {
        oracle: "O6",
        judges: "the offline and expired banners",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o6_banner::Checker>::default(),
    },
    Entry {
        oracle: "O7",
        judges: "request rate and the circuit breaker",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o7_pacing::Checker>::default(),
    },
    Entry {
        oracle: "O8",
        judges: "buffer, waiter and eviction bounds",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o8_server_bounds::Checker::new(s)),
    },
    Entry {
        oracle: "O8",
        judges: "long polls answered within their timeout",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o8_long_poll::Checker>::default(),
    },
    Entry {
        oracle: "O8",
        judges: "metrics agree with the buffers",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o8_metrics::Checker::new(s)),
    },
    Entry {
        oracle: "O8",
        judges: "v2 batch windows adapt within bounds; quarantine earned, brief, low tiers only",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o8_stream::Checker::new(s)),
    },
    Entry {
        oracle: "O9",
        judges: "derived invalidations debounced",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o9_debounce::Checker::new(s)),
    },
    Entry {
        oracle: "O9",
        judges: "aggregates reconcile once quiet",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o9_reconcile::Checker>::default(),
    },
    Entry {
        oracle: "O10",
        judges: "a leader within the bound after the heal",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o10_recovery::Checker>::default(),
    },
    Entry {
        oracle: "O10",
        judges: "a handoff resumes the transport",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o10_handoff::Checker>::default(),
    },
    Entry {
        oracle: "O10",
        judges: "focus refetches",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o10_focus::Checker>::default(),
    },
    Entry {
        oracle: "O10",
        judges: "hard recovery after silence",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o10_hard_recover::Checker>::default(),
    },
    Entry {
        oracle: "O11",
        judges: "event-to-UI latency p99",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o11_latency::Checker::new(s)),
    },
    Entry {
        oracle: "O12",
        judges: "rollout flags (C13)",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o12_flags::Checker::new(s)),
    },
    Entry {
        oracle: "O13",
        judges: "v2 streams replay exactly what was missed, never across epochs",
        reads: SIM,
        part: None,
        make: |_, _| Box::<o13_replay::Checker>::default(),
    },
    Entry {
        oracle: "O14",
        judges: "v2 route and filter changes made in place, each tab's stream its own page's",
        reads: SIM,
        part: None,
        make: |s, _| Box::new(o14_subscriptions::Checker::new(s)),
    },
];

impl Entry {
    /// Whether a history holding `recorded` gives this checker what it reads.
    pub fn judges_on(&self, recorded: Recorded) -> bool {
        match self.reads {
            Reads::Kinds(kinds) => recorded.has_all(kinds),
            Reads::Simulation(_) => matches!(recorded, Recorded::Everything),
        }
    }
}

/// Every checker, fed the same steps in the same order.
pub struct Checkers {
    checks: Vec<Box<dyn Check>>,
}

impl Checkers {
    /// Every checker, and the oracles-applied tally, for a simulated run.
    pub fn new(s: &Scenario) -> Self {
        let mut checks: Vec<Box<dyn Check>> = ENTRIES
            .iter()
            .map(|e| (e.make)(s, Recorded::Everything))
            .collect();
        checks.push(Box::new(Exercised::new(s)));
        Checkers { checks }
    }

    /// The checkers a recorded history holding `recorded` can feed.
    pub fn for_recording(s: &Scenario, recorded: &[String]) -> Self {
        let recorded = Recorded::Only(recorded);
        let checks = ENTRIES
            .iter()
            .filter(|e| e.judges_on(recorded))
            .map(|e| (e.make)(s, recorded))
            .collect();
        Checkers { checks }
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
            Observation::PollServed { .. }
            | Observation::Metrics { .. }
            | Observation::BatchFlushed { .. } => &["O8"],
            Observation::Request {
                what: RequestKind::Stream,
                ..
            } => &["O4"],
            Observation::Request {
                what: RequestKind::Aggregate,
                ..
            } => &["O9"],
            Observation::Degraded { on: true, .. } | Observation::ShadowEvents { .. } => &["O12"],
            Observation::StreamBatch { .. } => &["O13"],
            Observation::Request {
                what: RequestKind::UpdateServices,
                ..
            } => &["O14"],
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
                | FaultKind::PacketLoss { .. }
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
