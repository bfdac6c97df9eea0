//! Swarm exploration: each seed draws a whole scenario, as FoundationDB's
//! simulator and TigerBeetle's VOPR draw their configuration from the seed.
//! The draw is swarm testing's (Groce et al., ISSTA 2012): every run enables
//! only a random subset of the fault kinds and of the parameter variants,
//! so a run with no partitions can reach the deep states that partitions
//! would keep interrupting. A profile weights one area.
//!
//! A drawn scenario is TOML text, parsed by the same `Scenario::parse` as a
//! shipped file: what `rtsim swarm` writes for a failing run is exactly what
//! it ran, and `rtsim run <file> --seed <seed>` replays it byte for byte.
//! Everything is drawn from the `FAULT_KINDS` table and the parameter
//! variants below, so a new fault kind is explored as soon as it is declared.

use crate::faults::{FaultField, FaultSpec, TargetKind, FAULT_KINDS};
use crate::mutant::Mutant;
use crate::results::SwarmRecord;
use crate::run::{replay_line, run_with, Driver, RunReport};
use crate::scenario::{InputError, Scenario};
use crate::seed::{rng_for, SimRng};
use rand::Rng;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The part of the system a profile leans on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    Leader,
    Auth,
    Ui,
    Server,
}

/// Which area a run leans on; `Any` weights every area alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Any,
    Only(Area),
}

impl Profile {
    pub fn parse(name: &str) -> Result<Profile, String> {
        Ok(match name {
            "any" => Profile::Any,
            "leader" => Profile::Only(Area::Leader),
            "auth" => Profile::Only(Area::Auth),
            "ui" => Profile::Only(Area::Ui),
            "server" => Profile::Only(Area::Server),
            _ => {
                return Err(format!(
                    "unknown profile {name:?}; known: any, leader, auth, ui, server"
                ))
            }
        })
    }

    /// The chance that a fault kind or a parameter variant of `area` is enabled in a run.
    fn weight(self, area: Area) -> f64 {
        match self {
            Profile::Any => 0.4,
            Profile::Only(a) if a == area => 0.8,
            Profile::Only(_) => 0.15,
        }
    }
}

/// A fault only a v2 scenario takes (a route or filter change in place):
/// swarm draws v1 scenarios, and skips these before drawing, so adding one
/// moves no other draw.
pub fn v2_only(kind: &FaultSpec) -> bool {
    kind.fields
        .iter()
        .any(|f| matches!(f, FaultField::Lists | FaultField::Property))
}

/// The area each fault kind exercises.
fn area_of(kind: &FaultSpec) -> Area {
    match kind.name {
        "crash_tab" | "close_tab" | "open_tab" | "hide_tab" | "show_tab" | "freeze_tab"
        | "thaw_tab" | "cpu_throttle" | "navigate_away" | "broadcast_off" | "locks_off" => {
            Area::Leader
        }
        "token_expire" | "refresh_fail" | "refresh_slow" | "logout" | "login" => Area::Auth,
        "echo_drop" | "mutate_slow" | "stream_down" | "focus_tab" | "blur_tab" => Area::Ui,
        _ => Area::Server,
    }
}

/// One variant: the parameters it sets together (TOML values).
type Variant = &'static [(&'static str, &'static str)];

