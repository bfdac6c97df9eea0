//! Scenario files (`sims/*.toml`): loading and validation.
//!
//! A scenario names one behaviour: a topology, the parameters that differ from
//! the seed documents' defaults, a workload, scripted faults and which oracles
//! must hold or must fail. A bad file is an `InputError` naming the file, the
//! line and the field, never a panic; the CLI turns it into exit code 2.

use crate::browser::BrowserConfig;
use crate::driver::Driver;
use crate::event::EntityType;
use crate::faults::{parse_target, FaultArgs, FaultField, FaultSpec, FAULT_KINDS};
pub use crate::faults::{Direction, Fault, FaultKind, Target};
use crate::mutant::Mutant;
use crate::params::ParamValue;
pub use crate::params::{CheckConfig, NetConfig, SimConfig};
use crate::query::{Filter, Lists};
use crate::server::ServerConfig;
use crate::time::SimTime;
pub use crate::topology::Topology;
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

impl InputError {
    /// An input file's name (as errors spell it) and text, or why it cannot be read.
    pub fn read(path: &Path) -> Result<(String, String), InputError> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((file, text)),
            Err(e) => Err(InputError {
                file,
                line: None,
                field: "-".to_string(),
                message: format!("cannot read: {e}"),
            }),
        }
    }
}

pub const ORACLES: [&str; 14] = [
    "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O11", "O12", "O13", "O14",
];
/// The oracles the walking skeleton checks; `hold = ["all"]` means these.
/// O11 is not among them: a scenario on a healthy network opts in by listing it.
pub const CHECKED_ORACLES: [&str; 13] = [
    "O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10", "O12", "O13", "O14",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    pub hold: Vec<String>,
    pub fail: Vec<String>,
}

/// `[replay]`: a regression case (`sims/regressions/`) names the seeds that
/// once failed, the driver they failed on and what failed, so `cargo test`
/// replays exactly that.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub seeds: Vec<u64>,
    pub driver: Driver,
    /// The oracle that failed before the fix.
    pub oracle: String,
    /// A mutant case: with this mutant on the oracle must fail, with it off hold.
    pub mutant: Option<Mutant>,
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
    pub replay: Option<Replay>,
    /// The platform profile given on the command line instead of the
    /// file's (`--platform-profile`), so a replay line can say so.
    pub platform_override: Option<String>,
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
            streams: (self.config.provider.transport == crate::client::Transport::Stream)
                .then(|| self.config.stream.clone()),
            orgs: self.topology.orgs,
            properties_per_org: self.topology.properties_per_org,
            mutations_per_s: self.mutations_per_s,
            entities: self.entities.clone(),
            workload_until: self.duration,
        }
    }

    /// The property a browser's tabs filter to, as declared: odd-numbered
    /// browsers filter to one when the scenario says so.
    pub fn browser_property(&self, browser: u32) -> Option<crate::event::PropertyId> {
        (self.config.filter_odd_browsers && browser % 2 == 1)
            .then(|| (browser / 2) % self.topology.properties_per_org)
    }

    pub fn browser_config(&self, org: u32, browser: u32) -> BrowserConfig {
        let property = self.browser_property(browser);
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
            probe_ms: (org == 0 && browser == 0 && self.config.ops_probe_ms > 0)
                .then_some(self.config.ops_probe_ms),
        }
    }

    /// Follow platform profile `name` ("idealised", "chromium" or a profile
    /// file) instead of the one the file names (`--platform-profile`).
    pub fn with_platform_profile(&mut self, name: &str) -> Result<(), InputError> {
        let profile = crate::browser::profile::PlatformProfile::named(name).map_err(|message| {
            InputError {
                file: self.path.display().to_string(),
                line: None,
                field: "--platform-profile".to_string(),
                message,
            }
        })?;
        self.config.platform.profile = profile;
        self.platform_override = Some(name.to_string());
        Ok(())
    }

    /// Load and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, InputError> {
        let (file, text) = InputError::read(path)?;
        Scenario::parse(&file, &text).map(|mut s| {
            s.path = path.to_path_buf();
            s
        })
    }

    /// Parse and validate scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, InputError> {
        let src = Source { file, text };
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let field = field_of_toml_error(text, &e).unwrap_or_else(|| "-".to_string());
            src.err(e.span(), &field, message)
        })?;
        let config = src.params(&raw.params)?;
        let topology = src.topology(&raw.topology)?;
        let duration_ms = src.seconds(&raw.duration_s, "duration_s", 86_400.0)?;
        if duration_ms == 0 {
            let message = "must be positive".to_string();
            return Err(src.err(span(&raw.duration_s), "duration_s", message));
        }
        let settle_ms = src.seconds(&raw.settle_s, "settle_s", 86_400.0)?;
        let (mutations_per_s, entities) = src.workload(&raw.workload)?;
        let mut faults = Vec::new();
        for (i, f) in raw.fault.iter().enumerate() {
            let stream = config.provider.transport == crate::client::Transport::Stream;
            faults.push(src.fault(i, f, &topology, duration_ms, stream)?);
        }
        faults.sort_by_key(|f| f.at);
        for (i, f) in faults.iter_mut().enumerate() {
            f.id = i as u64;
        }
        Ok(Scenario {
            path: PathBuf::from(file),
            name: raw.name,
            about: raw.about,
            duration: SimTime(duration_ms),
            settle_ms,
            topology,
            mutations_per_s,
            entities,
            faults,
            expect: src.expect(raw.expect.as_ref())?,
            config,
            replay: raw.replay.as_ref().map(|r| src.replay(r)).transpose()?,
            platform_override: None,
        })
    }
}

