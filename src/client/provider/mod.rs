//! The realtime provider of one tab (SPEC C2-C14) with its query cache (U1-U4).
//!
//! The tab that leads its scope (L1-L6, `leader.rs`) runs the transport: it
//! long-polls from its cursor, dedups (C2) and orders (C3) each batch, patches
//! its cache, shares the batch with the other tabs on the BroadcastChannel,
//! and refetches the list when it detects loss (C9) or has been cut off too
//! long (C8). Followers apply what the leader shares and never poll (L5). A
//! circuit breaker (C4) and the fast-empty backoff (C5) keep a failing or
//! idle transport from hammering the server. A 401/403 pauses every call
//! until the tab's auth machine (`auth.rs`, A1-A5) has a new token (C7); a
//! logout, here or in another tab, stops everything and clears the cache (A4).
//!
//! The page around it: the user's writes with their optimistic rows and echo
//! timeout (U2, `writes.rs`, `cache.rs`), the aggregates (U3, `derived.rs`),
//! degraded polling while the stream is not live, with its health shared on
//! `finance-stream-health` (C11, C12), refetch on focus (U4), the rollout
//! flags (C13, `flags.rs`) and sampled telemetry (C14).

use super::auth::{
    Auth, AuthInput, AuthMessage, AuthOutput, Credentials, CONTROL_CHANNEL, REFRESH_CHANNEL,
};
use super::breaker::Breaker;
use super::browser_api::{BrowserView, Effect, MessageData};
use super::calls::{Call, Calls, Kind, Purpose};
use super::dedup::Dedup;
use super::derived::{Aggregate, Derived, DerivedInput};
use super::flags::Realtime;
use super::leader::{ChannelMessage, Leader, LeaderInput, LeaderOutput, Role};
use super::query_cache::{CacheInput, QueryCache};
use crate::event::{application_order, Event, MutationId, OrgId, PropertyId, Service};
use crate::http::{Batch, Body, MutationRequest, Request, Response, Route};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::observation::{Actor, Delivered, Observation, Outcome, RequestKind};
use crate::query::{AggregateKind, ListKind};
use crate::seed::{jitter_ms, SimRng};
use crate::time::{earliest, SimTime};
use rand::Rng;
use std::collections::VecDeque;
use std::fmt;

mod apply;
mod config;
mod inputs;
mod page;
mod refetch;
mod requests;
mod route;
mod session;
mod stream;
mod transport;

pub use config::{ProviderConfig, Transport};
pub use inputs::TabInput;

/// C12: the stream's health, as the tab that runs it tells the others.
pub const HEALTH_CHANNEL: &str = "finance-stream-health";

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Health {
    is_live: bool,
    last_success_at: Option<u64>,
    failures: u32,
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
    /// The tab consumed a frame of the stream `req` (C15).
    Ack {
        req: u64,
    },
    /// The session ended in this tab (A4); the browser signs in again only when the user does.
    SignedOut,
    /// A storage write, a broadcast or a lock for the browser to carry out, in order.
    Effect(Effect),
    Observe(Observation),
}

pub struct Tab {
    pub id: TabId,
    /// Who this tab is in observations.
    name: Actor,
    /// Shared by the browser's tabs: it is the same for all of them.
    config: std::sync::Arc<ProviderConfig>,
    mutant: Option<Mutant>,
    rng: SimRng,
    auth: Auth,
    /// Every call in flight, with what it is for.
    calls: Calls,
    /// The page's aggregates (U3, C10).
    derived: Derived,
    /// U2: the next write due, and the echoes awaited.
    next_write_at: Option<SimTime>,
    echo_due: litemap::LiteMap<MutationId, SimTime>,
    /// C13: what realtime does for this page.
    realtime: Realtime,
    /// C12: whether the scope's stream is live, as this tab last knew it.
    stream_live: bool,
    poll_failures: u32,
    /// C11: degraded polling, on since and next due.
    degraded: bool,
    next_degraded_refetch: Option<SimTime>,
    /// U4: when the list last changed from the server (snapshot or event).
    list_updated_at: SimTime,
    /// C14: its own stream of randomness, so sampling moves no other draw.
    telemetry_rng: SimRng,
    cursor: Option<u64>,
    next_poll_at: Option<SimTime>,
    /// C6: until when the pause after its last poll's answer lasts, while
    /// it is in the background; a tab that stops polling and takes the
    /// transport back within it still owes the rest.
    paced_until: Option<SimTime>,
    /// B4: the tab is in the background (C6 paces its polls).
    hidden: bool,
    last_success: Option<SimTime>,
    /// A refetch must cover the org up to this sequence; 0 when none is owed.
    refetch_owed_through: u64,
    refetch_needed: bool,
    /// The refetch owed is only C11's periodic one: a failure waits for the next tick.
    refetch_periodic: bool,
    next_refetch_at: SimTime,
    /// The org sequence the page's newest snapshot was taken at; none until
    /// the page has loaded once.
    loaded_through: Option<u64>,
    next_req: u64,
    /// Elects the one tab of the scope that polls; created when the session's token (the scope) is known.
    leader: Option<Leader>,
    /// The role last recorded, to tell when this tab starts running the transport.
    last_role: Option<Role>,
    /// The cursor of the last message this follower had from its leader.
    last_shared: Option<u64>,
    /// The highest sequence applied per org.
    applied_through: litemap::LiteMap<OrgId, u64>,
    scope: String,
    dedup: Dedup,
    /// The v2 stream's state, for a tab whose transport it is (C15); boxed,
    /// so a v1 tab does not carry its room (memory at scale, issue 19).
    v2: Option<Box<super::stream::StreamState>>,
    breaker: Breaker,
    pub cache: QueryCache,
    out: VecDeque<TabOutput>,
}

