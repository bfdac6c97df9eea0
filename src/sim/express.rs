//! The express driver: the same `ServerNode` and `BrowserNode`, moved by a
//! deterministic queue of deliveries and deadlines that jumps straight from
//! one to the next. Nothing advances while nothing is due, so a 25 s long-poll
//! costs two queue operations instead of 25,000 turmoil ticks.
//!
//! The network model reproduces what the scenarios use under turmoil, with
//! turmoil's semantics: a connect across a cut link fails at once (turmoil
//! drops the SYN, which drops its handshake channel); a message sent while its
//! direction is cut is lost, so the request times out; latency is seeded and
//! uniform in `[min_latency_ms, max_latency_ms]` per message, or fixed while a
//! `latency` fault holds.

use super::nemesis::{BrowserKey, Nemesis, World};
use super::Finished;
use crate::browser::{BrowserInput, BrowserNode, BrowserOutput};
use crate::client::NetError;
use crate::frames::Frame;
use crate::http::{Request, Response};
use crate::machine::Machine;
use crate::mutant::Mutant;
use crate::observation::{History, Observation};
use crate::scenario::{Direction, Scenario};
use crate::seed::{jitter_ms, rng_for, SimRng};
use crate::server::{Held, ServerInput, ServerNode, ServerOutput};
use crate::time::SimTime;
use rustc_hash::FxHashMap; // determinism-ok: the connection tables, walked only sorted
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Node {
    Server,
    Browser(usize),
}

#[derive(Debug)]
enum Delivery {
    /// A request reaches the server on a fresh connection.
    ToServer { conn: u64, request: Request },
    /// The browser side of `conn` closed (abort or reset).
    ClientGone { conn: u64 },
    /// A frame of the v2 stream on `req` reaches a browser.
    Frame {
        browser: usize,
        req: u64,
        frame: Frame,
    },
    /// A browser's acknowledgement of a frame reaches the server.
    Ack { conn: u64 },
    /// An answer, or a failure, reaches a browser.
    ToBrowser {
        browser: usize,
        req: u64,
        result: Result<Response, NetError>,
    },
}

/// A v2 stream's two directions. TCP keeps each in order; a frame lost to
/// a cut (turmoil drops the segment) stalls that direction for good, as a
/// byte stream with a hole delivers nothing after it.
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    down: Lane,
    up: Lane,
}

/// One direction of a stream: when its last message arrives, and whether a
/// cut stalled it.
#[derive(Clone, Copy, Debug, Default)]
struct Lane {
    at: SimTime,
    stalled: bool,
}

impl Lane {
    /// When a message sent now, taking at least until `earliest`, arrives
    /// behind the ones before it; none once the lane is cut (`cut`) or stalled.
    fn next(&mut self, earliest: SimTime, cut: bool) -> Option<SimTime> {
        self.stalled |= cut;
        if self.stalled {
            return None;
        }
        self.at = self.at.max(earliest);
        Some(self.at)
    }
}

/// The deliveries in flight, earliest first and, at one instant, in the
/// order they were sent. The heap orders small keys and the deliveries wait
/// in a slab, so neither a push nor a pop moves or allocates a delivery (in
/// an ordered map keyed by time, each insert and remove shifted its
/// neighbours' deliveries within a node).
#[derive(Default)]
struct InFlight {
    /// (arrival, send order, slot): the first two are unique, so the slot
    /// never decides the order.
    order: BinaryHeap<Reverse<(SimTime, u64, usize)>>,
    slots: Vec<Option<Delivery>>,
    free: Vec<usize>,
    sent: u64,
}

impl InFlight {
    fn push(&mut self, at: SimTime, d: Delivery) {
        self.sent += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(d);
                slot
            }
            None => {
                self.slots.push(Some(d));
                self.slots.len() - 1
            }
        };
        self.order.push(Reverse((at, self.sent, slot)));
    }

    fn next_at(&self) -> Option<SimTime> {
        self.order.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The earliest delivery and its place in the send order.
    fn pop(&mut self) -> Option<(u64, Delivery)> {
        let Reverse((_, sent, slot)) = self.order.pop()?;
        self.free.push(slot);
        let d = self.slots[slot]
            .take()
            .expect("a queued slot holds its delivery");
        Some((sent, d))
    }
}

/// Per-browser link to the server.
#[derive(Clone, Debug, Default)]
struct Link {
    to_server_cut: u32,
    from_server_cut: u32,
    fixed_latency_ms: Option<u64>,
}

