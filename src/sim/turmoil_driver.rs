//! The turmoil driver: a `server` host runs the `ServerNode`, one host per
//! browser runs its `BrowserNode`, requests travel as frames on turmoil TCP,
//! and the nemesis partitions, slows and resets turmoil's links between steps.
//!
//! Determinism: turmoil's `rng_seed` is the run seed, the epoch is fixed,
//! every `select!` is `biased;`, nodes see only sim time, and node state is
//! shared through `Rc<RefCell<_>>` on turmoil's single thread.

use super::nemesis::{BrowserKey, Nemesis, World};
use super::wire::{is_stream, read_frame, write_frame, StreamAck, StreamWire};
use super::Finished;
use crate::browser::{BrowserInput, BrowserNode, BrowserOutput};
use crate::client::NetError;
use crate::frames::Frame;
use crate::http::{Request, Response};
use crate::machine::Machine;
use crate::mutant::Mutant;
use crate::observation::{History, Observation};
use crate::scenario::{Direction, Scenario};
use crate::server::{ServerInput, ServerNode, ServerOutput};
use crate::time::SimTime;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::AbortHandle;
use turmoil::net::{TcpListener, TcpStream};

const PORT: u16 = 8080;

fn now() -> SimTime {
    let t = SimTime(turmoil::elapsed().as_millis() as u64);
    crate::log::set_now(t);
    t
}

/// The turmoil host of a browser: its own (`org0-browser1`), or with
/// `crowd_hosts = N` one of N crowds (`crowd3`) that run many browsers each.
fn host_name(scenario: &Scenario, org: u32, browser: u32) -> String {
    match scenario.config.crowd_hosts {
        0 => format!("org{org}-browser{browser}"),
        n => format!(
            "crowd{}",
            (org as u64 * scenario.topology.browsers_per_org as u64 + browser as u64) % n
        ),
    }
}

/// A command from the nemesis to a host, applied on the host's own task.
#[derive(Clone, Debug)]
enum Control {
    Server(ServerInput),
    ResetConnections,
    /// An input for one browser of a crowd host.
    Browser {
        key: (u32, u32),
        input: BrowserInput,
    },
}

/// A mailbox the nemesis fills between steps and the host drains.
#[derive(Default)]
struct Mailbox {
    queue: RefCell<VecDeque<Control>>,
    notify: Notify,
}

impl Mailbox {
    fn post(&self, c: Control) {
        self.queue.borrow_mut().push_back(c);
        self.notify.notify_one();
    }
    fn take(&self) -> Vec<Control> {
        self.queue.borrow_mut().drain(..).collect()
    }
}

type Shared<T> = Rc<RefCell<T>>;

/// A browser in a crowd host: its (org, browser) and its node.
type CrowdMember = ((u32, u32), Shared<BrowserNode>);

async fn sleep_until_deadline(deadline: Option<SimTime>) {
    match deadline {
        Some(d) => tokio::time::sleep(Duration::from_millis(d.since(now()))).await,
        None => std::future::pending::<()>().await,
    }
}

/// What a server connection task hands the main loop.
enum ServerEvent {
    Request {
        conn: u64,
        req: Request,
        reply: oneshot::Sender<Response>,
    },
    /// A v2 stream opened: what the node pushes on it goes to `push`.
    Stream {
        conn: u64,
        req: Request,
        push: mpsc::UnboundedSender<StreamWire>,
    },
    /// The client consumed a frame of the stream `conn`.
    Ack {
        conn: u64,
    },
    Gone {
        conn: u64,
    },
}

/// The server host's open connections: calls waiting for their answer, v2
/// streams it pushes frames on, and each connection's task.
#[derive(Default)]
struct Connections {
    replies: BTreeMap<u64, oneshot::Sender<Response>>,
    pushes: BTreeMap<u64, mpsc::UnboundedSender<StreamWire>>,
    tasks: BTreeMap<u64, AbortHandle>,
}

impl Connections {
    /// Carry one of the node's outputs out: an answer to its connection, a
    /// frame down its stream, an observation to the history.
    fn carry(&mut self, out: ServerOutput, history: &Shared<History>) {
        match out {
            ServerOutput::Respond { conn, resp } => {
                if let Some(reply) = self.replies.remove(&conn) {
                    let _ = reply.send(resp);
                } else if let Some(push) = self.pushes.remove(&conn) {
                    let _ = push.send(StreamWire::Answer(resp));
                }
            }
            ServerOutput::Push { conn, frame } => {
                if let Some(push) = self.pushes.get(&conn) {
                    let _ = push.send(StreamWire::Frame(frame));
                }
            }
            ServerOutput::Close { conn } => {
                self.replies.remove(&conn);
                self.pushes.remove(&conn);
                if let Some(h) = self.tasks.remove(&conn) {
                    h.abort();
                }
            }
            ServerOutput::Observe(obs) => history.borrow_mut().record(now(), obs),
        }
    }

