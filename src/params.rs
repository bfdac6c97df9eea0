//! Every tunable of a run, declared once: its name, its type, the seed
//! documents' default, its valid range, its doc line and the config field it
//! goes to. Validation, error messages, `rtsim params` (README's list) and the
//! defaults of a run all come from the one `params!` table below.
//!
//! To add a parameter: add its field to the machine's config struct, where
//! its behaviour reads it, and one line here.

use crate::browser::platform::PlatformConfig;
use crate::browser::profile::PlatformProfile;
use crate::client::leader::{Fallback, Mechanism, Scope};
use crate::client::{ProviderConfig, Transport};
use crate::event::OrgId;
use crate::query::{AggregateKind, ListKind};
use crate::server::buffer::BufferConfig;
use crate::server::pubsub::PubSubConfig;
use crate::server::stream::StreamConfig;
use crate::server::tokens::TokenConfig;

/// The checkers' bounds: plain data that `check` reads.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CheckConfig {
    /// O7: at most this many requests from one tab in any 60 s window.
    pub max_requests_per_tab_per_min: usize,
    /// O4: the longest a split brain (two leaders, or two streams, in one scope) may last.
    pub split_brain_bound_ms: u64,
    /// O10: after the heal, every scope with live tabs has a leader within this long.
    pub leader_bound_ms: u64,
    /// O6: every tab of a session is silent this long after its logout (A4).
    pub logout_silence_bound_ms: u64,
    /// O9: a tab refetches its aggregates at most once per this long.
    pub derived_min_gap_ms: u64,
    /// O11: the event-to-UI latency p99 stays under this on a healthy network.
    pub ui_latency_p99_bound_ms: u64,
    /// O1 (U2): an optimistic row is settled within this long (the echo
    /// timeout plus one refetch) while the tab's calls go through.
    pub optimistic_resolve_bound_ms: u64,
}

/// Network model shared by the drivers.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NetConfig {
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
}

/// Every tunable of a run. `SimConfig::default()` holds the table's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub buffer: BufferConfig,
    pub pubsub: PubSubConfig,
    pub tokens: TokenConfig,
    /// The v2 stream's server side (deployed where `transport = "stream"`).
    pub stream: StreamConfig,
    pub provider: ProviderConfig,
    pub platform: PlatformConfig,
    pub check: CheckConfig,
    pub net: NetConfig,
    /// turmoil's tick; the express driver has none.
    pub tick_ms: u64,
    pub login_timeout_ms: u64,
    pub login_retry_ms: u64,
    /// Browsers with an odd index filter to one property (S6), the others see the whole org.
    pub filter_odd_browsers: bool,
    /// turmoil only: run the browsers inside this many crowd hosts (0: a host per browser).
    pub crowd_hosts: u64,
    /// The `mutate_slow` fault answers writes this late.
    pub mutate_slow_ms: u64,
    /// S7, S8: org 0's browser 0 runs the ops probe this often (0: no probe).
    pub ops_probe_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        let mut c = SimConfig {
            buffer: BufferConfig::default(),
            pubsub: PubSubConfig::default(),
            tokens: TokenConfig::default(),
            stream: StreamConfig::default(),
            provider: ProviderConfig::default(),
            platform: PlatformConfig::default(),
            check: CheckConfig::default(),
            net: NetConfig::default(),
            tick_ms: 0,
            login_timeout_ms: 0,
            login_retry_ms: 0,
            filter_odd_browsers: false,
            crowd_hosts: 0,
            mutate_slow_ms: 0,
            ops_probe_ms: 0,
        };
        for p in PARAMS {
            (p.reset)(&mut c);
        }
        c
    }
}

/// A value as a scenario file gives it.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    Int(u64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A type a parameter can have: how it reads a value, prints itself, and
/// what number its range is checked on.
pub trait ParamType: Sized {
    fn from_value(v: &ParamValue) -> Result<Self, String>;
    fn show(&self) -> String;
    fn number(&self) -> Option<f64> {
        None
    }
}