struct Express<'a> {
    scenario: &'a Scenario,
    now: SimTime,
    server: ServerNode,
    browsers: Vec<BrowserNode>,
    index: BTreeMap<(u32, u32), usize>,
    links: Vec<Link>,
    net_rng: SimRng,
    queue: InFlight,
    timers: super::Deadlines<Node>,
    next_conn: u64,
    /// Open connections: conn -> (browser, browser request id), and back.
    /// Found by hash: a tree of every open connection took a walk of misses
    /// per lookup at 50,000 tabs. The one walk, `reset_connections`, sorts.
    conns: FxHashMap<u64, (usize, u64)>, // determinism-ok: walked only sorted
    conn_of: FxHashMap<(usize, u64), u64>, // determinism-ok: probed by key, never walked
    /// The open v2 streams among them (v1's one-answer connections have none).
    flows: FxHashMap<u64, Flow>, // determinism-ok: probed by key, never walked
    history: History,
}

impl<'a> Express<'a> {
    fn new(scenario: &'a Scenario, seed: u64, mutant: Option<Mutant>, history: History) -> Self {
        let mut browsers = Vec::new();
        let mut index = BTreeMap::new();
        for org in 0..scenario.topology.orgs {
            for b in 0..scenario.topology.browsers_per_org {
                index.insert((org, b), browsers.len());
                browsers.push(BrowserNode::new(
                    scenario.browser_config(org, b),
                    seed,
                    mutant,
                ));
            }
        }
        Express {
            scenario,
            now: SimTime::ZERO,
            server: ServerNode::new(scenario.server_config(), seed, mutant),
            links: vec![Link::default(); browsers.len()],
            browsers,
            index,
            net_rng: rng_for(seed, "express-network"),
            queue: InFlight::default(),
            timers: super::Deadlines::default(),
            next_conn: 0,
            conns: FxHashMap::default(), // determinism-ok: walked only sorted
            conn_of: FxHashMap::default(), // determinism-ok: probed by key, never walked
            flows: FxHashMap::default(), // determinism-ok: probed by key, never walked
            history,
        }
    }

    fn latency(&mut self, browser: usize) -> u64 {
        match self.links[browser].fixed_latency_ms {
            Some(ms) => ms,
            None => {
                let net = &self.scenario.config.net;
                jitter_ms(&mut self.net_rng, net.min_latency_ms, net.max_latency_ms)
            }
        }
    }

    fn deliver_after(&mut self, ms: u64, d: Delivery) {
        self.deliver_at(self.now + ms, d);
    }

    fn deliver_at(&mut self, at: SimTime, d: Delivery) {
        self.queue.push(at, d);
    }

    /// A frame on the stream `conn`, in order behind the ones before it.
    fn push(&mut self, conn: u64, frame: Frame) {
        let Some(&(browser, req)) = self.conns.get(&conn) else {
            return;
        };
        let ms = self.latency(browser);
        let cut = self.links[browser].from_server_cut > 0;
        let earliest = self.now + ms;
        let Some(at) = self.flows.entry(conn).or_default().down.next(earliest, cut) else {
            return;
        };
        self.deliver_at(
            at,
            Delivery::Frame {
                browser,
                req,
                frame,
            },
        );
    }

    /// A browser's acknowledgement on the stream of its request `req`.
    fn ack(&mut self, browser: usize, req: u64) {
        let Some(&conn) = self.conn_of.get(&(browser, req)) else {
            return;
        };
        let ms = self.latency(browser);
        let cut = self.links[browser].to_server_cut > 0;
        let earliest = self.now + ms;
        if let Some(at) = self.flows.entry(conn).or_default().up.next(earliest, cut) {
            self.deliver_at(at, Delivery::Ack { conn });
        }
    }

    fn reschedule(&mut self, node: Node) {
        let next = match node {
            Node::Server => self.server.poll_timeout(),
            Node::Browser(i) => self.browsers[i].poll_timeout(),
        };
        self.timers.set(node, next.map(|t| t.max(self.now)));
    }

    fn server_input(&mut self, input: ServerInput) {
        self.server.handle(self.now, input, &());
        self.drain_server();
    }

