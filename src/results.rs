//! Machine-readable results, `--format json`: one JSON object per line, its
//! `kind` naming one of the shapes below (`run`, `swarm`, `crosscheck`,
//! `total`). Field names are stable; README's "Machine-readable results"
//! lists them. The text tables `sweep`, `crosscheck` and `swarm` print are
//! rendered from these same records, which is what lets `rtsim merge` join
//! the shards of a batch into the table one machine would have printed.

use crate::check::Violation;
use crate::crosscheck::Comparison;
use crate::driver::Driver;
use crate::run::{replay_line_for, RunReport, Summary};
use crate::scenario::{InputError, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How a command prints its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format, String> {
        match name {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            _ => Err(format!("unknown format {name:?}; known: text, json")),
        }
    }
}

/// How many violations of one oracle a result shows; the rest are in the trace.
pub const FIRST_SHOWN: usize = 3;

/// A run's violations of one oracle: how many, and the first few.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OracleViolations {
    pub oracle: String,
    pub count: usize,
    pub first: Vec<String>,
}

/// Violations grouped per oracle, oracles in the order they first failed.
pub fn group(violations: &[Violation]) -> Vec<OracleViolations> {
    let mut groups: Vec<OracleViolations> = Vec::new();
    for v in violations {
        let i = match groups.iter().position(|g| g.oracle == v.oracle) {
            Some(i) => i,
            None => {
                groups.push(OracleViolations {
                    oracle: v.oracle.to_string(),
                    count: 0,
                    first: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[i];
        g.count += 1;
        if g.first.len() < FIRST_SHOWN {
            g.first.push(v.to_string());
        }
    }
    groups
}

/// The `violation:` lines of a text result, a few per oracle and a count of the rest.
pub fn violation_lines(groups: &[OracleViolations], indent: &str) -> String {
    let mut out = String::new();
    for g in groups {
        for v in &g.first {
            out += &format!("{indent}violation: {v}\n");
        }
        if g.count > g.first.len() {
            out += &format!(
                "{indent}... and {} more {} violations (see --trace)\n",
                g.count - g.first.len(),
                g.oracle
            );
        }
    }
    out
}

/// One run of a scenario at a seed (`rtsim run`, and each run of a sweep).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    pub path: String,
    /// The scenario's place in the batch's list: orders the rows of merged shards.
    pub index: usize,
    pub seed: u64,
    pub driver: String,
    pub mutant: Option<String>,
    pub pass: bool,
    /// The trace hash, 16 hex digits.
    pub trace: String,
    pub failed_oracles: Vec<String>,
    /// Expectations not met: an oracle that must hold failed, or one that must fail held.
    pub unmet: Vec<String>,
    pub violations: Vec<OracleViolations>,
    /// The command that replays a failing run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// The run's figures (`rtsim run` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

impl RunRecord {
    pub fn of(s: &Scenario, index: usize, r: &RunReport, driver: Driver) -> RunRecord {
        RunRecord {
            scenario: s.name.clone(),
            path: s.path.display().to_string(),
            index,
            seed: r.seed,
            driver: driver.to_string(),
            mutant: r.mutant.map(|m| m.name().to_string()),
            pass: r.pass,
            trace: r.trace_hex(),
            failed_oracles: r.summary.failed_oracles.clone(),
            unmet: r.unmet.clone(),
            violations: group(&r.violations),
            replay: (!r.pass).then(|| replay_line_for(s, r.seed, r.mutant, driver)),
            summary: None,
        }
    }
}

/// One swarm run: what it drew and how it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwarmRecord {
    pub seed: u64,
    pub driver: String,
    pub mutant: Option<String>,
    pub pass: bool,
    pub trace: String,
    /// What the seed drew, in a line.
    pub drew: String,
    pub failed_oracles: Vec<String>,
    pub violations: Vec<OracleViolations>,
    /// Where the drawn scenario is written if the run fails, and its replay.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// The oracles the run gave something to judge.
    pub applied: Vec<String>,
    pub fault_kinds: Vec<String>,
    /// `name=value` of each parameter drawn away from its default.
    pub params: Vec<String>,
    /// The mutant forks the run reached.
    pub reached: Vec<String>,
}

/// One cross-check row: a scenario and a mutant (or none) over its seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrosscheckRecord {
    pub index: usize,
    #[serde(flatten)]
    pub comparison: Comparison,
}

/// A batch's closing count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub command: String,
    pub runs: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Run(RunRecord),
    Swarm(SwarmRecord),
    Crosscheck(CrosscheckRecord),
    Total(Total),
}

impl Record {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a record serialises")
    }
}

