//! Histories recorded outside the simulator, for `rtsim check`: an
//! end-to-end browser test, the probe's real tabs (`probe/lease.mjs`),
//! sampled production telemetry. The same oracles judge them as judge a
//! simulated run, each only if the recording holds what it reads
//! (`check::Reads`); the others are reported as not checkable, never as
//! passing.
//!
//! The format (schema 1) is JSON Lines in the trace's own spelling, so a
//! trace rtsim wrote, cut to these kinds and given a header, is a recording
//! too. The first line is the header:
//!
//! ```json
//! {"kind":"recording","schema":1,"source":"who recorded it","records":["role","lifecycle"],
//!  "params":{"scope":"browser-org","takeover_ms":3000},"end":130000}
//! ```
//!
//! `records` lists the kinds the recorder captured (a kind it lists but never
//! saw happened zero times; a kind it does not list is unknown); `params` are
//! `rtsim params` names, for the oracles' bounds and the election's scope;
//! `end` is when recording stopped, in ms (default: the last line's time).
//! Every other line is one observation, at `t` ms from the start of the
//! recording (a fraction is cut to the millisecond), in time order:
//!
//! | kind | fields |
//! |---|---|
//! | `role` | `tab`, `scope`, `role` (follower, claiming, leader, solo, closed), `seq`, `cause` |
//! | `lifecycle` | `tab`, `what`: a tab's open, hide, show, freeze, thaw, close, crash, focus, blur, logout; a browser's (`tab` = `org<i>/browser<j>`) login, broadcastoff, broadcaston, locksoff, lockson |
//! | `fault` | `what` |
//! | `heal` | |
//! | `request` | `tab`, `req`, `what` (poll, refetch, refresh, ...), `path`, `bearer` |
//! | `response` | `tab`, `req`, `outcome` (`{"status":200}`, net_error, timeout, aborted), `events` |
//! | `signed_out` | `tab`, `cause`: the tab dropped its session |
//! | `token_issued` | `org`, `user` (the browser), `session`, `via` ("login" or "refresh"), `expires_at` |
//!
//! With `scope = "session"` (the default) an election's scope is the login
//! session its browser last signed in with, so such a recording must hold
//! `token_issued`; a recording of one session per browser says
//! `scope = "browser-org"`.
//!
//! A tab is `org<i>/browser<j>/tab<k>`. A malformed line is an `InputError`
//! naming the file, the line and the field.

use crate::check::{Check, End, Reads, Recorded, Violation, ENTRIES};
use crate::observation::{Actor, FinalState, Observation, Outcome, RequestKind, Role, Step};
use crate::params::ParamValue;
use crate::scenario::{Expect, InputError, Scenario, SimConfig, Topology};
use crate::time::SimTime;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The observation kinds schema 1 carries.
pub const KINDS: [&str; 8] = [
    "role",
    "lifecycle",
    "fault",
    "heal",
    "request",
    "response",
    "token_issued",
    "signed_out",
];

/// The lifecycle changes schema 1 carries, as rtsim's traces spell them: a
/// tab's, and a browser's own (a login, a platform switch).
const LIFECYCLE: [&str; 19] = [
    "open",
    "hide",
    "show",
    "freeze",
    "thaw",
    "close",
    "crash",
    "focus",
    "blur",
    "logout",
    "login",
    "broadcastoff",
    "broadcaston",
    "locksoff",
    "lockson",
    "cpu_throttle",
    "cpu_unthrottle",
    "pagehide",
    "pageshow",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    schema: u32,
    #[serde(default)]
    source: String,
    records: Vec<String>,
    #[serde(default)]
    params: BTreeMap<String, Value>,
    end: Option<f64>,
}

/// One observation line without its `kind` and `t`, externally tagged by
/// its kind so that an error names the field that is wrong.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Role {
        tab: Actor,
        scope: String,
        role: Role,
        seq: u64,
        cause: String,
    },
    Lifecycle {
        tab: Actor,
        what: String,
    },
    Fault {
        what: String,
    },
    Heal {},
    Request {
        tab: Actor,
        req: u64,
        what: RequestKind,
        #[serde(default)]
        path: String,
        bearer: bool,
    },
    Response {
        tab: Actor,
        req: u64,
        outcome: Outcome,
        events: usize,
    },
    TokenIssued {
        org: u32,
        user: u32,
        session: u64,
        via: String,
        expires_at: SimTime,
    },
    SignedOut {
        tab: Actor,
        cause: String,
    },
}

