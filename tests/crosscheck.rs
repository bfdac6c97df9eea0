//! A sample of the cross-check: on every shipped scenario, with no mutant and
//! with each mutant, the turmoil and express drivers reach the same verdict.
//! `rtsim crosscheck sims --seeds 50` runs the whole of it.

mod common;

use rtsim::crosscheck::cross_check;
use rtsim::mutant::Mutant;

#[test]
fn both_drivers_agree_on_a_sample_of_scenarios_mutants_and_seeds() {
    let mutants: Vec<Option<Mutant>> = std::iter::once(None)
        .chain(Mutant::ALL.into_iter().map(Some))
        .collect();
    let mut disagreements = Vec::new();
    // Each scenario without a mutant and with one mutant (a different one per
    // scenario, cycling), at a seed that varies too: a sample that keeps CI short.
    for (i, scenario) in common::shipped().iter().enumerate() {
        let seed = 1 + (i % 5) as u64;
        for mutant in [None, mutants[1 + i % (mutants.len() - 1)]] {
            if let Err(e) = cross_check(scenario, seed, mutant) {
                disagreements.push(e);
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "drivers disagree:\n{}",
        disagreements.join("\n")
    );
}
