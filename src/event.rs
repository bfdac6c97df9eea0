//! The event contract (SPEC E1-E4).
//!
//! One event is published per committed mutation of the domain store. It
//! carries the row fields a cache patch needs, its per-org `sequence`, and a
//! uuid-like `event_id` that identifies the publish (a redelivered copy keeps
//! the id, which is what dedup relies on).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

pub type OrgId = u32;
pub type PropertyId = u32;
pub type RowId = u64;
/// A tab's own id for one of its mutations: it names the optimistic row, and
/// the committed row and its event carry it back (the echo).
pub type MutationId = u64;

/// A 128-bit publish id, printed like a uuid.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub u128);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The services of E1; each has one entity of rtsim's workload (E1's
/// entity types, `EntityType::service`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Finance,
    Tasks,
    Staff,
    Properties,
    Users,
    Reports,
    Dashboard,
    Analytics,
    GuestCheckin,
}

impl Service {
    pub const ALL: [Service; 9] = [
        Service::Finance,
        Service::Tasks,
        Service::Staff,
        Service::Properties,
        Service::Users,
        Service::Reports,
        Service::Dashboard,
        Service::Analytics,
        Service::GuestCheckin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Finance => "finance",
            Service::Tasks => "tasks",
            Service::Staff => "staff",
            Service::Properties => "properties",
            Service::Users => "users",
            Service::Reports => "reports",
            Service::Dashboard => "dashboard",
            Service::Analytics => "analytics",
            Service::GuestCheckin => "guest_checkin",
        }
    }

    pub fn parse(name: &str) -> Result<Service, String> {
        Service::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
                format!("unknown service {name:?}; known: {}", known.join(", "))
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Revenue,
    Expense,
    Task,
    /// An analytics metric, and a dashboard widget: the low tier (S13)
    /// that quarantine sheds.
    Metric,
    Widget,
    /// A staff shift, a property's unit, an org's member (users), a report
    /// run, a guest check-in: the other services' entities.
    Shift,
    Unit,
    Member,
    ReportRun,
    Checkin,
}

impl EntityType {
    /// The service whose domain the entity belongs to (E1).
    pub fn service(self) -> Service {
        match self {
            EntityType::Revenue | EntityType::Expense => Service::Finance,
            EntityType::Task => Service::Tasks,
            EntityType::Metric => Service::Analytics,
            EntityType::Widget => Service::Dashboard,
            EntityType::Shift => Service::Staff,
            EntityType::Unit => Service::Properties,
            EntityType::Member => Service::Users,
            EntityType::ReportRun => Service::Reports,
            EntityType::Checkin => Service::GuestCheckin,
        }
    }

    pub fn is_revenue(&self) -> bool {
        *self == EntityType::Revenue
    }

    pub const ALL: [EntityType; 10] = [
        EntityType::Revenue,
        EntityType::Expense,
        EntityType::Task,
        EntityType::Metric,
        EntityType::Widget,
        EntityType::Shift,
        EntityType::Unit,
        EntityType::Member,
        EntityType::ReportRun,
        EntityType::Checkin,
    ];

    pub fn parse(name: &str) -> Result<EntityType, String> {
        EntityType::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = EntityType::ALL.iter().map(|e| e.name()).collect();
                format!("unknown entity {name:?}; known: {}", known.join(", "))
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            EntityType::Revenue => "revenue",
            EntityType::Expense => "expense",
            EntityType::Task => "task",
            EntityType::Metric => "metric",
            EntityType::Widget => "widget",
            EntityType::Shift => "shift",
            EntityType::Unit => "unit",
            EntityType::Member => "member",
            EntityType::ReportRun => "report_run",
            EntityType::Checkin => "checkin",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Added,
    Updated,
    Deleted,
}

/// The row a list query shows; `last_seq` is the sequence of the event that
/// last changed it, which lets a cache merge a snapshot with newer patches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: RowId,
    pub org_id: OrgId,
    pub property_id: PropertyId,
    pub entity_type: EntityType,
    pub version: u64,
    pub amount_cents: i64,
    pub last_seq: u64,
    /// The tab mutation that created the row, if a tab did (U2 matches an
    /// optimistic row to it). Absent from traces when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<MutationId>,
    /// The day the row is dated, in days before today (0..=6): what a report
    /// range and today's pending count look at. Absent from traces when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub days_ago: u32,
    /// An expense awaiting approval, or a task still open. Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// E1. `metadata` is the row as committed (for a delete, as it was removed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: EventId,
    pub sequence: u64,
    pub timestamp_ms: u64,
    pub org_id: OrgId,
    pub property_id: Option<PropertyId>,
    pub user_id: Option<u32>,
    pub service: Service,
    pub entity_type: EntityType,
    pub action: Action,
    pub metadata: Row,
    /// The tab mutation this event publishes, if a tab made it: the echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutation: Option<MutationId>,
}

impl Event {
    /// `{entity}_{action}`, e.g. `revenue_added`.
    pub fn event_type(&self) -> String {
        let entity = self.entity_type.name();
        let action = match self.action {
            Action::Added => "added",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        };
        format!("{entity}_{action}")
    }

    /// E3, v1: the event id, scoped to the org by the dedup structure itself.
    pub fn dedup_key(&self) -> EventId {
        self.event_id
    }

    /// Whether a subscriber of `org` filtered to `property` may see this event (S6).
    pub fn visible_to(&self, org: OrgId, property: Option<PropertyId>) -> bool {
        self.org_id == org && (property.is_none() || self.property_id == property)
    }
}

/// E2: the order a batch is applied in: sequence, then timestamp, then id.
pub fn application_order(a: &Event, b: &Event) -> Ordering {
    (a.sequence, a.timestamp_ms, a.event_id).cmp(&(b.sequence, b.timestamp_ms, b.event_id))
}

/// An event of org 0, property 0, at `seq`, about row `id` at `version`
/// (amount 100 cents per version), for the machines' unit tests.
#[cfg(test)]
pub(crate) fn sample_event(
    seq: u64,
    id: RowId,
    entity_type: EntityType,
    action: Action,
    version: u64,
) -> Event {
    Event {
        event_id: EventId(seq as u128),
        sequence: seq,
        timestamp_ms: seq,
        org_id: 0,
        property_id: Some(0),
        user_id: None,
        service: entity_type.service(),
        entity_type,
        action,
        metadata: Row {
            version,
            last_seq: seq,
            ..sample_row(id, entity_type, 0, false, 100 * version as i64)
        },
        mutation: None,
    }
}

/// A row of org 0, property 0, version 1, for the machines' unit tests.
#[cfg(test)]
pub(crate) fn sample_row(
    id: RowId,
    entity_type: EntityType,
    days_ago: u32,
    pending: bool,
    amount_cents: i64,
) -> Row {
    Row {
        id,
        org_id: 0,
        property_id: 0,
        entity_type,
        version: 1,
        amount_cents,
        last_seq: id,
        created_by: None,
        days_ago,
        pending,
    }
}
