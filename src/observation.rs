//! Observations and the history: every observable step of a run, with its
//! sim time. A neutral layer: machines write it, checkers read it, and it
//! imports neither.
//!
//! Machines emit `Observation`s as outputs; a driver stamps them with the time
//! and appends them here. Checkers read only the history and the final state,
//! never the machines' internals, so a bug in a machine cannot hide itself by
//! also fooling the checker. The history serialised in order is the trace.

use crate::event::{Action, EntityType, EventId, MutationId, OrgId, PropertyId, Row, Service};
use crate::query::{AggregateKind, ListKind};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// A5: the global banner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Banner {
    None,
    /// The transport cannot reach the server; it resumes by itself.
    Offline,
    /// The session could not be refreshed: log in again (writes paused, reads kept).
    Expired,
}

/// A tab's part in the leader election of its scope (L1-L6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Follower,
    Claiming,
    Leader,
    /// Declared fallback: no BroadcastChannel (or leadership disabled), so this tab polls on its own.
    Solo,
    Closed,
}

/// Who an observation is about: a tab (`org<i>/browser<j>/tab<k>`), or a
/// browser as a whole (`org<i>/browser<j>`, its logins and platform switches).
/// Traces spell it as that string; checkers read its parts, never parse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    pub org: OrgId,
    pub browser: u32,
    pub tab: Option<u32>,
}

impl Actor {
    pub fn tab(org: OrgId, browser: u32, tab: u32) -> Actor {
        Actor {
            org,
            browser,
            tab: Some(tab),
        }
    }

    pub fn browser(org: OrgId, browser: u32) -> Actor {
        Actor {
            org,
            browser,
            tab: None,
        }
    }

    /// The browser this actor belongs to (itself, for a browser).
    pub fn of_browser(self) -> Actor {
        Actor { tab: None, ..self }
    }

    /// Parse the trace's spelling back (for histories read from a file).
    pub fn parse(text: &str) -> Option<Actor> {
        let mut parts = text.split('/');
        let num = |part: Option<&str>, prefix: &str| part?.strip_prefix(prefix)?.parse().ok();
        let org = num(parts.next(), "org")?;
        let browser = num(parts.next(), "browser")?;
        let tab = match parts.next() {
            None => None,
            some => Some(num(some, "tab")?),
        };
        parts
            .next()
            .is_none()
            .then_some(Actor { org, browser, tab })
    }
}

/// An actor's spelling, `org<i>/browser<j>[/tab<k>]`, built on the stack:
/// every observation names one, and formatting it through `fmt` (and
/// serde_json escaping each piece) was a twentieth of a run (issue 19).
struct Spelling {
    buf: [u8; 48],
    len: usize,
}

impl Spelling {
    fn of(actor: &Actor) -> Spelling {
        let mut s = Spelling {
            buf: [0; 48],
            len: 0,
        };
        s.push(b"org");
        s.number(actor.org);
        s.push(b"/browser");
        s.number(actor.browser);
        if let Some(t) = actor.tab {
            s.push(b"/tab");
            s.number(t);
        }
        s
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn number(&mut self, n: u32) {
        self.push(itoa::Buffer::new().format(n).as_bytes());
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("ASCII")
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Spelling::of(self).as_str())
    }
}

/// Actors sort as their spelling does (`tab10` before `tab2`), so every
/// checker that walks a map of them visits them in the order it did when
/// they were strings: a number compares by its decimal digits, a shorter
/// one first where one is a prefix of the other.
impl Ord for Actor {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        /// Compare two numbers as their decimal spellings compare, without
        /// spelling them: pad the shorter with zeros on the right to the
        /// other's length; if that ties, the shorter (a prefix) comes first.
        fn spelled(a: u32, b: u32) -> std::cmp::Ordering {
            // Most comparisons in the checkers' maps meet an equal org or
            // two one-digit browsers or tabs: there the numbers' own order is
            // their spellings'.
            if a == b || (a < 10 && b < 10) {
                return a.cmp(&b);
            }
            let width = |n: u32| n.checked_ilog10().unwrap_or(0);
            let (wa, wb) = (width(a), width(b));
            let (pa, pb) = (
                u64::from(a) * 10u64.pow(wb.saturating_sub(wa)),
                u64::from(b) * 10u64.pow(wa.saturating_sub(wb)),
            );
            pa.cmp(&pb).then(wa.cmp(&wb))
        }
        spelled(self.org, other.org)
            .then_with(|| spelled(self.browser, other.browser))
            .then_with(|| match (self.tab, other.tab) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => spelled(a, b),
            })
    }
}

