//! E4: the pub/sub hop between the domain write and the realtime buffer.
//!
//! Delivery is at-least-once and unordered: each published event reaches the
//! buffer after its own seeded delay, and with `duplicate_rate` a second copy
//! follows, so concurrent publishes can overtake each other and the buffer
//! can hold the same event twice.
//!
//! As a `Machine`, its input is a published event and its outputs are the
//! deliveries due, each with a flag that marks a redelivery.

use crate::event::Event;
use crate::machine::Machine;
use crate::seed::{jitter_ms, SimRng};
use crate::time::SimTime;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};

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
    /// The delays' and duplicates' own stream, so no other server draw moves them.
    rng: SimRng,
    /// Deliveries keyed by (due time, publish order) so ties go in publish order.
    in_flight: BTreeMap<(SimTime, u64), (Event, bool)>,
    next_order: u64,
    out: VecDeque<(Event, bool)>,
}

impl PubSub {
    pub fn new(config: PubSubConfig, rng: SimRng) -> Self {
        PubSub {
            config,
            rng,
            in_flight: BTreeMap::new(),
            next_order: 0,
            out: VecDeque::new(),
        }
    }

    fn publish(&mut self, now: SimTime, event: Event) {
        let duplicate_rate = self.config.pubsub_duplicate_rate.clamp(0.0, 1.0);
        let copies = if self.rng.gen_bool(duplicate_rate) {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let due = now + jitter_ms(&mut self.rng, 0, self.config.pubsub_max_delay_ms);
            self.next_order += 1;
            self.in_flight
                .insert((due, self.next_order), (event.clone(), copy > 0));
        }
    }
}

impl Machine for PubSub {
    /// An event published after its domain write.
    type Input = Event;
    /// A delivery due, and whether it is a redelivery.
    type Output = (Event, bool);
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, event: Event, _: &()) {
        self.publish(now, event)
    }

    /// Move the deliveries due at or before `now` out, in due order.
    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        let later = self.in_flight.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.in_flight, later);
        self.out.extend(due.into_values());
    }

    fn poll_output(&mut self) -> Option<(Event, bool)> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }
}
