//! Streamed checking (every command: the checkers, the tally and the trace
//! hasher take each step as the driver records it, and nothing is kept) and
//! stored checking (the whole history kept, then fed to the same checkers)
//! give the same report: verdict, violations, figures, trace hash and trace.
//! On every shipped scenario and regression case, under both drivers, and with
//! each mutant on the scenario that catches it, so violations are compared too.

mod common;

use rtsim::mutant::Mutant;
use rtsim::run::{run_stored, run_traced, Driver, RunReport};
use rtsim::scenario::Scenario;

fn same(what: &str, streamed: &RunReport, stored: &RunReport) {
    assert_eq!(streamed.pass, stored.pass, "{what}: verdict");
    assert_eq!(streamed.violations, stored.violations, "{what}: violations");
    assert_eq!(streamed.unmet, stored.unmet, "{what}: expectations");
    assert_eq!(streamed.trace_hash, stored.trace_hash, "{what}: trace hash");
    assert_eq!(streamed.steps, stored.steps, "{what}: history steps");
    assert_eq!(streamed.summary, stored.summary, "{what}: summary");
    assert_eq!(streamed.applied, stored.applied, "{what}: oracles applied");
    assert_eq!(streamed.reached, stored.reached, "{what}: mutants reached");
    assert!(
        !stored.trace.is_empty(),
        "{what}: the stored run keeps its trace"
    );
    assert_eq!(streamed.trace, stored.trace, "{what}: trace lines");
}

fn compare(s: &Scenario, seed: u64, mutant: Option<Mutant>, driver: Driver) {
    let what = format!("{} seed {seed} {driver} mutant {mutant:?}", s.name);
    let streamed = run_traced(s, seed, mutant, driver);
    let stored = run_stored(s, seed, mutant, driver);
    same(&what, &streamed, &stored);
}

#[test]
fn streamed_and_stored_checking_agree_on_every_shipped_scenario() {
    let mut scenarios = common::shipped();
    scenarios.extend(common::load_dir(&common::sims_dir().join("regressions")));
    let work: Vec<(usize, u64, Driver)> = (0..scenarios.len())
        .flat_map(|i| {
            [
                (i, 1, Driver::Express),
                (i, 2, Driver::Express),
                (i, 1, Driver::Turmoil),
            ]
        })
        .collect();
    rtsim::parallel::map(2, &work, |&(i, seed, driver)| {
        compare(&scenarios[i], seed, None, driver)
    });
}

#[test]
fn streamed_and_stored_checking_agree_with_every_mutant() {
    let work: Vec<Mutant> = Mutant::ALL.to_vec();
    rtsim::parallel::map(2, &work, |&m| {
        let s = common::load(m.caught_by().0);
        for seed in 1..=3 {
            compare(&s, seed, Some(m), Driver::Express);
        }
    });
}
