//! Query keys (SPEC U1, U3): what a page shows, named as React Query names it,
//! and which rows each aggregate depends on (what the client invalidates). The
//! server's projection (`Store::aggregate`) and O2's are written apart from it
//! and from each other, so a dependency left out here shows as a stale value.
//!
//! A page shows list queries (`['revenues', org, property]`, `['expenses', ..]`,
//! `['tasks', ..]`), each patched row by row from the events of its entity,
//! and derived aggregates (`['profit-loss', ..]`, `['daily-approval', ..]`,
//! `['today-pending', ..]`, `['daily-report', property, from, to]`) that no
//! event patches: an event only invalidates the aggregates it can change, so
//! a revenue dated last Monday leaves today's report alone (seed 001:
//! "only refresh open report ranges that intersect affectedReportDates").
//!
//! Rows are dated `days_ago` 0..=6: the last week, today first. Tasks belong to
//! the tasks service and ride the same app-level transport as finance (the
//! seeds' "single channel, generalised event mappings"); the provider hands
//! each event to the queries of its entity.

use crate::event::{EntityType, Row};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The oldest a row may be dated: rows cover the last seven days.
pub const OLDEST_DAY: u32 = 6;

/// A list query of a page, by its top-level key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    Revenues,
    Expenses,
    Tasks,
    /// The analytics and dashboard pages' lists (the low tier, S13).
    Metrics,
    Widgets,
    /// The other services' pages' lists.
    Shifts,
    Units,
    Members,
    ReportRuns,
    Checkins,
}

impl ListKind {
    pub const ALL: [ListKind; 10] = [
        ListKind::Revenues,
        ListKind::Expenses,
        ListKind::Tasks,
        ListKind::Metrics,
        ListKind::Widgets,
        ListKind::Shifts,
        ListKind::Units,
        ListKind::Members,
        ListKind::ReportRuns,
        ListKind::Checkins,
    ];

    /// The entity whose rows (and events) the list shows.
    pub fn entity(self) -> EntityType {
        match self {
            ListKind::Revenues => EntityType::Revenue,
            ListKind::Expenses => EntityType::Expense,
            ListKind::Tasks => EntityType::Task,
            ListKind::Metrics => EntityType::Metric,
            ListKind::Widgets => EntityType::Widget,
            ListKind::Shifts => EntityType::Shift,
            ListKind::Units => EntityType::Unit,
            ListKind::Members => EntityType::Member,
            ListKind::ReportRuns => EntityType::ReportRun,
            ListKind::Checkins => EntityType::Checkin,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ListKind::Revenues => "revenues",
            ListKind::Expenses => "expenses",
            ListKind::Tasks => "tasks",
            ListKind::Metrics => "metrics",
            ListKind::Widgets => "widgets",
            ListKind::Shifts => "shifts",
            ListKind::Units => "units",
            ListKind::Members => "members",
            ListKind::ReportRuns => "report_runs",
            ListKind::Checkins => "checkins",
        }
    }

    pub fn parse(name: &str) -> Result<ListKind, String> {
        ListKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = ListKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown list {name:?}; known: {}", known.join(", "))
            })
    }
}

/// A set of lists, as a route names them (C15: a route's page): small and
/// `Copy`, so a fault can carry one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lists(u16);

impl Lists {
    pub fn of(kinds: &[ListKind]) -> Lists {
        Lists(kinds.iter().fold(0, |bits, k| bits | Self::bit(*k)))
    }

    fn bit(kind: ListKind) -> u16 {
        1 << ListKind::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("listed")
    }

    /// `revenues,tasks`: at least one list, each known.
    pub fn parse(text: &str) -> Result<Lists, String> {
        let kinds = text
            .split(',')
            .map(|s| ListKind::parse(s.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        match Lists::of(&kinds) {
            Lists(0) => Err("names no list".to_string()),
            lists => Ok(lists),
        }
    }

    /// The lists, in key order.
    pub fn kinds(self) -> Vec<ListKind> {
        ListKind::ALL
            .into_iter()
            .filter(|k| self.0 & Self::bit(*k) != 0)
            .collect()
    }
}

/// The property part of a page's query keys: one property, or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    All,
    Property(u32),
}

impl Filter {
    pub fn of(property: Option<u32>) -> Filter {
        property.map_or(Filter::All, Filter::Property)
    }

    pub fn property(self) -> Option<u32> {
        match self {
            Filter::All => None,
            Filter::Property(p) => Some(p),
        }
    }

    /// Whether an event or row of `property` is in it.
    pub fn admits(self, property: u32) -> bool {
        self.property().is_none_or(|p| p == property)
    }
}

/// A derived aggregate of a page (U3), for the page's org and property.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateKind {
    /// Revenues less expenses, in cents.
    ProfitLoss,
    /// How many expenses wait for approval.
    DailyApproval,
    /// How many tasks due today are still open.
    TodayPending,
    /// A report range: revenues less expenses dated `to`..=`from` days ago.
    Report { from: u32, to: u32 },
}

