//! Determinism with six tabs per browser: the platform, the election and the
//! fan-out to followers add many same-instant choices; a seed must still
//! replay to the same trace, in process on both drivers and across processes.

mod common;

use rtsim::run::{run_traced, run_with, Driver};
use std::process::Command;

#[test]
fn six_tabs_per_browser_replay_to_the_same_trace() {
    let mut s = common::load("leader_chaos");
    s.topology.tabs_per_browser = 6;
    for driver in [Driver::Express, Driver::Turmoil] {
        let a = run_traced(&s, 11, None, driver);
        let b = run_traced(&s, 11, None, driver);
        assert!(!a.trace.is_empty(), "the trace is kept");
        assert_eq!(a.trace, b.trace, "{driver}: same seed, same bytes");
        assert!(a.pass, "{driver}: {:?}", a.unmet);
    }
    // Across processes: the same file, run twice by the binary.
    let text = std::fs::read_to_string(&s.path).expect("scenario readable");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("six_tabs.toml");
    std::fs::write(
        &file,
        text.replace("tabs_per_browser = 4", "tabs_per_browser = 6"),
    )
    .expect("temp file");
    let verdict = || {
        let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
            .args([
                "run",
                file.to_str().expect("utf-8"),
                "--seed",
                "11",
                "--driver",
                "express",
            ])
            .output()
            .expect("the binary runs");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .last()
            .expect("a verdict")
            .to_string()
    };
    let first = verdict();
    assert_eq!(first, verdict());
    assert_eq!(
        first,
        format!(
            "verdict: pass seed=11 trace={}",
            run_with(&s, 11, None, Driver::Express).trace_hex()
        )
    );
}
