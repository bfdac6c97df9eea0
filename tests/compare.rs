//! `rtsim compare`: v1 and v2 on one workload. v2's stream is one long-lived
//! connection where v1 re-polls after every answer, so it must make far
//! fewer requests per session; a stream per tab costs a connection per tab,
//! one behind the leader a connection per session, as v1's poll; all three
//! must keep every oracle on the seeds' shape.

mod common;

use rtsim::scenario::Scenario;

#[test]
fn v2_makes_fewer_requests_than_v1_and_all_hold_on_the_seeds_shape() {
    let path = common::sims_dir().join("compare/seed_shape.toml");
    let scenario = Scenario::load(&path).expect("the shipped comparison scenario");
    let c = &rtsim::compare::build(&[scenario], 2, 2)[0];
    let [v1, per_tab, behind] = &c.columns;
    assert_eq!(
        (v1.passing_runs, per_tab.passing_runs, behind.passing_runs),
        (2, 2, 2)
    );
    for v2 in [per_tab, behind] {
        assert!(
            v2.requests_per_session_min * 5.0 < v1.requests_per_session_min,
            "v2 {} vs v1 {} requests per session per minute",
            v2.requests_per_session_min,
            v1.requests_per_session_min
        );
    }
    // v1 and v2 behind the leader: one transport per session; v2 per tab:
    // a stream per visible tab.
    for one in [v1, behind] {
        assert!((0.9..=1.1).contains(&one.open_connections_per_session));
    }
    assert!(per_tab.open_connections_per_session > 4.0);
    // All hold events in memory (v1 per org, v2 per org and service); only
    // v2 has send queues.
    assert!(
        c.columns.iter().all(|col| col.peak_buffered > 0),
        "{:?}",
        c.columns
            .iter()
            .map(|col| col.peak_buffered)
            .collect::<Vec<_>>()
    );
    assert_eq!(v1.peak_queued, 0);
}
