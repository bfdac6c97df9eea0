//! The v2 stream's contract (S11-S15): what the server pushes on a stream
//! connection, and what a reconnecting client says it has. Beside `http`
//! (one answer per request), since a stream answers with many frames.

use crate::event::{Event, PropertyId, Service};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One event on the stream, with its `(org, service)` sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    pub seq: u64,
    pub event: Event,
}

/// What a reconnecting client says it has: the epoch its cursors are from,
/// and the last sequence it applied per service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub epoch: u64,
    pub last: BTreeMap<Service, u64>,
}

/// Where a connection's copy of a service starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStart {
    pub service: Service,
    /// The stream continues after this sequence.
    pub head: u64,
    /// S15: the frames that follow replay everything after the client's
    /// cursor; false: its copy is not continuous (no cursor, another epoch,
    /// or past the buffer) and it must refetch the service.
    pub recovered: bool,
}

/// What the server pushes on a connection, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Frame {
    /// First frame of a connection. `as_of` is the org's store head when it
    /// opened: a snapshot that reaches it, with the frames that follow,
    /// covers a service that was not recovered.
    Welcome {
        /// The connection's id, which `update-services` names (Centrifugo's
        /// client id).
        client: u64,
        epoch: u64,
        as_of: u64,
        starts: Vec<ServiceStart>,
    },
    /// Every event of `service` in `(after, through]` that the connection's
    /// property filter lets through, in sequence order.
    Batch {
        service: Service,
        after: u64,
        through: u64,
        events: Vec<StreamEvent>,
    },
    /// S13: quarantine shed `service`'s events in `(after, through]` for this
    /// connection (`count` of them): the client's copy is stale.
    Suppressed {
        service: Service,
        after: u64,
        through: u64,
        count: u64,
    },
    /// S14: from here on the connection carries `starts`' services (each
    /// newly added one from its head) filtered to `property`; `as_of` as in
    /// the welcome.
    Subscribed {
        as_of: u64,
        starts: Vec<ServiceStart>,
        property: Option<PropertyId>,
    },
    /// The server is there: a connection silent longer than the client's
    /// liveness timeout is dead (a partition never closes a socket by itself).
    Ping,
}

impl Frame {
    /// The events a frame carries (what the send queue's capacity counts).
    pub fn events(&self) -> usize {
        match self {
            Frame::Batch { events, .. } => events.len(),
            _ => 0,
        }
    }
}

/// `services=finance,tasks` in a path, and back.
pub fn services_param(services: &BTreeSet<Service>) -> String {
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    names.join(",")
}

pub fn parse_services(text: &str) -> Result<BTreeSet<Service>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(Service::parse)
        .collect()
}

/// `last=finance:3,tasks:5`, and back.
pub fn cursors_param(last: &BTreeMap<Service, u64>) -> String {
    let parts: Vec<String> = last
        .iter()
        .map(|(s, n)| format!("{}:{n}", s.name()))
        .collect();
    parts.join(",")
}

pub fn parse_cursors(text: &str) -> Result<BTreeMap<Service, u64>, String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (s, n) = pair
                .split_once(':')
                .ok_or_else(|| format!("cursor {pair:?} is not service:seq"))?;
            let n = n
                .parse()
                .map_err(|_| format!("cursor {pair:?}: bad sequence"))?;
            Ok((Service::parse(s)?, n))
        })
        .collect()
}
