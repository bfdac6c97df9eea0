//! O10 on focus (U4): a window that gains focus refetches a list that is
//! stale, one not loaded by a snapshot nor patched by an event for more than
//! `list_stale_ms`. The refetch goes out within `FOCUS_REFETCH_BOUND_MS`.
//!
//! It applies to a signed-in tab that runs until then, and whose calls can go
//! through: a tab with a refetch already out (the owed one follows it), a
//! failed call in the last `refetch_retry_ms` (the retry paces it), a tab
//! paused for a token or signed out when it gains focus (C7, A4: it sends no
//! data call until a refresh or a login, which its next data call shows), or
//! a pause for a token, a sign-out, a freeze, a close or a crash by the
//! deadline is excused.

use super::per_actor::PerActor;
use super::{call_failed, Check, End, Violation};
use crate::observation::{Observation, RequestKind, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeSet;

/// A focused tab's refetch is sent by the same handling; a second is room
/// for its timers to run.
pub const FOCUS_REFETCH_BOUND_MS: u64 = 1_000;

#[derive(Default)]
struct TabSeen {
    /// When the list was last loaded or patched.
    fresh_at: Option<SimTime>,
    refetches: BTreeSet<SimTime>,
    /// Refetches out now.
    out: BTreeSet<u64>,
    /// Focus instants owed a refetch.
    owed: Vec<SimTime>,
    /// When the tab was held back (paused, signed out, frozen, gone) or a call failed.
    held: BTreeSet<SimTime>,
    failed: BTreeSet<SimTime>,
    /// Paused for a token (C7) or signed out (A4) since its last data call.
    paused: bool,
}

/// Per tab what the focus rule needs: when the list was fresh, the refetches,
/// the holds and failures, and the focus instants owed a refetch, judged once
/// the run is over (a refetch or a hold may come up to the bound later).
#[derive(Default)]
pub struct Checker {
    tabs: PerActor<TabSeen>,
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let p = &scenario.config.provider;
        let tabs = &mut self.tabs;
        let t = step.t;
        match &step.obs {
            Observation::Snapshot { tab, .. } | Observation::Applied { tab, .. } => {
                tabs.or_default(*tab).fresh_at = Some(t);
            }
            Observation::Request {
                tab,
                req,
                what: RequestKind::Refetch,
                ..
            } => {
                let seen = tabs.or_default(*tab);
                seen.refetches.insert(t);
                seen.out.insert(*req);
                seen.paused = false;
            }
            Observation::Request {
                tab,
                what: RequestKind::Poll | RequestKind::Aggregate | RequestKind::Mutate,
                ..
            } => tabs.or_default(*tab).paused = false,
            Observation::Response {
                tab, req, outcome, ..
            } => {
                let seen = tabs.or_default(*tab);
                seen.out.remove(req);
                if call_failed(outcome) {
                    seen.failed.insert(t);
                }
            }
            Observation::Lifecycle { tab, what } if what == "focus" => {
                let seen = tabs.or_default(*tab);
                let stale = seen.fresh_at.is_some_and(|f| t.since(f) > p.list_stale_ms);
                let pacing = seen
                    .failed
                    .range(SimTime(t.as_ms().saturating_sub(p.refetch_retry_ms))..=t)
                    .next()
                    .is_some();
                if stale && seen.out.is_empty() && !pacing && !seen.paused {
                    seen.owed.push(t);
                }
            }
            Observation::Lifecycle { tab, what }
                if matches!(what.as_str(), "freeze" | "close" | "crash") =>
            {
                tabs.or_default(*tab).held.insert(t);
            }
            Observation::AuthPaused { tab, .. } | Observation::SignedOut { tab, .. } => {
                let seen = tabs.or_default(*tab);
                seen.held.insert(t);
                seen.paused = true;
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        overdue(end.scenario, &self.tabs)
    }
}

/// The focus instants owed a refetch that none answered in time.
fn overdue(scenario: &Scenario, tabs: &PerActor<TabSeen>) -> Vec<Violation> {
    let p = &scenario.config.provider;
    let mut out = Vec::new();
    for (tab, seen) in tabs.sorted() {
        for &t in &seen.owed {
            let due = t + FOCUS_REFETCH_BOUND_MS;
            let refetched = seen.refetches.range(t..=due).next().is_some();
            let held = seen.held.range(t..=due).next().is_some();
            if !refetched && !held && due <= scenario.end() {
                out.push(Violation {
                    oracle: "O10",
                    t: due,
                    subject: tab.to_string(),
                    detail: format!(
                        "focused at {t} with a list older than list_stale_ms {} and no refetch within {FOCUS_REFETCH_BOUND_MS} ms (U4)",
                        p.list_stale_ms
                    ),
                });
            }
        }
    }
    out.sort_by_key(|v| v.t);
    out
}
