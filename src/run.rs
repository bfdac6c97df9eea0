//! One run: a scenario, a seed, maybe a mutant, a driver; out comes a verdict,
//! the violations, the canonical trace and its hash, and a summary.

use crate::check::Violation;
pub use crate::driver::Driver;
use crate::mutant::Mutant;
use crate::observation::{Observation, RequestKind};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The figures an insta snapshot keeps for a scenario at a seed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub verdict: String,
    pub trace: String,
    pub requests: u64,
    /// O7's load figure: the most requests one tab sent in any 60 s.
    pub peak_requests_per_tab_per_min: u64,
    pub polls: u64,
    pub refetches: u64,
    pub events_published: u64,
    pub redeliveries: u64,
    pub applies: u64,
    pub gaps: u64,
    pub hard_recovers: u64,
    pub breaker_opens: u64,
    pub drops: u64,
    pub waiter_cap_hits: u64,
    pub evictions: u64,
    /// O4: windows with two leaders or two streams in a scope, and the longest, in ms.
    pub split_brain_windows: u64,
    pub longest_split_brain_ms: u64,
    /// Times a tab became leader, and that per tab per simulated day (L7, target under 5).
    pub leader_elections: u64,
    pub leader_churn_per_tab_per_day: String,
    /// O6: refresh calls, the expiries they served, the most one expiry took, and the
    /// retries after failures (the allowed exceptions).
    pub refresh_requests: u64,
    pub token_expiries: u64,
    pub max_refreshes_per_expiry: u64,
    pub refresh_retries: u64,
    /// O6: the longest time from a logout to the last call of its browser, in ms (max over tabs).
    pub logout_silence_ms: Option<u64>,
    /// O11: event-to-UI latency over every realtime apply, in ms.
    pub ui_latency_p50_ms: Option<u64>,
    pub ui_latency_p99_ms: Option<u64>,
    /// U3/C10: aggregate refetches (derived invalidations), all tabs.
    pub aggregate_refetches: u64,
    /// U2: the tabs' own writes, and how many were shown optimistically.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub writes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub optimistic_writes: u64,
    /// C14: sampled telemetry events sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub telemetry_events: u64,
    pub failed_oracles: Vec<String>,
}

pub struct RunReport {
    pub pass: bool,
    pub seed: u64,
    pub mutant: Option<Mutant>,
    /// Every violation found, in trace order.
    pub violations: Vec<Violation>,
    /// Oracles that must hold but failed, and oracles that must fail but held.
    pub unmet: Vec<String>,
    /// The canonical trace, one JSON object per line.
    pub trace: Vec<String>,
    pub trace_hash: u64,
    pub summary: Summary,
    /// The mutants whose fork this run reached (`mutant::fires`). Any other
    /// mutant, switched on, would have left this run's trace as it is.
    pub reached: BTreeSet<Mutant>,
    /// The oracles this run gave something to judge (`check::applied`).
    pub applied: Vec<&'static str>,
}