impl PartialOrd for Actor {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(Spelling::of(self).as_str())
    }
}

/// Read from its spelling, as recorded histories (`recording`) write it.
impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Actor::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not an actor: org<i>/browser<j>/tab<k> or org<i>/browser<j>"
            ))
        })
    }
}

/// Why an event left a server buffer before every reader had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    Overflow,
    Expired,
    Evicted,
    Restart,
}

/// How a request ended, as its tab saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Status(u16),
    /// Connect refused or connection reset.
    NetError,
    /// No answer within the request timeout; the tab aborted it.
    Timeout,
    /// The tab gave the request up for its own reasons (it stopped leading, it closed).
    Aborted,
}

impl Outcome {
    /// Whether the circuit breaker counts this as a failure (C4): the network
    /// or the server failed; 4xx answers are the caller's problem, not the transport's.
    pub fn is_failure(&self) -> bool {
        match self {
            Outcome::Status(s) => *s >= 500,
            Outcome::NetError | Outcome::Timeout => true,
            Outcome::Aborted => false,
        }
    }
}

/// What a request was for; checkers treat the transport and the refetches differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Login,
    Poll,
    Refetch,
    Refresh,
    Logout,
    /// U3/C10: an aggregate refetch (a derived invalidation).
    Aggregate,
    /// U2: a tab's own write.
    Mutate,
    /// C14: a sampled telemetry event.
    Telemetry,
    /// S7: the ops probe reads the buffer metrics.
    Metrics,
    /// S8: the ops probe tries the retired legacy subscribe path.
    Legacy,
    /// S11: a v2 stream connection.
    Stream,
    /// S14: `POST /v2/realtime/update-services`: a stream's services or
    /// property filter change in place.
    UpdateServices,
}

/// One event as a tab received it in a batch, before dedup and filtering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub org: OrgId,
    pub property: Option<PropertyId>,
    pub seq: u64,
}

/// How an optimistic row left the list (U2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The echo event replaced it with the committed row.
    Echo,
    /// A refetched list had the committed row.
    Refetch,
    /// The write failed, or the row is gone: taken back.
    RolledBack,
    /// The page was cleared (logout) or closed.
    Cleared,
}

