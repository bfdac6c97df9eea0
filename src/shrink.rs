//! Shrinking a failing run to the smallest scenario that still fails the same
//! oracle at the same seed: delta debugging (Zeller's ddmin) over the fault
//! list, then a binary search on every number (how long each fault lasts,
//! the fault phase, orgs, browsers, tabs, properties, the write rate), then
//! each parameter back to its default; repeated until a whole round removes
//! nothing. A candidate that no longer parses (a fault aimed at a tab the
//! smaller topology lacks) counts as passing.
//!
//! "Still fails" means the same failure, not just the same oracle: some
//! violation of the candidate reads like the original's first one with its
//! numbers taken out ("event ... lost: never applied" stays that, and does
//! not slip into another check of O1). The settle window is left as it is, so
//! a convergence failure cannot turn into a run too short to converge.
//!
//! The DST tools this harness follows replay a seed but do not shrink its
//! schedule; this works on the scenario document `swarm` draws and `rtsim run`
//! reads, so every step of the way is a file one can run.

use crate::mutant::Mutant;
use crate::run::{run_with, Driver, RunReport};
use crate::swarm::scenario_of;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// What to keep failing, and how much to spend on it.
pub struct Goal {
    pub seed: u64,
    pub driver: Driver,
    pub mutant: Option<Mutant>,
    pub oracle: String,
    /// At most this many runs in all.
    pub budget: usize,
}

/// How big a case is: its faults, its tabs and its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub faults: usize,
    pub tabs: u64,
    pub steps: usize,
}

pub struct Shrunk {
    pub doc: Table,
    /// The last failing run of the shrunk case.
    pub report: RunReport,
    pub before: Size,
    pub after: Size,
    /// What each accepted step removed, in order.
    pub log: Vec<String>,
    pub runs: usize,
}

impl Shrunk {
    /// "faults 8 -> 1, tabs 2 -> 2, history steps 516 -> 38".
    pub fn sizes(&self) -> String {
        let (b, a) = (self.before, self.after);
        format!(
            "faults {} -> {}, tabs {} -> {}, history steps {} -> {}",
            b.faults, a.faults, b.tabs, a.tabs, b.steps, a.steps
        )
    }
}

fn size(doc: &Table, report: &RunReport) -> Size {
    let topo = doc.get("topology").and_then(Value::as_table);
    let n = |k: &str| {
        topo.and_then(|t| t.get(k))
            .and_then(Value::as_integer)
            .unwrap_or(1) as u64
    };
    Size {
        faults: faults(doc).len(),
        tabs: n("orgs") * n("browsers_per_org") * n("tabs_per_browser"),
        // The trace's lines: the history's steps and the violations'.
        steps: (report.steps + report.violations.len() as u64) as usize,
    }
}

fn faults(doc: &Table) -> Vec<Value> {
    doc.get("fault")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A violation's detail with its numbers taken out: what kind of failure it is.
fn signature(oracle: &str, detail: &str) -> String {
    let text: String = detail.chars().filter(|c| !c.is_ascii_digit()).collect();
    format!("{oracle}: {text}")
}

struct Search<'a> {
    goal: &'a Goal,
    /// The failure to keep.
    signature: String,
    runs: usize,
    best: Table,
    report: RunReport,
    log: Vec<String>,
}