/// The records of JSON-lines files, in file order; a bad line is an error
/// naming its file and line.
pub fn read(paths: &[impl AsRef<Path>]) -> Result<Vec<Record>, InputError> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bad = |line: Option<usize>, message: String| InputError {
            file: path.display().to_string(),
            line,
            field: "-".to_string(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(None, format!("cannot read: {e}")))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(line).map_err(|e| {
                bad(
                    Some(i + 1),
                    format!("not an rtsim result record (from `--format json`): {e}"),
                )
            })?;
            out.push(record);
        }
    }
    Ok(out)
}

/// One scenario of a sweep: its runs, how many failed, the first failing one.
pub struct SweepRow<'a> {
    pub scenario: &'a RunRecord,
    pub runs: u64,
    pub failures: u64,
    pub first: Option<&'a RunRecord>,
}

/// A sweep's rows, one per scenario, in batch order.
pub fn sweep_rows(runs: &[RunRecord]) -> Vec<SweepRow<'_>> {
    let mut rows: BTreeMap<usize, SweepRow> = BTreeMap::new();
    for r in runs {
        let row = rows.entry(r.index).or_insert(SweepRow {
            scenario: r,
            runs: 0,
            failures: 0,
            first: None,
        });
        row.runs += 1;
        if !r.pass {
            row.failures += 1;
            if row.first.is_none_or(|f| r.seed < f.seed) {
                row.first = Some(r);
            }
        }
    }
    rows.into_values().collect()
}

/// A sweep's table, one row per scenario in batch order; and whether every run passed.
pub fn sweep_table(runs: &[RunRecord]) -> (String, bool) {
    let mut out = format!(
        "{:<28} {:>5} {:>8}  first failure\n",
        "scenario", "runs", "failures"
    );
    for row in sweep_rows(runs) {
        let first = row.first.map_or("-".to_string(), |f| {
            format!("seed {}: {}", f.seed, f.replay.as_deref().unwrap_or("-"))
        });
        out += &format!(
            "{:<28} {:>5} {:>8}  {}\n",
            row.scenario.scenario, row.runs, row.failures, first
        );
    }
    let failed = runs.iter().filter(|r| !r.pass).count();
    out += &format!("sweep: {} runs, {failed} failed\n", runs.len());
    (out, failed == 0)
}

/// A batch's records, joined from its shards.
pub enum Merged {
    Sweep(Vec<RunRecord>),
    Crosscheck(Vec<CrosscheckRecord>),
    Swarm(Vec<SwarmRecord>),
}

/// Join the records of a batch's shards: all of one command, each item once,
/// in the order one machine would have run them.
pub fn merge(records: Vec<Record>) -> Result<Merged, String> {
    let (mut runs, mut rows, mut swarm) = (Vec::new(), Vec::new(), Vec::new());
    for r in records {
        match r {
            Record::Run(r) => runs.push(r),
            Record::Crosscheck(r) => rows.push(r),
            Record::Swarm(r) => swarm.push(r),
            Record::Total(_) => {}
        }
    }
    let kinds = [!runs.is_empty(), !rows.is_empty(), !swarm.is_empty()];
    match kinds.iter().filter(|k| **k).count() {
        0 => return Err("no run, crosscheck or swarm records to merge".to_string()),
        1 => {}
        _ => return Err("the files mix the outputs of different commands".to_string()),
    }
    let twice = |what: String| Err(format!("{what} appears in two shards"));
    if !runs.is_empty() {
        runs.sort_by_key(|r| (r.index, r.seed));
        if let Some(w) = runs
            .windows(2)
            .find(|w| (w[0].index, w[0].seed) == (w[1].index, w[1].seed))
        {
            return twice(format!("{} seed {}", w[0].scenario, w[0].seed));
        }
        return Ok(Merged::Sweep(runs));
    }
    if !swarm.is_empty() {
        swarm.sort_by_key(|r| r.seed);
        if let Some(w) = swarm.windows(2).find(|w| w[0].seed == w[1].seed) {
            return twice(format!("swarm seed {}", w[0].seed));
        }
        return Ok(Merged::Swarm(swarm));
    }
    Ok(Merged::Crosscheck(rows))
}

/// A sweep as a JUnit XML report: one test case per scenario, a failing one
/// carrying its first failing seed's violations and replay command.
pub fn junit(runs: &[RunRecord]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("rtsim sweep");
    for row in sweep_rows(runs) {
        let status = match row.first {
            None => TestCaseStatus::success(),
            Some(first) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_message(format!(
                    "{} of {} seeds failed; first: seed {}: {}",
                    row.failures,
                    row.runs,
                    first.seed,
                    first.replay.as_deref().unwrap_or("-")
                ));
                status.set_type(first.failed_oracles.join(","));
                status.set_description(violation_lines(&first.violations, ""));
                status
            }
        };
        let mut case = TestCase::new(row.scenario.scenario.clone(), status);
        case.set_classname(row.scenario.path.clone());
        suite.add_test_case(case);
    }
    let mut report = Report::new("rtsim");
    report.add_test_suite(suite);
    report.to_string().expect("a JUnit report serialises")
}