/// The parameter variants the seeds and the shipped scenarios offer, per
/// area: each group is enabled in a run with its area's weight, and then one
/// of its variants is drawn. Left out: the one known-bad configuration (a 3 s
/// takeover with a 10 s heartbeat splits by design, SPEC L3).
const VARIANTS: &[(Area, &[Variant])] = &[
    (
        Area::Leader,
        &[
            &[("mechanism", "\"lease\"")],
            &[("mechanism", "\"web-locks\"")],
        ],
    ),
    (
        Area::Leader,
        &[&[("scope", "\"session\"")], &[("scope", "\"browser-org\"")]],
    ),
    (
        Area::Leader,
        &[
            &[("takeover_ms", "18000"), ("heartbeat_ms", "10000")],
            &[
                ("takeover_ms", "3000"),
                ("takeover_jitter_ms", "500"),
                ("heartbeat_ms", "1000"),
            ],
        ],
    ),
    (
        Area::Leader,
        &[&[("fallback", "\"solo\"")], &[("fallback", "\"mailbox\"")]],
    ),
    (Area::Leader, &[&[("broadcast_enabled", "false")]]),
    (Area::Leader, &[&[("locks_enabled", "false")]]),
    (Area::Leader, &[&[("leader_enabled", "false")]]),
    (
        Area::Auth,
        &[
            &[("access_token_ttl_ms", "120000")],
            &[("access_token_ttl_ms", "90000")],
        ],
    ),
    (
        Area::Ui,
        &[
            &[("page_lists", "\"revenues,expenses\"")],
            &[("page_lists", "\"revenues,expenses,tasks\"")],
        ],
    ),
    (
        Area::Ui,
        &[
            &[("page_aggregates", "\"profit-loss\"")],
            &[("page_aggregates", "\"profit-loss,daily-approval\"")],
            &[("page_aggregates", "\"today-pending\"")],
        ],
    ),
    (
        Area::Ui,
        &[&[("writes_per_min", "2")], &[("writes_per_min", "10")]],
    ),
    (
        Area::Ui,
        &[&[("optimistic_pct", "0")], &[("optimistic_pct", "100")]],
    ),
    (Area::Ui, &[&[("realtime_shadow", "true")]]),
    (
        Area::Ui,
        &[
            &[("rollout_pct", "0")],
            &[("rollout_pct", "5")],
            &[("rollout_pct", "25")],
        ],
    ),
    (
        Area::Ui,
        &[&[("disabled_orgs", "\"0\"")], &[("disabled_orgs", "\"1\"")]],
    ),
    (Area::Ui, &[&[("degraded_polling", "false")]]),
    (Area::Server, &[&[("max_buffer_size", "30")]]),
    (Area::Server, &[&[("max_waiters_per_org", "2")]]),
    (Area::Server, &[&[("org_idle_evict_ms", "20000")]]),
    (Area::Server, &[&[("ops_probe_ms", "5000")]]),
    (Area::Server, &[&[("max_latency_ms", "200")]]),
    (Area::Server, &[&[("filter_odd_browsers", "false")]]),
];

/// Parameters that make a page stale by design when drawn together, so no
/// freshness oracle applies: a page whose realtime the flags turn off (shadow
/// mode, outside the rollout, a killed org) and that does not poll its list
/// either (C11 off) shows what it loaded and nothing after. The first is
/// dropped when any of the others is drawn.
const STALE_BY_DESIGN: (&str, &[&str]) = (
    "degraded_polling",
    &["realtime_shadow", "rollout_pct", "disabled_orgs"],
);

fn toml_value(text: &str) -> Value {
    let table: Table = format!("v = {text}")
        .parse()
        .expect("variants are valid TOML");
    table["v"].clone()
}

fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// The topology drawn for a run: (orgs, properties, browsers, tabs).
fn draw_topology(rng: &mut SimRng, profile: Profile) -> [i64; 4] {
    let max_tabs = if profile == Profile::Only(Area::Leader) {
        5
    } else {
        4
    };
    [
        rng.gen_range(1..=3),
        rng.gen_range(1..=3),
        rng.gen_range(1..=3),
        rng.gen_range(1..=max_tabs),
    ]
}

/// A target for `kind` within the topology.
fn draw_target(rng: &mut SimRng, kind: &FaultSpec, topo: [i64; 4]) -> String {
    let [orgs, _, browsers, tabs] = topo;
    let o = rng.gen_range(0..orgs);
    let b = rng.gen_range(0..browsers);
    let t = rng.gen_range(0..tabs);
    match pick(rng, kind.targets) {
        TargetKind::Server => "server".to_string(),
        TargetKind::Org => format!("org{o}"),
        TargetKind::Browser => format!("org{o}/browser{b}"),
        TargetKind::Tab => format!("org{o}/browser{b}/tab{t}"),
        TargetKind::Leader => format!("leader:org{o}/browser{b}"),
    }
}

