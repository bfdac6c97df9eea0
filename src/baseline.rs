//! The behaviour baseline: the verdict line, trace hash included, of every
//! shipped scenario over a fixed plan of seeds, drivers and mutants. A
//! refactor must leave every line as it was; `tests/verdicts.rs` compares
//! against `tests/verdicts.txt`, and `rtsim verdicts sims > tests/verdicts.txt`
//! records it again after a commit that changes behaviour on purpose (the
//! commit says why).

use crate::mutant::Mutant;
use crate::run::{run_with, Driver, RunReport};
use crate::scenario::Scenario;

/// Which runs the baseline holds.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Seeds 1..=n under express, no mutant.
    pub express_seeds: u64,
    /// Seeds 1..=n under turmoil, no mutant.
    pub turmoil_seeds: u64,
    /// Seeds 1..=n under express with each mutant on.
    pub mutant_seeds: u64,
}

impl Plan {
    /// The plan issue 13 names: 20 express seeds, 3 turmoil seeds, 3 per mutant.
    pub const STANDARD: Plan = Plan {
        express_seeds: 20,
        turmoil_seeds: 3,
        mutant_seeds: 3,
    };

    /// Every run of the plan over `scenarios` (by index), in the file's order.
    pub fn runs(&self, scenarios: usize) -> Vec<(usize, Driver, Option<Mutant>, u64)> {
        let mut runs = Vec::new();
        for i in 0..scenarios {
            runs.extend((1..=self.express_seeds).map(|s| (i, Driver::Express, None, s)));
            runs.extend((1..=self.turmoil_seeds).map(|s| (i, Driver::Turmoil, None, s)));
            for &m in Mutant::ALL {
                runs.extend((1..=self.mutant_seeds).map(|s| (i, Driver::Express, Some(m), s)));
            }
        }
        runs
    }
}

/// One run's line: `<scenario> <driver> <mutant|-> seed=<n> <pass|fail> trace=<hex> failed=<ids|->`.
pub fn line(scenario: &Scenario, driver: Driver, mutant: Option<Mutant>, r: &RunReport) -> String {
    let failed = if r.summary.failed_oracles.is_empty() {
        "-".to_string()
    } else {
        r.summary.failed_oracles.join(",")
    };
    format!(
        "{} {driver} {} seed={} {} trace={} failed={failed}",
        scenario.name,
        mutant.map_or("-".to_string(), |m| m.to_string()),
        r.seed,
        if r.pass { "pass" } else { "fail" },
        r.trace_hex(),
    )
}

/// Every line of `plan` over `scenarios`, on `jobs` threads, in plan order.
/// The second value lists the no-mutant runs that failed their expectations.
pub fn record(scenarios: &[Scenario], plan: Plan, jobs: usize) -> (Vec<String>, Vec<String>) {
    let runs = plan.runs(scenarios.len());
    let results = crate::parallel::map(jobs, &runs, |&(i, driver, mutant, seed)| {
        let s = &scenarios[i];
        let r = run_with(s, seed, mutant, driver);
        let broken = (mutant.is_none() && !r.pass).then(|| {
            format!(
                "{} seed {seed} under {driver} failed: {:?}\nreplay: rtsim run {} --seed {seed} --driver {driver}",
                s.name,
                r.unmet,
                s.path.display()
            )
        });
        (line(s, driver, mutant, &r), broken)
    });
    let mut lines = Vec::with_capacity(results.len());
    let mut broken = Vec::new();
    for (l, b) in results {
        lines.push(l);
        broken.extend(b);
    }
    (lines, broken)
}