impl Line {
    fn into_observation(self) -> Observation {
        match self {
            Line::Role {
                tab,
                scope,
                role,
                seq,
                cause,
            } => Observation::Role {
                tab,
                scope,
                role,
                seq,
                cause,
            },
            Line::Lifecycle { tab, what } => Observation::Lifecycle { tab, what },
            Line::Fault { what } => Observation::Fault { what },
            Line::Heal {} => Observation::Heal,
            Line::Request {
                tab,
                req,
                what,
                path,
                bearer,
            } => Observation::Request {
                tab,
                req,
                what,
                path,
                bearer,
            },
            Line::Response {
                tab,
                req,
                outcome,
                events,
            } => Observation::Response {
                tab,
                req,
                outcome,
                events,
            },
            Line::TokenIssued {
                org,
                user,
                session,
                via,
                expires_at,
            } => Observation::TokenIssued {
                org,
                user,
                session,
                via,
                expires_at,
            },
            Line::SignedOut { tab, cause } => Observation::SignedOut { tab, cause },
        }
    }
}

/// A recorded history, read and validated.
#[derive(Debug)]
pub struct Recording {
    /// What the oracles read besides the steps: the header's parameters, the
    /// topology the tabs imply, the end of the recording.
    pub scenario: Scenario,
    pub source: String,
    /// The kinds the recorder captured.
    pub records: Vec<String>,
    pub steps: Vec<Step>,
}

/// The file being read: what errors point into.
struct Reader<'a> {
    file: &'a str,
    line: usize,
}

impl Reader<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> InputError {
        InputError {
            file: self.file.to_string(),
            line: Some(self.line),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The line as a JSON object, with its `kind` taken out.
    fn object(&self, text: &str) -> Result<(String, serde_json::Map<String, Value>), InputError> {
        let value: Value = serde_json::from_str(text).map_err(|e| self.err("-", e.to_string()))?;
        let Value::Object(mut map) = value else {
            return Err(self.err("-", "not a JSON object"));
        };
        match map.remove("kind") {
            Some(Value::String(kind)) => Ok((kind, map)),
            Some(other) => Err(self.err("kind", format!("{other} is not a string"))),
            None => Err(self.err("kind", "missing")),
        }
    }

    /// Deserialise `value`; an error names the field by its path.
    fn typed<T: for<'de> Deserialize<'de>>(
        &self,
        value: Value,
        strip: &str,
    ) -> Result<T, InputError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            // A missing field is reported at the object that lacks it: name the field itself.
            let absent = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match absent {
                Some(name) => name,
                None => path.strip_prefix(strip).unwrap_or(&path),
            };
            let field = if field.is_empty() || field == "." {
                "-"
            } else {
                field
            }
            .to_string();
            self.err(&field, message)
        })
    }

    /// A time in ms: a finite number, not negative.
    fn millis(&self, value: Option<&Value>, field: &str) -> Result<SimTime, InputError> {
        match value.and_then(Value::as_f64) {
            Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(SimTime(ms as u64)),
            Some(ms) => Err(self.err(field, format!("{ms} is not a time in ms"))),
            None if value.is_none() => Err(self.err(field, "missing")),
            None => Err(self.err(field, "not a number of ms")),
        }
    }

    fn header(&self, text: &str) -> Result<(Header, SimConfig), InputError> {
        let (kind, map) = self.object(text)?;
        if kind != "recording" {
            let message = format!("the first line is the header, kind \"recording\", not {kind:?}");
            return Err(self.err("kind", message));
        }
        let header: Header = self.typed(Value::Object(map), "")?;
        if header.schema != 1 {
            let message = format!(
                "schema {} is unknown; this rtsim reads schema 1",
                header.schema
            );
            return Err(self.err("schema", message));
        }
        for kind in &header.records {
            if !KINDS.contains(&kind.as_str()) {
                let message = format!(
                    "{kind:?} is not a kind schema 1 carries ({})",
                    KINDS.join(", ")
                );
                return Err(self.err("records", message));
            }
        }
        let mut config = SimConfig::default();
        for (name, value) in &header.params {
            let field = format!("params.{name}");
            let v = match value {
                Value::Bool(b) => ParamValue::Bool(*b),
                Value::String(s) => ParamValue::Str(s.clone()),
                Value::Number(n) => match n.as_u64() {
                    Some(i) => ParamValue::Int(i),
                    None => ParamValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => return Err(self.err(&field, format!("unsupported value {other}"))),
            };
            config.set(name, &v).map_err(|m| self.err(&field, m))?;
        }
        if let Err((name, message)) = config.validate() {
            return Err(self.err(&format!("params.{name}"), message));
        }
        let by_session = config.provider.leader.scope == crate::client::leader::Scope::Session;
        if by_session && !header.records.iter().any(|k| k == "token_issued") {
            let message = "session-scoped elections (the default) need token_issued records; \
                a recording of one session per browser sets scope = \"browser-org\"";
            return Err(self.err("params.scope", message));
        }
        Ok((header, config))
    }

    /// One observation line, of a kind the header lists.
    fn step(&self, text: &str, records: &[String]) -> Result<Step, InputError> {
        let (kind, mut map) = self.object(text)?;
        if !KINDS.contains(&kind.as_str()) {
            let message = format!(
                "{kind:?} is not a kind schema 1 carries ({})",
                KINDS.join(", ")
            );
            return Err(self.err("kind", message));
        }
        if !records.contains(&kind) {
            return Err(self.err(
                "kind",
                format!("{kind:?} is not among the header's records"),
            ));
        }
        let t = self.millis(map.remove("t").as_ref(), "t")?;
        let mut tagged = serde_json::Map::new();
        tagged.insert(kind.clone(), Value::Object(map));
        let line: Line = self.typed(Value::Object(tagged), &format!("{kind}."))?;
        if let Line::Lifecycle { what, .. } = &line {
            if !LIFECYCLE.contains(&what.as_str()) {
                let message = format!("{what:?} is not one of {}", LIFECYCLE.join(", "));
                return Err(self.err("what", message));
            }
        }
        Ok(Step {
            t,
            obs: line.into_observation(),
        })
    }
}