impl Search<'_> {
    /// Run `doc`; the run if it still fails the goal's oracle.
    fn fails(&mut self, doc: &Table) -> Option<RunReport> {
        if self.runs >= self.goal.budget {
            return None;
        }
        self.runs += 1;
        let scenario = scenario_of(doc, Path::new("shrink-candidate.toml")).ok()?;
        let r = run_with(
            &scenario,
            self.goal.seed,
            self.goal.mutant,
            self.goal.driver,
        );
        r.violations
            .iter()
            .any(|v| signature(v.oracle, &v.detail) == self.signature)
            .then_some(r)
    }

    /// Keep `doc` if it still fails; say what it removed.
    fn try_keep(&mut self, doc: Table, what: impl FnOnce() -> String) -> bool {
        match self.fails(&doc) {
            Some(r) => {
                self.best = doc;
                self.report = r;
                self.log.push(what());
                true
            }
            None => false,
        }
    }

    /// ddmin over the fault list: drop ever smaller chunks while the failure stays.
    fn faults(&mut self) -> bool {
        let mut changed = false;
        let mut chunks = 2;
        loop {
            let list = faults(&self.best);
            if list.is_empty() {
                return changed;
            }
            let chunk = list.len().div_ceil(chunks);
            let mut dropped = false;
            for start in (0..list.len()).step_by(chunk) {
                let end = (start + chunk).min(list.len());
                let mut rest = list.clone();
                let gone: Vec<String> =
                    rest.drain(start..end).map(|f| describe_fault(&f)).collect();
                let mut doc = self.best.clone();
                doc.insert("fault".into(), Value::Array(rest));
                if self.try_keep(doc, || format!("dropped {}", gone.join(", "))) {
                    dropped = true;
                    changed = true;
                    chunks = (chunks - 1).max(2);
                    break;
                }
            }
            if !dropped {
                if chunk == 1 {
                    return changed;
                }
                chunks = (chunks * 2).min(list.len());
            }
        }
    }

    /// The smallest value in `lo..=current` of the number `get` reads and `set`
    /// writes that still fails, by binary search (a failure is taken to stay
    /// once a value has it, as it mostly does).
    fn smallest(
        &mut self,
        name: &str,
        lo: i64,
        get: impl Fn(&Table) -> Option<i64>,
        set: impl Fn(&mut Table, i64),
    ) -> bool {
        let Some(current) = get(&self.best) else {
            return false;
        };
        let (mut lo, mut hi) = (lo, current);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let mut doc = self.best.clone();
            set(&mut doc, mid);
            if self.try_keep(doc, || format!("{name} {current} -> {mid}")) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        hi < current
    }

    fn numbers(&mut self) -> bool {
        let mut changed = false;
        for i in 0..faults(&self.best).len() {
            let name = format!("fault[{i}].for_s");
            changed |= self.smallest(
                &name,
                1,
                |d| fault_field(d, i, "for_s"),
                |d, v| set_fault_field(d, i, "for_s", v),
            );
        }
        let last_fault = faults(&self.best)
            .iter()
            .filter_map(|f| f.get("at_s").and_then(number))
            .max()
            .unwrap_or(0);
        changed |= self.smallest(
            "duration_s",
            last_fault + 1,
            |d| top(d, "duration_s"),
            |d, v| {
                d.insert("duration_s".into(), Value::Integer(v));
            },
        );
        for key in [
            "orgs",
            "browsers_per_org",
            "tabs_per_browser",
            "properties_per_org",
        ] {
            changed |= self.smallest(
                key,
                1,
                |d| table_num(d, "topology", key),
                |d, v| set_table_num(d, "topology", key, v),
            );
        }
        changed |= self.rate();
        changed
    }

    /// The write rate: none at all, or halved while the failure stays.
    fn rate(&mut self) -> bool {
        let get = |d: &Table| {
            d.get("workload")
                .and_then(|w| w.get("mutations_per_s"))
                .and_then(Value::as_float)
        };
        let mut changed = false;
        while let Some(rate) = get(&self.best).filter(|r| *r > 0.0) {
            let next = if rate <= 0.1 { 0.0 } else { rate / 2.0 };
            let mut doc = self.best.clone();
            if let Some(w) = doc.get_mut("workload").and_then(Value::as_table_mut) {
                w.insert("mutations_per_s".into(), Value::Float(next));
            }
            if !self.try_keep(doc, || format!("mutations_per_s {rate} -> {next}")) {
                break;
            }
            changed = true;
        }
        changed
    }

    /// Each parameter back to its default, one at a time.
    fn params(&mut self) -> bool {
        let names: Vec<String> = self
            .best
            .get("params")
            .and_then(Value::as_table)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let mut changed = false;
        for name in names {
            let mut doc = self.best.clone();
            if let Some(p) = doc.get_mut("params").and_then(Value::as_table_mut) {
                p.remove(&name);
            }
            changed |= self.try_keep(doc, || format!("params.{name} back to its default"));
        }
        changed
    }
}