/// Why the server ended a v2 stream connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The client closed it (nothing to tell it).
    ByClient,
    /// Its send queue passed twice its capacity.
    SlowConsumer,
    /// The `drop_stream` fault: the server severed it.
    Dropped,
    /// S10: the process restarted.
    Restart,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observation {
    // ---- server: store, pub/sub, buffer (S1-S10) ----
    Committed {
        org: OrgId,
        seq: u64,
        event_id: EventId,
        property: PropertyId,
        /// The row's entity; absent from traces for a revenue.
        #[serde(skip_serializing_if = "EntityType::is_revenue")]
        entity: EntityType,
        action: Action,
        row: u64,
        /// The tab mutation this commits, if a tab made it (U2).
        #[serde(skip_serializing_if = "Option::is_none")]
        mutation: Option<MutationId>,
    },
    /// The `echo_drop` fault: this tab mutation's event is committed but never
    /// published, so no subscriber sees it (its sequence is a hole).
    EchoDropped {
        org: OrgId,
        seq: u64,
        mutation: MutationId,
    },
    BufferInsert {
        org: OrgId,
        seq: u64,
        len: usize,
        redelivery: bool,
    },
    BufferDrop {
        org: OrgId,
        seq: u64,
        reason: DropReason,
    },
    WaitersParked {
        org: OrgId,
        count: usize,
    },
    WaiterCapHit {
        org: OrgId,
    },
    PollServed {
        org: OrgId,
        events: usize,
        last_event_id: u64,
    },
    OrgEvicted {
        org: OrgId,
        entries: usize,
    },
    OrgActive {
        org: OrgId,
    },
    ServerDown,
    ServerUp,
    /// S7: what a metrics answer to the ops probe (`probe`, request `req`)
    /// said: the counters since the process started, and each buffer's size.
    Metrics {
        probe: Actor,
        req: u64,
        published: u64,
        delivered: u64,
        dropped: u64,
        waiter_cap_hits: u64,
        evictions: u64,
        buffered: Vec<(OrgId, usize)>,
        /// v2: each `(org, service)`'s batch window as the metrics said.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        batch_window_ms: Vec<(OrgId, Service, u64)>,
    },
    // ---- server: token service (S9) ----
    /// A login (`via` "login") or a refresh issued an access token to a session.
    TokenIssued {
        org: OrgId,
        user: u32,
        session: u64,
        via: String,
        expires_at: SimTime,
    },
    /// The `token_expire` fault ended `count` access tokens of a user now.
    TokensExpired {
        org: OrgId,
        user: u32,
        count: usize,
    },
    SessionRevoked {
        org: OrgId,
        user: u32,
        session: u64,
    },
    // ---- client: provider and cache (C1-C9, U1) ----
    Request {
        tab: Actor,
        req: u64,
        what: RequestKind,
        path: String,
        bearer: bool,
    },
    Response {
        tab: Actor,
        req: u64,
        outcome: Outcome,
        events: usize,
    },
    Delivered {
        tab: Actor,
        events: Vec<Delivered>,
    },
    Applied {
        tab: Actor,
        org: OrgId,
        seq: u64,
        event_id: EventId,
        /// v2: the event's service and its sequence there (what orders it);
        /// absent from traces for v1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<(Service, u64)>,
    },
    Snapshot {
        tab: Actor,
        org: OrgId,
        property: Option<PropertyId>,
        as_of_seq: u64,
        rows: usize,
    },
    /// U2: the tab writes; with `optimistic`, its list shows the row at once.
    Mutation {
        tab: Actor,
        mutation: MutationId,
        op: String,
        optimistic: bool,
    },
    /// U2: the list of `tab` starts or stops showing a row of a tab mutation:
    /// its optimistic row (`row` absent) or the committed row `row`. `how`
    /// says how an optimistic row went.
    ListRow {
        tab: Actor,
        mutation: MutationId,
        #[serde(skip_serializing_if = "Option::is_none")]
        row: Option<u64>,
        shown: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        how: Option<Resolution>,
    },
    /// C13: shadow mode: the batch went to diagnostics only.
    ShadowEvents {
        tab: Actor,
        events: usize,
    },
    /// C11: the page starts or stops keeping its list fresh by polling.
    Degraded {
        tab: Actor,
        on: bool,
    },
    /// C14: the server received a sampled telemetry event; `leaks_token` if
    /// it carries any token the server ever issued.
    Telemetry {
        payload: String,
        leaks_token: bool,
    },
    /// U3: the page now shows this aggregate.
    AggregateShown {
        tab: Actor,
        /// Which aggregate; absent from traces for the finance page's profit-loss.
        #[serde(skip_serializing_if = "AggregateKind::is_profit_loss")]
        aggregate: AggregateKind,
        /// Its value: cents, or a count (`Store::aggregate`).
        total_cents: i64,
        as_of_seq: u64,
    },
    Gap {
        tab: Actor,
        cursor: u64,
        last_event_id: u64,
        floor: u64,
    },
    HardRecover {
        tab: Actor,
        silent_ms: u64,
    },
    BreakerOpen {
        tab: Actor,
        until: SimTime,
    },
    AuthPaused {
        tab: Actor,
        status: u16,
    },
    // ---- auth lifecycle (A1-A5, C7) ----
    /// The user clicked "log out" in this tab.
    Logout {
        tab: Actor,
    },
    /// The tab dropped its session (its own logout, or another tab's).
    SignedOut {
        tab: Actor,
        cause: String,
    },
    /// A5: the banner the tab shows changed.
    Banner {
        tab: Actor,
        banner: Banner,
    },
    // ---- leader election (L1-L7) and tab lifecycle (B4) ----
    Role {
        tab: Actor,
        scope: String,
        role: Role,
        seq: u64,
        cause: String,
    },
    Lifecycle {
        tab: Actor,
        what: String,
    },
    // ---- server: the v2 stream (S11-S15) ----
    /// S12: a batch left `(org, service)`: opened with `window_ms`, it
    /// waited `waited_ms` (less if it filled), and the next opens with `next_window_ms`.
    BatchFlushed {
        org: OrgId,
        service: Service,
        events: usize,
        window_ms: u64,
        waited_ms: u64,
        next_window_ms: u64,
    },
    /// S13: a frame reached a connection whose queue was over capacity.
    StreamOverflow {
        conn: u64,
        queued: usize,
    },
    Quarantine {
        conn: u64,
        on: bool,
    },
    StreamClosed {
        conn: u64,
        reason: CloseReason,
    },
    /// S10: the stream starts over in a new epoch.
    StreamEpoch {
        epoch: u64,
    },
    // ---- client: the v2 stream (C15) ----
    /// A tab's stream was welcomed (`epoch`), or its services changed
    /// (none): `continuous` if every service follows on from what it had.
    /// `shared`: the stream is the scope leader's, as a follower took its
    /// welcome (or picked it up mid-epoch: a start per service it joined).
    StreamStarted {
        tab: Actor,
        epoch: Option<u64>,
        as_of: u64,
        starts: Vec<crate::frames::ServiceStart>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shared: bool,
    },
    /// A batch frame (or a `Suppressed` one) a tab's live stream brought:
    /// `service`'s range `(after, through]`, with how many events.
    /// `shared`: a follower took it from its leader's stream.
    StreamBatch {
        tab: Actor,
        service: Service,
        after: u64,
        through: u64,
        events: usize,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        suppressed: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shared: bool,
    },
    // ---- faults and phases ----
    Fault {
        what: String,
    },
    Heal,
    // ---- checker findings, part of the trace ----
    Violation {
        oracle: String,
        subject: String,
        detail: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub t: SimTime,
    #[serde(flatten)]
    pub obs: Observation,
}

/// Where a history sends each step as a driver records it: the checkers, the
/// trace hasher, the summary tally. It takes the step itself, so it may pass
/// it on (to another thread) without a copy.
pub trait Observer {
    fn observe(&mut self, step: Step);
}

/// Every step of a run, as the drivers record it. Each step goes to the
/// observer as it happens, or is kept when asked for (a trace file, a
/// timeline, stored checking), so a run's memory is its live state, not its
/// history.
pub struct History {
    /// The kept steps (empty unless keeping).
    pub steps: Vec<Step>,
    sink: Sink,
}

/// What a history does with a step.
enum Sink {
    Keep,
    Observe(Box<dyn Observer>),
    Discard,
}

impl Default for History {
    /// Keeps every step.
    fn default() -> Self {
        History {
            steps: Vec::new(),
            sink: Sink::Keep,
        }
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Keep => "keep",
            Sink::Observe(_) => "observe",
            Sink::Discard => "discard",
        };
        f.debug_struct("History")
            .field("steps", &self.steps.len())
            .field("sink", &sink)
            .finish()
    }
}

