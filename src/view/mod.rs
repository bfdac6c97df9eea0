//! A run as a person sees it: lanes (the server, then each tab), each with
//! rows of spans (a tab's role, its page state, its requests from send to
//! answer), instant marks (gaps, recoveries, breaker openings, banners,
//! violations) and bands over several lanes (faults, split-brain windows).
//!
//! It is read off the canonical trace (`RunReport::trace`, the lines
//! `--trace` writes), not the machines: what it shows is what was recorded.
//! `html` draws it as a self-contained timeline page, `perfetto` as Chrome
//! Trace Event JSON.

pub mod html;
pub mod perfetto;

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One thing on a row: a span from `start` to `end`, or an instant when they are equal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub start: u64,
    pub end: u64,
    /// What it is, as a CSS class: `leader`, `poll ok`, `violation`...
    pub class: String,
    pub label: String,
    /// The trace lines (0-based) it was read from.
    pub lines: Vec<usize>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub name: String,
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    /// `server`, or a tab's name (`org0/browser1/tab2`).
    pub name: String,
    /// The browser a tab lane belongs to (`org0/browser1`), or `server`.
    pub process: String,
    pub rows: Vec<Row>,
}

/// A shaded stretch over some lanes: a fault, or two leaders in one scope.
#[derive(Clone, Debug, Serialize)]
pub struct Band {
    pub start: u64,
    pub end: u64,
    pub class: String,
    pub label: String,
    /// Lane indices it covers.
    pub lanes: Vec<usize>,
    pub lines: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct View {
    pub title: String,
    /// The last time in the trace, in simulated ms.
    pub end: u64,
    pub lanes: Vec<Lane>,
    pub bands: Vec<Band>,
    /// The trace lines items point at, by number (only those: a long run's
    /// whole trace would make the page heavy).
    pub lines: BTreeMap<usize, String>,
    pub violations: usize,
}

/// Rows of a tab lane, by index.
const ROLE: usize = 0;
const PAGE: usize = 1;
const MARKS: usize = 2;
const FIRST_REQUEST_ROW: usize = 3;
/// Rows of the server lane.
const SERVER_STATE: usize = 0;
const SERVER_MARKS: usize = 1;

/// The sort key of a lane name: its numbers, so `tab10` comes after `tab9`.
fn lane_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(u64::MAX))
        .collect()
}

/// What a trace line says, with its number and time.
struct Line<'a> {
    n: usize,
    t: u64,
    kind: &'a str,
    v: &'a Value,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The instant marks: a trace line's kind and fields as a class and a label
/// (on its tab's lane, or the server's).
fn mark_of(kind: &str, v: &Value) -> Option<(&'static str, String)> {
    Some(match kind {
        "gap" => (
            "gap",
            format!(
                "gap: cursor {} to {} (floor {})",
                v["cursor"], v["last_event_id"], v["floor"]
            ),
        ),
        "hard_recover" => (
            "recover",
            format!("hard recover after {} ms silent", v["silent_ms"]),
        ),
        "breaker_open" => (
            "breaker",
            format!("circuit breaker open until {} ms", v["until"]),
        ),
        "banner" => ("banner", format!("banner: {}", text(v, "banner"))),
        "signed_out" => ("signed-out", format!("signed out: {}", text(v, "cause"))),
        "org_evicted" => ("evicted", format!("org {} evicted", v["org"])),
        "waiter_cap_hit" => ("cap", format!("org {}: waiter cap hit", v["org"])),
        "heal" => ("heal", "heal: every fault undone".to_string()),
        _ => return None,
    })
}

/// Build the view of a run from its trace lines.
pub fn build(title: &str, trace: &[String]) -> View {
    let values: Vec<Value> = trace
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    let lines: Vec<Line> = values
        .iter()
        .enumerate()
        .map(|(n, v)| Line {
            n,
            t: v.get("t").and_then(Value::as_u64).unwrap_or(0),
            kind: text(v, "kind"),
            v,
        })
        .collect();
    let end = lines.iter().map(|l| l.t).max().unwrap_or(0);
    let mut b = Builder::new(&lines, end);
    for l in &lines {
        b.step(l);
    }
    b.finish(title, trace)
}

