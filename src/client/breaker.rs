//! C4: the circuit breaker in front of the transport. `breaker_failures`
//! consecutive failures open it for `breaker_open_ms`; then one half-open
//! trial is allowed: success closes it, failure reopens it.

use crate::mutant::{fires, Mutant};
use crate::time::SimTime;

#[derive(Clone, Debug, PartialEq)]
pub struct BreakerConfig {
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            breaker_failures: 3,
            breaker_open_ms: 30_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed { failures: u32 },
    Open { until: SimTime },
    HalfOpen,
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    /// `breaker-never-opens`: failures are counted but never trip it.
    mutant: Option<Mutant>,
}

impl Breaker {
    pub fn new(config: BreakerConfig, mutant: Option<Mutant>) -> Self {
        Breaker {
            config,
            state: BreakerState::Closed { failures: 0 },
            mutant,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The earliest time a call may go out, `now` if it may go now.
    pub fn ready_at(&mut self, now: SimTime) -> SimTime {
        match self.state {
            BreakerState::Open { until } if until > now => until,
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                now
            }
            _ => now,
        }
    }

    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// Record a failure; returns the time it opens until, if this opened it.
    pub fn on_failure(&mut self, now: SimTime) -> Option<SimTime> {
        let failures = match self.state {
            BreakerState::Closed { failures } => failures + 1,
            BreakerState::HalfOpen => self.config.breaker_failures,
            BreakerState::Open { .. } => self.config.breaker_failures,
        };
        if failures >= self.config.breaker_failures
            && !fires(self.mutant, Mutant::BreakerNeverOpens)
        {
            let until = now + self.config.breaker_open_ms;
            self.state = BreakerState::Open { until };
            Some(until)
        } else {
            self.state = BreakerState::Closed { failures };
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_and_half_opens_after_thirty_seconds() {
        let mut b = Breaker::new(BreakerConfig::default(), None);
        assert_eq!(b.on_failure(SimTime(0)), None);
        assert_eq!(b.on_failure(SimTime(1)), None);
        assert_eq!(b.on_failure(SimTime(2)), Some(SimTime(30_002)));
        assert_eq!(b.ready_at(SimTime(10_000)), SimTime(30_002));
        assert_eq!(b.ready_at(SimTime(30_002)), SimTime(30_002));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(
            b.on_failure(SimTime(30_100)),
            Some(SimTime(60_100)),
            "a failed trial reopens it"
        );
        b.ready_at(SimTime(60_100));
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn the_mutant_never_opens() {
        let mut b = Breaker::new(BreakerConfig::default(), Some(Mutant::BreakerNeverOpens));
        for t in 0..10 {
            assert_eq!(b.on_failure(SimTime(t)), None);
            assert_eq!(b.ready_at(SimTime(t)), SimTime(t));
        }
    }
}
