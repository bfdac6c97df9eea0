//! Derived aggregates of one tab (SPEC U3, C10), sans-IO.
//!
//! A page shows aggregates (`query::AggregateKind`: profit-loss, approvals,
//! today's pending tasks, report ranges) that no event patches row by row; an
//! applied event only marks stale the ones it can change. Refetching on every
//! event would hammer the server during a burst, so invalidations are
//! throttled: the first after a quiet spell refetches at once (the aggregate
//! follows a lone write within a round trip), later ones coalesce into at most
//! one refetch per `derived_debounce_ms` (U3, O9). A refetch is one
//! invalidation: every stale aggregate goes out at that instant. Every
//! ~`reconcile_ms` all of them are reconciled anyway (C10), through the same
//! throttle.

use crate::event::Row;
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::query::AggregateKind;
use crate::seed::{jitter_ms, SimRng};
use crate::time::{earliest, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct DerivedConfig {
    /// U3: at most one derived invalidation per this window.
    pub debounce_ms: u64,
    /// C10: reconcile every this long, jittered by a tenth either way.
    pub reconcile_ms: u64,
}

impl Default for DerivedConfig {
    fn default() -> Self {
        DerivedConfig {
            debounce_ms: 1_000,
            reconcile_ms: 60_000,
        }
    }
}

/// An aggregate as the page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aggregate {
    pub value: i64,
    pub as_of_seq: u64,
}

/// What reaches a page's aggregates.
#[derive(Clone, Debug, PartialEq)]
pub enum DerivedInput {
    /// The page loaded (or reloaded): show the aggregates, reconcile from now on.
    Start,
    /// The session ended: nothing shown, nothing scheduled.
    Stop,
    /// Every aggregate may have changed (a snapshot).
    InvalidateAll,
    /// C15: the page's filter changed: what is shown is another key's, and
    /// every aggregate is fetched afresh (through the throttle, as ever).
    Rekeyed,
    /// An applied event changed this row.
    Changed(Row),
    /// U4: the window gained focus; refetch what was fetched longer ago than this.
    Focused { stale_ms: u64 },
    /// The refetch of `kind` answered with `aggregate`, or failed (`None`).
    Answered {
        kind: AggregateKind,
        aggregate: Option<Aggregate>,
    },
}

/// The page's aggregates; each output is an aggregate to refetch now.
pub struct Derived {
    config: DerivedConfig,
    mutant: Option<Mutant>,
    /// What the page shows; none means no aggregate, nothing scheduled.
    kinds: Vec<AggregateKind>,
    shown: BTreeMap<AggregateKind, Aggregate>,
    /// Marked stale and not yet refetched...
    stale: BTreeSet<AggregateKind>,
    /// ...only because their refetch failed: a retry, which goes through the
    /// throttle even where the `no-debounce` bug skips it for new invalidations
    /// (else a refused call would be retried at the same instant forever).
    retry_only: bool,
    last_fired: Option<SimTime>,
    next_reconcile: Option<SimTime>,
    /// The reconcile jitter's own stream (the tab's other draws never move it).
    rng: SimRng,
    out: VecDeque<AggregateKind>,
}

impl Derived {
    pub fn new(
        config: DerivedConfig,
        kinds: Vec<AggregateKind>,
        rng: SimRng,
        mutant: Option<Mutant>,
    ) -> Self {
        Derived {
            rng,
            config,
            mutant,
            kinds,
            shown: BTreeMap::new(),
            stale: BTreeSet::new(),
            retry_only: false,
            last_fired: None,
            next_reconcile: None,
            out: VecDeque::new(),
        }
    }

    pub fn shown(&self) -> &BTreeMap<AggregateKind, Aggregate> {
        &self.shown
    }

    fn start(&mut self, now: SimTime) {
        if !self.kinds.is_empty() {
            self.invalidate_all();
            self.schedule_reconcile(now);
        }
    }

    fn stop(&mut self) {
        let rng = self.rng.clone();
        *self = Derived::new(self.config.clone(), self.kinds.clone(), rng, self.mutant);
    }

    fn schedule_reconcile(&mut self, now: SimTime) {
        let spread = self.config.reconcile_ms / 10;
        let ms = jitter_ms(
            &mut self.rng,
            self.config.reconcile_ms - spread,
            self.config.reconcile_ms + spread,
        );
        self.next_reconcile = Some(now + ms);
    }

    /// Every aggregate may have changed (a snapshot, a reconciliation).
    fn invalidate_all(&mut self) {
        self.mark(self.kinds.clone());
    }

    /// An event changed `row`: the aggregates that count it are stale.
    fn invalidate_for(&mut self, row: &Row) {
        let hit = self.kinds.iter().filter(|k| k.depends_on(row)).copied();
        self.mark(hit.collect());
    }

    fn mark(&mut self, kinds: Vec<AggregateKind>) {
        if !kinds.is_empty() {
            self.retry_only = false;
            self.stale.extend(kinds);
        }
    }

    /// U4: refetch on focus what was last fetched more than `stale_ms` ago.
    fn invalidate_if_older(&mut self, now: SimTime, stale_ms: u64) {
        if self.last_fired.is_none_or(|t| now.since(t) > stale_ms) {
            self.invalidate_all();
        }
    }

