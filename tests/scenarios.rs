//! Every shipped scenario holds its expectations, and a seed replays to the
//! same trace, in this process and in another.

mod common;

use rtsim::run::run;
use std::process::Command;

#[test]
fn every_shipped_scenario_passes_its_first_seeds() {
    let scenarios = common::shipped();
    assert!(
        scenarios.len() >= 6,
        "the skeleton ships at least six scenarios"
    );
    // Runs are independent and deterministic: spread them over every core.
    let work: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|i| (1..=3).map(move |seed| (i, seed)))
        .collect();
    let failures: Vec<String> =
        rtsim::parallel::map(rtsim::parallel::all_cores(), &work, |&(i, seed)| {
            let s = &scenarios[i];
            let r = run(s, seed, None);
            (!r.pass).then(|| {
                format!(
                    "{} seed {seed} failed: {:?} {:?}\nreplay: rtsim run {} --seed {seed}",
                    s.name,
                    r.unmet,
                    r.violations
                        .iter()
                        .take(5)
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>(),
                    s.path.display()
                )
            })
        })
        .into_iter()
        .flatten()
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_seed_replays_to_the_same_trace_in_process() {
    let s = common::load("partition_heal");
    let a = run(&s, 7, None);
    let b = run(&s, 7, None);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.trace, b.trace, "same seed, same bytes");
    let c = run(&s, 8, None);
    assert_ne!(
        a.trace_hash, c.trace_hash,
        "another seed takes another path"
    );
}

#[test]
fn a_seed_replays_to_the_same_trace_across_processes() {
    let s = common::load("server_restart");
    let in_process = run(&s, 3, None).trace_hex();
    let verdict = |_: u32| {
        let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
            .args(["run", s.path.to_str().expect("utf-8 path"), "--seed", "3"])
            .output()
            .expect("the binary runs");
        let text = String::from_utf8(out.stdout).expect("utf-8 output");
        text.lines().last().expect("a verdict line").to_string()
    };
    let first = verdict(1);
    assert_eq!(first, verdict(2));
    assert_eq!(first, format!("verdict: pass seed=3 trace={in_process}"));
}
