//! O12: the page's freshness policies without a live stream. The rollout
//! flags (C13) hold: a page in shadow mode applies nothing (events reach
//! diagnostics only), and a page of an org that is killed or outside the
//! rollout makes no stream call at all. And a page in degraded mode (C11)
//! refetches its list at least every `degraded_refetch_max_ms`, plus one
//! request timeout, unless something else held it: a lifecycle change, an
//! auth pause or sign-out, or a failed call.
//!
//! The other way (C11, C12): a page must notice that its stream is down.
//! While a `stream_down` fault is on, every page of a live org is in degraded
//! mode once the notice bound has passed (a parked poll's full wait, then the
//! wait before the next poll: a retry, or C6's pacing for a tab hidden or
//! polling alone when the outage began; a round trip and a second): the poller's
//! parked poll is answered by then and its next poll refused, and its health broadcast
//! reaches the scope's other tabs in milliseconds. A tab that is not running
//! then (not yet open, closed, crashed, frozen or signed out), that was
//! paused for a token or changed role in the meantime, or whose browser had
//! a fault slowing or cutting its calls from one poll timeout before the
//! outage (a poll lost then waits out its own timeout) is excused.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation, Outcome, RequestKind, Role};
use crate::scenario::FaultKind;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// What C13 says realtime does for a page of an org.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Realtime {
    Live,
    Shadow,
    Off,
}

/// C13's decision, made here on the SPEC's own terms rather than by the
/// client's code, so a client that decides wrongly cannot agree with itself:
/// the kill list beats everything, shadow beats the master switch, and the
/// rollout admits an org whose stable bucket (xxh3-64 of its id, mod 100) is
/// under the percentage.
fn expected_mode(flags: &crate::client::flags::Flags, org: u32) -> Realtime {
    let bucket = xxhash_rust::xxh3::xxh3_64(&org.to_le_bytes()) % 100;
    if flags.disabled_orgs.contains(&org) {
        Realtime::Off
    } else if flags.shadow {
        Realtime::Shadow
    } else if flags.master && bucket < flags.rollout_pct as u64 {
        Realtime::Live
    } else {
        Realtime::Off
    }
}

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let flags = &ev.scenario.config.provider.flags;
    let mode = |tab: &Actor| Some(expected_mode(flags, tab.org));
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let (tab, detail) = match &step.obs {
            Observation::Applied { tab, seq, .. } if mode(tab) == Some(Realtime::Shadow) => {
                (tab, format!("applied seq {seq} to the page in shadow mode"))
            }
            Observation::Request {
                tab,
                what: RequestKind::Poll,
                path,
                ..
            } if mode(tab) == Some(Realtime::Off) => (
                tab,
                format!(
                    "stream call {path} from an org without realtime (killed or not rolled out)"
                ),
            ),
            _ => continue,
        };
        out.push(Violation {
            oracle: "O12",
            t: step.t,
            subject: tab.to_string(),
            detail,
        });
    }
    out.extend(degraded_polling(ev));
    out.extend(degraded_entry(ev));
    out.sort_by_key(|v| v.t);
    out
}

/// A degraded spell of `tab` from `since` that reached `t` past the bound.
fn overdue(tab: Actor, since: SimTime, t: SimTime, bound: u64, max_ms: u64) -> Option<Violation> {
    (t.since(since) > bound).then(|| Violation {
        oracle: "O12",
        t: since + bound,
        subject: tab.to_string(),
        detail: format!(
            "degraded for {} ms without a list refetch (C11: every {max_ms} ms at most)",
            t.since(since)
        ),
    })
}

/// C11: while degraded, the list is refetched at least every bound.
fn degraded_polling(ev: &Evidence) -> Vec<Violation> {
    let p = &ev.scenario.config.provider;
    if !p.degraded_polling {
        return vec![];
    }
    let bound = p.degraded_refetch_max_ms + p.refetch_request_timeout_ms;
    // Per tab: since when the current gap runs (degraded and not excused).
    let mut since: BTreeMap<Actor, SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    let max_ms = p.degraded_refetch_max_ms;
    let mut check = |tab: Actor, t: SimTime, since: &BTreeMap<Actor, SimTime>| {
        let from = since.get(&tab).copied();
        out.extend(from.and_then(|s| overdue(tab, s, t, bound, max_ms)));
    };
    for step in &ev.history.steps {
        let t = step.t;
        match &step.obs {
            Observation::Degraded { tab, on } => {
                check(*tab, t, &since);
                if *on {
                    since.insert(*tab, t);
                } else {
                    since.remove(tab);
                }
            }
            Observation::Request {
                tab,
                what: RequestKind::Refetch,
                ..
            } => {
                check(*tab, t, &since);
                if let Some(s) = since.get_mut(tab) {
                    *s = t;
                }
            }
            // A tab that closed, crashed or signed out has no page to keep fresh
            // (A4: it makes no call until the user signs in, and its next
            // degraded spell starts with a new `Degraded`).
            Observation::Lifecycle { tab, what } if what == "close" || what == "crash" => {
                since.remove(tab);
            }
            Observation::SignedOut { tab, .. } => {
                since.remove(tab);
            }
            // Whatever holds a tab's calls back restarts its clock.
            Observation::Lifecycle { tab, .. }
            | Observation::AuthPaused { tab, .. }
            | Observation::Banner { tab, .. } => {
                if let Some(s) = since.get_mut(tab) {
                    *s = t;
                }
            }
            Observation::Response {
                tab,
                outcome: Outcome::NetError | Outcome::Timeout,
                ..
            } => {
                if let Some(s) = since.get_mut(tab) {
                    *s = t;
                }
            }
            _ => {}
        }
    }
    let end = ev.scenario.end();
    let open: Vec<Actor> = since.keys().copied().collect();
    for tab in open {
        check(tab, end, &since);
    }
    out
}