impl History {
    /// Keep nothing and observe nothing: the driver's own cost, for `rtsim bench`.
    pub fn discarding() -> Self {
        History {
            steps: Vec::new(),
            sink: Sink::Discard,
        }
    }

    /// Hand each step to `observer` as it is recorded, keeping none.
    pub fn observed(observer: Box<dyn Observer>) -> Self {
        History {
            steps: Vec::new(),
            sink: Sink::Observe(observer),
        }
    }

    pub fn record(&mut self, t: SimTime, obs: Observation) {
        // Serialised only when a subscriber asks for it (RUST_LOG=rtsim=debug).
        tracing::debug!(
            "{}",
            serde_json::to_string(&obs).unwrap_or_else(|e| e.to_string())
        );
        let step = Step { t, obs };
        match &mut self.sink {
            Sink::Keep => self.steps.push(step),
            Sink::Observe(observer) => observer.observe(step),
            Sink::Discard => {}
        }
    }
}

/// What the checkers need at the end of a run besides the history.
#[derive(Clone, Debug, Default)]
pub struct FinalState {
    /// The store's rows per org (S1), the ground truth.
    pub store: Vec<(OrgId, Vec<Row>)>,
    /// Each live tab: name, org, property filter, rows in its list cache.
    pub tabs: Vec<TabFinal>,
    /// Events currently held in server buffers, per org.
    pub buffered: Vec<(OrgId, usize)>,
}

