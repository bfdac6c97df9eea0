//! O14 (v2, S14, C15): a route or property-filter change is made in place.
//! Read from the scenario's fault plan (which page each tab is moved to:
//! the input the tab is given, not anything it decides) and what the tab
//! saw of its stream, never from the server:
//! - a tab whose stream is open when its page changes keeps that stream:
//!   it never closes it itself to open another (`update-services` changes
//!   it), unless something else made it let go (the tab was hidden,
//!   closed, signed out, another fault, or the change itself failed);
//! - a resubscription a tab's stream acknowledges carries the services of a
//!   page the tab has shown since the stream was welcomed (a route change
//!   in one tab never retargets another's stream);
//! - at the end, a tab with an open stream has it carry its page's services
//!   (behind the leader, the scope's stream carries every service);
//! - no tab applies an event of a service its page does not show at that
//!   moment: what a stream still carries until the change is acknowledged,
//!   and, behind the leader, all the scope's stream brings that the page
//!   does not show, the tab drops unseen. Judged where the plan throttles
//!   no tab of the browser (B4: a busy tab takes the move late, and keeps
//!   applying its old page's events until it does).
//!
//! That nothing of a service no longer carried arrives after the
//! acknowledgement, and that a newly carried one continues from its start,
//! is O13's (each batch follows the tab's copy of its service); that none
//! of a new page's events is missed is O1's and O2's.

use super::{Check, End, Violation};
use crate::browser::TabAction;
use crate::event::Service;
use crate::faults::{FaultKind, Target};
use crate::observation::{Actor, Observation, Outcome, RequestKind, Step};
use crate::query::ListKind;
use crate::scenario::Scenario;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

type Services = BTreeSet<Service>;

/// E1: the services whose events a page's lists show.
fn services_of(lists: &[ListKind]) -> Services {
    lists.iter().map(|l| l.entity().service()).collect()
}

#[derive(Default)]
struct TabStream {
    /// Its `update-services` calls in flight.
    updates: BTreeSet<u64>,
    /// The page's services now, and every page's since the welcome.
    page: Services,
    shown: Vec<Services>,
    /// The stream request in flight, and the one welcomed.
    opening: Option<u64>,
    open: Option<u64>,
    /// What the open stream carries (its welcome's or last ack's services).
    carried: Option<Services>,
    /// A change made while the stream was open, not yet acknowledged: when.
    change: Option<SimTime>,
    /// Something other than the change may have made the tab let go since.
    excused: bool,
}

/// A page change the plan makes: when, on which tab, and the services of
/// the page it moves to (none: a filter change, which keeps them).
struct Change {
    at: SimTime,
    tab: Actor,
    services: Option<Services>,
}

pub struct Checker {
    home: Services,
    /// What an open stream must carry at the end: none, its page's; behind
    /// the leader, every service.
    scope_stream: Option<Services>,
    /// Browsers the plan CPU-throttles, whose tabs take their moves late.
    throttled: BTreeSet<(u32, u32)>,
    changes: Vec<Change>,
    next: usize,
    tabs: BTreeMap<Actor, TabStream>,
    found: Vec<Violation>,
}

impl Checker {
    pub fn new(s: &Scenario) -> Self {
        let home = services_of(&s.config.provider.page.lists);
        let mut changes = Vec::new();
        let mut throttled = BTreeSet::new();
        for f in &s.faults {
            if let (
                FaultKind::Tab(TabAction::CpuThrottle { .. }),
                Target::Tab(o, b, _) | Target::Leader(o, b),
            ) = (&f.kind, &f.target)
            {
                throttled.insert((*o, *b));
            }
            let (FaultKind::Tab(action), Target::Tab(o, b, k)) = (&f.kind, &f.target) else {
                continue;
            };
            let tab = Actor::tab(*o, *b, *k);
            // Each is undone after `for_s`, or at the heal: back to the
            // scenario's page (a filter change keeps the services both ways).
            let (to, back) = match action {
                TabAction::ChangeRoute { lists } => {
                    let to = lists.map_or(home.clone(), |l| services_of(&l.kinds()));
                    (Some(to), Some(home.clone()))
                }
                TabAction::SetFilter { .. } => (None, None),
                _ => continue,
            };
            changes.push(Change {
                at: f.at,
                tab,
                services: to,
            });
            let at = f.ends(s.duration);
            changes.push(Change {
                at,
                tab,
                services: back,
            });
        }
        changes.sort_by_key(|c| c.at);
        let shared = s.config.provider.stream_behind_leader;
        Checker {
            scope_stream: shared.then(|| Service::ALL.into_iter().collect()),
            throttled,
            home,
            changes,
            next: 0,
            tabs: BTreeMap::new(),
            found: Vec::new(),
        }
    }

    fn tab(&mut self, tab: Actor) -> &mut TabStream {
        let home = &self.home;
        self.tabs.entry(tab).or_insert_with(|| TabStream {
            page: home.clone(),
            shown: vec![home.clone()],
            ..Default::default()
        })
    }

    /// The plan's changes due by `t`, in order.
    fn changes_due(&mut self, t: SimTime) {
        while let Some(c) = self.changes.get(self.next).filter(|c| c.at <= t) {
            self.next += 1;
            let (at, tab, to) = (c.at, c.tab, c.services.clone());
            let s = self.tab(tab);
            if let Some(to) = to {
                s.page = to;
            }
            s.shown.push(s.page.clone());
            if s.open.is_some() && s.change.is_none() {
                s.change = Some(at);
                s.excused = false;
            }
        }
    }

