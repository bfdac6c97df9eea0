//! Mutants: small, real bugs in one machine each, switched on by name at run
//! time. A checker is trusted only once a shipped scenario catches the mutant
//! that breaks what it guards. When no mutant is on, no code path changes.
//!
//! Each mutant is one declaration in the `mutants!` list below: its name, the
//! machine it lives in, what it breaks, and the shipped scenario and oracle
//! that must catch it (`tests/mutants.rs` holds every one to that). The macro
//! derives the enum, `ALL`, and the lookups from it, so nothing is kept twice
//! and the compiler checks every match.

use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

thread_local! {
    /// The mutants whose fork the current run has reached, one flag each. A run
    /// is one thread's business under both drivers, so a thread-local will do.
    static REACHED: RefCell<Vec<bool>> = RefCell::new(vec![false; Mutant::ALL.len()]);
}

/// Whether `m` is the active mutant, asked at the exact point where the buggy
/// and the correct behaviour part. Every mutant site asks here and nowhere
/// else, and only once its branch would make a difference; so the sites a run
/// reaches are recorded even with no mutant on. A mutant whose fork a run never
/// reached would have given that run's trace unchanged, and the cross-check
/// need not run it (see `crosscheck`).
pub fn fires(active: Option<Mutant>, m: Mutant) -> bool {
    REACHED.with(|r| r.borrow_mut()[m as usize] = true);
    active == Some(m)
}

/// (De)serialise an `Option<Mutant>` as its name (`"no-dedup"`), the
/// spelling of the command line and of machine-readable results.
pub mod by_name {
    use super::Mutant;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(m: &Option<Mutant>, s: S) -> Result<S::Ok, S::Error> {
        m.map(|m| m.name()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mutant>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|name| Mutant::parse(&name).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Forget what earlier runs on this thread reached; call before a run.
pub fn reset_reached() {
    REACHED.with(|r| r.borrow_mut().fill(false));
}

/// The mutants whose fork this thread reached since the last reset.
pub fn reached() -> BTreeSet<Mutant> {
    REACHED.with(|r| {
        let r = r.borrow();
        Mutant::ALL
            .iter()
            .copied()
            .filter(|m| r[*m as usize])
            .collect()
    })
}

/// The machine a mutant breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutantMachine {
    Provider,
    ServerBuffer,
    LeaderElection,
    Auth,
    UiCache,
    Platform,
    TokenService,
    ServerRoutes,
    ServerStream,
}

impl MutantMachine {
    pub fn name(self) -> &'static str {
        match self {
            MutantMachine::Provider => "client provider",
            MutantMachine::ServerBuffer => "server buffer",
            MutantMachine::LeaderElection => "leader election",
            MutantMachine::Auth => "auth lifecycle",
            MutantMachine::UiCache => "UI cache",
            MutantMachine::Platform => "browser platform",
            MutantMachine::TokenService => "token service",
            MutantMachine::ServerRoutes => "server routes",
            MutantMachine::ServerStream => "server v2 stream",
        }
    }
}

/// One declaration per mutant; see the module doc.
macro_rules! mutants {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident {
            name: $name:literal,
            machine: $machine:ident,
            breaks: $breaks:literal,
            caught_by: ($scenario:literal, $oracle:literal),
        },
    )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Mutant {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Mutant {
            /// Every mutant, in declaration order.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$variant,)*];

            /// The name `--mutant` takes.
            pub fn name(self) -> &'static str {
                match self { $(Mutant::$variant => $name,)* }
            }

            /// The machine it breaks.
            pub fn machine(self) -> MutantMachine {
                match self { $(Mutant::$variant => MutantMachine::$machine,)* }
            }

            /// What it breaks, with the SPEC ids.
            pub fn breaks(self) -> &'static str {
                match self { $(Mutant::$variant => $breaks,)* }
            }

            /// The shipped scenario (`sims/<name>.toml`) that catches it within
            /// 20 seeds, and the oracle that fires there.
            pub fn caught_by(self) -> (&'static str, &'static str) {
                match self { $(Mutant::$variant => ($scenario, $oracle),)* }
            }
        }
    };
}

