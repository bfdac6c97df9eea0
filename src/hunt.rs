//! The mutant hunt, `rtsim swarm --mutant all`: for every mutant, how many
//! swarm runs it takes to be caught, beside how many seeds the shipped
//! scenario that guards it takes (the one `Mutant::caught_by` names, over the
//! seeds `tests/mutants.rs` gives it), and with `--shrink` how small its first
//! failing case shrinks.
//!
//! A swarm failure counts as a detection only when the same seed passes with
//! the mutant off: a run that fails both ways is a bug in the machine, not the
//! mutant's doing, and is listed as such (the hunt goes on looking).

use crate::mutant::Mutant;
use crate::run::{run_with, Driver};
use crate::scenario::{InputError, Scenario};
use crate::shrink::Size;
use crate::swarm::{SwarmConfig, SwarmRun};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// The seeds a shipped scenario gets to catch its mutant, as in `tests/mutants.rs`.
pub const SHIPPED_SEEDS: RangeInclusive<u64> = 1..=20;

/// Runs a shrink may spend on one mutant's case.
const SHRINK_BUDGET: usize = 400;

/// One mutant's line of the hunt.
pub struct Row {
    pub mutant: Mutant,
    pub detected: Option<Detection>,
    /// Seeds that failed with the mutant off as well: machine bugs.
    pub unmutated_failures: Vec<u64>,
    pub shipped: Shipped,
}

/// The first swarm run that caught the mutant.
pub struct Detection {
    /// How many runs it took, this one included.
    pub runs: u64,
    pub seed: u64,
    pub oracle: String,
    /// Sizes before and after, and where the shrunk case went.
    pub shrunk: Option<(Size, Size, PathBuf)>,
}

/// How the mutant's shipped scenario does over `SHIPPED_SEEDS`.
pub struct Shipped {
    pub scenario: &'static str,
    pub oracle: &'static str,
    /// The seeds at which its oracle failed, in order.
    pub caught_at: Vec<u64>,
}

/// Hunt every mutant with `cfg` (its `mutant` is set per row); the shipped
/// scenarios are read from `sims`.
pub fn hunt(cfg: &SwarmConfig, shrink: bool, sims: &Path) -> Result<Vec<Row>, InputError> {
    let mut rows = Vec::new();
    for &m in Mutant::ALL {
        let cfg = SwarmConfig {
            mutant: Some(m),
            ..cfg.clone()
        };
        let mut unmutated_failures = Vec::new();
        let mut detected = None;
        let mut n = 0;
        crate::swarm::explore(&cfg, |run| {
            n += 1;
            if run.report.pass {
                return true;
            }
            if !run_with(&run.scenario, run.seed, None, cfg.driver).pass {
                unmutated_failures.push(run.seed);
                return true;
            }
            detected = Some((n, run.seed));
            false
        })?;
        let detected = match detected {
            // Drawn again (a seed draws the same run) to own it past `explore`.
            Some((runs, seed)) => {
                let run = crate::swarm::run_one(&cfg, seed)?;
                Some(detection(&cfg, runs, &run, shrink)?)
            }
            None => None,
        };
        rows.push(Row {
            mutant: m,
            detected,
            unmutated_failures,
            shipped: shipped(m, sims, cfg.jobs)?,
        });
    }
    Ok(rows)
}

/// Record a detection: the drawn case written out, and shrunk if asked.
fn detection(
    cfg: &SwarmConfig,
    runs: u64,
    run: &SwarmRun,
    shrink: bool,
) -> Result<Detection, InputError> {
    crate::swarm::write_case(run)?;
    let oracle = run
        .report
        .violations
        .first()
        .map_or_else(String::new, |v| v.oracle.to_string());
    let shrunk = if shrink {
        let found = crate::shrink::shrink_failing(
            run.doc.clone(),
            run.seed,
            cfg.driver,
            cfg.mutant,
            Some(oracle.clone()),
            SHRINK_BUDGET,
        );
        match found {
            Some((goal, s)) => {
                let path = crate::shrink::write_case(&goal, &s, &run.path, None)?;
                Some((s.before, s.after, path))
            }
            None => None,
        }
    } else {
        None
    };
    Ok(Detection {
        runs,
        seed: run.seed,
        oracle,
        shrunk,
    })
}

