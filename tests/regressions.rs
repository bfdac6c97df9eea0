//! Every case in `sims/regressions/` (the proptest-regressions convention): a
//! scenario that once failed, most shrunk by `rtsim shrink`, replayed at the
//! seeds and on the driver its `[replay]` names. Each must hold now that its
//! bug is fixed; a mutant case must also still fail its oracle with its
//! mutant on, so the check that caught it is still there.

mod common;

use rtsim::parallel;
use rtsim::run::run_with;
use rtsim::scenario::Scenario;

fn cases() -> Vec<Scenario> {
    common::load_dir(&common::sims_dir().join("regressions"))
}

#[test]
fn every_regression_case_holds_at_its_seeds() {
    let scenarios = cases();
    assert!(scenarios.len() >= 2, "the regression cases are there");
    let mut work = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let replay = s
            .replay
            .as_ref()
            .unwrap_or_else(|| panic!("{}: a regression case needs [replay]", s.path.display()));
        work.extend(replay.seeds.iter().map(|&seed| (i, seed)));
    }
    let failed: Vec<String> = parallel::map(parallel::all_cores(), &work, |&(i, seed)| {
        let s = &scenarios[i];
        let replay = s.replay.as_ref().expect("checked");
        let mut wrong = Vec::new();
        let fixed = run_with(s, seed, None, replay.driver);
        if !fixed.pass {
            let first: Vec<String> = fixed
                .violations
                .iter()
                .take(3)
                .map(|v| v.to_string())
                .collect();
            wrong.push(format!("{} seed {seed}: {}", s.name, first.join("; ")));
        }
        if let Some(m) = replay.mutant {
            let broken = run_with(s, seed, Some(m), replay.driver);
            if !broken.summary.failed_oracles.contains(&replay.oracle) {
                wrong.push(format!(
                    "{} seed {seed}: {} no longer catches {m}",
                    s.name, replay.oracle
                ));
            }
        }
        wrong
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failed.is_empty(),
        "{} replays went wrong:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