/// A span still open on a row: since when, what, from which line.
struct Open {
    start: u64,
    class: String,
    label: String,
    line: usize,
}

struct Builder {
    end: u64,
    lanes: Vec<Lane>,
    index: BTreeMap<String, usize>,
    /// Open spans per (lane, row, key): a role, a page state, the server down.
    open: BTreeMap<(usize, usize, String), Open>,
    /// Requests in flight per (tab, req).
    requests: BTreeMap<(String, u64), Open>,
    bands: Vec<Band>,
    /// Per election scope: its tabs and those leading now, for split-brain windows.
    scopes: BTreeMap<String, (Vec<usize>, BTreeMap<usize, bool>, Option<(u64, usize)>)>,
    violations: usize,
}

impl Builder {
    fn new(lines: &[Line], end: u64) -> Builder {
        // Every tab the trace names gets a lane, in name order, after the server.
        let mut tabs: Vec<String> = lines
            .iter()
            .map(|l| text(l.v, "tab"))
            .filter(|t| t.matches('/').count() == 2)
            .map(str::to_string)
            .collect();
        tabs.sort_by_key(|t| lane_key(t));
        tabs.dedup();
        let mut lanes = vec![Lane {
            name: "server".into(),
            process: "server".into(),
            rows: ["up/down", "marks"]
                .iter()
                .map(|n| Row {
                    name: n.to_string(),
                    items: Vec::new(),
                })
                .collect(),
        }];
        for t in tabs {
            lanes.push(Lane {
                process: t.rsplit_once('/').map_or(t.clone(), |(b, _)| b.to_string()),
                name: t,
                rows: ["role", "page", "marks"]
                    .iter()
                    .map(|n| Row {
                        name: n.to_string(),
                        items: Vec::new(),
                    })
                    .collect(),
            });
        }
        let index = lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (l.name.clone(), i))
            .collect();
        Builder {
            end,
            lanes,
            index,
            open: BTreeMap::new(),
            requests: BTreeMap::new(),
            bands: Vec::new(),
            scopes: BTreeMap::new(),
            violations: 0,
        }
    }

    fn mark(&mut self, lane: usize, row: usize, l: &Line, class: &str, label: String) {
        self.lanes[lane].rows[row].items.push(Item {
            start: l.t,
            end: l.t,
            class: class.to_string(),
            label,
            lines: vec![l.n],
        });
    }

    /// Close the span open on (lane, row, key), if any, at `t`.
    fn close(&mut self, lane: usize, row: usize, key: &str, t: u64, line: Option<usize>) {
        if let Some(o) = self.open.remove(&(lane, row, key.to_string())) {
            let mut lines = vec![o.line];
            lines.extend(line);
            self.lanes[lane].rows[row].items.push(Item {
                start: o.start,
                end: t.max(o.start),
                class: o.class,
                label: o.label,
                lines,
            });
        }
    }

    fn begin(&mut self, lane: usize, row: usize, key: &str, l: &Line, class: &str, label: String) {
        self.close(lane, row, key, l.t, None);
        self.open.insert(
            (lane, row, key.to_string()),
            Open {
                start: l.t,
                class: class.to_string(),
                label,
                line: l.n,
            },
        );
    }

    fn step(&mut self, l: &Line) {
        let tab = self.index.get(text(l.v, "tab")).copied();
        if let Some((class, label)) = mark_of(l.kind, l.v) {
            let (lane, row) = match tab {
                Some(i) => (i, MARKS),
                None => (0, SERVER_MARKS),
            };
            self.mark(lane, row, l, class, label);
            return;
        }
        match (l.kind, tab) {
            ("role", Some(i)) => self.role(i, l),
            ("lifecycle", Some(i)) => self.lifecycle(i, l),
            ("degraded", Some(i)) if l.v["on"].as_bool() == Some(true) => {
                let label = "degraded: polling its lists".to_string();
                self.begin(i, PAGE, "degraded", l, "degraded", label);
            }
            ("degraded", Some(i)) => self.close(i, PAGE, "degraded", l.t, Some(l.n)),
            ("request", Some(i)) => {
                let what = text(l.v, "what");
                let open = Open {
                    start: l.t,
                    class: what.to_string(),
                    label: format!("{what} {}", text(l.v, "path")),
                    line: l.n,
                };
                let req = l.v["req"].as_u64().unwrap_or(0);
                self.requests
                    .insert((self.lanes[i].name.clone(), req), open);
            }
            ("response", Some(i)) => self.response(i, l),
            ("server_down", _) => {
                self.begin(0, SERVER_STATE, "down", l, "down", "server down".into())
            }
            ("server_up", _) => self.close(0, SERVER_STATE, "down", l.t, Some(l.n)),
            ("fault", _) => self.fault(l),
            ("violation", _) => self.violation(l),
            _ => {}
        }
    }

    fn role(&mut self, i: usize, l: &Line) {
        let role = text(l.v, "role");
        let label = format!("{role} of {} ({})", text(l.v, "scope"), text(l.v, "cause"));
        if role == "closed" {
            self.close(i, ROLE, "role", l.t, Some(l.n));
        } else {
            self.begin(i, ROLE, "role", l, role, label);
        }
        // Two leaders of one scope at once: a split-brain window over its tabs.
        let scope = text(l.v, "scope").to_string();
        let entry = self.scopes.entry(scope.clone()).or_default();
        if !entry.0.contains(&i) {
            entry.0.push(i);
        }
        entry.1.insert(i, role == "leader");
        let leaders = entry.1.values().filter(|&&x| x).count();
        match (&entry.2, leaders >= 2) {
            (None, true) => entry.2 = Some((l.t, l.n)),
            (Some((start, line)), false) => {
                let band = Band {
                    start: *start,
                    end: l.t,
                    class: "split-brain".into(),
                    label: format!("two leaders of {scope}"),
                    lanes: entry.0.clone(),
                    lines: vec![*line, l.n],
                };
                entry.2 = None;
                self.bands.push(band);
            }
            _ => {}
        }
    }

    fn lifecycle(&mut self, i: usize, l: &Line) {
        match text(l.v, "what") {
            "hide" => self.begin(i, PAGE, "hidden", l, "hidden", "hidden".into()),
            "show" => self.close(i, PAGE, "hidden", l.t, Some(l.n)),
            "freeze" => self.begin(
                i,
                PAGE,
                "frozen",
                l,
                "frozen",
                "frozen: runs nothing".into(),
            ),
            "thaw" => self.close(i, PAGE, "frozen", l.t, Some(l.n)),
            what @ ("close" | "crash") => {
                for key in ["hidden", "frozen", "degraded"] {
                    self.close(i, PAGE, key, l.t, None);
                }
                self.close(i, ROLE, "role", l.t, None);
                self.mark(i, MARKS, l, "closed", format!("tab {what}"));
            }
            what => self.mark(i, MARKS, l, "lifecycle", what.to_string()),
        }
    }

    fn response(&mut self, i: usize, l: &Line) {
        let req = l.v["req"].as_u64().unwrap_or(0);
        let Some(o) = self.requests.remove(&(self.lanes[i].name.clone(), req)) else {
            return;
        };
        let outcome = &l.v["outcome"];
        let (class, said) = match outcome.get("status").and_then(Value::as_u64) {
            Some(s) if s < 400 => ("ok", format!("{s}")),
            Some(s) if s < 500 => ("refused", format!("{s}")),
            Some(s) => ("failed", format!("{s}")),
            None => {
                let o = outcome.as_str().unwrap_or("?");
                (
                    if o == "aborted" { "aborted" } else { "failed" },
                    o.to_string(),
                )
            }
        };
        let item = Item {
            start: o.start,
            end: l.t,
            class: format!("{} {class}", o.class),
            label: format!("{}: {said}, {} events", o.label, l.v["events"]),
            lines: vec![o.line, l.n],
        };
        self.pack_request(i, item);
    }

    /// A request bar goes on the first request row free at its start.
    fn pack_request(&mut self, i: usize, item: Item) {
        let rows = &mut self.lanes[i].rows;
        let free = (FIRST_REQUEST_ROW..rows.len()).find(|&r| {
            rows[r]
                .items
                .last()
                .is_none_or(|last| last.end <= item.start)
        });
        let r = free.unwrap_or_else(|| {
            rows.push(Row {
                name: format!("requests {}", rows.len() - FIRST_REQUEST_ROW + 1),
                items: Vec::new(),
            });
            rows.len() - 1
        });
        rows[r].items.push(item);
    }

    fn fault(&mut self, l: &Line) {
        let what = text(l.v, "what");
        let for_ms = what
            .split_whitespace()
            .skip_while(|w| *w != "for")
            .nth(1)
            .and_then(|w| w.strip_suffix("ms"))
            .and_then(|w| w.parse::<u64>().ok());
        // The lanes it names (a tab, a browser, an org), or the server's.
        let mut lanes: Vec<usize> = Vec::new();
        for word in what.split(|c: char| c.is_whitespace() || c == ':' || c == ',') {
            if !word.starts_with("org") {
                continue;
            }
            for (i, lane) in self.lanes.iter().enumerate() {
                let hit = lane.name == word || lane.name.starts_with(&format!("{word}/"));
                if hit && !lanes.contains(&i) {
                    lanes.push(i);
                }
            }
        }
        if lanes.is_empty() {
            lanes.push(0);
        }
        self.bands.push(Band {
            start: l.t,
            end: for_ms.map_or(l.t, |d| (l.t + d).min(self.end)),
            class: "fault".into(),
            label: format!("fault: {what}"),
            lanes,
            lines: vec![l.n],
        });
    }

    fn violation(&mut self, l: &Line) {
        self.violations += 1;
        let subject = text(l.v, "subject");
        let lane = self.index.get(subject).copied().or_else(|| {
            self.lanes
                .iter()
                .position(|lane| lane.name.starts_with(&format!("{subject}/")))
        });
        let label = format!("{} {subject}: {}", text(l.v, "oracle"), text(l.v, "detail"));
        match lane {
            Some(i) if i > 0 => self.mark(i, MARKS, l, "violation", label),
            _ => self.mark(0, SERVER_MARKS, l, "violation", label),
        }
    }

    fn finish(mut self, title: &str, trace: &[String]) -> View {
        let end = self.end;
        let open: Vec<(usize, usize, String)> = self.open.keys().cloned().collect();
        for (lane, row, key) in open {
            self.close(lane, row, &key, end, None);
        }
        let pending: Vec<((String, u64), Open)> =
            std::mem::take(&mut self.requests).into_iter().collect();
        for ((tab, _), o) in pending {
            let i = self.index[&tab];
            let item = Item {
                start: o.start,
                end,
                class: format!("{} pending", o.class),
                label: format!("{}: no answer by the end", o.label),
                lines: vec![o.line],
            };
            self.pack_request(i, item);
        }
        for (scope, (tabs, _, window)) in std::mem::take(&mut self.scopes) {
            if let Some((start, line)) = window {
                self.bands.push(Band {
                    start,
                    end,
                    class: "split-brain".into(),
                    label: format!("two leaders of {scope}"),
                    lanes: tabs,
                    lines: vec![line],
                });
            }
        }
        let mut lines = BTreeMap::new();
        let items = self
            .lanes
            .iter()
            .flat_map(|l| &l.rows)
            .flat_map(|r| &r.items);
        for n in items
            .flat_map(|i| &i.lines)
            .chain(self.bands.iter().flat_map(|b| &b.lines))
        {
            lines.insert(*n, trace[*n].clone());
        }
        for lane in &mut self.lanes {
            for row in &mut lane.rows {
                row.items.sort_by_key(|i| (i.start, i.end));
            }
        }
        View {
            title: title.to_string(),
            end,
            lanes: self.lanes,
            bands: self.bands,
            lines,
            violations: self.violations,
        }
    }
}
