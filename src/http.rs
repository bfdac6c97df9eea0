//! The request/response contract between browsers and the server, with HTTP's
//! semantics (method, path with query, status, bearer) but not HTTP's bytes:
//! the simulator frames these values on TCP, which costs a fraction of a real
//! HTTP stack and checks the same behaviour.

use crate::event::{Event, MutationId, OrgId, PropertyId, Row, RowId, Service};
use crate::frames::{cursors_param, parse_cursors, parse_services, services_param, Resume};
use crate::query::{AggregateKind, ListKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// The `Authorization: Bearer` value; `None` means the header is absent.
    pub bearer: Option<String>,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, body: Body) -> Self {
        Response { status, body }
    }
    pub fn error(status: u16, message: &str) -> Self {
        Response {
            status,
            body: Body::Error {
                message: message.to_string(),
            },
        }
    }
}

/// A long-poll answer (S3). `last_event_id` is the resume cursor: the org
/// sequence the caller has now seen up to, filtered events and known losses
/// included. `org_sequences` lists every buffered org sequence after the
/// caller's cursor, visible or not, so a property-filtered client can tell a
/// hole (C9) from a filtered event; `floor` is the highest sequence the
/// buffer has lost (overflow, TTL, eviction, restart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub events: Vec<Event>,
    pub last_event_id: u64,
    pub org_sequences: Vec<u64>,
    pub floor: u64,
}

/// S7 metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferMetrics {
    pub buffer_sizes: BTreeMap<OrgId, usize>,
    pub published: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub waiters: usize,
    pub waiter_cap_hits: u64,
    pub evictions: u64,
    /// v2 (S12, S13), where the stream is deployed: each `(org, service)`'s
    /// batch window now (seed 003's `currentBatchWindowMsByService`), and
    /// the events written to and shed from connections, per service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_window_ms: Vec<(OrgId, Service, u64)>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub delivered_by_service: BTreeMap<Service, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub suppressed_by_service: BTreeMap<Service, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    Empty,
    Login {
        org_id: OrgId,
        user_id: u32,
    },
    /// S9: a login or refresh answer. The refresh token stands for the
    /// session's cookie; `session` numbers the login session.
    Token {
        session: u64,
        token: String,
        refresh_token: String,
        expires_at_ms: u64,
    },
    /// `POST /auth/refresh` and `POST /auth/logout` carry the session's refresh token.
    RefreshToken {
        refresh_token: String,
    },
    Events(Batch),
    Rows {
        rows: Vec<Row>,
        as_of_seq: u64,
    },
    /// U3: a derived aggregate (`Store::aggregate`: cents or a count).
    Aggregate {
        value: i64,
        as_of_seq: u64,
    },
    /// `POST /v1/finance/revenues`: a tab's write (U2).
    Mutation(MutationRequest),
    /// C14: `POST /telemetry/client`, one sampled client event as JSON.
    Telemetry {
        payload: String,
    },
    /// Its answer: the committed row, as the event that publishes it.
    Committed(Box<Event>),
    /// Boxed: the largest body by far, and every message in flight is a body.
    Metrics(Box<BufferMetrics>),
    /// S14: `POST /v2/realtime/update-services`: the caller's new service set and filter...
    Services {
        /// The connection to change: its welcome's `client`.
        client: u64,
        services: BTreeSet<Service>,
        property: Option<PropertyId>,
    },
    /// ...and its answer: how many of the caller's live connections changed.
    Updated {
        connections: usize,
    },
    Error {
        message: String,
    },
}

/// One write from a tab. `mutation` comes back on the committed row and on
/// its event, so the tab can match both to its optimistic row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationRequest {
    pub mutation: MutationId,
    pub property: PropertyId,
    pub op: WriteOp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    Add { amount_cents: i64 },
    Update { row: RowId, amount_cents: i64 },
    Delete { row: RowId },
}

