//! `rtsim bench`: what rtsim costs, each figure measured in the same run as
//! its baseline (real time, bare turmoil, or the other driver), because this
//! machine is shared and noisy and only ratios travel.
//!
//! Wall-clock reads here time whole runs from outside; nothing a simulation
//! runs ever sees them.

use crate::http::{Body, Method, Request, Response};
use crate::observation::History;
use crate::run::{run_with, Driver};
use crate::scenario::Scenario;
use crate::sim::wire::{read_frame, write_frame};
use crate::time::SimTime;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// One figure: `bench <name> <value> <unit>`.
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = if self.value.abs() >= 100.0 {
            format!("{:.0}", self.value)
        } else {
            format!("{:.2}", self.value)
        };
        write!(f, "bench {} {} {}", self.name, v, self.unit)
    }
}

/// The benchmark groups, for `rtsim bench --only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    /// Steady delivery under both drivers, bare turmoil and coarser ticks.
    Drivers,
    /// Every shipped scenario under turmoil.
    Shipped,
    /// Sweep throughput on every core.
    Sweep,
    /// The scale runs (1k to 250k tabs), the bare event queue and turmoil's crowd.
    Scale,
}

pub struct BenchConfig {
    pub quick: bool,
    /// The groups to run; every group when empty.
    pub only: Vec<Group>,
    pub sims: PathBuf,
    /// The rtsim binary, run as a child for the scale runs so each one's peak memory is its own.
    pub exe: PathBuf,
    pub jobs: usize,
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now(); // determinism-ok: bench timing, outside any simulation
    let out = f();
    (out, start.elapsed().as_secs_f64())
}

fn load(dir: &Path, name: &str) -> Scenario {
    let path = dir.join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("bench needs {}: {e}", path.display()))
}

/// A copy of `s` whose fault phase lasts `total_s - settle` so the run covers `total_s` simulated seconds.
fn lasting(s: &Scenario, total_s: u64) -> Scenario {
    let mut s = s.clone();
    s.duration = SimTime::from_secs(total_s) - s.settle_ms;
    s
}

/// Hands figures to the caller as they are measured.
struct Emit<'a>(&'a mut dyn FnMut(Figure));

impl Emit<'_> {
    fn fig(&mut self, name: &str, value: f64, unit: &'static str) {
        (self.0)(Figure {
            name: name.to_string(),
            value,
            unit,
        })
    }
}

/// Run every benchmark, handing each figure to `emit` as soon as it is measured.
pub fn run_all(cfg: &BenchConfig, emit: &mut dyn FnMut(Figure)) {
    let mut out = Emit(emit);
    let wanted = |g: Group| cfg.only.is_empty() || cfg.only.contains(&g);
    let steady = load(&cfg.sims, "delivery_steady.toml");
    if wanted(Group::Drivers) {
        let sim_s = if cfg.quick { 120 } else { 600 };
        drivers(&lasting(&steady, sim_s), sim_s, &mut out);
    }
    if wanted(Group::Shipped) {
        shipped_under_turmoil(cfg, &mut out);
    }
    if wanted(Group::Sweep) {
        // Sweep throughput: a 5-minute scenario on every core, express.
        let runs = if cfg.quick { 40 } else { 400 };
        let five = lasting(&steady, 300);
        let seeds: Vec<u64> = (1..=runs).collect();
        let (_, wall) = timed(|| {
            crate::parallel::map(cfg.jobs, &seeds, |&seed| {
                run_with(&five, seed, None, Driver::Express).pass
            })
        });
        out.fig(
            "sweep_runs_per_min",
            runs as f64 * 60.0 / wall,
            "runs_per_min",
        );
    }
    if wanted(Group::Scale) {
        scale(cfg, &mut out);
    }
}

