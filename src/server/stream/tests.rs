//! The stream's own rules, one at a time (the v2 oracles will check them in
//! whole runs once the stream is wired into the nodes).

use super::*;
use crate::event::{Action, EntityType, EventId, Row};
use crate::seed::rng_for;

fn ev(org: OrgId, service: Service, property: u32, n: u128) -> Event {
    Event {
        event_id: EventId(n),
        sequence: n as u64,
        timestamp_ms: 0,
        org_id: org,
        property_id: Some(property),
        user_id: None,
        service,
        entity_type: EntityType::Task,
        action: Action::Added,
        metadata: Row {
            id: n as u64,
            org_id: org,
            property_id: property,
            entity_type: EntityType::Task,
            version: 1,
            amount_cents: 0,
            last_seq: n as u64,
            created_by: None,
            days_ago: 0,
            pending: false,
        },
        mutation: None,
    }
}

fn streams(config: StreamConfig) -> Streams {
    Streams::new(config, rng_for(7, "stream"), None)
}

fn services(list: &[Service]) -> BTreeSet<Service> {
    list.iter().copied().collect()
}

fn open(s: &mut Streams, now: u64, conn: ConnId, list: &[Service], resume: Option<Resume>) {
    let input = StreamInput::Open(Opening {
        conn,
        org: 0,
        user: conn as u32,
        services: services(list),
        property: None,
        resume,
        as_of: 0,
    });
    s.handle(SimTime(now), input, &());
}

fn publish(s: &mut Streams, now: u64, service: Service, n: u128) {
    s.handle(
        SimTime(now),
        StreamInput::Publish {
            event: ev(0, service, 1, n),
        },
        &(),
    );
}

/// Run every deadline up to `until`, and take every output.
fn run_until(s: &mut Streams, until: u64) -> Vec<StreamOutput> {
    let mut out = Vec::new();
    loop {
        out.extend(std::iter::from_fn(|| s.poll_output()));
        match s.poll_timeout() {
            Some(t) if t.0 <= until => s.handle_timeout(t, &()),
            _ => break,
        }
    }
    out
}

fn frames_of(out: &[StreamOutput], conn: ConnId) -> Vec<&Frame> {
    out.iter()
        .filter_map(|o| match o {
            StreamOutput::Push { conn: c, frame } if *c == conn => Some(frame),
            _ => None,
        })
        .collect()
}

fn seqs(frame: &Frame) -> Vec<u64> {
    match frame {
        Frame::Batch { events, .. } => events.iter().map(|e| e.seq).collect(),
        _ => vec![],
    }
}

