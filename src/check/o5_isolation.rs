//! O5: no tab receives an event of another org, or of a property it did not ask for.
//!
//! It covers every tab that ever lived, closed and crashed ones included: a
//! tab's org is in its name, and what it asks for is the scenario's
//! declaration for its browser (odd-numbered browsers filter to one
//! property), the input the tab is given, not anything the tab decides, and
//! the `set_property_filter` faults the plan gives it (a v2 tab drops what
//! its stream still carries for the filter it left, so a delivery is judged
//! by the filter of the moment; one at the very instant of a change may be
//! of either side of it).

use super::{Check, End, Violation};
use crate::browser::TabAction;
use crate::faults::{FaultKind, Target};
use crate::observation::{Actor, Observation, Step};
use crate::scenario::Scenario;
use crate::time::SimTime;

/// Each delivery is judged on its own, so all it keeps is what it found.
#[derive(Default)]
pub struct Checker {
    found: Vec<Violation>,
}

impl Check for Checker {
    fn step(&mut self, scenario: &Scenario, step: &Step) {
        let Observation::Delivered { tab, events } = &step.obs else {
            return;
        };
        let org = tab.org;
        let declared = scenario.browser_property(tab.browser);
        let filters = filters_at(scenario, *tab, declared, step.t);
        for e in events {
            let foreign_org = e.org != org;
            let foreign_property = !filters.iter().any(|f| f.is_none() || *f == e.property);
            if foreign_org || foreign_property {
                self.found.push(Violation {
                    oracle: "O5",
                    t: step.t,
                    subject: tab.to_string(),
                    detail: format!(
                        "received org {} property {:?} seq {} but is scoped to org {org} property {:?}",
                        e.org, e.property, e.seq, filters[filters.len() - 1]
                    ),
                });
            }
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}

/// The filters `tab` has at `t`: the one in force just before, and the one
/// after every change at `t` (the same one, mostly). Each change lasts until
/// `for_s` or the heal undoes it, back to the `declared` filter.
fn filters_at(
    scenario: &Scenario,
    tab: Actor,
    declared: Option<u32>,
    t: SimTime,
) -> [Option<u32>; 2] {
    let target = Target::Tab(tab.org, tab.browser, tab.tab.unwrap_or(u32::MAX));
    let mut changes: Vec<(SimTime, Option<u32>)> = Vec::new();
    for f in scenario.faults.iter().filter(|f| f.target == target) {
        if let FaultKind::Tab(TabAction::SetFilter { filter: Some(to) }) = f.kind {
            changes.push((f.at, to.property()));
            changes.push((f.ends(scenario.duration), declared));
        }
    }
    // Stable: a change and an undo at one instant keep the plan's order.
    changes.sort_by_key(|c| c.0);
    let upto = |within: &dyn Fn(SimTime) -> bool| {
        let last = changes.iter().filter(|c| within(c.0)).last();
        last.map_or(declared, |c| c.1)
    };
    [upto(&|at| at < t), upto(&|at| at <= t)]
}