/// Speed on steady delivery under both drivers, bare turmoil, and coarser ticks.
fn drivers(long: &Scenario, sim_s: u64, out: &mut Emit) {
    // Simulated seconds per wall second, one core.
    let (express_report, express_wall) = timed(|| run_with(long, 1, None, Driver::Express));
    out.fig(
        "express_speedup",
        sim_s as f64 / express_wall,
        "x_real_time",
    );
    let (turmoil_report, turmoil_wall) = timed(|| run_with(long, 1, None, Driver::Turmoil));
    out.fig(
        "turmoil_speedup",
        sim_s as f64 / turmoil_wall,
        "x_real_time",
    );
    out.fig("express_over_turmoil", turmoil_wall / express_wall, "ratio");
    assert!(
        express_report.pass && turmoil_report.pass,
        "steady delivery must pass while benchmarked"
    );

    // Our turmoil driver against bare turmoil: same hosts, tick, duration and message count.
    let hosts = 1 + (long.topology.orgs * long.topology.browsers_per_org) as usize;
    let messages = turmoil_report.summary.requests;
    let bare_wall = bare_turmoil(hosts, long, messages);
    out.fig(
        "turmoil_bare_speedup",
        sim_s as f64 / bare_wall,
        "x_real_time",
    );
    out.fig("turmoil_overhead", turmoil_wall / bare_wall, "ratio");

    // What the tick costs and buys: the same run at coarser ticks.
    for tick_ms in [5, 10] {
        let mut coarse = long.clone();
        coarse.config.tick_ms = tick_ms;
        let (r, wall) = timed(|| run_with(&coarse, 1, None, Driver::Turmoil));
        out.fig(
            &format!("turmoil_tick_{tick_ms}ms_speedup"),
            sim_s as f64 / wall,
            "x_real_time",
        );
        out.fig(
            &format!("turmoil_tick_{tick_ms}ms_pass"),
            if r.pass { 1.0 } else { 0.0 },
            "bool",
        );
    }
}

/// Every shipped scenario under turmoil, as shipped.
fn shipped_under_turmoil(cfg: &BenchConfig, out: &mut Emit) {
    let mut shipped: Vec<PathBuf> = std::fs::read_dir(&cfg.sims)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect()
        })
        .unwrap_or_default();
    shipped.sort();
    for path in shipped {
        let Ok(s) = Scenario::load(&path) else {
            continue;
        };
        let (_, wall) = timed(|| run_with(&s, 1, None, Driver::Turmoil));
        out.fig(
            &format!("turmoil_speedup_{}", s.name),
            s.end().as_ms() as f64 / 1000.0 / wall,
            "x_real_time",
        );
    }
}

/// How many times each scale size runs for the linearity ratios.
const SCALE_ROUNDS: u32 = 3;

/// Scale: the seeds' planned shape (25 tabs per org) at growing tab counts,
/// express, each a child process; then turmoil with crowd hosts.
fn scale(cfg: &BenchConfig, out: &mut Emit) {
    let scale_file = cfg.sims.join("scale/scale_50k.toml");
    let counts: &[u64] = if cfg.quick {
        &[100, 1_000, 10_000]
    } else {
        &[100, 1_000, 10_000, 50_000]
    };
    // Every size runs as many times, in interleaved rounds, and the least
    // wall time of each is kept: noise only ever adds time, and taking the
    // least of five small runs against one large one biased the ratios up.
    // The first round goes up in size, so each child's peak is its own.
    let mut walls = std::collections::BTreeMap::new();
    for round in 0..SCALE_ROUNDS {
        for &tabs in counts {
            let (wall, peak_mb) = child_run(&cfg.exe, &scale_file, tabs / 25, &[], "express");
            let least = walls.entry(tabs).or_insert(f64::INFINITY);
            *least = least.min(wall);
            if round == 0 {
                out.fig(&format!("scale_{}_peak_mb", label(tabs)), peak_mb, "MB");
            }
        }
    }
    for (&tabs, &wall) in &walls {
        out.fig(&format!("scale_{}_wall_s", label(tabs)), wall, "s");
        out.fig(
            &format!("scale_{}_runs", label(tabs)),
            SCALE_ROUNDS as f64,
            "runs",
        );
    }
    // Linearity: n times the tabs against n runs of the smaller size (1.0 is linear).
    for (big, small) in [(10_000u64, 1_000u64), (50_000, 1_000), (50_000, 10_000)] {
        if let (Some(b), Some(s)) = (walls.get(&big), walls.get(&small)) {
            let n = big / small;
            let name = format!("scale_{}_over_{n}x_{}", label(big), label(small));
            out.fig(&name, b / (n as f64 * s), "ratio");
        }
    }
    if !cfg.quick {
        // The 250k-tab scenario as shipped: every oracle checked, streamed.
        // It runs once (about two minutes), so against the least of the 50k
        // runs its ratio errs high, never low.
        let file = cfg.sims.join("scale/scale_250k.toml");
        let (wall, peak_mb) = child_run(&cfg.exe, &file, 10_000, &[], "express");
        out.fig("scale_250k_wall_s", wall, "s");
        out.fig("scale_250k_peak_mb", peak_mb, "MB");
        if let Some(w50) = walls.get(&50_000) {
            out.fig("scale_250k_over_5x_50k", wall / (5.0 * w50), "ratio");
        }
    }

    against_bare_queue(&scale_file, if cfg.quick { 1_000 } else { 10_000 }, out);

    // The largest tab count that runs 5 simulated minutes within the budget.
    let budget_s = if cfg.quick { 10.0 } else { 60.0 };
    let mut best = 0;
    for tabs in [500u64, 1_000, 2_500, 5_000, 10_000, 20_000, 40_000] {
        let (wall, _) = child_run(
            &cfg.exe,
            &scale_file,
            tabs / 25,
            &[("crowd_hosts", 4)],
            "turmoil",
        );
        out.fig(&format!("turmoil_crowd_{}_wall_s", label(tabs)), wall, "s");
        if wall > budget_s {
            break;
        }
        best = tabs;
    }
    out.fig(
        &format!("turmoil_crowd_max_tabs_in_{budget_s:.0}s"),
        best as f64,
        "tabs",
    );
}

