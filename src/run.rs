//! One run: a scenario, a seed, maybe a mutant, a driver; out comes a verdict,
//! the violations, the canonical trace and its hash, and a summary.

use crate::check::{Checkers, End, Figures, Violation};
pub use crate::driver::Driver;
use crate::event::Service;
use crate::mutant::Mutant;
use crate::observation::{
    Actor, FinalState, History, Observation, Observer, RequestKind, Role, Step,
};
use crate::scenario::Scenario;
use crate::time::SimTime;
use crate::trace::Trace;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;

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
    /// C15: v2's per-service health, the figures seed 003's provider exports
    /// (`byServiceP95LatencyMs`, `byServiceLastEventAt`, `byServiceDelivered`,
    /// `byServiceSuppressed`, `byServiceReconnects`), over every tab; none for v1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_service: Vec<ServiceHealth>,
    /// How long transport calls (v1's polls, v2's streams) were open, summed
    /// over the tabs, in ms: `rtsim compare`'s connections per session.
    #[serde(skip)]
    pub transport_open_ms: u64,
    /// The most events the server held (express only; `rtsim compare`).
    #[serde(skip)]
    pub peak_held: crate::server::Held,
}

/// One service's health over a v2 run's tabs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceHealth {
    pub service: String,
    /// Event-to-UI latency p95 of its events, in ms.
    pub p95_latency_ms: Option<u64>,
    /// When a tab last applied one of its events, in ms of simulated time.
    pub last_event_at_ms: Option<u64>,
    /// Events its batches carried to the tabs, and ranges shed as suppressed.
    pub delivered: u64,
    pub suppressed: u64,
    /// Welcomes after a tab's first: each reconnect of a stream carrying it.
    pub reconnects: u64,
}

pub struct RunReport {
    pub pass: bool,
    pub seed: u64,
    pub mutant: Option<Mutant>,
    /// Every violation found, in trace order.
    pub violations: Vec<Violation>,
    /// Oracles that must hold but failed, and oracles that must fail but held.
    pub unmet: Vec<String>,
    /// The canonical trace, one JSON object per line: kept only by
    /// `run_traced` and `run_stored`, empty otherwise.
    pub trace: Vec<String>,
    pub trace_hash: u64,
    /// How many steps the history had (the trace's lines before the violations').
    pub steps: u64,
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

/// Run `scenario` at `seed` with `mutant` on `driver`: the checkers, the
/// summary tally and the trace hasher take each step as it happens (on a
/// thread of their own, `Pipe`), and the history keeps nothing, so memory is
/// the run's live state.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
) -> RunReport {
    run_streamed(scenario, seed, mutant, driver, false)
}

/// `run_with`, keeping the trace's lines in the report (for a trace file or a timeline).
pub fn run_traced(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
) -> RunReport {
    run_streamed(scenario, seed, mutant, driver, true)
}

/// Stored checking: run with the history kept, then feed the kept steps to
/// the same checkers after the run. It must give exactly what streaming gives
/// (`tests/streaming.rs`); streaming is what every command uses.
pub fn run_stored(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
) -> RunReport {
    let done = drive(scenario, seed, mutant, driver, History::default());
    let mut stream = Stream::new(scenario, true);
    for step in &done.history.steps {
        stream.observe(step);
    }
    report(scenario, seed, mutant, stream, &done.last, done.peak_held)
}

fn run_streamed(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
    keep_trace: bool,
) -> RunReport {
    std::thread::scope(|scope| {
        let (full, to_check) = mpsc::sync_channel::<Vec<Step>>(BATCHES_AHEAD);
        let (emptied, empty) = mpsc::channel::<Vec<Step>>();
        let checking = std::thread::Builder::new()
            .name("rtsim-checkers".into())
            .spawn_scoped(scope, move || {
                let mut stream = Stream::new(scenario, keep_trace);
                for mut batch in to_check {
                    for step in batch.drain(..) {
                        stream.observe(&step);
                    }
                    // The driver may have gone: then nobody refills it.
                    let _ = emptied.send(batch);
                }
                stream
            })
            .expect("the checkers' thread starts");
        let pipe = Pipe {
            batch: Vec::with_capacity(BATCH),
            full,
            empty,
        };
        let done = drive(
            scenario,
            seed,
            mutant,
            driver,
            History::observed(Box::new(pipe)),
        );
        // Dropping the history sends the last batch and closes the pipe.
        drop(done.history);
        let stream = checking
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        report(scenario, seed, mutant, stream, &done.last, done.peak_held)
    })
}

/// Steps go to the checkers' thread this many at a time: one channel
/// operation per batch, not per step.
const BATCH: usize = 1024;
/// Full batches waiting at most: the driver runs no further ahead of the
/// checkers than this, which bounds what the pipe holds.
const BATCHES_AHEAD: usize = 2;

