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
    Auth, AuthConfig, AuthEffect, AuthMessage, Credentials, CONTROL_CHANNEL, REFRESH_CHANNEL,
};
use super::breaker::{Breaker, BreakerConfig};
use super::calls::{Call, Calls, Kind, Purpose};
use super::dedup::{Dedup, DedupConfig};
use super::derived::{Aggregate, Derived, DerivedConfig};
use super::flags::{Flags, Realtime};
use super::leader::{ChannelMessage, Leader, LeaderConfig, Role, TabEnv};
use super::query_cache::QueryCache;
use super::writes::WriteConfig;
use crate::event::{application_order, Event, MutationId, OrgId, PropertyId};
use crate::http::{Batch, Body, MutationRequest, Request, Response, Route};
use crate::mutant::{fires, Mutant};
use crate::observation::{Delivered, Observation, Outcome, RequestKind};
use crate::query::{AggregateKind, Page};
use crate::seed::{jitter_ms, SimRng};
use crate::time::{earliest, SimTime};
use rand::Rng;
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
    pub leader: LeaderConfig,
    pub auth: AuthConfig,
    pub derived: DerivedConfig,
    /// The queries the page shows (U1, U3).
    pub page: Page,
    pub writes: WriteConfig,
    pub flags: Flags,
    /// C11: while the page has no live stream, refetch the list every
    /// min..max ms (jittered).
    pub degraded_polling: bool,
    pub degraded_refetch_min_ms: u64,
    pub degraded_refetch_max_ms: u64,
    /// U4: on focus, a list older than this is refetched...
    pub list_stale_ms: u64,
    /// ...and an aggregate older than this (live) or that (not live).
    pub aggregate_stale_live_ms: u64,
    pub aggregate_stale_offline_ms: u64,
    /// C14: the share of telemetry-worthy events reported, in percent.
    pub telemetry_sample_pct: u32,
}

/// C12: the stream's health, as the tab that runs it tells the others.
pub const HEALTH_CHANNEL: &str = "finance-stream-health";

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Health {
    is_live: bool,
    last_success_at: Option<u64>,
    failures: u32,
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
            leader: LeaderConfig::default(),
            auth: AuthConfig::default(),
            derived: DerivedConfig::default(),
            page: Page::default(),
            writes: WriteConfig::default(),
            flags: Flags::default(),
            degraded_polling: true,
            degraded_refetch_min_ms: 12_000,
            degraded_refetch_max_ms: 18_000,
            list_stale_ms: 5_000,
            aggregate_stale_live_ms: 25_000,
            aggregate_stale_offline_ms: 10_000,
            telemetry_sample_pct: 2,
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
    /// The session ended in this tab (A4); the browser signs in again only when the user does.
    SignedOut,
    Observe(Observation),
}

pub struct Tab {
    pub id: TabId,
    name: String,
    config: ProviderConfig,
    mutant: Option<Mutant>,
    rng: SimRng,
    auth: Auth,
    /// Every call in flight, with what it is for.
    calls: Calls,
    /// The page's aggregates (U3, C10).
    derived: Derived,
    /// U2: the next write due, and the echoes awaited.
    next_write_at: Option<SimTime>,
    echo_due: std::collections::BTreeMap<MutationId, SimTime>,
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
    last_success: Option<SimTime>,
    /// A refetch must cover the org up to this sequence; 0 when none is owed.
    refetch_owed_through: u64,
    refetch_needed: bool,
    /// The refetch owed is only C11's periodic one: a failure waits for the next tick.
    refetch_periodic: bool,
    next_refetch_at: SimTime,
    /// The page's list has been loaded once (a snapshot after the first contact).
    loaded: bool,
    next_req: u64,
    /// Elects the one tab of the scope that polls; created when the session's token (the scope) is known.
    leader: Option<Leader>,
    /// The role last recorded, to tell when this tab starts running the transport.
    last_role: Option<Role>,
    /// The cursor of the last message this follower had from its leader.
    last_shared: Option<u64>,
    /// The highest sequence applied per org.
    applied_through: std::collections::BTreeMap<OrgId, u64>,
    scope: String,
    dedup: Dedup,
    breaker: Breaker,
    pub cache: QueryCache,
    out: VecDeque<TabOutput>,
}