fn number(v: &Value) -> Option<i64> {
    v.as_integer()
        .or_else(|| v.as_float().map(|f| f.ceil() as i64))
}

fn top(d: &Table, key: &str) -> Option<i64> {
    d.get(key).and_then(number)
}

fn table_num(d: &Table, table: &str, key: &str) -> Option<i64> {
    d.get(table)?.get(key).and_then(number)
}

fn set_table_num(d: &mut Table, table: &str, key: &str, v: i64) {
    if let Some(t) = d.get_mut(table).and_then(Value::as_table_mut) {
        t.insert(key.into(), Value::Integer(v));
    }
}

fn fault_field(d: &Table, i: usize, key: &str) -> Option<i64> {
    d.get("fault")?.get(i)?.get(key).and_then(number)
}

fn set_fault_field(d: &mut Table, i: usize, key: &str, v: i64) {
    let f = d
        .get_mut("fault")
        .and_then(Value::as_array_mut)
        .and_then(|a| a.get_mut(i))
        .and_then(Value::as_table_mut);
    if let Some(f) = f {
        f.insert(key.into(), Value::Integer(v));
    }
}

/// `kind@at_s target`, how the log names a fault.
pub fn describe_fault(f: &Value) -> String {
    let s = |k: &str| {
        f.get(k)
            .map(|v| v.to_string().trim_matches('"').to_string())
    };
    format!(
        "{}@{}s {}",
        s("kind").unwrap_or_default(),
        s("at_s").unwrap_or_default(),
        s("target").unwrap_or_else(|| "server".into())
    )
}

/// Shrink `doc`, which must fail `goal.oracle` at `goal.seed`; `None` if it does not.
pub fn shrink(doc: Table, goal: &Goal) -> Option<Shrunk> {
    let scenario = scenario_of(&doc, Path::new("shrink-input.toml")).ok()?;
    let first = run_with(&scenario, goal.seed, goal.mutant, goal.driver);
    let v = first.violations.iter().find(|v| v.oracle == goal.oracle)?;
    let signature = signature(v.oracle, &v.detail);
    let before = size(&doc, &first);
    let mut search = Search {
        goal,
        signature,
        runs: 1,
        best: doc,
        report: first,
        log: Vec::new(),
    };
    loop {
        let mut changed = search.faults();
        changed |= search.numbers();
        changed |= search.params();
        if !changed || search.runs >= goal.budget {
            break;
        }
    }
    let after = size(&search.best, &search.report);
    Some(Shrunk {
        doc: search.best,
        report: search.report,
        before,
        after,
        log: search.log,
        runs: search.runs,
    })
}

/// Shrink the failing run `doc` at `seed`; `None` if it does not fail `oracle` (or any, when none is named).
pub fn shrink_failing(
    doc: Table,
    seed: u64,
    driver: Driver,
    mutant: Option<Mutant>,
    oracle: Option<String>,
    budget: usize,
) -> Option<(Goal, Shrunk)> {
    let oracle = match oracle {
        Some(o) => o,
        None => {
            let s = scenario_of(&doc, Path::new("shrink-input.toml")).ok()?;
            let r = run_with(&s, seed, mutant, driver);
            r.violations.first()?.oracle.to_string()
        }
    };
    let goal = Goal {
        seed,
        driver,
        mutant,
        oracle,
        budget,
    };
    let shrunk = shrink(doc, &goal)?;
    Some((goal, shrunk))
}

/// `<oracle>_<what>`: the mutant's name, or the first words of the failure.
pub fn case_name(oracle: &str, mutant: Option<Mutant>, detail: &str) -> String {
    let what = match mutant {
        Some(m) => m.name().to_string(),
        None => detail
            .split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() > 2)
            .take(4)
            .collect::<Vec<_>>()
            .join("-")
            .to_lowercase(),
    };
    format!("{oracle}_{what}")
}

