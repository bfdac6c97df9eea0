//! O5: no tab receives an event of another org, or of a property it did not ask for.
//!
//! It covers every tab that ever lived, closed and crashed ones included: a
//! tab's org is in its name, and what it asks for is the scenario's
//! declaration for its browser (odd-numbered browsers filter to one
//! property), the input the tab is given, not anything the tab decides.

use super::{Check, End, Violation};
use crate::observation::{Observation, Step};
use crate::scenario::Scenario;

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
        let property = scenario.browser_config(tab.org, tab.browser).property;
        for e in events {
            let foreign_org = e.org != org;
            let foreign_property = property.is_some() && e.property != property;
            if foreign_org || foreign_property {
                self.found.push(Violation {
                    oracle: "O5",
                    t: step.t,
                    subject: tab.to_string(),
                    detail: format!(
                        "received org {} property {:?} seq {} but is scoped to org {org} property {property:?}",
                        e.org, e.property, e.seq
                    ),
                });
            }
        }
    }

    fn finish(&mut self, _: &End) -> Vec<Violation> {
        std::mem::take(&mut self.found)
    }
}
