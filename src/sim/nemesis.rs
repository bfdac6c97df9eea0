//! The nemesis: a scenario's fault list turned into a timeline of actions
//! (start a fault, undo it after `for_s`, heal everything at the end of the
//! fault phase), which a driver applies to its network and nodes.

use crate::scenario::{Fault, FaultKind, Scenario, Target};
use crate::server::tokens::RefreshMode;
use crate::server::ServerInput;
use crate::time::SimTime;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Start(Fault),
    Undo(Fault),
    /// The end of the fault phase: undo whatever is still in force.
    HealAll,
}

/// Every action in time order; at equal times, undos before starts, so a
/// fault that ends as another begins does not cancel the new one.
pub fn timeline(scenario: &Scenario) -> Vec<(SimTime, Action)> {
    let mut actions = Vec::new();
    for f in &scenario.faults {
        actions.push((f.at, 1, Action::Start(f.clone())));
        // A restart manages its own downtime inside the server node; bursts, resets
        // and token expiries are instants.
        let lasting = match f.kind {
            FaultKind::Burst { .. }
            | FaultKind::ResetConnections
            | FaultKind::ServerRestart
            | FaultKind::TokenExpire
            | FaultKind::EchoDrop => false,
            FaultKind::Tab(_) => f.undo_action().is_some(),
            _ => true,
        };
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

/// The server inputs that start (or, `start = false`, undo) a fault the server node applies.
pub fn server_inputs(scenario: &Scenario, fault: &Fault, start: bool) -> Vec<ServerInput> {
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
pub fn tab_input(fault: &Fault, start: bool) -> Option<crate::browser::BrowserInput> {
    use crate::browser::{BrowserInput, TabSel};
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
