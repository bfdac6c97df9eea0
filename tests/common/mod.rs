//! Shared helpers for the integration tests.
#![allow(dead_code)]

use rtsim::mutant::Mutant;
use rtsim::scenario::Scenario;
use std::path::{Path, PathBuf};

pub fn sims_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sims")
}

/// Every shipped scenario, sorted by file name.
pub fn shipped() -> Vec<Scenario> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sims_dir())
        .expect("sims/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Scenario::load(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

pub fn load(name: &str) -> Scenario {
    Scenario::load(&sims_dir().join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
}

/// (mutant, the shipped scenario that catches it, the oracle that must fire)
pub const CATCHES: &[(Mutant, &str, &str)] = &[
    (Mutant::NoDedup, "partition_heal", "O1"),
    (Mutant::NoGapDetect, "server_restart", "O1"),
    (Mutant::NoPropertyFilter, "delivery_steady", "O5"),
    (Mutant::BreakerNeverOpens, "partition_heal", "O7"),
    (Mutant::EarlyExpiry, "burst_overflow", "O8"),
    (Mutant::NoIdleEvict, "idle_eviction", "O8"),
    (Mutant::LeaseNoRecheck, "leader_lease_race", "O4"),
    (Mutant::FollowerPolls, "leader_multitab", "O4"),
    (Mutant::NoCursorHandoff, "leader_crash_takeover", "O1"),
    (Mutant::NoYieldOnHigherSeq, "leader_frozen", "O4"),
    (Mutant::NoTakeover, "leader_crash_takeover", "O10"),
    (Mutant::RefreshNoMutex, "auth_expiry_multitab", "O6"),
    (Mutant::LogoutNoBroadcast, "auth_logout_broadcast", "O6"),
    (Mutant::EmptyBearer, "auth_expiry_partitioned", "O6"),
    (Mutant::NoBackoff, "auth_refresh_failing", "O6"),
    (Mutant::NoDebounce, "ui_burst_writes", "O9"),
    (
        Mutant::OptimisticDoubleInsert,
        "ui_echo_before_response",
        "O1",
    ),
    (Mutant::NoEchoTimeout, "ui_echo_lost", "O1"),
    (Mutant::ShadowApplies, "ui_shadow_mode", "O12"),
    (Mutant::TelemetryLeaksToken, "ui_telemetry_cohort", "O6"),
    (Mutant::NoDegradedPolling, "ui_realtime_outage", "O12"),
    (Mutant::QueryKeyIgnoresEntity, "ui_query_keys", "O2"),
];
