//! Cross-check: the turmoil and express drivers must reach the same verdicts.
//! Traces differ (the two network models draw latencies differently), so a
//! timing-dependent bug may show at a seed under one driver and not under the
//! other. What must agree is therefore:
//!
//! - with no mutant, every seed: both pass, or both fail the same oracles;
//! - with a mutant, over a range of seeds: both catch it at rates that do not
//!   differ significantly (Fisher's exact test, p >= 0.01). A mutant one
//!   driver catches at every seed and the other never is a disagreement; one
//!   caught at 2 seeds of 50 under one driver and none under the other is
//!   chance (p = 0.5), which "both or neither" would have called a failure.
//!
//! Per-seed agreement is reported as well, as a figure.
//!
//! Most mutants never come into play in most runs: an auth bug in a scenario
//! whose tokens never expire, a leader bug with one tab. A run with a mutant
//! whose fork (`mutant::fires`) the run without it never reached is that same
//! run, trace for trace, so `matrix` gives it that run's verdict instead of
//! running it again. tests/crosscheck.rs holds the instrumentation to this.

use crate::mutant::Mutant;
use crate::run::{run_with, Driver, RunReport};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The part of a report both drivers must agree on.
pub fn verdict_of(r: &RunReport) -> (bool, Vec<String>) {
    (r.pass, r.summary.failed_oracles.clone())
}

/// One seed under both drivers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedPair {
    pub seed: u64,
    pub turmoil: (bool, Vec<String>),
    pub express: (bool, Vec<String>),
    /// How many of the two verdicts were read off the no-mutant run (0..=2).
    pub derived: usize,
}

pub fn run_pair(scenario: &Scenario, seed: u64, mutant: Option<Mutant>) -> SeedPair {
    SeedPair {
        seed,
        turmoil: verdict_of(&run_with(scenario, seed, mutant, Driver::Turmoil)),
        express: verdict_of(&run_with(scenario, seed, mutant, Driver::Express)),
        derived: 0,
    }
}

/// The whole cross-check: every scenario, with no mutant and with each of
/// `mutants`, at its seeds (`seeds[i]` for scenario `i`), under both drivers,
/// on `jobs` threads. Comparisons come scenario by scenario, no mutant first.
pub fn matrix(
    scenarios: &[Scenario],
    mutants: &[Mutant],
    seeds: &[Vec<u64>],
    jobs: usize,
) -> Vec<Comparison> {
    const DRIVERS: [Driver; 2] = [Driver::Turmoil, Driver::Express];
    // First every run without a mutant; they tell which mutants each one reached.
    let base_work: Vec<(usize, u64, usize)> = (0..scenarios.len())
        .flat_map(|i| {
            seeds[i]
                .iter()
                .flat_map(move |&s| (0..2).map(move |d| (i, s, d)))
        })
        .collect();
    let base = crate::parallel::map(jobs, &base_work, |&(i, seed, d)| {
        let r = run_with(&scenarios[i], seed, None, DRIVERS[d]);
        (verdict_of(&r), r.reached)
    });
    let base: BTreeMap<(usize, u64, usize), _> = base_work.into_iter().zip(base).collect();
    // Then only the mutant runs that can differ.
    let mutant_work: Vec<(usize, u64, usize, Mutant)> = base
        .iter()
        .flat_map(|(&(i, s, d), (_, reached))| {
            mutants
                .iter()
                .filter(|m| reached.contains(m))
                .map(move |&m| (i, s, d, m))
        })
        .collect();
    let ran = crate::parallel::map(jobs, &mutant_work, |&(i, seed, d, m)| {
        verdict_of(&run_with(&scenarios[i], seed, Some(m), DRIVERS[d]))
    });
    let ran: BTreeMap<_, _> = mutant_work.into_iter().zip(ran).collect();
    let verdict = |i: usize, s: u64, d: usize, m: Option<Mutant>| {
        let own = m.and_then(|m| ran.get(&(i, s, d, m)));
        let derived = m.is_some() && own.is_none();
        (own.unwrap_or(&base[&(i, s, d)].0).clone(), derived)
    };
    let variants: Vec<Option<Mutant>> = std::iter::once(None)
        .chain(mutants.iter().copied().map(Some))
        .collect();
    let mut out = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        for &m in &variants {
            let pairs: Vec<SeedPair> = seeds[i]
                .iter()
                .map(|&seed| {
                    let (turmoil, dt) = verdict(i, seed, 0, m);
                    let (express, de) = verdict(i, seed, 1, m);
                    SeedPair {
                        seed,
                        turmoil,
                        express,
                        derived: usize::from(dt) + usize::from(de),
                    }
                })
                .collect();
            out.push(compare(&scenario.name, m, pairs));
        }
    }
    out
}

