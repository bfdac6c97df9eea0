//! The leader-election verdict table over 200 seeds of the fault-heavy
//! scenario, kept as an insta snapshot: a change in any figure is a change in
//! what the harness recommends, to be reviewed.

mod common;

#[test]
fn leader_verdict_table_over_200_seeds() {
    let base = common::load("leader_chaos");
    let rows = rtsim::leader_table::build(&base, 200, rtsim::parallel::all_cores());
    assert_eq!(rows.len(), 16, "mechanism x takeover x scope x platform");
    // The recommended configuration (see README) must hold every oracle on every seed.
    let recommended: Vec<_> = rows
        .iter()
        .filter(|r| {
            r.mechanism == rtsim::client::leader::Mechanism::WebLocks && r.takeover_ms == 18_000
        })
        .collect();
    assert_eq!(
        recommended.len(),
        4,
        "web-locks 18 s: two scopes, two platforms"
    );
    for r in recommended {
        assert_eq!(r.passing_runs, r.runs, "{r:?}");
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!("leader_verdict_table", rtsim::leader_table::render(&rows))
    });
}