/// ChaCha streams of a tab's generator: the tab's own draws use stream 0.
const TELEMETRY_STREAM: u64 = 1;
const LEADER_STREAM: u64 = 2;
const DERIVED_STREAM: u64 = 3;

impl Tab {
    pub fn new(
        id: TabId,
        property: Option<PropertyId>,
        config: std::sync::Arc<ProviderConfig>,
        rng: SimRng,
        mutant: Option<Mutant>,
    ) -> Self {
        Tab {
            name: Actor::tab(id.org, id.browser, id.tab),
            id,
            dedup: Dedup::new(config.dedup.clone()),
            v2: (config.transport == Transport::Stream)
                .then(|| Box::new(super::stream::StreamState::new(config.dedup.clone()))),
            breaker: Breaker::new(config.breaker.clone(), mutant),
            cache: QueryCache::new(id.org, property, &config.page.lists, mutant),
            auth: Auth::new(config.auth.clone(), id.tab, mutant),
            calls: Calls::default(),
            derived: Derived::new(
                config.derived.clone(),
                config.page.aggregates.clone(),
                {
                    let mut r = rng.clone();
                    r.set_stream(DERIVED_STREAM);
                    r
                },
                mutant,
            ),
            next_write_at: None,
            echo_due: Default::default(),
            realtime: config.flags.realtime_for(id.org),
            stream_live: true,
            poll_failures: 0,
            degraded: false,
            next_degraded_refetch: None,
            list_updated_at: SimTime::ZERO,
            telemetry_rng: {
                let mut r = rng.clone();
                r.set_stream(TELEMETRY_STREAM);
                r
            },
            config,
            mutant,
            rng,
            cursor: None,
            next_poll_at: None,
            paced_until: None,
            hidden: false,
            last_success: None,
            refetch_owed_through: 0,
            refetch_needed: false,
            refetch_periodic: false,
            next_refetch_at: SimTime::ZERO,
            loaded_through: None,
            next_req: 0,
            leader: None,
            last_role: None,
            applied_through: Default::default(),
            last_shared: None,
            scope: String::new(),
            out: VecDeque::new(),
        }
    }

    pub fn name(&self) -> Actor {
        self.name
    }

    fn observe(&mut self, obs: Observation) {
        self.out.push_back(TabOutput::Observe(obs));
    }

    /// Whether the page has loaded its lists once.
    fn loaded(&self) -> bool {
        self.loaded_through.is_some()
    }

    /// Whether this tab runs the transport now (never where realtime is off, C13).
    fn polls(&self) -> bool {
        if self.realtime == Realtime::Off
            && !(self.v2.is_some() && fires(self.mutant, Mutant::StreamIgnoresKillSwitch))
        {
            return false;
        }
        if self.v2.is_some() && !self.config.stream_behind_leader {
            // C15: every signed-in tab keeps its own stream, unless hidden.
            return self.leader.is_some() && !self.stream_paused();
        }
        self.leader.as_ref().is_some_and(Leader::polls)
    }

    /// C6: hidden, or polling alone for want of a BroadcastChannel.
    fn in_background(&self) -> bool {
        let fallback = self.role() == Some(Role::Solo) && self.config.leader.leader_enabled;
        self.hidden || fallback
    }