    /// Hand the node what reached the host from a connection.
    fn on_event(&mut self, ev: ServerEvent, node: &Shared<ServerNode>) {
        match ev {
            ServerEvent::Request { conn, req, reply } => {
                self.replies.insert(conn, reply);
                node.borrow_mut()
                    .handle(now(), ServerInput::Request { conn, req }, &());
            }
            ServerEvent::Stream { conn, req, push } => {
                self.pushes.insert(conn, push);
                node.borrow_mut()
                    .handle(now(), ServerInput::Request { conn, req }, &());
            }
            ServerEvent::Ack { conn } => {
                if self.pushes.contains_key(&conn) {
                    node.borrow_mut()
                        .handle(now(), ServerInput::StreamAck { conn }, &());
                }
            }
            ServerEvent::Gone { conn } => {
                self.tasks.remove(&conn);
                if self.replies.remove(&conn).is_some() || self.pushes.remove(&conn).is_some() {
                    node.borrow_mut()
                        .handle(now(), ServerInput::Disconnect { conn }, &());
                }
            }
        }
    }

    /// The `reset_connections` fault: every open connection is cut.
    fn reset(&mut self, node: &Shared<ServerNode>) {
        for (conn, h) in std::mem::take(&mut self.tasks) {
            h.abort();
            self.replies.remove(&conn);
            self.pushes.remove(&conn);
            node.borrow_mut()
                .handle(now(), ServerInput::Disconnect { conn }, &());
        }
    }
}

async fn server_host(
    node: Shared<ServerNode>,
    history: Shared<History>,
    mailbox: Rc<Mailbox>,
) -> turmoil::Result {
    let listener = TcpListener::bind(("0.0.0.0", PORT)).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<ServerEvent>();
    let mut conns = Connections::default();
    let mut next_conn = 0u64;
    loop {
        // Move the node's outputs first: answers to their connections, observations to the history.
        loop {
            let Some(out) = node.borrow_mut().poll_output() else {
                break;
            };
            conns.carry(out, &history);
        }
        let deadline = node.borrow().poll_timeout();
        tokio::select! {
            biased;
            _ = mailbox.notify.notified() => {
                for c in mailbox.take() {
                    match c {
                        Control::Server(input) => node.borrow_mut().handle(now(), input, &()),
                        Control::ResetConnections => conns.reset(&node),
                        // Browser inputs go to browser hosts only.
                        Control::Browser { .. } => {}
                    }
                }
            }
            Some(ev) = rx.recv() => conns.on_event(ev, &node),
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                next_conn += 1;
                let conn = next_conn;
                let tx = tx.clone();
                let handle = tokio::task::spawn_local(serve_connection(conn, stream, tx));
                conns.tasks.insert(conn, handle.abort_handle());
            }
            _ = sleep_until_deadline(deadline) => node.borrow_mut().handle_timeout(now(), &()),
        }
    }
}

/// One request on one connection: read it, wait for the node's answer (or the
/// client going away), write it back.
async fn serve_connection(
    conn: u64,
    mut stream: TcpStream,
    tx: mpsc::UnboundedSender<ServerEvent>,
) {
    let Ok(req) = read_frame::<_, Request>(&mut stream).await else {
        let _ = tx.send(ServerEvent::Gone { conn });
        return;
    };
    if is_stream(&req.path) {
        return serve_stream(conn, req, stream, tx).await;
    }
    let (reply_tx, reply_rx) = oneshot::channel();
    let _ = tx.send(ServerEvent::Request {
        conn,
        req,
        reply: reply_tx,
    });
    let (mut reader, mut writer) = stream.into_split();
    let mut probe = [0u8; 1];
    tokio::select! {
        biased;
        resp = reply_rx => {
            if let Ok(resp) = resp {
                let _ = write_frame(&mut writer, &resp).await;
            }
        }
        // The client sends nothing more; a read that returns means it closed.
        _ = tokio::io::AsyncReadExt::read(&mut reader, &mut probe) => {}
    }
    let _ = tx.send(ServerEvent::Gone { conn });
}