/// A scenario file being parsed: what errors point into.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
}

type Span = Option<std::ops::Range<usize>>;

impl Source<'_> {
    fn err(&self, span: Span, field: &str, message: String) -> InputError {
        InputError {
            file: self.file.to_string(),
            line: span.map(|s| line_of(self.text, s.start)),
            field: field.to_string(),
            message,
        }
    }

    fn range(&self, v: &Spanned<i64>, field: &str, lo: i64, hi: i64) -> Result<u32, InputError> {
        let x = *v.get_ref();
        if x < lo || x > hi {
            let message = format!("{x} is out of range {lo}..={hi}");
            Err(self.err(span(v), field, message))
        } else {
            Ok(x as u32)
        }
    }

    /// Seconds in `0..=hi`, as milliseconds.
    fn seconds(&self, v: &Spanned<f64>, field: &str, hi: f64) -> Result<u64, InputError> {
        let x = *v.get_ref();
        if !x.is_finite() || x < 0.0 || x > hi {
            let message = format!("{x} is out of range 0..={hi} seconds");
            Err(self.err(span(v), field, message))
        } else {
            Ok((x * 1000.0).round() as u64)
        }
    }

    /// `[params]`: each through the parameter table, then every range.
    fn params(
        &self,
        raw: &BTreeMap<String, Spanned<toml::Value>>,
    ) -> Result<SimConfig, InputError> {
        let mut config = SimConfig::default();
        for (name, value) in raw {
            let field = format!("params.{name}");
            let v = match value.get_ref() {
                toml::Value::Integer(i) if *i >= 0 => ParamValue::Int(*i as u64),
                toml::Value::Integer(i) => {
                    return Err(self.err(span(value), &field, format!("{i} is negative")))
                }
                toml::Value::Float(f) => ParamValue::Float(*f),
                toml::Value::Boolean(b) => ParamValue::Bool(*b),
                toml::Value::String(s) => ParamValue::Str(s.clone()),
                other => {
                    let message = format!("unsupported value {other}");
                    return Err(self.err(span(value), &field, message));
                }
            };
            config
                .set(name, &v)
                .map_err(|m| self.err(span(value), &field, m))?;
        }
        if let Err((name, message)) = config.validate() {
            let s = raw.get(name).map(|v| v.span());
            return Err(self.err(s, &format!("params.{name}"), message));
        }
        Ok(config)
    }

    fn topology(&self, t: &RawTopology) -> Result<Topology, InputError> {
        let topology = Topology {
            orgs: self.range(&t.orgs, "topology.orgs", 1, 10_000)?,
            properties_per_org: self.range(
                &t.properties_per_org,
                "topology.properties_per_org",
                1,
                1_000,
            )?,
            browsers_per_org: self.range(
                &t.browsers_per_org,
                "topology.browsers_per_org",
                1,
                1_000,
            )?,
            tabs_per_browser: self.range(
                &t.tabs_per_browser,
                "topology.tabs_per_browser",
                1,
                64,
            )?,
        };
        let total_tabs = topology.orgs as u64
            * topology.browsers_per_org as u64
            * topology.tabs_per_browser as u64;
        // A guard against a typo, not a model limit: a tab costs about 12 KB
        // (BENCHMARKS.md), so a million is 12 GB.
        if total_tabs > 1_000_000 {
            let message = format!("{total_tabs} tabs in all; at most 1000000");
            return Err(self.err(span(&t.orgs), "topology", message));
        }
        Ok(topology)
    }

    /// `[workload]`: the commit rate per org and the entities written.
    fn workload(&self, w: &RawWorkload) -> Result<(f64, Vec<EntityType>), InputError> {
        let rate = *w.mutations_per_s.get_ref();
        if !rate.is_finite() || !(0.0..=1_000.0).contains(&rate) {
            let message = format!("{rate} is out of range 0..=1000");
            return Err(self.err(
                span(&w.mutations_per_s),
                "workload.mutations_per_s",
                message,
            ));
        }
        let Some(list) = &w.entities else {
            return Ok((rate, vec![EntityType::Revenue]));
        };
        let mut entities = Vec::new();
        for name in list.get_ref() {
            let e = EntityType::parse(name)
                .map_err(|m| self.err(span(list), "workload.entities", m))?;
            if !entities.contains(&e) {
                entities.push(e);
            }
        }
        if entities.is_empty() {
            let message = "names no entity".to_string();
            return Err(self.err(span(list), "workload.entities", message));
        }
        Ok((rate, entities))
    }

    /// One `[[fault]]`, checked against its kind's row in `FAULT_KINDS`.
    fn fault(
        &self,
        i: usize,
        f: &RawFault,
        topology: &Topology,
        duration_ms: u64,
        stream: bool,
    ) -> Result<Fault, InputError> {
        let field = |name: &str| format!("fault[{i}].{name}");
        let at = self.seconds(&f.at_s, &field("at_s"), 86_400.0)?;
        if at >= duration_ms {
            let message = format!(
                "fault at {}s is not before the end of the fault phase ({}s)",
                at as f64 / 1000.0,
                duration_ms as f64 / 1000.0
            );
            return Err(self.err(span(&f.at_s), &field("at_s"), message));
        }
        let for_ms = match &f.for_s {
            Some(v) => match self.seconds(v, &field("for_s"), 86_400.0)? {
                0 => return Err(self.err(span(v), &field("for_s"), "must be positive".into())),
                ms => Some(ms),
            },
            None => None,
        };
        let target = match &f.target {
            Some(t) => parse_target(t.get_ref(), topology)
                .map_err(|m| self.err(span(t), &field("target"), m))?,
            None => Target::Server,
        };
        let name = f.kind.get_ref();
        let spec = FaultSpec::find(name).ok_or_else(|| {
            let known: Vec<&str> = FAULT_KINDS.iter().map(|k| k.name).collect();
            let message = format!("unknown fault kind {name:?}; known: {}", known.join(", "));
            self.err(span(&f.kind), &field("kind"), message)
        })?;
        if !stream
            && spec
                .fields
                .iter()
                .any(|f| matches!(f, FaultField::Lists | FaultField::Property))
        {
            // v1's page is one route with one filter: its leader's poll
            // carries every tab of the session, whatever each shows.
            let message = format!("{name} is a v2 fault: it needs params.transport = \"stream\"");
            return Err(self.err(span(&f.kind), &field("kind"), message));
        }
        let args = self.fault_args(i, f, spec, topology)?;
        if !spec.takes(&target) {
            let at = f.target.as_ref().map(|t| t.span()).or(span(&f.kind));
            let want = spec.targets_spelled();
            let message = format!("{name} takes target {want}, not {target}");
            return Err(self.err(at, &field("target"), message));
        }
        let kind = (spec.build)(&args);
        Ok(Fault {
            id: 0,
            at: SimTime(at),
            spec,
            kind,
            target,
            for_ms,
        })
    }

    /// The fields a fault kind needs, each present and in range, and no others.
    fn fault_args(
        &self,
        i: usize,
        f: &RawFault,
        spec: &FaultSpec,
        topology: &Topology,
    ) -> Result<FaultArgs, InputError> {
        let kind_span = span(&f.kind);
        let field = |name: &str| format!("fault[{i}].{name}");
        for which in FaultField::ALL {
            let present = match which {
                FaultField::Direction => f.direction.is_some(),
                FaultField::Ms => f.ms.is_some(),
                FaultField::Count => f.count.is_some(),
                FaultField::Lists => f.lists.is_some(),
                FaultField::Property => f.property.is_some(),
                FaultField::Pct => f.pct.is_some(),
            };
            let needed = spec.fields.contains(&which);
            let message = match (present, needed) {
                (true, false) => format!("not a field of fault kind {:?}", spec.name),
                (false, true) => match which {
                    FaultField::Direction => format!(
                        "{} needs direction = \"to_server\" | \"from_server\"",
                        spec.name
                    ),
                    _ => format!("{} needs {}", spec.name, which.name()),
                },
                _ => continue,
            };
            return Err(self.err(kind_span, &field(which.name()), message));
        }
        let direction = match &f.direction {
            Some(d) => Some(match d.get_ref().as_str() {
                "to_server" => Direction::ToServer,
                "from_server" => Direction::FromServer,
                other => {
                    let message = format!("{other:?} is not \"to_server\" or \"from_server\"");
                    return Err(self.err(span(d), &field("direction"), message));
                }
            }),
            None => None,
        };
        let ms = match &f.ms {
            Some(ms) => Some(self.range(ms, &field("ms"), 0, 60_000)? as u64),
            None => None,
        };
        let count = match &f.count {
            Some(c) => Some(self.range(c, &field("count"), 1, 1_000_000)?),
            None => None,
        };
        let lists = match &f.lists {
            Some(l) => {
                Some(Lists::parse(l.get_ref()).map_err(|m| self.err(span(l), &field("lists"), m))?)
            }
            None => None,
        };
        let filter = match &f.property {
            Some(p) => Some(self.filter(p, &field("property"), topology.properties_per_org)?),
            None => None,
        };
        let pct = match &f.pct {
            Some(p) => Some(self.range(p, &field("pct"), 1, 50)?),
            None => None,
        };
        Ok(FaultArgs {
            direction,
            ms,
            count,
            lists,
            filter,
            pct,
        })
    }

    /// `property = <i>` (one of the org's) or `"all"`.
    fn filter(
        &self,
        v: &Spanned<toml::Value>,
        field: &str,
        properties: u32,
    ) -> Result<Filter, InputError> {
        match v.get_ref() {
            toml::Value::String(s) if s == "all" => Ok(Filter::All),
            toml::Value::Integer(p) if (0..properties as i64).contains(p) => {
                Ok(Filter::Property(*p as u32))
            }
            other => {
                let message =
                    format!("{other} is not a property of the org (0..{properties}) or \"all\"");
                Err(self.err(span(v), field, message))
            }
        }
    }

    /// `[replay]`: seeds, a driver, a known oracle, a known mutant.
    fn replay(&self, r: &RawReplay) -> Result<Replay, InputError> {
        if r.seeds.get_ref().is_empty() {
            let message = "names no seed".to_string();
            return Err(self.err(span(&r.seeds), "replay.seeds", message));
        }
        let driver = match &r.driver {
            Some(d) => {
                Driver::parse(d.get_ref()).map_err(|m| self.err(span(d), "replay.driver", m))?
            }
            None => Driver::Express,
        };
        if !ORACLES.contains(&r.oracle.get_ref().as_str()) {
            let message = format!(
                "{:?} is not an oracle id; known: {}",
                r.oracle.get_ref(),
                ORACLES.join(", ")
            );
            return Err(self.err(span(&r.oracle), "replay.oracle", message));
        }
        let mutant = match &r.mutant {
            Some(m) => Some(
                Mutant::parse(m.get_ref()).map_err(|e| self.err(span(m), "replay.mutant", e))?,
            ),
            None => None,
        };
        Ok(Replay {
            seeds: r.seeds.get_ref().clone(),
            driver,
            oracle: r.oracle.get_ref().clone(),
            mutant,
        })
    }

    /// `[expect]`: oracle ids that must hold (or `all`) and must fail.
    fn expect(&self, raw: Option<&RawExpect>) -> Result<Expect, InputError> {
        let Some(e) = raw else {
            return Ok(Expect {
                hold: vec!["all".to_string()],
                fail: vec![],
            });
        };
        for (list, name) in [(&e.hold, "hold"), (&e.fail, "fail")] {
            for id in list.get_ref() {
                if !(ORACLES.contains(&id.as_str()) || (name == "hold" && id == "all")) {
                    let message = format!(
                        "unknown oracle id {id:?}; known: all, {}",
                        ORACLES.join(", ")
                    );
                    return Err(self.err(span(list), &format!("expect.{name}"), message));
                }
            }
        }
        Ok(Expect {
            hold: e.hold.get_ref().clone(),
            fail: e.fail.get_ref().clone(),
        })
    }
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
    replay: Option<RawReplay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplay {
    seeds: Spanned<Vec<u64>>,
    driver: Option<Spanned<String>>,
    oracle: Spanned<String>,
    mutant: Option<Spanned<String>>,
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
    lists: Option<Spanned<String>>,
    property: Option<Spanned<toml::Value>>,
    pct: Option<Spanned<i64>>,
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