#[test]
fn events_within_a_window_travel_in_one_batch_and_a_quiet_window_narrows() {
    let mut s = streams(StreamConfig::default());
    open(&mut s, 0, 1, &[Service::Tasks], None);
    publish(&mut s, 10, Service::Tasks, 1);
    publish(&mut s, 25, Service::Tasks, 2);
    publish(&mut s, 39, Service::Tasks, 3);
    let out = run_until(&mut s, 1_000);
    let frames = frames_of(&out, 1);
    assert!(matches!(frames[0], Frame::Welcome { .. }));
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(seqs(frames[1]), vec![1, 2, 3]);
    let flushed: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            StreamOutput::Observe(Observation::BatchFlushed {
                window_ms,
                waited_ms,
                ..
            }) => Some((*window_ms, *waited_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(flushed, vec![(30, 30)], "opened at 10, sent at 40");
}

#[test]
fn a_spike_widens_the_window_to_its_bound_and_quiet_narrows_it_back() {
    let config = StreamConfig::default();
    let (lo, hi, max) = (
        config.batch_window_min_ms,
        config.batch_window_max_ms,
        config.batch_max_events,
    );
    let mut s = streams(config);
    let mut n = 0;
    let mut windows = Vec::new();
    // Ten full batches, each filling at once, then ten single events far apart.
    for round in 0..10u64 {
        for _ in 0..max {
            n += 1;
            publish(&mut s, round * 1_000, Service::Finance, n);
        }
        run_until(&mut s, round * 1_000 + 500);
        windows.push(s.metrics().current_batch_window_ms[&(0, Service::Finance)]);
    }
    assert_eq!(
        *windows.last().unwrap(),
        hi,
        "widened under the spike: {windows:?}"
    );
    assert!(windows.windows(2).all(|w| w[0] <= w[1]), "{windows:?}");
    for round in 10..20u64 {
        n += 1;
        publish(&mut s, round * 1_000, Service::Finance, n);
        run_until(&mut s, round * 1_000 + 500);
        windows.push(s.metrics().current_batch_window_ms[&(0, Service::Finance)]);
    }
    assert_eq!(
        *windows.last().unwrap(),
        lo,
        "narrowed when quiet: {windows:?}"
    );
    assert!(windows.iter().all(|w| (lo..=hi).contains(w)), "{windows:?}");
}

#[test]
fn a_reconnect_in_the_same_epoch_replays_exactly_what_it_missed() {
    let mut s = streams(StreamConfig::default());
    open(&mut s, 0, 1, &[Service::Tasks], None);
    for n in 1..=3 {
        publish(&mut s, 100 * n as u64, Service::Tasks, n);
    }
    run_until(&mut s, 1_000);
    s.handle(SimTime(1_000), StreamInput::Close { conn: 1 }, &());
    for n in 4..=6 {
        publish(&mut s, 1_000 + 100 * n as u64, Service::Tasks, n);
    }
    run_until(&mut s, 2_000);
    let resume = Resume {
        epoch: s.epoch(),
        last: [(Service::Tasks, 3)].into_iter().collect(),
    };
    open(&mut s, 2_000, 2, &[Service::Tasks], Some(resume));
    let out = run_until(&mut s, 3_000);
    let frames = frames_of(&out, 2);
    let Frame::Welcome { starts, .. } = frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!(
        starts,
        &vec![ServiceStart {
            service: Service::Tasks,
            head: 3,
            recovered: true
        }]
    );
    assert!(matches!(
        frames[1],
        Frame::Batch {
            after: 3,
            through: 6,
            ..
        }
    ));
    assert_eq!(seqs(frames[1]), vec![4, 5, 6]);
}

#[test]
fn a_cursor_past_the_buffer_or_from_another_epoch_is_not_recovered() {
    let config = StreamConfig {
        tasks_buffer_size: 2,
        ..StreamConfig::default()
    };
    let mut s = streams(config);
    for n in 1..=5 {
        publish(&mut s, 100 * n as u64, Service::Tasks, n);
    }
    run_until(&mut s, 1_000);
    let old_epoch = s.epoch();
    let at = |last| Resume {
        epoch: old_epoch,
        last: [(Service::Tasks, last)].into_iter().collect(),
    };
    let welcome = |s: &mut Streams, conn, resume| {
        open(s, 1_000, conn, &[Service::Tasks], Some(resume));
        let out = run_until(s, 1_000);
        match frames_of(&out, conn)[0] {
            Frame::Welcome { epoch, starts, .. } => (*epoch, starts[0].clone()),
            other => panic!("{other:?}"),
        }
    };
    // The buffer holds 4 and 5: a cursor at 3 is recoverable, one at 2 is not.
    assert!(welcome(&mut s, 1, at(3)).1.recovered);
    assert!(!welcome(&mut s, 2, at(2)).1.recovered);
    s.handle(SimTime(2_000), StreamInput::Restart, &());
    assert_ne!(s.epoch(), old_epoch, "a restart starts a new epoch");
    publish(&mut s, 2_100, Service::Tasks, 6);
    run_until(&mut s, 3_000);
    // The new epoch's sequence 1 is event 6: an old cursor is never spliced on.
    let (epoch, start) = welcome(&mut s, 3, at(0));
    assert_eq!(epoch, s.epoch());
    assert!(!start.recovered, "{start:?}");
    assert_eq!(start.head, 1);
}

#[test]
fn a_property_filter_passes_only_its_property_and_frames_stay_contiguous() {
    let mut s = streams(StreamConfig::default());
    let input = StreamInput::Open(Opening {
        conn: 1,
        org: 0,
        user: 1,
        services: services(&[Service::Finance]),
        property: Some(2),
        resume: None,
        as_of: 0,
    });
    s.handle(SimTime(0), input, &());
    let mut all = Vec::new();
    for n in 1..=6u128 {
        let event = ev(0, Service::Finance, 1 + (n % 2) as u32, n);
        s.handle(
            SimTime(1_000 * n as u64),
            StreamInput::Publish { event },
            &(),
        );
        all.extend(run_until(&mut s, 1_000 * n as u64 + 500));
    }
    let batches: Vec<(u64, u64, Vec<u64>)> = frames_of(&all, 1)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Batch { after, through, .. } => Some((*after, *through, seqs(f))),
            _ => None,
        })
        .collect();
    // Odd events are property 2: each frame covers the even one before it too.
    assert_eq!(
        batches,
        vec![(0, 1, vec![1]), (1, 3, vec![3]), (3, 5, vec![5])],
        "only property 2, and each frame starts where the last ended"
    );
}

