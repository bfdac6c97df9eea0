//! E4: the pub/sub hop between the domain write and the realtime buffer.
//!
//! Delivery is at-least-once and unordered: each published event reaches the
//! buffer after its own seeded delay, and with `duplicate_rate` a second copy
//! follows, so concurrent publishes can overtake each other and the buffer
//! can hold the same event twice.

use crate::event::Event;
use crate::seed::{jitter_ms, SimRng};
use crate::time::SimTime;
use rand::Rng;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct PubSubConfig {
    pub pubsub_max_delay_ms: u64,
    pub pubsub_duplicate_rate: f64,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        PubSubConfig {
            pubsub_max_delay_ms: 20,
            pubsub_duplicate_rate: 0.05,
        }
    }
}

#[derive(Debug)]
pub struct PubSub {
    config: PubSubConfig,
    /// Deliveries keyed by (due time, publish order) so ties go in publish order.
    in_flight: BTreeMap<(SimTime, u64), (Event, bool)>,
    next_order: u64,
}

impl PubSub {
    pub fn new(config: PubSubConfig) -> Self {
        PubSub {
            config,
            in_flight: BTreeMap::new(),
            next_order: 0,
        }
    }

    pub fn publish(&mut self, now: SimTime, event: Event, rng: &mut SimRng) {
        let copies = if rng.gen_bool(self.config.pubsub_duplicate_rate.clamp(0.0, 1.0)) {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let due = now + jitter_ms(rng, 0, self.config.pubsub_max_delay_ms);
            self.next_order += 1;
            self.in_flight
                .insert((due, self.next_order), (event.clone(), copy > 0));
        }
    }

    /// Deliveries due at or before `now`, in due order; the flag marks a redelivery.
    pub fn due(&mut self, now: SimTime) -> Vec<(Event, bool)> {
        let later = self.in_flight.split_off(&(now + 1, 0));
        std::mem::replace(&mut self.in_flight, later)
            .into_values()
            .collect()
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }
}