    /// C6: a hidden tab, or one polling alone for want of a BroadcastChannel
    /// (a follower in fallback mode), re-polls no sooner than a jittered
    /// `paced_poll_min_ms..paced_poll_max_ms` after an answer.
    pub(super) fn paced(&mut self, now: SimTime, next: SimTime) -> SimTime {
        self.paced_until = None;
        if !self.in_background() || fires(self.mutant, Mutant::UnpacedBackgroundPolls) {
            return next;
        }
        let (lo, hi) = (self.config.paced_poll_min_ms, self.config.paced_poll_max_ms);
        let until = now + jitter_ms(&mut self.rng, lo, hi);
        self.paced_until = Some(until);
        next.max(until)
    }

    /// The access token the tab holds now, if any (the ops probe borrows it).
    pub fn bearer(&self) -> Option<String> {
        self.auth.bearer()
    }

    pub fn role(&self) -> Option<Role> {
        self.leader.as_ref().map(Leader::role)
    }

    fn on_timer(&mut self, now: SimTime, env: &dyn BrowserView) {
        if env.frozen() {
            // B4: a frozen page's channel handler ran: what it changed is
            // reported, and a refetch it made owed is asked for; its timers
            // (timeouts, the election's, auth's, writes, polls, the
            // aggregates' debounce) wait for the thaw.
            self.drain_auth(now, env);
            self.sync_role(now);
            if self.auth.has_bearer() {
                self.start_refetch(now);
            }
            return;
        }
        self.expire_auth_calls(now, env);
        self.auth.handle_timeout(now, env);
        self.drain_auth(now, env);
        if let Some(l) = self.leader.as_mut() {
            l.handle_timeout(now, env);
        }
        self.sync_role(now);
        self.expire_page_calls(now, env);
        self.echo_timeouts(now);
        if !self.auth.has_bearer() {
            return;
        }
        self.degraded_tick(now);
        self.start_due_calls(now);
    }

    /// Start what is due: a write, the poll, the refetch, the aggregates.
    fn start_due_calls(&mut self, now: SimTime) {
        // U2: the user writes revenues, on a page that shows them.
        let writes = self.loaded() && self.cache.shows(ListKind::Revenues);
        if writes && self.next_write_at.is_some_and(|t| t <= now) {
            self.write(now);
            self.next_write_at = self.config.writes.next_after(now, &mut self.rng);
        }
        let polling = self.transport_in_flight();
        if self.polls() && !polling && self.next_poll_at.is_some_and(|t| t <= now) {
            let ready = self.breaker.ready_at(now);
            if ready > now {
                self.next_poll_at = Some(ready);
            } else {
                self.next_poll_at = None;
                self.send_poll(now);
            }
        }
        self.start_refetch(now);
        self.sync_services(now);
        // U3/C10: the aggregates, throttled; one invalidation refetches every stale one.
        if !self.calls.has(Kind::Aggregate) {
            self.derived.handle_timeout(now, &());
            while let Some(kind) = self.derived.poll_output() {
                let route = Route::Aggregate {
                    org: self.id.org,
                    property: self.cache.property,
                    kind,
                };
                let timeout = self.config.refetch_request_timeout_ms;
                if let Some(call) = self.send(now, RequestKind::Aggregate, route, timeout) {
                    self.calls.track(call, Purpose::Aggregate(kind));
                }
            }
        }
    }

    fn next_timer(&self) -> Option<SimTime> {
        let mut next = [
            self.leader.as_ref().and_then(Leader::poll_timeout),
            self.auth.poll_timeout(),
            self.calls.next_deadline(),
            self.echo_due.values().min().copied(),
        ]
        .into_iter()
        .fold(None, earliest);
        if self.auth.has_bearer() {
            if !self.calls.has(Kind::Aggregate) {
                next = earliest(next, self.derived.poll_timeout());
            }
            if !self.calls.has(Kind::Poll) && self.polls() {
                next = earliest(next, self.next_poll_at);
            }
            if self.refetch_needed && !self.calls.has(Kind::Refetch) {
                next = earliest(next, Some(self.next_refetch_at));
            }
            if self.loaded() && self.cache.shows(ListKind::Revenues) {
                next = earliest(next, self.next_write_at);
            }
            next = earliest(next, self.next_degraded_refetch);
        }
        next
    }
}

/// How a call ended, as the trace records it.
fn outcome_of(result: &Result<Response, Outcome>) -> Outcome {
    match result {
        Ok(r) => Outcome::Status(r.status),
        Err(o) => o.clone(),
    }
}