/// Run the mutant's shipped scenario over `SHIPPED_SEEDS` on the express driver.
fn shipped(m: Mutant, sims: &Path, jobs: usize) -> Result<Shipped, InputError> {
    let (scenario, oracle) = m.caught_by();
    let s = Scenario::load(&sims.join(format!("{scenario}.toml")))?;
    let seeds: Vec<u64> = SHIPPED_SEEDS.collect();
    let caught = crate::parallel::map(jobs, &seeds, |&seed| {
        let r = run_with(&s, seed, Some(m), Driver::Express);
        !r.pass && r.summary.failed_oracles.iter().any(|o| o == oracle)
    });
    Ok(Shipped {
        scenario,
        oracle,
        caught_at: seeds
            .into_iter()
            .zip(caught)
            .filter_map(|(seed, c)| c.then_some(seed))
            .collect(),
    })
}

/// The hunt as README's markdown table, with its closing counts.
pub fn render(rows: &[Row], runs: u64) -> String {
    let mut out = String::from(
        "| mutant | swarm runs to detect (seed, oracle) | shipped scenario (oracle) | its first seed (caught at) | shrunk: faults | tabs | history steps |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let sh = &r.shipped;
        let first = sh
            .caught_at
            .first()
            .map_or("none".to_string(), u64::to_string);
        let swarm = r.detected.as_ref().map_or(format!("none in {runs}"), |d| {
            format!("{} (seed {}, {})", d.runs, d.seed, d.oracle)
        });
        let shrunk = match r.detected.as_ref().and_then(|d| d.shrunk.as_ref()) {
            Some((b, a, _)) => format!(
                "{} → {} | {} → {} | {} → {}",
                b.faults, a.faults, b.tabs, a.tabs, b.steps, a.steps
            ),
            None => "- | - | -".to_string(),
        };
        out += &format!(
            "| `{}` | {swarm} | {} ({}) | {first} ({}/{}) | {shrunk} |\n",
            r.mutant.name(),
            sh.scenario,
            sh.oracle,
            sh.caught_at.len(),
            SHIPPED_SEEDS.count(),
        );
    }
    out + &summary(rows, runs)
}

/// The closing lines: how many were caught each way, how far they shrank.
fn summary(rows: &[Row], runs: u64) -> String {
    let caught = rows.iter().filter(|r| r.detected.is_some()).count();
    let shipped = rows
        .iter()
        .filter(|r| !r.shipped.caught_at.is_empty())
        .count();
    let mut to_detect: Vec<u64> = rows
        .iter()
        .filter_map(|r| r.detected.as_ref().map(|d| d.runs))
        .collect();
    to_detect.sort_unstable();
    let median = to_detect.get(to_detect.len() / 2).copied().unwrap_or(0);
    let shrunk: Vec<&Size> = rows
        .iter()
        .filter_map(|r| r.detected.as_ref()?.shrunk.as_ref().map(|(_, a, _)| a))
        .collect();
    let small = shrunk
        .iter()
        .filter(|a| a.faults <= 2 && a.tabs <= 3)
        .count();
    let mut out = format!(
        "\nhunt: {caught} of {} mutants caught within {runs} swarm runs (median {median} runs); \
         shipped scenarios catch {shipped} of {} within {} seeds\n",
        rows.len(),
        rows.len(),
        SHIPPED_SEEDS.count()
    );
    if !shrunk.is_empty() {
        out += &format!(
            "shrunk: {small} of {} cases to at most 2 faults and 3 tabs\n",
            shrunk.len()
        );
    }
    for r in rows.iter().filter(|r| !r.unmutated_failures.is_empty()) {
        out += &format!(
            "machine bug: {} failed with the mutant off too at seeds {:?}\n",
            r.mutant.name(),
            r.unmutated_failures
        );
    }
    out
}

/// Whether the hunt caught every mutant and met no machine bug on the way.
pub fn all_caught(rows: &[Row]) -> bool {
    rows.iter()
        .all(|r| r.detected.is_some() && r.unmutated_failures.is_empty())
}