/// A small queue, so a consumer that never acknowledges overflows quickly.
fn tight() -> StreamConfig {
    StreamConfig {
        send_queue_capacity: 10,
        socket_window_frames: 1,
        batch_max_events: 5,
        ..StreamConfig::default()
    }
}

fn notes(out: &[StreamOutput]) -> Vec<&Observation> {
    out.iter()
        .filter_map(|o| match o {
            StreamOutput::Observe(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Run deadlines up to `until`, acknowledging at once every frame pushed
/// to a connection in `acking` (a client that keeps up).
fn run_acking(s: &mut Streams, until: u64, acking: &[ConnId]) -> Vec<StreamOutput> {
    let mut out = Vec::new();
    loop {
        let step = run_until(s, until);
        if step.is_empty() {
            return out;
        }
        for o in &step {
            match o {
                StreamOutput::Push { conn, .. } if acking.contains(conn) => {
                    s.handle(SimTime(until), StreamInput::Ack { conn: *conn }, &());
                }
                _ => {}
            }
        }
        out.extend(step);
    }
}

/// One event to each of `list` every 100 ms from `from` to `to`.
fn load(
    s: &mut Streams,
    (from, to): (u64, u64),
    list: &[Service],
    acking: &[ConnId],
    n: &mut u128,
) -> Vec<StreamOutput> {
    let mut out = Vec::new();
    for t in (from..to).step_by(100) {
        for &service in list {
            *n += 1;
            publish(s, t, service, *n);
        }
        out.extend(run_acking(s, t + 99, acking));
    }
    out
}

#[test]
fn quarantine_sheds_only_low_tiers_of_the_slow_connection_and_ends_in_time() {
    let mut s = streams(tight());
    let carried = [Service::Finance, Service::Analytics, Service::Tasks];
    open(&mut s, 0, 1, &carried, None); // never acknowledges
    open(&mut s, 0, 2, &carried, None); // acknowledges every frame
    let mut n = 0;
    let out = load(&mut s, (0, 20_000), &carried, &[2], &mut n);
    let on: Vec<_> = notes(&out)
        .into_iter()
        .filter(|n| matches!(n, Observation::Quarantine { on: true, .. }))
        .collect();
    assert_eq!(
        on,
        vec![&Observation::Quarantine { conn: 1, on: true }],
        "only the slow one"
    );
    // Every frame connection 2 got, and every frame in connection 1's queue,
    // keeps finance and tasks whole; only analytics is shed, only on 1.
    let shed: Vec<(ConnId, Service)> = out
        .iter()
        .filter_map(|o| match o {
            StreamOutput::Push {
                conn,
                frame: Frame::Suppressed { service, .. },
            } => Some((*conn, *service)),
            _ => None,
        })
        .collect();
    assert!(
        shed.iter()
            .all(|(c, s)| *c == 1 && *s == Service::Analytics),
        "{shed:?}"
    );
    let m = s.metrics();
    assert!(m.suppressed_by_service[&Service::Analytics] > 0);
    assert_eq!(
        m.suppressed_by_service.len(),
        1,
        "{:?}",
        m.suppressed_by_service
    );
    // Connection 1 is severed once its queue passes twice the capacity of
    // critical events, rather than dropping any of them.
    let closed = notes(&out).into_iter().any(|n| {
        *n == Observation::StreamClosed {
            conn: 1,
            reason: CloseReason::SlowConsumer,
        }
    });
    assert!(closed, "the slow consumer is severed, not emptied");
}

#[test]
fn a_quarantine_clears_early_once_the_connection_keeps_up() {
    let mut s = streams(tight());
    open(&mut s, 0, 1, &[Service::Analytics, Service::Finance], None);
    let mut n = 0;
    // Slow: three overflows quarantine it.
    let mut out = load(&mut s, (0, 1_500), &[Service::Analytics], &[], &mut n);
    assert!(notes(&out).contains(&&Observation::Quarantine { conn: 1, on: true }));
    let since = SimTime(1_500);
    // Then it drains its queue and keeps up.
    s.handle(since, StreamInput::Ack { conn: 1 }, &());
    out = run_acking(&mut s, since.0, &[1]);
    // Healthy from 1.5 s, so it clears by 6.5 s, not at its 30 s bound.
    out.extend(run_acking(&mut s, 6_500, &[1]));
    let ended = notes(&out)
        .iter()
        .any(|n| **n == Observation::Quarantine { conn: 1, on: false });
    assert!(ended, "{out:?}");
    // Only the keepalive ping is left to wake for, no quarantine to clear.
    let ping = SimTime(StreamConfig::default().ping_interval_ms);
    assert_eq!(s.poll_timeout(), Some(ping), "nothing left to clear");
    let later = load(
        &mut s,
        (60_000, 60_500),
        &[Service::Analytics],
        &[1],
        &mut n,
    );
    let batches = frames_of(&later, 1)
        .into_iter()
        .filter(|f| matches!(f, Frame::Batch { .. }))
        .count();
    assert_eq!(
        batches, 5,
        "analytics flows again after the quarantine: {later:?}"
    );
}

#[test]
fn update_services_changes_the_connection_in_place() {
    let mut s = streams(StreamConfig::default());
    open(&mut s, 0, 1, &[Service::Finance], None);
    publish(&mut s, 0, Service::Finance, 1);
    publish(&mut s, 0, Service::Tasks, 2);
    let mut out = run_until(&mut s, 1_000);
    let update = StreamInput::UpdateServices {
        req: 9,
        org: 0,
        user: 1,
        client: 1,
        services: services(&[Service::Tasks]),
        property: None,
        as_of: 0,
    };
    s.handle(SimTime(1_000), update, &());
    publish(&mut s, 1_100, Service::Finance, 3);
    publish(&mut s, 1_100, Service::Tasks, 4);
    out.extend(run_until(&mut s, 2_000));
    assert!(out.contains(&StreamOutput::Updated {
        req: 9,
        connections: 1
    }));
    assert!(
        !out.iter().any(|o| matches!(o, StreamOutput::Close { .. })),
        "no reconnect"
    );
    let frames = frames_of(&out, 1);
    let after_update: Vec<&Frame> = frames
        .iter()
        .skip_while(|f| !matches!(f, Frame::Subscribed { .. }))
        .copied()
        .collect();
    let Frame::Subscribed { starts, .. } = after_update[0] else {
        panic!("{frames:?}")
    };
    // Tasks starts at its head (sequence 1 of tasks was event 2), to be fetched.
    assert_eq!(
        starts,
        &vec![ServiceStart {
            service: Service::Tasks,
            head: 1,
            recovered: false
        }]
    );
    let services_after: Vec<Service> = after_update[1..]
        .iter()
        .filter_map(|f| match f {
            Frame::Batch { service, .. } => Some(*service),
            _ => None,
        })
        .collect();
    assert_eq!(
        services_after,
        vec![Service::Tasks],
        "finance stopped, tasks started"
    );
}

#[test]
fn the_same_seed_gives_the_same_epochs() {
    let epochs = |seed| {
        let mut s = Streams::new(StreamConfig::default(), rng_for(seed, "stream"), None);
        let first = s.epoch();
        s.handle(SimTime(0), StreamInput::Restart, &());
        (first, s.epoch())
    };
    assert_eq!(epochs(1), epochs(1));
    assert_ne!(epochs(1), epochs(2));
}