impl Recording {
    pub fn load(path: &Path) -> Result<Recording, InputError> {
        let (file, text) = InputError::read(path)?;
        Recording::parse(&file, &text)
    }

    /// Read a recording; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Recording, InputError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((first, head)) = lines.next() else {
            let reader = Reader { file, line: 1 };
            return Err(reader.err("kind", "empty: the first line is the header"));
        };
        let (header, config) = Reader {
            file,
            line: first + 1,
        }
        .header(head)?;
        let mut steps: Vec<Step> = Vec::new();
        for (i, text) in lines {
            let reader = Reader { file, line: i + 1 };
            let step = reader.step(text, &header.records)?;
            if let Some(last) = steps.last().filter(|last| step.t < last.t) {
                let message = format!(
                    "{} is earlier than the line before ({})",
                    step.t.0, last.t.0
                );
                return Err(reader.err("t", message));
            }
            steps.push(step);
        }
        let last = steps.last().map_or(SimTime::ZERO, |s| s.t);
        let reader = Reader {
            file,
            line: first + 1,
        };
        let end = match header.end {
            None => last,
            Some(_) => reader.millis(Some(&Value::from(header.end)), "end")?,
        };
        if end < last {
            let message = format!("{} is before the last observation ({})", end.0, last.0);
            return Err(reader.err("end", message));
        }
        Ok(Recording {
            scenario: scenario_of(file, &header.source, config, &steps, end),
            source: header.source,
            records: header.records,
            steps,
        })
    }

    /// Judge the recording with every oracle it holds enough for.
    pub fn judge(&self) -> Judgement {
        let recorded = Recorded::Only(&self.records);
        let last = FinalState::default();
        let end = End {
            scenario: &self.scenario,
            last: &last,
        };
        let mut verdicts = Vec::new();
        let mut violations = Vec::new();
        for entry in ENTRIES {
            let mut unjudged = None;
            let status = if entry.judges_on(recorded) {
                let mut check: Box<dyn Check> = (entry.make)(&self.scenario, recorded);
                for step in &self.steps {
                    check.step(&self.scenario, step);
                }
                let found = check.finish(&end);
                if let Some((part, kinds)) = entry.part {
                    if !recorded.has_all(kinds) {
                        let missing = missing(kinds, &self.records);
                        unjudged = Some(format!("{part} (no {missing} recorded)"));
                    }
                }
                let status = Status::judged(found.len());
                violations.extend(found);
                status
            } else {
                Status::NotCheckable(match entry.reads {
                    Reads::Kinds(kinds) => format!("no {} recorded", missing(kinds, &self.records)),
                    Reads::Simulation(what) => format!("it reads {what}"),
                })
            };
            verdicts.push(Verdict {
                oracle: entry.oracle,
                judges: entry.judges,
                unjudged,
                status,
            });
        }
        violations.sort_by(|a, b| (a.t, a.oracle, &a.subject).cmp(&(b.t, b.oracle, &b.subject)));
        Judgement {
            verdicts,
            violations,
        }
    }
}

fn missing(kinds: &[&str], records: &[String]) -> String {
    let absent: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| !records.iter().any(|r| r == k))
        .collect();
    absent.join(", ")
}

