//! Scenario files (`sims/*.toml`): loading and validation.
//!
//! A scenario names one behaviour: a topology, the parameters that differ from
//! the seed documents' defaults, a workload, scripted faults and which oracles
//! must hold or must fail. A bad file is an `InputError` naming the file, the
//! line and the field, never a panic; the CLI turns it into exit code 2.

use crate::browser::{BrowserConfig, TabAction};
use crate::event::EntityType;
use crate::params::ParamValue;
pub use crate::params::{CheckConfig, NetConfig, SimConfig};
use crate::server::tokens::RefreshMode;
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
            let field = format!("params.{name}");
            let v = match value.get_ref() {
                toml::Value::Integer(i) if *i >= 0 => ParamValue::Int(*i as u64),
                toml::Value::Integer(i) => {
                    return Err(err_at(span(value), &field, format!("{i} is negative")))
                }
                toml::Value::Float(f) => ParamValue::Float(*f),
                toml::Value::Boolean(b) => ParamValue::Bool(*b),
                toml::Value::String(s) => ParamValue::Str(s.clone()),
                other => {
                    return Err(err_at(
                        span(value),
                        &field,
                        format!("unsupported value {other}"),
                    ))
                }
            };
            config
                .set(name, &v)
                .map_err(|m| err_at(span(value), &field, m))?;
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