    /// The tab's stream acknowledged a change: it now carries `carried`.
    fn resubscribed(&mut self, t: SimTime, tab: Actor, carried: Services) {
        let s = self.tab(tab);
        let asked = s.shown.contains(&carried);
        let shown: Vec<String> = s.shown.iter().map(names).collect();
        s.carried = Some(carried.clone());
        s.change = None;
        if !asked {
            let detail = format!(
                "its stream was resubscribed to {}, which no page it has shown since its welcome carries ({})",
                names(&carried),
                shown.join(" then ")
            );
            self.flag(t, tab, detail);
        }
    }

    /// A call of the tab ended: an update (a failed one excuses a reopen),
    /// or its open stream (closed by the tab itself during a change: flagged).
    fn ended(&mut self, t: SimTime, tab: Actor, req: u64, outcome: &Outcome) {
        // Only a tab that streams, or was moved, has anything to judge: a v1
        // run keeps nothing here.
        let Some(s) = self.tabs.get_mut(&tab) else {
            return;
        };
        if s.updates.remove(&req) {
            // A change that failed is made by reopening the stream.
            s.excused |= *outcome != Outcome::Status(200);
            return;
        }
        if s.open != Some(req) {
            return;
        }
        s.open = None;
        s.carried = None;
        let change = s.change.take();
        if let (Some(at), Outcome::Aborted, false) = (change, outcome, s.excused) {
            let detail = format!(
                "its page changed at {at} with its stream (request {req}) open, and it closed that stream itself instead of changing it in place"
            );
            self.flag(t, tab, detail);
        }
    }

    /// `tab` applied an event of `service`: one its page shows now.
    fn applied(&mut self, t: SimTime, tab: Actor, service: Service) {
        if self.throttled.contains(&(tab.org, tab.browser)) {
            return;
        }
        let page = &self.tab(tab).page;
        if !page.contains(&service) {
            let detail = format!(
                "applied a {} event while its page shows {}",
                service.name(),
                names(page)
            );
            self.flag(t, tab, detail);
        }
    }

    /// Something other than a page change may make `tab` let its stream go.
    fn excuse(&mut self, tab: Actor) {
        if let Some(s) = self.tabs.get_mut(&tab) {
            s.excused = true;
        }
    }

    fn flag(&mut self, t: SimTime, tab: Actor, detail: String) {
        self.found.push(Violation {
            oracle: "O14",
            t,
            subject: tab.to_string(),
            detail,
        });
    }
}

fn names(s: &Services) -> String {
    let v: Vec<&str> = s.iter().map(|s| s.name()).collect();
    v.join(",")
}

impl Check for Checker {
    fn step(&mut self, _: &Scenario, step: &Step) {
        self.changes_due(step.t);
        match &step.obs {
            Observation::Request { tab, req, what, .. } => match what {
                RequestKind::Stream => self.tab(*tab).opening = Some(*req),
                RequestKind::UpdateServices => {
                    self.tab(*tab).updates.insert(*req);
                }
                _ => {}
            },
            // A follower's copy of its leader's stream: the tab opened nothing.
            Observation::StreamStarted { shared: true, .. } => {}
            Observation::Applied {
                tab,
                stream: Some((service, _)),
                ..
            } => self.applied(step.t, *tab, *service),
            Observation::StreamStarted {
                tab,
                epoch: Some(_),
                starts,
                ..
            } => {
                let s = self.tab(*tab);
                s.open = s.opening.take();
                s.carried = Some(starts.iter().map(|x| x.service).collect());
                s.shown = vec![s.page.clone()];
            }
            Observation::StreamStarted {
                tab,
                epoch: None,
                starts,
                ..
            } => self.resubscribed(step.t, *tab, starts.iter().map(|x| x.service).collect()),
            Observation::Response {
                tab, req, outcome, ..
            } => self.ended(step.t, *tab, *req, outcome),
            Observation::Lifecycle { tab, what }
                if what != "navigate" && what != "set_property_filter" =>
            {
                self.excuse(*tab);
            }
            Observation::Fault { what }
                if !what.starts_with("navigate ") && !what.starts_with("set_property_filter ") =>
            {
                for s in self.tabs.values_mut() {
                    s.excused = true;
                }
            }
            Observation::SignedOut { tab, .. } | Observation::Logout { tab, .. } => {
                self.excuse(*tab);
            }
            _ => {}
        }
    }

    fn finish(&mut self, end: &End) -> Vec<Violation> {
        for tab in &end.last.tabs {
            let Some(s) = self.tabs.get(&tab.name) else {
                continue;
            };
            let Some(carried) = s.carried.clone() else {
                continue;
            };
            let page = s.page.clone();
            let owed = self.scope_stream.as_ref().unwrap_or(&page);
            if carried != *owed {
                let what = if self.scope_stream.is_some() {
                    "the scope's stream must carry every service"
                } else {
                    "its page shows"
                };
                let detail = format!(
                    "at the end its open stream carries {} but {what} {}",
                    names(&carried),
                    names(owed)
                );
                self.flag(end.scenario.end(), tab.name, detail);
            }
        }
        std::mem::take(&mut self.found)
    }
}