fn int(v: &ParamValue) -> Result<u64, String> {
    match v {
        ParamValue::Int(i) => Ok(*i),
        _ => Err("expected a non-negative integer".to_string()),
    }
}

macro_rules! integer_param {
    ($($t:ty),*) => {$(
        impl ParamType for $t {
            fn from_value(v: &ParamValue) -> Result<Self, String> {
                <$t>::try_from(int(v)?).map_err(|_| "is too large".to_string())
            }
            fn show(&self) -> String {
                self.to_string()
            }
            fn number(&self) -> Option<f64> {
                Some(*self as f64)
            }
        }
    )*};
}
integer_param!(u64, usize, u32);

impl ParamType for f64 {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        match v {
            ParamValue::Float(f) if f.is_finite() => Ok(*f),
            ParamValue::Int(i) => Ok(*i as f64),
            _ => Err("expected a number".to_string()),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
    fn number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl ParamType for bool {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        match v {
            ParamValue::Bool(b) => Ok(*b),
            _ => Err("expected true or false".to_string()),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// An enum parameter spelled as one of a few names.
macro_rules! choice_param {
    ($t:ty { $($name:literal => $value:expr),* $(,)? }) => {
        impl ParamType for $t {
            fn from_value(v: &ParamValue) -> Result<Self, String> {
                match v {
                    $(ParamValue::Str(s) if s == $name => Ok($value),)*
                    _ => Err(format!("expected {}", [$(format!("{:?}", $name)),*].join(" or "))),
                }
            }
            fn show(&self) -> String {
                $(if *self == $value { return format!("{:?}", $name); })*
                unreachable!("every value has a name")
            }
        }
    };
}
choice_param!(Mechanism { "lease" => Mechanism::Lease, "web-locks" => Mechanism::WebLocks });
choice_param!(Scope { "session" => Scope::Session, "browser-org" => Scope::BrowserOrg });
choice_param!(Transport { "long-poll" => Transport::LongPoll, "stream" => Transport::Stream });
choice_param!(Fallback { "solo" => Fallback::Solo, "mailbox" => Fallback::Mailbox });

/// A platform profile by name ("idealised", "chromium") or file.
impl ParamType for PlatformProfile {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        match v {
            ParamValue::Str(s) => PlatformProfile::named(s),
            _ => Err("expected \"idealised\", \"chromium\" or a profile file".to_string()),
        }
    }
    fn show(&self) -> String {
        format!("{:?}", self.name())
    }
}

/// A comma list of names, like `"revenues,tasks"`, each parsed by `parse`; no repeats.
fn comma_list<T: PartialEq>(
    v: &ParamValue,
    example: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let ParamValue::Str(s) = v else {
        return Err(format!("expected a comma list, like \"{example}\""));
    };
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let item = parse(name)?;
        if out.contains(&item) {
            return Err(format!("{name:?} is named twice"));
        }
        out.push(item);
    }
    Ok(out)
}

impl ParamType for Vec<ListKind> {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        let lists = comma_list(v, "revenues,tasks", ListKind::parse)?;
        if lists.is_empty() {
            return Err("a page shows at least one list".to_string());
        }
        Ok(lists)
    }
    fn show(&self) -> String {
        let names: Vec<String> = self.iter().map(|l| l.name().to_string()).collect();
        format!("{:?}", names.join(","))
    }
}

impl ParamType for Vec<AggregateKind> {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        comma_list(v, "profit-loss,report:0-6", AggregateKind::parse)
    }
    fn show(&self) -> String {
        let names: Vec<String> = self.iter().map(|a| a.to_string()).collect();
        format!("{:?}", names.join(","))
    }
}

/// REALTIME_DISABLED_ORGS: a comma list of org ids.
impl ParamType for Vec<OrgId> {
    fn from_value(v: &ParamValue) -> Result<Self, String> {
        comma_list(v, "1,3", |p| {
            p.parse().map_err(|_| format!("{p:?} is not an org id"))
        })
    }
    fn show(&self) -> String {
        let ids: Vec<String> = self.iter().map(|o| o.to_string()).collect();
        format!("{:?}", ids.join(","))
    }
}

