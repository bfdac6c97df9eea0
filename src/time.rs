//! Simulated time: the only clock type the machines know.
//!
//! Machines never read a clock; every input carries `now`. Time is whole
//! milliseconds since the start of the run, which is the resolution every
//! SPEC tunable is stated in.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// Milliseconds since the start of the simulated run.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub fn from_secs(s: u64) -> Self {
        SimTime(s * 1000)
    }

    pub fn as_ms(self) -> u64 {
        self.0
    }

    /// Milliseconds elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<u64> for SimTime {
    type Output = SimTime;
    fn add(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_add(ms))
    }
}

impl Sub<u64> for SimTime {
    type Output = SimTime;
    fn sub(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_sub(ms))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
