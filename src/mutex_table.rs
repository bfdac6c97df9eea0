//! The refresh mutex's figures (SPEC A1, O6) under each platform profile:
//! per scenario, the refresh calls made, the expiries they served, the most
//! one expiry took, and the runs where every oracle held, over many seeds on
//! the express driver, under the measured Chromium profile and under the
//! idealised model it replaced (`leader_table::PLATFORMS`).

use crate::browser::profile::PlatformProfile;
use crate::leader_table::PLATFORMS;
use crate::run::{run_with, Driver};
use crate::scenario::Scenario;
use std::fmt::Write;

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub scenario: String,
    pub platform: String,
    pub runs: u64,
    pub refresh_requests: u64,
    pub token_expiries: u64,
    pub max_refreshes_per_expiry: u64,
    pub passing_runs: u64,
}

/// Every scenario under every profile, over seeds `1..=seeds`.
pub fn build(scenarios: &[Scenario], seeds: u64, jobs: usize) -> Vec<Row> {
    let all: Vec<u64> = (1..=seeds).collect();
    let mut rows = Vec::new();
    for base in scenarios {
        for platform in PLATFORMS {
            let mut s = base.clone();
            s.config.platform.profile =
                PlatformProfile::named(platform).expect("a built-in profile");
            let runs = crate::parallel::map(jobs, &all, |&seed| {
                let r = run_with(&s, seed, None, Driver::Express);
                (r.pass, r.summary)
            });
            rows.push(Row {
                scenario: s.name.clone(),
                platform: platform.to_string(),
                runs: runs.len() as u64,
                refresh_requests: runs.iter().map(|(_, s)| s.refresh_requests).sum(),
                token_expiries: runs.iter().map(|(_, s)| s.token_expiries).sum(),
                max_refreshes_per_expiry: runs
                    .iter()
                    .map(|(_, s)| s.max_refreshes_per_expiry)
                    .max()
                    .unwrap_or(0),
                passing_runs: runs.iter().filter(|(p, _)| *p).count() as u64,
            });
        }
    }
    rows
}

/// The table as aligned text.
pub fn render(rows: &[Row]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<28} {:<10} {:>5} {:>9} {:>9} {:>11} {:>6}",
        "scenario", "platform", "runs", "refreshes", "expiries", "max/expiry", "pass"
    );
    for r in rows {
        let _ = writeln!(
            t,
            "{:<28} {:<10} {:>5} {:>9} {:>9} {:>11} {:>6}",
            r.scenario,
            r.platform,
            r.runs,
            r.refresh_requests,
            r.token_expiries,
            r.max_refreshes_per_expiry,
            r.passing_runs
        );
    }
    t
}
