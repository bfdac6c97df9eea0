//! The tab's own writes (U2): the workload of a user editing the list, and
//! which writes the page shows optimistically.
//!
//! A tab writes at `per_min` on average (jittered, so tabs do not march in
//! step): mostly adds, some updates and deletes of rows it shows. Two tabs
//! of one org that pick the same row edit it concurrently; the server takes
//! both in commit order and the later commit wins everywhere.

use crate::event::{MutationId, PropertyId, Row};
use crate::http::{MutationRequest, WriteOp};
use crate::seed::{jitter_ms, SimRng};
use crate::time::SimTime;
use rand::Rng;

#[derive(Clone, Debug, PartialEq)]
pub struct WriteConfig {
    /// Writes per tab per minute; 0 means the tab only reads.
    pub per_min: f64,
    /// Share of adds shown at once as optimistic rows, in percent.
    pub optimistic_pct: u32,
    /// Share of writes that add a row, and that delete one, in percent; the rest update.
    pub add_pct: u32,
    pub delete_pct: u32,
    /// U2: a write whose echo has not come this long after it invalidates the list.
    pub echo_timeout_ms: u64,
    pub request_timeout_ms: u64,
    /// No write starts at or after this (the end of the scenario's fault phase).
    pub until: SimTime,
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig {
            per_min: 0.0,
            optimistic_pct: 50,
            add_pct: 50,
            delete_pct: 15,
            echo_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            until: SimTime(u64::MAX),
        }
    }
}

impl WriteConfig {
    /// When the next write after `now` goes out, if the tab writes at all.
    pub fn next_after(&self, now: SimTime, rng: &mut SimRng) -> Option<SimTime> {
        if self.per_min <= 0.0 {
            return None;
        }
        let mean = (60_000.0 / self.per_min).round().max(1.0) as u64;
        Some(now + jitter_ms(rng, 1, 2 * mean)).filter(|t| *t < self.until)
    }

    /// The next write: what it does, and whether the page shows it at once.
    /// Updates and deletes pick one of `rows` (the rows the page shows).
    pub fn choose(
        &self,
        rng: &mut SimRng,
        property: Option<PropertyId>,
        rows: &[&Row],
    ) -> (MutationRequest, bool) {
        let mutation: MutationId = rng.gen();
        let roll = rng.gen_range(0..100);
        let amount_cents = rng.gen_range(100..1_000_000);
        let target = (!rows.is_empty()).then(|| rows[rng.gen_range(0..rows.len())]);
        let (op, row_property) = match target {
            Some(r) if roll >= self.add_pct && roll < self.add_pct + self.delete_pct => {
                (WriteOp::Delete { row: r.id }, r.property_id)
            }
            Some(r) if roll >= self.add_pct => (
                WriteOp::Update {
                    row: r.id,
                    amount_cents,
                },
                r.property_id,
            ),
            _ => (WriteOp::Add { amount_cents }, property.unwrap_or(0)),
        };
        let optimistic =
            matches!(op, WriteOp::Add { .. }) && rng.gen_range(0..100) < self.optimistic_pct;
        let req = MutationRequest {
            mutation,
            property: row_property,
            op,
        };
        (req, optimistic)
    }
}