    fn drain_server(&mut self) {
        while let Some(out) = self.server.poll_output() {
            match out {
                ServerOutput::Respond { conn, resp } => self.close_conn(conn, Ok(resp)),
                ServerOutput::Push { conn, frame } => self.push(conn, frame),
                ServerOutput::Close { conn } => self.close_conn(conn, Err(NetError::Reset)),
                ServerOutput::Observe(obs) => self.history.record(self.now, obs),
            }
        }
        self.reschedule(Node::Server);
    }

    /// The server finishes `conn` with an answer or a reset; it travels back unless the way back is cut.
    fn close_conn(&mut self, conn: u64, result: Result<Response, NetError>) {
        let Some((browser, req)) = self.conns.remove(&conn) else {
            return;
        };
        self.conn_of.remove(&(browser, req));
        let flow = self.flows.remove(&conn);
        if self.links[browser].from_server_cut == 0 && !flow.is_some_and(|f| f.down.stalled) {
            let ms = self.latency(browser);
            // A stream's end follows its last frame.
            let at = flow.map_or(self.now + ms, |f| f.down.at.max(self.now + ms));
            let d = Delivery::ToBrowser {
                browser,
                req,
                result,
            };
            self.deliver_at(at, d);
        }
    }

    fn browser_input(&mut self, browser: usize, input: Option<BrowserInput>) {
        match input {
            Some(i) => self.browsers[browser].handle(self.now, i, &()),
            None => self.browsers[browser].handle_timeout(self.now, &()),
        }
        while let Some(out) = self.browsers[browser].poll_output() {
            match out {
                BrowserOutput::Send { req, request } => {
                    if self.links[browser].to_server_cut > 0 {
                        // turmoil drops the SYN and with it the handshake: refused at once.
                        self.deliver_after(
                            0,
                            Delivery::ToBrowser {
                                browser,
                                req,
                                result: Err(NetError::Refused),
                            },
                        );
                        continue;
                    }
                    self.next_conn += 1;
                    let conn = self.next_conn;
                    self.conns.insert(conn, (browser, req));
                    self.conn_of.insert((browser, req), conn);
                    let ms = self.latency(browser);
                    self.deliver_after(ms, Delivery::ToServer { conn, request });
                }
                BrowserOutput::Ack { req } => self.ack(browser, req),
                BrowserOutput::Abort { req } => {
                    if let Some(conn) = self.conn_of.remove(&(browser, req)) {
                        self.conns.remove(&conn);
                        self.flows.remove(&conn);
                        if self.links[browser].to_server_cut == 0 {
                            let ms = self.latency(browser);
                            self.deliver_after(ms, Delivery::ClientGone { conn });
                        }
                    }
                }
                BrowserOutput::Observe(obs) => self.history.record(self.now, obs),
            }
        }
        self.reschedule(Node::Browser(browser));
    }

    fn deliver(&mut self, d: Delivery) {
        match d {
            Delivery::ToServer { conn, request } => {
                if self.conns.contains_key(&conn) {
                    self.server_input(ServerInput::Request { conn, req: request });
                }
            }
            Delivery::ClientGone { conn } => self.server_input(ServerInput::Disconnect { conn }),
            Delivery::Ack { conn } => {
                if self.conns.contains_key(&conn) {
                    self.server_input(ServerInput::StreamAck { conn });
                }
            }
            Delivery::Frame {
                browser,
                req,
                frame,
            } => self.browser_input(browser, Some(BrowserInput::Frame { req, frame })),
            Delivery::ToBrowser {
                browser,
                req,
                result,
            } => self.browser_input(browser, Some(BrowserInput::Response { req, result })),
        }
    }