/// A v2 stream: write what the node pushes, in order, and hand it the
/// client's acknowledgements, until either side ends it.
async fn serve_stream(
    conn: u64,
    req: Request,
    stream: TcpStream,
    tx: mpsc::UnboundedSender<ServerEvent>,
) {
    let (push, mut pushed) = mpsc::unbounded_channel();
    let _ = tx.send(ServerEvent::Stream { conn, req, push });
    let (mut reader, mut writer) = stream.into_split();
    // Two loops that live as long as the stream, never a read restarted in a
    // `select!`: a frame read half-way and dropped would lose its bytes.
    let write = async {
        while let Some(item) = pushed.recv().await {
            let last = matches!(item, StreamWire::Answer(_));
            if write_frame(&mut writer, &item).await.is_err() || last {
                return;
            }
        }
    };
    let read = async {
        while read_frame::<_, StreamAck>(&mut reader).await.is_ok() {
            let _ = tx.send(ServerEvent::Ack { conn });
        }
    };
    tokio::select! {
        biased;
        () = write => {}
        () = read => {}
    }
    let _ = tx.send(ServerEvent::Gone { conn });
}

/// What a browser's connection task hands its host.
enum Incoming {
    Frame(Frame),
    Done(Result<Response, NetError>),
}

/// A v2 stream from the browser's side: each frame goes to the host as it
/// arrives, each acknowledgement the tab makes goes back, until it ends.
async fn open_stream(
    request: Request,
    mut acks: mpsc::UnboundedReceiver<()>,
    host: impl Fn(Incoming),
) {
    let Ok(stream) = TcpStream::connect(("server", PORT)).await else {
        return host(Incoming::Done(Err(NetError::Refused)));
    };
    let (mut reader, mut writer) = stream.into_split();
    if write_frame(&mut writer, &request).await.is_err() {
        return host(Incoming::Done(Err(NetError::Reset)));
    }
    // As on the server's side: each direction one loop for the stream's life.
    let write = async {
        while let Some(()) = acks.recv().await {
            if write_frame(&mut writer, &StreamAck).await.is_err() {
                return NetError::Reset;
            }
        }
        // The tab dropped the stream: it ends with the read side.
        std::future::pending().await
    };
    let read = async {
        loop {
            match read_frame::<_, StreamWire>(&mut reader).await {
                Ok(StreamWire::Frame(frame)) => host(Incoming::Frame(frame)),
                Ok(StreamWire::Answer(resp)) => return Ok(resp),
                Err(_) => return Err(NetError::Reset),
            }
        }
    };
    let done = tokio::select! {
        biased;
        e = write => Err(e),
        r = read => r,
    };
    host(Incoming::Done(done));
}

async fn fetch(request: Request) -> Result<Response, NetError> {
    let mut stream = TcpStream::connect(("server", PORT))
        .await
        .map_err(|_| NetError::Refused)?;
    write_frame(&mut stream, &request)
        .await
        .map_err(|_| NetError::Reset)?;
    read_frame::<_, Response>(&mut stream)
        .await
        .map_err(|_| NetError::Reset)
}

/// The browsers one host runs: one, or a crowd of many, which keeps the host
/// count (and turmoil's O(hosts^3) step) small when thousands are simulated.
struct Crowd {
    nodes: Vec<Shared<BrowserNode>>,
    keys: Vec<(u32, u32)>,
    history: Shared<History>,
    tx: mpsc::UnboundedSender<(usize, u64, Incoming)>,
    in_flight: BTreeMap<(usize, u64), AbortHandle>,
    /// The open streams' acknowledgement senders.
    acks: BTreeMap<(usize, u64), mpsc::UnboundedSender<()>>,
    deadlines: super::Deadlines<usize>,
}

