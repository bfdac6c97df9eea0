//! The `rtsim` command line: run, sweep, list, mutants.
//!
//! Exit codes: 0 when every expectation holds, 1 when one does not, 2 on bad
//! input (a malformed scenario, an unknown mutant, a bad seed).

use clap::{Parser, Subcommand};
use rtsim::batch::SweepConfig;
use rtsim::mutant::Mutant;
use rtsim::results::{Format, Merged, Record, RunRecord, SwarmRecord};
use rtsim::run::{replay_line, run_traced, run_with, Driver, RunReport};
use rtsim::scenario::{InputError, Scenario};
use rtsim::seed::parse_seed;
use rtsim::shard::Shard;
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
        /// text, or json: one object (kind "run") with the verdict, violations and figures.
        #[arg(long, default_value = "text", value_parser = Format::parse)]
        format: Format,
        /// Write the run as a self-contained timeline page (HTML) here.
        #[arg(long)]
        timeline: Option<PathBuf>,
        /// Write the run in the Chrome Trace Event Format here (ui.perfetto.dev, chrome://tracing).
        #[arg(long)]
        perfetto: Option<PathBuf>,
        /// Follow this platform profile instead of the scenario's: "idealised", "chromium" or a
        /// profile file (probe/ writes them).
        #[arg(long)]
        platform_profile: Option<String>,
    },
    /// Run scenarios over a range of seeds on several threads and tabulate the failures.
    Sweep(SweepArgs),
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
        #[command(flatten)]
        batch: BatchArgs,
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
        /// Run only these groups (repeatable; default: all of them).
        #[arg(long, value_enum)]
        only: Vec<rtsim::bench::Group>,
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
    /// The refresh mutex's figures (refreshes per expiry, passing runs) per scenario, under the
    /// measured Chromium platform profile and the idealised model.
    Mutex {
        /// The auth scenarios to run.
        #[arg(default_values = ["sims/auth_expiry_multitab.toml", "sims/auth_expiry_lease_mutex.toml"])]
        scenarios: Vec<PathBuf>,
        /// Seeds per scenario and profile.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// v1 against v2 on the same workload: each scenario over the same seeds with the leader
    /// long-poll and with the stream per tab (express driver); prints README's markdown tables
    Compare {
        /// The scenarios to compare (their `transport` is overridden).
        #[arg(default_values = ["sims/compare/seed_shape.toml", "sims/compare/write_spike.toml"])]
        scenarios: Vec<PathBuf>,
        /// Seeds per scenario and transport.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
        /// Worker threads (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Swarm exploration: each seed draws a whole scenario (topology, parameters, workload, and
    /// faults from a random subset of the fault kinds) and runs it; a failing run's scenario is
    /// written out with the command that replays it.
    Swarm(SwarmArgs),
    /// Join the `--format json` outputs of a batch's shards into the table one machine would print.
    Merge {
        /// JSON-lines files, one per shard.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also write a JUnit XML report of the merged sweep here.
        #[arg(long)]
        junit: Option<PathBuf>,
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
    /// Judge histories recorded outside the simulator (JSON Lines, schema in README) with
    /// every oracle they hold enough for; the others are reported as not checkable.
    Check {
        /// The recorded histories (histories/*.jsonl).
        #[arg(required = true)]
        histories: Vec<PathBuf>,
        /// text, or json: one object (kind "check") per history.
        #[arg(long, default_value = "text", value_parser = Format::parse)]
        format: Format,
    },
}

/// `rtsim sweep`'s options.
#[derive(clap::Args)]
struct SweepArgs {
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
    #[command(flatten)]
    batch: BatchArgs,
    /// Also write a JUnit XML report here: one test case per scenario.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run every scenario under this platform profile instead of its own: "idealised",
    /// "chromium" or a profile file.
    #[arg(long)]
    platform_profile: Option<String>,
}

/// `rtsim swarm`'s options.
#[derive(clap::Args)]
struct SwarmArgs {
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
    #[command(flatten)]
    batch: BatchArgs,
}

/// What every batch command (sweep, crosscheck, swarm) takes.
#[derive(clap::Args, Clone, Copy)]
struct BatchArgs {
    /// text, or json: one object per line, per run (sweep, swarm) or per row (crosscheck), then a total.
    #[arg(long, default_value = "text", value_parser = Format::parse)]
    format: Format,
    /// Run the K-th of N disjoint slices of the work (`K/N`, K from 1); `N` alone takes K from
    /// JOB_COMPLETION_INDEX (0-based, as a Kubernetes Indexed Job sets it).
    #[arg(long, default_value = "1/1", value_parser = Shard::parse)]
    shard: Shard,
}

/// Die quietly of SIGPIPE, as other command-line tools do, when a reader such
/// as `head` closes the pipe: Rust ignores the signal, so the next print
/// panicked ("failed printing to stdout: Broken pipe").
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to the default touches no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    rtsim::log::init_from_env();
    match dispatch(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one subcommand: `Ok(true)` passed, `Ok(false)` found a failure, `Err`
/// is bad input (exit code 2).
fn dispatch(command: Command) -> Result<bool, InputError> {
    match command {
        Command::Run {
            scenario,
            seed,
            mutant,
            trace,
            driver,
            format,
            timeline,
            perfetto,
            platform_profile,
        } => {
            let out = RunOutputs {
                trace,
                timeline,
                perfetto,
                format,
            };
            cmd_run(&scenario, seed, mutant, driver, platform_profile, &out)
        }
        Command::Sweep(args) => cmd_sweep(args),
        Command::Crosscheck {
            paths,
            seeds,
            from,
            jobs,
            batch,
        } => cmd_crosscheck(&paths, seeds, from, jobs, batch),
        Command::Merge { files, junit } => cmd_merge(&files, junit.as_deref()),
        Command::Bench {
            quick,
            sims,
            jobs,
            only,
        } => cmd_bench(quick, sims, jobs, only),
        Command::Leaders {
            scenario,
            seeds,
            jobs,
        } => cmd_leaders(&scenario, seeds, jobs),
        Command::Mutex {
            scenarios,
            seeds,
            jobs,
        } => cmd_mutex(&scenarios, seeds, jobs),
        Command::Compare {
            scenarios,
            seeds,
            jobs,
        } => cmd_compare(&scenarios, seeds, jobs),
        Command::List { dir } => cmd_list(&dir),
        Command::Swarm(args) => cmd_swarm_args(args),
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
        Command::Check { histories, format } => cmd_check(&histories, format),
        Command::Params => print_text(rtsim::params::SimConfig::markdown_table()),
        Command::Faults => print_text(rtsim::faults::markdown_table()),
        Command::Coverage => print_text(rtsim::coverage::markdown_table()),
        Command::Mutants => print_text(mutants_table()),
    }
}

/// What `rtsim run` writes besides its verdict.
struct RunOutputs {
    trace: Option<PathBuf>,
    timeline: Option<PathBuf>,
    perfetto: Option<PathBuf>,
    format: Format,
}

fn cmd_run(
    path: &Path,
    seed: u64,
    mutant: Option<Mutant>,
    driver: Driver,
    platform_profile: Option<String>,
    out: &RunOutputs,
) -> Result<bool, InputError> {
    let format = out.format;
    let mut scenario = Scenario::load(path)?;
    if let Some(name) = &platform_profile {
        scenario.with_platform_profile(name)?;
    }
    let wants_trace = out.trace.is_some() || out.timeline.is_some() || out.perfetto.is_some();
    let report = if wants_trace {
        run_traced(&scenario, seed, mutant, driver)
    } else {
        run_with(&scenario, seed, mutant, driver)
    };
    if let Some(file) = &out.trace {
        let mut text = report.trace.join("\n");
        text.push('\n');
        write_file(file, "--trace", &text)?;
    }
    if out.timeline.is_some() || out.perfetto.is_some() {
        let title = format!(
            "{}: {} ({})",
            scenario.name,
            replay_line(path, seed, mutant, driver),
            if report.pass { "pass" } else { "fail" }
        );
        let view = rtsim::view::build(&title, &report.trace);
        if let Some(file) = &out.timeline {
            write_file(file, "--timeline", &rtsim::view::html::render(&view))?;
        }
        if let Some(file) = &out.perfetto {
            write_file(file, "--perfetto", &rtsim::view::perfetto::render(&view))?;
        }
    }
    let record = RunRecord {
        summary: Some(report.summary.clone()),
        ..RunRecord::of(&scenario, 0, &report, driver)
    };
    if format == Format::Json {
        println!("{}", Record::Run(record).to_line());
        return Ok(report.pass);
    }
    print_summary(&report);
    if !report.pass {
        print!(
            "{}",
            rtsim::results::violation_lines(&record.violations, "")
        );
        for u in &report.unmet {
            println!("unmet: {u}");
        }
        println!(
            "replay: {}",
            rtsim::run::replay_line_for(&scenario, seed, mutant, driver)
        );
    }
    println!(
        "verdict: {} seed={} trace={}",
        if report.pass { "pass" } else { "fail" },
        seed,
        report.trace_hex()
    );
    Ok(report.pass)
}

/// `rtsim mutex`: the refresh mutex's figures per scenario and platform profile.
fn cmd_mutex(paths: &[PathBuf], seeds: u64, jobs: Option<usize>) -> Result<bool, InputError> {
    let (_, scenarios) = load_scenarios(paths)?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    let rows = rtsim::mutex_table::build(&scenarios, seeds, jobs);
    print!("{}", rtsim::mutex_table::render(&rows));
    Ok(true)
}

/// `rtsim compare`: v1 against v2, each scenario under both transports.
fn cmd_compare(paths: &[PathBuf], seeds: u64, jobs: Option<usize>) -> Result<bool, InputError> {
    let (_, scenarios) = load_scenarios(paths)?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    let comparisons = rtsim::compare::build(&scenarios, seeds, jobs);
    print!("{}", rtsim::compare::render(&comparisons));
    Ok(true)
}

/// Write `text` to `file`, or say which option named a file that cannot be written.
fn write_file(file: &Path, option: &str, text: &str) -> Result<(), InputError> {
    std::fs::write(file, text).map_err(|e| InputError {
        file: file.display().to_string(),
        line: None,
        field: option.to_string(),
        message: format!("cannot write: {e}"),
    })
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
    if !s.by_service.is_empty() {
        let services: Vec<String> = s
            .by_service
            .iter()
            .map(|h| {
                let last = h
                    .last_event_at_ms
                    .map_or("-".to_string(), |t| format!("{:.1} s", t as f64 / 1000.0));
                format!(
                    "{} p95 {} last event {last}, {} delivered, {} suppressed, {} reconnects",
                    h.service,
                    ms(h.p95_latency_ms),
                    h.delivered,
                    h.suppressed,
                    h.reconnects
                )
            })
            .collect();
        println!("v2 by service: {}", services.join("; "));
    }
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

fn cmd_sweep(args: SweepArgs) -> Result<bool, InputError> {
    let cfg = SweepConfig {
        seeds: args.seeds,
        from: args.from,
        jobs: args.jobs.unwrap_or_else(rtsim::parallel::all_cores),
        mutant: args.mutant,
        driver: args.driver,
        shard: args.batch.shard,
    };
    let (format, junit) = (args.batch.format, args.junit.as_deref());
    let (_, mut scenarios) = load_scenarios(&args.paths)?;
    if let Some(name) = &args.platform_profile {
        for s in &mut scenarios {
            s.with_platform_profile(name)?;
        }
    }
    let runs = rtsim::batch::sweep(&scenarios, &cfg);
    let (table, all_pass) = rtsim::results::sweep_table(&runs);
    if let Some(file) = junit {
        write_file(file, "--junit", &rtsim::results::junit(&runs))?;
    }
    match format {
        Format::Text => print!("{table}"),
        Format::Json => {
            for r in &runs {
                println!("{}", Record::Run(r.clone()).to_line());
            }
            print_total("sweep", runs.len(), runs.iter().filter(|r| !r.pass).count());
        }
    }
    Ok(all_pass)
}

/// The closing JSON line of a batch.
fn print_total(command: &str, runs: usize, failed: usize) {
    let total = rtsim::results::Total {
        command: command.to_string(),
        runs: runs as u64,
        failed: failed as u64,
    };
    println!("{}", Record::Total(total).to_line());
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
    batch: BatchArgs,
) -> Result<bool, InputError> {
    let (_, scenarios) = load_scenarios(paths)?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    if batch.format == Format::Text {
        println!("{}", rtsim::batch::crosscheck_header());
    }
    let mut rows = Vec::new();
    rtsim::batch::crosscheck(&scenarios, seeds, from, jobs, batch.shard, |r| {
        match batch.format {
            Format::Text => println!("{}", rtsim::batch::crosscheck_line(&r.comparison)),
            Format::Json => println!("{}", Record::Crosscheck(r.clone()).to_line()),
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        rows.push(r.comparison);
    });
    let (total, agree) = rtsim::batch::crosscheck_total(&rows);
    match batch.format {
        Format::Text => println!("{total}"),
        Format::Json => print_total(
            "crosscheck",
            rows.len(),
            rows.iter().filter(|c| c.disagreement.is_some()).count(),
        ),
    }
    Ok(agree)
}

/// `rtsim merge`: the shards' records joined and printed as one machine's table.
fn cmd_merge(files: &[PathBuf], junit: Option<&Path>) -> Result<bool, InputError> {
    let merged =
        rtsim::results::merge(rtsim::results::read(files)?).map_err(|message| InputError {
            file: files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            line: None,
            field: "-".to_string(),
            message,
        })?;
    let pass = match merged {
        Merged::Sweep(runs) => {
            if let Some(file) = junit {
                write_file(file, "--junit", &rtsim::results::junit(&runs))?;
            }
            let (table, pass) = rtsim::results::sweep_table(&runs);
            print!("{table}");
            pass
        }
        Merged::Crosscheck(rows) => {
            let rows = rtsim::batch::join_crosscheck(rows);
            println!("{}", rtsim::batch::crosscheck_header());
            for c in &rows {
                println!("{}", rtsim::batch::crosscheck_line(c));
            }
            let (total, agree) = rtsim::batch::crosscheck_total(&rows);
            println!("{total}");
            agree
        }
        Merged::Swarm(runs) => print_swarm_close(&runs, true),
    };
    Ok(pass)
}

fn cmd_bench(
    quick: bool,
    sims: PathBuf,
    jobs: Option<usize>,
    only: Vec<rtsim::bench::Group>,
) -> Result<bool, InputError> {
    let bad = |message: String| InputError {
        file: sims.display().to_string(),
        line: None,
        field: "--sims".to_string(),
        message,
    };
    let needed = [
        "delivery_steady.toml",
        "scale/scale_50k.toml",
        "scale/scale_250k.toml",
    ];
    if let Some(missing) = needed.iter().find(|f| !sims.join(f).is_file()) {
        return Err(bad(format!(
            "needs {} (missing: {missing})",
            needed.join(", ")
        )));
    }
    let exe =
        std::env::current_exe().map_err(|e| bad(format!("cannot find the rtsim binary: {e}")))?;
    let jobs = jobs.unwrap_or_else(rtsim::parallel::all_cores);
    let cfg = rtsim::bench::BenchConfig {
        quick,
        only,
        sims,
        exe,
        jobs,
    };
    let progress = rtsim::progress::Progress::spinner("figures");
    rtsim::bench::run_all(&cfg, &mut |f| {
        progress.print(&format!("{f}\n"));
        progress.note(f.to_string());
        progress.done(true);
    });
    progress.finish();
    Ok(true)
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
    let Some((goal, shrunk)) =
        rtsim::shrink::shrink_failing(doc, seed, driver, mutant, oracle, budget)
    else {
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

/// How a swarm batch reports.
#[derive(Clone, Copy)]
struct SwarmOutput {
    shrink: bool,
    quiet: bool,
    format: Format,
}

/// Shrink a failing swarm run and write its case; what it removed and where it went.
fn shrink_run(
    run: &SwarmRun,
    driver: Driver,
    mutant: Option<Mutant>,
) -> Result<Option<String>, InputError> {
    let Some((goal, shrunk)) =
        rtsim::shrink::shrink_failing(run.doc.clone(), run.seed, driver, mutant, None, 400)
    else {
        return Ok(None);
    };
    let written = rtsim::shrink::write_case(&goal, &shrunk, &run.path, None)?;
    Ok(Some(format!("{}: {}", shrunk.sizes(), written.display())))
}

/// A swarm run's text: its line, and for a failure its violations and replay.
fn swarm_text(run: &SwarmRecord) -> String {
    let mut out = format!("{}\n", rtsim::swarm::line(run));
    if !run.pass {
        out += &rtsim::results::violation_lines(&run.violations, "  ");
        if let Some(replay) = &run.replay {
            out += &format!("  replay: {replay}\n");
        }
    }
    out
}

/// The end of a swarm batch in text: the failing runs (when `failures`), the tally, the count.
fn print_swarm_close(runs: &[SwarmRecord], failures: bool) -> bool {
    let mut tally = Tally::default();
    for run in runs {
        if failures && !run.pass {
            print!("{}", swarm_text(run));
        }
        tally.add(run);
    }
    print!("{}", tally.render());
    println!("swarm: {} runs, {} failed", tally.runs, tally.failed);
    tally.failed == 0
}

fn cmd_swarm(cfg: SwarmConfig, how: SwarmOutput) -> Result<bool, InputError> {
    let mut records = Vec::new();
    let mut failure = None;
    let mine = (0..cfg.runs)
        .filter(|&k| cfg.shard.keeps(k as usize))
        .count();
    let progress = rtsim::progress::Progress::new(mine as u64, "runs", "failed");
    rtsim::swarm::explore(&cfg, |run| {
        let record = rtsim::swarm::record(&cfg, run);
        progress.done(record.pass);
        let mut shrunk = None;
        if !record.pass {
            let written = rtsim::swarm::write_case(run).and_then(|()| {
                if how.shrink {
                    shrink_run(run, cfg.driver, cfg.mutant)
                } else {
                    Ok(None)
                }
            });
            match written {
                Ok(line) => shrunk = line,
                Err(e) => {
                    failure = Some(e);
                    return false;
                }
            }
        }
        match how.format {
            Format::Json => println!("{}", Record::Swarm(record.clone()).to_line()),
            Format::Text if !(record.pass && how.quiet) => {
                let mut text = swarm_text(&record);
                if let Some(line) = shrunk {
                    text += &format!("  shrunk: {line}\n");
                }
                progress.print(&text);
            }
            Format::Text => {}
        }
        records.push(record);
        true
    })?;
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    match how.format {
        Format::Text => Ok(print_swarm_close(&records, false)),
        Format::Json => {
            let failed = records.iter().filter(|r| !r.pass).count();
            print_total("swarm", records.len(), failed);
            Ok(failed == 0)
        }
    }
}

/// Every mutant in turn: swarm runs until its first detection, shrunk with `shrink`.
fn cmd_hunt(cfg: SwarmConfig, how: SwarmOutput) -> Result<bool, InputError> {
    if how.format == Format::Json || cfg.shard != Shard::ALL {
        return Err(InputError {
            file: "-".to_string(),
            line: None,
            field: "--mutant all".to_string(),
            message: "the hunt prints its table as text, on one machine: drop --format and --shard"
                .to_string(),
        });
    }
    let rows = rtsim::hunt::hunt(&cfg, how.shrink, Path::new("sims"))?;
    print!("{}", rtsim::hunt::render(&rows, cfg.runs));
    Ok(rtsim::hunt::all_caught(&rows))
}

fn cmd_swarm_args(args: SwarmArgs) -> Result<bool, InputError> {
    let cfg = SwarmConfig {
        runs: args.runs,
        from: args.from,
        jobs: args.jobs.unwrap_or_else(rtsim::parallel::all_cores),
        mutant: None,
        profile: args.profile,
        driver: args.driver,
        out: args.out,
        shard: args.batch.shard,
    };
    let how = SwarmOutput {
        shrink: args.shrink,
        quiet: args.quiet,
        format: args.batch.format,
    };
    cmd_swarm_any(cfg, args.mutant.as_deref(), how)
}

/// `swarm` with `--mutant NAME`, `--mutant all` (a hunt) or none.
fn cmd_swarm_any(
    cfg: SwarmConfig,
    mutant: Option<&str>,
    how: SwarmOutput,
) -> Result<bool, InputError> {
    match mutant {
        Some("all") => cmd_hunt(cfg, how),
        Some(name) => match Mutant::parse(name) {
            Ok(m) => cmd_swarm(
                SwarmConfig {
                    mutant: Some(m),
                    ..cfg
                },
                how,
            ),
            Err(message) => Err(InputError {
                file: "-".to_string(),
                line: None,
                field: "--mutant".to_string(),
                message,
            }),
        },
        None => cmd_swarm(cfg, how),
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

/// `rtsim check`: each history's oracles, its violations and its verdict.
/// Every file is read before any is judged, so a bad one fails the command
/// (exit 2) before anything is printed.
fn cmd_check(paths: &[PathBuf], format: Format) -> Result<bool, InputError> {
    use rtsim::recording::Recording;
    let recordings = paths
        .iter()
        .map(|p| Recording::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut all_held = true;
    for (path, rec) in paths.iter().zip(&recordings) {
        let judgement = rec.judge();
        let file = path.display().to_string();
        match format {
            Format::Json => println!("{}", judgement.to_json(&file, rec)),
            Format::Text => {
                println!(
                    "check {file} ({}): {} observations over {}",
                    rec.source,
                    rec.steps.len(),
                    rec.scenario.end()
                );
                print!("{}", judgement.report());
                println!("verdict {file}: {}", judgement.summary());
            }
        }
        all_held &= judgement.held();
    }
    Ok(all_held)
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