/// The express driver on the seeds' shape at `tabs` tabs, alone (its history
/// discarded) and as a checked run, against its limit: a bare deterministic
/// event queue (a binary heap of timestamped no-op events) carrying as many
/// deliveries and deadlines.
fn against_bare_queue(scale_file: &Path, tabs: u64, out: &mut Emit) {
    let text = std::fs::read_to_string(scale_file)
        .unwrap_or_else(|e| panic!("bench needs {}: {e}", scale_file.display()));
    let mut doc: toml_edit::DocumentMut = text.parse().expect("the shipped scale scenario parses");
    doc["topology"]["orgs"] = toml_edit::value((tabs / 25) as i64);
    let s = Scenario::parse(&scale_file.display().to_string(), &doc.to_string())
        .expect("the resized scale scenario parses");
    let (done, express_wall) =
        timed(|| crate::sim::express::run(&s, 1, None, History::discarding()));
    let d = done.dispatched;
    let events = d.deliveries + d.deadlines + d.actions;
    // As many events pending at once as there are nodes, as in the run.
    let pending = 1 + u64::from(s.topology.orgs * s.topology.browsers_per_org);
    let (_, bare_wall) = timed(|| bare_queue(events, pending, s.end().as_ms()));
    let name = label(tabs);
    out.fig(&format!("express_{name}_events"), events as f64, "events");
    out.fig(&format!("express_{name}_driver_wall_s"), express_wall, "s");
    out.fig(&format!("bare_queue_{name}_wall_s"), bare_wall, "s");
    out.fig(
        &format!("express_over_bare_queue_{name}"),
        express_wall / bare_wall,
        "ratio",
    );
    // The same run as users get it: checkers, summary and trace hash streamed.
    let (report, checked_wall) = timed(|| run_with(&s, 1, None, Driver::Express));
    assert!(
        report.pass,
        "the scale scenario must pass while benchmarked"
    );
    out.fig(&format!("express_checked_{name}_wall_s"), checked_wall, "s");
    out.fig(
        &format!("express_checked_over_bare_queue_{name}"),
        checked_wall / bare_wall,
        "ratio",
    );
}