impl Crowd {
    /// Feed browser `i` (an answer, or its timeout when `input` is None) and move what it puts out.
    fn step(&mut self, i: usize, input: Option<BrowserInput>) {
        let mut node = self.nodes[i].borrow_mut();
        match input {
            Some(input) => node.handle(now(), input, &()),
            None => node.handle_timeout(now(), &()),
        }
        while let Some(out) = node.poll_output() {
            match out {
                BrowserOutput::Send { req, request } if is_stream(&request.path) => {
                    let tx = self.tx.clone();
                    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
                    let handle =
                        tokio::task::spawn_local(open_stream(request, ack_rx, move |incoming| {
                            let _ = tx.send((i, req, incoming));
                        }));
                    self.in_flight.insert((i, req), handle.abort_handle());
                    self.acks.insert((i, req), ack_tx);
                }
                BrowserOutput::Send { req, request } => {
                    let tx = self.tx.clone();
                    let handle = tokio::task::spawn_local(async move {
                        let result = fetch(request).await;
                        let _ = tx.send((i, req, Incoming::Done(result)));
                    });
                    self.in_flight.insert((i, req), handle.abort_handle());
                }
                BrowserOutput::Ack { req } => {
                    if let Some(ack) = self.acks.get(&(i, req)) {
                        let _ = ack.send(());
                    }
                }
                BrowserOutput::Abort { req } => {
                    self.acks.remove(&(i, req));
                    if let Some(h) = self.in_flight.remove(&(i, req)) {
                        h.abort();
                    }
                }
                BrowserOutput::Observe(obs) => self.history.borrow_mut().record(now(), obs),
            }
        }
        self.deadlines.set(i, node.poll_timeout());
    }
}

async fn browser_host(
    nodes: Vec<CrowdMember>,
    history: Shared<History>,
    mailbox: Rc<Mailbox>,
) -> turmoil::Result {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let count = nodes.len();
    let (keys, nodes) = nodes.into_iter().unzip();
    let mut crowd = Crowd {
        nodes,
        keys,
        history,
        tx,
        in_flight: BTreeMap::new(),
        acks: BTreeMap::new(),
        deadlines: Default::default(),
    };
    for i in 0..count {
        crowd.step(i, None);
    }
    loop {
        let deadline = crowd.deadlines.first().map(|(t, _)| t);
        tokio::select! {
            biased;
            _ = mailbox.notify.notified() => {
                for c in mailbox.take() {
                    if let Control::Browser { key, input } = c {
                        if let Some(i) = crowd.keys.iter().position(|k| *k == key) {
                            crowd.step(i, Some(input));
                        }
                    } else if let Control::ResetConnections = c {
                        crowd.acks.clear();
                        for ((i, req), h) in std::mem::take(&mut crowd.in_flight) {
                            h.abort();
                            crowd.step(i, Some(BrowserInput::Response { req, result: Err(NetError::Reset) }));
                        }
                    }
                }
            }
            Some((i, req, incoming)) = rx.recv() => match incoming {
                Incoming::Frame(frame) => {
                    if crowd.in_flight.contains_key(&(i, req)) {
                        crowd.step(i, Some(BrowserInput::Frame { req, frame }));
                    }
                }
                Incoming::Done(result) => {
                    crowd.acks.remove(&(i, req));
                    if crowd.in_flight.remove(&(i, req)).is_some() {
                        crowd.step(i, Some(BrowserInput::Response { req, result }));
                    }
                }
            },
            _ = sleep_until_deadline(deadline) => {
                while let Some(i) = crowd.deadlines.pop_due(now()) {
                    crowd.step(i, None);
                }
            }
        }
    }
}

/// What the nemesis acts on under turmoil: the simulation's links, and the
/// hosts' mailboxes. A browser's fault lands on its host; with crowds, on its
/// whole crowd.
struct Network<'a, 'b> {
    scenario: &'a Scenario,
    sim: &'a mut turmoil::Sim<'b>,
    history: Shared<History>,
    server_mail: Rc<Mailbox>,
    host_mail: BTreeMap<String, Rc<Mailbox>>,
}

impl Network<'_, '_> {
    fn hosts(&self, browsers: &[BrowserKey]) -> BTreeSet<String> {
        browsers
            .iter()
            .map(|&(o, b)| host_name(self.scenario, o, b))
            .collect()
    }
}

impl World for Network<'_, '_> {
    fn record(&mut self, t: SimTime, obs: Observation) {
        self.history.borrow_mut().record(t, obs);
    }

    fn partition(&mut self, browsers: &[BrowserKey], cut: bool) {
        for h in &self.hosts(browsers) {
            if cut {
                self.sim.partition("server", h.as_str());
            } else {
                self.sim.repair("server", h.as_str());
            }
        }
    }

    fn partition_oneway(&mut self, browsers: &[BrowserKey], direction: Direction, cut: bool) {
        for h in &self.hosts(browsers) {
            let (from, to) = match direction {
                Direction::ToServer => (h.as_str(), "server"),
                Direction::FromServer => ("server", h.as_str()),
            };
            if cut {
                self.sim.partition_oneway(from, to);
            } else {
                self.sim.repair_oneway(from, to);
            }
        }
    }

