//! O3: per tab and org, applied sequences strictly increase; and, the other
//! way, ordering never costs an event (C3). A tab sorts each batch by sequence
//! before applying it, so every event of a batch newer than anything the tab
//! has applied of its org (ever: a re-delivered old event may be a
//! duplicate) is applied with that batch, not skipped as "older than the last
//! one". A gap refetch would restore the rows such a skip loses, which is why
//! this is checked on the batch itself.
//!
//! The batch rule holds whatever the faults; a batch that goes to shadow
//! diagnostics (C13) applies nothing by design and is left out.
//!
//! v2 sequences events per `(org, service)` (S12), and promises no order
//! between services (two services' batches leave on their own windows), so
//! there the order checked is each service's own sequence, per tab, within
//! the epoch the tab's stream was welcomed in (a restarted server numbers
//! every service afresh).

use super::per_actor::PerActor;
use super::{Check, End, Violation};
use crate::event::Service;
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::BTreeSet;

/// A batch a tab received and has not finished applying: when, and the
/// sequences it owes.
struct Batch {
    tab: Actor,
    t: SimTime,
    owed: BTreeSet<u64>,
}

/// What O3 knows of one tab: kept in one entry, so a step looks its tab up once.
#[derive(Default)]
struct Tab {
    /// Per org: the last sequence applied (if any), and the highest.
    orgs: Vec<Org>,
    /// v2: per org and service, the last service sequence applied, since
    /// the epoch the tab's stream was last welcomed in.
    in_service: Vec<((u32, Service), u64)>,
    epoch: Option<u64>,
}

struct Org {
    org: u32,
    last: Option<u64>,
    newest: u64,
}

impl Tab {
    fn org(&mut self, org: u32) -> &mut Org {
        let at = match self.orgs.iter().position(|o| o.org == org) {
            Some(at) => at,
            None => {
                self.orgs.push(Org {
                    org,
                    last: None,
                    newest: 0,
                });
                self.orgs.len() - 1
            }
        };
        &mut self.orgs[at]
    }

    /// The highest sequence of `org` applied, 0 before any.
    fn newest(&self, org: u32) -> u64 {
        self.orgs
            .iter()
            .find(|o| o.org == org)
            .map_or(0, |o| o.newest)
    }

    /// Record `n` as the last of `org`'s `service`; the one before it, if any.
    fn replace_in_service(&mut self, key: (u32, Service), n: u64) -> Option<u64> {
        match self.in_service.iter_mut().find(|(k, _)| *k == key) {
            Some((_, last)) => Some(std::mem::replace(last, n)),
            None => {
                self.in_service.push((key, n));
                None
            }
        }
    }
}

#[derive(Default)]
pub struct Checker {
    tabs: PerActor<Tab>,
    open: Option<Batch>,
    found: Vec<Violation>,
}

impl Checker {
    /// `tab` applied `org`'s `seq` at `t`.
    fn applied(
        &mut self,
        t: SimTime,
        tab: Actor,
        org: u32,
        seq: u64,
        stream: Option<(Service, u64)>,
    ) {
        if let Some(b) = self.open.as_mut().filter(|b| b.tab == tab) {
            b.owed.remove(&seq);
        }
        let state = self.tabs.or_default(tab);
        let known = state.org(org);
        known.newest = known.newest.max(seq);
        if let Some((service, n)) = stream {
            let prev = state.replace_in_service((org, service), n);
            if let Some(prev) = prev.filter(|&p| n <= p) {
                self.found.push(Violation {
                    oracle: "O3",
                    t,
                    subject: tab.to_string(),
                    detail: format!(
                        "applied org {org} {} seq {n} after seq {prev}",
                        service.name()
                    ),
                });
            }
            return;
        }
        if let Some(prev) = known.last.replace(seq) {
            if seq <= prev {
                self.found.push(Violation {
                    oracle: "O3",
                    t,
                    subject: tab.to_string(),
                    detail: format!("applied org {org} seq {seq} after seq {prev}"),
                });
            }
        }
    }
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        let t = step.t;
        // A batch is applied in the handling that delivered it: at its instant,
        // before that tab's next batch.
        let closes = match &step.obs {
            Observation::Delivered { tab, .. } => self.open.as_ref().is_some_and(|b| b.tab == *tab),
            Observation::ShadowEvents { tab, .. } => {
                if self.open.as_ref().is_some_and(|b| b.tab == *tab) {
                    self.open = None;
                }
                false
            }
            _ => false,
        };
        if closes || self.open.as_ref().is_some_and(|b| b.t != t) {
            self.found.extend(skipped(self.open.take()));
        }
        match &step.obs {
            Observation::Delivered { tab, events } => {
                let newest = self.tabs.get(tab).map_or(0, |s| s.newest(tab.org));
                let owed = events
                    .iter()
                    .filter(|e| e.org == tab.org && e.seq > newest)
                    .map(|e| e.seq)
                    .collect();
                self.open = Some(Batch { tab: *tab, t, owed });
            }
            Observation::Applied {
                tab,
                org,
                seq,
                stream,
                ..
            } => self.applied(t, *tab, *org, *seq, *stream),
            Observation::StreamStarted {
                tab,
                epoch: Some(e),
                ..
            } => {
                let state = self.tabs.or_default(*tab);
                if state.epoch.replace(*e).is_some_and(|old| old != *e) {
                    state.in_service.clear();
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        let mut out = std::mem::take(&mut self.found);
        out.extend(skipped(self.open.take()));
        out
    }
}

/// The events a finished batch owed and did not apply.
fn skipped(batch: Option<Batch>) -> Option<Violation> {
    let b = batch?;
    let first = *b.owed.first()?;
    Some(Violation {
        oracle: "O3",
        t: b.t,
        subject: b.tab.to_string(),
        detail: format!(
            "a batch left {} event(s) newer than any the tab had applied unapplied (first: seq {first}); C3 sorts a batch before applying it, so none is skipped",
            b.owed.len()
        ),
    })
}
