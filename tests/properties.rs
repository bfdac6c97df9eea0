//! Property tests: the sans-IO machines against small, obviously-correct
//! reference models (SPEC C2, C3/E2, C4, S2-S5, O8).
//!
//! Each property is written as a plain function returning
//! `Result<(), TestCaseError>` so that it can be run twice: once by
//! `proptest!` against the real machine (it must pass), and once by a
//! deterministic `TestRunner` against a shipped mutant or a wrong setting (it
//! must fail), which shows every property can actually fail.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use rtsim::client::breaker::{Breaker, BreakerConfig, BreakerState};
use rtsim::client::dedup::{Dedup, DedupConfig};
use rtsim::event::{application_order, Action, EntityType, Event, EventId, Row, Service};
use rtsim::machine::Machine;
use rtsim::mutant::Mutant;
use rtsim::observation::Observation;
use rtsim::server::buffer::{BufferConfig, BufferInput, BufferOutput, Buffers};
use rtsim::time::SimTime;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        ..ProptestConfig::default()
    }
}

/// Run `prop` on a fixed-seed runner and return whether it found a failure.
fn finds_failure<S: Strategy>(
    cases: u32,
    strategy: S,
    prop: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> bool
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    runner.run(&strategy, prop).is_err()
}

fn event(id: u128, sequence: u64, timestamp_ms: u64, org: u32, property: Option<u32>) -> Event {
    Event {
        event_id: EventId(id),
        sequence,
        timestamp_ms,
        org_id: org,
        property_id: property,
        user_id: None,
        service: Service::Finance,
        entity_type: EntityType::Revenue,
        action: Action::Added,
        metadata: Row {
            id: id as u64,
            org_id: org,
            property_id: property.unwrap_or(0),
            entity_type: EntityType::Revenue,
            version: 1,
            amount_cents: 100,
            last_seq: sequence,
            created_by: None,
            days_ago: 0,
            pending: false,
        },
        mutation: None,
    }
}

// ---------------------------------------------------------------------------
// 1. Dedup (C2)
// ---------------------------------------------------------------------------

/// Reference: per org a list of (id, inserted_at) in insertion order; the
/// `orgs` most recently touched orgs are kept.
struct DedupModel {
    cap: usize,
    ttl: u64,
    orgs: usize,
    ids: BTreeMap<u32, Vec<(u128, u64)>>,
    /// Least recently touched first.
    recency: Vec<u32>,
}

impl DedupModel {
    fn first_sighting(&mut self, now: u64, org: u32, id: u128) -> bool {
        // Touch the org; forget whole orgs beyond the most recent `orgs`.
        self.recency.retain(|o| *o != org);
        self.recency.push(org);
        while self.recency.len() > self.orgs {
            let old = self.recency.remove(0);
            self.ids.remove(&old);
        }
        let list = self.ids.entry(org).or_default();
        // An entry inserted at t is forgotten once now >= t + ttl.
        list.retain(|(_, t)| now < t + self.ttl);
        if list.iter().any(|(i, _)| *i == id) {
            return false;
        }
        list.push((id, now));
        while list.len() > self.cap {
            list.remove(0);
        }
        true
    }
}

#[derive(Clone, Debug)]
struct DedupCase {
    cap: usize,
    ttl: u64,
    orgs: usize,
    /// (time advance, org, id)
    ops: Vec<(u64, u32, u128)>,
}

fn dedup_case() -> impl Strategy<Value = DedupCase> {
    (
        1usize..5,
        1u64..60,
        1usize..4,
        proptest::collection::vec((0u64..15, 0u32..5, 0u128..20), 0..120),
    )
        .prop_map(|(cap, ttl, orgs, ops)| DedupCase {
            cap,
            ttl,
            orgs,
            ops,
        })
}

