//! The canonical trace: the history as JSON lines, then the violations, and
//! its hash. Field order is fixed by the types and every map in the history is
//! ordered, so the same run gives the same bytes on any machine; the hash is
//! xxh3-64, a fixed function, of exactly those bytes.

use crate::check::Violation;
use crate::observation::{Observation, Step};

pub fn canonical_lines(steps: &[Step], violations: &[Violation]) -> Vec<String> {
    let mut lines: Vec<String> = steps
        .iter()
        .map(|s| serde_json::to_string(s).expect("history steps serialise"))
        .collect();
    for v in violations {
        let step = Step {
            t: v.t,
            obs: Observation::Violation {
                oracle: v.oracle.to_string(),
                subject: v.subject.clone(),
                detail: v.detail.clone(),
            },
        };
        lines.push(serde_json::to_string(&step).expect("violations serialise"));
    }
    lines
}

pub fn hash_lines(lines: &[String]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    h.digest()
}
