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

use super::{Check, End, Violation};
use crate::client::ProviderConfig;
use crate::observation::{Actor, Observation, Outcome, RequestKind, Role, Step};
use crate::scenario::{FaultKind, Scenario};
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

/// Three concerns, each with its own findings, put together in this order
/// and then sorted by time: the C13 flags (judged step by step), C11's
/// refetch pace while degraded (judged as each gap closes, and at the end for
/// those still open), and C11/C12's entry into degraded mode during a stream
/// outage (judged at the end, over what was kept of each page).
pub struct Checker {
    /// C13 findings, as they happen.
    flagged: Vec<Violation>,
    polling: Polling,
    /// What the entry rule needs of each page; kept only when the scenario
    /// has a stream outage long enough to judge.
    pages: Option<Pages>,
}

impl Checker {
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            flagged: Vec::new(),
            polling: Polling::default(),
            pages: (!outages(scenario).is_empty()).then(Pages::default),
        }
    }

    /// C13: the page's realtime mode, as the flags decide it, holds.
    fn flags(&mut self, scenario: &Scenario, step: &Step) {
        let flags = &scenario.config.provider.flags;
        let mode = |tab: &Actor| Some(expected_mode(flags, tab.org));
        let (tab, detail) = match &step.obs {
            Observation::Applied { tab, seq, .. } if mode(tab) == Some(Realtime::Shadow) => {
                (tab, format!("applied seq {seq} to the page in shadow mode"))
            }
            Observation::Request {
                tab,
                what: RequestKind::Poll | RequestKind::Stream,
                path,
                ..
            } if mode(tab) == Some(Realtime::Off) => (
                tab,
                format!(
                    "stream call {path} from an org without realtime (killed or not rolled out)"
                ),
            ),
            _ => return,
        };
        self.flagged.push(Violation {
            oracle: "O12",
            t: step.t,
            subject: tab.to_string(),
            detail,
        });
    }
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        self.flags(scenario, step);
        self.polling.take(scenario, step);
        if let Some(pages) = &mut self.pages {
            pages.take(step.t, &step.obs);
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.flagged);
        out.extend(self.polling.finish(end.scenario));
        if let Some(pages) = &self.pages {
            out.extend(degraded_entry(end.scenario, pages));
        }
        out.sort_by_key(|v| v.t);
        out
    }
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

/// C11's refetch bound while degraded, plus one request timeout.
fn polling_bound(p: &ProviderConfig) -> u64 {
    p.degraded_refetch_max_ms + p.refetch_request_timeout_ms
}

/// C11: while degraded, the list is refetched at least every bound.
#[derive(Default)]
struct Polling {
    /// Per tab: since when the current gap runs (degraded and not excused).
    since: BTreeMap<Actor, SimTime>,
    /// Gaps found too long, as they close.
    found: Vec<Violation>,
}

impl Polling {
    /// Whether `tab`'s gap, if one runs, reached `t` past the bound.
    fn gap(&mut self, p: &ProviderConfig, tab: Actor, t: SimTime) {
        let from = self.since.get(&tab).copied();
        let (bound, max_ms) = (polling_bound(p), p.degraded_refetch_max_ms);
        self.found
            .extend(from.and_then(|s| overdue(tab, s, t, bound, max_ms)));
    }

    /// A new gap for `tab` from `t`, if it is degraded.
    fn restart(&mut self, tab: &Actor, t: SimTime) {
        if let Some(s) = self.since.get_mut(tab) {
            *s = t;
        }
    }

    fn take(&mut self, scenario: &Scenario, step: &Step) {
        let p = &scenario.config.provider;
        if !p.degraded_polling {
            return;
        }
        let t = step.t;
        match &step.obs {
            Observation::Degraded { tab, on } => {
                self.gap(p, *tab, t);
                if *on {
                    self.since.insert(*tab, t);
                } else {
                    self.since.remove(tab);
                }
            }
            Observation::Request {
                tab,
                what: RequestKind::Refetch,
                ..
            } => {
                self.gap(p, *tab, t);
                self.restart(tab, t);
            }
            // A tab that closed, crashed or signed out has no page to keep fresh
            // (A4: it makes no call until the user signs in, and its next
            // degraded spell starts with a new `Degraded`).
            Observation::Lifecycle { tab, what } if what == "close" || what == "crash" => {
                self.since.remove(tab);
            }
            Observation::SignedOut { tab, .. } => {
                self.since.remove(tab);
            }
            // Whatever holds a tab's calls back restarts its clock.
            Observation::Lifecycle { tab, .. }
            | Observation::AuthPaused { tab, .. }
            | Observation::Banner { tab, .. } => self.restart(tab, t),
            Observation::Response {
                tab,
                outcome: Outcome::NetError | Outcome::Timeout,
                ..
            } => self.restart(tab, t),
            _ => {}
        }
    }

    /// The gaps found, then those still open at the scenario's end.
    fn finish(&mut self, scenario: &Scenario) -> Vec<Violation> {
        let p = &scenario.config.provider;
        if !p.degraded_polling {
            return vec![];
        }
        let end = scenario.end();
        let open: Vec<Actor> = self.since.keys().copied().collect();
        for tab in open {
            self.gap(p, tab, end);
        }
        std::mem::take(&mut self.found)
    }
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

/// A parked poll's full wait, then the wait before the next poll (a retry,
/// or C6's pacing for a tab that paces), a round trip, and a second: the
/// notice bound for a tab that does not pace, and for one that does.
fn notice_bounds(scenario: &Scenario) -> (u64, u64) {
    let cfg = &scenario.config;
    let p = &cfg.provider;
    let notice_after = |wait_ms: u64| {
        cfg.buffer.long_poll_timeout_ms + wait_ms + 2 * cfg.net.max_latency_ms + 1_000
    };
    (
        notice_after(p.poll_retry_ms),
        notice_after(p.poll_retry_ms.max(p.paced_poll_max_ms)),
    )
}

/// The stream outages long enough to judge the entry rule by (none unless
/// degraded polling is on).
fn outages(scenario: &Scenario) -> Vec<(SimTime, SimTime)> {
    if !scenario.config.provider.degraded_polling {
        return vec![];
    }
    let (notice, _) = notice_bounds(scenario);
    scenario
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::StreamDown)
        .map(|f| (f.at, f.ends(scenario.duration)))
        .filter(|(a, b)| *a + notice < *b)
        .collect()
}

/// C11, C12: every running page of a live org is degraded once a stream
/// outage has lasted the notice bound.
fn degraded_entry(scenario: &Scenario, pages: &Pages) -> Vec<Violation> {
    let p = &scenario.config.provider;
    let (notice, paced_notice) = notice_bounds(scenario);
    let outages = outages(scenario);
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
            let impaired = super::calls_impaired(scenario, (tab.org, tab.browser), since, due);
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