/// `aggregates = true`: the finance page's profit-loss (`page_aggregates` names any set).
fn set_aggregates(c: &mut SimConfig, on: bool) {
    c.provider.page.aggregates = if on {
        vec![AggregateKind::ProfitLoss]
    } else {
        Vec::new()
    };
}

/// One parameter of the table.
pub struct Param {
    pub name: &'static str,
    /// Its Rust type, for `rtsim params`.
    pub type_name: &'static str,
    pub doc: &'static str,
    /// Read a scenario's value into the config.
    pub set: fn(&mut SimConfig, &ParamValue) -> Result<(), String>,
    /// The value in a config, as a scenario file would spell it.
    pub get: fn(&SimConfig) -> String,
    /// Put the seeds' default into a config.
    pub reset: fn(&mut SimConfig),
    /// Check the value against its range (which may depend on other parameters).
    pub check: fn(&SimConfig) -> Result<(), String>,
    /// The range as text, for `rtsim params`.
    pub range: &'static str,
}

fn in_range(v: Option<f64>, lo: f64, hi: f64) -> Result<(), String> {
    match v {
        Some(x) if x < lo || x > hi => Err(format!("{x} is out of range {lo}..={hi}")),
        _ => Ok(()),
    }
}

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;

/// `name: type = default, [lo, hi] or [], field.path, "doc";` — see the module doc.
macro_rules! params {
    ($c:ident; $(
        $name:ident : $t:ty = $default:expr, [$($lo:expr, $hi:expr)?], $($field:ident).+, $doc:literal;
    )*) => {
        pub const PARAMS: &[Param] = &[$(
            Param {
                name: stringify!($name),
                type_name: stringify!($t),
                doc: $doc,
                set: |$c, v| {
                    $c.$($field).+ = <$t as ParamType>::from_value(v)?;
                    Ok(())
                },
                get: |$c| ParamType::show(&$c.$($field).+),
                reset: |$c| $c.$($field).+ = $default,
                check: |$c| {
                    let _value = ParamType::number(&$c.$($field).+);
                    $(in_range(_value, ($lo) as f64, ($hi) as f64)?;)?
                    Ok(())
                },
                range: concat!($(stringify!($lo), "..=", stringify!($hi))?),
            },
        )*];
    };
}

