//! Fault kinds, declared once each: the name a scenario uses, the targets it
//! takes, the fields it needs, whether `for_s` undoes it, its doc line, and the
//! `FaultKind` it builds. Parsing, error messages, `rtsim faults` (README's
//! list) and the nemesis's undo schedule come from the `FAULT_KINDS` table.
//!
//! To add a fault kind: a `FaultKind` variant, one row here, and its
//! behaviour in `sim::nemesis::apply` (or the node it reaches).

use crate::browser::TabAction;
use crate::query::{Filter, Lists};
use crate::server::tokens::RefreshMode;
use crate::time::SimTime;
use crate::topology::Topology;
use std::fmt;

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

    fn kind(&self) -> TargetKind {
        match self {
            Target::Server => TargetKind::Server,
            Target::Org(_) => TargetKind::Org,
            Target::Browser(..) => TargetKind::Browser,
            Target::Tab(..) => TargetKind::Tab,
            Target::Leader(..) => TargetKind::Leader,
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

/// The kinds of target a fault kind takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    Server,
    Org,
    Browser,
    Tab,
    /// `leader:org<i>/browser<j>`.
    Leader,
}

impl TargetKind {
    fn spelling(self) -> &'static str {
        match self {
            TargetKind::Server => "server",
            TargetKind::Org => "org<i>",
            TargetKind::Browser => "org<i>/browser<j>",
            TargetKind::Tab => "org<i>/browser<j>/tab<k>",
            TargetKind::Leader => "leader:org<i>/browser<j>",
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
    /// Seed 003's chaos plan: the link loses `pct` percent of its packets,
    /// in bursts (see `sim::nemesis::flaps`).
    PacketLoss {
        pct: u32,
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
    /// S15: the server severs the v2 streams of an org (of every org).
    DropStream,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Its place in the scenario's fault list (sorted by time), naming it to the nodes.
    pub id: u64,
    pub at: SimTime,
    /// Its row in `FAULT_KINDS`.
    pub spec: &'static FaultSpec,
    pub kind: FaultKind,
    pub target: Target,
    /// Undone after this long; `None` lasts until the heal.
    pub for_ms: Option<u64>,
}

impl Fault {
    /// When it stops: undone after `for_ms`, and at the latest at the heal
    /// that ends the fault phase (`heal`, the scenario's duration).
    pub fn ends(&self, heal: SimTime) -> SimTime {
        self.for_ms.map_or(heal, |ms| (self.at + ms).min(heal))
    }

    /// How the trace names it: the kind, its fields, the target, how long.
    pub fn describe(&self) -> String {
        let mut kind = self.spec.name.to_string();
        match &self.kind {
            FaultKind::PartitionOneway(Direction::ToServer) => kind.push_str(" to_server"),
            FaultKind::PartitionOneway(Direction::FromServer) => kind.push_str(" from_server"),
            FaultKind::Latency { ms } | FaultKind::Tab(TabAction::CpuThrottle { ms }) => {
                kind.push_str(&format!(" {ms}ms"))
            }
            FaultKind::Burst { count } => kind.push_str(&format!(" {count}")),
            FaultKind::PacketLoss { pct } => kind.push_str(&format!(" {pct}%")),
            FaultKind::Tab(TabAction::ChangeRoute { lists: Some(l) }) => {
                let names: Vec<&str> = l.kinds().iter().map(|k| k.name()).collect();
                kind.push_str(&format!(" {}", names.join(",")));
            }
            FaultKind::Tab(TabAction::SetFilter { filter: Some(f) }) => match f {
                Filter::All => kind.push_str(" all"),
                Filter::Property(p) => kind.push_str(&format!(" {p}")),
            },
            _ => {}
        }
        match self.for_ms {
            Some(ms) => format!("{kind} {} for {}ms", self.target, ms),
            None => format!("{kind} {}", self.target),
        }
    }

    /// Whether `for_s` undoes it (a restart's `for_s` is its downtime instead).
    pub fn lasts(&self) -> bool {
        self.spec.lasts
    }

    /// What undoes a tab fault after `for_s`, if it lasts.
    pub fn undo_action(&self) -> Option<TabAction> {
        match self.kind {
            FaultKind::Tab(TabAction::Hide) => Some(TabAction::Show),
            FaultKind::Tab(TabAction::Freeze) => Some(TabAction::Thaw),
            FaultKind::Tab(TabAction::BroadcastOff) => Some(TabAction::BroadcastOn),
            FaultKind::Tab(TabAction::LocksOff) => Some(TabAction::LocksOn),
            FaultKind::Tab(TabAction::CpuThrottle { .. }) => Some(TabAction::CpuUnthrottle),
            FaultKind::Tab(TabAction::NavigateAway) => Some(TabAction::NavigateBack),
            FaultKind::Tab(TabAction::ChangeRoute { .. }) => {
                Some(TabAction::ChangeRoute { lists: None })
            }
            FaultKind::Tab(TabAction::SetFilter { .. }) => {
                Some(TabAction::SetFilter { filter: None })
            }
            _ => None,
        }
    }
}

/// A field some fault kinds need besides `at_s`, `target` and `for_s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultField {
    /// `direction = "to_server" | "from_server"`.
    Direction,
    /// `ms = <0..=60000>`.
    Ms,
    /// `count = <1..=1000000>`.
    Count,
    /// `lists = "revenues,tasks"`: a page's lists.
    Lists,
    /// `property = <i> | "all"`: a property filter.
    Property,
    /// `pct = <1..=50>`: a share of packets, in percent.
    Pct,
}

impl FaultField {
    pub const ALL: [FaultField; 6] = [
        FaultField::Direction,
        FaultField::Ms,
        FaultField::Count,
        FaultField::Lists,
        FaultField::Property,
        FaultField::Pct,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultField::Direction => "direction",
            FaultField::Ms => "ms",
            FaultField::Count => "count",
            FaultField::Lists => "lists",
            FaultField::Property => "property",
            FaultField::Pct => "pct",
        }
    }
}

/// The extra fields of one `[[fault]]`, read and range-checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaultArgs {
    pub direction: Option<Direction>,
    pub ms: Option<u64>,
    pub count: Option<u32>,
    pub lists: Option<Lists>,
    pub filter: Option<Filter>,
    pub pct: Option<u32>,
}

