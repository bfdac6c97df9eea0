//! The ops probe (SPEC S7, S8): the synthetic check the seeds' dashboards and
//! QA list run against the realtime backend. Every `every_ms` it reads
//! `GET /finance/realtime/metrics` with a token borrowed from one of its
//! browser's signed-in tabs, and tries the retired legacy path, which must
//! answer 410. It records what the metrics said, so a checker can hold them
//! against what the server was seen doing. A round left unanswered when the
//! next is due is given up (aborted), so at most one round is out at a time.

use crate::http::{Body, BufferMetrics, Method, Request, Response, Route};
use crate::observation::{Actor, Observation, RequestKind};
use crate::time::SimTime;

pub struct Probe {
    every_ms: u64,
    next_at: SimTime,
    /// The browser-level ids of this round's calls still out.
    pending: Vec<u64>,
}

/// What the probe calls each round.
pub const CALLS: [RequestKind; 2] = [RequestKind::Metrics, RequestKind::Legacy];

impl Probe {
    pub fn new(every_ms: u64) -> Probe {
        Probe {
            every_ms,
            next_at: SimTime(every_ms),
            pending: Vec::new(),
        }
    }

    pub fn next_at(&self) -> SimTime {
        self.next_at
    }

    /// Start the round due now: the calls of the last round still out, to abort.
    pub fn start_round(&mut self, now: SimTime) -> Vec<u64> {
        self.next_at = now + self.every_ms;
        self.give_up()
    }

    /// The calls still out, to abort: the round is given up.
    pub fn give_up(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.pending)
    }

    /// A call of this round went out as browser request `req`.
    pub fn sent(&mut self, req: u64) {
        self.pending.push(req);
    }

    pub fn answered(&mut self, req: u64) {
        self.pending.retain(|r| *r != req);
    }
}

/// The request for one of the probe's calls.
pub fn request(kind: RequestKind, bearer: String) -> Request {
    let route = match kind {
        RequestKind::Metrics => Route::Metrics,
        _ => Route::LegacySubscribe,
    };
    Request {
        method: Method::Get,
        path: route.to_path(),
        bearer: Some(bearer),
        body: Body::Empty,
    }
}

/// What a metrics answer said, as the probe records it; `None` for any other answer.
pub fn reading(probe: Actor, req: u64, resp: &Response) -> Option<Observation> {
    let Body::Metrics(m) = &resp.body else {
        return None;
    };
    let BufferMetrics {
        buffer_sizes,
        published,
        delivered,
        dropped,
        // No history step shows a parked poll leaving, so nothing could hold this gauge.
        waiters: _,
        waiter_cap_hits,
        evictions,
        batch_window_ms,
        // Served for the dashboards; no history step counts an event written
        // to a socket or shed from one, so nothing could hold these.
        delivered_by_service: _,
        suppressed_by_service: _,
    } = &**m;
    Some(Observation::Metrics {
        probe,
        req,
        published: *published,
        delivered: *delivered,
        dropped: *dropped,
        waiter_cap_hits: *waiter_cap_hits,
        evictions: *evictions,
        buffered: buffer_sizes.iter().map(|(o, n)| (*o, *n)).collect(),
        batch_window_ms: batch_window_ms.clone(),
    })
}
