//! O3: per tab and org, applied sequences strictly increase.

use super::{Evidence, Violation};
use crate::observation::{Actor, Observation};
use std::collections::BTreeMap;

pub fn check(ev: &Evidence) -> Vec<Violation> {
    let mut last: BTreeMap<(Actor, u32), u64> = BTreeMap::new();
    let mut out = Vec::new();
    for step in &ev.history.steps {
        if let Observation::Applied { tab, org, seq, .. } = &step.obs {
            if let Some(prev) = last.insert((*tab, *org), *seq) {
                if *seq <= prev {
                    out.push(Violation {
                        oracle: "O3",
                        t: step.t,
                        subject: tab.to_string(),
                        detail: format!("applied org {org} seq {seq} after seq {prev}"),
                    });
                }
            }
        }
    }
    out
}
