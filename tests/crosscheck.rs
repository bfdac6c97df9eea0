//! A sample of the cross-check (`rtsim crosscheck sims --seeds 50` runs all of
//! it): with no mutant, both drivers pass every shipped scenario at a seed;
//! each mutant is caught under turmoil too, within 20 seeds, on the scenario
//! that catches it under express (tests/mutants.rs).

mod common;

use rtsim::crosscheck::{compare, run_pair};
use rtsim::run::{run_with, Driver};

#[test]
fn both_drivers_pass_every_scenario_without_a_mutant() {
    let mut disagreements = Vec::new();
    for (i, scenario) in common::shipped().iter().enumerate() {
        let pairs = vec![run_pair(scenario, 1 + (i % 5) as u64, None)];
        if let Some(d) = compare(scenario, None, &pairs).disagreement {
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
    for &(mutant, name, _) in common::CATCHES {
        let s = common::load(name);
        let caught =
            (1..=20u64).any(|seed| !run_with(&s, seed, Some(mutant), Driver::Turmoil).pass);
        assert!(
            caught,
            "{mutant} on {name}: caught under express, not under turmoil within 20 seeds"
        );
    }
}
