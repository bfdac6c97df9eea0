//! Scenario files (`sims/*.toml`): loading and validation.
//!
//! A scenario names one behaviour: a topology, the parameters that differ from
//! the seed documents' defaults, a workload, scripted faults and which oracles
//! must hold or must fail. A bad file is an `InputError` naming the file, the
//! line and the field, never a panic; the CLI turns it into exit code 2.

use crate::browser::platform::PlatformConfig;
use crate::browser::{BrowserConfig, TabAction};
use crate::client::leader::{Fallback, Mechanism, Scope};
use crate::client::ProviderConfig;
use crate::event::EntityType;
use crate::server::buffer::BufferConfig;
use crate::server::pubsub::PubSubConfig;
use crate::server::tokens::{RefreshMode, TokenConfig};
use crate::server::ServerConfig;
use crate::time::SimTime;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Bad input: which file, which line, which field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: field `{}`: {}",
                self.file, line, self.field, self.message
            ),
            None => write!(f, "{}: field `{}`: {}", self.file, self.field, self.message),
        }
    }
}

impl std::error::Error for InputError {}

pub const ORACLES: [&str; 12] = [
    "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O11", "O12",
];
/// The oracles the walking skeleton checks; `hold = ["all"]` means these.
/// O11 is not among them: a scenario on a healthy network opts in by listing it.
pub const CHECKED_ORACLES: [&str; 11] = [
    "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O12",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    pub orgs: u32,
    pub properties_per_org: u32,
    pub browsers_per_org: u32,
    pub tabs_per_browser: u32,
}

/// Where a fault lands.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Server,
    Org(u32),
    Browser(u32, u32),
    Tab(u32, u32, u32),
    /// `leader:org<i>/browser<j>`: whichever tab of that browser leads when the fault starts.
    Leader(u32, u32),
}

impl Target {
    /// The browsers (org, browser) this target covers; all of them for `server`.
    pub fn browsers(&self, topo: &Topology) -> Vec<(u32, u32)> {
        match *self {
            Target::Server => (0..topo.orgs)
                .flat_map(|o| (0..topo.browsers_per_org).map(move |b| (o, b)))
                .collect(),
            Target::Org(o) => (0..topo.browsers_per_org).map(|b| (o, b)).collect(),
            Target::Browser(o, b) | Target::Tab(o, b, _) | Target::Leader(o, b) => vec![(o, b)],
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Server => write!(f, "server"),
            Target::Org(o) => write!(f, "org{o}"),
            Target::Browser(o, b) => write!(f, "org{o}/browser{b}"),
            Target::Tab(o, b, t) => write!(f, "org{o}/browser{b}/tab{t}"),
            Target::Leader(o, b) => write!(f, "leader:org{o}/browser{b}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    ToServer,
    FromServer,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    Partition,
    PartitionOneway(Direction),
    Latency {
        ms: u64,
    },
    ServerRestart,
    ResetConnections,
    Burst {
        count: u32,
    },
    /// Tab lifecycle and browser platform faults (B3, B4), logout and login (A4).
    Tab(TabAction),
    /// S9: a browser's session token expires now.
    TokenExpire,
    /// S9: `POST /auth/refresh` fails (503) or is slow while the fault lasts.
    Refresh(RefreshMode),
    /// U2: the next tab write on an org commits but its event is never published.
    EchoDrop,
    /// U2: writes commit at once but are answered `mutate_slow_ms` late while it lasts.
    MutateSlow,
    /// C11: a realtime outage: the subscribe endpoint answers 503 while it
    /// lasts; the rest of the API works.
    StreamDown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Its place in the scenario's fault list (sorted by time), naming it to the nodes.
    pub id: u64,
    pub at: SimTime,
    pub kind: FaultKind,
    pub target: Target,
    /// Undone after this long; `None` lasts until the heal.
    pub for_ms: Option<u64>,
}

impl Fault {
    pub fn describe(&self) -> String {
        let kind = match &self.kind {
            FaultKind::Partition => "partition".to_string(),
            FaultKind::PartitionOneway(Direction::ToServer) => {
                "partition_oneway to_server".to_string()
            }
            FaultKind::PartitionOneway(Direction::FromServer) => {
                "partition_oneway from_server".to_string()
            }
            FaultKind::Latency { ms } => format!("latency {ms}ms"),
            FaultKind::ServerRestart => "server_restart".to_string(),
            FaultKind::ResetConnections => "reset_connections".to_string(),
            FaultKind::Burst { count } => format!("burst {count}"),
            FaultKind::Tab(a) => tab_fault_name(*a).to_string(),
            FaultKind::TokenExpire => "token_expire".to_string(),
            FaultKind::Refresh(RefreshMode::Slow) => "refresh_slow".to_string(),
            FaultKind::Refresh(_) => "refresh_fail".to_string(),
            FaultKind::EchoDrop => "echo_drop".to_string(),
            FaultKind::MutateSlow => "mutate_slow".to_string(),
            FaultKind::StreamDown => "stream_down".to_string(),
        };
        match self.for_ms {
            Some(ms) => format!("{kind} {} for {}ms", self.target, ms),
            None => format!("{kind} {}", self.target),
        }
    }
}

const TAB_FAULTS: [(&str, TabAction); 13] = [
    ("crash_tab", TabAction::Crash),
    ("close_tab", TabAction::Close),
    ("open_tab", TabAction::Open),
    ("hide_tab", TabAction::Hide),
    ("show_tab", TabAction::Show),
    ("freeze_tab", TabAction::Freeze),
    ("thaw_tab", TabAction::Thaw),
    ("broadcast_off", TabAction::BroadcastOff),
    ("locks_off", TabAction::LocksOff),
    ("logout", TabAction::Logout),
    ("login", TabAction::Login),
    ("focus_tab", TabAction::Focus),
    ("blur_tab", TabAction::Blur),
];

/// Tab faults that act on the whole browser rather than one tab.
fn browser_wide(a: TabAction) -> bool {
    matches!(
        a,
        TabAction::Open | TabAction::BroadcastOff | TabAction::LocksOff | TabAction::Login
    )
}

fn tab_fault_name(a: TabAction) -> &'static str {
    TAB_FAULTS
        .iter()
        .find(|(_, x)| *x == a)
        .map_or("tab", |(n, _)| n)
}

impl Fault {
    /// What undoes this fault after `for_s`, if it lasts.
    pub fn undo_action(&self) -> Option<TabAction> {
        match self.kind {
            FaultKind::Tab(TabAction::Hide) => Some(TabAction::Show),
            FaultKind::Tab(TabAction::Freeze) => Some(TabAction::Thaw),
            FaultKind::Tab(TabAction::BroadcastOff) => Some(TabAction::BroadcastOn),
            FaultKind::Tab(TabAction::LocksOff) => Some(TabAction::LocksOn),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub hold: Vec<String>,
    pub fail: Vec<String>,
}

/// The checkers' bounds (plain data: `check` reads them, and imports nothing from the machines to decide).
#[derive(Clone, Debug, PartialEq)]
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

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            max_requests_per_tab_per_min: 300,
            split_brain_bound_ms: 3_000,
            leader_bound_ms: 45_000,
            logout_silence_bound_ms: 200,
            derived_min_gap_ms: 1_000,
            ui_latency_p99_bound_ms: 2_000,
            optimistic_resolve_bound_ms: 8_000,
        }
    }
}

/// Network model shared by the drivers.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            min_latency_ms: 2,
            max_latency_ms: 20,
        }
    }
}

