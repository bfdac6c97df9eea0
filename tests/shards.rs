//! Shards and machine-readable results: 4 shards of a batch, each printed as
//! JSON lines and joined by `rtsim merge`, print the table the unsharded
//! batch prints, for sweep, swarm and crosscheck; a sweep's JUnit report
//! names each scenario and carries a failure's replay command; `run
//! --format json` keeps its documented field names.

use std::process::Command;

fn rtsim(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

/// The unsharded output of `args`, and `rtsim merge` of its 4 shards' JSON.
fn whole_and_merged(args: &[&str]) -> (String, String) {
    let (code, whole) = rtsim(args);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = Vec::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let mut sharded = args.to_vec();
        sharded.extend(["--shard", &shard, "--format", "json"]);
        let (shard_code, json) = rtsim(&sharded);
        assert!(
            matches!(shard_code, Some(0 | 1)),
            "{sharded:?}: {shard_code:?}"
        );
        let file = dir.path().join(format!("{k}.json"));
        std::fs::write(&file, json).expect("write shard");
        files.push(file.display().to_string());
    }
    let mut merge = vec!["merge"];
    merge.extend(files.iter().map(String::as_str));
    let (merge_code, merged) = rtsim(&merge);
    assert_eq!(merge_code, code, "merge exits as the whole batch did");
    (whole, merged)
}

#[test]
fn four_merged_sweep_shards_print_the_unsharded_table() {
    let args = [
        "sweep",
        "sims/partition_heal.toml",
        "sims/server_restart_quiet.toml",
        "sims/delivery_steady.toml",
        "--seeds",
        "5",
        "--mutant",
        "no-dedup",
    ];
    let (whole, merged) = whole_and_merged(&args);
    assert!(whole.contains("failed"), "{whole}");
    assert_eq!(merged, whole);
}

#[test]
fn four_merged_swarm_shards_print_the_unsharded_report() {
    let args = ["swarm", "--runs", "30", "--mutant", "no-dedup", "--quiet"];
    let (whole, merged) = whole_and_merged(&args);
    assert!(whole.contains("swarm: 30 runs"), "{whole}");
    assert_eq!(merged, whole);
}

#[test]
fn four_merged_crosscheck_shards_print_the_unsharded_table() {
    let args = [
        "crosscheck",
        "sims/regressions/O12_shared_token_pause.toml",
        "--seeds",
        "6",
    ];
    let (whole, merged) = whole_and_merged(&args);
    assert!(whole.contains("crosscheck: 0 disagreements"), "{whole}");
    assert_eq!(merged, whole);
}

#[test]
fn a_sweep_junit_report_has_a_case_per_scenario_and_the_replay_of_a_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let xml = dir.path().join("sweep.xml");
    let (code, _) = rtsim(&[
        "sweep",
        "sims/partition_heal.toml",
        "sims/leader_hidden.toml",
        "--seeds",
        "2",
        "--mutant",
        "no-dedup",
        "--junit",
        &xml.display().to_string(),
    ]);
    assert_eq!(code, Some(1));
    let text = std::fs::read_to_string(&xml).expect("the report is written");
    assert!(
        text.contains(r#"<testcase name="partition_heal" classname="sims/partition_heal.toml">"#),
        "{text}"
    );
    assert!(text.contains(r#"<testcase name="leader_hidden""#), "{text}");
    assert!(
        text.contains(
            "rtsim run sims/partition_heal.toml --seed 1 --driver express --mutant no-dedup"
        ),
        "{text}"
    );
}

#[test]
fn run_json_keeps_its_field_names() {
    let (code, out) = rtsim(&[
        "run",
        "sims/partition_heal.toml",
        "--driver",
        "express",
        "--mutant",
        "no-dedup",
        "--format",
        "json",
    ]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    for field in [
        "kind",
        "scenario",
        "path",
        "seed",
        "driver",
        "mutant",
        "pass",
        "trace",
        "failed_oracles",
        "violations",
        "replay",
        "summary",
    ] {
        assert!(v.get(field).is_some(), "no {field} in {v}");
    }
    assert_eq!(v["kind"], "run");
    let o1 = &v["violations"][0];
    assert_eq!(o1["oracle"], "O1");
    assert!(o1["count"].as_u64().unwrap() >= o1["first"].as_array().unwrap().len() as u64);
}

#[test]
fn bad_shards_and_records_exit_2() {
    for shard in ["0/4", "5/4", "x", "2/"] {
        let (code, _) = rtsim(&["sweep", "sims/partition_heal.toml", "--shard", shard]);
        assert_eq!(code, Some(2), "--shard {shard}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"kind\":\"run\"}\n").expect("write");
    let (code, _) = rtsim(&["merge", &bad.display().to_string()]);
    assert_eq!(code, Some(2));
}
