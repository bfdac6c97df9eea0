//! `rtsim compare`: v1 and v2 on one workload. v2's stream is one long-lived
//! connection per tab where v1 re-polls after every answer, so it must make
//! far fewer requests per session, at the cost of a connection per tab, and
//! both must keep every oracle on the seeds' shape.

mod common;

use rtsim::scenario::Scenario;

#[test]
fn v2_makes_fewer_requests_than_v1_and_both_hold_on_the_seeds_shape() {
    let path = common::sims_dir().join("compare/seed_shape.toml");
    let scenario = Scenario::load(&path).expect("the shipped comparison scenario");
    let c = &rtsim::compare::build(&[scenario], 2, 2)[0];
    assert_eq!((c.v1.passing_runs, c.v2.passing_runs), (2, 2));
    assert!(
        c.v2.requests_per_session_min * 5.0 < c.v1.requests_per_session_min,
        "v2 {} vs v1 {} requests per session per minute",
        c.v2.requests_per_session_min,
        c.v1.requests_per_session_min
    );
    // v1: one leader's poll per session; v2: a stream per visible tab.
    assert!((0.9..=1.1).contains(&c.v1.open_connections_per_session));
    assert!(c.v2.open_connections_per_session > 4.0);
    // Both hold events in memory (v1 per org, v2 per org and service); only
    // v2 has send queues.
    assert!(
        c.v1.peak_buffered > 0 && c.v2.peak_buffered > 0,
        "{} {}",
        c.v1.peak_buffered,
        c.v2.peak_buffered
    );
    assert_eq!(c.v1.peak_queued, 0);
}