fn draw_fault(rng: &mut SimRng, kind: &FaultSpec, topo: [i64; 4], duration_s: i64) -> Table {
    let mut f = Table::new();
    f.insert(
        "at_s".into(),
        Value::Integer(rng.gen_range(5..duration_s - 5)),
    );
    f.insert("kind".into(), Value::String(kind.name.to_string()));
    f.insert("target".into(), Value::String(draw_target(rng, kind, topo)));
    if kind.lasts {
        f.insert("for_s".into(), Value::Integer(rng.gen_range(1..=60)));
    } else if kind.name == "server_restart" {
        // How long the server stays down.
        f.insert("for_s".into(), Value::Integer(rng.gen_range(1..=10)));
    }
    for field in kind.fields {
        let v = match field {
            FaultField::Direction => {
                Value::String(pick(rng, &["to_server", "from_server"]).to_string())
            }
            // A slow device's task, within the lease's measured timing promise
            // (a task under about 60 ms; README): a longer one breaks the
            // leader lease and the refresh mutex's lease by design, as
            // leader_lease_busy_tab shows, so it is a shipped case, not a find.
            FaultField::Ms if kind.name == "cpu_throttle" => Value::Integer(*pick(rng, &[20, 50])),
            FaultField::Ms => Value::Integer(*pick(rng, &[500, 2_000, 5_000])),
            FaultField::Count => Value::Integer(*pick(rng, &[10, 50, 250])),
            FaultField::Lists => Value::String(pick(rng, &["tasks", "revenues,tasks"]).to_string()),
            FaultField::Property => Value::String("all".to_string()),
            FaultField::Pct => Value::Integer(*pick(rng, &[2, 5, 10])),
        };
        f.insert(field.name().into(), v);
    }
    f
}

/// The scenario seed `seed` draws under `profile`, as a TOML document.
pub fn draw(seed: u64, profile: Profile) -> Table {
    let mut rng = rng_for(seed, "swarm");
    let topo = draw_topology(&mut rng, profile);
    let duration_s: i64 = rng.gen_range(6..=24) * 10;
    let mut params = Table::new();
    for (area, variants) in VARIANTS {
        if rng.gen_bool(profile.weight(*area)) {
            for (name, value) in *pick(&mut rng, variants) {
                params.insert(name.to_string(), toml_value(value));
            }
        }
    }
    let (dropped, with) = STALE_BY_DESIGN;
    if with.iter().any(|p| params.contains_key(*p)) {
        params.remove(dropped);
    }
    // Swarm omission: this run's fault kinds, then 0-8 faults drawn from them.
    let kinds: Vec<&FaultSpec> = FAULT_KINDS
        .iter()
        .filter(|k| !v2_only(k) && rng.gen_bool(profile.weight(area_of(k))))
        .collect();
    let count = if kinds.is_empty() {
        0
    } else {
        rng.gen_range(0..=8)
    };
    let faults: Vec<Value> = (0..count)
        .map(|_| {
            let kind = *pick(&mut rng, &kinds);
            Value::Table(draw_fault(&mut rng, kind, topo, duration_s))
        })
        .collect();
    let rate = *pick(&mut rng, &[0.0, 0.2, 0.5, 1.0, 2.0, 4.0]);
    let entities = pick(
        &mut rng,
        &[
            &["revenue"][..],
            &["revenue", "expense"],
            &["revenue", "expense", "task"],
        ],
    )
    .iter()
    .map(|e| Value::String(e.to_string()))
    .collect();

    let mut doc = Table::new();
    doc.insert("name".into(), Value::String(format!("swarm_{seed}")));
    doc.insert(
        "about".into(),
        Value::String(format!("drawn by rtsim swarm from seed {seed}")),
    );
    doc.insert("duration_s".into(), Value::Integer(duration_s));
    doc.insert("settle_s".into(), Value::Integer(90));
    let mut topology = Table::new();
    for (key, n) in [
        "orgs",
        "properties_per_org",
        "browsers_per_org",
        "tabs_per_browser",
    ]
    .iter()
    .zip(topo)
    {
        topology.insert(key.to_string(), Value::Integer(n));
    }
    doc.insert("topology".into(), Value::Table(topology));
    doc.insert("params".into(), Value::Table(params));
    let mut workload = Table::new();
    workload.insert("mutations_per_s".into(), Value::Float(rate));
    workload.insert("entities".into(), Value::Array(entities));
    doc.insert("workload".into(), Value::Table(workload));
    doc.insert("fault".into(), Value::Array(faults));
    let mut expect = Table::new();
    expect.insert(
        "hold".into(),
        Value::Array(vec![Value::String("all".into())]),
    );
    doc.insert("expect".into(), Value::Table(expect));
    doc
}