    fn set_latency(&mut self, browsers: &[BrowserKey], ms: Option<u64>) {
        let net = &self.scenario.config.net;
        for h in &self.hosts(browsers) {
            let h = h.as_str();
            match ms {
                Some(ms) => self
                    .sim
                    .set_link_latency("server", h, Duration::from_millis(ms)),
                None => {
                    let (min, max) = (net.min_latency_ms, net.max_latency_ms);
                    self.sim
                        .set_link_latency("server", h, Duration::from_millis(min));
                    self.sim
                        .set_link_max_message_latency("server", h, Duration::from_millis(max));
                }
            }
        }
    }

    fn reset_connections(&mut self, browsers: Option<&[BrowserKey]>) {
        match browsers {
            None => self.server_mail.post(Control::ResetConnections),
            Some(browsers) => {
                for h in &self.hosts(browsers) {
                    self.host_mail[h].post(Control::ResetConnections);
                }
            }
        }
    }

    fn server_input(&mut self, input: ServerInput) {
        self.server_mail.post(Control::Server(input));
    }

    fn browser_input(&mut self, key: BrowserKey, input: BrowserInput) {
        let host = host_name(self.scenario, key.0, key.1);
        self.host_mail[&host].post(Control::Browser { key, input });
    }
}

/// Run `scenario` at `seed`, recording into `history`.
pub fn run(scenario: &Scenario, seed: u64, mutant: Option<Mutant>, history: History) -> Finished {
    let cfg = &scenario.config;
    let end = scenario.end();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_millis(end.as_ms() + 60_000))
        .tick_duration(Duration::from_millis(cfg.tick_ms))
        .min_message_latency(Duration::from_millis(cfg.net.min_latency_ms))
        .max_message_latency(Duration::from_millis(cfg.net.max_latency_ms))
        .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .rng_seed(seed)
        .tcp_capacity(1 << 16)
        .build();

    let history: Shared<History> = Rc::new(RefCell::new(history));
    let server = Rc::new(RefCell::new(ServerNode::new(
        scenario.server_config(),
        seed,
        mutant,
    )));
    let server_mail = Rc::new(Mailbox::default());
    {
        let (node, history, mail) = (server.clone(), history.clone(), server_mail.clone());
        sim.host("server", move || {
            server_host(node.clone(), history.clone(), mail.clone())
        });
    }
    let mut browsers = Vec::new();
    let mut crowds: BTreeMap<String, Vec<CrowdMember>> = BTreeMap::new();
    for org in 0..scenario.topology.orgs {
        for b in 0..scenario.topology.browsers_per_org {
            let config = scenario.browser_config(org, b);
            let node = Rc::new(RefCell::new(BrowserNode::new(config, seed, mutant)));
            browsers.push(node.clone());
            crowds
                .entry(host_name(scenario, org, b))
                .or_default()
                .push(((org, b), node));
        }
    }
    let mut host_mail = BTreeMap::new();
    for (host, nodes) in crowds {
        let mail = Rc::new(Mailbox::default());
        host_mail.insert(host.clone(), mail.clone());
        let history = history.clone();
        sim.host(host, move || {
            browser_host(nodes.clone(), history.clone(), mail.clone())
        });
    }
    let mut nemesis = Nemesis::new(scenario, seed);
    let mut network = Network {
        scenario,
        sim: &mut sim,
        history: history.clone(),
        server_mail,
        host_mail,
    };
    loop {
        let t = SimTime(network.sim.elapsed().as_millis() as u64);
        crate::log::set_now(t);
        nemesis.act_due(t, &mut network);
        if t >= end {
            break;
        }
        // A host that returns an error (a bind failure) is a driver bug, not a finding.
        network.sim.step().expect("the simulation steps");
    }
    drop(network);
    drop(sim);
    let browser_refs: Vec<_> = browsers.iter().map(|b| b.borrow()).collect();
    let last = super::final_state(&server.borrow(), browser_refs.iter().map(|b| &**b));
    drop(browser_refs);
    let history = Rc::try_unwrap(history)
        .map(RefCell::into_inner)
        .expect("the hosts' handles on the history go with the simulation");
    Finished {
        history,
        last,
        ..Finished::default()
    }
}
