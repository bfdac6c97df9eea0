//! The request/response contract between browsers and the server, with HTTP's
//! semantics (method, path with query, status, bearer) but not HTTP's bytes:
//! the simulator frames these values on TCP, which costs a fraction of a real
//! HTTP stack and checks the same behaviour.

use crate::event::{Event, MutationId, OrgId, PropertyId, Row, RowId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// U3: a derived aggregate (profit-loss: the sum of the rows' amounts).
    Aggregate {
        total_cents: i64,
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
    Metrics(BufferMetrics),
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
    /// The list query a cache refetches: `GET /v1/finance/revenues?orgId=&propertyId=`
    ListRows {
        org: OrgId,
        property: Option<PropertyId>,
    },
    /// The aggregate a page shows: `GET /v1/finance/profit-loss?orgId=&propertyId=`
    ProfitLoss {
        org: OrgId,
        property: Option<PropertyId>,
    },
    /// U2: `POST /v1/finance/revenues?orgId=`: add, update or delete a row.
    Mutate { org: OrgId },
    /// C14: `POST /telemetry/client`: a sampled client event (no auth).
    Telemetry,
    /// S7: `GET /finance/realtime/metrics`
    Metrics,
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
            | Route::Telemetry => Method::Post,
            _ => Method::Get,
        }
    }

    pub fn to_path(&self) -> String {
        fn query(pairs: &[(&str, Option<u64>)]) -> String {
            let parts: Vec<String> = pairs
                .iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            if parts.is_empty() {
                String::new()
            } else {
                format!("?{}", parts.join("&"))
            }
        }
        match self {
            Route::Subscribe {
                org,
                property,
                last_event_id,
            } => format!(
                "/v1/finance/realtime/subscribe{}",
                query(&[
                    ("orgId", Some(*org as u64)),
                    ("propertyId", property.map(u64::from)),
                    ("lastEventId", *last_event_id)
                ])
            ),
            Route::ListRows { org, property } => format!(
                "/v1/finance/revenues{}",
                query(&[
                    ("orgId", Some(*org as u64)),
                    ("propertyId", property.map(u64::from))
                ])
            ),
            Route::Mutate { org } => format!(
                "/v1/finance/revenues{}",
                query(&[("orgId", Some(*org as u64))])
            ),
            Route::ProfitLoss { org, property } => format!(
                "/v1/finance/profit-loss{}",
                query(&[
                    ("orgId", Some(*org as u64)),
                    ("propertyId", property.map(u64::from))
                ])
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
        let mut params: BTreeMap<&str, u64> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or(400u16)?;
            params.insert(k, v.parse().map_err(|_| 400u16)?);
        }
        let org = || params.get("orgId").map(|&v| v as OrgId).ok_or(400u16);
        let property = params.get("propertyId").map(|&v| v as PropertyId);
        match (method, base) {
            (Method::Get, "/v1/finance/realtime/subscribe") => Ok(Route::Subscribe {
                org: org()?,
                property,
                last_event_id: params.get("lastEventId").copied(),
            }),
            (Method::Get, "/v1/finance/revenues") => Ok(Route::ListRows {
                org: org()?,
                property,
            }),
            (Method::Post, "/v1/finance/revenues") => Ok(Route::Mutate { org: org()? }),
            (Method::Get, "/v1/finance/profit-loss") => Ok(Route::ProfitLoss {
                org: org()?,
                property,
            }),
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
            },
            Route::ProfitLoss {
                org: 1,
                property: Some(2),
            },
            Route::Mutate { org: 4 },
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
        assert_eq!(Route::parse(Method::Get, "/nope"), Err(404));
        assert_eq!(
            Route::parse(Method::Get, "/v1/finance/realtime/subscribe"),
            Err(400)
        );
        assert_eq!(
            Route::parse(Method::Get, "/v1/finance/revenues?orgId=x"),
            Err(400)
        );
        assert_eq!(
            Route::parse(Method::Post, "/v1/finance/realtime/subscribe?orgId=1"),
            Err(405)
        );
        assert_eq!(Route::parse(Method::Post, "/v1/finance/revenues"), Err(400));
    }
}
