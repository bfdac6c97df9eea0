//! Every mutant is caught by the shipped scenario its declaration names
//! (`Mutant::caught_by`) within 20 seeds, by the oracle that guards what it
//! breaks, and its replay gives the same trace hash. This is what lets us
//! trust each checker: it has been seen to fail. The search runs on the
//! express driver (the cross-check ties its verdicts to turmoil's); the seed it
//! finds is then replayed on both.

mod common;

use rtsim::mutant::Mutant;
use rtsim::run::{run_with, Driver};

#[test]
fn each_mutant_names_a_shipped_scenario_and_a_known_oracle() {
    for &m in Mutant::ALL {
        let (scenario, oracle) = m.caught_by();
        assert!(
            common::sims_dir()
                .join(format!("{scenario}.toml"))
                .is_file(),
            "{m}: sims/{scenario}.toml does not exist"
        );
        assert!(
            rtsim::scenario::ORACLES.contains(&oracle),
            "{m}: {oracle} is not an oracle id"
        );
        assert_eq!(Mutant::parse(m.name()), Ok(m), "{m}: its name parses back");
    }
}

#[test]
fn each_mutant_is_caught_within_20_seeds_and_replays() {
    for &mutant in Mutant::ALL {
        let (scenario, oracle) = mutant.caught_by();
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