params! { c;
    // ---- server buffer, pub/sub and tokens (S1-S10) ----
    max_buffer_size: usize = 200, [1, 1_000_000], buffer.max_buffer_size, "events an org's buffer keeps (S2)";
    event_ttl_ms: u64 = 25_000, [1, HOUR], buffer.event_ttl_ms, "how long a buffered event lives (S2)";
    long_poll_timeout_ms: u64 = 25_000, [1, HOUR], buffer.long_poll_timeout_ms, "a parked long-poll is answered empty after this (S3)";
    max_waiters_per_org: usize = 5_000, [1, 10_000_000], buffer.max_waiters_per_org, "parked long-polls per org; more are answered at once (S4)";
    org_idle_evict_ms: u64 = 120_000, [1, DAY], buffer.org_idle_evict_ms, "an org nobody polls is freed after this (S5)";
    pubsub_max_delay_ms: u64 = 20, [0, 60_000], pubsub.pubsub_max_delay_ms, "pub/sub delivers a commit to the buffer within this (S3)";
    pubsub_duplicate_rate: f64 = 0.05, [0, 1], pubsub.pubsub_duplicate_rate, "share of events pub/sub delivers twice (S3)";
    access_token_ttl_ms: u64 = 900_000, [1, 365 * DAY], tokens.access_token_ttl_ms, "an access token's life (S9)";
    refresh_slow_ms: u64 = 5_000, [0, HOUR], tokens.refresh_slow_ms, "the refresh_slow fault answers refreshes this late";
    // ---- client provider (C1-C9) ----
    poll_request_timeout_ms: u64 = 35_000, [1, HOUR], provider.poll_request_timeout_ms, "a poll is given up after this (B5)";
    refetch_request_timeout_ms: u64 = 10_000, [1, HOUR], provider.refetch_request_timeout_ms, "a list refetch is given up after this";
    fast_empty_ms: u64 = 1_500, [0, HOUR], provider.fast_empty_ms, "an empty answer sooner than this is fast-empty (C5)";
    fast_empty_backoff_min_ms: u64 = 2_000, [0, HOUR], provider.fast_empty_backoff_min_ms, "backoff after a fast-empty answer, at least (C5)";
    fast_empty_backoff_max_ms: u64 = 5_000, [c.provider.fast_empty_backoff_min_ms, HOUR], provider.fast_empty_backoff_max_ms, "backoff after a fast-empty answer, at most (C5)";
    paced_poll_min_ms: u64 = 3_000, [0, HOUR], provider.paced_poll_min_ms, "a hidden or fallback tab re-polls no sooner than this after an answer (C6)";
    paced_poll_max_ms: u64 = 5_000, [c.provider.paced_poll_min_ms, HOUR], provider.paced_poll_max_ms, "... and by this at the latest (C6)";
    hard_recover_after_ms: u64 = 60_000, [1, DAY], provider.hard_recover_after_ms, "silence after which the tab refetches everything (C8)";
    poll_retry_ms: u64 = 1_000, [1, HOUR], provider.poll_retry_ms, "wait before re-polling after a failure";
    refetch_retry_ms: u64 = 5_000, [1, HOUR], provider.refetch_retry_ms, "wait before retrying a failed refetch";
    dedup_capacity: usize = 1_000, [1, 1_000_000], provider.dedup.dedup_capacity, "event ids the dedup LRU keeps per org (C2)";
    dedup_ttl_ms: u64 = 300_000, [1, DAY], provider.dedup.dedup_ttl_ms, "how long the dedup LRU keeps an id (C2)";
    dedup_orgs: usize = 3, [1, 1_000], provider.dedup.dedup_orgs, "orgs whose dedup state a tab keeps (C2)";
    breaker_failures: u32 = 3, [1, 1_000], provider.breaker.breaker_failures, "consecutive failures that open the breaker (C4)";
    breaker_open_ms: u64 = 30_000, [0, HOUR], provider.breaker.breaker_open_ms, "how long the breaker stays open (C4)";
    // ---- network and drivers ----
    min_latency_ms: u64 = 2, [0, 60_000], net.min_latency_ms, "one-way message latency, at least";
    max_latency_ms: u64 = 20, [c.net.min_latency_ms, 60_000], net.max_latency_ms, "one-way message latency, at most";
    tick_ms: u64 = 1, [1, 1_000], tick_ms, "turmoil's tick (express has none)";
    crowd_hosts: u64 = 0, [0, 64], crowd_hosts, "turmoil only: run the browsers in this many shared hosts (0: one each)";
    login_timeout_ms: u64 = 10_000, [1, HOUR], login_timeout_ms, "a login call is given up after this";
    login_retry_ms: u64 = 2_000, [1, HOUR], login_retry_ms, "wait before retrying a failed login";
    ops_probe_ms: u64 = 0, [0, HOUR], ops_probe_ms, "org0/browser0 reads the metrics and tries the legacy path this often (S7, S8; 0: never)";
    filter_odd_browsers: bool = true, [], filter_odd_browsers, "odd-numbered browsers filter to one property (S6)";
    // ---- leader election and the browser platform (L1-L7, B1-B4) ----
    leader_enabled: bool = true, [], provider.leader.leader_enabled, "tabs elect one leader per scope; off: every tab polls";
    mechanism: Mechanism = Mechanism::Lease, [], provider.leader.mechanism, "\"lease\" (localStorage) or \"web-locks\" (L2)";
    scope: Scope = Scope::Session, [], provider.leader.scope, "\"session\" or \"browser-org\" (L1)";
    heartbeat_ms: u64 = 10_000, [1, HOUR], provider.leader.heartbeat_ms, "the leader's heartbeat period (L3)";
    takeover_ms: u64 = 18_000, [1, HOUR], provider.leader.takeover_ms, "a follower takes over after this much leader silence (L3)";
    takeover_jitter_ms: u64 = 2_000, [0, HOUR], provider.leader.takeover_jitter_ms, "random extra wait before a takeover (L3)";
    lease_recheck_ms: u64 = 100, [0, HOUR], provider.leader.lease_recheck_ms, "write-then-recheck delay of a lease claim (L2)";
    fallback: Fallback = Fallback::Solo, [], provider.leader.fallback, "without a BroadcastChannel: \"solo\" or \"mailbox\" (localStorage)";
    mailbox_max_bytes: usize = 65_536, [1, 10_000_000], provider.leader.mailbox_max_bytes, "largest mailbox message";
    mailbox_max_per_min: usize = 100, [1, 1_000_000], provider.leader.mailbox_max_per_min, "mailbox messages a leader sends per minute";
    storage_propagation_min_ms: u64 = 1, [0, 60_000], platform.storage_propagation_min_ms, "a storage write reaches other tabs after at least this (B1)";
    storage_propagation_max_ms: u64 = 30, [c.platform.storage_propagation_min_ms, 60_000], platform.storage_propagation_max_ms, "... and at most this (B1)";
    broadcast_delay_min_ms: u64 = 0, [0, 60_000], platform.broadcast_delay_min_ms, "a BroadcastChannel message arrives after at least this (B2)";
    broadcast_delay_max_ms: u64 = 5, [c.platform.broadcast_delay_min_ms, 60_000], platform.broadcast_delay_max_ms, "... and at most this (B2)";
    broadcast_enabled: bool = true, [], platform.broadcast_enabled, "the browser has a BroadcastChannel (B2)";
    locks_enabled: bool = true, [], platform.locks_enabled, "the browser has navigator.locks (B3)";
    bfcache: bool = true, [], platform.bfcache, "a page navigated away from enters the back-forward cache, frozen and keeping its Web Locks, as Chromium 156 did (B4, probe's lock_after_navigate_away); false: it unloads";
    hidden_timer_min_interval_ms: u64 = 1_000, [1, HOUR], platform.hidden_timer_min_interval_ms, "a hidden tab's timers fire at most this often (B4)";
    intensive_throttle_after_ms: u64 = 300_000, [0, DAY], platform.intensive_throttle_after_ms, "hidden this long, timers are throttled hard (B4; idealised, or a profile without intensive_throttling)";
    intensive_timer_interval_ms: u64 = 60_000, [1, HOUR], platform.intensive_timer_interval_ms, "the hard-throttled timer period (B4; as above)";
    platform_profile: PlatformProfile = PlatformProfile::chromium(), [], platform.profile, "the browser timing followed: \"idealised\" (the storage_*, broadcast_*, hidden and intensive timer parameters above, locks released at once), \"chromium\" (profiles/chromium.json, measured by probe/) or a profile file";
    // ---- auth lifecycle (A1-A5, C7) ----
    pre_expiry_refresh_ms: u64 = 60_000, [0, c.tokens.access_token_ttl_ms.saturating_sub(1)], provider.auth.pre_expiry_refresh_ms, "refresh this long before the token runs out (A1)";
    refresh_request_timeout_ms: u64 = 10_000, [1, HOUR], provider.auth.refresh_request_timeout_ms, "a refresh call is given up after this";
    refresh_lease_ttl_ms: u64 = 15_000, [1, HOUR], provider.auth.refresh_lease_ttl_ms, "life of the localStorage refresh lease (A1)";
    refresh_lease_recheck_ms: u64 = 100, [0, HOUR], provider.auth.refresh_lease_recheck_ms, "the settle after taking the refresh mutex (A1)";
    refresh_wait_ms: u64 = 15_000, [1, HOUR], provider.auth.refresh_wait_ms, "how long a tab paused by another's refresh-started waits (A2)";
    auth_backoff_base_ms: u64 = 2_000, [1, HOUR], provider.auth.backoff_base_ms, "first backoff after a failed refresh (A3)";
    auth_backoff_max_ms: u64 = 60_000, [c.provider.auth.backoff_base_ms, HOUR], provider.auth.backoff_max_ms, "longest backoff after failed refreshes (A3)";
    // ---- UI: aggregates, writes, flags, degraded mode (U1-U4, C10-C14) ----
    page_lists: Vec<ListKind> = vec![ListKind::Revenues], [], provider.page.lists, "the page's lists, of revenues, expenses, tasks, metrics, widgets, shifts, units, members, report_runs, checkins (U1)";
    page_aggregates: Vec<AggregateKind> = Vec::new(), [], provider.page.aggregates, "the page's aggregates: profit-loss, daily-approval, today-pending, report:<from>-<to> (U3)";
    derived_debounce_ms: u64 = 1_000, [1, HOUR], provider.derived.debounce_ms, "at most one aggregate refetch per window, the first at once (U3)";
    reconcile_ms: u64 = 60_000, [10, DAY], provider.derived.reconcile_ms, "aggregates are refetched this often anyway, jittered by a tenth (C10)";
    writes_per_min: f64 = 0.0, [0, 6_000], provider.writes.per_min, "each tab's own writes per minute (U2)";
    optimistic_pct: u32 = 50, [0, 100], provider.writes.optimistic_pct, "share of adds shown optimistically (U2)";
    write_add_pct: u32 = 50, [0, 100], provider.writes.add_pct, "share of writes that add a row";
    write_delete_pct: u32 = 15, [0, 100 - c.provider.writes.add_pct], provider.writes.delete_pct, "share of writes that delete a row";
    echo_timeout_ms: u64 = 5_000, [1, HOUR], provider.writes.echo_timeout_ms, "a write whose echo has not come by then refetches the list (U2)";
    write_request_timeout_ms: u64 = 10_000, [1, HOUR], provider.writes.request_timeout_ms, "a write call is given up after this";
    mutate_slow_ms: u64 = 12_000, [0, HOUR], mutate_slow_ms, "the mutate_slow fault answers writes this late";
    realtime_master: bool = true, [], provider.flags.master, "REALTIME master switch (C13)";
    realtime_shadow: bool = false, [], provider.flags.shadow, "shadow mode: the transport runs, nothing reaches the page (C13)";
    rollout_pct: u32 = 100, [0, 100], provider.flags.rollout_pct, "orgs in the rollout, by a stable hash (C13)";
    disabled_orgs: Vec<OrgId> = Vec::new(), [], provider.flags.disabled_orgs, "REALTIME_DISABLED_ORGS, a comma list of org ids (C13)";
    degraded_polling: bool = true, [], provider.degraded_polling, "a page without a live stream polls its list (C11)";
    degraded_refetch_min_ms: u64 = 12_000, [1, HOUR], provider.degraded_refetch_min_ms, "degraded list refetch period, at least (C11)";
    degraded_refetch_max_ms: u64 = 18_000, [c.provider.degraded_refetch_min_ms, HOUR], provider.degraded_refetch_max_ms, "degraded list refetch period, at most (C11)";
    list_stale_ms: u64 = 5_000, [0, DAY], provider.list_stale_ms, "a focused tab refetches a list older than this (U4)";
    telemetry_sample_pct: u32 = 2, [0, 100], provider.telemetry_sample_pct, "share of telemetry events sent (C14)";
    // ---- the v2 stream (S11-S15, C15) ----
    transport: Transport = Transport::LongPoll, [], provider.transport, "how tabs get events: v1's leader long-poll, or v2's stream per tab";
    batch_window_min_ms: u64 = 30, [1, 60_000], stream.batch_window_min_ms, "the adaptive batch window's floor, per (org, service) (S12)";
    batch_window_max_ms: u64 = 150, [c.stream.batch_window_min_ms, 60_000], stream.batch_window_max_ms, "the adaptive batch window's ceiling (S12)";
    batch_max_events: usize = 50, [1, 100_000], stream.batch_max_events, "a batch this full is sent at once, and widens the window (S12)";
    tasks_buffer_size: usize = 300, [1, 1_000_000], stream.tasks_buffer_size, "tasks' replay buffer per org (S15)";
    service_buffer_size: usize = 200, [1, 1_000_000], stream.service_buffer_size, "every other service's replay buffer per org (S15)";
    stream_event_ttl_ms: u64 = 25_000, [1, HOUR], stream.event_ttl_ms, "how long the replay buffers keep an event (S15)";
    send_queue_capacity: usize = 200, [1, 1_000_000], stream.send_queue_capacity, "events a connection's send queue holds before an overflow (S13)";
    socket_window_frames: usize = 8, [1, 10_000], stream.socket_window_frames, "frames on a connection not yet consumed by the client (S13)";
    quarantine_overflows: usize = 3, [1, 1_000], stream.quarantine_overflows, "overflows within overflow_window_ms that quarantine a connection (S13)";
    overflow_window_ms: u64 = 10_000, [1, HOUR], stream.overflow_window_ms, "the window quarantine_overflows is counted in (S13)";
    quarantine_ms: u64 = 30_000, [1, HOUR], stream.quarantine_ms, "a quarantine's length (S13)";
    quarantine_clear_ms: u64 = 5_000, [1, HOUR], stream.quarantine_clear_ms, "a quarantine clears early after its queue stays at half capacity this long (S13)";
    ping_interval_ms: u64 = 25_000, [1, HOUR], stream.ping_interval_ms, "the server pings every stream this often";
    stream_silence_ms: u64 = 35_000, [c.stream.ping_interval_ms + 1, DAY], provider.stream_silence_ms, "a stream silent this long is dead; the tab reconnects (C15)";
    stream_close_when_hidden: bool = true, [], provider.stream_close_when_hidden, "a hidden tab closes its stream and resumes it when shown (C15)";
    stream_behind_leader: bool = false, [], provider.stream_behind_leader, "v2: the scope's elected leader keeps one stream of every service and shares its frames; off: a stream per tab (C15)";
    stream_suppressed_refetch_ms: u64 = 5_000, [0, HOUR], provider.stream_suppressed_refetch_ms, "a tab whose stream was shed a service (quarantine, S13) reloads its lists this long after (C15)";
    // ---- oracle bounds ----
    max_requests_per_tab_per_min: usize = 0, [0, 1_000_000], check.max_requests_per_tab_per_min, "O7: a budget of requests one tab may send in any minute (0: none; the run reports the peak)";
    split_brain_bound_ms: u64 = 3_000, [0, DAY], check.split_brain_bound_ms, "O4: the longest two leaders may overlap";
    leader_bound_ms: u64 = 45_000, [0, DAY], check.leader_bound_ms, "O10: after the heal, a scope has a leader within this";
    logout_silence_bound_ms: u64 = 200, [0, HOUR], check.logout_silence_bound_ms, "O6: a logged-out browser is silent within this";
    derived_min_gap_ms: u64 = 1_000, [0, HOUR], check.derived_min_gap_ms, "O9: aggregate refetches at most once per this";
    ui_latency_p99_bound_ms: u64 = 2_000, [0, HOUR], check.ui_latency_p99_bound_ms, "O11: event-to-UI latency p99 bound";
    optimistic_resolve_bound_ms: u64 = 8_000, [0, HOUR], check.optimistic_resolve_bound_ms, "O1: an optimistic row settles within this";
}

