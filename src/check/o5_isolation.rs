//! O5: no tab receives an event of another org, or of a property it did not ask for.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation};
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let scope: BTreeMap<Actor, (u32, Option<u32>)> = ev
        .last
        .tabs
        .iter()
        .map(|t| (t.name, (t.org, t.property)))
        .collect();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        let Observation::Delivered { tab, events } = &step.obs else {
            continue;
        };
        let Some(&(org, property)) = scope.get(tab) else {
            continue;
        };
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
