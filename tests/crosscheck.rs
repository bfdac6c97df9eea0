//! A sample of the cross-check (`rtsim crosscheck sims --seeds 50` runs all of
//! it): with no mutant, both drivers pass every shipped scenario at a seed;
//! each mutant is caught under turmoil too, within 20 seeds, on the scenario
//! that catches it under express (tests/mutants.rs).

mod common;

use rtsim::crosscheck::{compare, run_pair};
use rtsim::mutant::Mutant;
use rtsim::run::{run_with, Driver};

/// What lets the cross-check skip runs: a mutant whose fork a run never reached
/// leaves that run's trace unchanged. A mutant site that forgot to ask
/// `mutant::fires`, or asked too late, fails here.
#[test]
fn unreached_mutants_leave_the_trace_unchanged() {
    let mut checked = 0;
    for (i, scenario) in common::shipped().iter().enumerate() {
        let seed = 1 + (i % 3) as u64;
        let base = run_with(scenario, seed, None, Driver::Express);
        for m in Mutant::ALL
            .iter()
            .copied()
            .filter(|m| !base.reached.contains(m))
        {
            let with = run_with(scenario, seed, Some(m), Driver::Express);
            assert_eq!(
                with.trace_hex(),
                base.trace_hex(),
                "{m} on {} seed {seed}: never reached, yet the trace changed",
                scenario.name
            );
            assert!(!with.reached.contains(&m), "{m} reached only when on");
            checked += 1;
        }
    }
    // The test is only as good as the number of pairs it compares.
    assert!(
        checked > 100,
        "only {checked} unreached (scenario, mutant) pairs"
    );
}

/// ...and the record is not empty: each mutant's own scenario reaches it.
#[test]
fn every_mutant_is_reached_by_the_scenario_that_catches_it() {
    for &mutant in Mutant::ALL {
        let (name, _) = mutant.caught_by();
        let r = run_with(&common::load(name), 1, None, Driver::Express);
        assert!(r.reached.contains(&mutant), "{name} never reaches {mutant}");
    }
}

#[test]
fn both_drivers_pass_every_scenario_without_a_mutant() {
    let mut disagreements = Vec::new();
    for (i, scenario) in common::shipped().iter().enumerate() {
        let pairs = vec![run_pair(scenario, 1 + (i % 5) as u64, None)];
        if let Some(d) = compare(&scenario.name, None, pairs).disagreement {
            disagreements.push(format!("{}: {d}", scenario.name));
        }
    }
    assert!(
        disagreements.is_empty(),
        "drivers disagree:\n{}",
        disagreements.join("\n")
    );
}

#[test]
fn turmoil_catches_every_mutant_too() {
    for &mutant in Mutant::ALL {
        let (name, _) = mutant.caught_by();
        let s = common::load(name);
        let caught =
            (1..=20u64).any(|seed| !run_with(&s, seed, Some(mutant), Driver::Turmoil).pass);
        assert!(
            caught,
            "{mutant} on {name}: caught under express, not under turmoil within 20 seeds"
        );
    }
}
