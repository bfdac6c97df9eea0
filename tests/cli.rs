//! The command line: verdict lines, replay lines, and exit code 2 with a
//! message naming the file, line and field for every kind of bad input.

mod common;

use std::process::{Command, Output};

fn rtsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

const GOOD: &str = r#"name = "tiny"
about = "A tiny scenario for CLI tests."
duration_s = 20
settle_s = 10
[topology]
orgs = 1
properties_per_org = 1
browsers_per_org = 1
tabs_per_browser = 1
[workload]
mutations_per_s = 1.0
"#;

/// `text` written as `name` in `dir`, which removes it when the test ends.
fn scenario_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write scenario");
    path.to_string_lossy().to_string()
}

/// Each bad input exits 2, names the file, the line and the field, and does not panic.
#[test]
fn bad_scenarios_exit_2_naming_file_line_and_field() {
    let cases: &[(&str, String, &str, usize)] = &[
        (
            "unknown_key.toml",
            GOOD.replace("settle_s = 10", "settle_s = 10\nsettel = 3"),
            "settel",
            5,
        ),
        (
            "wrong_type.toml",
            GOOD.replace("orgs = 1", "orgs = \"one\""),
            "orgs",
            6,
        ),
        (
            "negative.toml",
            GOOD.replace("tabs_per_browser = 1", "tabs_per_browser = -2"),
            "topology.tabs_per_browser",
            9,
        ),
        (
            "billion.toml",
            GOOD.replace("orgs = 1", "orgs = 1000000000"),
            "topology.orgs",
            6,
        ),
        (
            "malformed.toml",
            GOOD.replace("[workload]", "[workload"),
            "-",
            10,
        ),
        (
            "fault_kind.toml",
            format!("{GOOD}[[fault]]\nat_s = 5\nkind = \"meteor\"\n"),
            "fault[0].kind",
            14,
        ),
        (
            "fault_target.toml",
            format!(
                "{GOOD}[[fault]]\nat_s = 5\nkind = \"partition\"\ntarget = \"org3/browser0\"\n"
            ),
            "fault[0].target",
            15,
        ),
        (
            "token_expire_server.toml",
            format!("{GOOD}[[fault]]\nat_s = 5\nkind = \"token_expire\"\ntarget = \"server\"\n"),
            "fault[0].target",
            15,
        ),
        (
            "logout_browser.toml",
            format!("{GOOD}[[fault]]\nat_s = 5\nkind = \"logout\"\ntarget = \"org0/browser0\"\n"),
            "fault[0].target",
            15,
        ),
        (
            "backoff_param.toml",
            GOOD.replace(
                "[workload]",
                "[params]\nauth_backoff_base_ms = 9000\nauth_backoff_max_ms = 1000\n[workload]",
            ),
            "params.auth_backoff_max_ms",
            12,
        ),
        (
            "navigate_v1.toml",
            format!("{GOOD}[[fault]]\nat_s = 5\nkind = \"navigate\"\ntarget = \"org0/browser0/tab0\"\nlists = \"tasks\"\n"),
            "fault[0].kind",
            14,
        ),
        (
            "filter_property.toml",
            format!(
                "{}[[fault]]\nat_s = 5\nkind = \"set_property_filter\"\ntarget = \"org0/browser0/tab0\"\nproperty = 4\n",
                GOOD.replace("[workload]", "[params]\ntransport = \"stream\"\n[workload]")
            ),
            "fault[0].property",
            18,
        ),
        (
            "navigate_lists.toml",
            format!(
                "{}[[fault]]\nat_s = 5\nkind = \"navigate\"\ntarget = \"org0/browser0/tab0\"\nlists = \"staff\"\n",
                GOOD.replace("[workload]", "[params]\ntransport = \"stream\"\n[workload]")
            ),
            "fault[0].lists",
            18,
        ),
        (
            "fault_late.toml",
            format!("{GOOD}[[fault]]\nat_s = 25\nkind = \"partition\"\ntarget = \"org0\"\n"),
            "fault[0].at_s",
            13,
        ),
        (
            "param.toml",
            GOOD.replace("[workload]", "[params]\nbuffer_size = 3\n[workload]"),
            "params.buffer_size",
            11,
        ),
        (
            "page_list.toml",
            GOOD.replace(
                "[workload]",
                "[params]\npage_lists = \"revenues,staff\"\n[workload]",
            ),
            "params.page_lists",
            11,
        ),
        (
            "page_aggregate.toml",
            GOOD.replace(
                "[workload]",
                "[params]\npage_aggregates = \"profit-loss,report:0-6\"\n[workload]",
            ),
            "params.page_aggregates",
            11,
        ),
        (
            "writes_without_revenues.toml",
            GOOD.replace(
                "[workload]",
                "[params]\npage_lists = \"tasks\"\nwrites_per_min = 2\n[workload]",
            ),
            "writes_per_min",
            12,
        ),
        (
            "entity.toml",
            GOOD.replace(
                "mutations_per_s = 1.0",
                "mutations_per_s = 1.0\nentities = [\"revenue\", \"invoice\"]",
            ),
            "workload.entities",
            12,
        ),
        (
            "oracle.toml",
            format!("{GOOD}[expect]\nhold = [\"O99\"]\n"),
            "expect.hold",
            13,
        ),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for (file, text, field, line) in cases {
        let path = scenario_file(&dir, file, text);
        let out = rtsim(&["run", &path, "--seed", "1"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(
            err.contains(&format!("{path}:{line}:")),
            "{file}: expected line {line} in {err}"
        );
        assert!(
            err.contains(field),
            "{file}: expected field {field} in {err}"
        );
        assert!(!err.contains("panicked"), "{file}: {err}");
    }
}

#[test]
fn bad_seeds_and_mutants_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = scenario_file(&dir, "good.toml", GOOD);
    for args in [
        ["--seed", "0xZZ"],
        ["--seed", "-4"],
        ["--mutant", "no-such-bug"],
    ] {
        let out = rtsim(&["run", &path, args[0], args[1]]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let missing = rtsim(&["run", "/nonexistent/x.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("/nonexistent/x.toml"));
}

#[test]
fn a_passing_run_ends_with_its_verdict_line_and_hex_seeds_parse() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = scenario_file(&dir, "good2.toml", GOOD);
    let dec = rtsim(&["run", &path, "--seed", "42"]);
    let hex = rtsim(&["run", &path, "--seed", "0x2a"]);
    assert_eq!(
        dec.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dec.stdout)
    );
    let last = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        last(&dec).starts_with("verdict: pass seed=42 trace="),
        "{}",
        last(&dec)
    );
    assert_eq!(last(&dec), last(&hex));
    assert_eq!(last(&dec).len(), "verdict: pass seed=42 trace=".len() + 16);
}

#[test]
fn subcommands_have_help_and_list_shows_every_scenario() {
    for sub in ["run", "sweep", "list", "mutants"] {
        let out = rtsim(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub} --help");
    }
    let list = rtsim(&["list", common::sims_dir().to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), common::shipped().len());
    let mutants = rtsim(&["mutants"]);
    assert_eq!(
        String::from_utf8_lossy(&mutants.stdout).lines().count(),
        rtsim::mutant::Mutant::ALL.len()
    );
}

/// The block of README between `<!-- NAME:begin (rtsim NAME) -->` and `<!-- NAME:end -->`.
fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    let begin = format!("<!-- {name}:begin (rtsim {name}) -->\n");
    let start = readme.find(&begin).expect("README has the block") + begin.len();
    let end = readme
        .find(&format!("<!-- {name}:end -->"))
        .expect("the block ends");
    readme[start..end].to_string()
}

/// README's parameter, fault-kind and SPEC rule tables are the ones `rtsim params`,
/// `rtsim faults` and `rtsim coverage` print from the declarations.
#[test]
fn readme_lists_every_parameter_and_fault_kind_as_declared() {
    assert_eq!(
        readme_block("params"),
        rtsim::params::SimConfig::markdown_table(),
        "README's parameter table is stale: paste `cargo run --release -- params` between the markers"
    );
    assert_eq!(
        readme_block("faults"),
        rtsim::faults::markdown_table(),
        "README's fault table is stale: paste `cargo run --release -- faults` between the markers"
    );
    assert_eq!(
        readme_block("coverage"),
        rtsim::coverage::markdown_table(),
        "README's SPEC rule table is stale: paste `cargo run --release -- coverage` between the markers"
    );
}

/// `rtsim check`: a recorded history that breaks an oracle exits 1, one that
/// keeps every checkable oracle exits 0, a malformed one exits 2 naming the
/// file, line and field.
#[test]
fn check_judges_recorded_histories_and_rejects_malformed_ones() {
    let dir = common::repo_dir().join("histories");
    let history = |name: &str| dir.join(name).to_string_lossy().to_string();
    let split = rtsim(&["check", &history("lease_takeover_3s_heartbeat_10s.jsonl")]);
    assert_eq!(split.status.code(), Some(1), "{}", stderr(&split));
    let out = String::from_utf8_lossy(&split.stdout);
    assert!(out.contains("two leaders for"), "{out}");
    assert!(out.contains(": fail (O4;"), "{out}");
    let json = rtsim(&[
        "check",
        "--format",
        "json",
        &history("lease_takeover_3s_heartbeat_10s.jsonl"),
    ]);
    assert_eq!(json.status.code(), Some(1));
    let record: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(record["kind"], "check");
    assert_eq!(record["pass"], false);
    let o4 = &record["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["oracle"] == "O4")
        .expect("O4 judged")
        .clone();
    assert_eq!(o4["status"], "fail");
    assert!(o4["violations"].as_u64() >= Some(1), "{o4}");
    let kept = rtsim(&["check", &history("lease_takeover_18s_heartbeat_10s.jsonl")]);
    assert_eq!(kept.status.code(), Some(0), "{}", stderr(&kept));
    assert!(String::from_utf8_lossy(&kept.stdout).contains(": pass (2 checkers judged"));
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = scenario_file(
        &dir,
        "bad.jsonl",
        "{\"kind\":\"recording\",\"schema\":1,\"records\":[\"role\"],\"params\":{\"scope\":\"browser-org\"}}\n{\"t\":1,\"kind\":\"role\",\"tab\":\"org0/browser0/tab0\",\"scope\":\"s\",\"role\":\"leader\",\"seq\":-1,\"cause\":\"c\"}\n",
    );
    let o = rtsim(&["check", &bad]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.jsonl:2: field `seq`"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("panicked"));
}

/// `--platform-profile` runs a scenario under another platform profile, a
/// failing run's replay line carries it, and a bad one exits 2 naming the flag.
#[test]
fn platform_profile_flag_is_replayed_and_checked() {
    let sims = common::sims_dir();
    // Four tabs per browser, so the platform's timing matters.
    let multitab = sims.join("auth_expiry_multitab.toml");
    let multitab = multitab.to_string_lossy().to_string();
    let mutant = "no-property-filter";
    let args = ["run", &multitab, "--driver", "express", "--mutant", mutant];
    let o = rtsim(&[&args[..], &["--platform-profile", "idealised"]].concat());
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("--mutant {mutant} --platform-profile idealised\n")),
        "{out}"
    );
    // The replay line replays: the same trace hash.
    let replay = out
        .lines()
        .find_map(|l| l.strip_prefix("replay: rtsim "))
        .expect("a replay line");
    let again = rtsim(&replay.split(' ').collect::<Vec<_>>());
    let verdict = |s: &str| s.lines().last().unwrap_or("").to_string();
    assert_eq!(
        verdict(&String::from_utf8_lossy(&again.stdout)),
        verdict(&out)
    );
    // The default (chromium) is another run.
    let default = rtsim(&args);
    assert_ne!(
        verdict(&String::from_utf8_lossy(&default.stdout)),
        verdict(&out)
    );
    let bad = rtsim(&["run", &multitab, "--platform-profile", "/no/such.json"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("field `--platform-profile`: cannot read profile /no/such.json"),
        "{}",
        stderr(&bad)
    );
}
