//! Drivers: they move the nodes' messages and time, and apply the nemesis.

pub mod express;
pub mod nemesis;
pub mod turmoil_driver;
pub mod wire;

use crate::browser::BrowserNode;
use crate::check::history::{FinalState, TabFinal};
use crate::server::ServerNode;

/// What the checkers need from the nodes once a run ends; the same for every driver.
pub fn final_state<'a>(
    server: &ServerNode,
    browsers: impl IntoIterator<Item = &'a BrowserNode>,
) -> FinalState {
    FinalState {
        store: server.store_rows(),
        buffered: server.buffered(),
        tabs: browsers
            .into_iter()
            .flat_map(|b| b.tabs().iter())
            .map(|t| TabFinal {
                name: t.name().to_string(),
                org: t.cache.org,
                property: t.cache.property,
                rows: t.cache.rows(),
            })
            .collect(),
    }
}
