//! O5: no tab receives an event of another org, or of a property it did not ask for.
//!
//! It covers every tab that ever lived, closed and crashed ones included: a
//! tab's org is in its name, and what it asks for is the scenario's
//! declaration for its browser (odd-numbered browsers filter to one
//! property), the input the tab is given, not anything the tab decides.

use super::{Evidence, Violation};
use crate::observation::Observation;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let Observation::Delivered { tab, events } = &step.obs else {
            continue;
        };
        let org = tab.org;
        let property = ev.scenario.browser_config(tab.org, tab.browser).property;
        for e in events {
            let foreign_org = e.org != org;
            let foreign_property = property.is_some() && e.property != property;
            if foreign_org || foreign_property {
                out.push(Violation {
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
    out
}