/// The routes the server knows, parsed from and printed to paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// S3: `GET /v1/finance/realtime/subscribe?orgId=&propertyId=&lastEventId=`
    Subscribe {
        org: OrgId,
        property: Option<PropertyId>,
        last_event_id: Option<u64>,
    },
    /// The list queries a page refetches, together, as one snapshot:
    /// `GET /v1/finance/revenues?orgId=&propertyId=` for the revenues alone,
    /// else `GET /v1/queries/lists?orgId=&propertyId=&lists=revenues,tasks`.
    ListRows {
        org: OrgId,
        property: Option<PropertyId>,
        lists: Vec<ListKind>,
    },
    /// An aggregate a page shows (U3): `GET /v1/finance/profit-loss`,
    /// `/v1/finance/daily-approval`, `/v1/tasks/today-pending` or
    /// `/v1/reports/daily-report?..&from=&to=`, each `?orgId=&propertyId=`.
    Aggregate {
        org: OrgId,
        property: Option<PropertyId>,
        kind: AggregateKind,
    },
    /// U2: `POST /v1/finance/revenues?orgId=`: add, update or delete a row.
    Mutate { org: OrgId },
    /// C14: `POST /telemetry/client`: a sampled client event (no auth).
    Telemetry,
    /// S7: `GET /finance/realtime/metrics`
    Metrics,
    /// S11: `GET /v2/realtime/stream?orgId=&services=&propertyId=&epoch=&last=`:
    /// a connection the server pushes frames on (`frames`); on a reconnect
    /// it carries the epoch and the last sequence per service (S15).
    Stream {
        org: OrgId,
        services: BTreeSet<Service>,
        property: Option<PropertyId>,
        resume: Option<Resume>,
    },
    /// S14: `POST /v2/realtime/update-services?orgId=`.
    UpdateServices { org: OrgId },
    /// S8: `GET /finance/events/subscribe`, gone.
    LegacySubscribe,
    /// S9: `POST /auth/login`
    Login,
    /// S9: `POST /auth/refresh`: a new access token for the session.
    Refresh,
    /// S9: `POST /auth/logout`: revoke the session.
    Logout,
}

impl Route {
    pub fn method(&self) -> Method {
        match self {
            Route::Login
            | Route::Refresh
            | Route::Logout
            | Route::Mutate { .. }
            | Route::UpdateServices { .. }
            | Route::Telemetry => Method::Post,
            _ => Method::Get,
        }
    }

    pub fn to_path(&self) -> String {
        let scoped = |org: &OrgId, property: &Option<PropertyId>| {
            vec![
                ("orgId", Some(org.to_string())),
                ("propertyId", property.map(|p| p.to_string())),
            ]
        };
        match self {
            Route::Subscribe {
                org,
                property,
                last_event_id,
            } => {
                let mut q = scoped(org, property);
                q.push(("lastEventId", last_event_id.map(|c| c.to_string())));
                format!("/v1/finance/realtime/subscribe{}", query(&q))
            }
            Route::ListRows {
                org,
                property,
                lists,
            } => {
                let mut q = scoped(org, property);
                if lists.as_slice() == [ListKind::Revenues] {
                    return format!("/v1/finance/revenues{}", query(&q));
                }
                let names: Vec<&str> = lists.iter().map(|l| l.name()).collect();
                q.push(("lists", Some(names.join(","))));
                format!("/v1/queries/lists{}", query(&q))
            }
            Route::Mutate { org } => format!(
                "/v1/finance/revenues{}",
                query(&[("orgId", Some(org.to_string()))])
            ),
            Route::Aggregate {
                org,
                property,
                kind,
            } => {
                let mut q = scoped(org, property);
                let base = match kind {
                    AggregateKind::ProfitLoss => "/v1/finance/profit-loss",
                    AggregateKind::DailyApproval => "/v1/finance/daily-approval",
                    AggregateKind::TodayPending => "/v1/tasks/today-pending",
                    AggregateKind::Report { from, to } => {
                        q.push(("from", Some(from.to_string())));
                        q.push(("to", Some(to.to_string())));
                        "/v1/reports/daily-report"
                    }
                };
                format!("{base}{}", query(&q))
            }
            Route::Stream {
                org,
                services,
                property,
                resume,
            } => {
                let mut q = scoped(org, property);
                q.push(("services", Some(services_param(services))));
                q.push(("epoch", resume.as_ref().map(|r| r.epoch.to_string())));
                q.push(("last", resume.as_ref().map(|r| cursors_param(&r.last))));
                format!("/v2/realtime/stream{}", query(&q))
            }
            Route::UpdateServices { org } => format!(
                "/v2/realtime/update-services{}",
                query(&[("orgId", Some(org.to_string()))])
            ),
            Route::Telemetry => "/telemetry/client".to_string(),
            Route::Metrics => "/finance/realtime/metrics".to_string(),
            Route::LegacySubscribe => "/finance/events/subscribe".to_string(),
            Route::Login => "/auth/login".to_string(),
            Route::Refresh => "/auth/refresh".to_string(),
            Route::Logout => "/auth/logout".to_string(),
        }
    }