/// What `degraded_entry` needs of each page: when it was first seen
/// running, its degraded, frozen, hidden and solo spells, when it was held
/// back, and when it went for good (closed, crashed or signed out).
#[derive(Default)]
struct Pages {
    seen: BTreeMap<Actor, SimTime>,
    degraded: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
    frozen: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
    hidden: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
    solo: BTreeMap<Actor, BTreeMap<SimTime, bool>>,
    held: BTreeMap<Actor, BTreeSet<SimTime>>,
    gone: BTreeMap<Actor, SimTime>,
}

impl Pages {
    fn take(&mut self, t: SimTime, obs: &Observation) {
        match obs {
            Observation::Role { tab, role, .. } => {
                self.seen.entry(*tab).or_insert(t);
                self.held.entry(*tab).or_default().insert(t);
                let solo = *role == Role::Solo;
                self.solo.entry(*tab).or_default().insert(t, solo);
            }
            // A browser's own calls (its login) are not a page's.
            Observation::Request { tab, .. } if tab.tab.is_some() => {
                self.seen.entry(*tab).or_insert(t);
            }
            Observation::Degraded { tab, on } => {
                self.degraded.entry(*tab).or_default().insert(t, *on);
            }
            Observation::Lifecycle { tab, what } if what == "close" || what == "crash" => {
                self.gone.entry(*tab).or_insert(t);
            }
            Observation::SignedOut { tab, .. } => {
                self.gone.entry(*tab).or_insert(t);
            }
            Observation::Lifecycle { tab, what } => {
                if what == "freeze" || what == "thaw" {
                    self.frozen
                        .entry(*tab)
                        .or_default()
                        .insert(t, what == "freeze");
                }
                if what == "hide" || what == "show" {
                    let hidden = self.hidden.entry(*tab).or_default();
                    hidden.insert(t, what == "hide");
                }
                self.held.entry(*tab).or_default().insert(t);
            }
            Observation::AuthPaused { tab, .. } => {
                self.held.entry(*tab).or_default().insert(t);
            }
            _ => {}
        }
    }

    /// Whether `tab` paces its polls at `t` (C6: hidden, or polling alone in
    /// fallback while leader election is on).
    fn paces(&self, tab: &Actor, t: SimTime, election: bool) -> bool {
        on_at(self.hidden.get(tab), t) || (election && on_at(self.solo.get(tab), t))
    }

    /// Whether `tab` ran, unheld, from the outage's start `a` to `due`.
    fn ran_throughout(&self, tab: &Actor, a: SimTime, due: SimTime) -> bool {
        let opened = self.seen.get(tab).is_some_and(|first| *first <= a);
        let stayed = self.gone.get(tab).is_none_or(|g| *g > due);
        let held = self
            .held
            .get(tab)
            .is_some_and(|h| h.range(a..=due).next().is_some());
        opened && stayed && !held && !on_at(self.frozen.get(tab), due)
    }
}

/// Whether the last change of `spells` at or before `t` turned it on.
fn on_at(spells: Option<&BTreeMap<SimTime, bool>>, t: SimTime) -> bool {
    spells
        .and_then(|s| s.range(..=t).next_back())
        .is_some_and(|(_, on)| *on)
}

/// C11, C12: every running page of a live org is degraded once a stream
/// outage has lasted the notice bound.
fn degraded_entry(ev: &Evidence) -> Vec<Violation> {
    let cfg = &ev.scenario.config;
    let p = &cfg.provider;
    if !p.degraded_polling {
        return vec![];
    }
    // A parked poll's full wait, then the wait before the next poll (a retry,
    // or C6's pacing for a tab that paces), a round trip, and a second.
    let notice_after = |wait_ms: u64| {
        cfg.buffer.long_poll_timeout_ms + wait_ms + 2 * cfg.net.max_latency_ms + 1_000
    };
    let notice = notice_after(p.poll_retry_ms);
    let paced_notice = notice_after(p.poll_retry_ms.max(p.paced_poll_max_ms));
    let outages: Vec<(SimTime, SimTime)> = ev
        .scenario
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::StreamDown)
        .map(|f| (f.at, f.ends(ev.scenario.duration)))
        .filter(|(a, b)| *a + notice < *b)
        .collect();
    if outages.is_empty() {
        return vec![];
    }
    let mut pages = Pages::default();
    for step in &ev.history.steps {
        pages.take(step.t, &step.obs);
    }
    let mut out = Vec::new();
    for (a, b) in outages {
        for tab in pages.seen.keys() {
            let paces = pages.paces(tab, a, p.leader.leader_enabled);
            let due = a + if paces { paced_notice } else { notice };
            if due >= b {
                continue;
            }
            let live = expected_mode(&p.flags, tab.org) == Realtime::Live;
            // A poll out when the outage began may have been lost to a fault,
            // and then waits out its own timeout instead of the server's.
            let since = SimTime(a.as_ms().saturating_sub(p.poll_request_timeout_ms));
            let impaired = super::calls_impaired(ev.scenario, (tab.org, tab.browser), since, due);
            if live
                && !impaired
                && pages.ran_throughout(tab, a, due)
                && !on_at(pages.degraded.get(tab), due)
            {
                out.push(Violation {
                    oracle: "O12",
                    t: due,
                    subject: tab.to_string(),
                    detail: format!(
                        "the stream has been down since {a} and the page is still not in degraded mode (C11; C12: the poller's health broadcast tells the scope)"
                    ),
                });
            }
        }
    }
    out
}