/// One fault kind; see the module doc.
pub struct FaultSpec {
    pub name: &'static str,
    pub targets: &'static [TargetKind],
    pub fields: &'static [FaultField],
    /// `for_s` undoes it after that long (otherwise it is an instant, or ends at the heal).
    pub lasts: bool,
    pub doc: &'static str,
    /// The kind, from fields the parser has checked are present.
    pub build: fn(&FaultArgs) -> FaultKind,
}

impl fmt::Debug for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for FaultSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl FaultSpec {
    pub fn takes(&self, target: &Target) -> bool {
        self.targets.contains(&target.kind())
    }

    /// "server", "org<i>", or "a, b or c".
    pub fn targets_spelled(&self) -> String {
        let names: Vec<&str> = self.targets.iter().map(|t| t.spelling()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    pub fn find(name: &str) -> Option<&'static FaultSpec> {
        FAULT_KINDS.iter().find(|k| k.name == name)
    }
}

use FaultField as F;
use TargetKind as T;

const LINKS: &[TargetKind] = &[T::Server, T::Org, T::Browser, T::Tab];
/// A tab fault lands on a named tab, or on whichever tab leads when it starts.
const TABS: &[TargetKind] = &[T::Tab, T::Leader];

fn tab(action: TabAction) -> FaultKind {
    FaultKind::Tab(action)
}

/// Every fault kind, in the order `rtsim faults` lists them.
pub const FAULT_KINDS: &[FaultSpec] = &[
    FaultSpec {
        name: "partition",
        targets: LINKS,
        fields: &[],
        lasts: true,
        doc: "cut both directions between the target's browsers and the server",
        build: |_| FaultKind::Partition,
    },
    FaultSpec {
        name: "partition_oneway",
        targets: LINKS,
        fields: &[F::Direction],
        lasts: true,
        doc: "cut one direction (`direction`): a request or its answer is lost and times out",
        build: |a| FaultKind::PartitionOneway(a.direction.expect("checked")),
    },
    FaultSpec {
        name: "latency",
        targets: LINKS,
        fields: &[F::Ms],
        lasts: true,
        doc: "every message between the target's browsers and the server takes `ms`",
        build: |a| FaultKind::Latency {
            ms: a.ms.expect("checked"),
        },
    },
    FaultSpec {
        name: "packet_loss",
        targets: LINKS,
        fields: &[F::Pct],
        lasts: true,
        doc: "the target's links lose `pct` percent of packets, in bursts TCP cannot hide (cuts of 0.2-2 s drawn from the run's seed): a call or frame caught in one is lost, so calls time out and streams stall until their silence timeout",
        build: |a| FaultKind::PacketLoss {
            pct: a.pct.expect("checked"),
        },
    },
    FaultSpec {
        name: "server_restart",
        targets: &[T::Server],
        fields: &[],
        lasts: false,
        doc: "the server restarts and is down for `for_s`: buffers and waiters are lost (S10)",
        build: |_| FaultKind::ServerRestart,
    },
    FaultSpec {
        name: "reset_connections",
        targets: LINKS,
        fields: &[],
        lasts: false,
        doc: "every open connection of the target is reset now",
        build: |_| FaultKind::ResetConnections,
    },
    FaultSpec {
        name: "burst",
        targets: &[T::Org],
        fields: &[F::Count],
        lasts: false,
        doc: "`count` events are committed on the org at once (S2 overflow)",
        build: |a| FaultKind::Burst {
            count: a.count.expect("checked"),
        },
    },
    FaultSpec {
        name: "token_expire",
        targets: &[T::Browser],
        fields: &[],
        lasts: false,
        doc: "the browser's session token expires now (S9)",
        build: |_| FaultKind::TokenExpire,
    },
    FaultSpec {
        name: "refresh_fail",
        targets: &[T::Server],
        fields: &[],
        lasts: true,
        doc: "`POST /auth/refresh` answers 503 (A3)",
        build: |_| FaultKind::Refresh(RefreshMode::Fail),
    },
    FaultSpec {
        name: "refresh_slow",
        targets: &[T::Server],
        fields: &[],
        lasts: true,
        doc: "`POST /auth/refresh` answers `refresh_slow_ms` late",
        build: |_| FaultKind::Refresh(RefreshMode::Slow),
    },
    FaultSpec {
        name: "echo_drop",
        targets: &[T::Org],
        fields: &[],
        lasts: false,
        doc: "the org's next tab write is committed but never published (U2)",
        build: |_| FaultKind::EchoDrop,
    },
    FaultSpec {
        name: "mutate_slow",
        targets: &[T::Server],
        fields: &[],
        lasts: true,
        doc: "writes commit at once but are answered `mutate_slow_ms` late (U2)",
        build: |_| FaultKind::MutateSlow,
    },
    FaultSpec {
        name: "stream_down",
        targets: &[T::Server],
        fields: &[],
        lasts: true,
        doc: "the subscribe endpoint answers 503; the rest of the API works (C11)",
        build: |_| FaultKind::StreamDown,
    },
    FaultSpec {
        name: "drop_stream",
        targets: &[T::Server, T::Org],
        fields: &[],
        lasts: false,
        doc: "the server severs the org's v2 streams (every org's, aimed at the server); clients reconnect and replay (S15)",
        build: |_| FaultKind::DropStream,
    },
    FaultSpec {
        name: "crash_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the tab's renderer crashes: no unload, its locks are released (B4)",
        build: |_| tab(TabAction::Crash),
    },
    FaultSpec {
        name: "close_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the user closes the tab (B4)",
        build: |_| tab(TabAction::Close),
    },
    FaultSpec {
        name: "open_tab",
        targets: &[T::Browser],
        fields: &[],
        lasts: false,
        doc: "the user opens one more tab in the browser",
        build: |_| tab(TabAction::Open),
    },
    FaultSpec {
        name: "hide_tab",
        targets: TABS,
        fields: &[],
        lasts: true,
        doc: "the tab goes to the background: its timers are throttled (B4)",
        build: |_| tab(TabAction::Hide),
    },
    FaultSpec {
        name: "show_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the tab comes back to the foreground",
        build: |_| tab(TabAction::Show),
    },
    FaultSpec {
        name: "freeze_tab",
        targets: TABS,
        fields: &[],
        lasts: true,
        doc: "the tab is frozen until thawed (B4): it runs nothing but, under a measured profile that says so, its channel handler, whose requests wait for the thaw; a visible tab is hidden first, and stays hidden after",
        build: |_| tab(TabAction::Freeze),
    },
    FaultSpec {
        name: "thaw_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "a frozen tab runs again",
        build: |_| tab(TabAction::Thaw),
    },
    FaultSpec {
        name: "cpu_throttle",
        targets: TABS,
        fields: &[F::Ms],
        lasts: true,
        doc: "a slow device: each input the tab handles is a task of `ms`; what reaches the tab meanwhile waits, and it acts as the task ends on the storage it could read as the task began (B4)",
        build: |a| {
            tab(TabAction::CpuThrottle {
                ms: a.ms.expect("checked"),
            })
        },
    },
    FaultSpec {
        name: "navigate_away",
        targets: TABS,
        fields: &[],
        lasts: true,
        doc: "the user leaves the page and, after `for_s`, goes back: with `bfcache` it waits hidden and frozen in the back-forward cache, keeping its locks; without, it unloads and comes back as a new tab (B4)",
        build: |_| tab(TabAction::NavigateAway),
    },
    FaultSpec {
        name: "navigate",
        targets: &[T::Tab],
        fields: &[F::Lists],
        lasts: true,
        doc: "the user moves the tab to a route whose page shows `lists` (so other services), and back after `for_s`; a v2 tab changes its stream in place (C15, S14)",
        build: |a| tab(TabAction::ChangeRoute { lists: a.lists }),
    },
    FaultSpec {
        name: "set_property_filter",
        targets: &[T::Tab],
        fields: &[F::Property],
        lasts: true,
        doc: "the user filters the tab's page to `property` (or `\"all\"`), and back after `for_s`; a v2 tab changes its stream in place (C15, S14)",
        build: |a| tab(TabAction::SetFilter { filter: a.filter }),
    },
    FaultSpec {
        name: "broadcast_off",
        targets: &[T::Browser],
        fields: &[],
        lasts: true,
        doc: "the browser's BroadcastChannel stops delivering (B2)",
        build: |_| tab(TabAction::BroadcastOff),
    },
    FaultSpec {
        name: "locks_off",
        targets: &[T::Browser],
        fields: &[],
        lasts: true,
        doc: "the browser has no navigator.locks (B3)",
        build: |_| tab(TabAction::LocksOff),
    },
    FaultSpec {
        name: "logout",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the user logs out in this tab (A4)",
        build: |_| tab(TabAction::Logout),
    },
    FaultSpec {
        name: "login",
        targets: &[T::Browser],
        fields: &[],
        lasts: false,
        doc: "the user signs in again in the browser (A4)",
        build: |_| tab(TabAction::Login),
    },
    FaultSpec {
        name: "focus_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the tab's window gains focus: stale queries refetch (U4)",
        build: |_| tab(TabAction::Focus),
    },
    FaultSpec {
        name: "blur_tab",
        targets: TABS,
        fields: &[],
        lasts: false,
        doc: "the tab's window loses focus",
        build: |_| tab(TabAction::Blur),
    },
];

/// README's fault-kind table, as `rtsim faults` prints it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| kind | target | fields | `for_s` undoes it | what it does |\n|---|---|---|---|---|\n",
    );
    for k in FAULT_KINDS {
        let fields: Vec<&str> = k.fields.iter().map(|f| f.name()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            k.name,
            k.targets_spelled(),
            if fields.is_empty() {
                "-".to_string()
            } else {
                fields.join(", ")
            },
            if k.lasts { "yes" } else { "no" },
            k.doc
        ));
    }
    out
}