    fn run(mut self, seed: u64) -> Finished {
        let end = self.scenario.end();
        let mut nemesis = Nemesis::new(self.scenario, seed);
        self.reschedule(Node::Server);
        for i in 0..self.browsers.len() {
            self.browser_input(i, None);
        }
        // A machine whose timer stays due without acting would spin here forever.
        const MAX_STEPS_AT_ONE_INSTANT: u64 = 10_000_000;
        let mut steps_now = (SimTime::ZERO, 0u64);
        let mut dispatched = super::Dispatched::default();
        let (mut peak_held, mut next_sample) = (Held::default(), SimTime::ZERO);
        loop {
            let next_action = nemesis.next_at();
            let next_delivery = self.queue.next_at();
            let next_timer = self.timers.first().map(|(t, _)| t);
            let Some(t) = [next_action, next_delivery, next_timer]
                .into_iter()
                .flatten()
                .min()
            else {
                break;
            };
            if t >= end && next_action.is_none_or(|a| a > t) {
                break;
            }
            if t >= next_sample {
                // What the server held as the last instant ended, once a second.
                peak_held = peak_held.peak(self.server.held());
                next_sample = SimTime((t.as_ms() / 1_000 + 1) * 1_000);
            }
            self.now = t;
            crate::log::set_now(t);
            steps_now = if steps_now.0 == t {
                (t, steps_now.1 + 1)
            } else {
                (t, 1)
            };
            assert!(
                steps_now.1 < MAX_STEPS_AT_ONE_INSTANT,
                "livelock: simulated time stuck at {t} ({} seed {seed}): a machine's timer is due but does nothing",
                self.scenario.name
            );
            // At one instant: the nemesis first, then what the network delivers, then deadlines.
            if next_action == Some(t) {
                tracing::trace!("express: nemesis acts");
                dispatched.actions += 1;
                nemesis.act_due(t, &mut self);
            } else if next_delivery == Some(t) {
                let (sent, d) = self.queue.pop().expect("a delivery is due");
                tracing::trace!(delivery = sent, "express: deliver");
                dispatched.deliveries += 1;
                self.deliver(d);
            } else {
                let node = self.timers.pop_due(t).expect("a timer is due");
                tracing::trace!(?node, "express: timer due");
                dispatched.deadlines += 1;
                match node {
                    Node::Server => {
                        self.server.handle_timeout(t, &());
                        self.drain_server();
                    }
                    Node::Browser(i) => self.browser_input(i, None),
                }
            }
        }
        self.now = end;
        Finished {
            last: super::final_state(&self.server, std::mem::take(&mut self.browsers)),
            history: self.history,
            dispatched,
            peak_held,
        }
    }

    /// The browser indices of these keys.
    fn indices(&self, keys: &[BrowserKey]) -> Vec<usize> {
        keys.iter().map(|k| self.index[k]).collect()
    }
}

/// A cut or a repair of one direction: cuts nest, so overlapping faults undo one by one.
fn step_cut(count: &mut u32, cut: bool) {
    if cut {
        *count += 1
    } else {
        *count = count.saturating_sub(1)
    }
}

impl World for Express<'_> {
    fn record(&mut self, t: SimTime, obs: Observation) {
        self.history.record(t, obs);
    }

    fn partition(&mut self, browsers: &[BrowserKey], cut: bool) {
        for b in self.indices(browsers) {
            step_cut(&mut self.links[b].to_server_cut, cut);
            step_cut(&mut self.links[b].from_server_cut, cut);
        }
    }

    fn partition_oneway(&mut self, browsers: &[BrowserKey], direction: Direction, cut: bool) {
        for b in self.indices(browsers) {
            let link = &mut self.links[b];
            match direction {
                Direction::ToServer => step_cut(&mut link.to_server_cut, cut),
                Direction::FromServer => step_cut(&mut link.from_server_cut, cut),
            }
        }
    }

    fn set_latency(&mut self, browsers: &[BrowserKey], ms: Option<u64>) {
        for b in self.indices(browsers) {
            self.links[b].fixed_latency_ms = ms;
        }
    }

    fn reset_connections(&mut self, browsers: Option<&[BrowserKey]>) {
        let only = browsers.map(|keys| self.indices(keys));
        // In connection order, as they were opened.
        let mut open: Vec<(u64, (usize, u64))> = self.conns.iter().map(|(c, v)| (*c, *v)).collect();
        open.sort_unstable_by_key(|(conn, _)| *conn);
        for (conn, (browser, req)) in open {
            if only.as_ref().is_some_and(|o| !o.contains(&browser)) {
                continue;
            }
            self.conns.remove(&conn);
            self.conn_of.remove(&(browser, req));
            self.flows.remove(&conn);
            self.server_input(ServerInput::Disconnect { conn });
            let result = Err(NetError::Reset);
            self.browser_input(browser, Some(BrowserInput::Response { req, result }));
        }
    }

    fn server_input(&mut self, input: ServerInput) {
        Express::server_input(self, input);
    }

    fn browser_input(&mut self, browser: BrowserKey, input: BrowserInput) {
        let i = self.index[&browser];
        Express::browser_input(self, i, Some(input));
    }
}

/// Run `scenario` at `seed`, recording into `history`.
pub fn run(scenario: &Scenario, seed: u64, mutant: Option<Mutant>, history: History) -> Finished {
    Express::new(scenario, seed, mutant, history).run(seed)
}
