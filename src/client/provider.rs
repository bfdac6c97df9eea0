//! The realtime provider of one tab (SPEC C2-C9) with its list cache (U1).
//!
//! Until leader election lands, every tab runs its own transport: it
//! long-polls from its cursor, dedups (C2) and orders (C3) each batch, patches
//! its cache, and refetches the list when it detects loss (C9) or has been
//! cut off too long (C8). A circuit breaker (C4) and the fast-empty backoff
//! (C5) keep a failing or idle transport from hammering the server, and a
//! 401/403 pauses it (C7).

use super::breaker::{Breaker, BreakerConfig};
use super::cache::ListCache;
use super::dedup::{Dedup, DedupConfig};
use crate::check::history::{Delivered, Observation, Outcome, RequestKind};
use crate::event::{application_order, OrgId, PropertyId};
use crate::http::{Batch, Body, Request, Response, Route};
use crate::mutant::Mutant;
use crate::seed::{jitter_ms, SimRng};
use crate::time::{earliest, SimTime};
use std::collections::VecDeque;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// A poll gets this long to answer: the server's long-poll timeout plus slack.
    pub poll_request_timeout_ms: u64,
    pub refetch_request_timeout_ms: u64,
    /// C5: an empty answer faster than this is "fast-empty"...
    pub fast_empty_ms: u64,
    /// ...and delays the next poll by a jittered backoff in this range.
    pub fast_empty_backoff_min_ms: u64,
    pub fast_empty_backoff_max_ms: u64,
    /// C8: this long without a successful poll triggers a full refetch.
    pub hard_recover_after_ms: u64,
    /// Pause before re-polling after a failed poll (the breaker adds its own).
    pub poll_retry_ms: u64,
    /// Pause before retrying a failed refetch.
    pub refetch_retry_ms: u64,
    pub dedup: DedupConfig,
    pub breaker: BreakerConfig,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            poll_request_timeout_ms: 35_000,
            refetch_request_timeout_ms: 10_000,
            fast_empty_ms: 1_500,
            fast_empty_backoff_min_ms: 2_000,
            fast_empty_backoff_max_ms: 5_000,
            hard_recover_after_ms: 60_000,
            poll_retry_ms: 1_000,
            refetch_retry_ms: 5_000,
            dedup: DedupConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// Where a tab lives: `org<i>/browser<j>/tab<k>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TabId {
    pub org: OrgId,
    pub browser: u32,
    pub tab: u32,
}

impl fmt::Display for TabId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "org{}/browser{}/tab{}", self.org, self.browser, self.tab)
    }
}

/// A network-level failure as the browser's fetch reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    Refused,
    Reset,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TabOutput {
    /// Send `request`; `req` is unique within the tab.
    Send {
        req: u64,
        request: Request,
    },
    /// Give up on `req` (the tab timed it out).
    Abort {
        req: u64,
    },
    Observe(Observation),
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    req: u64,
    sent_at: SimTime,
    deadline: SimTime,
}

pub struct Tab {
    pub id: TabId,
    name: String,
    config: ProviderConfig,
    mutant: Option<Mutant>,
    rng: SimRng,
    token: Option<String>,
    paused: bool,
    cursor: Option<u64>,
    poll: Option<InFlight>,
    next_poll_at: Option<SimTime>,
    last_success: Option<SimTime>,
    refetch: Option<(InFlight, u64)>,
    /// A refetch must cover the org up to this sequence; 0 when none is owed.
    refetch_owed_through: u64,
    refetch_needed: bool,
    next_refetch_at: SimTime,
    next_req: u64,
    dedup: Dedup,
    breaker: Breaker,
    pub cache: ListCache,
    out: VecDeque<TabOutput>,
}