/// Every tunable of a run, with the seed documents' defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub buffer: BufferConfig,
    pub pubsub: PubSubConfig,
    pub tokens: TokenConfig,
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
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            buffer: BufferConfig::default(),
            pubsub: PubSubConfig::default(),
            tokens: TokenConfig::default(),
            provider: ProviderConfig::default(),
            platform: PlatformConfig::default(),
            check: CheckConfig::default(),
            net: NetConfig::default(),
            tick_ms: 1,
            login_timeout_ms: 10_000,
            login_retry_ms: 2_000,
            filter_odd_browsers: true,
            crowd_hosts: 0,
            mutate_slow_ms: 12_000,
        }
    }
}

enum ParamValue {
    Int(u64),
    Float(f64),
    Bool(bool),
    Str(String),
}

/// A comma list of names, like `"revenues,tasks"`, each parsed by `parse`; no repeats.
fn comma_list<T: PartialEq>(
    v: ParamValue,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let ParamValue::Str(s) = v else {
        return Err("expected a comma list of names, like \"revenues,tasks\"".to_string());
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

impl SimConfig {
    /// Every parameter name a scenario may set, for error messages.
    pub const PARAMS: &'static [&'static str] = &[
        "max_buffer_size",
        "event_ttl_ms",
        "long_poll_timeout_ms",
        "max_waiters_per_org",
        "org_idle_evict_ms",
        "pubsub_max_delay_ms",
        "pubsub_duplicate_rate",
        "access_token_ttl_ms",
        "poll_request_timeout_ms",
        "refetch_request_timeout_ms",
        "fast_empty_ms",
        "fast_empty_backoff_min_ms",
        "fast_empty_backoff_max_ms",
        "hard_recover_after_ms",
        "poll_retry_ms",
        "refetch_retry_ms",
        "dedup_capacity",
        "dedup_ttl_ms",
        "dedup_orgs",
        "breaker_failures",
        "breaker_open_ms",
        "max_requests_per_tab_per_min",
        "min_latency_ms",
        "max_latency_ms",
        "tick_ms",
        "login_timeout_ms",
        "login_retry_ms",
        "filter_odd_browsers",
        "crowd_hosts",
        "leader_enabled",
        "mechanism",
        "scope",
        "heartbeat_ms",
        "takeover_ms",
        "takeover_jitter_ms",
        "lease_recheck_ms",
        "storage_propagation_min_ms",
        "storage_propagation_max_ms",
        "broadcast_delay_min_ms",
        "broadcast_delay_max_ms",
        "broadcast_enabled",
        "locks_enabled",
        "hidden_timer_min_interval_ms",
        "intensive_throttle_after_ms",
        "intensive_timer_interval_ms",
        "split_brain_bound_ms",
        "leader_bound_ms",
        "fallback",
        "mailbox_max_bytes",
        "mailbox_max_per_min",
        "refresh_slow_ms",
        "pre_expiry_refresh_ms",
        "refresh_request_timeout_ms",
        "refresh_lease_ttl_ms",
        "refresh_lease_recheck_ms",
        "refresh_wait_ms",
        "auth_backoff_base_ms",
        "auth_backoff_max_ms",
        "logout_silence_bound_ms",
        "aggregates",
        "derived_debounce_ms",
        "reconcile_ms",
        "derived_min_gap_ms",
        "ui_latency_p99_bound_ms",
        "writes_per_min",
        "optimistic_pct",
        "write_add_pct",
        "write_delete_pct",
        "echo_timeout_ms",
        "write_request_timeout_ms",
        "mutate_slow_ms",
        "optimistic_resolve_bound_ms",
        "realtime_master",
        "realtime_shadow",
        "rollout_pct",
        "disabled_orgs",
        "degraded_polling",
        "degraded_refetch_min_ms",
        "degraded_refetch_max_ms",
        "list_stale_ms",
        "telemetry_sample_pct",
        "page_lists",
        "page_aggregates",
    ];

    fn set(&mut self, name: &str, v: ParamValue) -> Result<(), String> {
        use ParamValue::*;
        let int = |v: ParamValue| match v {
            Int(i) => Ok(i),
            _ => Err("expected a non-negative integer".to_string()),
        };
        let boolean = |v: ParamValue| match v {
            Bool(b) => Ok(b),
            _ => Err("expected true or false".to_string()),
        };
        match name {
            "max_buffer_size" => self.buffer.max_buffer_size = int(v)? as usize,
            "event_ttl_ms" => self.buffer.event_ttl_ms = int(v)?,
            "long_poll_timeout_ms" => self.buffer.long_poll_timeout_ms = int(v)?,
            "max_waiters_per_org" => self.buffer.max_waiters_per_org = int(v)? as usize,
            "org_idle_evict_ms" => self.buffer.org_idle_evict_ms = int(v)?,
            "pubsub_max_delay_ms" => self.pubsub.pubsub_max_delay_ms = int(v)?,
            "pubsub_duplicate_rate" => {
                self.pubsub.pubsub_duplicate_rate = match v {
                    Float(f) if (0.0..=1.0).contains(&f) => f,
                    Int(i) if i <= 1 => i as f64,
                    _ => return Err("expected a rate between 0.0 and 1.0".to_string()),
                }
            }
            "access_token_ttl_ms" => self.tokens.access_token_ttl_ms = int(v)?,
            "poll_request_timeout_ms" => self.provider.poll_request_timeout_ms = int(v)?,
            "refetch_request_timeout_ms" => self.provider.refetch_request_timeout_ms = int(v)?,
            "fast_empty_ms" => self.provider.fast_empty_ms = int(v)?,
            "fast_empty_backoff_min_ms" => self.provider.fast_empty_backoff_min_ms = int(v)?,
            "fast_empty_backoff_max_ms" => self.provider.fast_empty_backoff_max_ms = int(v)?,
            "hard_recover_after_ms" => self.provider.hard_recover_after_ms = int(v)?,
            "poll_retry_ms" => self.provider.poll_retry_ms = int(v)?,
            "refetch_retry_ms" => self.provider.refetch_retry_ms = int(v)?,
            "dedup_capacity" => self.provider.dedup.dedup_capacity = int(v)? as usize,
            "dedup_ttl_ms" => self.provider.dedup.dedup_ttl_ms = int(v)?,
            "dedup_orgs" => self.provider.dedup.dedup_orgs = int(v)? as usize,
            "breaker_failures" => self.provider.breaker.breaker_failures = int(v)? as u32,
            "breaker_open_ms" => self.provider.breaker.breaker_open_ms = int(v)?,
            "max_requests_per_tab_per_min" => {
                self.check.max_requests_per_tab_per_min = int(v)? as usize
            }
            "min_latency_ms" => self.net.min_latency_ms = int(v)?,
            "max_latency_ms" => self.net.max_latency_ms = int(v)?,
            "tick_ms" => self.tick_ms = int(v)?,
            "login_timeout_ms" => self.login_timeout_ms = int(v)?,
            "login_retry_ms" => self.login_retry_ms = int(v)?,
            "crowd_hosts" => self.crowd_hosts = int(v)?,
            "filter_odd_browsers" => self.filter_odd_browsers = boolean(v)?,
            "leader_enabled" => self.provider.leader.leader_enabled = boolean(v)?,
            "mechanism" => {
                self.provider.leader.mechanism = match v {
                    Str(s) if s == "lease" => Mechanism::Lease,
                    Str(s) if s == "web-locks" => Mechanism::WebLocks,
                    _ => return Err("expected \"lease\" or \"web-locks\"".to_string()),
                }
            }
            "scope" => {
                self.provider.leader.scope = match v {
                    Str(s) if s == "session" => Scope::Session,
                    Str(s) if s == "browser-org" => Scope::BrowserOrg,
                    _ => return Err("expected \"session\" or \"browser-org\"".to_string()),
                }
            }
            "heartbeat_ms" => self.provider.leader.heartbeat_ms = int(v)?,
            "fallback" => {
                self.provider.leader.fallback = match v {
                    Str(s) if s == "solo" => Fallback::Solo,
                    Str(s) if s == "mailbox" => Fallback::Mailbox,
                    _ => return Err("expected \"solo\" or \"mailbox\"".to_string()),
                }
            }
            "mailbox_max_bytes" => self.provider.leader.mailbox_max_bytes = int(v)? as usize,
            "mailbox_max_per_min" => self.provider.leader.mailbox_max_per_min = int(v)? as usize,
            "takeover_ms" => self.provider.leader.takeover_ms = int(v)?,
            "takeover_jitter_ms" => self.provider.leader.takeover_jitter_ms = int(v)?,
            "lease_recheck_ms" => self.provider.leader.lease_recheck_ms = int(v)?,
            "storage_propagation_min_ms" => self.platform.storage_propagation_min_ms = int(v)?,
            "storage_propagation_max_ms" => self.platform.storage_propagation_max_ms = int(v)?,
            "broadcast_delay_min_ms" => self.platform.broadcast_delay_min_ms = int(v)?,
            "broadcast_delay_max_ms" => self.platform.broadcast_delay_max_ms = int(v)?,
            "broadcast_enabled" => self.platform.broadcast_enabled = boolean(v)?,
            "locks_enabled" => self.platform.locks_enabled = boolean(v)?,
            "hidden_timer_min_interval_ms" => self.platform.hidden_timer_min_interval_ms = int(v)?,
            "intensive_throttle_after_ms" => self.platform.intensive_throttle_after_ms = int(v)?,
            "intensive_timer_interval_ms" => self.platform.intensive_timer_interval_ms = int(v)?,
            "split_brain_bound_ms" => self.check.split_brain_bound_ms = int(v)?,
            "refresh_slow_ms" => self.tokens.refresh_slow_ms = int(v)?,
            "pre_expiry_refresh_ms" => self.provider.auth.pre_expiry_refresh_ms = int(v)?,
            "refresh_request_timeout_ms" => self.provider.auth.refresh_request_timeout_ms = int(v)?,
            "refresh_lease_ttl_ms" => self.provider.auth.refresh_lease_ttl_ms = int(v)?,
            "refresh_lease_recheck_ms" => self.provider.auth.refresh_lease_recheck_ms = int(v)?,
            "refresh_wait_ms" => self.provider.auth.refresh_wait_ms = int(v)?,
            "auth_backoff_base_ms" => self.provider.auth.backoff_base_ms = int(v)?,
            "auth_backoff_max_ms" => self.provider.auth.backoff_max_ms = int(v)?,
            "logout_silence_bound_ms" => self.check.logout_silence_bound_ms = int(v)?,
            "aggregates" => {
                // The finance page's profit-loss; `page_aggregates` names any set.
                self.provider.page.aggregates = if boolean(v)? {
                    vec![crate::query::AggregateKind::ProfitLoss]
                } else {
                    Vec::new()
                }
            }
            "page_lists" => {
                self.provider.page.lists = comma_list(v, crate::query::ListKind::parse)?;
                if self.provider.page.lists.is_empty() {
                    return Err("a page shows at least one list".to_string());
                }
            }
            "page_aggregates" => {
                self.provider.page.aggregates = comma_list(v, crate::query::AggregateKind::parse)?
            }
            "derived_debounce_ms" => self.provider.derived.debounce_ms = int(v)?,
            "reconcile_ms" => self.provider.derived.reconcile_ms = int(v)?,
            "derived_min_gap_ms" => self.check.derived_min_gap_ms = int(v)?,
            "ui_latency_p99_bound_ms" => self.check.ui_latency_p99_bound_ms = int(v)?,
            "leader_bound_ms" => self.check.leader_bound_ms = int(v)?,
            "writes_per_min" => {
                self.provider.writes.per_min = match v {
                    Float(f) if f >= 0.0 => f,
                    Int(i) => i as f64,
                    _ => return Err("expected a non-negative number".to_string()),
                }
            }
            "optimistic_pct" => self.provider.writes.optimistic_pct = int(v)? as u32,
            "write_add_pct" => self.provider.writes.add_pct = int(v)? as u32,
            "write_delete_pct" => self.provider.writes.delete_pct = int(v)? as u32,
            "echo_timeout_ms" => self.provider.writes.echo_timeout_ms = int(v)?,
            "write_request_timeout_ms" => self.provider.writes.request_timeout_ms = int(v)?,
            "mutate_slow_ms" => self.mutate_slow_ms = int(v)?,
            "optimistic_resolve_bound_ms" => self.check.optimistic_resolve_bound_ms = int(v)?,
            "realtime_master" => self.provider.flags.master = boolean(v)?,
            "realtime_shadow" => self.provider.flags.shadow = boolean(v)?,
            "rollout_pct" => self.provider.flags.rollout_pct = int(v)? as u32,
            "disabled_orgs" => {
                // REALTIME_DISABLED_ORGS: a comma list of org ids.
                self.provider.flags.disabled_orgs = match v {
                    Str(s) => s
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(|p| p.parse().map_err(|_| format!("{p:?} is not an org id")))
                        .collect::<Result<_, _>>()?,
                    _ => return Err("expected a comma list of org ids, like \"1,3\"".to_string()),
                }
            }
            "degraded_polling" => self.provider.degraded_polling = boolean(v)?,
            "degraded_refetch_min_ms" => self.provider.degraded_refetch_min_ms = int(v)?,
            "degraded_refetch_max_ms" => self.provider.degraded_refetch_max_ms = int(v)?,
            "list_stale_ms" => self.provider.list_stale_ms = int(v)?,
            "telemetry_sample_pct" => self.provider.telemetry_sample_pct = int(v)? as u32,
            _ => {
                return Err(format!(
                    "unknown parameter; known: {}",
                    SimConfig::PARAMS.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Sanity limits, checked after every parameter is set.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let limit = |name: &'static str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err((name, format!("{v} is out of range {lo}..={hi}")))
            } else {
                Ok(())
            }
        };
        let hour = 3_600_000;
        limit(
            "max_buffer_size",
            self.buffer.max_buffer_size as u64,
            1,
            1_000_000,
        )?;
        limit("event_ttl_ms", self.buffer.event_ttl_ms, 1, hour)?;
        limit(
            "long_poll_timeout_ms",
            self.buffer.long_poll_timeout_ms,
            1,
            hour,
        )?;
        limit(
            "max_waiters_per_org",
            self.buffer.max_waiters_per_org as u64,
            1,
            10_000_000,
        )?;
        limit(
            "org_idle_evict_ms",
            self.buffer.org_idle_evict_ms,
            1,
            24 * hour,
        )?;
        limit(
            "pubsub_max_delay_ms",
            self.pubsub.pubsub_max_delay_ms,
            0,
            60_000,
        )?;
        limit(
            "access_token_ttl_ms",
            self.tokens.access_token_ttl_ms,
            1,
            365 * 24 * hour,
        )?;
        limit(
            "poll_request_timeout_ms",
            self.provider.poll_request_timeout_ms,
            1,
            hour,
        )?;
        limit(
            "refetch_request_timeout_ms",
            self.provider.refetch_request_timeout_ms,
            1,
            hour,
        )?;
        limit(
            "fast_empty_backoff_max_ms",
            self.provider.fast_empty_backoff_max_ms,
            self.provider.fast_empty_backoff_min_ms,
            hour,
        )?;
        limit(
            "hard_recover_after_ms",
            self.provider.hard_recover_after_ms,
            1,
            24 * hour,
        )?;
        limit("poll_retry_ms", self.provider.poll_retry_ms, 1, hour)?;
        limit("refetch_retry_ms", self.provider.refetch_retry_ms, 1, hour)?;
        limit(
            "dedup_capacity",
            self.provider.dedup.dedup_capacity as u64,
            1,
            1_000_000,
        )?;
        limit(
            "dedup_orgs",
            self.provider.dedup.dedup_orgs as u64,
            1,
            1_000,
        )?;
        limit(
            "breaker_failures",
            self.provider.breaker.breaker_failures as u64,
            1,
            1_000,
        )?;
        limit(
            "breaker_open_ms",
            self.provider.breaker.breaker_open_ms,
            0,
            hour,
        )?;
        limit(
            "max_latency_ms",
            self.net.max_latency_ms,
            self.net.min_latency_ms,
            60_000,
        )?;
        limit("tick_ms", self.tick_ms, 1, 1_000)?;
        limit("login_timeout_ms", self.login_timeout_ms, 1, hour)?;
        limit("login_retry_ms", self.login_retry_ms, 1, hour)?;
        limit("crowd_hosts", self.crowd_hosts, 0, 64)?;
        limit("heartbeat_ms", self.provider.leader.heartbeat_ms, 1, hour)?;
        limit(
            "derived_debounce_ms",
            self.provider.derived.debounce_ms,
            1,
            hour,
        )?;
        limit(
            "reconcile_ms",
            self.provider.derived.reconcile_ms,
            10,
            24 * hour,
        )?;
        limit(
            "rollout_pct",
            self.provider.flags.rollout_pct as u64,
            0,
            100,
        )?;
        limit(
            "telemetry_sample_pct",
            self.provider.telemetry_sample_pct as u64,
            0,
            100,
        )?;
        limit(
            "degraded_refetch_min_ms",
            self.provider.degraded_refetch_min_ms,
            1,
            hour,
        )?;
        limit(
            "degraded_refetch_max_ms",
            self.provider.degraded_refetch_max_ms,
            self.provider.degraded_refetch_min_ms,
            hour,
        )?;
        let writes = &self.provider.writes;
        limit("writes_per_min", writes.per_min.ceil() as u64, 0, 6_000)?;
        let revenues_shown = self
            .provider
            .page
            .lists
            .contains(&crate::query::ListKind::Revenues);
        if writes.per_min > 0.0 && !revenues_shown {
            return Err((
                "writes_per_min",
                "the tab writes revenues, so page_lists must include \"revenues\"".to_string(),
            ));
        }
        limit("optimistic_pct", writes.optimistic_pct as u64, 0, 100)?;
        limit("write_add_pct", writes.add_pct as u64, 0, 100)?;
        limit(
            "write_delete_pct",
            writes.delete_pct as u64,
            0,
            100 - writes.add_pct as u64,
        )?;
        limit("echo_timeout_ms", writes.echo_timeout_ms, 1, hour)?;
        limit(
            "write_request_timeout_ms",
            writes.request_timeout_ms,
            1,
            hour,
        )?;
        limit("mutate_slow_ms", self.mutate_slow_ms, 0, hour)?;
        let auth = &self.provider.auth;
        limit("refresh_slow_ms", self.tokens.refresh_slow_ms, 0, hour)?;
        limit(
            "pre_expiry_refresh_ms",
            auth.pre_expiry_refresh_ms,
            0,
            self.tokens.access_token_ttl_ms.saturating_sub(1),
        )?;
        limit(
            "refresh_request_timeout_ms",
            auth.refresh_request_timeout_ms,
            1,
            hour,
        )?;
        limit("refresh_lease_ttl_ms", auth.refresh_lease_ttl_ms, 1, hour)?;
        limit(
            "refresh_lease_recheck_ms",
            auth.refresh_lease_recheck_ms,
            0,
            hour,
        )?;
        limit("refresh_wait_ms", auth.refresh_wait_ms, 1, hour)?;
        limit("auth_backoff_base_ms", auth.backoff_base_ms, 1, hour)?;
        limit(
            "auth_backoff_max_ms",
            auth.backoff_max_ms,
            auth.backoff_base_ms,
            hour,
        )?;
        limit("takeover_ms", self.provider.leader.takeover_ms, 1, hour)?;
        limit(
            "takeover_jitter_ms",
            self.provider.leader.takeover_jitter_ms,
            0,
            hour,
        )?;
        limit(
            "lease_recheck_ms",
            self.provider.leader.lease_recheck_ms,
            0,
            hour,
        )?;
        limit(
            "storage_propagation_max_ms",
            self.platform.storage_propagation_max_ms,
            self.platform.storage_propagation_min_ms,
            60_000,
        )?;
        limit(
            "broadcast_delay_max_ms",
            self.platform.broadcast_delay_max_ms,
            self.platform.broadcast_delay_min_ms,
            60_000,
        )?;
        limit(
            "hidden_timer_min_interval_ms",
            self.platform.hidden_timer_min_interval_ms,
            1,
            hour,
        )?;
        limit(
            "intensive_timer_interval_ms",
            self.platform.intensive_timer_interval_ms,
            1,
            hour,
        )?;
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub path: PathBuf,
    pub name: String,
    pub about: String,
    /// The fault phase; the heal and the settle window follow it.
    pub duration: SimTime,
    pub settle_ms: u64,
    pub topology: Topology,
    pub mutations_per_s: f64,
    /// The entities the workload writes (`[workload] entities`).
    pub entities: Vec<EntityType>,
    pub faults: Vec<Fault>,
    pub expect: Expect,
    pub config: SimConfig,
}

impl Scenario {
    /// When the run ends: the fault phase, then the settle window.
    pub fn end(&self) -> SimTime {
        self.duration + self.settle_ms
    }

    /// The oracle ids that must hold, with `all` expanded to every checked oracle.
    pub fn must_hold(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for h in &self.expect.hold {
            if h == "all" {
                ids.extend(CHECKED_ORACLES.iter().map(|s| s.to_string()));
            } else {
                ids.push(h.clone());
            }
        }
        ids.retain(|id| !self.expect.fail.contains(id));
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            buffer: self.config.buffer.clone(),
            pubsub: self.config.pubsub.clone(),
            tokens: self.config.tokens.clone(),
            orgs: self.topology.orgs,
            properties_per_org: self.topology.properties_per_org,
            mutations_per_s: self.mutations_per_s,
            entities: self.entities.clone(),
            workload_until: self.duration,
        }
    }

    pub fn browser_config(&self, org: u32, browser: u32) -> BrowserConfig {
        let property = (self.config.filter_odd_browsers && browser % 2 == 1)
            .then(|| (browser / 2) % self.topology.properties_per_org);
        BrowserConfig {
            org,
            browser,
            tabs: self.topology.tabs_per_browser,
            property,
            login_timeout_ms: self.config.login_timeout_ms,
            login_retry_ms: self.config.login_retry_ms,
            provider: {
                // Users stop writing when the fault phase ends, so the settle window is quiet.
                let mut p = self.config.provider.clone();
                p.writes.until = self.duration;
                p
            },
            platform: self.config.platform.clone(),
        }
    }

    /// Load and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, InputError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InputError {
            file: file.clone(),
            line: None,
            field: "-".to_string(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(&file, &text).map(|mut s| {
            s.path = path.to_path_buf();
            s
        })
    }

    /// Parse and validate scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, InputError> {
        let err_at =
            |span: Option<std::ops::Range<usize>>, field: &str, message: String| InputError {
                file: file.to_string(),
                line: span.map(|s| line_of(text, s.start)),
                field: field.to_string(),
                message,
            };
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let field = field_of_toml_error(text, &e).unwrap_or_else(|| "-".to_string());
            err_at(e.span(), &field, message)
        })?;

        let mut config = SimConfig::default();
        for (name, value) in &raw.params {
            let v = match value.get_ref() {
                toml::Value::Integer(i) if *i >= 0 => ParamValue::Int(*i as u64),
                toml::Value::Integer(i) => {
                    return Err(err_at(
                        span(value),
                        &format!("params.{name}"),
                        format!("{i} is negative"),
                    ))
                }
                toml::Value::Float(f) => ParamValue::Float(*f),
                toml::Value::Boolean(b) => ParamValue::Bool(*b),
                toml::Value::String(s) => ParamValue::Str(s.clone()),
                other => {
                    return Err(err_at(
                        span(value),
                        &format!("params.{name}"),
                        format!("unsupported value {other}"),
                    ))
                }
            };
            config
                .set(name, v)
                .map_err(|m| err_at(span(value), &format!("params.{name}"), m))?;
        }
        if let Err((name, message)) = config.validate() {
            let s = raw.params.get(name).map(|v| v.span());
            return Err(err_at(s, &format!("params.{name}"), message));
        }

        let t = &raw.topology;
        let range = |v: &Spanned<i64>, field: &str, lo: i64, hi: i64| -> Result<u32, InputError> {
            let x = *v.get_ref();
            if x < lo || x > hi {
                Err(err_at(
                    span(v),
                    field,
                    format!("{x} is out of range {lo}..={hi}"),
                ))
            } else {
                Ok(x as u32)
            }
        };
        let topology = Topology {
            orgs: range(&t.orgs, "topology.orgs", 1, 10_000)?,
            properties_per_org: range(
                &t.properties_per_org,
                "topology.properties_per_org",
                1,
                1_000,
            )?,
            browsers_per_org: range(&t.browsers_per_org, "topology.browsers_per_org", 1, 1_000)?,
            tabs_per_browser: range(&t.tabs_per_browser, "topology.tabs_per_browser", 1, 64)?,
        };
        let total_tabs = topology.orgs as u64
            * topology.browsers_per_org as u64
            * topology.tabs_per_browser as u64;
        if total_tabs > 100_000 {
            return Err(err_at(
                span(&t.orgs),
                "topology",
                format!("{total_tabs} tabs in all; at most 100000"),
            ));
        }
        let seconds = |v: &Spanned<f64>, field: &str, hi: f64| -> Result<u64, InputError> {
            let x = *v.get_ref();
            if !x.is_finite() || x < 0.0 || x > hi {
                Err(err_at(
                    span(v),
                    field,
                    format!("{x} is out of range 0..={hi} seconds"),
                ))
            } else {
                Ok((x * 1000.0).round() as u64)
            }
        };
        let duration_ms = seconds(&raw.duration_s, "duration_s", 86_400.0)?;
        if duration_ms == 0 {
            return Err(err_at(
                span(&raw.duration_s),
                "duration_s",
                "must be positive".to_string(),
            ));
        }
        let settle_ms = seconds(&raw.settle_s, "settle_s", 86_400.0)?;
        let rate = *raw.workload.mutations_per_s.get_ref();
        if !rate.is_finite() || !(0.0..=1_000.0).contains(&rate) {
            return Err(err_at(
                span(&raw.workload.mutations_per_s),
                "workload.mutations_per_s",
                format!("{rate} is out of range 0..=1000"),
            ));
        }

        let entities = match &raw.workload.entities {
            None => vec![EntityType::Revenue],
            Some(list) => {
                let mut out = Vec::new();
                for name in list.get_ref() {
                    let e = EntityType::parse(name)
                        .map_err(|m| err_at(span(list), "workload.entities", m))?;
                    if !out.contains(&e) {
                        out.push(e);
                    }
                }
                if out.is_empty() {
                    return Err(err_at(
                        span(list),
                        "workload.entities",
                        "names no entity".to_string(),
                    ));
                }
                out
            }
        };

        let mut faults = Vec::new();
        for (i, f) in raw.fault.iter().enumerate() {
            let field = |name: &str| format!("fault[{i}].{name}");
            let at = seconds(&f.at_s, &field("at_s"), 86_400.0)?;
            if at >= duration_ms {
                return Err(err_at(
                    span(&f.at_s),
                    &field("at_s"),
                    format!(
                        "fault at {}s is not before the end of the fault phase ({}s)",
                        at as f64 / 1000.0,
                        duration_ms as f64 / 1000.0
                    ),
                ));
            }
            let for_ms = match &f.for_s {
                Some(v) => {
                    let ms = seconds(v, &field("for_s"), 86_400.0)?;
                    if ms == 0 {
                        return Err(err_at(
                            span(v),
                            &field("for_s"),
                            "must be positive".to_string(),
                        ));
                    }
                    Some(ms)
                }
                None => None,
            };
            let target = match &f.target {
                Some(t) => parse_target(t.get_ref(), &topology)
                    .map_err(|m| err_at(span(t), &field("target"), m))?,
                None => Target::Server,
            };
            let kind_span = span(&f.kind);
            let unexpected = |name: &str, present: bool| -> Result<(), InputError> {
                if present {
                    Err(err_at(
                        kind_span.clone(),
                        &field(name),
                        format!("not a field of fault kind {:?}", f.kind.get_ref()),
                    ))
                } else {
                    Ok(())
                }
            };
            let kind = match f.kind.get_ref().as_str() {
                "partition" | "server_restart" | "reset_connections" | "token_expire"
                | "refresh_fail" | "refresh_slow" | "echo_drop" | "mutate_slow" | "stream_down" => {
                    unexpected("direction", f.direction.is_some())?;
                    unexpected("ms", f.ms.is_some())?;
                    unexpected("count", f.count.is_some())?;
                    match f.kind.get_ref().as_str() {
                        "partition" => FaultKind::Partition,
                        "server_restart" => FaultKind::ServerRestart,
                        "token_expire" => FaultKind::TokenExpire,
                        "refresh_fail" => FaultKind::Refresh(RefreshMode::Fail),
                        "refresh_slow" => FaultKind::Refresh(RefreshMode::Slow),
                        "echo_drop" => FaultKind::EchoDrop,
                        "mutate_slow" => FaultKind::MutateSlow,
                        "stream_down" => FaultKind::StreamDown,
                        _ => FaultKind::ResetConnections,
                    }
                }
                "partition_oneway" => {
                    unexpected("ms", f.ms.is_some())?;
                    unexpected("count", f.count.is_some())?;
                    let d = f.direction.as_ref().ok_or_else(|| {
                        err_at(
                            kind_span.clone(),
                            &field("direction"),
                            "partition_oneway needs direction = \"to_server\" | \"from_server\""
                                .to_string(),
                        )
                    })?;
                    match d.get_ref().as_str() {
                        "to_server" => FaultKind::PartitionOneway(Direction::ToServer),
                        "from_server" => FaultKind::PartitionOneway(Direction::FromServer),
                        other => {
                            return Err(err_at(
                                span(d),
                                &field("direction"),
                                format!("{other:?} is not \"to_server\" or \"from_server\""),
                            ))
                        }
                    }
                }
                "latency" => {
                    unexpected("direction", f.direction.is_some())?;
                    unexpected("count", f.count.is_some())?;
                    let ms = f.ms.as_ref().ok_or_else(|| {
                        err_at(
                            kind_span.clone(),
                            &field("ms"),
                            "latency needs ms".to_string(),
                        )
                    })?;
                    FaultKind::Latency {
                        ms: range(ms, &field("ms"), 0, 60_000)? as u64,
                    }
                }
                "burst" => {
                    unexpected("direction", f.direction.is_some())?;
                    unexpected("ms", f.ms.is_some())?;
                    let c = f.count.as_ref().ok_or_else(|| {
                        err_at(
                            kind_span.clone(),
                            &field("count"),
                            "burst needs count".to_string(),
                        )
                    })?;
                    FaultKind::Burst {
                        count: range(c, &field("count"), 1, 1_000_000)?,
                    }
                }
                other => match TAB_FAULTS.iter().find(|(n, _)| *n == other) {
                    Some((_, action)) => {
                        unexpected("direction", f.direction.is_some())?;
                        unexpected("ms", f.ms.is_some())?;
                        unexpected("count", f.count.is_some())?;
                        FaultKind::Tab(*action)
                    }
                    None => {
                        let tab_kinds: Vec<&str> = TAB_FAULTS.iter().map(|(n, _)| *n).collect();
                        return Err(err_at(kind_span, &field("kind"), format!("unknown fault kind {other:?}; known: partition, partition_oneway, latency, server_restart, reset_connections, burst, token_expire, refresh_fail, refresh_slow, echo_drop, mutate_slow, stream_down, {}", tab_kinds.join(", "))));
                    }
                },
            };
            let target_ok = match (&kind, &target) {
                (
                    FaultKind::ServerRestart
                    | FaultKind::Refresh(_)
                    | FaultKind::MutateSlow
                    | FaultKind::StreamDown,
                    Target::Server,
                ) => true,
                (
                    FaultKind::ServerRestart
                    | FaultKind::Refresh(_)
                    | FaultKind::MutateSlow
                    | FaultKind::StreamDown,
                    _,
                ) => false,
                (FaultKind::EchoDrop, Target::Org(_)) => true,
                (FaultKind::EchoDrop, _) => false,
                (FaultKind::TokenExpire, Target::Browser(..)) => true,
                (FaultKind::TokenExpire, _) => false,
                (FaultKind::Burst { .. }, Target::Org(_)) => true,
                (FaultKind::Burst { .. }, _) => false,
                (FaultKind::Tab(a), Target::Browser(..)) => browser_wide(*a),
                (FaultKind::Tab(a), Target::Tab(..) | Target::Leader(..)) => !browser_wide(*a),
                (FaultKind::Tab(_), _) => false,
                (_, Target::Leader(..)) => false,
                (_, _) => true,
            };
            if !target_ok {
                let t = f.target.as_ref().map(|t| t.span());
                let want = match kind {
                    FaultKind::Burst { .. } | FaultKind::EchoDrop => "org<i>",
                    FaultKind::ServerRestart
                    | FaultKind::Refresh(_)
                    | FaultKind::MutateSlow
                    | FaultKind::StreamDown => "server",
                    FaultKind::Tab(a) if browser_wide(a) => "org<i>/browser<j>",
                    FaultKind::TokenExpire => "org<i>/browser<j>",
                    FaultKind::Tab(_) => "org<i>/browser<j>/tab<k> or leader:org<i>/browser<j>",
                    _ => "server, org<i>, org<i>/browser<j> or org<i>/browser<j>/tab<k>",
                };
                return Err(err_at(
                    t.or(kind_span),
                    &field("target"),
                    format!("{} takes target {want}, not {target}", f.kind.get_ref()),
                ));
            }
            faults.push(Fault {
                id: 0,
                at: SimTime(at),
                kind,
                target,
                for_ms,
            });
        }
        faults.sort_by_key(|f| f.at);
        for (i, f) in faults.iter_mut().enumerate() {
            f.id = i as u64;
        }

        let expect = match &raw.expect {
            Some(e) => {
                for (list, name) in [(&e.hold, "hold"), (&e.fail, "fail")] {
                    for id in list.get_ref() {
                        if !(ORACLES.contains(&id.as_str()) || (name == "hold" && id == "all")) {
                            return Err(err_at(
                                span(list),
                                &format!("expect.{name}"),
                                format!(
                                    "unknown oracle id {id:?}; known: all, {}",
                                    ORACLES.join(", ")
                                ),
                            ));
                        }
                    }
                }
                Expect {
                    hold: e.hold.get_ref().clone(),
                    fail: e.fail.get_ref().clone(),
                }
            }
            None => Expect {
                hold: vec!["all".to_string()],
                fail: vec![],
            },
        };

        Ok(Scenario {
            path: PathBuf::from(file),
            name: raw.name,
            about: raw.about,
            duration: SimTime(duration_ms),
            settle_ms,
            topology,
            mutations_per_s: rate,
            entities,
            faults,
            expect,
            config,
        })
    }
}