impl AggregateKind {
    /// The name a scenario uses: `profit-loss`, `daily-approval`,
    /// `today-pending`, `report:<from>-<to>` (days ago, oldest first).
    pub fn parse(name: &str) -> Result<AggregateKind, String> {
        let bad = || {
            format!(
                "unknown aggregate {name:?}; known: profit-loss, daily-approval, today-pending, \
                 report:<from>-<to> (days ago, {OLDEST_DAY} down to 0)"
            )
        };
        Ok(match name {
            "profit-loss" => AggregateKind::ProfitLoss,
            "daily-approval" => AggregateKind::DailyApproval,
            "today-pending" => AggregateKind::TodayPending,
            _ => {
                let range = name.strip_prefix("report:").ok_or_else(bad)?;
                let (from, to) = range.split_once('-').ok_or_else(bad)?;
                let day = |s: &str| s.parse::<u32>().ok().filter(|d| *d <= OLDEST_DAY);
                match (day(from), day(to)) {
                    (Some(from), Some(to)) if from >= to => AggregateKind::Report { from, to },
                    _ => return Err(bad()),
                }
            }
        })
    }

    pub fn is_profit_loss(&self) -> bool {
        *self == AggregateKind::ProfitLoss
    }

    /// Whether `row` (as an event leaves it, or as it was) counts in this
    /// aggregate; an event about such a row invalidates it.
    pub fn depends_on(self, row: &Row) -> bool {
        let money = matches!(row.entity_type, EntityType::Revenue | EntityType::Expense);
        match self {
            AggregateKind::ProfitLoss => money,
            AggregateKind::DailyApproval => row.entity_type == EntityType::Expense,
            AggregateKind::TodayPending => row.entity_type == EntityType::Task && row.days_ago == 0,
            AggregateKind::Report { from, to } => money && (to..=from).contains(&row.days_ago),
        }
    }
}

impl fmt::Display for AggregateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregateKind::ProfitLoss => f.write_str("profit-loss"),
            AggregateKind::DailyApproval => f.write_str("daily-approval"),
            AggregateKind::TodayPending => f.write_str("today-pending"),
            AggregateKind::Report { from, to } => write!(f, "report:{from}-{to}"),
        }
    }
}

/// The queries a page shows. The default is the finance page as the seeds
/// first shipped it: the revenues list, and no aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub lists: Vec<ListKind>,
    pub aggregates: Vec<AggregateKind>,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            lists: vec![ListKind::Revenues],
            aggregates: Vec::new(),
        }
    }
}

/// A query key as React Query prints it, e.g. `['revenues', 3, 1]`.
pub fn list_key(kind: ListKind, org: u32, property: Option<u32>) -> String {
    match property {
        Some(p) => format!("['{}', {org}, {p}]", kind.name()),
        None => format!("['{}', {org}]", kind.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(entity_type: EntityType, days_ago: u32, pending: bool, amount_cents: i64) -> Row {
        crate::event::sample_row(1, entity_type, days_ago, pending, amount_cents)
    }

    #[test]
    fn each_aggregate_depends_on_the_rows_it_counts() {
        let revenue_today = row(EntityType::Revenue, 0, false, 500);
        let revenue_3_days_ago = row(EntityType::Revenue, 3, false, 200);
        let expense = row(EntityType::Expense, 5, false, 30);
        let task_today = row(EntityType::Task, 0, true, 0);
        let task_tomorrow = row(EntityType::Task, 1, true, 0);
        let today = AggregateKind::Report { from: 0, to: 0 };
        let week = AggregateKind::Report { from: 6, to: 0 };
        let cases = [
            (AggregateKind::ProfitLoss, &expense, true),
            (AggregateKind::ProfitLoss, &task_today, false),
            (AggregateKind::DailyApproval, &expense, true),
            (AggregateKind::DailyApproval, &revenue_today, false),
            (AggregateKind::TodayPending, &task_today, true),
            (AggregateKind::TodayPending, &task_tomorrow, false),
            (today, &revenue_today, true),
            (today, &revenue_3_days_ago, false),
            (week, &expense, true),
            (week, &task_today, false),
        ];
        for (kind, r, depends) in cases {
            assert_eq!(kind.depends_on(r), depends, "{kind} on {r:?}");
        }
    }

    #[test]
    fn names_round_trip_and_bad_ones_are_refused() {
        for name in [
            "profit-loss",
            "daily-approval",
            "today-pending",
            "report:6-0",
            "report:0-0",
        ] {
            assert_eq!(AggregateKind::parse(name).unwrap().to_string(), name);
        }
        for bad in ["report:0-6", "report:9-0", "report:", "loss"] {
            assert!(AggregateKind::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ListKind::parse("tasks"), Ok(ListKind::Tasks));
        assert!(ListKind::parse("staff").is_err());
        let lists = Lists::parse("tasks,revenues").unwrap();
        assert_eq!(lists.kinds(), vec![ListKind::Revenues, ListKind::Tasks]);
        assert!(Lists::parse("").is_err());
        assert_eq!(
            list_key(ListKind::Revenues, 3, Some(1)),
            "['revenues', 3, 1]"
        );
    }
}