    /// Parse a request line; `Err` carries the status to answer with.
    pub fn parse(method: Method, path: &str) -> Result<Route, u16> {
        let (base, query) = path.split_once('?').unwrap_or((path, ""));
        let mut params: BTreeMap<&str, &str> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or(400u16)?;
            params.insert(k, v);
        }
        let number = |k: &str| -> Result<Option<u64>, u16> {
            params
                .get(k)
                .map(|v| v.parse().map_err(|_| 400u16))
                .transpose()
        };
        let org = || number("orgId")?.map(|v| v as OrgId).ok_or(400u16);
        let property = number("propertyId")?.map(|v| v as PropertyId);
        let aggregate = |kind: AggregateKind| -> Result<Route, u16> {
            Ok(Route::Aggregate {
                org: org()?,
                property,
                kind,
            })
        };
        match (method, base) {
            (Method::Get, "/v1/finance/realtime/subscribe") => Ok(Route::Subscribe {
                org: org()?,
                property,
                last_event_id: number("lastEventId")?,
            }),
            (Method::Get, "/v1/finance/revenues") => Ok(Route::ListRows {
                org: org()?,
                property,
                lists: vec![ListKind::Revenues],
            }),
            (Method::Get, "/v1/queries/lists") => Ok(Route::ListRows {
                org: org()?,
                property,
                lists: parse_lists(params.get("lists").ok_or(400u16)?)?,
            }),
            (Method::Post, "/v1/finance/revenues") => Ok(Route::Mutate { org: org()? }),
            (Method::Get, "/v1/finance/profit-loss") => aggregate(AggregateKind::ProfitLoss),
            (Method::Get, "/v1/finance/daily-approval") => aggregate(AggregateKind::DailyApproval),
            (Method::Get, "/v1/tasks/today-pending") => aggregate(AggregateKind::TodayPending),
            (Method::Get, "/v1/reports/daily-report") => {
                let day = |k: &str| number(k)?.map(|d| d as u32).ok_or(400u16);
                let name = format!("report:{}-{}", day("from")?, day("to")?);
                aggregate(AggregateKind::parse(&name).map_err(|_| 400u16)?)
            }
            (Method::Get, "/v2/realtime/stream") => Ok(Route::Stream {
                org: org()?,
                services: parse_services(params.get("services").ok_or(400u16)?)
                    .map_err(|_| 400u16)?,
                property,
                resume: parse_resume(number("epoch")?, params.get("last").copied())?,
            }),
            (Method::Post, "/v2/realtime/update-services") => {
                Ok(Route::UpdateServices { org: org()? })
            }
            (Method::Get, "/finance/realtime/metrics") => Ok(Route::Metrics),
            (Method::Get, "/finance/events/subscribe") => Ok(Route::LegacySubscribe),
            (Method::Post, "/telemetry/client") => Ok(Route::Telemetry),
            (Method::Post, "/auth/login") => Ok(Route::Login),
            (Method::Post, "/auth/refresh") => Ok(Route::Refresh),
            (Method::Post, "/auth/logout") => Ok(Route::Logout),
            (
                _,
                "/v1/finance/realtime/subscribe" | "/auth/login" | "/auth/refresh" | "/auth/logout",
            ) => Err(405),
            _ => Err(404),
        }
    }
}