/// Where a shrunk case goes unless `--out` says: a mutant's under
/// `target/shrunk/` with its seed in the name (one per failing run, so a batch
/// keeps them all), a real failure's in `sims/regressions/`, with its seed
/// added only when the plain name is taken (never over an existing case).
pub fn case_path(goal: &Goal, shrunk: &Shrunk) -> PathBuf {
    let detail = shrunk
        .report
        .violations
        .iter()
        .find(|v| v.oracle == goal.oracle)
        .map_or("", |v| v.detail.as_str());
    let name = case_name(&goal.oracle, goal.mutant, detail);
    let seeded = format!("{name}_seed{}.toml", goal.seed);
    if goal.mutant.is_some() {
        return Path::new("target/shrunk").join(seeded);
    }
    let dir = Path::new("sims/regressions");
    let plain = dir.join(format!("{name}.toml"));
    if plain.exists() {
        dir.join(seeded)
    } else {
        plain
    }
}

/// Write a shrunk case as a regression file, at `out` or its `case_path`; the path.
pub fn write_case(
    goal: &Goal,
    shrunk: &Shrunk,
    source: &Path,
    out: Option<PathBuf>,
) -> Result<PathBuf, crate::scenario::InputError> {
    let path = out.unwrap_or_else(|| case_path(goal, shrunk));
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let doc = regression_doc(shrunk, goal, &stem, &source.display().to_string());
    crate::swarm::write_doc(&path, &doc)?;
    Ok(path)
}

/// The shrunk case as a regression file: named, described, with its replay.
fn regression_doc(shrunk: &Shrunk, goal: &Goal, name: &str, source: &str) -> Table {
    let mut doc = shrunk.doc.clone();
    let first = shrunk
        .report
        .violations
        .iter()
        .find(|v| v.oracle == goal.oracle)
        .map_or(String::new(), |v| v.to_string());
    doc.insert("name".into(), Value::String(name.to_string()));
    let about = format!(
        "Shrunk by rtsim shrink from {source} at seed {} ({} driver): {first}. {}",
        goal.seed,
        goal.driver,
        match goal.mutant {
            Some(m) => format!("Caught with the {m} mutant on; holds with it off."),
            None => "Must hold once the bug is fixed.".to_string(),
        }
    );
    doc.insert("about".into(), Value::String(about));
    // The platform timing the case failed under, written out even when it is
    // today's default, so a later default cannot change what it replays.
    if let Value::Table(params) = doc
        .entry("params")
        .or_insert_with(|| Value::Table(Table::new()))
    {
        params.entry("platform_profile").or_insert_with(|| {
            let default = crate::browser::platform::PlatformConfig::default().profile;
            Value::String(default.name().to_string())
        });
    }
    let mut replay = Table::new();
    replay.insert(
        "seeds".into(),
        Value::Array(vec![Value::Integer(goal.seed as i64)]),
    );
    replay.insert("driver".into(), Value::String(goal.driver.to_string()));
    replay.insert("oracle".into(), Value::String(goal.oracle.clone()));
    if let Some(m) = goal.mutant {
        replay.insert("mutant".into(), Value::String(m.to_string()));
    }
    doc.insert("replay".into(), Value::Table(replay));
    doc
}

/// Print a shrink's steps and sizes.
pub fn print(shrunk: &Shrunk) {
    for step in &shrunk.log {
        println!("shrink: {step}");
    }
    println!("shrunk in {} runs: {}", shrunk.runs, shrunk.sizes());
}

/// Read a scenario file as a document (checked by parsing it as a scenario).
pub fn read_doc(path: &Path) -> Result<Table, crate::scenario::InputError> {
    crate::scenario::Scenario::load(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| crate::scenario::InputError {
        file: path.display().to_string(),
        line: None,
        field: "-".to_string(),
        message: format!("cannot read: {e}"),
    })?;
    Ok(text
        .parse::<Table>()
        .expect("a file that loads as a scenario is TOML"))
}