/// The machine is built with `machine_cfg` (normally the case's own config).
fn check_dedup(case: &DedupCase, machine_cfg: DedupConfig) -> Result<(), TestCaseError> {
    let mut machine = Dedup::new(machine_cfg);
    let mut model = DedupModel {
        cap: case.cap,
        ttl: case.ttl,
        orgs: case.orgs,
        ids: BTreeMap::new(),
        recency: vec![],
    };
    let mut now = 0u64;
    for (step, &(dt, org, id)) in case.ops.iter().enumerate() {
        now += dt;
        let want = model.first_sighting(now, org, id);
        let got = machine.first_sighting(SimTime(now), org, EventId(id));
        prop_assert_eq!(got, want, "step {}: t={} org={} id={}", step, now, org, id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn dedup_matches_reference_model(case in dedup_case()) {
        let cfg = DedupConfig { dedup_capacity: case.cap, dedup_ttl_ms: case.ttl, dedup_orgs: case.orgs };
        check_dedup(&case, cfg)?;
    }
}

/// The dedup property can fail: a machine with a one-off TTL, capacity or
/// org count disagrees with the model somewhere.
#[test]
fn dedup_property_detects_wrong_settings() {
    assert!(finds_failure(256, dedup_case(), |c| check_dedup(
        &c,
        DedupConfig {
            dedup_capacity: c.cap,
            dedup_ttl_ms: c.ttl + 1,
            dedup_orgs: c.orgs
        }
    )));
    assert!(finds_failure(256, dedup_case(), |c| check_dedup(
        &c,
        DedupConfig {
            dedup_capacity: c.cap + 1,
            dedup_ttl_ms: c.ttl,
            dedup_orgs: c.orgs
        }
    )));
    assert!(finds_failure(256, dedup_case(), |c| check_dedup(
        &c,
        DedupConfig {
            dedup_capacity: c.cap,
            dedup_ttl_ms: c.ttl,
            dedup_orgs: c.orgs + 1
        }
    )));
}

// ---------------------------------------------------------------------------
// 2. Application order (C3 / E2)
// ---------------------------------------------------------------------------

type Key = (u64, u64, u128);

fn key(e: &Event) -> Key {
    (e.sequence, e.timestamp_ms, e.event_id.0)
}

/// Small key ranges so ties on sequence and timestamp are common; the other
/// fields vary too, to show they play no part in the order.
fn events_strategy() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec(
        (
            0u64..4,
            0u64..4,
            0u128..4,
            0u32..3,
            proptest::option::of(0u32..3),
        ),
        0..16,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(s, t, id, org, p)| event(id, s, t, org, p))
            .collect()
    })
}