/// Pop `events` timestamped no-op events off a heap that keeps `pending` of
/// them, each popped one replaced by one a pseudo-random while later (within
/// `horizon_ms` spread over the run), as a driver's queue does.
fn bare_queue(events: u64, pending: u64, horizon_ms: u64) -> u64 {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let step = (2 * horizon_ms * pending / events.max(1)).max(1);
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> =
        (0..pending).map(|k| Reverse((next() % step, k))).collect();
    let mut sum = 0u64;
    for k in 0..events {
        let Reverse((t, id)) = heap.pop().expect("the heap keeps its events");
        sum = sum.wrapping_add(std::hint::black_box(t ^ id));
        heap.push(Reverse((t + next() % step, pending + k)));
    }
    sum
}

fn label(tabs: u64) -> String {
    if tabs >= 1000 && tabs.is_multiple_of(1000) {
        format!("{}k", tabs / 1000)
    } else {
        tabs.to_string()
    }
}

/// Run `rtsim run` on a copy of `file` with `orgs` orgs and extra params, as a
/// child; returns its wall time and the peak resident memory of the largest
/// child so far (the scale runs go up in size, so that is this one's).
fn child_run(
    exe: &Path,
    file: &Path,
    orgs: u64,
    params: &[(&str, i64)],
    driver: &str,
) -> (f64, f64) {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("bench needs {}: {e}", file.display()));
    let mut doc: toml_edit::DocumentMut = text.parse().expect("the shipped scale scenario parses");
    doc["topology"]["orgs"] = toml_edit::value(orgs as i64);
    for (k, v) in params {
        doc["params"][k] = toml_edit::value(*v);
    }
    let tmp = std::env::temp_dir().join(format!(
        "rtsim-bench-{}-{orgs}-{driver}.toml",
        std::process::id()
    ));
    std::fs::write(&tmp, doc.to_string()).expect("temp dir is writable");
    let (status, wall) = timed(|| {
        std::process::Command::new(exe)
            .args([
                "run",
                tmp.to_str().expect("utf-8 temp path"),
                "--driver",
                driver,
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("the rtsim binary runs")
    });
    let _ = std::fs::remove_file(&tmp);
    assert!(
        status.success(),
        "scale run with {orgs} orgs under {driver} failed"
    );
    (wall, peak_child_rss_mb())
}

fn peak_child_rss_mb() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 {
        usage.ru_maxrss as f64 / 1024.0
    } else {
        f64::NAN
    }
}

/// Bare turmoil with the same hosts, tick, latency and duration as `s`: a server
/// host answering framed requests, and the other hosts sending `messages`
/// request/response pairs between them, evenly spaced, one connection each, as
/// our driver does. Returns its wall time in seconds.
fn bare_turmoil(hosts: usize, s: &Scenario, messages: u64) -> f64 {
    let cfg = &s.config;
    let end_ms = s.end().as_ms();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_millis(end_ms + 60_000))
        .tick_duration(Duration::from_millis(cfg.tick_ms))
        .min_message_latency(Duration::from_millis(cfg.net.min_latency_ms))
        .max_message_latency(Duration::from_millis(cfg.net.max_latency_ms))
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(1)
        .tcp_capacity(1 << 16)
        .build();
    sim.host("server", || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 8080)).await?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            tokio::task::spawn_local(async move {
                if read_frame::<_, Request>(&mut stream).await.is_ok() {
                    let _ = write_frame(&mut stream, &Response::new(200, Body::Empty)).await;
                }
            });
        }
    });
    let clients = (hosts - 1).max(1) as u64;
    let per_client = messages.div_ceil(clients).max(1);
    let interval_ms = (end_ms / per_client).max(1);
    for c in 0..clients {
        sim.host(format!("client{c}"), move || async move {
            for _ in 0..per_client {
                tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                let mut stream = turmoil::net::TcpStream::connect(("server", 8080)).await?;
                let req = Request {
                    method: Method::Get,
                    path: "/bench".into(),
                    bearer: None,
                    body: Body::Empty,
                };
                write_frame(&mut stream, &req).await?;
                let _: Response = read_frame(&mut stream).await?;
            }
            std::future::pending::<()>().await;
            Ok(())
        });
    }
    let (_, wall) = timed(|| {
        while sim.elapsed() < Duration::from_millis(end_ms) {
            sim.step().expect("bare turmoil steps");
        }
    });
    wall
}
