//! Every mutant is caught by the shipped scenario its declaration names
//! (`Mutant::caught_by`) within 20 seeds, by the oracle that guards what it
//! breaks, and its replay gives the same trace hash. This is what lets us
//! trust each checker: it has been seen to fail. The search runs on the
//! express driver (the cross-check ties its verdicts to turmoil's); the seed it
//! finds is then replayed on both.

mod common;

use rtsim::mutant::Mutant;
use rtsim::run::{run_with, Driver};

/// The seeds a mutant's scenario gets to catch it.
const SEEDS: std::ops::RangeInclusive<u64> = 1..=20;

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
    // Every (mutant, seed) pair, so the report says how reliably each is caught.
    let work: Vec<(Mutant, u64)> = Mutant::ALL
        .iter()
        .flat_map(|&m| SEEDS.map(move |seed| (m, seed)))
        .collect();
    let caught = rtsim::parallel::map(rtsim::parallel::all_cores(), &work, |&(mutant, seed)| {
        let (scenario, oracle) = mutant.caught_by();
        let r = run_with(&common::load(scenario), seed, Some(mutant), Driver::Express);
        (!r.pass && r.summary.failed_oracles.iter().any(|o| o == oracle)).then_some(r.trace_hash)
    });
    let mut missed = Vec::new();
    for (i, &mutant) in Mutant::ALL.iter().enumerate() {
        let (scenario, oracle) = mutant.caught_by();
        let row = &caught[i * SEEDS.count()..(i + 1) * SEEDS.count()];
        let seeds: Vec<u64> = SEEDS
            .zip(row)
            .filter(|(_, c)| c.is_some())
            .map(|(s, _)| s)
            .collect();
        println!(
            "{:<28} {scenario:<28} {oracle:<4} caught at {:>2}/{} seeds{}",
            mutant.name(),
            seeds.len(),
            SEEDS.count(),
            seeds
                .first()
                .map_or(String::new(), |s| format!(" (first: seed {s})"))
        );
        let Some(&seed) = seeds.first() else {
            missed.push(format!("{mutant} not caught by {scenario} within 20 seeds"));
            continue;
        };
        let s = common::load(scenario);
        let again = run_with(&s, seed, Some(mutant), Driver::Express);
        assert_eq!(
            Some(again.trace_hash),
            row[(seed - 1) as usize],
            "{mutant}: replay of seed {seed} differs"
        );
        assert!(
            run_with(&s, seed, None, Driver::Express).pass,
            "{scenario} seed {seed} must pass without {mutant}"
        );
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
