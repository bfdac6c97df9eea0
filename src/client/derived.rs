//! Derived aggregates of one tab (SPEC U3, C10), sans-IO.
//!
//! A page shows aggregates (here profit-loss: the sum of the amounts of its
//! rows) that no event patches row by row; an applied event only marks them
//! stale. Refetching on every event would hammer the server during a burst,
//! so invalidations are throttled: the first after a quiet spell refetches at
//! once (the aggregate follows a lone write within a round trip), later ones
//! coalesce into at most one refetch per `derived_debounce_ms` (U3, O9).
//! Every ~`reconcile_ms` the aggregate is reconciled anyway (C10), through the
//! same throttle.

use crate::mutant::{fires, Mutant};
use crate::seed::{jitter_ms, SimRng};
use crate::time::{earliest, SimTime};

#[derive(Clone, Debug, PartialEq)]
pub struct DerivedConfig {
    /// Whether the page shows aggregates at all.
    pub enabled: bool,
    /// U3: at most one derived invalidation per this window.
    pub debounce_ms: u64,
    /// C10: reconcile every this long, jittered by a tenth either way.
    pub reconcile_ms: u64,
}

impl Default for DerivedConfig {
    fn default() -> Self {
        DerivedConfig {
            enabled: false,
            debounce_ms: 1_000,
            reconcile_ms: 60_000,
        }
    }
}

/// The aggregate as the page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub total_cents: i64,
    pub as_of_seq: u64,
}

pub struct Derived {
    config: DerivedConfig,
    mutant: Option<Mutant>,
    shown: Option<Aggregate>,
    /// Marked stale and not yet refetched.
    stale: bool,
    last_fired: Option<SimTime>,
    next_reconcile: Option<SimTime>,
}

impl Derived {
    pub fn new(config: DerivedConfig, mutant: Option<Mutant>) -> Self {
        Derived {
            config,
            mutant,
            shown: None,
            stale: false,
            last_fired: None,
            next_reconcile: None,
        }
    }

    pub fn shown(&self) -> Option<Aggregate> {
        self.shown
    }

    /// The page loaded (or reloaded): show the aggregate, reconcile from now on.
    pub fn start(&mut self, now: SimTime, rng: &mut SimRng) {
        if self.config.enabled {
            self.stale = true;
            self.schedule_reconcile(now, rng);
        }
    }

    /// The session ended: nothing shown, nothing scheduled.
    pub fn stop(&mut self) {
        *self = Derived::new(self.config.clone(), self.mutant);
    }

    fn schedule_reconcile(&mut self, now: SimTime, rng: &mut SimRng) {
        let spread = self.config.reconcile_ms / 10;
        let ms = jitter_ms(
            rng,
            self.config.reconcile_ms - spread,
            self.config.reconcile_ms + spread,
        );
        self.next_reconcile = Some(now + ms);
    }

    /// Rows changed under the aggregate (an applied event or a snapshot).
    pub fn invalidate(&mut self) {
        if self.config.enabled {
            self.stale = true;
        }
    }

    /// U4: refetch on focus what was last fetched more than `stale_ms` ago.
    pub fn invalidate_if_older(&mut self, now: SimTime, stale_ms: u64) {
        if self.last_fired.is_none_or(|t| now.since(t) > stale_ms) {
            self.invalidate();
        }
    }

    /// When the next refetch may go out (the throttle's window after the last one).
    fn ready_at(&self) -> SimTime {
        match self.last_fired {
            Some(t) if !fires(self.mutant, Mutant::NoDebounce) => t + self.config.debounce_ms,
            _ => SimTime::ZERO,
        }
    }

    /// Whether to refetch now; if so, the refetch counts as fired.
    pub fn fire(&mut self, now: SimTime, rng: &mut SimRng) -> bool {
        if self.next_reconcile.is_some_and(|t| t <= now) {
            self.stale = true;
            self.schedule_reconcile(now, rng);
        }
        if !self.stale || self.ready_at() > now {
            return false;
        }
        self.stale = false;
        self.last_fired = Some(now);
        true
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        let refetch = self.stale.then(|| self.ready_at());
        earliest(refetch, self.next_reconcile)
    }

    /// The refetch answered with `aggregate`, or failed (`None`: try again at the next turn).
    pub fn on_result(&mut self, aggregate: Option<Aggregate>) {
        match aggregate {
            // An answer older than what is shown (two refetches crossed) is dropped.
            Some(a) if self.shown.is_none_or(|s| s.as_of_seq <= a.as_of_seq) => {
                self.shown = Some(a)
            }
            Some(_) => {}
            None => self.stale = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    fn on() -> Derived {
        Derived::new(
            DerivedConfig {
                enabled: true,
                ..DerivedConfig::default()
            },
            None,
        )
    }

    #[test]
    fn a_burst_refetches_at_once_then_at_most_once_a_second() {
        let mut d = on();
        let mut rng = rng_for(1, "derived");
        let mut fired = Vec::new();
        for ms in (0..3_000).step_by(50) {
            d.invalidate();
            if d.fire(SimTime(ms), &mut rng) {
                fired.push(ms);
            }
        }
        assert_eq!(fired, vec![0, 1_000, 2_000]);
        assert_eq!(
            d.poll_timeout(),
            Some(SimTime(3_000)),
            "the tail of the burst is owed"
        );
    }

    #[test]
    fn reconciliation_comes_round_without_events_and_stale_answers_are_dropped() {
        let mut d = on();
        let mut rng = rng_for(1, "derived");
        d.start(SimTime(0), &mut rng);
        assert!(d.fire(SimTime(0), &mut rng));
        let next = d.poll_timeout().expect("a reconciliation is scheduled");
        assert!((54_000..=66_000).contains(&next.as_ms()), "{next}");
        assert!(d.fire(next, &mut rng));
        d.on_result(Some(Aggregate {
            total_cents: 5,
            as_of_seq: 9,
        }));
        d.on_result(Some(Aggregate {
            total_cents: 4,
            as_of_seq: 8,
        }));
        assert_eq!(d.shown().map(|a| a.total_cents), Some(5));
    }

    #[test]
    fn off_means_no_refetch() {
        let mut d = Derived::new(DerivedConfig::default(), None);
        let mut rng = rng_for(1, "derived");
        d.start(SimTime(0), &mut rng);
        d.invalidate();
        assert!(!d.fire(SimTime(0), &mut rng));
        assert_eq!(d.poll_timeout(), None);
    }
}