fn check_order(
    shuffled: &[Event],
    order: impl Fn(&Event, &Event) -> Ordering,
) -> Result<(), TestCaseError> {
    let mut sorted = shuffled.to_vec();
    sorted.sort_by(&order);
    // Non-decreasing keys after sorting.
    for w in sorted.windows(2) {
        prop_assert!(
            key(&w[0]) <= key(&w[1]),
            "not sorted by (seq, ts, id): {:?} then {:?}",
            key(&w[0]),
            key(&w[1])
        );
    }
    // Sorting is a permutation.
    let mut a: Vec<Key> = shuffled.iter().map(key).collect();
    let mut b: Vec<Key> = sorted.iter().map(key).collect();
    a.sort();
    b.sort();
    prop_assert_eq!(a, b);
    // A total order that agrees with the tuple comparison on every pair
    // (hence reflexive, antisymmetric and transitive like the tuple order).
    for x in shuffled {
        for y in shuffled {
            let got = order(x, y);
            prop_assert_eq!(
                got,
                key(x).cmp(&key(y)),
                "order({:?}, {:?})",
                key(x),
                key(y)
            );
            prop_assert_eq!(got, order(y, x).reverse());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn application_order_sorts_by_sequence_timestamp_id(
        shuffled in events_strategy().prop_flat_map(|v| Just(v).prop_shuffle())
    ) {
        check_order(&shuffled, application_order)?;
    }

    /// With unique ids the order is strict, so any two arrival orders of the
    /// same batch are applied identically.
    #[test]
    fn application_order_is_independent_of_arrival_order(
        (a, b) in proptest::collection::vec((0u64..4, 0u64..4), 0..16)
            .prop_map(|v| v.into_iter().enumerate().map(|(i, (s, t))| event(i as u128 * 7 % 16, s, t, 1, None)).collect::<Vec<_>>())
            .prop_flat_map(|v| (Just(v.clone()).prop_shuffle(), Just(v).prop_shuffle()))
    ) {
        let mut a = a;
        let mut b = b;
        a.sort_by(application_order);
        b.sort_by(application_order);
        prop_assert_eq!(a, b);
    }
}

/// The ordering property can fail: an order on (sequence, timestamp) only,
/// or one with timestamp first, is rejected.
#[test]
fn order_property_detects_wrong_orders() {
    let strat = || events_strategy().prop_flat_map(|v| Just(v).prop_shuffle());
    assert!(finds_failure(256, strat(), |v: Vec<Event>| check_order(
        &v,
        |a, b| (a.sequence, a.timestamp_ms).cmp(&(b.sequence, b.timestamp_ms))
    )));
    assert!(finds_failure(256, strat(), |v: Vec<Event>| check_order(
        &v,
        |a, b| (a.timestamp_ms, a.sequence, a.event_id).cmp(&(
            b.timestamp_ms,
            b.sequence,
            b.event_id
        ))
    )));
}

// ---------------------------------------------------------------------------
// 3. Breaker (C4)
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum M {
    Closed(u32),
    Open(u64),
    HalfOpen,
}

#[derive(Clone, Debug)]
enum BrOp {
    Advance(u64),
    ReadyAt,
    Success,
    Failure,
}

fn br_op() -> impl Strategy<Value = BrOp> {
    prop_oneof![
        3 => (0u64..25).prop_map(BrOp::Advance),
        3 => Just(BrOp::ReadyAt),
        1 => Just(BrOp::Success),
        3 => Just(BrOp::Failure),
    ]
}

#[derive(Clone, Debug)]
struct BreakerCase {
    failures: u32,
    open_ms: u64,
    ops: Vec<BrOp>,
}

fn breaker_case() -> impl Strategy<Value = BreakerCase> {
    (1u32..5, 1u64..60, proptest::collection::vec(br_op(), 0..80)).prop_map(
        |(failures, open_ms, ops)| BreakerCase {
            failures,
            open_ms,
            ops,
        },
    )
}

fn as_model(s: BreakerState) -> M {
    match s {
        BreakerState::Closed { failures } => M::Closed(failures),
        BreakerState::Open { until } => M::Open(until.0),
        BreakerState::HalfOpen => M::HalfOpen,
    }
}

fn check_breaker(case: &BreakerCase, never_opens: bool) -> Result<(), TestCaseError> {
    let mut b = Breaker::new(
        BreakerConfig {
            breaker_failures: case.failures,
            breaker_open_ms: case.open_ms,
        },
        never_opens.then_some(Mutant::BreakerNeverOpens),
    );
    let mut m = M::Closed(0);
    let mut now = 0u64;
    prop_assert_eq!(as_model(b.state()), m);
    for (step, op) in case.ops.iter().enumerate() {
        match op {
            BrOp::Advance(dt) => now += dt,
            BrOp::ReadyAt => {
                // Open until `until`: wait; once it has passed, one half-open trial may go now.
                let want = match m {
                    M::Open(until) if now < until => until,
                    M::Open(_) => {
                        m = M::HalfOpen;
                        now
                    }
                    _ => now,
                };
                let got = b.ready_at(SimTime(now));
                prop_assert_eq!(got, SimTime(want), "step {} ready_at({})", step, now);
            }
            BrOp::Success => {
                // Success closes it and resets the consecutive-failure count.
                m = M::Closed(0);
                b.on_success();
            }
            BrOp::Failure => {
                // The n-th consecutive failure opens it; a failed trial (or a
                // failure while open) (re)opens it for the full period.
                let want = match m {
                    M::Closed(f) if f + 1 < case.failures => {
                        m = M::Closed(f + 1);
                        None
                    }
                    _ => {
                        m = M::Open(now + case.open_ms);
                        Some(SimTime(now + case.open_ms))
                    }
                };
                let got = b.on_failure(SimTime(now));
                prop_assert_eq!(got, want, "step {} on_failure({})", step, now);
            }
        }
        prop_assert_eq!(
            as_model(b.state()),
            m,
            "step {} ({:?}) at t={}",
            step,
            op,
            now
        );
    }
    Ok(())
}

/// With `never_opens`, every call may go at once and nothing ever opens.
fn check_never_opens(case: &BreakerCase, never_opens: bool) -> Result<(), TestCaseError> {
    let mut b = Breaker::new(
        BreakerConfig {
            breaker_failures: case.failures,
            breaker_open_ms: case.open_ms,
        },
        never_opens.then_some(Mutant::BreakerNeverOpens),
    );
    let mut now = 0u64;
    for op in &case.ops {
        match op {
            BrOp::Advance(dt) => now += dt,
            BrOp::ReadyAt => prop_assert_eq!(b.ready_at(SimTime(now)), SimTime(now)),
            BrOp::Success => b.on_success(),
            BrOp::Failure => prop_assert_eq!(b.on_failure(SimTime(now)), None),
        }
        prop_assert!(
            matches!(b.state(), BreakerState::Closed { .. }),
            "state {:?}",
            b.state()
        );
        prop_assert_eq!(b.ready_at(SimTime(now)), SimTime(now));
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn breaker_matches_reference_model(case in breaker_case()) {
        check_breaker(&case, false)?;
    }

    #[test]
    fn breaker_that_never_opens_is_always_ready(case in breaker_case()) {
        check_never_opens(&case, true)?;
    }
}

/// The breaker properties can fail: the model rejects the never-opens
/// mutant, and the always-ready property rejects a real breaker.
#[test]
fn breaker_properties_detect_the_mutant() {
    assert!(finds_failure(256, breaker_case(), |c| check_breaker(
        &c, true
    )));
    assert!(finds_failure(256, breaker_case(), |c| check_never_opens(
        &c, false
    )));
}

// ---------------------------------------------------------------------------
// 4. Buffers (S2-S5, O8)
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum BufOp {
    /// Publish in `org`: a fresh sequence if `back == 0`, else a redelivery
    /// (or a late arrival) of the sequence `back` below the head.
    Insert {
        org: u32,
        back: u64,
        property: u32,
    },
    /// Long-poll `org` with cursor `head - back` (None: no cursor).
    Subscribe {
        org: u32,
        property: Option<u32>,
        back: Option<u64>,
    },
    Advance(u64),
}

fn buf_op() -> impl Strategy<Value = BufOp> {
    prop_oneof![
        5 => (0u32..3, prop_oneof![3 => Just(0u64), 1 => 1u64..6], 0u32..3)
            .prop_map(|(org, back, property)| BufOp::Insert { org, back, property }),
        4 => (0u32..3, proptest::option::of(0u32..3), prop_oneof![1 => Just(None), 8 => (0u64..5).prop_map(Some)])
            .prop_map(|(org, property, back)| BufOp::Subscribe { org, property, back }),
        3 => (0u64..40).prop_map(BufOp::Advance),
    ]
}

#[derive(Clone, Debug)]
struct BufCase {
    cfg: BufferConfig,
    ops: Vec<BufOp>,
}

fn buf_case() -> impl Strategy<Value = BufCase> {
    (
        1usize..6,
        5u64..80,
        5u64..80,
        1usize..4,
        10u64..150,
        proptest::collection::vec(buf_op(), 0..80),
    )
        .prop_map(|(max, ttl, poll, waiters, idle, ops)| BufCase {
            cfg: BufferConfig {
                max_buffer_size: max,
                event_ttl_ms: ttl,
                long_poll_timeout_ms: poll,
                max_waiters_per_org: waiters,
                org_idle_evict_ms: idle,
            },
            ops,
        })
}

#[derive(Clone, Debug)]
struct Sub {
    org: u32,
    property: Option<u32>,
    cursor: Option<u64>,
}

/// A driver that follows the drive-loop contract and checks every output.
struct Harness {
    b: Buffers,
    cfg: BufferConfig,
    now: u64,
    inserted: i64,
    dropped: i64,
    evicted_entries: i64,
    next_conn: u64,
    /// Subscribes not answered yet.
    pending: BTreeMap<u64, Sub>,
    /// Parked waiters per org, as the driver knows them.
    parked: BTreeMap<u32, BTreeSet<u64>>,
    /// Highest sequence published per org (the store head).
    head: BTreeMap<u32, u64>,
    next_id: u128,
    published: BTreeMap<u32, Vec<Event>>,
}

impl Harness {
    fn new(cfg: BufferConfig, mutant: Option<Mutant>) -> Self {
        Harness {
            b: Buffers::new(cfg.clone(), mutant),
            cfg,
            now: 0,
            inserted: 0,
            dropped: 0,
            evicted_entries: 0,
            next_conn: 1,
            pending: BTreeMap::new(),
            parked: BTreeMap::new(),
            head: BTreeMap::new(),
            next_id: 1,
            published: BTreeMap::new(),
        }
    }

    /// Drain outputs, checking each; returns them for per-call checks.
    fn drain(&mut self) -> Result<Vec<BufferOutput>, TestCaseError> {
        let mut outs = Vec::new();
        while let Some(o) = self.b.poll_output() {
            match &o {
                BufferOutput::Observe(Observation::BufferInsert { len, org, .. }) => {
                    // (a) no org holds more than max_buffer_size.
                    prop_assert!(
                        *len <= self.cfg.max_buffer_size,
                        "org {} len {} > max {}",
                        org,
                        len,
                        self.cfg.max_buffer_size
                    );
                    self.inserted += 1;
                }
                BufferOutput::Observe(Observation::BufferDrop { .. }) => self.dropped += 1,
                BufferOutput::Observe(Observation::OrgEvicted { org, entries }) => {
                    self.evicted_entries += *entries as i64;
                    let waiting = self.parked.get(org).map_or(0, |s| s.len());
                    prop_assert_eq!(waiting, 0, "org {} evicted with parked waiters", org);
                }
                BufferOutput::Observe(Observation::WaitersParked { org, count }) => {
                    prop_assert!(
                        *count <= self.cfg.max_waiters_per_org,
                        "org {} parks {} waiters",
                        org,
                        count
                    );
                }
                BufferOutput::Respond { conn, batch } => {
                    let sub = self.pending.remove(conn);
                    prop_assert!(
                        sub.is_some(),
                        "response to unknown or already answered conn {}",
                        conn
                    );
                    let sub = sub.unwrap();
                    if let Some(s) = self.parked.get_mut(&sub.org) {
                        s.remove(conn);
                    }
                    match sub.cursor {
                        Some(c) => {
                            // (c) only what follows the cursor, in the caller's scope.
                            for e in &batch.events {
                                prop_assert!(
                                    e.sequence > c,
                                    "conn {} cursor {} got seq {}",
                                    conn,
                                    c,
                                    e.sequence
                                );
                                prop_assert_eq!(
                                    e.org_id,
                                    sub.org,
                                    "conn {} got another org's event",
                                    conn
                                );
                                if sub.property.is_some() {
                                    prop_assert_eq!(
                                        e.property_id,
                                        sub.property,
                                        "conn {} got another property",
                                        conn
                                    );
                                }
                                prop_assert!(
                                    e.sequence <= batch.last_event_id,
                                    "resume cursor {} is below delivered seq {}",
                                    batch.last_event_id,
                                    e.sequence
                                );
                            }
                            prop_assert!(
                                batch.last_event_id >= c,
                                "conn {}: lastEventId {} < cursor {}",
                                conn,
                                batch.last_event_id,
                                c
                            );
                        }
                        None => {
                            prop_assert!(
                                batch.events.is_empty(),
                                "a cursorless subscribe got events"
                            );
                        }
                    }
                }
                _ => {}
            }
            outs.push(o);
        }
        // (a) again, via the buffers themselves.
        let buffered = self.b.buffered();
        for (org, len) in &buffered {
            prop_assert!(
                *len <= self.cfg.max_buffer_size,
                "org {} holds {} > max {}",
                org,
                len,
                self.cfg.max_buffer_size
            );
        }
        // (b) conservation: every insert is still buffered, dropped or evicted.
        let total: i64 = buffered.iter().map(|(_, n)| *n as i64).sum();
        prop_assert_eq!(
            self.inserted - self.dropped - self.evicted_entries,
            total,
            "inserts {} - drops {} - evicted {} != buffered {:?} at t={}",
            self.inserted,
            self.dropped,
            self.evicted_entries,
            buffered,
            self.now
        );
        Ok(outs)
    }

    /// Move time to `target`, firing every deadline on the way at its own time.
    fn advance_to(&mut self, target: u64) -> Result<(), TestCaseError> {
        let mut guard = 0;
        while let Some(t) = self.b.poll_timeout() {
            if t.0 > target {
                break;
            }
            self.now = self.now.max(t.0);
            self.b.handle_timeout(SimTime(self.now), &());
            self.drain()?;
            guard += 1;
            prop_assert!(
                guard < 10_000,
                "handle_timeout does not move poll_timeout past now"
            );
        }
        self.now = self.now.max(target);
        Ok(())
    }

    fn insert(&mut self, org: u32, back: u64, property: u32) -> Result<(), TestCaseError> {
        let head = self.head.get(&org).copied().unwrap_or(0);
        let prior = self.published.get(&org).map_or(0, |v| v.len()) as u64;
        let (ev, redelivery) = if back == 0 || prior == 0 {
            let ev = event(self.next_id, head + 1, self.now, org, Some(property));
            self.next_id += 1;
            self.head.insert(org, head + 1);
            self.published.entry(org).or_default().push(ev.clone());
            (ev, false)
        } else {
            let list = &self.published[&org];
            let i = list.len() - (back.min(prior) as usize);
            (list[i].clone(), true)
        };
        let seq = ev.sequence;
        let visible_to: Vec<u64> = self
            .parked
            .get(&org)
            .into_iter()
            .flatten()
            .filter(|c| {
                let s = &self.pending[*c];
                s.cursor.is_some_and(|cur| seq > cur)
                    && (s.property.is_none() || s.property == ev.property_id)
            })
            .copied()
            .collect();
        self.b.handle(
            SimTime(self.now),
            BufferInput::Event {
                event: ev,
                redelivery,
            },
            &(),
        );
        self.drain()?;
        // A parked waiter that can see the new event is answered at once (S3).
        for c in visible_to {
            prop_assert!(
                !self.pending.contains_key(&c),
                "waiter {} not woken by visible seq {}",
                c,
                seq
            );
        }
        Ok(())
    }

    fn subscribe(
        &mut self,
        org: u32,
        property: Option<u32>,
        back: Option<u64>,
    ) -> Result<(), TestCaseError> {
        let head = self.head.get(&org).copied().unwrap_or(0);
        let cursor = back.map(|b| head.saturating_sub(b));
        let conn = self.next_conn;
        self.next_conn += 1;
        self.pending.insert(
            conn,
            Sub {
                org,
                property,
                cursor,
            },
        );
        let parked_before = self.parked.get(&org).map_or(0, |s| s.len());
        self.b.handle(
            SimTime(self.now),
            BufferInput::Subscribe {
                conn,
                org,
                property,
                cursor,
                store_head: head,
            },
            &(),
        );
        let outs = self.drain()?;
        let answered = outs
            .iter()
            .any(|o| matches!(o, BufferOutput::Respond { conn: c, .. } if *c == conn));
        let cap_hit = outs.iter().any(|o| matches!(o, BufferOutput::Observe(Observation::WaiterCapHit { org: g }) if *g == org));
        let parked_count = outs.iter().find_map(|o| match o {
            BufferOutput::Observe(Observation::WaitersParked { org: g, count }) if *g == org => {
                Some(*count)
            }
            _ => None,
        });
        if cursor.is_none() {
            prop_assert!(answered, "a cursorless subscribe must be answered at once");
        }
        if answered {
            prop_assert!(
                parked_count.is_none(),
                "conn {} both answered and parked",
                conn
            );
            if cap_hit {
                prop_assert_eq!(
                    parked_before,
                    self.cfg.max_waiters_per_org,
                    "cap hit below the cap"
                );
            }
        } else {
            prop_assert!(!cap_hit);
            prop_assert_eq!(
                parked_count,
                Some(parked_before + 1),
                "conn {} parked but count is off",
                conn
            );
            prop_assert!(
                parked_before < self.cfg.max_waiters_per_org,
                "parked past the cap"
            );
            self.parked.entry(org).or_default().insert(conn);
        }
        Ok(())
    }
}

fn check_buffers(case: &BufCase, mutant: Option<Mutant>) -> Result<(), TestCaseError> {
    let mut h = Harness::new(case.cfg.clone(), mutant);
    for op in &case.ops {
        match *op {
            BufOp::Insert {
                org,
                back,
                property,
            } => h.insert(org, back, property)?,
            BufOp::Subscribe {
                org,
                property,
                back,
            } => h.subscribe(org, property, back)?,
            BufOp::Advance(dt) => h.advance_to(h.now + dt)?,
        }
    }
    // Every long-poll is answered within its timeout (S3: "immediately or later").
    h.advance_to(h.now + case.cfg.long_poll_timeout_ms)?;
    prop_assert!(
        h.pending.is_empty(),
        "unanswered subscribes after the long-poll timeout: {:?}",
        h.pending
    );
    // And idle orgs are eventually freed (S5), with everything accounted for.
    h.advance_to(h.now + case.cfg.org_idle_evict_ms + case.cfg.event_ttl_ms)?;
    prop_assert!(
        h.b.buffered().is_empty(),
        "orgs left after idle eviction: {:?}",
        h.b.buffered()
    );
    prop_assert_eq!(h.inserted, h.dropped + h.evicted_entries);
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn buffers_bounded_conserving_and_answer_in_scope(case in buf_case()) {
        check_buffers(&case, None)?;
    }
}

/// The buffer property can fail: it catches the shipped server mutants.
#[test]
fn buffer_property_detects_server_mutants() {
    assert!(finds_failure(256, buf_case(), |c| check_buffers(
        &c,
        Some(Mutant::NoPropertyFilter)
    )));
    assert!(finds_failure(256, buf_case(), |c| check_buffers(
        &c,
        Some(Mutant::EarlyExpiry)
    )));
}

// ---- (d) the waiter cap (S4) ----

#[derive(Clone, Debug)]
struct CapCase {
    cap: usize,
    /// Events already buffered for the org, all in property 1.
    invisible: u64,
    /// Each subscriber: either (None, cursor = head) or (Some(2), cursor in 0..=head).
    subs: Vec<(bool, u64)>,
}

fn cap_case() -> impl Strategy<Value = CapCase> {
    (
        1usize..5,
        0u64..5,
        proptest::collection::vec((any::<bool>(), 0u64..6), 0..12),
    )
        .prop_map(|(cap, invisible, subs)| CapCase {
            cap,
            invisible,
            subs,
        })
}

fn check_waiter_cap(case: &CapCase, machine_cap: usize) -> Result<(), TestCaseError> {
    let org = 7;
    let cfg = BufferConfig {
        max_buffer_size: 100,
        event_ttl_ms: 1_000_000,
        long_poll_timeout_ms: 1_000_000,
        max_waiters_per_org: machine_cap,
        org_idle_evict_ms: 1_000_000,
    };
    let mut b = Buffers::new(cfg, None);
    let now = SimTime(10);
    for s in 1..=case.invisible {
        b.handle(
            now,
            BufferInput::Event {
                event: event(s as u128, s, 10, org, Some(1)),
                redelivery: false,
            },
            &(),
        );
    }
    while b.poll_output().is_some() {}
    let head = case.invisible;
    let mut parked = Vec::new();
    let mut cap_hits = 0u64;
    for (i, &(filtered, c)) in case.subs.iter().enumerate() {
        let conn = 100 + i as u64;
        let (property, cursor) = if filtered {
            (Some(2), c.min(head))
        } else {
            (None, head)
        };
        b.handle(
            now,
            BufferInput::Subscribe {
                conn,
                org,
                property,
                cursor: Some(cursor),
                store_head: head,
            },
            &(),
        );
        let outs: Vec<BufferOutput> = std::iter::from_fn(|| b.poll_output()).collect();
        let responded: Vec<_> = outs
            .iter()
            .filter_map(|o| match o {
                BufferOutput::Respond { conn, batch } => Some((*conn, batch)),
                _ => None,
            })
            .collect();
        let hits = outs.iter().filter(|o| matches!(o, BufferOutput::Observe(Observation::WaiterCapHit { org: g }) if *g == org)).count();
        if i < case.cap {
            // Nothing visible: it parks.
            prop_assert!(
                responded.is_empty(),
                "subscriber {} (under the cap {}) answered: {:?}",
                i,
                case.cap,
                outs
            );
            prop_assert_eq!(hits, 0);
            prop_assert!(
                outs.contains(&BufferOutput::Observe(Observation::WaitersParked {
                    org,
                    count: i + 1
                })),
                "{:?}",
                outs
            );
            parked.push(conn);
        } else {
            // Past the cap: answered at once, empty, and the hit is recorded.
            prop_assert_eq!(
                responded.len(),
                1,
                "subscriber {} past the cap {}: {:?}",
                i,
                case.cap,
                outs
            );
            prop_assert_eq!(responded[0].0, conn);
            prop_assert!(responded[0].1.events.is_empty());
            prop_assert!(responded[0].1.last_event_id >= cursor);
            prop_assert_eq!(hits, 1, "no WaiterCapHit for subscriber {}", i);
            cap_hits += 1;
        }
    }
    let m = b.metrics();
    prop_assert_eq!(m.waiter_cap_hits, cap_hits);
    prop_assert_eq!(m.waiters, parked.len());
    // A visible event frees every parked waiter, after which new polls park again.
    b.handle(
        now,
        BufferInput::Event {
            event: event(1000, head + 1, 10, org, Some(2)),
            redelivery: false,
        },
        &(),
    );
    let outs: Vec<BufferOutput> = std::iter::from_fn(|| b.poll_output()).collect();
    let answered: BTreeSet<u64> = outs
        .iter()
        .filter_map(|o| match o {
            BufferOutput::Respond { conn, .. } => Some(*conn),
            _ => None,
        })
        .collect();
    prop_assert_eq!(answered, parked.iter().copied().collect::<BTreeSet<_>>());
    b.handle(
        now,
        BufferInput::Subscribe {
            conn: 99,
            org,
            property: None,
            cursor: Some(head + 1),
            store_head: head + 1,
        },
        &(),
    );
    let outs: Vec<BufferOutput> = std::iter::from_fn(|| b.poll_output()).collect();
    prop_assert_eq!(
        outs,
        vec![BufferOutput::Observe(Observation::WaitersParked {
            org,
            count: 1
        })]
    );
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn waiter_cap_answers_extras_at_once(case in cap_case()) {
        check_waiter_cap(&case, case.cap)?;
    }
}

/// The cap property can fail: a buffer configured with a larger cap than the
/// one the test expects parks too many.
#[test]
fn waiter_cap_property_detects_a_wrong_cap() {
    assert!(finds_failure(256, cap_case(), |c| check_waiter_cap(
        &c,
        c.cap + 1
    )));
}