/// The driver's end of the pipe to the checkers' thread, which judges a
/// run's steps while the driver makes the next ones (a run's two halves on
/// two cores; the checkers see the steps in the order recorded, so a verdict
/// is the same as on one). Emptied batches come back to be filled again.
struct Pipe {
    batch: Vec<Step>,
    full: mpsc::SyncSender<Vec<Step>>,
    empty: mpsc::Receiver<Vec<Step>>,
}

impl Pipe {
    fn send(&mut self, batch: Vec<Step>) {
        // The checkers hang up only by panicking, which `run_streamed` raises when it joins them.
        let _ = self.full.send(batch);
    }
}

impl Observer for Pipe {
    fn observe(&mut self, step: Step) {
        self.batch.push(step);
        if self.batch.len() == BATCH {
            let refill = self
                .empty
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BATCH));
            let batch = std::mem::replace(&mut self.batch, refill);
            self.send(batch);
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let last = std::mem::take(&mut self.batch);
        if !last.is_empty() {
            self.send(last);
        }
    }
}

/// Move the nodes to the end of the run, recording into `history`.
fn drive(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
    history: History,
) -> crate::sim::Finished {
    crate::mutant::reset_reached();
    crate::log::set_now(crate::time::SimTime::ZERO);
    let span = tracing::info_span!("run", scenario = %scenario.name, seed, %driver);
    let _entered = span.enter();
    match driver {
        Driver::Turmoil => crate::sim::turmoil_driver::run(scenario, seed, mutant, history),
        Driver::Express => crate::sim::express::run(scenario, seed, mutant, history),
    }
}

/// Where a run's steps go: every checker, the summary tally and the trace.
struct Stream<'a> {
    scenario: &'a Scenario,
    checkers: Checkers,
    tally: Tally,
    trace: Trace,
}

impl<'a> Stream<'a> {
    fn new(scenario: &'a Scenario, keep_trace: bool) -> Self {
        Stream {
            scenario,
            checkers: Checkers::new(scenario),
            tally: Tally::default(),
            trace: Trace::new(keep_trace),
        }
    }
}

impl Stream<'_> {
    fn observe(&mut self, step: &Step) {
        self.checkers.step(self.scenario, step);
        self.tally.step(step);
        self.trace.step(step);
    }
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

/// `replay_line` for a loaded scenario: with its `--platform-profile` if
/// the command line gave one.
pub fn replay_line_for(s: &Scenario, seed: u64, mutant: Option<Mutant>, driver: Driver) -> String {
    let mut line = replay_line(&s.path, seed, mutant, driver);
    if let Some(profile) = &s.platform_override {
        line.push_str(&format!(" --platform-profile {profile}"));
    }
    line
}

/// Run `scenario` at `seed` with `mutant` on the turmoil driver.
pub fn run(scenario: &Scenario, seed: u64, mutant: Option<Mutant>) -> RunReport {
    run_with(scenario, seed, mutant, Driver::Turmoil)
}

/// Judge a finished run and build its report; the same for every driver.
fn report(
    scenario: &Scenario,
    seed: u64,
    mutant: Option<Mutant>,
    stream: Stream,
    last: &FinalState,
    peak_held: crate::server::Held,
) -> RunReport {
    let end = End { scenario, last };
    let (violations, figures) = stream.checkers.finish(&end);
    let failed: BTreeSet<&str> = violations.iter().map(|v| v.oracle).collect();
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
    let trace = stream.trace.finish(&violations);
    let mut summary = stream
        .tally
        .summary(scenario, seed, pass, trace.hash, &failed, &figures);
    summary.peak_held = peak_held;
    let report = RunReport {
        pass,
        seed,
        mutant,
        violations,
        unmet,
        trace: trace.lines,
        trace_hash: trace.hash,
        steps: trace.steps,
        summary,
        reached: crate::mutant::reached(),
        applied: figures.applied,
    };
    tracing::info!(pass = report.pass, trace = %report.trace_hex(), "verdict");
    report
}

/// The summary's counts, taken step by step.
#[derive(Default)]
struct Tally {
    counts: Summary,
    /// Every tab that took a role (L7's churn is per tab that took part).
    role_tabs: BTreeSet<Actor>,
    /// v2: each service's health so far (its latency comes from O11's figures).
    by_service: BTreeMap<Service, ServiceHealth>,
    /// v2: the tabs welcomed once already (a later welcome is a reconnect).
    welcomed: BTreeSet<Actor>,
    /// Transport calls open now, and since when.
    transport_open: BTreeMap<(Actor, u64), SimTime>,
}