    /// When the next refetch may go out (the throttle's window after the last one).
    fn ready_at(&self) -> SimTime {
        match self.last_fired {
            Some(t) if self.retry_only || !fires(self.mutant, Mutant::NoDebounce) => {
                t + self.config.debounce_ms
            }
            _ => SimTime::ZERO,
        }
    }

    /// Refetch now what is due (none, or every stale one); they count as fired.
    fn fire(&mut self, now: SimTime) {
        if self.next_reconcile.is_some_and(|t| t <= now) {
            if !fires(self.mutant, Mutant::NoReconciliation) {
                self.invalidate_all();
            }
            self.schedule_reconcile(now);
        }
        if self.stale.is_empty() || self.ready_at() > now {
            return;
        }
        self.last_fired = Some(now);
        self.out.extend(std::mem::take(&mut self.stale));
    }

    /// A failed refetch (`None`) is tried again at the next turn.
    fn on_result(&mut self, kind: AggregateKind, aggregate: Option<Aggregate>) {
        match aggregate {
            // An answer older than what is shown (two refetches crossed) is dropped.
            Some(a)
                if self
                    .shown
                    .get(&kind)
                    .is_none_or(|s| s.as_of_seq <= a.as_of_seq) =>
            {
                self.shown.insert(kind, a);
            }
            Some(_) => {}
            None => {
                self.retry_only = self.retry_only || self.stale.is_empty();
                self.stale.insert(kind);
            }
        }
    }
}

impl Machine for Derived {
    type Input = DerivedInput;
    type Output = AggregateKind;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: DerivedInput, _: &()) {
        match input {
            DerivedInput::Start => self.start(now),
            DerivedInput::Stop => self.stop(),
            DerivedInput::InvalidateAll => self.invalidate_all(),
            DerivedInput::Rekeyed => {
                self.shown.clear();
                self.invalidate_all();
            }
            DerivedInput::Changed(row) => self.invalidate_for(&row),
            DerivedInput::Focused { stale_ms } => self.invalidate_if_older(now, stale_ms),
            DerivedInput::Answered { kind, aggregate } => self.on_result(kind, aggregate),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.fire(now)
    }

    fn poll_output(&mut self) -> Option<AggregateKind> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        let refetch = (!self.stale.is_empty()).then(|| self.ready_at());
        earliest(refetch, self.next_reconcile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    /// Wake the aggregates at `now` and take what they refetch.
    fn fire(d: &mut Derived, now: SimTime) -> Vec<AggregateKind> {
        d.handle_timeout(now, &());
        std::iter::from_fn(|| d.poll_output()).collect()
    }

    fn input(d: &mut Derived, input: DerivedInput) {
        d.handle(SimTime(0), input, &());
    }

    fn on() -> Derived {
        let kinds = vec![AggregateKind::ProfitLoss];
        Derived::new(DerivedConfig::default(), kinds, rng_for(1, "derived"), None)
    }

    #[test]
    fn a_burst_refetches_at_once_then_at_most_once_a_second() {
        let mut d = on();
        let mut fired = Vec::new();
        for ms in (0..3_000).step_by(50) {
            input(&mut d, DerivedInput::InvalidateAll);
            if !fire(&mut d, SimTime(ms)).is_empty() {
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
        input(&mut d, DerivedInput::Start);
        assert!(!fire(&mut d, SimTime(0)).is_empty());
        let next = d.poll_timeout().expect("a reconciliation is scheduled");
        assert!((54_000..=66_000).contains(&next.as_ms()), "{next}");
        assert!(!fire(&mut d, next).is_empty());
        let pl = AggregateKind::ProfitLoss;
        for (value, as_of_seq) in [(5, 9), (4, 8)] {
            let aggregate = Some(Aggregate { value, as_of_seq });
            input(
                &mut d,
                DerivedInput::Answered {
                    kind: pl,
                    aggregate,
                },
            );
        }
        assert_eq!(d.shown().get(&pl).map(|a| a.value), Some(5));
    }

    #[test]
    fn off_means_no_refetch() {
        let mut d = Derived::new(
            DerivedConfig::default(),
            Vec::new(),
            rng_for(1, "derived"),
            None,
        );
        input(&mut d, DerivedInput::Start);
        input(&mut d, DerivedInput::InvalidateAll);
        assert!(fire(&mut d, SimTime(0)).is_empty());
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn an_event_invalidates_only_the_aggregates_that_count_its_row() {
        let kinds = vec![
            AggregateKind::ProfitLoss,
            AggregateKind::TodayPending,
            AggregateKind::Report { from: 0, to: 0 },
        ];
        let mut d = Derived::new(DerivedConfig::default(), kinds, rng_for(1, "derived"), None);
        let revenue_of_last_week =
            crate::event::sample_row(1, crate::event::EntityType::Revenue, 4, false, 10);
        input(&mut d, DerivedInput::Changed(revenue_of_last_week));
        assert_eq!(fire(&mut d, SimTime(0)), vec![AggregateKind::ProfitLoss]);
    }
}
