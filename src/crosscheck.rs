//! Cross-check: the turmoil and express drivers must reach the same verdicts.
//! Traces differ (the two network models draw latencies differently), so a
//! timing-dependent bug may show at a seed under one driver and not under the
//! other. What must agree is therefore:
//!
//! - with no mutant, every seed: both pass, or both fail the same oracles;
//! - with a mutant, over a range of seeds: both catch it, or neither does.
//!
//! Per-seed agreement is reported as well, as a figure.

use crate::mutant::Mutant;
use crate::run::{run_with, Driver, RunReport};
use crate::scenario::Scenario;
use std::collections::BTreeSet;

/// The part of a report both drivers must agree on.
pub fn verdict_of(r: &RunReport) -> (bool, Vec<String>) {
    (r.pass, r.summary.failed_oracles.clone())
}

/// One seed under both drivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedPair {
    pub seed: u64,
    pub turmoil: (bool, Vec<String>),
    pub express: (bool, Vec<String>),
}

pub fn run_pair(scenario: &Scenario, seed: u64, mutant: Option<Mutant>) -> SeedPair {
    SeedPair {
        seed,
        turmoil: verdict_of(&run_with(scenario, seed, mutant, Driver::Turmoil)),
        express: verdict_of(&run_with(scenario, seed, mutant, Driver::Express)),
    }
}

/// The verdict of a (scenario, mutant) over its seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub scenario: String,
    pub mutant: Option<Mutant>,
    pub seeds: usize,
    pub agreeing_seeds: usize,
    pub turmoil_failing: usize,
    pub express_failing: usize,
    /// Why the drivers disagree, if they do.
    pub disagreement: Option<String>,
}

pub fn compare(scenario: &Scenario, mutant: Option<Mutant>, pairs: &[SeedPair]) -> Comparison {
    let agreeing = pairs.iter().filter(|p| p.turmoil == p.express).count();
    let turmoil_failing = pairs.iter().filter(|p| !p.turmoil.0).count();
    let express_failing = pairs.iter().filter(|p| !p.express.0).count();
    let disagreement = match mutant {
        None => pairs.iter().find(|p| p.turmoil != p.express).map(|p| {
            format!(
                "seed {}: turmoil {:?}, express {:?}",
                p.seed, p.turmoil, p.express
            )
        }),
        Some(_) => {
            let caught = |f: &dyn Fn(&SeedPair) -> &(bool, Vec<String>)| -> BTreeSet<String> {
                pairs
                    .iter()
                    .filter(|p| !f(p).0)
                    .flat_map(|p| f(p).1.clone())
                    .collect()
            };
            let (t, e) = (caught(&|p| &p.turmoil), caught(&|p| &p.express));
            (t.is_empty() != e.is_empty())
                .then(|| format!("caught by turmoil with {t:?} in {turmoil_failing} seeds, by express with {e:?} in {express_failing}"))
        }
    };
    Comparison {
        scenario: scenario.name.clone(),
        mutant,
        seeds: pairs.len(),
        agreeing_seeds: agreeing,
        turmoil_failing,
        express_failing,
        disagreement,
    }
}
