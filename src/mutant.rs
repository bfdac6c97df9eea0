//! Mutants: small, real bugs in one machine each, switched on by name at run
//! time. A checker is trusted only once a shipped scenario catches the mutant
//! that breaks what it guards. When no mutant is on, no code path changes.

use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;

thread_local! {
    /// The mutants whose fork the current run has reached, one bit each. A run
    /// is one thread's business under both drivers, so a thread-local will do.
    static REACHED: Cell<u64> = const { Cell::new(0) };
}

/// Whether `m` is the active mutant, asked at the exact point where the buggy
/// and the correct behaviour part. Every mutant site asks here and nowhere
/// else, and only once its branch would make a difference; so the sites a run
/// reaches are recorded even with no mutant on. A mutant whose fork a run never
/// reached would have given that run's trace unchanged, and the cross-check
/// need not run it (see `crosscheck`).
pub fn fires(active: Option<Mutant>, m: Mutant) -> bool {
    REACHED.with(|r| r.set(r.get() | 1 << m as u64));
    active == Some(m)
}

/// Forget what earlier runs on this thread reached; call before a run.
pub fn reset_reached() {
    REACHED.with(|r| r.set(0));
}

/// The mutants whose fork this thread reached since the last reset.
pub fn reached() -> BTreeSet<Mutant> {
    let bits = REACHED.with(|r| r.get());
    Mutant::ALL
        .into_iter()
        .filter(|m| bits & (1 << *m as u64) != 0)
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Mutant {
    /// Client: the dedup LRU forgets every id, so a redelivered event is applied twice.
    NoDedup,
    /// Client: sequence holes and the server's loss floor are ignored; no refetch follows a gap.
    NoGapDetect,
    /// Server: the `propertyId` filter is ignored when serving a long-poll.
    NoPropertyFilter,
    /// Client: the circuit breaker never opens, so failures are retried at once.
    BreakerNeverOpens,
    /// Server: events expire after a fifth of their TTL, uncounted and without raising the loss floor.
    EarlyExpiry,
    /// Server: the idle sweep touches an idle org instead of freeing it.
    NoIdleEvict,
    /// Leader: a tab takes the lease without re-reading it after its own write.
    LeaseNoRecheck,
    /// Leader: followers poll the backend as well as the leader.
    FollowerPolls,
    /// Leader: a new leader ignores the cursor the old one shared and starts from now.
    NoCursorHandoff,
    /// Leader: a leader that hears a higher heartbeat sequence keeps leading.
    NoYieldOnHigherSeq,
    /// Leader: a follower never takes over from a silent leader.
    NoTakeover,
    /// Auth: every tab that needs a new token refreshes it on its own, without the mutex.
    RefreshNoMutex,
    /// Auth: a logout is not announced to the other tabs (no `auth-control`, no `auth-logout`).
    LogoutNoBroadcast,
    /// Auth: a tab whose token was refused keeps calling, with an empty bearer.
    EmptyBearer,
    /// Auth: a failed refresh is retried every 2 s, without the doubling backoff.
    NoBackoff,
    /// UI: every applied batch refetches the aggregates at once, without the throttle.
    NoDebounce,
    /// UI: the echo of an optimistic write adds the committed row beside the optimistic one.
    OptimisticDoubleInsert,
    /// UI: a write whose echo never comes is never followed by a refetch.
    NoEchoTimeout,
    /// Flags: shadow mode applies the events to the page after all.
    ShadowApplies,
    /// Telemetry: the sampled event carries the tab's bearer token.
    TelemetryLeaksToken,
    /// UI: a page without a live stream never polls its list (C11).
    NoDegradedPolling,
    /// UI: an event patches every list query of the org, not only its entity's (U1).
    QueryKeyIgnoresEntity,
}

impl Mutant {
    pub const ALL: [Mutant; 22] = [
        Mutant::NoDedup,
        Mutant::NoGapDetect,
        Mutant::NoPropertyFilter,
        Mutant::BreakerNeverOpens,
        Mutant::EarlyExpiry,
        Mutant::NoIdleEvict,
        Mutant::LeaseNoRecheck,
        Mutant::FollowerPolls,
        Mutant::NoCursorHandoff,
        Mutant::NoYieldOnHigherSeq,
        Mutant::NoTakeover,
        Mutant::RefreshNoMutex,
        Mutant::LogoutNoBroadcast,
        Mutant::EmptyBearer,
        Mutant::NoBackoff,
        Mutant::NoDebounce,
        Mutant::OptimisticDoubleInsert,
        Mutant::NoEchoTimeout,
        Mutant::ShadowApplies,
        Mutant::TelemetryLeaksToken,
        Mutant::NoDegradedPolling,
        Mutant::QueryKeyIgnoresEntity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutant::NoDedup => "no-dedup",
            Mutant::NoGapDetect => "no-gap-detect",
            Mutant::NoPropertyFilter => "no-property-filter",
            Mutant::BreakerNeverOpens => "breaker-never-opens",
            Mutant::EarlyExpiry => "early-expiry",
            Mutant::NoIdleEvict => "no-idle-evict",
            Mutant::LeaseNoRecheck => "lease-no-recheck",
            Mutant::FollowerPolls => "follower-polls",
            Mutant::NoCursorHandoff => "no-cursor-handoff",
            Mutant::NoYieldOnHigherSeq => "no-yield-on-higher-seq",
            Mutant::NoTakeover => "no-takeover",
            Mutant::RefreshNoMutex => "refresh-no-mutex",
            Mutant::LogoutNoBroadcast => "logout-no-broadcast",
            Mutant::EmptyBearer => "empty-bearer",
            Mutant::NoBackoff => "no-backoff",
            Mutant::NoDebounce => "no-debounce",
            Mutant::OptimisticDoubleInsert => "optimistic-double-insert",
            Mutant::NoEchoTimeout => "no-echo-timeout",
            Mutant::ShadowApplies => "shadow-applies",
            Mutant::TelemetryLeaksToken => "telemetry-leaks-token",
            Mutant::NoDegradedPolling => "no-degraded-polling",
            Mutant::QueryKeyIgnoresEntity => "query-key-ignores-entity",
        }
    }

    pub fn machine(self) -> &'static str {
        match self {
            Mutant::NoDedup | Mutant::NoGapDetect | Mutant::BreakerNeverOpens => "client provider",
            Mutant::NoPropertyFilter | Mutant::EarlyExpiry | Mutant::NoIdleEvict => "server buffer",
            Mutant::LeaseNoRecheck
            | Mutant::FollowerPolls
            | Mutant::NoCursorHandoff
            | Mutant::NoYieldOnHigherSeq
            | Mutant::NoTakeover => "leader election",
            Mutant::RefreshNoMutex
            | Mutant::LogoutNoBroadcast
            | Mutant::EmptyBearer
            | Mutant::NoBackoff => "auth lifecycle",
            Mutant::NoDebounce
            | Mutant::OptimisticDoubleInsert
            | Mutant::NoEchoTimeout
            | Mutant::QueryKeyIgnoresEntity => "UI cache",
            Mutant::ShadowApplies | Mutant::TelemetryLeaksToken | Mutant::NoDegradedPolling => {
                "client provider"
            }
        }
    }

    pub fn breaks(self) -> &'static str {
        match self {
            Mutant::NoDedup => "dedup LRU (C2): a redelivered event is applied twice",
            Mutant::NoGapDetect => "gap detection (C9): lost events are never refetched",
            Mutant::NoPropertyFilter => {
                "property filter (S6): a tab receives another property's events"
            }
            Mutant::BreakerNeverOpens => {
                "circuit breaker (C4): failed calls are retried without the 30 s pause"
            }
            Mutant::EarlyExpiry => "event TTL (S2): unread events vanish after 5 s, uncounted",
            Mutant::NoIdleEvict => "idle eviction (S5): an idle org's buffer is never freed",
            Mutant::LeaseNoRecheck => {
                "lease claim (L2, B1): two tabs racing for an empty lease both lead"
            }
            Mutant::FollowerPolls => "one transport per scope (L5): followers call the backend too",
            Mutant::NoCursorHandoff => {
                "cursor handoff (L5): a new leader skips what happened during takeover"
            }
            Mutant::NoYieldOnHigherSeq => {
                "split-brain resolution (L4): an old leader never steps down"
            }
            Mutant::NoTakeover => "takeover (L3, O10): a crashed leader is never replaced",
            Mutant::RefreshNoMutex => {
                "refresh mutex (A1): tabs whose token runs out together all refresh it"
            }
            Mutant::LogoutNoBroadcast => {
                "logout broadcast (A4): the other tabs keep polling after a logout"
            }
            Mutant::EmptyBearer => {
                "C7: a refused tab calls with `Authorization: Bearer ` and no token"
            }
            Mutant::NoBackoff => "refresh backoff (A3): a failing refresh is retried every 2 s",
            Mutant::NoDebounce => "derived debounce (U3, O9): aggregates refetched on every batch",
            Mutant::OptimisticDoubleInsert => {
                "optimistic rows (U2, O1): the echo shows the row twice until a refetch"
            }
            Mutant::NoEchoTimeout => {
                "echo timeout (U2, O1): a write whose echo is lost stays optimistic"
            }
            Mutant::ShadowApplies => {
                "shadow mode (C13, O12): the page applies what it should only log"
            }
            Mutant::TelemetryLeaksToken => "telemetry (C14, O6): a sampled event carries the token",
            Mutant::NoDegradedPolling => {
                "degraded mode (C11, O12): a page without a live stream goes stale"
            }
            Mutant::QueryKeyIgnoresEntity => {
                "query keys (U1, O2): an expense or task event lands in every list of the org"
            }
        }
    }

    pub fn parse(name: &str) -> Result<Mutant, String> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mutant {name:?}; known: {}", names.join(", "))
            })
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
