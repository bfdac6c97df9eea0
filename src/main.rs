//! The `rtsim` command line: run, sweep, list, mutants.
//!
//! Exit codes: 0 when every expectation holds, 1 when one does not, 2 on bad
//! input (a malformed scenario, an unknown mutant, a bad seed).

use clap::{Parser, Subcommand};
use rtsim::mutant::Mutant;
use rtsim::run::{replay_line, run_with, Driver, RunReport};
use rtsim::scenario::{InputError, Scenario};
use rtsim::seed::parse_seed;
use rtsim::shrink::{Goal, Shrunk};
use rtsim::swarm::{Profile, SwarmConfig, SwarmRun, Tally};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rtsim",
    version,
    about = "Deterministic simulation and verification of a browser realtime pub/sub system"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario at one seed; prints the verdict and, on failure, the replay command.
    Run {
        /// The scenario file (sims/*.toml).
        scenario: PathBuf,
        /// The run seed, decimal or 0x-hex.
        #[arg(long, default_value = "1", value_parser = parse_seed)]
        seed: u64,
        /// Switch on a deliberately broken variant of one machine (see `rtsim mutants`).
        #[arg(long, value_parser = Mutant::parse)]
        mutant: Option<Mutant>,
        /// Write the canonical trace here, one JSON object per line.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// turmoil (simulated TCP, tick by tick) or express (event-driven, much faster).
        #[arg(long, default_value = "turmoil", value_parser = Driver::parse)]
        driver: Driver,
    },
    /// Run scenarios over a range of seeds on several threads and tabulate the failures.
    Sweep {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How many seeds per scenario.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed, decimal or 0x-hex.
        #[arg(long, default_value = "1", value_parser = parse_seed)]
        from: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Run every scenario with this mutant switched on.
        #[arg(long, value_parser = Mutant::parse)]
        mutant: Option<Mutant>,
        /// express (event-driven, the default for sweeps) or turmoil.
        #[arg(long, default_value = "express", value_parser = Driver::parse)]
        driver: Driver,
    },
    /// Run every scenario under both drivers, with no mutant and with each mutant, and report disagreements.
    Crosscheck {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How many seeds per scenario and mutant.
        #[arg(long, default_value_t = 50)]
        seeds: u64,
        /// The first seed, decimal or 0x-hex.
        #[arg(long, default_value = "1", value_parser = parse_seed)]
        from: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Measure speed and scale; prints `bench <name> <value> <unit>` lines.
    Bench {
        /// Shorter runs and smaller sizes, for a quick look.
        #[arg(long)]
        quick: bool,
        /// The directory of shipped scenarios the benchmarks use.
        #[arg(long, default_value = "sims")]
        sims: PathBuf,
        /// Worker threads for the sweep figure (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// The leader-election verdict table: mechanism x takeover x scope over many seeds of a fault-heavy scenario.
    Leaders {
        /// The fault-heavy scenario to run every configuration on.
        #[arg(default_value = "sims/leader_chaos.toml")]
        scenario: PathBuf,
        /// Seeds per configuration.
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Swarm exploration: each seed draws a whole scenario (topology, parameters, workload, and
    /// faults from a random subset of the fault kinds) and runs it; a failing run's scenario is
    /// written out with the command that replays it.
    Swarm {
        /// How many seeds to draw.
        #[arg(long, default_value_t = 100)]
        runs: u64,
        /// The first seed, decimal or 0x-hex.
        #[arg(long, default_value = "1", value_parser = parse_seed)]
        from: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// Switch this mutant on; `all`: each mutant in turn, up to its first failing run.
        #[arg(long)]
        mutant: Option<String>,
        /// Weight one area: any, leader, auth, ui or server.
        #[arg(long, default_value = "any", value_parser = Profile::parse)]
        profile: Profile,
        /// express (event-driven) or turmoil.
        #[arg(long, default_value = "express", value_parser = Driver::parse)]
        driver: Driver,
        /// Shrink each failing run and write the minimal case (see `shrink`).
        #[arg(long)]
        shrink: bool,
        /// Where failing runs' scenarios are written.
        #[arg(long, default_value = "target/swarm")]
        out: PathBuf,
        /// Print only failing runs and the closing report.
        #[arg(long)]
        quiet: bool,
    },
    /// Shrink a failing run to the smallest scenario that still fails the same way, and write
    /// it as a regression case.
    Shrink {
        /// The failing scenario.
        scenario: PathBuf,
        /// The seed it fails at, decimal or 0x-hex.
        #[arg(long, default_value = "1", value_parser = parse_seed)]
        seed: u64,
        /// express (event-driven) or turmoil.
        #[arg(long, default_value = "express", value_parser = Driver::parse)]
        driver: Driver,
        #[arg(long, value_parser = Mutant::parse)]
        mutant: Option<Mutant>,
        /// The oracle to keep failing (default: the first that fails).
        #[arg(long)]
        oracle: Option<String>,
        /// Where to write the case (default: sims/regressions/<oracle>_<what>.toml; with a
        /// mutant, target/shrunk/<oracle>_<mutant>.toml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// At most this many runs.
        #[arg(long, default_value_t = 400)]
        budget: usize,
    },
    /// List the scenarios in a directory with their one-line description.
    List {
        #[arg(default_value = "sims")]
        dir: PathBuf,
    },
    /// List the mutants and what each breaks.
    Mutants,
    /// Print the parameter table (name, type, default, range, doc) as README's markdown.
    Params,
    /// Print the SPEC rule table (each rule of sections 2-7, its check, the mutants that break it) as README's markdown.
    Coverage,
    /// Print the fault kinds (name, targets, fields, whether `for_s` undoes it, doc) as README's markdown.
    Faults,
    /// Print the behaviour baseline: every scenario's verdict line (trace hash included) at
    /// seeds 1..20 under express, 1..3 under turmoil, and 1..3 with each mutant
    /// (`rtsim verdicts sims > tests/verdicts.txt` records it).
    Verdicts {
        /// Scenario files or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            scenario,
            seed,
            mutant,
            trace,
            driver,
        } => cmd_run(&scenario, seed, mutant, driver, trace.as_deref()),
        Command::Sweep {
            paths,
            seeds,
            from,
            jobs,
            mutant,
            driver,
        } => cmd_sweep(&paths, seeds, from, jobs, mutant, driver),
        Command::Crosscheck {
            paths,
            seeds,
            from,
            jobs,
        } => cmd_crosscheck(&paths, seeds, from, jobs),
        Command::Bench { quick, sims, jobs } => cmd_bench(quick, sims, jobs),
        Command::Leaders {
            scenario,
            seeds,
            jobs,
        } => cmd_leaders(&scenario, seeds, jobs),
        Command::List { dir } => cmd_list(&dir),
        Command::Swarm {
            runs,
            from,
            jobs,
            mutant,
            profile,
            driver,
            shrink,
            out,
            quiet,
        } => {
            let cfg = SwarmConfig {
                runs,
                from,
                jobs: jobs.unwrap_or_else(rtsim::parallel::all_cores),
                mutant: None,
                profile,
                driver,
                out,
            };
            cmd_swarm_any(cfg, mutant.as_deref(), shrink, quiet)
        }
        Command::Shrink {
            scenario,
            seed,
            driver,
            mutant,
            oracle,
            out,
            budget,
        } => cmd_shrink(&scenario, seed, driver, mutant, oracle, out, budget),
        Command::Verdicts { paths, jobs } => cmd_verdicts(&paths, jobs),
        Command::Params => print_text(rtsim::params::SimConfig::markdown_table()),
        Command::Faults => print_text(rtsim::faults::markdown_table()),
        Command::Coverage => print_text(rtsim::coverage::markdown_table()),
        Command::Mutants => print_text(mutants_table()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn cmd_run(
    path: &Path,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
    trace: Option<&Path>,
) -> Result<bool, InputError> {
    let scenario = Scenario::load(path)?;
    let report = run_with(&scenario, seed, mutant, driver);
    if let Some(file) = trace {
        let mut text = report.trace.join("\n");
        text.push('\n');
        std::fs::write(file, text).map_err(|e| InputError {
            file: file.display().to_string(),
            line: None,
            field: "--trace".to_string(),
            message: format!("cannot write the trace: {e}"),
        })?;
    }
    print_summary(&report);
    if !report.pass {
        for v in &report.violations {
            println!("violation: {v}");
        }
        for u in &report.unmet {
            println!("unmet: {u}");
        }
        println!("replay: {}", replay_line(path, seed, mutant, driver));
    }
    println!(
        "verdict: {} seed={} trace={}",
        if report.pass { "pass" } else { "fail" },
        seed,
        report.trace_hex()
    );
    Ok(report.pass)
}

fn print_summary(r: &RunReport) {
    let s = &r.summary;
    println!(
        "scenario {}: {} requests ({} polls, {} refetches), {} events published, {} redelivered, {} applied, {} gaps, {} hard recovers, {} breaker opens, {} drops, {} waiter-cap hits, {} evictions",
        s.scenario, s.requests, s.polls, s.refetches, s.events_published, s.redeliveries, s.applies, s.gaps,
        s.hard_recovers, s.breaker_opens, s.drops, s.waiter_cap_hits, s.evictions
    );
    println!(
        "leaders: {} elections ({} per tab per day), {} split-brain windows, longest {} ms",
        s.leader_elections,
        s.leader_churn_per_tab_per_day,
        s.split_brain_windows,
        s.longest_split_brain_ms
    );
    let silence = s.logout_silence_ms.map_or("no logout".to_string(), |ms| {
        format!("silent {ms} ms after logout")
    });
    println!(
        "auth: {} refresh requests for {} expiries (at most {} per expiry, {} retries after failures), {silence}",
        s.refresh_requests, s.token_expiries, s.max_refreshes_per_expiry, s.refresh_retries
    );
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    println!(
        "ui: event-to-UI latency p50 {} p99 {}, {} aggregate refetches, {} writes ({} optimistic), {} telemetry events",
        ms(s.ui_latency_p50_ms),
        ms(s.ui_latency_p99_ms),
        s.aggregate_refetches,
        s.writes,
        s.optimistic_writes,
        s.telemetry_events
    );
}

/// The scenario files `paths` name, and each loaded (the first bad one is the error).
fn load_scenarios(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Scenario>), InputError> {
    let files = collect_scenarios(paths)?;
    let scenarios = files
        .iter()
        .map(|f| Scenario::load(f))
        .collect::<Result<_, _>>()?;
    Ok((files, scenarios))
}

/// Scenario files named directly, or every `*.toml` in a named directory, sorted.
pub fn collect_scenarios(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| InputError {
                file: p.display().to_string(),
                line: None,
                field: "-".to_string(),
                message: format!("cannot read directory: {e}"),
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

struct Row {
    name: String,
    path: PathBuf,
    runs: u64,
    failures: u64,
    first_failure: Option<u64>,
}

fn cmd_sweep(
    paths: &[PathBuf],
    seeds: u64,
    from: u64,
    jobs: Option<usize>,
    mutant: Option<Mutant>,
    driver: Driver,
) -> Result<bool, InputError> {
    let (files, scenarios) = load_scenarios(paths)?;
    let work: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|i| (0..seeds).map(move |k| (i, from.wrapping_add(k))))
        .collect();
    let passed = rtsim::parallel::map(
        jobs.unwrap_or_else(rtsim::parallel::all_cores),
        &work,
        |&(index, seed)| run_with(&scenarios[index], seed, mutant, driver).pass,
    );
    let mut rows: Vec<Row> = scenarios
        .iter()
        .zip(&files)
        .map(|(s, f)| Row {
            name: s.name.clone(),
            path: f.clone(),
            runs: 0,
            failures: 0,
            first_failure: None,
        })
        .collect();
    for (&(index, seed), pass) in work.iter().zip(passed) {
        let row = &mut rows[index];
        row.runs += 1;
        if !pass {
            row.failures += 1;
            row.first_failure = Some(row.first_failure.map_or(seed, |s| s.min(seed)));
        }
    }
    println!(
        "{:<28} {:>5} {:>8}  first failure",
        "scenario", "runs", "failures"
    );
    let mut all_pass = true;
    for r in &rows {
        let first = match r.first_failure {
            Some(seed) => {
                all_pass = false;
                format!(
                    "seed {seed}: {}",
                    replay_line(&r.path, seed, mutant, driver)
                )
            }
            None => "-".to_string(),
        };
        println!("{:<28} {:>5} {:>8}  {}", r.name, r.runs, r.failures, first);
    }
    let total: u64 = rows.iter().map(|r| r.runs).sum();
    let failed: u64 = rows.iter().map(|r| r.failures).sum();
    println!("sweep: {total} runs, {failed} failed");
    Ok(all_pass)
}

fn cmd_list(dir: &Path) -> Result<bool, InputError> {
    let (files, scenarios) = load_scenarios(&[dir.to_path_buf()])?;
    for (f, s) in files.iter().zip(&scenarios) {
        println!("{:<40} {}", f.display(), s.about);
    }
    Ok(true)
}

fn cmd_crosscheck(
    paths: &[PathBuf],
    seeds: u64,
    from: u64,
    jobs: Option<usize>,
) -> Result<bool, InputError> {
    let (_, scenarios) = load_scenarios(paths)?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    let (mut disagreements, mut agreeing, mut total, mut derived, mut mutant_runs) =
        (0, 0, 0, 0, 0);
    println!(
        "{:<34} {:<24} {:>6} {:>8} {:>8} {:>8} {:>8}  verdict",
        "scenario", "mutant", "seeds", "agree", "turmoil", "express", "derived"
    );
    // Scenario by scenario, each printed as soon as it is done: the whole
    // matrix takes hours, and what finished survives an interrupted run.
    for scenario in &scenarios {
        let one = std::slice::from_ref(scenario);
        for c in rtsim::crosscheck::matrix(one, Mutant::ALL, from, seeds, jobs) {
            agreeing += c.agreeing_seeds;
            total += c.seeds;
            derived += c.derived_runs;
            if c.mutant.is_some() {
                mutant_runs += 2 * c.seeds;
            }
            let verdict = match &c.disagreement {
                Some(d) => {
                    disagreements += 1;
                    format!("DISAGREE: {d}")
                }
                None => "agree".to_string(),
            };
            let name = c.mutant.map_or("none".to_string(), |m| m.to_string());
            println!(
                "{:<34} {:<24} {:>6} {:>8} {:>8} {:>8} {:>8}  {verdict}",
                c.scenario,
                name,
                c.seeds,
                c.agreeing_seeds,
                c.turmoil_failing,
                c.express_failing,
                c.derived_runs
            );
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    println!(
        "crosscheck: {disagreements} disagreements; same verdict at {agreeing} of {total} seeds; \
         {derived} of {mutant_runs} mutant runs read off a run that never reached the mutant"
    );
    Ok(disagreements == 0)
}

fn cmd_bench(quick: bool, sims: PathBuf, jobs: Option<usize>) -> Result<bool, InputError> {
    let bad = |message: String| InputError {
        file: sims.display().to_string(),
        line: None,
        field: "--sims".to_string(),
        message,
    };
    if !sims.join("delivery_steady.toml").is_file() || !sims.join("scale/scale_50k.toml").is_file()
    {
        return Err(bad(
            "needs delivery_steady.toml and scale/scale_50k.toml".to_string()
        ));
    }
    let exe =
        std::env::current_exe().map_err(|e| bad(format!("cannot find the rtsim binary: {e}")))?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    let cfg = rtsim::bench::BenchConfig {
        quick,
        sims,
        exe,
        jobs,
    };
    rtsim::bench::run_all(&cfg, &mut |f| println!("{f}"));
    Ok(true)
}

/// Shrink the failing run `doc` at `seed`; `None` if it does not fail `oracle` (or any, when none is named).
fn shrink_case(
    doc: toml::Table,
    seed: u64,
    driver: Driver,
    mutant: Option<Mutant>,
    oracle: Option<String>,
    budget: usize,
) -> Option<(Goal, Shrunk)> {
    let oracle = match oracle {
        Some(o) => o,
        None => {
            let s = rtsim::swarm::scenario_of(&doc, Path::new("shrink-input.toml")).ok()?;
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
    let shrunk = rtsim::shrink::shrink(doc, &goal)?;
    Some((goal, shrunk))
}

fn cmd_shrink(
    path: &Path,
    seed: u64,
    driver: Driver,
    mutant: Option<Mutant>,
    oracle: Option<String>,
    out: Option<PathBuf>,
    budget: usize,
) -> Result<bool, InputError> {
    if let Some(o) = &oracle {
        if !rtsim::scenario::ORACLES.contains(&o.as_str()) {
            return Err(InputError {
                file: "-".to_string(),
                line: None,
                field: "--oracle".to_string(),
                message: format!("{o:?} is not an oracle id"),
            });
        }
    }
    let doc = rtsim::shrink::read_doc(path)?;
    let Some((goal, shrunk)) = shrink_case(doc, seed, driver, mutant, oracle, budget) else {
        println!(
            "shrink: {} does not fail at seed {seed}; nothing to shrink",
            path.display()
        );
        return Ok(false);
    };
    rtsim::shrink::print(&shrunk);
    let written = rtsim::shrink::write_case(&goal, &shrunk, path, out)?;
    println!("wrote {}", written.display());
    println!("replay: {}", replay_line(&written, seed, mutant, driver));
    Ok(true)
}

/// A failing swarm run: its scenario written out, its replay line, and with `shrink` its minimal case.
fn report_failure(cfg: &SwarmConfig, run: &SwarmRun, shrink: bool) -> Result<(), InputError> {
    rtsim::swarm::write_case(run)?;
    let r = &run.report;
    for v in r.violations.iter().take(3) {
        println!("  violation: {v}");
    }
    println!(
        "  replay: {}",
        replay_line(&run.path, run.seed, cfg.mutant, cfg.driver)
    );
    if shrink {
        if let Some(line) = shrink_run(run, cfg.driver, cfg.mutant)? {
            println!("  shrunk: {line}");
        }
    }
    Ok(())
}

/// Shrink a failing swarm run and write its case; what it removed and where it went.
fn shrink_run(
    run: &SwarmRun,
    driver: Driver,
    mutant: Option<Mutant>,
) -> Result<Option<String>, InputError> {
    let Some((goal, shrunk)) = shrink_case(run.doc.clone(), run.seed, driver, mutant, None, 400)
    else {
        return Ok(None);
    };
    let written = rtsim::shrink::write_case(&goal, &shrunk, &run.path, None)?;
    Ok(Some(format!("{}: {}", shrunk.sizes(), written.display())))
}

fn cmd_swarm(cfg: SwarmConfig, shrink: bool, quiet: bool) -> Result<bool, InputError> {
    let mut tally = Tally::default();
    let mut failure = None;
    rtsim::swarm::explore(&cfg, |run| {
        tally.add(run);
        let r = &run.report;
        if r.pass && quiet {
            return true;
        }
        let verdict = if r.pass {
            "pass".to_string()
        } else {
            format!("FAIL {}", r.summary.failed_oracles.join(","))
        };
        println!(
            "seed {}: {verdict} trace={} {}",
            run.seed,
            r.trace_hex(),
            rtsim::swarm::describe(&run.scenario)
        );
        if !r.pass {
            if let Err(e) = report_failure(&cfg, run, shrink) {
                failure = Some(e);
                return false;
            }
        }
        true
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    print!("{}", tally.render());
    println!("swarm: {} runs, {} failed", tally.runs, tally.failed);
    Ok(tally.failed == 0)
}

/// Every mutant in turn: swarm runs until its first detection, shrunk with `shrink`.
fn cmd_hunt(cfg: SwarmConfig, shrink: bool) -> Result<bool, InputError> {
    let rows = rtsim::hunt::hunt(&cfg, shrink, Path::new("sims"))?;
    print!("{}", rtsim::hunt::render(&rows, cfg.runs));
    Ok(rtsim::hunt::all_caught(&rows))
}

/// `swarm` with `--mutant NAME`, `--mutant all` (a hunt) or none.
fn cmd_swarm_any(
    cfg: SwarmConfig,
    mutant: Option<&str>,
    shrink: bool,
    quiet: bool,
) -> Result<bool, InputError> {
    match mutant {
        Some("all") => cmd_hunt(cfg, shrink),
        Some(name) => match Mutant::parse(name) {
            Ok(m) => cmd_swarm(
                SwarmConfig {
                    mutant: Some(m),
                    ..cfg
                },
                shrink,
                quiet,
            ),
            Err(message) => Err(InputError {
                file: "-".to_string(),
                line: None,
                field: "--mutant".to_string(),
                message,
            }),
        },
        None => cmd_swarm(cfg, shrink, quiet),
    }
}

fn cmd_leaders(scenario: &Path, seeds: u64, jobs: Option<usize>) -> Result<bool, InputError> {
    Scenario::load(scenario).map(|s| {
        let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
        let rows = rtsim::leader_table::build(&s, seeds, jobs);
        print!("{}", rtsim::leader_table::render(&rows));
        true
    })
}

fn cmd_verdicts(paths: &[PathBuf], jobs: Option<usize>) -> Result<bool, InputError> {
    load_scenarios(paths).map(|(_, scenarios)| {
        let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
        let (lines, _) = rtsim::baseline::record(&scenarios, rtsim::baseline::Plan::STANDARD, jobs);
        for l in lines {
            println!("{l}");
        }
        true
    })
}

fn print_text(text: String) -> Result<bool, InputError> {
    print!("{text}");
    Ok(true)
}

/// `rtsim mutants`: each mutant's name, machine and what it breaks.
fn mutants_table() -> String {
    Mutant::ALL
        .iter()
        .map(|m| {
            format!(
                "{:<24} {:<16} {}\n",
                m.name(),
                m.machine().name(),
                m.breaks()
            )
        })
        .collect()
}
