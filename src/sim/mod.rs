//! Drivers: they move the nodes' messages and time, and apply the nemesis.

pub mod express;
pub mod nemesis;
pub mod turmoil_driver;
pub mod wire;

use crate::browser::BrowserNode;
use crate::observation::{FinalState, History, TabFinal};
use crate::server::ServerNode;
use crate::time::SimTime;
use rustc_hash::FxHashMap; // determinism-ok: `Deadlines::of` is only probed
use std::collections::BTreeSet;

/// What a driver hands back once a run ends: the history and the final
/// state. Checking them is `run`'s business, not the driver's.
#[derive(Default)]
pub struct Finished {
    pub history: History,
    pub last: FinalState,
    /// What the driver dispatched (express only; turmoil's steps are its own).
    pub dispatched: Dispatched,
    /// The most events the server held, sampled each simulated second
    /// (express only: `rtsim compare`'s server memory).
    pub peak_held: crate::server::Held,
}

/// How many deliveries, deadlines and nemesis actions a run dispatched: the
/// load `rtsim bench` gives a bare event queue to measure express against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub deliveries: u64,
    pub deadlines: u64,
    pub actions: u64,
}

/// What the checkers need from the nodes once a run ends; the same for every
/// driver. A driver that owns its browsers hands them over, so each is freed
/// once its tabs are read rather than all of them outliving the copy.
pub fn final_state<B: std::borrow::Borrow<BrowserNode>>(
    server: &ServerNode,
    browsers: impl IntoIterator<Item = B>,
) -> FinalState {
    FinalState {
        store: server.store_rows(),
        buffered: server.buffered(),
        tabs: browsers
            .into_iter()
            .flat_map(|b| {
                b.borrow()
                    .live_tabs()
                    .map(|t| TabFinal {
                        name: t.name(),
                        org: t.cache.org,
                        property: t.cache.property,
                        lists: t.cache.shown(),
                        aggregates: t.aggregates(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
    }
}

/// The next deadline of each of many nodes, indexed by time, so a driver
/// finds the due ones without asking every node. A node's own deadline is
/// found by hash, in one probe where a tree of every node took a walk of
/// misses at 50,000 tabs; it is never walked, so its layout reaches nothing.
#[derive(Debug)]
pub struct Deadlines<K: Ord + Copy + std::hash::Hash> {
    by_time: BTreeSet<(SimTime, K)>,
    of: FxHashMap<K, SimTime>, // determinism-ok: probed by key, never walked
}

impl<K: Ord + Copy + std::hash::Hash> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            by_time: BTreeSet::new(),
            of: FxHashMap::default(), // determinism-ok: probed by key, never walked
        }
    }
}

impl<K: Ord + Copy + std::hash::Hash> Deadlines<K> {
    /// Record `key`'s next deadline (none: forget it).
    pub fn set(&mut self, key: K, at: Option<SimTime>) {
        // One lookup in `of` each time; the time index moves only when the
        // deadline does, which most inputs to a node leave where it was.
        let old = match at {
            Some(t) => self.of.insert(key, t),
            None => self.of.remove(&key),
        };
        if old == at {
            return;
        }
        if let Some(old) = old {
            self.by_time.remove(&(old, key));
        }
        if let Some(t) = at {
            self.by_time.insert((t, key));
        }
    }

    pub fn first(&self) -> Option<(SimTime, K)> {
        self.by_time.first().copied()
    }

    /// Take the earliest entry if it is due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<K> {
        let &(t, key) = self.by_time.first()?;
        if t > now {
            return None;
        }
        self.by_time.pop_first();
        self.of.remove(&key);
        Some(key)
    }
}
