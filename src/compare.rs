//! v1 against v2 on the same workload (issue 16): each scenario run over the
//! same seeds with v1's leader long-poll, v2's stream per tab and v2's
//! stream behind the leader, every other parameter, fault and write alike,
//! on the express driver. A session
//! is a browser (one login); the figures are per session per simulated
//! minute, latencies are the median over the seeds of each run's p50 and p99.

use crate::client::Transport;
use crate::parallel::map;
use crate::run::{run_with, Driver, Summary};
use crate::scenario::Scenario;
use std::fmt::Write;

/// One scenario under one transport, over the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub transport: Transport,
    /// v2: the scope's one stream, run by its leader (`stream_behind_leader`).
    pub behind_leader: bool,
    pub runs: u64,
    pub passing_runs: u64,
    pub requests_per_session_min: f64,
    /// Transport calls opened: v1's polls, v2's stream connections.
    pub connects_per_session_min: f64,
    /// Transport calls open at once per session, averaged over the run.
    pub open_connections_per_session: f64,
    pub ui_p50_ms: Option<u64>,
    pub ui_p99_ms: Option<u64>,
    /// Events the server's buffers dropped (v1), and batches shed as
    /// suppressed (v2), per run.
    pub drops_per_run: f64,
    pub suppressed_per_run: f64,
    /// The server's memory in events, the most it held at once (sampled
    /// each second), median over the seeds: v1's buffers; v2's replay
    /// buffers, and its send queues.
    pub peak_buffered: u64,
    pub peak_queued: u64,
}

pub struct Comparison {
    pub scenario: String,
    pub sessions: u64,
    /// v1, v2 per tab, v2 behind the leader.
    pub columns: [Column; 3],
}

/// Each scenario, under both transports, over seeds `1..=seeds`.
pub fn build(scenarios: &[Scenario], seeds: u64, jobs: usize) -> Vec<Comparison> {
    scenarios
        .iter()
        .map(|base| {
            let t = &base.topology;
            let sessions = u64::from(t.orgs) * u64::from(t.browsers_per_org);
            let column =
                |transport, behind| column(base, (transport, behind), seeds, jobs, sessions);
            Comparison {
                scenario: base.name.clone(),
                sessions,
                columns: [
                    column(Transport::LongPoll, false),
                    column(Transport::Stream, false),
                    column(Transport::Stream, true),
                ],
            }
        })
        .collect()
}

fn column(
    base: &Scenario,
    (transport, behind_leader): (Transport, bool),
    seeds: u64,
    jobs: usize,
    sessions: u64,
) -> Column {
    let mut s = base.clone();
    s.config.provider.transport = transport;
    s.config.provider.stream_behind_leader = behind_leader;
    let all: Vec<u64> = (1..=seeds).collect();
    let runs: Vec<(bool, Summary)> = map(jobs, &all, |&seed| {
        let r = run_with(&s, seed, None, Driver::Express);
        (r.pass, r.summary)
    });
    let n = runs.len().max(1) as f64;
    let minutes = s.end().as_ms() as f64 / 60_000.0;
    let per_session_min = |f: &dyn Fn(&Summary) -> u64| {
        runs.iter().map(|(_, r)| f(r) as f64).sum::<f64>() / n / sessions as f64 / minutes
    };
    let median = |f: &dyn Fn(&Summary) -> Option<u64>| {
        let mut v: Vec<u64> = runs.iter().filter_map(|(_, r)| f(r)).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    let end_ms = s.end().as_ms() as f64;
    Column {
        transport,
        behind_leader,
        runs: runs.len() as u64,
        passing_runs: runs.iter().filter(|(p, _)| *p).count() as u64,
        requests_per_session_min: per_session_min(&|r| r.requests),
        connects_per_session_min: per_session_min(&|r| r.polls),
        open_connections_per_session: runs
            .iter()
            .map(|(_, r)| r.transport_open_ms as f64 / end_ms)
            .sum::<f64>()
            / n
            / sessions as f64,
        ui_p50_ms: median(&|r| r.ui_latency_p50_ms),
        ui_p99_ms: median(&|r| r.ui_latency_p99_ms),
        drops_per_run: runs.iter().map(|(_, r)| r.drops as f64).sum::<f64>() / n,
        peak_buffered: median(&|r| {
            let h = r.peak_held;
            Some((h.v1_buffered + h.v2_buffered) as u64)
        })
        .unwrap_or(0),
        peak_queued: median(&|r| Some(r.peak_held.v2_queued as u64)).unwrap_or(0),
        suppressed_per_run: runs
            .iter()
            .map(|(_, r)| r.by_service.iter().map(|h| h.suppressed).sum::<u64>() as f64)
            .sum::<f64>()
            / n,
    }
}

/// The comparisons as README's markdown: one table per scenario.
pub fn render(comparisons: &[Comparison]) -> String {
    let mut t = String::new();
    for c in comparisons {
        let _ = writeln!(
            t,
            "{} ({} sessions, {} seeds each)\n",
            c.scenario, c.sessions, c.columns[0].runs
        );
        let _ = writeln!(
            t,
            "| figure | v1 long-poll | v2 stream per tab | v2 stream behind the leader |\n|---|---|---|---|"
        );
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
        let v1_only = |col: &Column, cell: String| match col.transport {
            Transport::LongPoll => cell,
            Transport::Stream => "-".to_string(),
        };
        let v2_only = |col: &Column, cell: String| match col.transport {
            Transport::LongPoll => "-".to_string(),
            Transport::Stream => cell,
        };
        type Cell<'a> = &'a dyn Fn(&Column) -> String;
        let rows: [(&str, Cell); 10] = [
            ("requests per session per minute", &|c| {
                format!("{:.1}", c.requests_per_session_min)
            }),
            ("transport connections opened per session per minute", &|c| {
                format!("{:.2}", c.connects_per_session_min)
            }),
            ("backend connections open per session (time average)", &|c| {
                format!("{:.2}", c.open_connections_per_session)
            }),
            ("event-to-UI p50 (median over seeds)", &|c| ms(c.ui_p50_ms)),
            ("event-to-UI p99 (median over seeds)", &|c| ms(c.ui_p99_ms)),
            (
                "events aged or pushed out of v1's buffers per run (v2 does not poll them)",
                &|c| v1_only(c, format!("{:.1}", c.drops_per_run)),
            ),
            (
                "server memory: events held in buffers at the peak (v1 per org, v2 per org and service; median over seeds)",
                &|c| c.peak_buffered.to_string(),
            ),
            (
                "server memory: events waiting in send queues at the peak (v2; median over seeds)",
                &|c| v2_only(c, c.peak_queued.to_string()),
            ),
            ("events suppressed by quarantine per run", &|c| {
                format!("{:.1}", c.suppressed_per_run)
            }),
            ("runs where every oracle held", &|c| {
                format!("{}/{}", c.passing_runs, c.runs)
            }),
        ];
        for (figure, cell) in rows {
            let cells: Vec<String> = c.columns.iter().map(cell).collect();
            let _ = writeln!(t, "| {figure} | {} |", cells.join(" | "));
        }
        t.push('\n');
    }
    t
}
