//! Every shipped scenario holds its expectations, its verdict lines match the
//! recorded behaviour baseline, and a seed replays to the same trace, in this
//! process and in another.

mod common;

use rtsim::baseline::{record, Plan};
use rtsim::run::{run, run_traced, Driver};
use std::process::Command;

/// The baseline every refactor must leave as it is (see `src/baseline.rs`).
const BASELINE: &str = include_str!("verdicts.txt");

#[test]
fn shipped_scenarios_pass_and_match_the_verdict_baseline() {
    let scenarios = common::shipped();
    assert!(
        scenarios.len() >= 6,
        "the skeleton ships at least six scenarios"
    );
    // Runs are independent and deterministic: spread them over every core.
    let (lines, broken) = record(&scenarios, Plan::STANDARD, rtsim::parallel::all_cores());
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    let want: Vec<&str> = BASELINE.lines().collect();
    let moved: Vec<String> = lines
        .iter()
        .zip(&want)
        .filter(|(got, want)| got != *want)
        .take(20)
        .map(|(got, want)| format!("  was {want}\n  now {got}"))
        .collect();
    assert!(
        moved.is_empty() && lines.len() == want.len(),
        "behaviour changed ({} lines now, {} recorded); first differences:\n{}\n\
         if the change is intended, re-record with `cargo run --release -- verdicts sims > tests/verdicts.txt` and say why in the commit",
        lines.len(),
        want.len(),
        moved.join("\n")
    );
}

#[test]
fn a_seed_replays_to_the_same_trace_in_process() {
    let s = common::load("partition_heal");
    let a = run_traced(&s, 7, None, Driver::Turmoil);
    let b = run_traced(&s, 7, None, Driver::Turmoil);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(!a.trace.is_empty(), "the trace is kept");
    assert_eq!(a.trace, b.trace, "same seed, same bytes");
    let c = run(&s, 8, None);
    assert_ne!(
        a.trace_hash, c.trace_hash,
        "another seed takes another path"
    );
}

#[test]
fn a_seed_replays_to_the_same_trace_across_processes() {
    let s = common::load("server_restart");
    let in_process = run(&s, 3, None).trace_hex();
    let verdict = |_: u32| {
        let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
            .args(["run", s.path.to_str().expect("utf-8 path"), "--seed", "3"])
            .output()
            .expect("the binary runs");
        let text = String::from_utf8(out.stdout).expect("utf-8 output");
        text.lines().last().expect("a verdict line").to_string()
    };
    let first = verdict(1);
    assert_eq!(first, verdict(2));
    assert_eq!(first, format!("verdict: pass seed=3 trace={in_process}"));
}

/// The scale scenarios (`sims/scale/`, run by `rtsim bench` and by hand, not by
/// `sweep sims`) load, have the seeds' shape, and hold the tabs their names say.
#[test]
fn the_scale_scenarios_load_with_the_tabs_their_names_say() {
    let scale = common::load_dir(&common::sims_dir().join("scale"));
    let names: Vec<&str> = scale.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["scale_250k", "scale_50k", "v2_chaos_10k"]);
    for s in &scale {
        let t = &s.topology;
        assert_eq!(
            (t.browsers_per_org, t.tabs_per_browser),
            (5, 5),
            "{}",
            s.name
        );
        let tabs = u64::from(t.orgs) * 25;
        let said: u64 = s
            .name
            .rsplit('_')
            .next()
            .and_then(|n| n.strip_suffix('k'))
            .and_then(|n| n.parse().ok())
            .expect("<name>_<n>k");
        assert_eq!(tabs, said * 1000, "{}", s.name);
        let held = s.must_hold();
        for o in rtsim::scenario::CHECKED_ORACLES {
            assert!(held.iter().any(|h| h == o), "{}: {o} must hold", s.name);
        }
    }
}