/// A scenario document as the text a file holds.
pub fn text_of(doc: &Table) -> String {
    toml::to_string(doc).expect("a scenario document serialises")
}

/// A scenario document parsed as if it were the file `path`.
pub fn scenario_of(doc: &Table, path: &Path) -> Result<Scenario, InputError> {
    Scenario::parse(&path.display().to_string(), &text_of(doc))
}

/// One line naming what a drawn scenario holds.
pub fn describe(s: &Scenario) -> String {
    let t = &s.topology;
    let (kinds, params) = (fault_kinds(s), changed_params(s));
    format!(
        "{}x{}x{} tabs, {} properties, {}s, {}/s writes, {} faults [{}], params [{}]",
        t.orgs,
        t.browsers_per_org,
        t.tabs_per_browser,
        t.properties_per_org,
        s.duration.as_ms() / 1000,
        s.mutations_per_s,
        s.faults.len(),
        kinds.join(" "),
        params.join(" ")
    )
}

/// The fault kinds a scenario uses, each once, sorted.
fn fault_kinds(s: &Scenario) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = s.faults.iter().map(|f| f.spec.name).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// `name=value` for each parameter a scenario sets away from its default.
fn changed_params(s: &Scenario) -> Vec<String> {
    let defaults = crate::params::SimConfig::default();
    crate::params::SimConfig::params()
        .filter(|p| (p.get)(&s.config) != (p.get)(&defaults))
        .map(|p| format!("{}={}", p.name, (p.get)(&s.config)))
        .collect()
}

/// A swarm run as a record: what it drew, how it went, how to replay it.
pub fn record(cfg: &SwarmConfig, run: &SwarmRun) -> SwarmRecord {
    let r = &run.report;
    SwarmRecord {
        seed: run.seed,
        driver: cfg.driver.to_string(),
        mutant: cfg.mutant.map(|m| m.name().to_string()),
        pass: r.pass,
        trace: r.trace_hex(),
        drew: describe(&run.scenario),
        failed_oracles: r.summary.failed_oracles.clone(),
        violations: crate::results::group(&r.violations),
        file: run.path.display().to_string(),
        replay: (!r.pass).then(|| replay_line(&run.path, run.seed, cfg.mutant, cfg.driver)),
        applied: r.applied.iter().map(|o| o.to_string()).collect(),
        fault_kinds: fault_kinds(&run.scenario)
            .into_iter()
            .map(str::to_string)
            .collect(),
        params: changed_params(&run.scenario),
        reached: r.reached.iter().map(|m| m.name().to_string()).collect(),
    }
}

/// A swarm run's line: seed, verdict, trace hash and what it drew.
pub fn line(run: &SwarmRecord) -> String {
    let verdict = if run.pass {
        "pass".to_string()
    } else {
        format!("FAIL {}", run.failed_oracles.join(","))
    };
    format!(
        "seed {}: {verdict} trace={} {}",
        run.seed, run.trace, run.drew
    )
}

/// What a swarm batch is asked to do.
#[derive(Clone)]
pub struct SwarmConfig {
    pub runs: u64,
    pub from: u64,
    pub jobs: usize,
    pub mutant: Option<Mutant>,
    pub profile: Profile,
    pub driver: Driver,
    /// Where a failing run's scenario is written.
    pub out: PathBuf,
    /// Which of the batch's seeds this process runs.
    pub shard: crate::shard::Shard,
}

/// One run of a batch.
pub struct SwarmRun {
    pub seed: u64,
    pub doc: Table,
    pub path: PathBuf,
    pub scenario: Scenario,
    pub report: RunReport,
}

/// Draw and run seed `seed`; the scenario is named as if it were in `out`.
pub fn run_one(cfg: &SwarmConfig, seed: u64) -> Result<SwarmRun, InputError> {
    let doc = draw(seed, cfg.profile);
    let path = cfg.out.join(format!("swarm_{seed}.toml"));
    let scenario = scenario_of(&doc, &path)?;
    let report = run_with(&scenario, seed, cfg.mutant, cfg.driver);
    Ok(SwarmRun {
        seed,
        doc,
        path,
        scenario,
        report,
    })
}

