//! `ServerNode`: the unit a driver moves for the server host.

use super::buffer::{BufferConfig, BufferInput, BufferOutput, Buffers, ConnId};
use super::pubsub::{PubSub, PubSubConfig};
use super::store::Store;
use super::stream::{Opening, StreamConfig, StreamInput, StreamOutput, Streams};
use super::tokens::{Issued, RefreshMode, TokenConfig, Tokens};
use crate::event::{Event, EventId, OrgId, Row};
use crate::frames::Frame;
use crate::http::{Body, Request, Response, Route};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::observation::Observation;
use crate::seed::{jitter_ms, rng_for, SimRng};
use crate::time::{earliest, SimTime};
use rand::Rng;
use std::collections::{BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub buffer: BufferConfig,
    pub pubsub: PubSubConfig,
    pub tokens: TokenConfig,
    /// The v2 stream (S11-S15), where the scenario's clients use it; none:
    /// its endpoints are not deployed (404) and it costs v1 runs nothing.
    pub streams: Option<StreamConfig>,
    pub orgs: u32,
    pub properties_per_org: u32,
    /// Domain writes per org per second while the workload runs...
    pub mutations_per_s: f64,
    /// ...each of an entity drawn from these (revenues alone by default).
    pub entities: Vec<crate::event::EntityType>,
    /// The workload stops here (the end of the fault phase), so the settle window is quiet.
    pub workload_until: SimTime,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerInput {
    Request {
        conn: ConnId,
        req: Request,
    },
    /// The client side of `conn` went away.
    Disconnect {
        conn: ConnId,
    },
    /// `count` mutations on `org` at once.
    Burst {
        org: OrgId,
        count: u32,
    },
    /// S10: the realtime process restarts and stays down for `down_ms`.
    Restart {
        down_ms: u64,
    },
    /// The `token_expire` fault: `user`'s access tokens in `org` expire now.
    ExpireTokens {
        org: OrgId,
        user: u32,
    },
    /// The `refresh_fail` / `refresh_slow` faults and their undo.
    SetRefreshMode(RefreshMode),
    /// The `echo_drop` fault: the next tab mutation on `org` is never published.
    DropEcho {
        org: OrgId,
    },
    /// The `mutate_slow` fault (and its undo, 0): writes commit at once but
    /// are answered this late.
    SetWriteDelay {
        ms: u64,
    },
    /// The `stream_down` fault and its undo: subscribe answers 503.
    SetStreamDown(bool),
    /// The client consumed a frame of the stream on `conn`.
    StreamAck {
        conn: ConnId,
    },
    /// The `drop_stream` fault: the server severs every v2 stream of `org` (of every org: none).
    DropStreams {
        org: Option<OrgId>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum ServerOutput {
    Respond {
        conn: ConnId,
        resp: Response,
    },
    /// A frame on the v2 stream `conn`, which stays open.
    Push {
        conn: ConnId,
        frame: Frame,
    },
    /// Sever `conn` without an answer (the process died under it, or it was a stream).
    Close {
        conn: ConnId,
    },
    Observe(Observation),
}

/// Events the server holds (`ServerNode::held`), or the most it held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub v1_buffered: usize,
    pub v2_buffered: usize,
    pub v2_queued: usize,
}

impl Held {
    /// Each figure's peak over `self` and `now`.
    pub fn peak(self, now: Held) -> Held {
        Held {
            v1_buffered: self.v1_buffered.max(now.v1_buffered),
            v2_buffered: self.v2_buffered.max(now.v2_buffered),
            v2_queued: self.v2_queued.max(now.v2_queued),
        }
    }
}

/// ChaCha streams of the server's generator: its own draws use stream 0.
const PUBSUB_STREAM: u64 = 1;
const STREAMS_STREAM: u64 = 2;

pub struct ServerNode {
    config: ServerConfig,
    rng: SimRng,
    store: Store,
    pubsub: PubSub,
    buffers: Buffers,
    streams: Option<Streams>,
    tokens: Tokens,
    /// (due, org) of each org's next domain write.
    next_mutation: BTreeSet<(SimTime, OrgId)>,
    mean_interval_ms: u64,
    down_until: Option<SimTime>,
    refresh_mode: RefreshMode,
    /// Orgs whose next tab mutation loses its publish (`echo_drop`).
    drop_echo: BTreeSet<OrgId>,
    write_delay_ms: u64,
    stream_down: bool,
    /// Answers held back by a slow refresh or write: (due, order) -> (conn, response).
    delayed: std::collections::BTreeMap<(SimTime, u64), (ConnId, Response)>,
    next_delayed: u64,
    mutant: Option<Mutant>,
    out: VecDeque<ServerOutput>,
}

impl ServerNode {
    pub fn new(config: ServerConfig, seed: u64, mutant: Option<Mutant>) -> Self {
        let mut rng = rng_for(seed, "server");
        let mean_interval_ms = if config.mutations_per_s > 0.0 {
            (1000.0 / config.mutations_per_s).round().max(1.0) as u64
        } else {
            0
        };
        let mut next_mutation = BTreeSet::new();
        if mean_interval_ms > 0 {
            for org in 0..config.orgs {
                next_mutation.insert((SimTime(jitter_ms(&mut rng, 0, 2 * mean_interval_ms)), org));
            }
        }
        ServerNode {
            buffers: Buffers::new(config.buffer.clone(), mutant),
            pubsub: PubSub::new(config.pubsub.clone(), {
                let mut r = rng.clone();
                r.set_stream(PUBSUB_STREAM);
                r
            }),
            streams: config.streams.as_ref().map(|c| {
                let mut r = rng.clone();
                r.set_stream(STREAMS_STREAM);
                Streams::new(c.clone(), r, mutant)
            }),
            tokens: Tokens::new(config.tokens.clone(), mutant),
            store: Store::new(),
            rng,
            next_mutation,
            mean_interval_ms,
            down_until: None,
            mutant,
            refresh_mode: RefreshMode::Normal,
            drop_echo: BTreeSet::new(),
            write_delay_ms: 0,
            stream_down: false,
            delayed: Default::default(),
            next_delayed: 0,
            out: VecDeque::new(),
            config,
        }
    }

    fn is_down(&self) -> bool {
        self.down_until.is_some()
    }

    fn on_input(&mut self, now: SimTime, input: ServerInput) {
        self.on_timer(now);
        match input {
            ServerInput::Request { conn, req } => {
                if self.is_down() {
                    self.out.push_back(ServerOutput::Close { conn });
                } else {
                    self.serve(now, conn, req);
                }
            }
            ServerInput::Disconnect { conn } => {
                self.to_streams(now, StreamInput::Close { conn });
                self.to_buffers(now, BufferInput::Cancel { conn })
            }
            ServerInput::StreamAck { conn } => self.to_streams(now, StreamInput::Ack { conn }),
            ServerInput::DropStreams { org } => {
                let conns = self
                    .streams
                    .as_ref()
                    .map(|s| s.conns(org))
                    .unwrap_or_default();
                for conn in conns {
                    self.to_streams(now, StreamInput::Sever { conn });
                }
            }
            ServerInput::Burst { org, count } => {
                for _ in 0..count {
                    self.mutate(now, org);
                }
            }
            ServerInput::Restart { down_ms } => {
                self.out
                    .push_back(ServerOutput::Observe(Observation::ServerDown));
                self.to_buffers(now, BufferInput::Restart);
                self.to_streams(now, StreamInput::Restart);
                // A slow refresh still waiting dies with the process too.
                for (_, (conn, _)) in std::mem::take(&mut self.delayed) {
                    self.out.push_back(ServerOutput::Close { conn });
                }
                self.down_until = Some(now + down_ms);
                self.on_timer(now);
            }
            ServerInput::ExpireTokens { org, user } => {
                let count = self.tokens.expire_user(now, org, user);
                self.out
                    .push_back(ServerOutput::Observe(Observation::TokensExpired {
                        org,
                        user,
                        count,
                    }));
            }
            ServerInput::SetRefreshMode(mode) => self.refresh_mode = mode,
            ServerInput::DropEcho { org } => {
                self.drop_echo.insert(org);
            }
            ServerInput::SetWriteDelay { ms } => self.write_delay_ms = ms,
            ServerInput::SetStreamDown(down) => self.stream_down = down,
        }
        self.drain_buffers();
    }

    fn mutate(&mut self, now: SimTime, org: OrgId) {
        let event = self.store.mutate_random(
            now,
            org,
            self.config.properties_per_org,
            &self.config.entities,
            &mut self.rng,
        );
        self.publish(now, event);
    }

    /// Record a commit and publish its event (unless `echo_drop` takes it).
    fn publish(&mut self, now: SimTime, event: Event) {
        let org = event.org_id;
        self.out
            .push_back(ServerOutput::Observe(Observation::Committed {
                org,
                seq: event.sequence,
                event_id: event.event_id,
                property: event.metadata.property_id,
                entity: event.entity_type,
                action: event.action,
                row: event.metadata.id,
                mutation: event.mutation,
            }));
        // S10: published while the process is down, it has no subscriber to
        // reach; the restarted process subscribes afresh and never gets it.
        if self.is_down() {
            return;
        }
        if let Some(mutation) = event.mutation.filter(|_| self.drop_echo.remove(&org)) {
            self.out
                .push_back(ServerOutput::Observe(Observation::EchoDropped {
                    org,
                    seq: event.sequence,
                    mutation,
                }));
            return;
        }
        self.pubsub.handle(now, event, &());
    }

    /// Answer `conn` now, or as late as a slow-path fault says.
    fn respond_after(&mut self, now: SimTime, conn: ConnId, delay_ms: u64, resp: Response) {
        if delay_ms == 0 {
            return self.respond(conn, resp);
        }
        self.next_delayed += 1;
        self.delayed
            .insert((now + delay_ms, self.next_delayed), (conn, resp));
    }

    /// S8: the retired fake-polling path is gone in production.
    fn legacy(&self) -> Response {
        if fires(self.mutant, Mutant::LegacyPathServed) {
            return Response::new(200, Body::Empty);
        }
        Response::error(410, "gone: use /v1/finance/realtime/subscribe")
    }

    fn serve(&mut self, now: SimTime, conn: ConnId, req: Request) {
        let route = match Route::parse(req.method, &req.path) {
            Ok(r) => r,
            Err(status) => return self.respond(conn, Response::error(status, "bad request line")),
        };
        let bearer = req.bearer.as_deref();
        let verified = |node: &mut Self, org| node.tokens.verify(now, bearer, org);
        let resp = match route {
            Route::LegacySubscribe => self.legacy(),
            Route::Login => self.login(now, req.body),
            Route::Refresh => {
                let (resp, delay) = self.refresh(now, req.body);
                return self.respond_after(now, conn, delay, resp);
            }
            Route::Telemetry => self.telemetry(req.body),
            Route::Mutate { org } => {
                let resp = match verified(self, Some(org)) {
                    Err(status) => Response::error(status, "unauthorized"),
                    Ok(()) => self.tab_write(now, org, req.body),
                };
                return self.respond_after(now, conn, self.write_delay_ms, resp);
            }
            Route::Logout => self.logout(req.body),
            route @ (Route::Stream { .. } | Route::UpdateServices { .. }) => {
                match self.serve_v2(now, conn, bearer, route, req.body) {
                    Some(resp) => resp,
                    None => return,
                }
            }
            route @ (Route::Metrics | Route::ListRows { .. } | Route::Aggregate { .. }) => {
                self.read(now, bearer, route)
            }
            Route::Subscribe {
                org,
                property,
                last_event_id,
            } => match verified(self, Some(org)) {
                Ok(()) if self.stream_down => Response::error(503, "realtime unavailable"),
                Ok(()) => {
                    let head = self.store.head_seq(org);
                    let poll = BufferInput::Subscribe {
                        conn,
                        org,
                        property,
                        cursor: last_event_id,
                        store_head: head,
                    };
                    return self.to_buffers(now, poll);
                }
                Err(status) => Response::error(status, "unauthorized"),
            },
        };
        self.respond(conn, resp);
    }

    /// S11, S14: open a stream or change one in place; `None` once the
    /// stream has the call (it answers, or pushes frames, itself).
    fn serve_v2(
        &mut self,
        now: SimTime,
        conn: ConnId,
        bearer: Option<&str>,
        route: Route,
        body: Body,
    ) -> Option<Response> {
        let resp = match route {
            Route::Stream {
                org,
                services,
                property,
                resume,
            } => {
                let opening = |user| Opening {
                    conn,
                    org,
                    user,
                    services,
                    property,
                    resume,
                    as_of: self.store.head_seq(org),
                };
                match self.v2_caller(now, bearer, org) {
                    Ok(_) if self.stream_down => Response::error(503, "realtime unavailable"),
                    Ok(user) => {
                        self.to_streams(now, StreamInput::Open(opening(user)));
                        return None;
                    }
                    Err(resp) => resp,
                }
            }
            Route::UpdateServices { org } => match (self.v2_caller(now, bearer, org), body) {
                (Err(resp), _) => resp,
                (
                    Ok(user),
                    Body::Services {
                        client,
                        services,
                        property,
                    },
                ) => {
                    let update = StreamInput::UpdateServices {
                        req: conn,
                        org,
                        user,
                        client,
                        services,
                        property,
                        as_of: self.store.head_seq(org),
                    };
                    self.to_streams(now, update);
                    return None;
                }
                _ => Response::error(400, "update-services needs a service set"),
            },
            _ => Response::error(404, "not a v2 route"),
        };
        Some(resp)
    }

    /// The reads: the metrics (S7), a page's lists, an aggregate.
    fn read(&self, now: SimTime, bearer: Option<&str>, route: Route) -> Response {
        match route {
            Route::Metrics => match self.tokens.verify(now, bearer, None) {
                Ok(()) => Response::new(200, Body::Metrics(Box::new(self.metrics()))),
                Err(status) => Response::error(status, "unauthorized"),
            },
            Route::ListRows {
                org,
                property,
                lists,
            } => match self.tokens.verify(now, bearer, Some(org)) {
                Ok(()) => {
                    let mut rows = self.store.rows(org, property);
                    rows.retain(|r| lists.iter().any(|l| l.entity() == r.entity_type));
                    let as_of_seq = self.store.head_seq(org);
                    Response::new(200, Body::Rows { rows, as_of_seq })
                }
                Err(status) => Response::error(status, "unauthorized"),
            },
            Route::Aggregate {
                org,
                property,
                kind,
            } => match self.tokens.verify(now, bearer, Some(org)) {
                Ok(()) => Response::new(
                    200,
                    Body::Aggregate {
                        value: self.store.aggregate(org, property, kind),
                        as_of_seq: self.store.head_seq(org),
                    },
                ),
                Err(status) => Response::error(status, "unauthorized"),
            },
            _ => Response::error(404, "not a read"),
        }
    }

    /// S11, S14: the user a v2 call is from, or the answer that refuses it
    /// (no stream deployed here, or the bearer may not act for `org`).
    fn v2_caller(&self, now: SimTime, bearer: Option<&str>, org: OrgId) -> Result<u32, Response> {
        if self.streams.is_none() {
            return Err(Response::error(404, "no v2 stream here"));
        }
        self.tokens
            .verify(now, bearer, Some(org))
            .map_err(|status| Response::error(status, "unauthorized"))?;
        // A verified bearer has a holder; a token without one is refused alike.
        let (_, user) = self
            .tokens
            .holder(bearer)
            .ok_or_else(|| Response::error(401, "unauthorized"))?;
        Ok(user)
    }

    fn login(&mut self, now: SimTime, body: Body) -> Response {
        match body {
            Body::Login { org_id, user_id } if org_id < self.config.orgs => {
                let issued = self.tokens.login(now, org_id, user_id, &mut self.rng);
                self.issued(org_id, user_id, "login", issued)
            }
            _ => Response::error(400, "login needs an existing org"),
        }
    }

    /// S9: a refresh, and how late the `refresh_slow` fault answers it.
    fn refresh(&mut self, now: SimTime, body: Body) -> (Response, u64) {
        let Body::RefreshToken { refresh_token } = body else {
            return (Response::error(400, "refresh needs a refresh token"), 0);
        };
        let resp = match self.refresh_mode {
            RefreshMode::Fail => Response::error(503, "token service unavailable"),
            _ => match self.tokens.refresh(now, &refresh_token, &mut self.rng) {
                Ok(issued) => {
                    let (org, user) = self
                        .tokens
                        .owner(issued.session)
                        .expect("a session that just refreshed is live");
                    self.issued(org, user, "refresh", issued)
                }
                Err(status) => Response::error(status, "session gone"),
            },
        };
        let delay = match self.refresh_mode {
            RefreshMode::Slow => self.config.tokens.refresh_slow_ms,
            _ => 0,
        };
        (resp, delay)
    }

    /// C14: the server witnesses whether a payload carries a token it issued.
    fn telemetry(&mut self, body: Body) -> Response {
        match body {
            Body::Telemetry { payload } => {
                let leaks_token = self.tokens.mentions_a_token(&payload);
                self.out
                    .push_back(ServerOutput::Observe(Observation::Telemetry {
                        payload,
                        leaks_token,
                    }));
                Response::new(204, Body::Empty)
            }
            _ => Response::error(400, "telemetry needs a payload"),
        }
    }

    /// U2: an authorised write commits and is published.
    fn tab_write(&mut self, now: SimTime, org: OrgId, body: Body) -> Response {
        let Body::Mutation(m) = body else {
            return Response::error(400, "a write needs a mutation body");
        };
        let id = EventId(self.rng.gen());
        match self.store.mutate(now, org, &m, id) {
            Ok(event) => {
                self.publish(now, event.clone());
                Response::new(200, Body::Committed(Box::new(event)))
            }
            Err(why) => Response::error(409, why),
        }
    }

    fn logout(&mut self, body: Body) -> Response {
        let Body::RefreshToken { refresh_token } = body else {
            return Response::error(400, "logout needs a refresh token");
        };
        if let Some((org, user, session)) = self.tokens.logout(&refresh_token) {
            self.out
                .push_back(ServerOutput::Observe(Observation::SessionRevoked {
                    org,
                    user,
                    session,
                }));
        }
        // Idempotent: a session already gone is logged out all the same.
        Response::new(200, Body::Empty)
    }

    /// Record a token issue and build its answer.
    fn issued(&mut self, org: OrgId, user: u32, via: &str, issued: Issued) -> Response {
        self.out
            .push_back(ServerOutput::Observe(Observation::TokenIssued {
                org,
                user,
                session: issued.session,
                via: via.to_string(),
                expires_at: issued.expires_at,
            }));
        Response::new(
            200,
            Body::Token {
                session: issued.session,
                token: issued.token,
                refresh_token: issued.refresh_token,
                expires_at_ms: issued.expires_at.as_ms(),
            },
        )
    }

    fn respond(&mut self, conn: ConnId, resp: Response) {
        self.out.push_back(ServerOutput::Respond { conn, resp });
    }

    /// Hand the buffers an input, then carry out what they ask.
    fn to_buffers(&mut self, now: SimTime, input: BufferInput) {
        self.buffers.handle(now, input, &());
        self.drain_buffers();
    }

    /// Hand the v2 stream an input (where it is deployed), then carry out what it asks.
    fn to_streams(&mut self, now: SimTime, input: StreamInput) {
        if let Some(s) = self.streams.as_mut() {
            s.handle(now, input, &());
        }
        self.drain_streams();
    }

    fn drain_streams(&mut self) {
        let Some(streams) = self.streams.as_mut() else {
            return;
        };
        while let Some(o) = streams.poll_output() {
            self.out.push_back(match o {
                StreamOutput::Push { conn, frame } => ServerOutput::Push { conn, frame },
                StreamOutput::Close { conn, .. } => ServerOutput::Close { conn },
                StreamOutput::Updated { req, connections } => ServerOutput::Respond {
                    conn: req,
                    resp: Response::new(200, Body::Updated { connections }),
                },
                StreamOutput::Observe(obs) => ServerOutput::Observe(obs),
            });
        }
    }

    fn drain_buffers(&mut self) {
        while let Some(o) = self.buffers.poll_output() {
            self.out.push_back(match o {
                BufferOutput::Respond { conn, batch } => ServerOutput::Respond {
                    conn,
                    resp: Response::new(200, Body::Events(batch)),
                },
                BufferOutput::Close { conn } => ServerOutput::Close { conn },
                BufferOutput::Observe(obs) => ServerOutput::Observe(obs),
            });
        }
    }

    fn on_timer(&mut self, now: SimTime) {
        if self.down_until.is_some_and(|t| t <= now) {
            self.down_until = None;
            self.out
                .push_back(ServerOutput::Observe(Observation::ServerUp));
        }
        // Domain writes due now, org by org in id order.
        while let Some(&(due, org)) = self.next_mutation.first() {
            if due > now || due >= self.config.workload_until {
                break;
            }
            self.next_mutation.pop_first();
            self.mutate(due, org);
            let next = due + jitter_ms(&mut self.rng, 1, 2 * self.mean_interval_ms);
            self.next_mutation.insert((next, org));
        }
        self.pubsub.handle_timeout(now, &());
        while let Some((event, redelivery)) = self.pubsub.poll_output() {
            // S10: what reaches a process that is down is gone.
            if !self.is_down() {
                if let Some(s) = self.streams.as_mut() {
                    let event = event.clone();
                    s.handle(now, StreamInput::Publish { event }, &());
                }
                let arrived = BufferInput::Event { event, redelivery };
                self.buffers.handle(now, arrived, &());
            }
        }
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (conn, resp) = entry.remove();
            self.respond(conn, resp);
        }
        self.buffers.handle_timeout(now, &());
        self.drain_buffers();
        if let Some(s) = self.streams.as_mut() {
            s.handle_timeout(now, &());
        }
        self.drain_streams();
    }

    fn next_timer(&self) -> Option<SimTime> {
        let workload = self
            .next_mutation
            .first()
            .map(|(t, _)| *t)
            .filter(|t| *t < self.config.workload_until);
        [
            workload,
            self.pubsub.poll_timeout(),
            self.buffers.poll_timeout(),
            self.streams.as_ref().and_then(Streams::poll_timeout),
            self.down_until,
            self.delayed.keys().next().map(|(t, _)| *t),
        ]
        .into_iter()
        .fold(None, earliest)
    }

    /// The ground truth for the convergence check.
    pub fn store_rows(&self) -> Vec<(OrgId, Vec<Row>)> {
        self.store
            .orgs()
            .map(|o| (o, self.store.rows(o, None)))
            .collect()
    }

    pub fn buffered(&self) -> Vec<(OrgId, usize)> {
        self.buffers.buffered()
    }

    /// S7: the buffers' metrics, and the stream's where it is deployed.
    fn metrics(&self) -> crate::http::BufferMetrics {
        let mut m = self.buffers.metrics();
        if let Some(s) = &self.streams {
            let v2 = s.metrics();
            let stale = fires(self.mutant, Mutant::MetricsWindowStale);
            m.batch_window_ms = v2
                .current_batch_window_ms
                .iter()
                // The bug: the configured floor, whatever the window is now.
                .map(|(&(org, service), &ms)| {
                    (org, service, if stale { s.window_floor_ms() } else { ms })
                })
                .collect();
            m.delivered_by_service = v2.delivered_by_service;
            m.suppressed_by_service = v2.suppressed_by_service;
        }
        m
    }

    /// The server's memory in events: v1's per-org buffers, v2's replay
    /// buffers and send queues.
    pub fn held(&self) -> Held {
        let (queued, buffered) = self.streams.as_ref().map_or((0, 0), Streams::held);
        Held {
            v1_buffered: self.buffers.buffered().iter().map(|(_, n)| n).sum(),
            v2_buffered: buffered,
            v2_queued: queued,
        }
    }
}

impl Machine for ServerNode {
    type Input = ServerInput;
    type Output = ServerOutput;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: ServerInput, _: &()) {
        self.on_input(now, input)
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.on_timer(now)
    }

    fn poll_output(&mut self) -> Option<ServerOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.next_timer()
    }
}
