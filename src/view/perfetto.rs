//! A run in the Chrome Trace Event Format, which ui.perfetto.dev and
//! chrome://tracing open: one process (`pid`) per browser and one for the
//! server, one thread (`tid`) per row of a lane (a tab's role, page, marks
//! and request rows), spans as complete events (`ph` X), marks as instants
//! (`ph` i), faults and split-brain windows on a track of their own. Times
//! are simulated microseconds.

use super::View;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The run as a `{"traceEvents": [...]}` document.
pub fn render(view: &View) -> String {
    let mut events: Vec<Value> = Vec::new();
    let mut pids: BTreeMap<&str, u64> = BTreeMap::new();
    let mut tid = 0u64;
    // The server is process 1; each browser gets the next number as it first appears.
    pids.insert("server", 1);
    meta(&mut events, 1, None, "process_name", "server");
    meta(
        &mut events,
        1,
        Some(0),
        "thread_name",
        "faults and split brain",
    );
    for band in &view.bands {
        events.push(slice(1, 0, band.start, band.end, &band.class, &band.label));
    }
    for lane in &view.lanes {
        let next = pids.len() as u64 + 1;
        let pid = *pids.entry(&lane.process).or_insert_with(|| {
            meta(&mut events, next, None, "process_name", &lane.process);
            next
        });
        let tab = lane.name.rsplit('/').next().unwrap_or(&lane.name);
        for row in &lane.rows {
            // Spans on one thread must nest; a row's overlapping spans (hidden
            // and frozen at once) go on tracks of their own.
            let mut tracks: Vec<(u64, u64)> = Vec::new(); // (tid, end of its last span)
            for item in &row.items {
                let free = tracks.iter().position(|&(_, end)| end <= item.start);
                let k = free.unwrap_or_else(|| {
                    tid += 1;
                    let name = match tracks.len() {
                        0 => format!("{tab} {}", row.name),
                        n => format!("{tab} {} ({})", row.name, n + 1),
                    };
                    meta(&mut events, pid, Some(tid), "thread_name", &name);
                    tracks.push((tid, 0));
                    tracks.len() - 1
                });
                tracks[k].1 = item.end;
                let t = tracks[k].0;
                events.push(slice(
                    pid,
                    t,
                    item.start,
                    item.end,
                    &item.class,
                    &item.label,
                ));
            }
        }
    }
    let doc = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": { "title": view.title, "clock": "simulated" },
    });
    serde_json::to_string(&doc).expect("a trace serialises")
}

fn meta(events: &mut Vec<Value>, pid: u64, tid: Option<u64>, name: &str, value: &str) {
    events.push(json!({
        "ph": "M", "pid": pid, "tid": tid.unwrap_or(0), "name": name,
        "args": { "name": value },
    }));
}

/// A span (`X`) or, when it has no length, a thread-scoped instant (`i`).
fn slice(pid: u64, tid: u64, start: u64, end: u64, class: &str, label: &str) -> Value {
    let ts = start * 1000;
    if end > start {
        json!({
            "ph": "X", "pid": pid, "tid": tid, "ts": ts, "dur": (end - start) * 1000,
            "name": class, "cat": class, "args": { "detail": label },
        })
    } else {
        json!({
            "ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": ts,
            "name": class, "cat": class, "args": { "detail": label },
        })
    }
}