/// Parse a target: `server`, `org<i>`, `org<i>/browser<j>`,
/// `org<i>/browser<j>/tab<k>` or `leader:org<i>/browser<j>`, within `topo`.
pub fn parse_target(text: &str, topo: &Topology) -> Result<Target, String> {
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
    let (target, (o, b, t)) = match parts.as_slice() {
        [o] => {
            let o = num(o, "org")?;
            (Target::Org(o), (o, 0, 0))
        }
        [o, b] => {
            let (o, b) = (num(o, "org")?, num(b, "browser")?);
            (Target::Browser(o, b), (o, b, 0))
        }
        [o, b, t] => {
            let (o, b, t) = (num(o, "org")?, num(b, "browser")?, num(t, "tab")?);
            (Target::Tab(o, b, t), (o, b, t))
        }
        _ => return Err(bad()),
    };
    if o >= topo.orgs || b >= topo.browsers_per_org || t >= topo.tabs_per_browser {
        return Err(format!(
            "{text:?} is outside the topology ({} orgs, {} browsers per org, {} tabs per browser)",
            topo.orgs, topo.browsers_per_org, topo.tabs_per_browser
        ));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_kind_names_are_unique_and_every_kind_takes_a_target() {
        for (i, k) in FAULT_KINDS.iter().enumerate() {
            assert!(!k.targets.is_empty(), "{} takes no target", k.name);
            assert!(
                FAULT_KINDS[..i].iter().all(|o| o.name != k.name),
                "{} is declared twice",
                k.name
            );
        }
    }

    #[test]
    fn targets_are_spelled_as_a_list() {
        let spec = FaultSpec::find("partition").expect("declared");
        assert_eq!(
            spec.targets_spelled(),
            "server, org<i>, org<i>/browser<j> or org<i>/browser<j>/tab<k>"
        );
        assert_eq!(
            FaultSpec::find("burst")
                .expect("declared")
                .targets_spelled(),
            "org<i>"
        );
    }
}
