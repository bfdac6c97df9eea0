//! Every mutant is caught by a shipped scenario within 20 seeds, by the oracle
//! that guards what it breaks, and its replay gives the same trace hash. This
//! is what lets us trust each checker: it has been seen to fail. The search
//! runs on the express driver (the cross-check ties its verdicts to turmoil's);
//! the seed it finds is then replayed on both.

mod common;

use common::CATCHES;
use rtsim::mutant::Mutant;
use rtsim::run::{run_with, Driver};

#[test]
fn every_mutant_is_listed_here() {
    for m in Mutant::ALL {
        assert!(
            CATCHES.iter().any(|(c, _, _)| *c == m),
            "{m} has no catching scenario"
        );
    }
}

#[test]
fn each_mutant_is_caught_within_20_seeds_and_replays() {
    for &(mutant, scenario, oracle) in CATCHES {
        let s = common::load(scenario);
        let caught = (1..=20u64).find_map(|seed| {
            let r = run_with(&s, seed, Some(mutant), Driver::Express);
            (!r.pass && r.summary.failed_oracles.iter().any(|o| o == oracle)).then_some((seed, r))
        });
        let (seed, report) =
            caught.unwrap_or_else(|| panic!("{mutant} not caught by {scenario} within 20 seeds"));
        let again = run_with(&s, seed, Some(mutant), Driver::Express);
        assert_eq!(
            again.trace_hash, report.trace_hash,
            "{mutant}: replay of seed {seed} differs"
        );
        assert!(
            run_with(&s, seed, None, Driver::Express).pass,
            "{scenario} seed {seed} must pass without {mutant}"
        );
    }
}
