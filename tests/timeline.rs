//! The pictures of a run: the timeline page renders in headless Chromium
//! without a script error and shows the violation markers of a known failing
//! mutant run; the Perfetto file is valid Chrome Trace Event JSON whose spans
//! nest on every thread. Without Chromium the page test says it is skipped,
//! unless `RTSIM_REQUIRE_CHROMIUM` is set (CI sets it, and installs chromium).

use std::path::Path;
use std::process::Command;

/// The mutant run both tests draw: a 6-minute, 10-tab run that fails O4
/// three times (first at 30 s, tab 3).
const RUN: &[&str] = &[
    "run",
    "sims/leader_chaos.toml",
    "--driver",
    "express",
    "--mutant",
    "resign-when-hidden",
];

fn draw(option: &str, file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(RUN)
        .arg(option)
        .arg(file)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(1), "the mutant run fails");
    assert!(file.is_file(), "{option} wrote nothing");
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn the_timeline_renders_in_chromium_with_the_violation_markers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("run.html");
    draw("--timeline", &page);
    let html = std::fs::read_to_string(&page).expect("readable");
    // Self-contained: nothing fetched from anywhere.
    for needle in ["<link", "src=\"http", "href=\"http", "@import", "fetch("] {
        assert!(!html.contains(needle), "the page loads {needle}");
    }
    assert!(
        html.contains("O4 org0/browser0/tab3"),
        "the violation is in the page"
    );
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("RTSIM_REQUIRE_CHROMIUM").is_none(),
            "RTSIM_REQUIRE_CHROMIUM is set but no chromium is installed"
        );
        println!(
            "SKIPPED: no chromium on PATH (apt-get install chromium) - the page was not rendered"
        );
        return;
    };
    let out = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    let body = dom
        .split("<body")
        .nth(1)
        .and_then(|b| b.split('>').next())
        .unwrap_or_else(|| panic!("no body in the rendered page: {dom:.500}"));
    assert!(!body.contains("data-error"), "script error: {body}");
    assert!(
        body.contains("data-rendered=\"ok\""),
        "not rendered: {body}"
    );
    assert!(
        body.contains("data-markers=\"3\""),
        "a marker per violation: {body}"
    );
    assert!(dom.contains("data-oracle=\"O4\""), "the marker names O4");
    assert!(
        dom.contains("class=\"violation-link\""),
        "the violation list links to it"
    );
}

#[test]
fn the_perfetto_file_is_trace_event_json_whose_spans_nest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("run.json");
    draw("--perfetto", &file);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("readable")).expect("JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let phase = |p: &str| events.iter().filter(|e| e["ph"] == p).count();
    assert!(
        phase("X") > 100 && phase("i") > 0 && phase("M") > 10,
        "X {} i {} M {}",
        phase("X"),
        phase("i"),
        phase("M")
    );
    assert!(events
        .iter()
        .any(|e| e["ph"] == "i" && e["name"] == "violation"));
    assert!(events
        .iter()
        .any(|e| e["name"] == "process_name" && e["args"]["name"] == "server"));
    // Complete events on one thread must nest (or follow one another).
    let mut by_thread: std::collections::BTreeMap<(u64, u64), Vec<(u64, u64)>> = Default::default();
    for e in events.iter().filter(|e| e["ph"] == "X") {
        let ts = e["ts"].as_u64().expect("integer ts");
        let dur = e["dur"].as_u64().expect("integer dur");
        assert!(dur > 0);
        let key = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        by_thread.entry(key).or_default().push((ts, ts + dur));
    }
    for (thread, mut spans) in by_thread {
        spans.sort();
        for w in spans.windows(2) {
            let ((a0, a1), (b0, b1)) = (w[0], w[1]);
            assert!(
                b0 >= a1 || b1 <= a1,
                "{thread:?}: {a0}-{a1} and {b0}-{b1} overlap without nesting"
            );
            let _ = a0;
        }
    }
}