fn parse_target(text: &str, topo: &Topology) -> Result<Target, String> {
    let bad = || {
        format!("{text:?} is not a target; expected server, org<i>, org<i>/browser<j>, org<i>/browser<j>/tab<k> or leader:org<i>/browser<j>")
    };
    if text == "server" {
        return Ok(Target::Server);
    }
    if let Some(rest) = text.strip_prefix("leader:") {
        return match parse_target(rest, topo)? {
            Target::Browser(o, b) => Ok(Target::Leader(o, b)),
            _ => Err(bad()),
        };
    }
    let parts: Vec<&str> = text.split('/').collect();
    let num = |part: &str, prefix: &str| -> Result<u32, String> {
        part.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(bad)
    };
    let target = match parts.as_slice() {
        [o] => Target::Org(num(o, "org")?),
        [o, b] => Target::Browser(num(o, "org")?, num(b, "browser")?),
        [o, b, t] => Target::Tab(num(o, "org")?, num(b, "browser")?, num(t, "tab")?),
        _ => return Err(bad()),
    };
    let (o, b, t) = match target {
        Target::Org(o) => (o, 0, 0),
        Target::Browser(o, b) => (o, b, 0),
        Target::Tab(o, b, t) => (o, b, t),
        Target::Server | Target::Leader(..) => unreachable!("parsed above"),
    };
    if o >= topo.orgs || b >= topo.browsers_per_org || t >= topo.tabs_per_browser {
        return Err(format!(
            "{text:?} is outside the topology ({} orgs, {} browsers per org, {} tabs per browser)",
            topo.orgs, topo.browsers_per_org, topo.tabs_per_browser
        ));
    }
    Ok(target)
}