impl RunReport {
    pub fn trace_hex(&self) -> String {
        format!("{:016x}", self.trace_hash)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Run `scenario` at `seed` with `mutant` on `driver`.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
) -> RunReport {
    crate::mutant::reset_reached();
    crate::log::set_now(crate::time::SimTime::ZERO);
    let span = tracing::info_span!("run", scenario = %scenario.name, seed, %driver);
    let _entered = span.enter();
    let done = match driver {
        Driver::Turmoil => crate::sim::turmoil_driver::run(scenario, seed, mutant),
        Driver::Express => crate::sim::express::run(scenario, seed, mutant),
    };
    let mut report = finish(scenario, seed, mutant, done.history, done.last);
    report.reached = crate::mutant::reached();
    tracing::info!(pass = report.pass, trace = %report.trace_hex(), "verdict");
    report
}

/// The one command that reproduces a run.
pub fn replay_line(
    path: &std::path::Path,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
) -> String {
    let mut line = format!(
        "rtsim run {} --seed {seed} --driver {driver}",
        path.display()
    );
    if let Some(m) = mutant {
        line.push_str(&format!(" --mutant {m}"));
    }
    line
}

/// Run `scenario` at `seed` with `mutant` on the turmoil driver.
pub fn run(scenario: &Scenario, seed: u64, mutant: Option<Mutant>) -> RunReport {
    run_with(scenario, seed, mutant, Driver::Turmoil)
}

/// Check a finished run and build its report; the same for every driver.
fn finish(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    history: crate::observation::History,
    last: crate::observation::FinalState,
) -> RunReport {
    let evidence = crate::check::Evidence {
        scenario,
        history: &history,
        last: &last,
    };
    let violations = crate::check::check_all(&evidence);
    let windows: Vec<_> = crate::check::o4_one_leader::windows(&evidence)
        .into_iter()
        .filter(|w| w.length_ms > 0)
        .collect();
    let failed: std::collections::BTreeSet<&str> = violations.iter().map(|v| v.oracle).collect();
    let mut unmet = Vec::new();
    for id in scenario.must_hold() {
        if failed.contains(id.as_str()) {
            unmet.push(format!("{id} must hold but failed"));
        }
    }
    for id in &scenario.expect.fail {
        if !failed.contains(id.as_str()) {
            unmet.push(format!("{id} must fail but held"));
        }
    }
    let pass = unmet.is_empty();
    let trace = crate::trace::canonical_lines(&history.steps, &violations);
    let trace_hash = crate::trace::hash_lines(&trace);

    let summary = summarise(
        scenario, seed, &evidence, pass, trace_hash, &failed, &windows,
    );
    RunReport {
        pass,
        seed,
        mutant,
        violations,
        unmet,
        trace,
        trace_hash,
        summary,
        reached: BTreeSet::new(),
        applied: crate::check::applied(&evidence),
    }
}

/// The figures of a checked run, for the summary line and its snapshot.
fn summarise(
    scenario: &Scenario,
    seed: u64,
    evidence: &crate::check::Evidence,
    pass: bool,
    trace_hash: u64,
    failed: &BTreeSet<&str>,
    windows: &[crate::check::o4_one_leader::SplitBrain],
) -> Summary {
    let history = evidence.history;
    let auth = crate::check::o6_auth::audit(evidence);
    let latencies = crate::check::o11_latency::latencies(evidence);
    let mut s = Summary {
        ui_latency_p50_ms: crate::check::o11_latency::percentile(&latencies, 50.0),
        ui_latency_p99_ms: crate::check::o11_latency::percentile(&latencies, 99.0),
        refresh_requests: auth.refresh_requests,
        peak_requests_per_tab_per_min: crate::check::o7_pacing::peak_requests_per_tab_per_min(
            evidence,
        ),
        token_expiries: auth.expiries,
        max_refreshes_per_expiry: auth.max_refreshes_per_expiry,
        refresh_retries: auth.refresh_retries,
        logout_silence_ms: auth.logout_silence_ms,
        scenario: scenario.name.clone(),
        seed,
        verdict: if pass { "pass" } else { "fail" }.to_string(),
        trace: format!("{trace_hash:016x}"),
        failed_oracles: failed.iter().map(|s| s.to_string()).collect(),
        split_brain_windows: windows.len() as u64,
        longest_split_brain_ms: windows.iter().map(|w| w.length_ms).max().unwrap_or(0),
        ..Summary::default()
    };
    for step in &history.steps {
        match &step.obs {
            Observation::Request { what, .. } => {
                s.requests += 1;
                match what {
                    RequestKind::Poll => s.polls += 1,
                    RequestKind::Refetch => s.refetches += 1,
                    RequestKind::Aggregate => s.aggregate_refetches += 1,
                    RequestKind::Mutate => s.writes += 1,
                    RequestKind::Telemetry => s.telemetry_events += 1,
                    RequestKind::Login
                    | RequestKind::Refresh
                    | RequestKind::Logout
                    | RequestKind::Metrics
                    | RequestKind::Legacy => {}
                }
            }
            Observation::Committed { .. } => s.events_published += 1,
            Observation::Mutation {
                optimistic: true, ..
            } => s.optimistic_writes += 1,
            Observation::BufferInsert {
                redelivery: true, ..
            } => s.redeliveries += 1,
            Observation::Applied { .. } => s.applies += 1,
            Observation::Gap { .. } => s.gaps += 1,
            Observation::HardRecover { .. } => s.hard_recovers += 1,
            Observation::BreakerOpen { .. } => s.breaker_opens += 1,
            Observation::BufferDrop { .. } => s.drops += 1,
            Observation::OrgEvicted { entries, .. } => {
                s.evictions += 1;
                s.drops += *entries as u64;
            }
            Observation::WaiterCapHit { .. } => s.waiter_cap_hits += 1,
            Observation::Role {
                role: crate::observation::Role::Leader,
                ..
            } => s.leader_elections += 1,
            _ => {}
        }
    }
    s.leader_churn_per_tab_per_day = churn_per_tab_per_day(scenario, history, s.leader_elections);
    s
}

/// L7: leader elections per tab that took part, per simulated day.
fn churn_per_tab_per_day(
    scenario: &Scenario,
    history: &crate::observation::History,
    elections: u64,
) -> String {
    let tabs: BTreeSet<crate::observation::Actor> = history
        .steps
        .iter()
        .filter_map(|st| match &st.obs {
            Observation::Role { tab, .. } => Some(*tab),
            _ => None,
        })
        .collect();
    let days = scenario.end().as_ms() as f64 / 86_400_000.0;
    let churn = if tabs.is_empty() {
        0.0
    } else {
        elections as f64 / tabs.len() as f64 / days
    };
    format!("{churn:.1}")
}