/// Catch rates this different under the two drivers are a disagreement.
pub const RATE_DIFFERENCE_P: f64 = 0.01;

/// Fisher's exact test, two-sided, for the 2x2 table [[a, b], [c, d]]: the
/// probability, with the margins fixed, of a table at most as likely as this one.
pub fn fisher_two_sided(a: u64, b: u64, c: u64, d: u64) -> f64 {
    let ln_fact = |n: u64| (1..=n).map(|k| (k as f64).ln()).sum::<f64>();
    let ln_choose = |n: u64, k: u64| ln_fact(n) - ln_fact(k) - ln_fact(n - k);
    let (r1, r2, k) = (a + b, c + d, a + c);
    let total = ln_choose(r1 + r2, k);
    let prob = |x: u64| (ln_choose(r1, x) + ln_choose(r2, k - x) - total).exp();
    let observed = prob(a);
    let lo = k.saturating_sub(r2);
    let hi = k.min(r1);
    (lo..=hi)
        .map(prob)
        .filter(|p| *p <= observed * (1.0 + 1e-9))
        .sum::<f64>()
        .min(1.0)
}

/// The verdict of a (scenario, mutant) over its seeds, with the seeds' own
/// verdicts, so that shards of one row can be joined (`merge`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub scenario: String,
    #[serde(with = "crate::mutant::by_name")]
    pub mutant: Option<Mutant>,
    pub seeds: usize,
    pub agreeing_seeds: usize,
    pub turmoil_failing: usize,
    pub express_failing: usize,
    /// Verdicts read off the no-mutant run rather than run (see the module doc).
    pub derived_runs: usize,
    /// Why the drivers disagree, if they do.
    pub disagreement: Option<String>,
    pub pairs: Vec<SeedPair>,
}

/// Judge a row from its seeds' verdicts.
pub fn compare(scenario: &str, mutant: Option<Mutant>, pairs: Vec<SeedPair>) -> Comparison {
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
            let n = pairs.len() as u64;
            let (tf, ef) = (turmoil_failing as u64, express_failing as u64);
            let p = fisher_two_sided(tf, n - tf, ef, n - ef);
            (p < RATE_DIFFERENCE_P).then(|| {
                format!("caught by turmoil with {t:?} in {tf}/{n} seeds, by express with {e:?} in {ef}/{n} (Fisher p = {p:.2e})")
            })
        }
    };
    Comparison {
        scenario: scenario.to_string(),
        mutant,
        seeds: pairs.len(),
        agreeing_seeds: agreeing,
        turmoil_failing,
        express_failing,
        derived_runs: pairs.iter().map(|p| p.derived).sum(),
        disagreement,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::fisher_two_sided;

    #[test]
    fn fisher_separates_chance_from_a_real_difference() {
        // 2 of 50 against 0 of 50: chance.
        let p = fisher_two_sided(2, 48, 0, 50);
        assert!((p - 0.4949).abs() < 1e-3, "{p}");
        // Identical rates: certain.
        assert!((fisher_two_sided(3, 2, 3, 2) - 1.0).abs() < 1e-9);
        // Every seed against none: a real difference.
        assert!(fisher_two_sided(50, 0, 0, 50) < 1e-20);
        // The textbook tea-tasting table, two-sided p = 0.4857.
        assert!((fisher_two_sided(3, 1, 1, 3) - 0.4857).abs() < 1e-3);
    }
}