/// `?k=v&...` of the pairs that have a value ("" if none do).
fn query(pairs: &[(&str, Option<String>)]) -> String {
    // Written into one string: every request spells its path (issue 19).
    let mut out = String::new();
    for (k, v) in pairs {
        if let Some(v) = v {
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// `lists=revenues,tasks`: the lists a page loads in one call.
fn parse_lists(names: &str) -> Result<Vec<ListKind>, u16> {
    names
        .split(',')
        .map(ListKind::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| 400u16)
}

/// S15: a reconnect's `epoch=` and `last=` (none without an epoch).
fn parse_resume(epoch: Option<u64>, last: Option<&str>) -> Result<Option<Resume>, u16> {
    let Some(epoch) = epoch else {
        return Ok(None);
    };
    let last = parse_cursors(last.unwrap_or("")).map_err(|_| 400u16)?;
    Ok(Some(Resume { epoch, last }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_paths() {
        let routes = [
            Route::Subscribe {
                org: 3,
                property: Some(1),
                last_event_id: Some(42),
            },
            Route::Subscribe {
                org: 0,
                property: None,
                last_event_id: None,
            },
            Route::ListRows {
                org: 2,
                property: None,
                lists: vec![ListKind::Revenues],
            },
            Route::ListRows {
                org: 2,
                property: Some(1),
                lists: vec![ListKind::Expenses, ListKind::Tasks],
            },
            Route::Aggregate {
                org: 1,
                property: Some(2),
                kind: AggregateKind::ProfitLoss,
            },
            Route::Aggregate {
                org: 1,
                property: None,
                kind: AggregateKind::TodayPending,
            },
            Route::Aggregate {
                org: 1,
                property: Some(0),
                kind: AggregateKind::Report { from: 6, to: 1 },
            },
            Route::Mutate { org: 4 },
            Route::Stream {
                org: 1,
                services: [Service::Finance, Service::Tasks].into_iter().collect(),
                property: Some(2),
                resume: Some(Resume {
                    epoch: 77,
                    last: [(Service::Finance, 3), (Service::Tasks, 5)]
                        .into_iter()
                        .collect(),
                }),
            },
            Route::Stream {
                org: 0,
                services: [Service::Analytics].into_iter().collect(),
                property: None,
                resume: None,
            },
            Route::UpdateServices { org: 3 },
            Route::Telemetry,
            Route::Metrics,
            Route::LegacySubscribe,
            Route::Login,
            Route::Refresh,
            Route::Logout,
        ];
        for r in routes {
            assert_eq!(
                Route::parse(r.method(), &r.to_path()),
                Ok(r.clone()),
                "{}",
                r.to_path()
            );
        }
    }

    #[test]
    fn bad_paths_get_client_errors() {
        let cases = [
            (Method::Get, "/nope", 404),
            (Method::Get, "/v1/finance/realtime/subscribe", 400),
            (Method::Get, "/v1/finance/revenues?orgId=x", 400),
            (Method::Post, "/v1/finance/realtime/subscribe?orgId=1", 405),
            (Method::Post, "/v1/finance/revenues", 400),
            (Method::Get, "/v1/queries/lists?orgId=1&lists=staff", 400),
            (
                Method::Get,
                "/v2/realtime/stream?orgId=1&services=nope",
                400,
            ),
            (
                Method::Get,
                "/v2/realtime/stream?orgId=1&services=finance&epoch=1&last=finance",
                400,
            ),
            (
                Method::Get,
                "/v1/reports/daily-report?orgId=1&from=0&to=6",
                400,
            ),
        ];
        for (method, path, status) in cases {
            assert_eq!(Route::parse(method, path), Err(status), "{path}");
        }
    }
}