fn span<T>(s: &Spanned<T>) -> Option<std::ops::Range<usize>> {
    Some(s.span())
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The field a toml or serde error is about: named in the message ("unknown
/// field `x`", "missing field `y`"), or else the key on the line it points at.
fn field_of_toml_error(text: &str, e: &toml::de::Error) -> Option<String> {
    let message = e.message();
    if message.contains("field `") {
        return message.split('`').nth(1).map(str::to_string);
    }
    let start = e.span()?.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    Some(key.trim().to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    about: String,
    duration_s: Spanned<f64>,
    #[serde(default = "zero_seconds")]
    settle_s: Spanned<f64>,
    topology: RawTopology,
    #[serde(default)]
    params: BTreeMap<String, Spanned<toml::Value>>,
    workload: RawWorkload,
    #[serde(default)]
    fault: Vec<RawFault>,
    expect: Option<RawExpect>,
}

fn zero_seconds() -> Spanned<f64> {
    Spanned::new(0..0, 0.0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    orgs: Spanned<i64>,
    properties_per_org: Spanned<i64>,
    browsers_per_org: Spanned<i64>,
    tabs_per_browser: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    mutations_per_s: Spanned<f64>,
    /// "revenue", "expense", "task"; revenues alone when absent.
    #[serde(default)]
    entities: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at_s: Spanned<f64>,
    kind: Spanned<String>,
    target: Option<Spanned<String>>,
    for_s: Option<Spanned<f64>>,
    direction: Option<Spanned<String>>,
    ms: Option<Spanned<i64>>,
    count: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default = "all")]
    hold: Spanned<Vec<String>>,
    #[serde(default = "none")]
    fail: Spanned<Vec<String>>,
}

fn none() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec![])
}

fn all() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["all".to_string()])
}
