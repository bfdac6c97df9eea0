//! The canonical trace: the history as JSON lines, then the violations, and
//! its hash. Field order is fixed by the types and every map in the history is
//! ordered, so the same run gives the same bytes on any machine; the hash is
//! xxh3-64, a fixed function, of exactly those bytes.
//!
//! The trace is streamed: each step's line goes to the hasher as the driver
//! records it, and is kept only when asked for (a trace file, a timeline).

use crate::check::Violation;
use crate::observation::{Observation, Step};

/// A trace being written: its hash so far, its step count, and its lines if kept.
pub struct Trace {
    hasher: xxhash_rust::xxh3::Xxh3,
    line: Vec<u8>,
    kept: Option<Vec<String>>,
    steps: u64,
}

/// A finished trace.
pub struct Written {
    pub hash: u64,
    /// The lines, when kept; empty otherwise.
    pub lines: Vec<String>,
    /// History steps (the violations' lines not counted).
    pub steps: u64,
}

impl Trace {
    pub fn new(keep: bool) -> Self {
        Trace {
            hasher: xxhash_rust::xxh3::Xxh3::new(),
            line: Vec::with_capacity(256),
            kept: keep.then(Vec::new),
            steps: 0,
        }
    }

    pub fn step(&mut self, step: &Step) {
        self.steps += 1;
        self.line(step);
    }

    fn line(&mut self, step: &Step) {
        self.line.clear();
        serde_json::to_writer(&mut self.line, step).expect("history steps serialise");
        self.hasher.update(&self.line);
        self.hasher.update(b"\n");
        if let Some(kept) = &mut self.kept {
            kept.push(String::from_utf8(self.line.clone()).expect("JSON is UTF-8"));
        }
    }

    /// Append the violations, one line each, and close the trace.
    pub fn finish(mut self, violations: &[Violation]) -> Written {
        for v in violations {
            self.line(&Step {
                t: v.t,
                obs: Observation::Violation {
                    oracle: v.oracle.to_string(),
                    subject: v.subject.clone(),
                    detail: v.detail.clone(),
                },
            });
        }
        Written {
            hash: self.hasher.digest(),
            lines: self.kept.unwrap_or_default(),
            steps: self.steps,
        }
    }
}