/// `aggregates`, the one parameter that is a shorthand for another
/// (`page_aggregates = "profit-loss"`), so it has no field of its own.
pub const AGGREGATES: Param = Param {
    name: "aggregates",
    type_name: "bool",
    doc:
        "the page shows the profit-loss aggregate (shorthand for page_aggregates = \"profit-loss\")",
    set: |c, v| {
        set_aggregates(c, bool::from_value(v)?);
        Ok(())
    },
    get: |c| (c.provider.page.aggregates == [AggregateKind::ProfitLoss]).to_string(),
    reset: |_| {},
    check: |_| Ok(()),
    range: "",
};

impl SimConfig {
    /// Every parameter, in the table's order.
    pub fn params() -> impl Iterator<Item = &'static Param> {
        PARAMS.iter().chain(std::iter::once(&AGGREGATES))
    }

    pub fn param(name: &str) -> Option<&'static Param> {
        SimConfig::params().find(|p| p.name == name)
    }

    /// Set one parameter by name; the error says what is wrong.
    pub fn set(&mut self, name: &str, v: &ParamValue) -> Result<(), String> {
        match SimConfig::param(name) {
            Some(p) => (p.set)(self, v),
            None => {
                let names: Vec<&str> = SimConfig::params().map(|p| p.name).collect();
                Err(format!("unknown parameter; known: {}", names.join(", ")))
            }
        }
    }

    /// README's parameter table, one row per parameter: name, type, the
    /// seeds' default, its range and its doc line.
    pub fn markdown_table() -> String {
        let defaults = SimConfig::default();
        let mut out = String::from(
            "| parameter | type | default | range | what it sets |\n|---|---|---|---|---|\n",
        );
        for p in SimConfig::params() {
            let range = if p.range.is_empty() {
                "-".to_string()
            } else {
                p.range.replace("c.", "")
            };
            out.push_str(&format!(
                "| `{}` | {} | `{}` | {} | {} |\n",
                p.name,
                p.type_name.replace(' ', ""),
                (p.get)(&defaults),
                range.replace('|', "\\|"),
                p.doc.replace('|', "\\|")
            ));
        }
        out
    }

    /// Every range, and the rules between parameters, checked once all are
    /// set: the first broken one names its parameter.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for p in SimConfig::params() {
            (p.check)(self).map_err(|m| (p.name, m))?;
        }
        let revenues_shown = self.provider.page.lists.contains(&ListKind::Revenues);
        if self.provider.writes.per_min > 0.0 && !revenues_shown {
            return Err((
                "writes_per_min",
                "the tab writes revenues, so page_lists must include \"revenues\"".to_string(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The machines' own `Default`s (which their unit tests use) agree with the table.
    #[test]
    fn machine_defaults_agree_with_the_table() {
        let table = SimConfig::default();
        assert_eq!(table.buffer, BufferConfig::default());
        assert_eq!(table.pubsub, PubSubConfig::default());
        assert_eq!(table.tokens, TokenConfig::default());
        assert_eq!(table.provider, ProviderConfig::default());
        assert_eq!(table.platform, PlatformConfig::default());
        assert!(table.validate().is_ok(), "the defaults are in range");
    }

    #[test]
    fn every_parameter_reads_back_what_it_was_set_to() {
        for p in SimConfig::params() {
            let mut c = SimConfig::default();
            let shown = (p.get)(&c);
            let value = match shown.as_str() {
                "true" => ParamValue::Bool(true),
                "false" => ParamValue::Bool(false),
                s if s.starts_with('"') => ParamValue::Str(s.trim_matches('"').to_string()),
                s => s
                    .parse::<u64>()
                    .map(ParamValue::Int)
                    .unwrap_or_else(|_| ParamValue::Float(s.parse().expect("a number"))),
            };
            (p.set)(&mut c, &value).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!((p.get)(&c), shown, "{}", p.name);
        }
    }

    #[test]
    fn a_value_out_of_range_names_its_parameter() {
        let mut c = SimConfig::default();
        c.set("max_latency_ms", &ParamValue::Int(1))
            .expect("an integer");
        assert_eq!(
            c.validate(),
            Err(("max_latency_ms", "1 is out of range 2..=60000".to_string()))
        );
        assert!(c
            .set("mechanism", &ParamValue::Str("paxos".into()))
            .is_err());
        assert!(c.set("no_such_param", &ParamValue::Int(1)).is_err());
    }
}
