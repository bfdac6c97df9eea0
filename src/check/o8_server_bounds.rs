//! O8: server bounds. Buffers stay within `max_buffer_size`, waiters within
//! the cap, idle orgs are evicted, and every event that leaves a buffer is
//! counted (what went in = what was dropped + what is still there).

use super::history::Observation;
use super::{Evidence, Violation};
use crate::time::SimTime;
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let cfg = &ev.scenario.config;
    let max = cfg.buffer.max_buffer_size;
    let cap = cfg.buffer.max_waiters_per_org;
    // An org is idle once nothing touched it for the eviction window; a parked
    // poll may hold it up to a request timeout longer without being observed.
    let idle_ms = cfg.buffer.org_idle_evict_ms + cfg.provider.poll_request_timeout_ms + 1_000;
    let mut out = Vec::new();
    let mut inserted: BTreeMap<u32, i64> = BTreeMap::new();
    let mut last_activity: BTreeMap<u32, SimTime> = BTreeMap::new();
    let mut reported_idle: BTreeMap<u32, SimTime> = BTreeMap::new();
    let check_idle = |now: SimTime,
                      last: &BTreeMap<u32, SimTime>,
                      reported: &mut BTreeMap<u32, SimTime>,
                      out: &mut Vec<Violation>| {
        for (&org, &at) in last {
            if at + idle_ms < now && reported.get(&org) != Some(&at) {
                reported.insert(org, at);
                out.push(Violation {
                    oracle: "O8",
                    t: at + idle_ms,
                    subject: format!("org{org}"),
                    detail: format!("idle since {at} and not evicted"),
                });
            }
        }
    };
    for step in &ev.history.steps {
        let t = step.t;
        check_idle(t, &last_activity, &mut reported_idle, &mut out);
        match &step.obs {
            Observation::BufferInsert { org, seq, len, .. } => {
                *inserted.entry(*org).or_default() += 1;
                last_activity.insert(*org, t);
                if *len > max {
                    out.push(Violation {
                        oracle: "O8",
                        t,
                        subject: format!("org{org}"),
                        detail: format!("buffer holds {len} events after seq {seq}, above max_buffer_size {max}"),
                    });
                }
            }
            Observation::BufferDrop { org, .. } => *inserted.entry(*org).or_default() -= 1,
            Observation::OrgEvicted { org, entries } => {
                *inserted.entry(*org).or_default() -= *entries as i64;
                last_activity.remove(org);
            }
            Observation::WaitersParked { org, count } => {
                last_activity.insert(*org, t);
                if *count > cap {
                    out.push(Violation {
                        oracle: "O8",
                        t,
                        subject: format!("org{org}"),
                        detail: format!("{count} parked polls, above max_waiters_per_org {cap}"),
                    });
                }
            }
            Observation::PollServed { org, .. } => {
                last_activity.insert(*org, t);
            }
            Observation::ServerDown => last_activity.clear(),
            _ => {}
        }
    }
    check_idle(
        ev.scenario.end(),
        &last_activity,
        &mut reported_idle,
        &mut out,
    );
    let buffered: BTreeMap<u32, usize> = ev.last.buffered.iter().copied().collect();
    for (org, net) in inserted {
        let held = buffered.get(&org).copied().unwrap_or(0) as i64;
        if net != held {
            out.push(Violation {
                oracle: "O8",
                t: ev.scenario.end(),
                subject: format!("org{org}"),
                detail: format!("{} events left the buffer uncounted (inserted minus dropped is {net}, buffer holds {held})", net - held),
            });
        }
    }
    out
}
