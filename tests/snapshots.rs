//! The summary of each shipped scenario at seed 1, kept as an insta snapshot
//! in snapshots/. The trace hash is part of it, so a fresh machine in CI
//! checks determinism across machines too.

mod common;

#[test]
fn scenario_summaries_at_seed_1() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for s in common::shipped() {
            let report = rtsim::run::run(&s, 1, None);
            insta::assert_yaml_snapshot!(s.name.clone(), report.summary);
        }
    });
}
