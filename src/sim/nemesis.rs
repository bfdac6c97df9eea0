//! The nemesis: a scenario's fault list turned into a timeline of actions
//! (start a fault, undo it after `for_s`, heal everything at the end of the
//! fault phase), carried out on a driver's world. What each fault kind does is
//! decided here, once; a driver only says how to cut a link, change a
//! latency, reset connections and hand an input to a node (`World`).

use crate::browser::BrowserInput;
use crate::observation::Observation;
use crate::scenario::{Direction, Fault, FaultKind, Scenario, Target};
use crate::seed::rng_for;
use crate::server::tokens::RefreshMode;
use crate::server::ServerInput;
use crate::time::SimTime;
use rand::Rng;
use std::collections::VecDeque;

/// A browser by (org, browser index).
pub type BrowserKey = (u32, u32);

/// What a driver lets the nemesis do to its world. Each call names the
/// browsers a fault lands on, in the order `Target::browsers` gives them.
pub trait World {
    /// Append a step to the history at `t`.
    fn record(&mut self, t: SimTime, obs: Observation);
    /// Cut (`cut = true`) or repair both directions between these browsers and the server.
    fn partition(&mut self, browsers: &[BrowserKey], cut: bool);
    /// Cut or repair one direction between these browsers and the server.
    fn partition_oneway(&mut self, browsers: &[BrowserKey], direction: Direction, cut: bool);
    /// Fix these browsers' link latency (`Some`), or give them back the network's own (`None`).
    fn set_latency(&mut self, browsers: &[BrowserKey], ms: Option<u64>);
    /// Reset every open connection of these browsers, or of everyone (`None`: the server's).
    fn reset_connections(&mut self, browsers: Option<&[BrowserKey]>);
    fn server_input(&mut self, input: ServerInput);
    fn browser_input(&mut self, browser: BrowserKey, input: BrowserInput);
}

/// The timeline of one run and the faults in force, so they can be undone
/// one by one and all at the heal.
pub struct Nemesis<'a> {
    scenario: &'a Scenario,
    actions: VecDeque<(SimTime, Action)>,
    active: Vec<Fault>,
}

impl<'a> Nemesis<'a> {
    pub fn new(scenario: &'a Scenario, seed: u64) -> Self {
        Nemesis {
            scenario,
            actions: timeline(scenario, seed).into(),
            active: Vec::new(),
        }
    }

    /// When the next action is due.
    pub fn next_at(&self) -> Option<SimTime> {
        self.actions.front().map(|(t, _)| *t)
    }

    /// Carry out every action due at or before `now`, at `now`.
    pub fn act_due(&mut self, now: SimTime, world: &mut impl World) {
        while self.actions.front().is_some_and(|(at, _)| *at <= now) {
            let (_, action) = self.actions.pop_front().expect("front exists");
            match action {
                Action::Start(f) => {
                    world.record(now, Observation::Fault { what: f.describe() });
                    apply(self.scenario, world, &f, true);
                    self.active.push(f);
                }
                Action::Undo(f) => {
                    apply(self.scenario, world, &f, false);
                    self.active.retain(|a| a != &f);
                }
                Action::Flap { fault, cut } => {
                    let browsers = fault.target.browsers(&self.scenario.topology);
                    world.partition(&browsers, cut);
                }
                Action::HealAll => {
                    for f in std::mem::take(&mut self.active).into_iter().rev() {
                        apply(self.scenario, world, &f, false);
                    }
                    world.record(now, Observation::Heal);
                }
            }
        }
    }
}

