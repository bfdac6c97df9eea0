//! Cross-check: the turmoil and express drivers must reach the same verdict
//! on the same scenario, seed and mutant: both pass, or both fail with the
//! same set of oracles. Traces differ (the network models draw latencies
//! differently), verdicts must not: a difference is a bug in one driver.

use crate::mutant::Mutant;
use crate::run::{run_with, Driver, RunReport};
use crate::scenario::Scenario;

/// The part of a report both drivers must agree on.
pub fn verdict_of(r: &RunReport) -> (bool, Vec<String>) {
    (r.pass, r.summary.failed_oracles.clone())
}

/// `Ok` if both drivers agree, else a description of the disagreement.
pub fn cross_check(scenario: &Scenario, seed: u64, mutant: Option<Mutant>) -> Result<(), String> {
    let turmoil = verdict_of(&run_with(scenario, seed, mutant, Driver::Turmoil));
    let express = verdict_of(&run_with(scenario, seed, mutant, Driver::Express));
    if turmoil == express {
        Ok(())
    } else {
        let m = mutant.map_or("none".to_string(), |m| m.to_string());
        Err(format!(
            "{} seed {seed} mutant {m}: turmoil {} {:?}, express {} {:?}",
            scenario.name,
            if turmoil.0 { "pass" } else { "fail" },
            turmoil.1,
            if express.0 { "pass" } else { "fail" },
            express.1
        ))
    }
}