#[derive(Clone, Debug)]
pub struct TabFinal {
    pub name: Actor,
    pub org: OrgId,
    pub property: Option<PropertyId>,
    /// What each list query of the page shows.
    pub lists: Vec<(ListKind, Vec<Row>)>,
    /// The aggregates the page shows, with their values (those loaded).
    pub aggregates: Vec<(AggregateKind, i64)>,
}

#[cfg(test)]
mod tests {
    use super::Actor;

    #[test]
    fn an_actor_reads_back_from_its_spelling() {
        for a in [Actor::tab(12, 0, 3), Actor::browser(0, 7)] {
            assert_eq!(Actor::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Actor::tab(1, 2, 3).to_string(), "org1/browser2/tab3");
        for bad in [
            "server",
            "org1",
            "org1/browser",
            "org1/browser2/tab3/x",
            "org1/tab2",
        ] {
            assert_eq!(Actor::parse(bad), None, "{bad}");
        }
    }

    /// The stack-built spelling is the formatted one, in the trace's JSON too.
    #[test]
    fn an_actor_is_spelled_as_formatting_would() {
        let numbers = [0, 7, 10, 99, 12_345, u32::MAX];
        for (&org, &browser) in numbers.iter().zip(numbers.iter().rev()) {
            let b = Actor::browser(org, browser);
            assert_eq!(b.to_string(), format!("org{org}/browser{browser}"));
            for tab in numbers {
                let t = Actor::tab(org, browser, tab);
                let want = format!("org{org}/browser{browser}/tab{tab}");
                assert_eq!(t.to_string(), want);
                assert_eq!(serde_json::to_string(&t).unwrap(), format!("{want:?}"));
            }
        }
    }

    /// Checkers walk maps keyed by actors; they must visit them in the order
    /// they did when the keys were the spelled names.
    #[test]
    fn actors_sort_as_their_spelling_does() {
        let mut actors = Vec::new();
        for org in [0, 1, 2, 9, 10, 11, 100] {
            for browser in [0, 1, 10, 2] {
                actors.push(Actor::browser(org, browser));
                for tab in [0, 1, 2, 10, 12, 20] {
                    actors.push(Actor::tab(org, browser, tab));
                }
            }
        }
        let mut by_ord = actors.clone();
        by_ord.sort();
        let mut by_name = actors;
        by_name.sort_by_key(|a| a.to_string());
        assert_eq!(by_ord, by_name);
    }

    /// The spelled order without spelling: every pair of a spread of
    /// numbers, up to u32::MAX, compares as its decimal strings do.
    #[test]
    fn numbers_compare_as_their_digits_do() {
        let mut numbers: Vec<u32> = (0..1200).collect();
        numbers.extend([
            9_999,
            10_000,
            10_001,
            99_999,
            100_000,
            123_456,
            4_294_967_295,
            429_496_729,
            1_000_000_000,
        ]);
        for &a in &numbers {
            for &b in &numbers {
                let (x, y) = (Actor::browser(a, 0), Actor::browser(b, 0));
                assert_eq!(x.cmp(&y), a.to_string().cmp(&b.to_string()), "{a} vs {b}");
            }
        }
    }
}
