//! The batch commands' work, as records: a sweep (every scenario x seed), a
//! cross-check (every scenario under both drivers, with no mutant and with
//! each), each cut to one shard of its work list and reporting progress. The
//! command line prints the records as text tables or JSON lines
//! (`crate::results`); `rtsim merge` renders the same tables from the JSON
//! lines of several shards.

use crate::crosscheck::Comparison;
use crate::mutant::Mutant;
use crate::progress::Progress;
use crate::results::{CrosscheckRecord, RunRecord};
use crate::run::{run_with, Driver};
use crate::scenario::Scenario;
use crate::shard::Shard;

/// Every (scenario index, seed) of a batch, scenario by scenario.
pub fn work_list(scenarios: usize, seeds: u64, from: u64) -> Vec<(usize, u64)> {
    (0..scenarios)
        .flat_map(|i| (0..seeds).map(move |k| (i, from.wrapping_add(k))))
        .collect()
}

/// What a sweep runs.
pub struct SweepConfig {
    pub seeds: u64,
    pub from: u64,
    pub jobs: usize,
    pub mutant: Option<Mutant>,
    pub driver: Driver,
    pub shard: Shard,
}

/// This shard's runs of a sweep, in work-list order.
pub fn sweep(scenarios: &[Scenario], cfg: &SweepConfig) -> Vec<RunRecord> {
    let work = cfg
        .shard
        .slice(&work_list(scenarios.len(), cfg.seeds, cfg.from));
    let progress = Progress::new(work.len() as u64, "runs", "failed");
    let records = crate::parallel::map(cfg.jobs, &work, |&(i, seed)| {
        let r = run_with(&scenarios[i], seed, cfg.mutant, cfg.driver);
        progress.done(r.pass);
        RunRecord::of(&scenarios[i], i, &r, cfg.driver)
    });
    progress.finish();
    records
}

/// This shard's cross-check, scenario by scenario: `each` gets every row of
/// a scenario as soon as it is done (the whole matrix takes hours, and what
/// finished survives an interrupted run).
pub fn crosscheck(
    scenarios: &[Scenario],
    seeds: u64,
    from: u64,
    jobs: usize,
    shard: Shard,
    mut each: impl FnMut(CrosscheckRecord),
) {
    let work = shard.slice(&work_list(scenarios.len(), seeds, from));
    let progress = Progress::new(scenarios.len() as u64, "scenarios", "disagreements");
    for (i, scenario) in scenarios.iter().enumerate() {
        let mine: Vec<u64> = work.iter().filter(|w| w.0 == i).map(|w| w.1).collect();
        if mine.is_empty() {
            progress.done(true);
            continue;
        }
        let rows =
            crate::crosscheck::matrix(std::slice::from_ref(scenario), Mutant::ALL, &[mine], jobs);
        progress.done(rows.iter().all(|c| c.disagreement.is_none()));
        for comparison in rows {
            each(CrosscheckRecord {
                index: i,
                comparison,
            });
        }
    }
    progress.finish();
}

/// One cross-check row as the table prints it.
pub fn crosscheck_line(c: &Comparison) -> String {
    let verdict = match &c.disagreement {
        Some(d) => format!("DISAGREE: {d}"),
        None => "agree".to_string(),
    };
    let name = c.mutant.map_or("none".to_string(), |m| m.to_string());
    format!(
        "{:<34} {:<24} {:>6} {:>8} {:>8} {:>8} {:>8}  {verdict}",
        c.scenario,
        name,
        c.seeds,
        c.agreeing_seeds,
        c.turmoil_failing,
        c.express_failing,
        c.derived_runs
    )
}

/// The cross-check table's header.
pub fn crosscheck_header() -> String {
    format!(
        "{:<34} {:<24} {:>6} {:>8} {:>8} {:>8} {:>8}  verdict",
        "scenario", "mutant", "seeds", "agree", "turmoil", "express", "derived"
    )
}

/// The cross-check's closing line over all its rows; and whether the drivers agreed.
pub fn crosscheck_total(rows: &[Comparison]) -> (String, bool) {
    let disagreements = rows.iter().filter(|c| c.disagreement.is_some()).count();
    let agreeing: usize = rows.iter().map(|c| c.agreeing_seeds).sum();
    let total: usize = rows.iter().map(|c| c.seeds).sum();
    let derived: usize = rows.iter().map(|c| c.derived_runs).sum();
    let mutant_runs: usize = rows
        .iter()
        .filter(|c| c.mutant.is_some())
        .map(|c| 2 * c.seeds)
        .sum();
    (
        format!(
            "crosscheck: {disagreements} disagreements; same verdict at {agreeing} of {total} seeds; \
             {derived} of {mutant_runs} mutant runs read off a run that never reached the mutant"
        ),
        disagreements == 0,
    )
}

/// Join shards' rows of one (scenario, mutant): their seeds together, judged again.
pub fn join_crosscheck(mut rows: Vec<CrosscheckRecord>) -> Vec<Comparison> {
    let order = |m: Option<Mutant>| m.map_or(0, |m| m as usize + 1);
    rows.sort_by_key(|r| (r.index, order(r.comparison.mutant)));
    let mut out: Vec<(usize, Comparison)> = Vec::new();
    for r in rows {
        let c = r.comparison;
        match out.last_mut() {
            Some((i, last)) if *i == r.index && last.mutant == c.mutant => {
                let mut pairs = std::mem::take(&mut last.pairs);
                pairs.extend(c.pairs);
                pairs.sort_by_key(|p| p.seed);
                *last = crate::crosscheck::compare(&c.scenario, c.mutant, pairs);
            }
            _ => out.push((r.index, c)),
        }
    }
    out.into_iter().map(|(_, c)| c).collect()
}
