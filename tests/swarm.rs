//! Swarm exploration and shrinking: a seed draws one scenario, always the
//! same, that loads like a shipped file; each draw enables only some fault
//! kinds; a failing run's written file replays it byte for byte in another
//! process; and a shrink keeps the failure while making the case smaller.

use rtsim::faults::FAULT_KINDS;
use rtsim::mutant::Mutant;
use rtsim::run::{run_with, Driver};
use rtsim::shrink::{shrink, Goal};
use rtsim::swarm::{draw, scenario_of, text_of, v2_only, Profile};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const PROFILES: &[&str] = &["any", "leader", "auth", "ui", "server"];

#[test]
fn a_seed_draws_one_scenario_that_loads_and_survives_its_own_text() {
    let mut distinct = BTreeSet::new();
    for name in PROFILES {
        let profile = Profile::parse(name).expect("a known profile");
        for seed in 0..100 {
            let doc = draw(seed, profile);
            assert_eq!(
                doc,
                draw(seed, profile),
                "seed {seed} ({name}) drew twice alike"
            );
            let text = text_of(&doc);
            assert_eq!(text.parse::<toml::Table>().expect("TOML"), doc);
            let s = scenario_of(&doc, Path::new("drawn.toml"))
                .unwrap_or_else(|e| panic!("seed {seed} ({name}) does not load: {e}"));
            assert!(
                s.faults.len() <= 8,
                "seed {seed}: {} faults",
                s.faults.len()
            );
            distinct.insert(text);
        }
    }
    assert!(
        distinct.len() >= 495,
        "500 draws gave only {} distinct scenarios",
        distinct.len()
    );
}

#[test]
fn each_draw_enables_some_fault_kinds_and_every_kind_is_drawn() {
    let mut seen = BTreeSet::new();
    let mut narrow = 0;
    for seed in 0..400 {
        let s = scenario_of(&draw(seed, Profile::Any), Path::new("drawn.toml")).expect("loads");
        let kinds: BTreeSet<&str> = s.faults.iter().map(|f| f.spec.name).collect();
        if s.faults.len() >= 4 && kinds.len() <= FAULT_KINDS.len() / 2 {
            narrow += 1;
        }
        seen.extend(kinds);
    }
    // Swarm draws v1 scenarios: v2's in-place route and filter changes are not its to draw.
    let all: BTreeSet<&str> = FAULT_KINDS
        .iter()
        .filter(|k| !v2_only(k))
        .map(|k| k.name)
        .collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "never drawn in 400 runs: {missing:?}");
    assert!(narrow >= 100, "only {narrow} of 400 runs kept to few kinds");
}

/// The first swarm seed at which `m` fails, with the seed's scenario document.
fn first_failure(m: Mutant) -> (u64, toml::Table) {
    (1..=20)
        .find_map(|seed| {
            let doc = draw(seed, Profile::Any);
            let s = scenario_of(&doc, Path::new("drawn.toml")).expect("loads");
            (!run_with(&s, seed, Some(m), Driver::Express).pass).then_some((seed, doc))
        })
        .unwrap_or_else(|| panic!("{m} fails no swarm run of seeds 1..=20"))
}

#[test]
fn shrinking_keeps_the_failure_and_makes_the_case_smaller() {
    let m = Mutant::parse("early-expiry").expect("a mutant");
    let (seed, doc) = first_failure(m);
    let s = scenario_of(&doc, Path::new("drawn.toml")).expect("loads");
    let oracle = run_with(&s, seed, Some(m), Driver::Express).violations[0]
        .oracle
        .to_string();
    let goal = Goal {
        seed,
        driver: Driver::Express,
        mutant: Some(m),
        oracle: oracle.clone(),
        budget: 200,
    };
    let shrunk = shrink(doc, &goal).expect("a failing case shrinks");
    let (b, a) = (shrunk.before, shrunk.after);
    assert!(
        a.faults <= b.faults && a.tabs <= b.tabs,
        "{}",
        shrunk.sizes()
    );
    assert!(a != b, "nothing was removed: {}", shrunk.sizes());
    let small = scenario_of(&shrunk.doc, Path::new("shrunk.toml")).expect("loads");
    let r = run_with(&small, seed, Some(m), Driver::Express);
    assert!(
        r.summary.failed_oracles.contains(&oracle),
        "{oracle} no longer fails"
    );
    assert!(
        run_with(&small, seed, None, Driver::Express).pass,
        "the shrunk case fails without the mutant"
    );
    assert!(shrunk.runs <= 200, "{} runs over the budget", shrunk.runs);
    // The case written out names the platform it failed under, default or not,
    // and replays to the same trace.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("case.toml");
    let written = rtsim::shrink::write_case(&goal, &shrunk, Path::new("drawn.toml"), Some(out))
        .expect("written");
    let text = std::fs::read_to_string(&written).expect("read back");
    assert!(text.contains("platform_profile = \"chromium\""), "{text}");
    let case = rtsim::scenario::Scenario::load(&written).expect("loads");
    let again = run_with(&case, seed, Some(m), Driver::Express);
    assert_eq!(again.trace_hash, r.trace_hash, "the written case replays");
}

#[test]
fn a_passing_case_has_nothing_to_shrink() {
    let goal = Goal {
        seed: 1,
        driver: Driver::Express,
        mutant: None,
        oracle: "O1".to_string(),
        budget: 50,
    };
    assert!(shrink(draw(1, Profile::Any), &goal).is_none());
}

/// `trace=<hex>` from a verdict line.
fn trace_of(out: &str) -> Option<String> {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("trace="))
        .map(str::to_string)
}

#[test]
fn a_failing_swarm_run_replays_byte_for_byte_from_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("cases");
    let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
        .args([
            "swarm",
            "--runs",
            "3",
            "--from",
            "1",
            "--mutant",
            "early-expiry",
        ])
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "a mutant run fails:\n{text}");
    let fail = text
        .lines()
        .find(|l| l.contains(": FAIL "))
        .unwrap_or_else(|| panic!("no failing run:\n{text}"));
    let replay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: rtsim "))
        .expect("a replay line");
    let again = Command::new(env!("CARGO_BIN_EXE_rtsim"))
        .args(replay.split_whitespace())
        .output()
        .expect("replays");
    let again = String::from_utf8_lossy(&again.stdout).to_string();
    assert_eq!(
        trace_of(&again),
        trace_of(fail),
        "replay `{replay}` differs:\n{again}"
    );
}

#[test]
fn bad_swarm_options_exit_2() {
    for args in [
        &["swarm", "--runs", "1", "--profile", "nope"][..],
        &["swarm", "--runs", "1", "--mutant", "nope"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nope") && !err.contains("panicked"), "{err}");
    }
}