/// ChaCha streams of a tab's generator: the tab's own draws use stream 0.
const TELEMETRY_STREAM: u64 = 1;
const LEADER_STREAM: u64 = 2;

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
            breaker: Breaker::new(config.breaker.clone(), mutant),
            cache: QueryCache::new(id.org, property, &config.page.lists, mutant),
            auth: Auth::new(config.auth.clone(), id.tab, mutant),
            calls: Calls::default(),
            derived: Derived::new(
                config.derived.clone(),
                config.page.aggregates.clone(),
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
            last_success: None,
            refetch_owed_through: 0,
            refetch_needed: false,
            refetch_periodic: false,
            next_refetch_at: SimTime::ZERO,
            loaded: false,
            next_req: 0,
            leader: None,
            last_role: None,
            applied_through: Default::default(),
            last_shared: None,
            scope: String::new(),
            out: VecDeque::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn observe(&mut self, obs: Observation) {
        self.out.push_back(TabOutput::Observe(obs));
    }

    /// The session is signed in: take its credentials, join the scope's election
    /// and start. `scope` names the scope (L1): the session or the browser and org.
    pub fn sign_in(
        &mut self,
        now: SimTime,
        creds: Credentials,
        scope: String,
        env: &mut dyn TabEnv,
    ) {
        self.auth.sign_in(now, creds, env);
        if self.leader.is_none() {
            self.derived.start(now, &mut self.rng);
            self.next_write_at = self.config.writes.next_after(now, &mut self.rng);
            let index = self.id.tab;
            // The election draws from a stream of its own: a clone of the tab's
            // generator on the same stream would repeat the tab's next draws as
            // takeover jitter, correlating the two.
            let mut rng = crate::seed::SimRng::clone(&self.rng);
            rng.set_stream(LEADER_STREAM);
            self.scope = scope.clone();
            let mut leader =
                Leader::new(self.config.leader.clone(), index, &scope, rng, self.mutant);
            leader.start(now, env);
            self.leader = Some(leader);
            // A follower loads its page now; a poller after its first contact (see on_batch).
            self.sync_role(now);
            if !self.polls() && !self.loaded {
                self.owe_refetch(0);
            }
        }
        self.handle_timeout(now, env);
    }

    /// Whether this tab runs the transport now (never where realtime is off, C13).
    fn polls(&self) -> bool {
        self.realtime != Realtime::Off && self.leader.as_ref().is_some_and(Leader::polls)
    }

    /// C11: the page has no live stream to keep its list fresh.
    fn wants_degraded(&self) -> bool {
        self.config.degraded_polling && (self.realtime != Realtime::Live || !self.stream_live)
    }

    /// C12: the poller's view of its stream changed; tell the other tabs.
    fn set_stream_live(&mut self, now: SimTime, live: bool, env: &mut dyn TabEnv) {
        if live == self.stream_live {
            return;
        }
        self.stream_live = live;
        let health = Health {
            is_live: live,
            last_success_at: self.last_success.map(SimTime::as_ms),
            failures: self.poll_failures,
        };
        env.broadcast(
            now,
            HEALTH_CHANNEL,
            serde_json::to_string(&health).expect("health serialises"),
        );
    }

    /// U4: the window gets focus: refetch what is stale.
    pub fn on_focus(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        if !self.auth.signed_in() {
            return;
        }
        if now.since(self.list_updated_at) > self.config.list_stale_ms {
            self.owe_refetch(0);
        }
        let stale_ms = if self.stream_live && self.realtime == Realtime::Live {
            self.config.aggregate_stale_live_ms
        } else {
            self.config.aggregate_stale_offline_ms
        };
        self.derived.invalidate_if_older(now, stale_ms);
        self.handle_timeout(now, env);
    }

    pub fn role(&self) -> Option<Role> {
        self.leader.as_ref().map(Leader::role)
    }

    /// Record role changes and start or stop the transport to match.
    fn sync_role(&mut self, now: SimTime) {
        while let Some(change) = self.leader.as_mut().and_then(Leader::poll_change) {
            self.observe(Observation::Role {
                tab: self.name.clone(),
                scope: self.scope.clone(),
                role: change.role,
                seq: change.seq,
                cause: change.cause.to_string(),
            });
            let polled = matches!(self.last_role, Some(Role::Leader | Role::Solo));
            if change.role == Role::Leader {
                let kind = if self.last_role == Some(Role::Follower) {
                    "leader_takeover"
                } else {
                    "leader_acquired"
                };
                self.telemetry(now, kind, change.cause);
            }
            self.last_role = Some(change.role);
            if matches!(change.role, Role::Leader | Role::Solo) && !polled {
                // L5: a tab that takes the transport over resumes from the cursor the last
                // leader shared. Without one, it starts afresh and reloads the page once
                // the new cursor is known.
                let handoff = self.leader.as_ref().and_then(|l| l.shared_cursor());
                // The bug only differs from the fix where there is a cursor to
                // ignore or a loaded page to keep.
                let differs = handoff.is_some() || self.loaded;
                if differs && fires(self.mutant, Mutant::NoCursorHandoff) {
                    self.cursor = None;
                } else if let Some(c) = handoff {
                    self.cursor = Some(self.cursor.map_or(c, |own| own.max(c)));
                } else {
                    self.cursor = None;
                    self.loaded = false;
                }
            }
            let follows = matches!(change.role, Role::Follower | Role::Claiming);
            if polled && follows {
                // A tab that gives its own stream up ignored the leader's batches while it
                // polled; whatever the leader shared beyond its own cursor it must reload.
                let shared = self.leader.as_ref().and_then(|l| l.shared_cursor());
                if let (Some(own), Some(shared)) = (self.cursor, shared) {
                    if own < shared {
                        self.owe_refetch(shared);
                    }
                }
            }
        }
        if self.polls() {
            if !self.calls.has(Kind::Poll) && self.next_poll_at.is_none() {
                self.next_poll_at = Some(now);
            }
        } else {
            // A follower never calls the backend for events (L5).
            self.abort_all(Kind::Poll);
            self.next_poll_at = None;
        }
    }

    /// A call under the session's token; none while the tab may not make one (C7).
    fn send(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        timeout_ms: u64,
    ) -> Option<Call> {
        self.send_body(now, kind, route, Body::Empty, timeout_ms)
    }

    fn send_body(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        body: Body,
        timeout_ms: u64,
    ) -> Option<Call> {
        let bearer = self.auth.bearer()?;
        Some(self.send_raw(now, kind, route, body, Some(bearer), timeout_ms))
    }

    fn send_raw(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        body: Body,
        bearer: Option<String>,
        timeout_ms: u64,
    ) -> Call {
        self.next_req += 1;
        let req = self.next_req;
        let path = route.to_path();
        self.observe(Observation::Request {
            tab: self.name.clone(),
            req,
            what: kind,
            path: path.clone(),
            bearer: bearer.as_deref().is_some_and(|b| !b.is_empty()),
        });
        let request = Request {
            method: route.method(),
            path,
            bearer,
            body,
        };
        self.out.push_back(TabOutput::Send { req, request });
        Call {
            req,
            sent_at: now,
            deadline: now + timeout_ms,
            epoch: self.auth.epoch(),
        }
    }

    /// Carry out what the auth machine asks for.
    fn drain_auth(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        while let Some(effect) = self.auth.poll_effect() {
            match effect {
                AuthEffect::Refresh { refresh_token } => {
                    let call = self.send_raw(
                        now,
                        RequestKind::Refresh,
                        Route::Refresh,
                        Body::RefreshToken { refresh_token },
                        None,
                        self.config.auth.refresh_request_timeout_ms,
                    );
                    // A new refresh replaces one still tracked, whose answer is then ignored.
                    self.calls.take_all(Kind::Refresh);
                    self.calls.track(call, Purpose::Refresh);
                }
                AuthEffect::Banner(banner) => self.observe(Observation::Banner {
                    tab: self.name.clone(),
                    banner,
                }),
                AuthEffect::SignedOut { cause } => self.drop_session(now, cause, env),
            }
        }
    }

    /// A4: the session is over in this tab: abort every call, stop every
    /// timer, leave the election, clear the cache. Nothing more is sent until
    /// the user signs in again.
    fn drop_session(&mut self, now: SimTime, cause: &str, env: &mut dyn TabEnv) {
        self.observe(Observation::SignedOut {
            tab: self.name.clone(),
            cause: cause.to_string(),
        });
        self.derived.stop();
        for kind in [Kind::Poll, Kind::Refetch, Kind::Refresh, Kind::Aggregate] {
            self.abort_all(kind);
        }
        self.stop_page_calls();
        self.degraded = false;
        self.next_degraded_refetch = None;
        if let Some(l) = self.leader.as_mut() {
            l.close(now, env);
        }
        self.sync_role(now);
        self.leader = None;
        self.last_role = None;
        self.next_poll_at = None;
        self.refetch_needed = false;
        self.refetch_owed_through = 0;
        self.cursor = None;
        self.last_shared = None;
        self.loaded = false;
        self.applied_through.clear();
        self.cache.clear();
        self.out.push_back(TabOutput::SignedOut);
    }

    fn degraded_pause(&mut self) -> u64 {
        jitter_ms(
            &mut self.rng,
            self.config.degraded_refetch_min_ms,
            self.config.degraded_refetch_max_ms,
        )
    }

    /// C14: report `kind`, sampled at `telemetry_sample_pct`, with no auth
    /// and never the token (the `telemetry-leaks-token` mutant adds it).
    fn telemetry(&mut self, now: SimTime, kind: &str, detail: &str) {
        if self.telemetry_rng.gen_range(0..100) >= self.config.telemetry_sample_pct {
            return;
        }
        let mut payload = serde_json::json!({
            "type": kind,
            "org": self.id.org,
            "tab": self.name,
            "at_ms": now.as_ms(),
            "detail": detail,
        });
        if let Some(b) = self
            .auth
            .bearer()
            .filter(|_| fires(self.mutant, Mutant::TelemetryLeaksToken))
        {
            payload["authorization"] = b.into();
        }
        let body = Body::Telemetry {
            payload: payload.to_string(),
        };
        let timeout = self.config.refetch_request_timeout_ms;
        let call = self.send_raw(
            now,
            RequestKind::Telemetry,
            Route::Telemetry,
            body,
            None,
            timeout,
        );
        self.calls.track(call, Purpose::Telemetry);
    }

    fn on_telemetry_result(&mut self, req: u64, result: Result<Response, Outcome>) {
        self.calls.remove(req);
        self.record_response(req, outcome_of(&result), 0);
    }

    /// Give up the page's own calls in flight (writes, telemetry) and stop
    /// writing (sign-out, close).
    fn stop_page_calls(&mut self) {
        self.abort_all(Kind::Write);
        self.abort_all(Kind::Telemetry);
        self.next_write_at = None;
        self.echo_due.clear();
    }

    /// U2: the user writes. An optimistic add shows at once.
    fn write(&mut self, now: SimTime) {
        let rows = self.cache.editable_rows();
        let (req, optimistic) =
            self.config
                .writes
                .choose(&mut self.rng, self.cache.property, &rows);
        let MutationRequest {
            mutation,
            property,
            op,
        } = req.clone();
        let route = Route::Mutate { org: self.id.org };
        let timeout = self.config.writes.request_timeout_ms;
        let Some(call) = self.send_body(
            now,
            RequestKind::Mutate,
            route,
            Body::Mutation(req),
            timeout,
        ) else {
            return;
        };
        self.observe(Observation::Mutation {
            tab: self.name.clone(),
            mutation,
            op: format!("{op:?}"),
            optimistic,
        });
        if optimistic {
            if let (crate::http::WriteOp::Add { amount_cents }, Some(list)) =
                (op, self.cache.revenues())
            {
                list.insert_optimistic(mutation, property, amount_cents);
            }
        }
        self.calls.track(
            call,
            Purpose::Write {
                mutation,
                optimistic,
            },
        );
        self.echo_due
            .insert(mutation, now + self.config.writes.echo_timeout_ms);
    }

    fn on_write_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        let Some((
            call,
            Purpose::Write {
                mutation,
                optimistic,
            },
        )) = self.calls.remove(req)
        else {
            return;
        };
        self.record_response(req, outcome_of(&result), 0);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Committed(event),
            }) => {
                if let Some(list) = self.cache.revenues().filter(|_| optimistic) {
                    list.write_committed(mutation, event.sequence);
                } else {
                    // Shown from the answer, unless realtime already brought it (or newer).
                    self.cache.apply(&event);
                }
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.write_failed(mutation, true);
                self.refused(now, status, call.epoch, env);
            }
            Ok(_) => self.write_failed(mutation, true),
            Err(_) => self.write_failed(mutation, false),
        }
    }

    fn write_failed(&mut self, mutation: MutationId, refused: bool) {
        if let Some(list) = self.cache.revenues() {
            list.write_failed(mutation, refused);
        }
    }

    /// The user clicks "log out" in this tab (A4).
    pub fn logout(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        if !self.auth.signed_in() {
            return;
        }
        self.observe(Observation::Logout {
            tab: self.name.clone(),
        });
        let bearer = self.auth.bearer();
        if let Some(refresh_token) = self.auth.logout(now, env) {
            self.drain_auth(now, env);
            // Revoke the session on the server too; the answer changes nothing here.
            self.send_raw(
                now,
                RequestKind::Logout,
                Route::Logout,
                Body::RefreshToken { refresh_token },
                bearer,
                self.config.auth.refresh_request_timeout_ms,
            );
        }
    }

    pub fn signed_in(&self) -> bool {
        self.auth.signed_in()
    }

    pub fn handle_timeout(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        self.expire_auth_calls(now, env);
        self.auth.handle_timeout(now, env);
        self.drain_auth(now, env);
        let cursor = self.cursor;
        if let Some(l) = self.leader.as_mut() {
            l.handle_timeout(now, env, cursor);
        }
        self.sync_role(now);
        self.expire_page_calls(now, env);
        self.echo_timeouts(now);
        if self.auth.bearer().is_none() {
            return;
        }
        self.degraded_tick(now);
        self.start_due_calls(now);
    }

    /// The refresh and aggregate calls past their deadline time out.
    fn expire_auth_calls(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        self.expire(now, Kind::Refresh, env);
        self.expire(now, Kind::Aggregate, env);
    }

    /// The poll, the refetch, telemetry and writes past their deadline time out.
    fn expire_page_calls(&mut self, now: SimTime, env: &mut dyn TabEnv) {
        for kind in [Kind::Poll, Kind::Refetch, Kind::Telemetry, Kind::Write] {
            self.expire(now, kind, env);
        }
    }

    /// Time out the calls of `kind` past their deadline, oldest first.
    fn expire(&mut self, now: SimTime, kind: Kind, env: &mut dyn TabEnv) {
        while let Some(call) = self.calls.first_due(now, kind) {
            self.out.push_back(TabOutput::Abort { req: call.req });
            self.settle(now, call.req, Err(Outcome::Timeout), env);
        }
    }

    fn echo_timeouts(&mut self, now: SimTime) {
        // U2: no echo in time; the list may miss the write (or more), so refetch it.
        while let Some((&m, _)) = self.echo_due.iter().find(|(_, due)| **due <= now) {
            self.echo_due.remove(&m);
            if !fires(self.mutant, Mutant::NoEchoTimeout) {
                self.owe_refetch(0);
            }
        }
    }

    /// C11: enter or leave degraded mode, and owe its periodic refetch when due.
    fn degraded_tick(&mut self, now: SimTime) {
        let degraded = self.wants_degraded();
        if degraded != self.degraded {
            self.degraded = degraded;
            self.observe(Observation::Degraded {
                tab: self.name.clone(),
                on: degraded,
            });
            self.next_degraded_refetch = degraded.then(|| now + self.degraded_pause());
        }
        if self.next_degraded_refetch.is_some_and(|t| t <= now) {
            if !self.refetch_needed && !fires(self.mutant, Mutant::NoDegradedPolling) {
                self.refetch_needed = true;
                self.refetch_periodic = true;
            }
            self.next_degraded_refetch = Some(now + self.degraded_pause());
        }
    }

    /// Start what is due: a write, the poll, the refetch, the aggregates.
    fn start_due_calls(&mut self, now: SimTime) {
        if self.loaded && self.next_write_at.is_some_and(|t| t <= now) {
            self.write(now);
            self.next_write_at = self.config.writes.next_after(now, &mut self.rng);
        }
        let polling = self.calls.has(Kind::Poll);
        if self.polls() && !polling && self.next_poll_at.is_some_and(|t| t <= now) {
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
                let timeout = self.config.poll_request_timeout_ms;
                if let Some(call) = self.send(now, RequestKind::Poll, route, timeout) {
                    self.calls.track(call, Purpose::Poll);
                }
            }
        }
        let refetching = self.calls.has(Kind::Refetch);
        if self.refetch_needed && !refetching && self.next_refetch_at <= now {
            let route = Route::ListRows {
                org: self.id.org,
                property: self.cache.property,
                lists: self.cache.kinds(),
            };
            let owed = self.refetch_owed_through;
            if let Some(f) = self.send(
                now,
                RequestKind::Refetch,
                route,
                self.config.refetch_request_timeout_ms,
            ) {
                self.calls.track(f, Purpose::Refetch { owed });
            }
        }
        // U3/C10: the aggregates, throttled; one invalidation refetches every stale one.
        if !self.calls.has(Kind::Aggregate) {
            for kind in self.derived.fire(now, &mut self.rng) {
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

    pub fn poll_timeout(&self) -> Option<SimTime> {
        let mut next = [
            self.leader.as_ref().and_then(Leader::poll_timeout),
            self.auth.poll_timeout(),
            self.calls.next_deadline(),
            self.echo_due.values().min().copied(),
        ]
        .into_iter()
        .fold(None, earliest);
        if self.auth.bearer().is_some() {
            if !self.calls.has(Kind::Aggregate) {
                next = earliest(next, self.derived.poll_timeout());
            }
            if !self.calls.has(Kind::Poll) && self.polls() {
                next = earliest(next, self.next_poll_at);
            }
            if self.refetch_needed && !self.calls.has(Kind::Refetch) {
                next = earliest(next, Some(self.next_refetch_at));
            }
            if self.loaded {
                next = earliest(next, self.next_write_at);
            }
            next = earliest(next, self.next_degraded_refetch);
        }
        next
    }

    /// An answer (or a network failure) for request `req`.
    pub fn on_response(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, NetError>,
        env: &mut dyn TabEnv,
    ) {
        self.settle(now, req, result.map_err(|_| Outcome::NetError), env);
        self.handle_timeout(now, env);
    }

    /// The call `req` ended with `result`: hand it to what it was for. A call
    /// no longer in the table was aborted already; its late answer is ignored.
    fn settle(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        match self.calls.purpose_of(req).map(|p| p.kind()) {
            Some(Kind::Poll) => self.on_poll_result(now, req, result, env),
            Some(Kind::Refetch) => self.on_refetch_result(now, req, result, env),
            Some(Kind::Refresh) => self.on_refresh_result(now, req, result, env),
            Some(Kind::Aggregate) => self.on_aggregate_result(now, req, result, env),
            Some(Kind::Write) => self.on_write_result(now, req, result, env),
            Some(Kind::Telemetry) => self.on_telemetry_result(req, result),
            None => {}
        }
    }

    /// Give up every call of `kind` in flight, oldest first.
    fn abort_all(&mut self, kind: Kind) {
        for call in self.calls.take_all(kind) {
            self.abort(call);
        }
    }

    /// Give a call up for the tab's own reasons (it stopped polling, closed, signed out).
    fn abort(&mut self, call: Call) {
        self.out.push_back(TabOutput::Abort { req: call.req });
        self.record_response(call.req, Outcome::Aborted, 0);
    }

    fn record_response(&mut self, req: u64, outcome: Outcome, events: usize) {
        self.observe(Observation::Response {
            tab: self.name.clone(),
            req,
            outcome,
            events,
        });
    }

    fn on_poll_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        let Some((call, _)) = self.calls.remove(req) else {
            return;
        };
        let sent_at = call.sent_at;
        self.auth
            .set_offline(matches!(result, Err(Outcome::NetError | Outcome::Timeout)));
        match result {
            Ok(Response {
                status: 200,
                body: Body::Events(batch),
            }) => {
                self.record_response(req, Outcome::Status(200), batch.events.len());
                self.breaker.on_success();
                self.poll_failures = 0;
                // C5 is for an idle loop. The handshake (no cursor yet) is answered at
                // once by design; backing off after it would hold the page's first
                // events back 2-5 s (O11 found that).
                let handshake = self.cursor.is_none();
                let fast_empty = !handshake
                    && batch.events.is_empty()
                    && now.since(sent_at) < self.config.fast_empty_ms;
                self.on_batch(now, batch, env);
                self.set_stream_live(now, true, env);
                if fast_empty {
                    self.telemetry(now, "fast_empty", "");
                }
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
                self.next_poll_at = Some(now);
                self.telemetry(now, "auth_error", &status.to_string());
                self.refused(now, status, call.epoch, env);
            }
            other => {
                let outcome = outcome_of(&other);
                let network = matches!(outcome, Outcome::NetError | Outcome::Timeout);
                self.record_response(req, outcome, 0);
                self.poll_failures += 1;
                self.set_stream_live(now, false, env);
                if network {
                    self.telemetry(now, "network_error", "0");
                }
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
        self.refetch_periodic = false;
        self.refetch_owed_through = self.refetch_owed_through.max(through);
    }

    fn on_batch(&mut self, now: SimTime, batch: Batch, env: &mut dyn TabEnv) {
        let mut refetch = false;
        // C8: cut off too long, the cache may be far behind; refetch it whole.
        if let Some(last) = self.last_success {
            let silent_ms = now.since(last);
            if silent_ms > self.config.hard_recover_after_ms {
                self.observe(Observation::HardRecover {
                    tab: self.name.clone(),
                    silent_ms,
                });
                refetch = true;
            }
        }
        self.last_success = Some(now);
        let Some(cursor) = self.cursor else {
            // First contact: resume from the server's head. A page not yet loaded
            // loads now, so its snapshot covers everything before the cursor; so do
            // the followers', whose earlier snapshots may predate the head.
            self.cursor = Some(batch.last_event_id);
            if !self.loaded {
                self.owe_refetch(batch.last_event_id);
                self.share(
                    now,
                    batch.last_event_id,
                    batch.last_event_id,
                    true,
                    Vec::new(),
                    env,
                );
            }
            return;
        };
        if self.detects_gap(cursor, &batch) {
            self.observe(Observation::Gap {
                tab: self.name.clone(),
                cursor,
                last_event_id: batch.last_event_id,
                floor: batch.floor,
            });
            refetch = true;
        }
        let last = cursor.max(batch.last_event_id);
        self.cursor = Some(last);
        if refetch {
            self.owe_refetch(last);
        }
        self.share(now, cursor, last, refetch, batch.events.clone(), env);
        self.apply_events(now, batch.events);
    }

    /// L5: a leader shares each batch, and any loss, with the followers of its scope.
    fn share(
        &mut self,
        now: SimTime,
        since: u64,
        cursor: u64,
        refetch: bool,
        events: Vec<Event>,
        env: &mut dyn TabEnv,
    ) {
        if let Some(l) = self.leader.as_ref().filter(|l| l.role() == Role::Leader) {
            let msg = ChannelMessage::Events {
                tab: self.id.tab,
                seq: l.seq(),
                since,
                cursor,
                refetch,
                events,
            };
            let channel = l.channel().to_string();
            env.broadcast(
                now,
                &channel,
                serde_json::to_string(&msg).expect("a batch serialises"),
            );
        }
    }

    /// Apply events to the cache: C3 order, C2 dedup, U1 patch.
    fn apply_events(&mut self, now: SimTime, mut events: Vec<Event>) {
        let delivered = events
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
        if self.realtime == Realtime::Shadow
            && !events.is_empty()
            && !fires(self.mutant, Mutant::ShadowApplies)
        {
            // C13: diagnostics only (`finance-shadow-events`); the page is untouched.
            return self.observe(Observation::ShadowEvents {
                tab: self.name.clone(),
                events: events.len(),
            });
        }
        events.sort_by(application_order);
        for event in &events {
            if let Some(m) = event.mutation {
                self.echo_due.remove(&m);
            }
            // O3 across batches: an event older than one already applied (a late copy
            // from a second source, after a leader change) is skipped; the hole it
            // belongs to was seen as a gap, and the refetch that follows covers it.
            let applied = self
                .applied_through
                .get(&event.org_id)
                .copied()
                .unwrap_or(0);
            if event.sequence < applied {
                continue;
            }
            let fresh = self
                .dedup
                .first_sighting(now, event.org_id, event.dedup_key())
                || fires(self.mutant, Mutant::NoDedup);
            if fresh {
                self.observe(Observation::Applied {
                    tab: self.name.clone(),
                    org: event.org_id,
                    seq: event.sequence,
                    event_id: event.event_id,
                });
                self.cache.apply(event);
                self.list_updated_at = now;
                self.derived.invalidate_for(&event.metadata);
                self.applied_through
                    .insert(event.org_id, event.sequence.max(applied));
            }
        }
    }

    /// A BroadcastChannel message from another tab of the scope.
    pub fn on_message(&mut self, now: SimTime, channel: &str, data: &str, env: &mut dyn TabEnv) {
        if channel == HEALTH_CHANNEL {
            if let (false, Ok(h)) = (self.polls(), serde_json::from_str::<Health>(data)) {
                self.stream_live = h.is_live;
            }
            return self.handle_timeout(now, env);
        }
        if channel == REFRESH_CHANNEL || channel == CONTROL_CHANNEL {
            if let Ok(msg) = serde_json::from_str::<AuthMessage>(data) {
                self.auth.on_message(now, msg, env);
                self.drain_auth(now, env);
            }
            return self.handle_timeout(now, env);
        }
        // Only the scope's own channel, and only while signed in to it.
        let Some(l) = self.leader.as_mut().filter(|l| l.channel() == channel) else {
            return;
        };
        let Ok(msg) = serde_json::from_str::<ChannelMessage>(data) else {
            return;
        };
        l.on_message(now, &msg);
        self.sync_role(now);
        // A tab that polls on its own has its own stream; only followers take the leader's.
        if !self.polls() {
            // What the leader has shared must follow on from what this tab got last;
            // a missed message (the mailbox bus drops past its caps) means a reload.
            let (since, reached) = match &msg {
                ChannelMessage::Events { since, cursor, .. } => (*since, Some(*cursor)),
                ChannelMessage::Heartbeat { cursor, .. } => (cursor.unwrap_or(0), *cursor),
            };
            if self.last_shared.is_some_and(|last| since > last) {
                if let Some(c) = reached {
                    self.owe_refetch(c);
                }
            }
            if let Some(c) = reached {
                self.last_shared = Some(self.last_shared.map_or(c, |l| l.max(c)));
            }
        }
        if let ChannelMessage::Events {
            cursor,
            refetch,
            events,
            ..
        } = msg
        {
            if !self.polls() {
                if refetch {
                    self.owe_refetch(cursor);
                }
                self.apply_events(now, events);
            }
        }
        self.handle_timeout(now, env);
    }

    /// A localStorage write of another tab reached this one.
    pub fn on_storage(
        &mut self,
        now: SimTime,
        key: &str,
        value: Option<&str>,
        env: &mut dyn TabEnv,
    ) {
        if let Some(l) = self.leader.as_mut() {
            l.on_storage(now, key, value, env);
        }
        self.auth.on_storage(now, key, value, env);
        self.drain_auth(now, env);
        self.handle_timeout(now, env);
    }

    /// B3: a lock this tab asked for is now its own.
    pub fn on_lock_granted(&mut self, now: SimTime, name: &str, env: &mut dyn TabEnv) {
        if let Some(l) = self.leader.as_mut() {
            l.on_lock_granted(now, name);
        }
        self.auth.on_lock_granted(now, name, env);
        self.drain_auth(now, env);
        self.handle_timeout(now, env);
    }

    /// The tab closes (cleanly, or `crashed` without a goodbye).
    pub fn close(&mut self, now: SimTime, crashed: bool, env: &mut dyn TabEnv) {
        if let Some(l) = self.leader.as_mut() {
            if crashed {
                l.crash();
            } else {
                l.close(now, env);
            }
        }
        self.sync_role(now);
        for kind in [Kind::Refetch, Kind::Refresh, Kind::Aggregate] {
            self.abort_all(kind);
        }
        self.stop_page_calls();
        self.cache.clear_optimistic();
        self.refetch_needed = false;
    }

    /// C9: a loss below the server's floor, or a hole in the org sequence.
    fn detects_gap(&self, cursor: u64, batch: &Batch) -> bool {
        let hole = batch
            .org_sequences
            .iter()
            .zip(cursor + 1..)
            .any(|(&seq, expected)| seq != expected);
        (hole || batch.floor > cursor) && !fires(self.mutant, Mutant::NoGapDetect)
    }

    /// C7: a 401/403 pauses the tab's calls until its auth machine has a new token.
    fn refused(&mut self, now: SimTime, status: u16, epoch: u64, env: &mut dyn TabEnv) {
        self.observe(Observation::AuthPaused {
            tab: self.name.clone(),
            status,
        });
        self.auth.on_refused(now, epoch, env);
        self.drain_auth(now, env);
    }

    fn on_aggregate_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        let Some((call, Purpose::Aggregate(kind))) = self.calls.remove(req) else {
            return;
        };
        self.record_response(req, outcome_of(&result), 0);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Aggregate { value, as_of_seq },
            }) => {
                self.derived
                    .on_result(kind, Some(Aggregate { value, as_of_seq }));
                self.observe(Observation::AggregateShown {
                    tab: self.name.clone(),
                    aggregate: kind,
                    total_cents: value,
                    as_of_seq,
                });
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.derived.on_result(kind, None);
                self.refused(now, status, call.epoch, env);
            }
            _ => self.derived.on_result(kind, None),
        }
    }

    /// The aggregates the page shows, with their values.
    pub fn aggregates(&self) -> Vec<(AggregateKind, i64)> {
        let shown = self.derived.shown().iter();
        shown.map(|(k, a)| (*k, a.value)).collect()
    }

    fn on_refresh_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        if self.calls.remove(req).is_none() {
            return;
        }
        self.record_response(req, outcome_of(&result), 0);
        let issued = match result {
            Ok(Response {
                status: 200,
                body:
                    Body::Token {
                        token,
                        expires_at_ms,
                        ..
                    },
            }) => Ok((token, SimTime(expires_at_ms))),
            _ => Err(()),
        };
        self.auth.on_refresh_result(now, issued, env);
        self.drain_auth(now, env);
    }

    fn on_refetch_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &mut dyn TabEnv,
    ) {
        let Some((call, Purpose::Refetch { owed })) = self.calls.remove(req) else {
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
                self.list_updated_at = now;
                self.derived.invalidate_all();
                self.loaded = true;
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
                self.refused(now, status, call.epoch, env);
            }
            other => {
                let outcome = outcome_of(&other);
                self.record_response(req, outcome, 0);
                if self.refetch_periodic {
                    // C11's poll failed; its next tick tries again.
                    self.refetch_needed = false;
                } else {
                    self.next_refetch_at = now + self.config.refetch_retry_ms;
                }
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<TabOutput> {
        for c in self.cache.take_changes() {
            self.observe(Observation::ListRow {
                tab: self.name.clone(),
                mutation: c.mutation,
                row: c.row,
                shown: c.shown,
                how: c.how,
            });
        }
        self.out.pop_front()
    }
}

/// How a call ended, as the trace records it.
fn outcome_of(result: &Result<Response, Outcome>) -> Outcome {
    match result {
        Ok(r) => Outcome::Status(r.status),
        Err(o) => o.clone(),
    }
}
