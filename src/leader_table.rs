//! The verdict table for the seeds' leader-election choices (L1-L4, L7):
//! mechanism (lease, web-locks) x takeover (3 s, 18 s; the seeds' 10 s
//! heartbeat in both) x scope (session, browser+org), each over many seeds of
//! a fault-heavy scenario, on the express driver; each under the measured
//! Chromium platform profile and under the idealised model it replaced, so
//! the two verdicts sit side by side.

use crate::browser::profile::PlatformProfile;
use crate::client::leader::{Mechanism, Scope};
use crate::run::{run_with, Driver};
use crate::scenario::Scenario;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub mechanism: Mechanism,
    pub takeover_ms: u64,
    pub heartbeat_ms: u64,
    pub scope: Scope,
    /// The platform profile the row ran under ("chromium", "idealised").
    pub platform: String,
    pub runs: u64,
    /// Runs with at least one window of two leaders or two streams in a scope.
    pub runs_with_split_brain: u64,
    pub longest_split_brain_ms: u64,
    /// O1 violations (events lost, or applied twice) over all runs.
    pub lost_or_doubled: u64,
    /// L7: times a tab became leader, per tab per simulated day.
    pub churn_per_tab_per_day: f64,
    /// Backend requests per session (browser) per simulated minute.
    pub requests_per_session_per_min: f64,
    /// Runs where every oracle held.
    pub passing_runs: u64,
}

/// Every configuration of the table, in a fixed order.
pub fn configurations() -> Vec<(Mechanism, u64, u64, Scope)> {
    let mut out = Vec::new();
    for mechanism in [Mechanism::Lease, Mechanism::WebLocks] {
        // The seeds state one heartbeat (10 s) and two takeovers (3 s passive, 18 s).
        for (takeover_ms, heartbeat_ms) in [(3_000, 10_000), (18_000, 10_000)] {
            for scope in [Scope::Session, Scope::BrowserOrg] {
                out.push((mechanism, takeover_ms, heartbeat_ms, scope));
            }
        }
    }
    out
}

/// The platform profiles each configuration runs under, measured first.
pub const PLATFORMS: [&str; 2] = ["chromium", "idealised"];

/// Run the table over seeds `1..=seeds`, `jobs` threads.
pub fn build(base: &Scenario, seeds: u64, jobs: usize) -> Vec<Row> {
    configurations()
        .into_iter()
        .flat_map(|c| PLATFORMS.map(|platform| (c, platform)))
        .map(
            |((mechanism, takeover_ms, heartbeat_ms, scope), platform)| {
                let mut s = base.clone();
                s.config.platform.profile =
                    PlatformProfile::named(platform).expect("a built-in profile");
                s.config.provider.leader.mechanism = mechanism;
                s.config.provider.leader.takeover_ms = takeover_ms;
                s.config.provider.leader.heartbeat_ms = heartbeat_ms;
                s.config.provider.leader.scope = scope;
                let all: Vec<u64> = (1..=seeds).collect();
                let reports = crate::parallel::map(jobs, &all, |&seed| {
                    let r = run_with(&s, seed, None, Driver::Express);
                    let o1 = r.violations.iter().filter(|v| v.oracle == "O1").count() as u64;
                    (r.pass, r.summary, o1)
                });
                let tabs = (s.topology.orgs
                    * s.topology.browsers_per_org
                    * s.topology.tabs_per_browser) as f64;
                let sessions = (s.topology.orgs * s.topology.browsers_per_org) as f64;
                let days = s.end().as_ms() as f64 / 86_400_000.0;
                let minutes = s.end().as_ms() as f64 / 60_000.0;
                let n = reports.len().max(1) as f64;
                Row {
                    mechanism,
                    takeover_ms,
                    heartbeat_ms,
                    scope,
                    platform: platform.to_string(),
                    runs: reports.len() as u64,
                    runs_with_split_brain: reports
                        .iter()
                        .filter(|(_, s, _)| s.split_brain_windows > 0)
                        .count() as u64,
                    longest_split_brain_ms: reports
                        .iter()
                        .map(|(_, s, _)| s.longest_split_brain_ms)
                        .max()
                        .unwrap_or(0),
                    lost_or_doubled: reports.iter().map(|(_, _, o1)| o1).sum(),
                    churn_per_tab_per_day: reports
                        .iter()
                        .map(|(_, s, _)| s.leader_elections as f64)
                        .sum::<f64>()
                        / n
                        / tabs
                        / days,
                    requests_per_session_per_min: reports
                        .iter()
                        .map(|(_, s, _)| s.requests as f64)
                        .sum::<f64>()
                        / n
                        / sessions
                        / minutes,
                    passing_runs: reports.iter().filter(|(p, _, _)| *p).count() as u64,
                }
            },
        )
        .collect()
}

/// The table as aligned text (what the CLI prints and the snapshot keeps).
pub fn render(rows: &[Row]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<10} {:<14} {:<12} {:<10} {:>5} {:>6} {:>13} {:>11} {:>12} {:>14} {:>6}",
        "mechanism",
        "takeover/hb",
        "scope",
        "platform",
        "runs",
        "split",
        "longest_ms",
        "lost_or_2x",
        "churn/tab/d",
        "req/session/m",
        "pass"
    );
    for r in rows {
        let mechanism = match r.mechanism {
            Mechanism::Lease => "lease",
            Mechanism::WebLocks => "web-locks",
        };
        let scope = match r.scope {
            Scope::Session => "session",
            Scope::BrowserOrg => "browser-org",
        };
        let timing = format!("{}s/{}s", r.takeover_ms / 1000, r.heartbeat_ms / 1000);
        let _ = writeln!(
            t,
            "{:<10} {:<14} {:<12} {:<10} {:>5} {:>6} {:>13} {:>11} {:>12.1} {:>14.2} {:>6}",
            mechanism,
            timing,
            scope,
            r.platform,
            r.runs,
            r.runs_with_split_brain,
            r.longest_split_brain_ms,
            r.lost_or_doubled,
            r.churn_per_tab_per_day,
            r.requests_per_session_per_min,
            r.passing_runs
        );
    }
    t
}