mutants! {
    /// Server: a buffer created after a restart takes the caller's cursor on trust.
    FreshBufferTrustsCursor {
        name: "fresh-buffer-trusts-cursor",
        machine: ServerBuffer,
        breaks: "restart loss (S10): events published while the server was down vanish without a floor to show it",
        caught_by: ("server_restart_quiet", "O1"),
    },
    /// Client: the dedup LRU forgets every id, so a redelivered event is applied twice.
    NoDedup {
        name: "no-dedup",
        machine: Provider,
        breaks: "dedup LRU (C2): a redelivered event is applied twice",
        caught_by: ("partition_heal", "O1"),
    },
    /// Client: sequence holes and the server's loss floor are ignored; no refetch follows a gap.
    NoGapDetect {
        name: "no-gap-detect",
        machine: Provider,
        breaks: "gap detection (C9): lost events are never refetched",
        caught_by: ("server_restart", "O1"),
    },
    /// Server: the `propertyId` filter is ignored when serving a long-poll.
    NoPropertyFilter {
        name: "no-property-filter",
        machine: ServerBuffer,
        breaks: "property filter (S6): a tab receives another property's events",
        caught_by: ("delivery_steady", "O5"),
    },
    /// Client: the circuit breaker never opens, so failures are retried at once.
    BreakerNeverOpens {
        name: "breaker-never-opens",
        machine: Provider,
        breaks: "circuit breaker (C4): failed calls are retried without the 30 s pause",
        caught_by: ("partition_heal", "O7"),
    },
    /// Server: events expire after a fifth of their TTL, uncounted and without raising the loss floor.
    EarlyExpiry {
        name: "early-expiry",
        machine: ServerBuffer,
        breaks: "event TTL (S2): unread events vanish after 5 s, uncounted",
        caught_by: ("burst_overflow", "O8"),
    },
    /// Server: the idle sweep touches an idle org instead of freeing it.
    NoIdleEvict {
        name: "no-idle-evict",
        machine: ServerBuffer,
        breaks: "idle eviction (S5): an idle org's buffer is never freed",
        caught_by: ("idle_eviction", "O8"),
    },
    /// Leader: a tab takes the lease without re-reading it after its own write.
    LeaseNoRecheck {
        name: "lease-no-recheck",
        machine: LeaderElection,
        breaks: "lease claim (L2, B1): two tabs racing for an empty lease both lead",
        caught_by: ("leader_lease_race", "O4"),
    },
    /// Leader: followers poll the backend as well as the leader.
    FollowerPolls {
        name: "follower-polls",
        machine: LeaderElection,
        breaks: "one transport per scope (L5): followers call the backend too",
        caught_by: ("leader_multitab", "O4"),
    },
    /// Leader: a new leader ignores the cursor the old one shared and starts from now, trusting its page as current.
    NoCursorHandoff {
        name: "no-cursor-handoff",
        machine: LeaderElection,
        breaks: "cursor handoff (L5): a new leader skips what happened during takeover",
        caught_by: ("leader_crash_takeover", "O1"),
    },
    /// Leader: a leader that hears a higher heartbeat sequence keeps leading.
    NoYieldOnHigherSeq {
        name: "no-yield-on-higher-seq",
        machine: LeaderElection,
        breaks: "split-brain resolution (L4): an old leader never steps down",
        caught_by: ("leader_frozen", "O4"),
    },
    /// Leader: a follower never takes over from a silent leader.
    NoTakeover {
        name: "no-takeover",
        machine: LeaderElection,
        breaks: "takeover (L3, O10): a crashed leader is never replaced",
        caught_by: ("leader_crash_takeover", "O10"),
    },
    /// Auth: every tab that needs a new token refreshes it on its own, without the mutex.
    RefreshNoMutex {
        name: "refresh-no-mutex",
        machine: Auth,
        breaks: "refresh mutex (A1): tabs whose token runs out together all refresh it",
        caught_by: ("auth_expiry_multitab", "O6"),
    },
    /// Auth: a logout is not announced to the other tabs (no `auth-control`, no `auth-logout`).
    LogoutNoBroadcast {
        name: "logout-no-broadcast",
        machine: Auth,
        breaks: "logout broadcast (A4): the other tabs keep polling after a logout",
        caught_by: ("auth_logout_broadcast", "O6"),
    },
    /// Auth: a tab whose token was refused keeps calling, with an empty bearer.
    EmptyBearer {
        name: "empty-bearer",
        machine: Auth,
        breaks: "C7: a refused tab calls with `Authorization: Bearer ` and no token",
        caught_by: ("auth_expiry_partitioned", "O6"),
    },
    /// Provider: a refreshed token restarts the stream without giving up the
    /// poll parked with the old one.
    ResubscribeOnRefresh {
        name: "resubscribe-on-refresh",
        machine: Provider,
        breaks: "one poll at a time (C1, O7): a new token opens a second poll beside the parked one",
        caught_by: ("auth_expiry_lease_mutex", "O7"),
    },
    /// Provider: a tab cut off longer than a minute trusts its cache.
    NoHardRecover {
        name: "no-hard-recover",
        machine: Provider,
        breaks: "hardRecover (C8): a long-silent tab does not refetch its lists",
        caught_by: ("idle_eviction", "O10"),
    },
    /// Leader election: a leader closing its tab leaves its lease in storage.
    CloseKeepsLease {
        name: "close-keeps-lease",
        machine: LeaderElection,
        breaks: "the clean handoff (L3, L5): followers wait out the lease instead of taking over at once",
        caught_by: ("leader_crash_takeover", "O10"),
    },
    /// Auth: once up, the expired banner stays until the page reloads.
    BannerSticks {
        name: "banner-sticks",
        machine: Auth,
        breaks: "the expired banner (A3, A5): it stays up after the session has a new token",
        caught_by: ("auth_refresh_failing", "O6"),
    },
    /// Auth: a failed refresh is retried every 2 s, without the doubling backoff.
    NoBackoff {
        name: "no-backoff",
        machine: Auth,
        breaks: "refresh backoff (A3): a failing refresh is retried every 2 s",
        caught_by: ("auth_refresh_failing", "O6"),
    },
    /// UI: every applied batch refetches the aggregates at once, without the throttle.
    NoDebounce {
        name: "no-debounce",
        machine: UiCache,
        breaks: "derived debounce (U3, O9): aggregates refetched on every batch",
        caught_by: ("ui_burst_writes", "O9"),
    },
    /// UI: the echo of an optimistic write adds the committed row beside the optimistic one.
    OptimisticDoubleInsert {
        name: "optimistic-double-insert",
        machine: UiCache,
        breaks: "optimistic rows (U2, O1): the echo shows the row twice until a refetch",
        caught_by: ("ui_echo_before_response", "O1"),
    },
    /// UI: a write whose echo never comes is never followed by a refetch.
    NoEchoTimeout {
        name: "no-echo-timeout",
        machine: UiCache,
        breaks: "echo timeout (U2, O1): a write whose echo is lost stays optimistic",
        caught_by: ("ui_echo_lost", "O1"),
    },
    /// Flags: shadow mode applies the events to the page after all.
    ShadowApplies {
        name: "shadow-applies",
        machine: Provider,
        breaks: "shadow mode (C13, O12): the page applies what it should only log",
        caught_by: ("ui_shadow_mode", "O12"),
    },
    /// Telemetry: the sampled event carries the tab's bearer token.
    TelemetryLeaksToken {
        name: "telemetry-leaks-token",
        machine: Provider,
        breaks: "telemetry (C14, O6): a sampled event carries the token",
        caught_by: ("ui_telemetry_cohort", "O6"),
    },
    /// UI: a page without a live stream never polls its list (C11).
    NoDegradedPolling {
        name: "no-degraded-polling",
        machine: Provider,
        breaks: "degraded mode (C11, O12): a page without a live stream goes stale",
        caught_by: ("ui_realtime_outage", "O12"),
    },
    /// Provider: the poller never tells the scope that its stream went down or came back.
    HealthNotShared {
        name: "health-not-shared",
        machine: Provider,
        breaks: "health broadcast (C12, C11): followers never learn the stream is down and never poll their lists",
        caught_by: ("ui_realtime_outage", "O12"),
    },
    /// UI: focus refetches only the aggregates, never a stale list.
    FocusNoRefetch {
        name: "focus-no-refetch",
        machine: UiCache,
        breaks: "refetch on focus (U4): a stale list stays as it is when the window gains focus",
        caught_by: ("ui_reconcile_quiet", "O10"),
    },
    /// Provider: a hidden tab, or one polling alone in fallback, re-polls at once.
    UnpacedBackgroundPolls {
        name: "unpaced-background-polls",
        machine: Provider,
        breaks: "background pacing (C6): a hidden or fallback tab resubscribes the moment an answer comes",
        caught_by: ("leader_broadcast_off", "O7"),
    },
    /// UI: an event patches every list query of the org, not only its entity's (U1).
    QueryKeyIgnoresEntity {
        name: "query-key-ignores-entity",
        machine: UiCache,
        breaks: "query keys (U1, O2): an expense or task event lands in every list of the org",
        caught_by: ("ui_query_keys", "O2"),
    },
    /// Server: a parked poll's deadline is read as four times the long-poll timeout.
    PollNeverTimesOut {
        name: "poll-never-times-out",
        machine: ServerBuffer,
        breaks: "long-poll timeout (S3): a quiet org's parked poll is left to the tab's own timeout",
        caught_by: ("idle_eviction", "O8"),
    },
    /// Server: a poll past the waiter cap is neither parked nor answered.
    WaiterCapDrops {
        name: "waiter-cap-drops",
        machine: ServerBuffer,
        breaks: "safe resolution (S4): a poll past the waiter cap is dropped silently",
        caught_by: ("waiter_cap", "O8"),
    },
    /// Server: a refreshed access token lives a tenth of its TTL (seconds read as tens of seconds).
    RefreshShortTtl {
        name: "refresh-short-ttl",
        machine: TokenService,
        breaks: "token service (S9): a refreshed token expires long before its TTL",
        caught_by: ("auth_expiry_multitab", "O6"),
    },
    /// Client: a batch is applied in the order it arrived, not by sequence.
    BatchUnsorted {
        name: "batch-unsorted",
        machine: Provider,
        breaks: "batch order (C3): an event the pub/sub delivered late is skipped as older than the one before it",
        caught_by: ("ui_burst_writes", "O3"),
    },
    /// Client: a fast-empty answer is followed by the next poll at once.
    NoFastEmptyBackoff {
        name: "no-fast-empty-backoff",
        machine: Provider,
        breaks: "RTT-aware backoff (C5): a tab past the waiter cap polls in a hot loop",
        caught_by: ("waiter_cap", "O7"),
    },
    /// UI: aggregates are refetched only when an event invalidates them, never on the reconcile timer.
    NoReconciliation {
        name: "no-reconciliation",
        machine: UiCache,
        breaks: "reconciliation (C10): an aggregate nothing invalidates is never refetched",
        caught_by: ("ui_reconcile_quiet", "O9"),
    },
    /// Auth: a tab ignores the token another tab announces on `auth-refresh`.
    RefreshSuccessUnshared {
        name: "refresh-success-unshared",
        machine: Auth,
        breaks: "auth-refresh channel (A2): waiting tabs refresh again instead of taking the shared token",
        caught_by: ("auth_expiry_multitab", "O6"),
    },
    /// Auth: the offline banner stays up after the transport reaches the server again.
    OfflineBannerSticks {
        name: "offline-banner-sticks",
        machine: Auth,
        breaks: "offline banner (A5): it stays up after the browser is back online",
        caught_by: ("auth_expiry_partitioned", "O6"),
    },
    /// Leader election: without a BroadcastChannel tabs elect a leader anyway, and followers hear nothing.
    NoSoloFallback {
        name: "no-solo-fallback",
        machine: LeaderElection,
        breaks: "the solo fallback (L6): without a BroadcastChannel followers wait for a leader that cannot reach them",
        caught_by: ("auth_logout_no_broadcast_channel", "O2"),
    },
    /// Platform: a localStorage write never reaches the other tabs' views.
    StorageWriteLost {
        name: "storage-write-lost",
        machine: Platform,
        breaks: "localStorage (B1): other tabs never see a write, so each tab reads its own lease",
        caught_by: ("leader_lease_race", "O4"),
    },
    /// Platform: the BroadcastChannel reports itself open but delivers nothing.
    BroadcastLost {
        name: "broadcast-lost",
        machine: Platform,
        breaks: "BroadcastChannel delivery (B2): an open channel whose messages never arrive starves the followers",
        caught_by: ("leader_multitab", "O2"),
    },
    /// Platform: a crashed tab's Web Locks are never released.
    CrashKeepsLocks {
        name: "crash-keeps-locks",
        machine: Platform,
        breaks: "Web Locks release (B3): a crashed leader's lock blocks every takeover",
        caught_by: ("leader_locks_crash", "O10"),
    },
    /// Platform: freezing a tab does nothing; it runs on.
    FreezeIgnored {
        name: "freeze-ignored",
        machine: Platform,
        breaks: "frozen tabs (B4): a frozen tab keeps polling and heartbeating",
        caught_by: ("leader_frozen", "O7"),
    },
    /// Platform: a frozen page's channel handler sends its requests at once.
    FrozenFetchesSent {
        name: "frozen-fetches-sent",
        machine: Platform,
        breaks: "frozen tabs (B4, measured): the requests a frozen page's onmessage makes go out while it is frozen, not at its resume",
        caught_by: ("leader_frozen", "O7"),
    },
    /// v2 stream: a reconnect's cursors are trusted whatever epoch they are from.
    EpochIgnored {
        name: "epoch-ignored",
        machine: ServerStream,
        breaks: "replay (S15): after a restart, a cursor of the old epoch is spliced onto the new one's sequences",
        caught_by: ("v2_server_restart", "O13"),
    },
    /// v2 stream: a reconnect is replayed the whole buffer, not what it missed.
    ReplayFromStart {
        name: "replay-from-start",
        machine: ServerStream,
        breaks: "replay (S15): a reconnect gets every buffered event of a service, from the buffer's start, not from its cursor",
        caught_by: ("v2_replay_forced_disconnect", "O13"),
    },
    /// Client v2: the connect guard lets a second stream open while one connects.
    ConnectWhileConnecting {
        name: "connect-while-connecting",
        machine: Provider,
        breaks: "single-flight connect (C15): the guard asks whether the socket is open, so a tab whose stream is still connecting opens another",
        caught_by: ("v2_visibility_reconnect", "O4"),
    },
    /// Client v2: the stream, forced on, ignores the flags that switch an org off.
    StreamIgnoresKillSwitch {
        name: "stream-ignores-kill-switch",
        machine: Provider,
        breaks: "flags (C13): the v2 provider, forced on in production, opens its stream for an org the kill list switched off",
        caught_by: ("v2_kill_switch", "O12"),
    },
    /// Client v2: a service quarantine shed is counted and never reloaded.
    SuppressedNotReloaded {
        name: "suppressed-not-reloaded",
        machine: Provider,
        breaks: "quarantine's other side (S13, C15): a tab told a service was shed counts it as suppressed and keeps its stale copy",
        caught_by: ("v2_quarantine_tiers", "O1"),
    },
    /// Client v2: a route or filter change reopens the stream instead of changing it in place.
    UpdateServicesReconnects {
        name: "update-services-reconnects",
        machine: Provider,
        breaks: "in-place subscriptions (C15, S14): a route or property-filter change closes the stream and opens a new one with the new services",
        caught_by: ("v2_route_changes", "O14"),
    },
    /// Client v2 behind the leader: the scope's stream carries only the leader's own page.
    SharedStreamLeadersPage {
        name: "shared-stream-leaders-page",
        machine: Provider,
        breaks: "v2 behind the leader (C15, L5): the leader opens the scope's stream with its own page's services and filter, so a follower showing another page misses its events (the scope's stream must carry every service)",
        caught_by: ("v2_leader", "O14"),
    },
    /// Client v2 behind the leader: a follower applies every event the leader shares.
    SharedFramesUnfiltered {
        name: "shared-frames-unfiltered",
        machine: Provider,
        breaks: "v2 behind the leader (C15): a follower patches in every event of the scope's stream, not only its own page's services and property",
        caught_by: ("v2_leader", "O14"),
    },
    /// v2 stream: `update-services` changes every connection of the user (the seed's `updateUserConnections`).
    UpdateServicesWholeUser {
        name: "update-services-whole-user",
        machine: ServerStream,
        breaks: "in-place subscriptions (S14): one tab's route change retargets the streams of every tab of the same user",
        caught_by: ("v2_route_changes", "O14"),
    },
    /// v2 stream: quarantine sheds every tier, not only the low one.
    QuarantineShedsCritical {
        name: "quarantine-sheds-critical",
        machine: ServerStream,
        breaks: "quarantine (S13): a quarantined connection is shed finance and tasks batches too, not only analytics and dashboard",
        caught_by: ("v2_slow_consumer", "O8"),
    },
    /// v2 stream: one slow connection quarantines its whole org.
    QuarantineWholeOrg {
        name: "quarantine-whole-org",
        machine: ServerStream,
        breaks: "quarantine (S13): a slow connection's quarantine is applied to every connection of its org",
        caught_by: ("v2_slow_consumer", "O8"),
    },
    /// v2 stream: overflows are counted and never quarantine.
    NoQuarantine {
        name: "no-quarantine",
        machine: ServerStream,
        breaks: "quarantine (S13): a connection that overflows its send queue again and again is never quarantined",
        caught_by: ("v2_slow_consumer", "O8"),
    },
    /// v2 stream: the batch window widens and never narrows back.
    WindowNeverNarrows {
        name: "window-never-narrows",
        machine: ServerStream,
        breaks: "adaptive batching (S12): once a spike widened a service's window, quiet batches leave it wide",
        caught_by: ("v2_spike_window", "O8"),
    },
    /// v2 stream: the batch window stays at its floor however full batches are.
    WindowNeverWidens {
        name: "window-never-widens",
        machine: ServerStream,
        breaks: "adaptive batching (S12): a batch at its maximum size leaves the window as narrow as it was",
        caught_by: ("v2_spike_window", "O8"),
    },
    /// Server: `delivered` counts poll answers, not the events they carry.
    MetricsCountAnswers {
        name: "metrics-count-answers",
        machine: ServerBuffer,
        breaks: "metrics (S7): delivered counts answers, so empty long-polls inflate it and batches shrink it",
        caught_by: ("server_metrics", "O8"),
    },
    /// v2 stream: a resubscription to another property filter keeps filtering by the old one.
    ResubscribeKeepsFilter {
        name: "resubscribe-keeps-filter",
        machine: ServerStream,
        breaks: "in-place subscriptions (S14, S6): update-services answers with the new property filter while the connection goes on filtering by the old one",
        caught_by: ("v2_property_filter", "O5"),
    },
    /// v2 stream: the metrics report the window's floor, not the window in force.
    MetricsWindowStale {
        name: "metrics-window-stale",
        machine: ServerStream,
        breaks: "metrics (S7, S12): currentBatchWindowMsByService reports the configured floor, whatever a spike widened the window to",
        caught_by: ("v2_server_metrics", "O8"),
    },
    /// Server: the dev switch of the legacy path is left on in production.
    LegacyPathServed {
        name: "legacy-path-served",
        machine: ServerRoutes,
        breaks: "legacy path (S8): `/finance/events/subscribe` answers 200 instead of 410 Gone",
        caught_by: ("server_metrics", "O8"),
    },
    /// Leader election: the scope key carries a per-tab id (sessionStorage), so each tab is its own scope.
    ScopePerTab {
        name: "scope-per-tab",
        machine: LeaderElection,
        breaks: "election scope (L1): each tab elects itself, so one session runs a stream per tab",
        caught_by: ("leader_scope_browser_org", "O4"),
    },
    /// Leader election: a leader whose tab goes hidden hands its lease or lock to another tab.
    ResignWhenHidden {
        name: "resign-when-hidden",
        machine: LeaderElection,
        breaks: "leader stability (L7): every switch away from the leader's tab moves the leadership, a handoff each time",
        caught_by: ("leader_hidden", "O4"),
    },
    /// Leader election: a page entering the back-forward cache keeps its lease or lock.
    BfcacheKeepsLeadership {
        name: "bfcache-keeps-leadership",
        machine: LeaderElection,
        breaks: "leaving a page (B4): a leader cached in the back-forward cache keeps its Web Lock, so no other tab leads until it comes back",
        caught_by: ("leader_locks_bfcache", "O11"),
    },
}

impl Mutant {
    pub fn parse(name: &str) -> Result<Mutant, String> {
        Mutant::ALL
            .iter()
            .copied()
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