impl Tally {
    fn step(&mut self, step: &Step) {
        let s = &mut self.counts;
        match &step.obs {
            Observation::Request { what, tab, req, .. } => {
                s.requests += 1;
                if matches!(what, RequestKind::Poll | RequestKind::Stream) {
                    self.transport_open.insert((*tab, *req), step.t);
                }
                match what {
                    // v2's stream opens are its transport calls, as v1's polls.
                    RequestKind::Poll | RequestKind::Stream => s.polls += 1,
                    RequestKind::Refetch => s.refetches += 1,
                    RequestKind::Aggregate => s.aggregate_refetches += 1,
                    RequestKind::Mutate => s.writes += 1,
                    RequestKind::Telemetry => s.telemetry_events += 1,
                    RequestKind::Login
                    | RequestKind::Refresh
                    | RequestKind::Logout
                    | RequestKind::Metrics
                    | RequestKind::Legacy
                    | RequestKind::UpdateServices => {}
                }
            }
            Observation::Response { tab, req, .. } => {
                if let Some(since) = self.transport_open.remove(&(*tab, *req)) {
                    s.transport_open_ms += step.t.since(since);
                }
            }
            Observation::Committed { .. } => s.events_published += 1,
            Observation::Mutation {
                optimistic: true, ..
            } => s.optimistic_writes += 1,
            Observation::BufferInsert {
                redelivery: true, ..
            } => s.redeliveries += 1,
            Observation::Applied { stream, .. } => {
                s.applies += 1;
                if let Some((service, _)) = stream {
                    let health = self.by_service.entry(*service).or_default();
                    health.last_event_at_ms = Some(step.t.as_ms());
                }
            }
            Observation::StreamBatch { .. } | Observation::StreamStarted { .. } => {
                self.stream_step(&step.obs)
            }
            Observation::Gap { .. } => s.gaps += 1,
            Observation::HardRecover { .. } => s.hard_recovers += 1,
            Observation::BreakerOpen { .. } => s.breaker_opens += 1,
            Observation::BufferDrop { .. } => s.drops += 1,
            Observation::OrgEvicted { entries, .. } => {
                s.evictions += 1;
                s.drops += *entries as u64;
            }
            Observation::WaiterCapHit { .. } => s.waiter_cap_hits += 1,
            Observation::Role { tab, role, .. } => {
                self.role_tabs.insert(*tab);
                if *role == Role::Leader {
                    s.leader_elections += 1;
                }
            }
            _ => {}
        }
    }

    /// v2's per-service health: what the tabs' streams delivered, shed and
    /// how often each reconnected.
    fn stream_step(&mut self, obs: &Observation) {
        match obs {
            Observation::StreamBatch {
                service,
                events,
                suppressed,
                shared: false,
                ..
            } => {
                let health = self.by_service.entry(*service).or_default();
                let n = *events as u64;
                if *suppressed {
                    health.suppressed += n;
                } else {
                    health.delivered += n;
                }
            }
            Observation::StreamStarted {
                tab,
                epoch: Some(_),
                starts,
                shared: false,
                ..
            } => {
                let again = !self.welcomed.insert(*tab);
                for start in starts {
                    let health = self.by_service.entry(start.service).or_default();
                    health.reconnects += u64::from(again);
                }
            }
            _ => {}
        }
    }

    /// The figures of a checked run, for the summary line and its snapshot.
    fn summary(
        self,
        scenario: &Scenario,
        seed: u64,
        pass: bool,
        trace_hash: u64,
        failed: &BTreeSet<&str>,
        figures: &Figures,
    ) -> Summary {
        let auth = &figures.auth;
        let latencies = &figures.ui_latencies;
        let windows: Vec<_> = figures
            .split_brains
            .iter()
            .filter(|w| w.length_ms > 0)
            .collect();
        let days = scenario.end().as_ms() as f64 / 86_400_000.0;
        // L7: leader elections per tab that took part, per simulated day.
        let churn = if self.role_tabs.is_empty() {
            0.0
        } else {
            self.counts.leader_elections as f64 / self.role_tabs.len() as f64 / days
        };
        Summary {
            ui_latency_p50_ms: latencies.percentile(50.0),
            ui_latency_p99_ms: latencies.percentile(99.0),
            refresh_requests: auth.refresh_requests,
            peak_requests_per_tab_per_min: figures.peak_requests_per_tab_per_min,
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
            leader_churn_per_tab_per_day: format!("{churn:.1}"),
            transport_open_ms: self.counts.transport_open_ms
                + self
                    .transport_open
                    .values()
                    .map(|since| scenario.end().since(*since))
                    .sum::<u64>(),
            by_service: self
                .by_service
                .into_iter()
                .map(|(service, health)| ServiceHealth {
                    service: service.name().to_string(),
                    p95_latency_ms: figures
                        .ui_latencies_by_service
                        .get(&service)
                        .and_then(|l| l.percentile(95.0)),
                    ..health
                })
                .collect(),
            ..self.counts
        }
    }
}