/// The scenario the oracles read: the recording's parameters, the smallest
/// topology holding every tab it names, no faults planned (a recording's
/// faults are observations), and its end.
fn scenario_of(
    file: &str,
    source: &str,
    config: SimConfig,
    steps: &[Step],
    end: SimTime,
) -> Scenario {
    let mut topology = Topology {
        orgs: 1,
        properties_per_org: 1,
        browsers_per_org: 1,
        tabs_per_browser: 1,
    };
    for step in steps {
        let tab = match &step.obs {
            Observation::Role { tab, .. }
            | Observation::Lifecycle { tab, .. }
            | Observation::Request { tab, .. }
            | Observation::Response { tab, .. }
            | Observation::SignedOut { tab, .. } => *tab,
            _ => continue,
        };
        topology.orgs = topology.orgs.max(tab.org + 1);
        topology.browsers_per_org = topology.browsers_per_org.max(tab.browser + 1);
        topology.tabs_per_browser = topology.tabs_per_browser.max(tab.tab.map_or(0, |t| t + 1));
    }
    Scenario {
        path: PathBuf::from(file),
        name: file.to_string(),
        about: source.to_string(),
        duration: end,
        settle_ms: 0,
        topology,
        mutations_per_s: 0.0,
        entities: Vec::new(),
        faults: Vec::new(),
        expect: Expect {
            hold: Vec::new(),
            fail: Vec::new(),
        },
        config,
        replay: None,
        platform_override: None,
    }
}

/// What `rtsim check` found: each oracle's verdict, and every violation in time order.
pub struct Judgement {
    pub verdicts: Vec<Verdict>,
    pub violations: Vec<Violation>,
}

pub struct Verdict {
    pub oracle: &'static str,
    /// What the checker judges...
    pub judges: &'static str,
    /// ...and the part it could not, for want of data.
    pub unjudged: Option<String>,
    pub status: Status,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Held,
    /// This many violations.
    Broken(usize),
    /// The recording lacks what the checker reads: why.
    NotCheckable(String),
}

impl Status {
    fn judged(violations: usize) -> Status {
        if violations == 0 {
            Status::Held
        } else {
            Status::Broken(violations)
        }
    }
}

impl Judgement {
    /// The judgement as one JSON object (`rtsim check --format json`): kind
    /// "check", the file, its source, each checker's status, every violation.
    pub fn to_json(&self, file: &str, rec: &Recording) -> Value {
        let verdicts: Vec<Value> = self
            .verdicts
            .iter()
            .map(|v| {
                let (status, violations, why) = match &v.status {
                    Status::Held => ("pass", 0, None),
                    Status::Broken(n) => ("fail", *n, None),
                    Status::NotCheckable(why) => ("not_checkable", 0, Some(why.clone())),
                };
                serde_json::json!({
                    "oracle": v.oracle,
                    "judges": v.judges,
                    "status": status,
                    "violations": violations,
                    "why": why,
                    "not_judged": v.unjudged,
                })
            })
            .collect();
        serde_json::json!({
            "kind": "check",
            "file": file,
            "source": rec.source,
            "observations": rec.steps.len(),
            "end_ms": rec.scenario.end().as_ms(),
            "pass": self.held(),
            "verdicts": verdicts,
            "violations": self.violations,
        })
    }

    /// The report `rtsim check` prints: each judged checker with its
    /// verdict, then the oracles not checkable, grouped by why.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let mut not_checkable: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for v in &self.verdicts {
            let status = match &v.status {
                Status::Held => "pass".to_string(),
                Status::Broken(n) => format!("FAIL ({n})"),
                Status::NotCheckable(why) => {
                    let ids = not_checkable.entry(why).or_default();
                    if ids.last() != Some(&v.oracle) {
                        ids.push(v.oracle);
                    }
                    continue;
                }
            };
            out.push_str(&format!("  {:<4} {status:<9} {}\n", v.oracle, v.judges));
            if let Some(part) = &v.unjudged {
                out.push_str(&format!("  {:<4} {:<9} not judged: {part}\n", "", ""));
            }
        }
        for (why, ids) in not_checkable {
            out.push_str(&format!("  not checkable ({why}): {}\n", ids.join(", ")));
        }
        for violation in &self.violations {
            out.push_str(&format!("  violation: {violation}\n"));
        }
        out
    }

    /// Whether every checkable oracle held.
    pub fn held(&self) -> bool {
        self.violations.is_empty()
    }

    /// The oracles judged, the broken ones, and the verdict.
    pub fn summary(&self) -> String {
        let broken: Vec<&str> = self
            .verdicts
            .iter()
            .filter(|v| matches!(v.status, Status::Broken(_)))
            .map(|v| v.oracle)
            .collect();
        let judged = self
            .verdicts
            .iter()
            .filter(|v| !matches!(v.status, Status::NotCheckable(_)))
            .count();
        let mut broken_ids = broken.clone();
        broken_ids.dedup();
        match broken_ids.is_empty() {
            true => format!(
                "pass ({judged} checkers judged, {} not checkable)",
                self.verdicts.len() - judged
            ),
            false => format!(
                "fail ({}; {judged} checkers judged, {} not checkable)",
                broken_ids.join(", "),
                self.verdicts.len() - judged
            ),
        }
    }
}