/// Start (or, `start = false`, undo) one fault on `world`.
fn apply(scenario: &Scenario, world: &mut impl World, fault: &Fault, start: bool) {
    let browsers = fault.target.browsers(&scenario.topology);
    match &fault.kind {
        FaultKind::Partition => world.partition(&browsers, start),
        FaultKind::PartitionOneway(direction) => {
            world.partition_oneway(&browsers, *direction, start)
        }
        FaultKind::Latency { ms } => world.set_latency(&browsers, start.then_some(*ms)),
        // Its cuts are actions of their own (`flaps`); what is left to undo is the last.
        FaultKind::PacketLoss { .. } if start => {}
        FaultKind::PacketLoss { .. } => world.partition(&browsers, false),
        FaultKind::ResetConnections if start => match fault.target {
            Target::Server => world.reset_connections(None),
            _ => world.reset_connections(Some(&browsers)),
        },
        FaultKind::ResetConnections => {}
        FaultKind::Tab(_) => {
            if let Some(input) = tab_input(fault, start) {
                for &b in &browsers {
                    world.browser_input(b, input.clone());
                }
            }
        }
        FaultKind::ServerRestart
        | FaultKind::Burst { .. }
        | FaultKind::TokenExpire
        | FaultKind::Refresh(_)
        | FaultKind::EchoDrop
        | FaultKind::MutateSlow
        | FaultKind::StreamDown
        | FaultKind::DropStream => {
            for input in server_inputs(scenario, fault, start) {
                world.server_input(input);
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Action {
    Start(Fault),
    Undo(Fault),
    /// One burst of a `packet_loss` fault begins (`cut`) or ends.
    Flap {
        fault: Fault,
        cut: bool,
    },
    /// The end of the fault phase: undo whatever is still in force.
    HealAll,
}

/// Every action in time order; at equal times, undos before starts, so a
/// fault that ends as another begins does not cancel the new one.
fn timeline(scenario: &Scenario, seed: u64) -> Vec<(SimTime, Action)> {
    let mut actions = Vec::new();
    for f in &scenario.faults {
        actions.push((f.at, 1, Action::Start(f.clone())));
        if let FaultKind::PacketLoss { pct } = f.kind {
            for (at, cut) in flaps(seed, f, pct, f.ends(scenario.duration)) {
                let flap = Action::Flap {
                    fault: f.clone(),
                    cut,
                };
                actions.push((at, 2, flap));
            }
        }
        // A restart manages its own downtime inside the server node; bursts, resets
        // and token expiries are instants (`FAULT_KINDS` says which kinds last).
        let lasting = f.lasts();
        if let (Some(ms), true) = (f.for_ms, lasting) {
            let end = f.at + ms;
            if end < scenario.duration {
                actions.push((end, 0, Action::Undo(f.clone())));
            }
        }
    }
    actions.push((scenario.duration, 0, Action::HealAll));
    actions.sort_by_key(|(t, order, _)| (*t, *order));
    actions.into_iter().map(|(t, _, a)| (t, a)).collect()
}

/// A `packet_loss` fault as the transport sees it: TCP hides a lost packet
/// behind a retransmission, so what shows is a burst of loss, a cut of the
/// link for 0.2-2 s, during which a call or frame is lost. The cuts cover
/// `pct` percent of `[fault.at, until)` on average, at times drawn from the
/// run's seed and the fault's place in the plan (so both drivers cut alike).
/// Like two overlapping partitions, a burst's end repairs the link whatever
/// else cut it.
fn flaps(seed: u64, fault: &Fault, pct: u32, until: SimTime) -> Vec<(SimTime, bool)> {
    let mut rng = rng_for(seed, &format!("packet_loss/{}", fault.id));
    let (min_cut, max_cut) = (200, 2_000);
    let mean_gap = (min_cut + max_cut) / 2 * u64::from(100 - pct) / u64::from(pct);
    let mut out = Vec::new();
    let mut t = fault.at;
    loop {
        t = t + rng.gen_range(mean_gap / 2..=mean_gap * 3 / 2);
        if t >= until {
            break;
        }
        let end = (t + rng.gen_range(min_cut..=max_cut)).min(until);
        out.push((t, true));
        out.push((end, false));
        t = end;
    }
    out
}

/// The server inputs that start (or, `start = false`, undo) a fault the server node applies.
fn server_inputs(scenario: &Scenario, fault: &Fault, start: bool) -> Vec<ServerInput> {
    match (&fault.kind, start) {
        (FaultKind::ServerRestart, true) => {
            let down_ms = fault
                .for_ms
                .unwrap_or(0)
                .min(scenario.duration.since(fault.at));
            vec![ServerInput::Restart { down_ms }]
        }
        (FaultKind::Burst { count }, true) => match fault.target {
            Target::Org(org) => vec![ServerInput::Burst { org, count: *count }],
            _ => vec![],
        },
        (FaultKind::TokenExpire, true) => fault
            .target
            .browsers(&scenario.topology)
            .into_iter()
            .map(|(org, user)| ServerInput::ExpireTokens { org, user })
            .collect(),
        (FaultKind::EchoDrop, true) => match fault.target {
            Target::Org(org) => vec![ServerInput::DropEcho { org }],
            _ => vec![],
        },
        (FaultKind::StreamDown, _) => vec![ServerInput::SetStreamDown(start)],
        (FaultKind::DropStream, true) => vec![ServerInput::DropStreams {
            org: match fault.target {
                Target::Org(org) => Some(org),
                _ => None,
            },
        }],
        (FaultKind::MutateSlow, _) => vec![ServerInput::SetWriteDelay {
            ms: if start {
                scenario.config.mutate_slow_ms
            } else {
                0
            },
        }],
        (FaultKind::Refresh(mode), _) => vec![ServerInput::SetRefreshMode(if start {
            *mode
        } else {
            RefreshMode::Normal
        })],
        _ => vec![],
    }
}

/// The browser input that starts (or, `start = false`, undoes) a tab fault.
fn tab_input(fault: &Fault, start: bool) -> Option<BrowserInput> {
    use crate::browser::TabSel;
    let FaultKind::Tab(action) = fault.kind else {
        return None;
    };
    let action = if start { action } else { fault.undo_action()? };
    let tab = match fault.target {
        Target::Tab(_, _, t) => TabSel::Index(t),
        _ => TabSel::Leader,
    };
    Some(BrowserInput::Lifecycle {
        id: fault.id,
        tab,
        action,
    })
}