impl Tab {
    pub fn new(
        id: TabId,
        property: Option<PropertyId>,
        config: ProviderConfig,
        rng: SimRng,
        mutant: Option<Mutant>,
    ) -> Self {
        Tab {
            name: id.to_string(),
            id,
            dedup: Dedup::new(config.dedup.clone()),
            breaker: Breaker::new(
                config.breaker.clone(),
                mutant == Some(Mutant::BreakerNeverOpens),
            ),
            cache: ListCache::new(id.org, property),
            config,
            mutant,
            rng,
            token: None,
            paused: false,
            cursor: None,
            poll: None,
            next_poll_at: None,
            last_success: None,
            refetch: None,
            refetch_owed_through: 0,
            refetch_needed: false,
            next_refetch_at: SimTime::ZERO,
            next_req: 0,
            out: VecDeque::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn observe(&mut self, obs: Observation) {
        self.out.push_back(TabOutput::Observe(obs));
    }

    /// The session's token arrived (or changed): start or resume the transport.
    pub fn set_token(&mut self, now: SimTime, token: String) {
        self.token = Some(token);
        self.paused = false;
        if self.poll.is_none() && self.next_poll_at.is_none() {
            self.next_poll_at = Some(now);
        }
        self.handle_timeout(now);
    }

    fn send(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        timeout_ms: u64,
    ) -> Option<InFlight> {
        // C7: never a request without a token.
        let token = self.token.clone()?;
        self.next_req += 1;
        let req = self.next_req;
        let path = route.to_path();
        self.observe(Observation::Request {
            tab: self.name.clone(),
            req,
            what: kind,
            path: path.clone(),
            bearer: true,
        });
        let request = Request {
            method: route.method(),
            path,
            bearer: Some(token),
            body: Body::Empty,
        };
        self.out.push_back(TabOutput::Send { req, request });
        Some(InFlight {
            req,
            sent_at: now,
            deadline: now + timeout_ms,
        })
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some(p) = self.poll.filter(|p| p.deadline <= now) {
            self.out.push_back(TabOutput::Abort { req: p.req });
            self.on_poll_result(now, p.req, Err(Outcome::Timeout));
        }
        if let Some((r, _)) = self.refetch.filter(|(r, _)| r.deadline <= now) {
            self.out.push_back(TabOutput::Abort { req: r.req });
            self.on_refetch_result(now, r.req, Err(Outcome::Timeout));
        }
        if self.paused || self.token.is_none() {
            return;
        }
        if self.poll.is_none() && self.next_poll_at.is_some_and(|t| t <= now) {
            let ready = self.breaker.ready_at(now);
            if ready > now {
                self.next_poll_at = Some(ready);
            } else {
                self.next_poll_at = None;
                let route = Route::Subscribe {
                    org: self.id.org,
                    property: self.cache.property,
                    last_event_id: self.cursor,
                };
                self.poll = self.send(
                    now,
                    RequestKind::Poll,
                    route,
                    self.config.poll_request_timeout_ms,
                );
            }
        }
        if self.refetch_needed && self.refetch.is_none() && self.next_refetch_at <= now {
            let route = Route::ListRows {
                org: self.id.org,
                property: self.cache.property,
            };
            let owed = self.refetch_owed_through;
            if let Some(f) = self.send(
                now,
                RequestKind::Refetch,
                route,
                self.config.refetch_request_timeout_ms,
            ) {
                self.refetch = Some((f, owed));
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        let mut next = earliest(
            self.poll.map(|p| p.deadline),
            self.refetch.map(|(r, _)| r.deadline),
        );
        if !self.paused && self.token.is_some() {
            if self.poll.is_none() {
                next = earliest(next, self.next_poll_at);
            }
            if self.refetch_needed && self.refetch.is_none() {
                next = earliest(next, Some(self.next_refetch_at));
            }
        }
        next
    }

    /// An answer (or a network failure) for request `req`.
    pub fn on_response(&mut self, now: SimTime, req: u64, result: Result<Response, NetError>) {
        let result = result.map_err(|_| Outcome::NetError);
        if self.poll.is_some_and(|p| p.req == req) {
            self.on_poll_result(now, req, result);
        } else if self.refetch.is_some_and(|(r, _)| r.req == req) {
            self.on_refetch_result(now, req, result);
        }
        // Anything else was aborted already; its late answer is ignored.
        self.handle_timeout(now);
    }

    fn record_response(&mut self, req: u64, outcome: Outcome, events: usize) {
        self.observe(Observation::Response {
            tab: self.name.clone(),
            req,
            outcome,
            events,
        });
    }

    fn on_poll_result(&mut self, now: SimTime, req: u64, result: Result<Response, Outcome>) {
        let sent_at = self.poll.take().map_or(now, |p| p.sent_at);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Events(batch),
            }) => {
                self.record_response(req, Outcome::Status(200), batch.events.len());
                self.breaker.on_success();
                let fast_empty =
                    batch.events.is_empty() && now.since(sent_at) < self.config.fast_empty_ms;
                self.on_batch(now, batch);
                self.next_poll_at = Some(if fast_empty {
                    now + jitter_ms(
                        &mut self.rng,
                        self.config.fast_empty_backoff_min_ms,
                        self.config.fast_empty_backoff_max_ms,
                    )
                } else {
                    now
                });
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.record_response(req, Outcome::Status(status), 0);
                self.paused = true;
                self.next_poll_at = Some(now);
                self.observe(Observation::AuthPaused {
                    tab: self.name.clone(),
                    status,
                });
            }
            other => {
                let outcome = match other {
                    Ok(r) => Outcome::Status(r.status),
                    Err(o) => o,
                };
                self.record_response(req, outcome, 0);
                if let Some(until) = self.breaker.on_failure(now) {
                    self.observe(Observation::BreakerOpen {
                        tab: self.name.clone(),
                        until,
                    });
                }
                self.next_poll_at = Some(now + self.config.poll_retry_ms);
            }
        }
    }

    fn owe_refetch(&mut self, through: u64) {
        self.refetch_needed = true;
        self.refetch_owed_through = self.refetch_owed_through.max(through);
    }

    fn on_batch(&mut self, now: SimTime, mut batch: Batch) {
        // C8: cut off too long, the cache may be far behind; refetch it whole.
        if let Some(last) = self.last_success {
            let silent_ms = now.since(last);
            if silent_ms > self.config.hard_recover_after_ms {
                self.observe(Observation::HardRecover {
                    tab: self.name.clone(),
                    silent_ms,
                });
                self.owe_refetch(batch.last_event_id);
            }
        }
        self.last_success = Some(now);
        let Some(cursor) = self.cursor else {
            // First contact: resume from the server's head; a snapshot covers the past.
            self.cursor = Some(batch.last_event_id);
            self.owe_refetch(batch.last_event_id);
            return;
        };
        let delivered = batch
            .events
            .iter()
            .map(|e| Delivered {
                org: e.org_id,
                property: e.property_id,
                seq: e.sequence,
            })
            .collect();
        self.observe(Observation::Delivered {
            tab: self.name.clone(),
            events: delivered,
        });
        if self.detects_gap(cursor, &batch) {
            self.observe(Observation::Gap {
                tab: self.name.clone(),
                cursor,
                last_event_id: batch.last_event_id,
                floor: batch.floor,
            });
            self.owe_refetch(batch.last_event_id);
        }
        // C3: apply in (sequence, timestamp, id) order.
        batch.events.sort_by(application_order);
        for event in &batch.events {
            let fresh = self.mutant == Some(Mutant::NoDedup)
                || self
                    .dedup
                    .first_sighting(now, event.org_id, event.dedup_key());
            if fresh {
                self.observe(Observation::Applied {
                    tab: self.name.clone(),
                    org: event.org_id,
                    seq: event.sequence,
                    event_id: event.event_id,
                });
                self.cache.apply(event);
            }
        }
        self.cursor = Some(cursor.max(batch.last_event_id));
    }

    /// C9: a loss below the server's floor, or a hole in the org sequence.
    fn detects_gap(&self, cursor: u64, batch: &Batch) -> bool {
        if self.mutant == Some(Mutant::NoGapDetect) {
            return false;
        }
        let hole = batch
            .org_sequences
            .iter()
            .zip(cursor + 1..)
            .any(|(&seq, expected)| seq != expected);
        hole || batch.floor > cursor
    }

    fn on_refetch_result(&mut self, now: SimTime, req: u64, result: Result<Response, Outcome>) {
        let Some((_, owed)) = self.refetch.take() else {
            return;
        };
        match result {
            Ok(Response {
                status: 200,
                body: Body::Rows { rows, as_of_seq },
            }) => {
                self.record_response(req, Outcome::Status(200), 0);
                self.observe(Observation::Snapshot {
                    tab: self.name.clone(),
                    org: self.id.org,
                    property: self.cache.property,
                    as_of_seq,
                    rows: rows.len(),
                });
                self.cache.merge_snapshot(rows, as_of_seq);
                if as_of_seq >= self.refetch_owed_through.max(owed) {
                    self.refetch_needed = false;
                    self.refetch_owed_through = 0;
                }
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.record_response(req, Outcome::Status(status), 0);
                self.paused = true;
                self.observe(Observation::AuthPaused {
                    tab: self.name.clone(),
                    status,
                });
            }
            other => {
                let outcome = match other {
                    Ok(r) => Outcome::Status(r.status),
                    Err(o) => o,
                };
                self.record_response(req, outcome, 0);
                self.next_refetch_at = now + self.config.refetch_retry_ms;
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<TabOutput> {
        self.out.pop_front()
    }
}