/// What a batch saw, for its closing report.
#[derive(Default)]
pub struct Tally {
    pub runs: u64,
    pub failed: u64,
    /// Per oracle: runs it failed, runs in which it applied.
    pub oracle_failed: BTreeMap<String, u64>,
    pub oracle_applied: BTreeMap<String, u64>,
    /// Per fault kind and per parameter value: runs that drew it.
    pub kinds: BTreeMap<String, u64>,
    pub params: BTreeMap<String, u64>,
    /// Per mutant name: runs that reached its fork.
    pub reached: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, run: &SwarmRecord) {
        self.runs += 1;
        if !run.pass {
            self.failed += 1;
        }
        for o in &run.failed_oracles {
            *self.oracle_failed.entry(o.clone()).or_default() += 1;
        }
        for o in &run.applied {
            *self.oracle_applied.entry(o.clone()).or_default() += 1;
        }
        for k in &run.fault_kinds {
            *self.kinds.entry(k.clone()).or_default() += 1;
        }
        for p in &run.params {
            *self.params.entry(p.clone()).or_default() += 1;
        }
        for m in &run.reached {
            *self.reached.entry(m.clone()).or_default() += 1;
        }
    }

    /// The closing report: oracles, fault kinds, parameter values, mutant forks.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("oracle  applied  failed\n");
        for o in crate::scenario::ORACLES {
            let applied = self.oracle_applied.get(o).copied().unwrap_or(0);
            let failed = self.oracle_failed.get(o).copied().unwrap_or(0);
            out.push_str(&format!("{o:<6} {applied:>8} {failed:>7}\n"));
        }
        out.push_str("fault kinds drawn (runs):");
        for k in FAULT_KINDS.iter().filter(|k| !v2_only(k)) {
            out.push_str(&format!(
                " {}={}",
                k.name,
                self.kinds.get(k.name).unwrap_or(&0)
            ));
        }
        out.push_str("\nparameter values drawn (runs):");
        for (p, n) in &self.params {
            out.push_str(&format!(" {p}:{n}"));
        }
        out.push_str("\nmutant forks reached (runs):");
        let mut never = Vec::new();
        for &m in Mutant::ALL {
            match self.reached.get(m.name()) {
                Some(n) => out.push_str(&format!(" {m}={n}")),
                None => never.push(m.name()),
            }
        }
        out.push_str(&format!(
            "\nmutant forks never reached: {}\n",
            if never.is_empty() {
                "none".to_string()
            } else {
                never.join(", ")
            }
        ));
        out
    }
}

/// Run seeds `from..from + runs` of `cfg` in parallel batches, calling `each`
/// in seed order as results come; stops early when `each` says so.
pub fn explore(
    cfg: &SwarmConfig,
    mut each: impl FnMut(&SwarmRun) -> bool,
) -> Result<(), InputError> {
    let batch = (cfg.jobs * 4).max(1) as u64;
    let mut start = 0;
    while start < cfg.runs {
        let seeds: Vec<u64> = (start..(start + batch).min(cfg.runs))
            .filter(|&k| cfg.shard.keeps(k as usize))
            .map(|k| cfg.from.wrapping_add(k))
            .collect();
        let done = crate::parallel::map(cfg.jobs, &seeds, |&seed| run_one(cfg, seed));
        for run in done {
            if !each(&run?) {
                return Ok(());
            }
        }
        start += batch;
    }
    Ok(())
}

/// Write a drawn scenario where its replay line says it is.
pub fn write_case(run: &SwarmRun) -> Result<(), InputError> {
    write_doc(&run.path, &run.doc)
}

/// Write `doc` to `path`, creating its directory.
pub fn write_doc(path: &Path, doc: &Table) -> Result<(), crate::scenario::InputError> {
    let bad = |e: std::io::Error| crate::scenario::InputError {
        file: path.display().to_string(),
        line: None,
        field: "--out".to_string(),
        message: format!("cannot write the case: {e}"),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(bad)?;
    }
    std::fs::write(path, text_of(doc)).map_err(bad)
}
