//! The browser platform the tabs of one browser share (SPEC B1-B4): per-tab
//! views of localStorage with delayed propagation (B1), BroadcastChannel
//! (B2), Web Locks (B3), and tab lifecycle with timer throttling (B4).
//!
//! `Platform` is a sans-IO machine (`crate::machine`). What tabs ask of it
//! arrives as `PlatformInput::Effect`; what it owes them later (a `storage`
//! event, a channel message) sits in a delivery queue until `handle_timeout`
//! moves it into the event queue, which the browser drains with
//! `poll_output`. Tabs read it (their storage view, the switches, lifecycle)
//! through its `&self` methods. The random delays come from the seeded stream
//! passed to `new`, so one seed gives one interleaving of cross-tab effects.
//!
//! Choices made where real browsers leave room, each documented where it is
//! implemented:
//! - B1: a write reaches every other live tab's view separately, and a tab's
//!   view only ever moves forward in global write order (an older write that
//!   arrives after a newer one, including the tab's own, is dropped, as
//!   Chrome's cached storage area ignores remote changes to keys it has
//!   changed itself). Every `storage_set` propagates and fires events, even
//!   one that writes the value already there; browsers skip those, so a
//!   caller must not rely on a same-value write being either silent or seen.
//! - B1: a newly opened tab loads the browser's backing store, which holds the
//!   latest write to each key in global order, so it can see a write that an
//!   older tab has not seen yet.
//! - B4: a frozen tab's storage view keeps being updated (the data lives in
//!   the browser, not in the tab), but its events are held until it thaws;
//!   its channel messages too, unless the profile measured its `onmessage`
//!   running while frozen (Chromium's does), when they reach it as they come.
//!   A busy tab's (one in the middle of a CPU-throttled task) is not: its
//!   copy is updated by tasks on its own main thread, as measured.
//! - B5 (the network) is not here: latency, loss, partitions and aborts are
//!   between hosts, so they belong to the driver (turmoil). B4's
//!   CPU-throttled tab is shared: the browser node (`browser::node`) runs its
//!   tasks and queues its other inputs (network answers, lifecycle) behind
//!   them, and the platform holds what it owes a busy tab (`Busy`).

use super::profile::{FrozenChannel, PlatformProfile};
use crate::client::browser_api::{Effect, MessageData};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::seed::{jitter_ms, SimRng};
use crate::time::SimTime;
use litemap::LiteMap;
use std::collections::{BTreeMap, VecDeque};

/// A tab's position in its browser; tabs are never renumbered, so a closed
/// tab keeps its index and new tabs get the next one.
pub type TabIndex = usize;

#[derive(Clone, Debug, PartialEq)]
pub struct PlatformConfig {
    pub storage_propagation_min_ms: u64,
    /// Another tab sees a localStorage write at most this much later.
    pub storage_propagation_max_ms: u64,
    pub broadcast_delay_min_ms: u64,
    pub broadcast_delay_max_ms: u64,
    /// B2: BroadcastChannel may be unavailable (older browsers).
    pub broadcast_enabled: bool,
    /// B3: Web Locks may be unavailable.
    pub locks_enabled: bool,
    /// B4: a page the user navigates away from enters the back-forward
    /// cache (frozen and hidden, keeping its Web Locks) rather than unloading.
    pub bfcache: bool,
    /// B4: a hidden tab's timers fire at least this far apart.
    pub hidden_timer_min_interval_ms: u64,
    /// B4: once hidden this long, a tab is intensively throttled...
    pub intensive_throttle_after_ms: u64,
    /// ...and its timers fire only on this grid, counted from when it was hidden.
    pub intensive_timer_interval_ms: u64,
    /// The timing followed: the `*_min_ms`/`*_max_ms` above (idealised), or a
    /// measured browser's (`profile`), which then sets the delays, the lock
    /// release and the hidden-timer interval instead.
    pub profile: PlatformProfile,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            storage_propagation_min_ms: 1,
            storage_propagation_max_ms: 30,
            broadcast_delay_min_ms: 0,
            broadcast_delay_max_ms: 5,
            broadcast_enabled: true,
            locks_enabled: true,
            bfcache: true,
            hidden_timer_min_interval_ms: 1000,
            intensive_throttle_after_ms: 5 * 60 * 1000,
            intensive_timer_interval_ms: 60 * 1000,
            profile: PlatformProfile::chromium(),
        }
    }
}

/// What reaches the platform: the tabs' effects, lifecycle changes, the switches.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformInput {
    /// What tab `tab`'s machines asked of the browser.
    Effect { tab: TabIndex, effect: Effect },
    /// B4: tab `tab` changes lifecycle.
    Lifecycle { tab: TabIndex, change: TabChange },
    /// A new visible tab opens; its index is the number of tabs before it.
    Open,
    /// BroadcastChannel (B2) becomes available, or goes away.
    Broadcast(bool),
    /// `navigator.locks` (B3) becomes available, or goes away.
    Locks(bool),
    /// A timer of `tab` fired, for the hidden-tab spacing (B4).
    TimerFired { tab: TabIndex },
    /// B4: `tab`'s main thread is taken by a task (`true`), or free again.
    /// What reaches a busy tab waits until it is free: its events, as a
    /// frozen tab's do, and the writes themselves, unapplied, since a
    /// renderer's copy of localStorage is updated by tasks on that thread
    /// (the probe's `busy_tab` saw the write and the message only as its
    /// task ended).
    Busy { tab: TabIndex, busy: bool },
}

/// A lifecycle change of one tab (B4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabChange {
    Hide,
    Show,
    Freeze,
    Thaw,
    Close,
    Crash,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformEvent {
    /// B1: another tab's write reached this tab's view (a `storage` event).
    /// Never fired for the writer itself.
    Storage {
        tab: TabIndex,
        key: String,
        value: Option<String>,
    },
    /// B2: a BroadcastChannel message; never delivered to its sender; in
    /// order per sender.
    Message {
        tab: TabIndex,
        channel: String,
        from: TabIndex,
        data: MessageData,
    },
    /// B3: `tab` now holds lock `name`.
    LockGranted { tab: TabIndex, name: String },
}

impl PlatformEvent {
    /// The tab the event is for.
    pub fn tab(&self) -> TabIndex {
        match self {
            PlatformEvent::Storage { tab, .. }
            | PlatformEvent::Message { tab, .. }
            | PlatformEvent::LockGranted { tab, .. } => *tab,
        }
    }
}

/// B4: where a tab is in its life. Frozen remembers when the tab was hidden,
/// so that a tab thawed back into the background keeps counting its hidden
/// time toward intensive throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Visible,
    Hidden { since: SimTime },
    Frozen { hidden_since: Option<SimTime> },
    Closed,
    Crashed,
}

impl Lifecycle {
    /// Open and not frozen: the tab runs code.
    pub fn is_running(self) -> bool {
        matches!(self, Lifecycle::Visible | Lifecycle::Hidden { .. })
    }

    /// Frozen: it runs nothing (under a measured profile, its channel handler only).
    pub fn is_frozen(self) -> bool {
        matches!(self, Lifecycle::Frozen { .. })
    }

    /// Closed or crashed: the tab will never run again.
    pub fn is_gone(self) -> bool {
        matches!(self, Lifecycle::Closed | Lifecycle::Crashed)
    }
}

/// Something a tab is owed at a later time.
#[derive(Clone, Debug)]
enum Delivery {
    Storage {
        dest: TabIndex,
        key: String,
        value: Option<String>,
        /// Position of the write in global write order.
        write: u64,
    },
    Message {
        dest: TabIndex,
        channel: String,
        from: TabIndex,
        data: MessageData,
    },
    /// B3, measured: the lock manager lets go of a gone tab's lock.
    Release { tab: TabIndex, name: String },
}

#[derive(Debug)]
struct TabState {
    lifecycle: Lifecycle,
    /// This tab's view of localStorage.
    view: LiteMap<String, String>,
    /// The global write number of the last write (set or remove) applied to
    /// each key of the view, so an older write arriving late cannot undo it.
    applied: LiteMap<String, u64>,
    last_timer_fire: Option<SimTime>,
    /// Events that came due while the tab was frozen or busy, in order.
    held: VecDeque<PlatformEvent>,
    /// The main thread is taken by a task (B4, CPU-throttled).
    busy: bool,
    /// Writes (number, key, value) that reached the tab while it was busy,
    /// applied when it is free.
    deferred: VecDeque<(u64, String, Option<String>)>,
}

impl TabState {
    fn new(view: LiteMap<String, String>, applied: LiteMap<String, u64>) -> Self {
        TabState {
            lifecycle: Lifecycle::Visible,
            view,
            applied,
            last_timer_fire: None,
            held: VecDeque::new(),
            busy: false,
            deferred: VecDeque::new(),
        }
    }

    /// Apply write number `write` to this view unless a later one is already there.
    fn apply(&mut self, write: u64, key: &str, value: Option<String>) -> bool {
        // The key is nearly always there already: update in place, not re-key.
        match self.applied.get_mut(key) {
            Some(w) if *w >= write => return false,
            Some(w) => *w = write,
            None => {
                self.applied.insert(key.to_string(), write);
            }
        }
        match (value, self.view.get_mut(key)) {
            (Some(v), Some(held)) => *held = v,
            (Some(v), None) => {
                self.view.insert(key.to_string(), v);
            }
            (None, _) => {
                self.view.remove(key);
            }
        }
        true
    }
}

#[derive(Debug, Default)]
struct LockState {
    holder: Option<TabIndex>,
    waiters: VecDeque<TabIndex>,
}

pub struct Platform {
    config: PlatformConfig,
    mutant: Option<Mutant>,
    rng: SimRng,
    tabs: Vec<TabState>,
    /// The browser's backing store: the latest write to each key in global
    /// order (its number and value, `None` once removed). A newly opened tab
    /// starts from it.
    backing: BTreeMap<String, (u64, Option<String>)>,
    next_write: u64,
    /// Pending deliveries by (due time, insertion number); the insertion
    /// number breaks ties in the order things were sent.
    deliveries: BTreeMap<(SimTime, u64), Delivery>,
    next_delivery: u64,
    /// Latest scheduled delivery per key and destination, so a later write is
    /// never scheduled before an earlier one to the same tab (B1).
    storage_last_due: BTreeMap<String, LiteMap<TabIndex, SimTime>>,
    /// Latest scheduled delivery per (sender, receiver), for B2's per-sender order.
    message_last_due: BTreeMap<(TabIndex, TabIndex), SimTime>,
    /// Measured profile: until when (ns) each receiver is busy with channel messages.
    channel_busy_ns: BTreeMap<TabIndex, u64>,
    locks: BTreeMap<String, LockState>,
    events: VecDeque<PlatformEvent>,
}

impl Platform {
    /// A browser with `tabs` tabs, all open and visible, and empty storage.
    pub fn new(config: PlatformConfig, tabs: usize, rng: SimRng, mutant: Option<Mutant>) -> Self {
        Platform {
            config,
            mutant,
            rng,
            tabs: (0..tabs)
                .map(|_| TabState::new(LiteMap::new(), LiteMap::new()))
                .collect(),
            backing: BTreeMap::new(),
            next_write: 0,
            deliveries: BTreeMap::new(),
            next_delivery: 0,
            storage_last_due: BTreeMap::new(),
            message_last_due: BTreeMap::new(),
            channel_busy_ns: BTreeMap::new(),
            locks: BTreeMap::new(),
            events: VecDeque::new(),
        }
    }

    /// B4 measured: a frozen tab's BroadcastChannel handler runs while it
    /// is frozen (`None`: a frozen tab runs nothing, the idealised rule).
    pub fn frozen_channel(&self) -> Option<FrozenChannel> {
        self.config.profile.measured().and_then(|m| m.frozen)
    }

    /// B4 measured: freezing a visible tab hides it first.
    pub fn freeze_hides(&self) -> bool {
        self.config
            .profile
            .measured()
            .is_some_and(|m| m.freeze_hides)
    }

    pub fn config(&self) -> &PlatformConfig {
        &self.config
    }

    /// How many tabs were ever opened, closed ones included.
    pub fn tab_count(&self) -> usize {
        self.tabs.len()
    }

    /// Turning broadcast off refuses new messages; ones already posted still
    /// arrive, as they would in a browser whose channel object went away
    /// after the post.
    fn set_broadcast_enabled(&mut self, on: bool) {
        self.config.broadcast_enabled = on;
    }

    /// Turning locks off refuses new requests; locks already held and
    /// requests already queued are left as they are, so a holder still
    /// releases normally.
    fn set_locks_enabled(&mut self, on: bool) {
        self.config.locks_enabled = on;
    }

    fn tab(&self, tab: TabIndex) -> &TabState {
        self.tabs
            .get(tab)
            .unwrap_or_else(|| panic!("tab {tab} does not exist ({} tabs)", self.tabs.len()))
    }

    fn tab_mut(&mut self, tab: TabIndex) -> &mut TabState {
        let count = self.tabs.len();
        self.tabs
            .get_mut(tab)
            .unwrap_or_else(|| panic!("tab {tab} does not exist ({count} tabs)"))
    }

    fn schedule(&mut self, due: SimTime, delivery: Delivery) {
        self.next_delivery += 1;
        self.deliveries.insert((due, self.next_delivery), delivery);
    }

    // ---- B1 localStorage -------------------------------------------------

    /// What `tab` reads for `key` now, from its own view.
    pub fn storage_get(&self, tab: TabIndex, key: &str) -> Option<String> {
        self.tab(tab).view.get(key).cloned()
    }

    /// `setItem` (`Some`) or `removeItem` (`None`) by `tab`. The writer's view
    /// changes at once; every other tab that is not gone gets it after its
    /// own seeded delay. A tab that cannot act (`can_act`) cannot write, so
    /// a call for one is ignored.
    fn storage_set(&mut self, now: SimTime, tab: TabIndex, key: &str, value: Option<String>) {
        if !self.can_act(tab) {
            return;
        }
        self.next_write += 1;
        let write = self.next_write;
        self.tab_mut(tab).apply(write, key, value.clone());
        match self.backing.get_mut(key) {
            Some(held) => *held = (write, value.clone()),
            None => {
                self.backing.insert(key.to_string(), (write, value.clone()));
            }
        }
        if self.tabs.len() > 1 && fires(self.mutant, Mutant::StorageWriteLost) {
            // The bug: the write stays in the writer's view and the backing store.
            return;
        }
        // The key is copied once, when it is new, not once per destination per write.
        if !self.storage_last_due.contains_key(key) {
            self.storage_last_due
                .insert(key.to_string(), LiteMap::new());
        }
        for dest in 0..self.tabs.len() {
            if dest == tab || self.tabs[dest].lifecycle.is_gone() {
                continue;
            }
            let drawn = now + self.storage_delay_ms();
            // A later write must not overtake an earlier one to the same tab,
            // or that tab would see the key go back in time and emit events
            // out of write order. Ties are broken by insertion order.
            let last_due = self.storage_last_due.get_mut(key).expect("made above");
            let due = drawn.max(last_due.get(&dest).copied().unwrap_or_default());
            last_due.insert(dest, due);
            self.schedule(
                due,
                Delivery::Storage {
                    dest,
                    key: key.to_string(),
                    value: value.clone(),
                    write,
                },
            );
        }
    }

    /// B1: how long a write takes to reach another tab.
    fn storage_delay_ms(&mut self) -> u64 {
        match self.config.profile.measured() {
            None => {
                let c = &self.config;
                let (lo, hi) = (c.storage_propagation_min_ms, c.storage_propagation_max_ms);
                jitter_ms(&mut self.rng, lo, hi)
            }
            Some(m) => m.storage.draw_ms(&mut self.rng),
        }
    }

    // ---- B2 BroadcastChannel ---------------------------------------------

    /// When a message posted now reaches tab `dest`. Measured, the receiver
    /// handles messages one at a time at the profile's cost each, so a burst
    /// queues there (probe's `broadcast_channel_burst`).
    fn message_arrival(&mut self, now: SimTime, dest: TabIndex) -> SimTime {
        let Some(m) = self.config.profile.measured() else {
            let c = &self.config;
            let (lo, hi) = (c.broadcast_delay_min_ms, c.broadcast_delay_max_ms);
            return now + jitter_ms(&mut self.rng, lo, hi);
        };
        let cost = m.channel_per_message_ns;
        let arrives = now.as_ms() * 1_000_000 + m.channel.draw_ns(&mut self.rng);
        let busy = self.channel_busy_ns.entry(dest).or_default();
        let handled = arrives.max(*busy + cost);
        *busy = handled;
        SimTime((handled + 500_000) / 1_000_000)
    }

    /// Post `data` on `channel`. Returns false, sending nothing, when
    /// broadcast is unavailable or the sender cannot act. Every other
    /// tab that is not gone receives it after a seeded delay, in order per
    /// (sender, receiver). Receivers filter by channel themselves.
    fn broadcast(
        &mut self,
        now: SimTime,
        from: TabIndex,
        channel: &str,
        data: MessageData,
    ) -> bool {
        if !self.config.broadcast_enabled || !self.can_act(from) {
            return false;
        }
        if self.tabs.len() > 1 && fires(self.mutant, Mutant::BroadcastLost) {
            // The bug: the post "succeeds" and goes nowhere.
            return true;
        }
        for dest in 0..self.tabs.len() {
            if dest == from || self.tabs[dest].lifecycle.is_gone() {
                continue;
            }
            let drawn = self.message_arrival(now, dest);
            let last = self.message_last_due.entry((from, dest)).or_default();
            let due = drawn.max(*last);
            *last = due;
            self.schedule(
                due,
                Delivery::Message {
                    dest,
                    channel: channel.to_string(),
                    from,
                    data: data.clone(),
                },
            );
        }
        true
    }

    // ---- B3 Web Locks ----------------------------------------------------

    /// Ask for the exclusive lock `name`. Returns false when locks are
    /// unavailable or the tab cannot act. Otherwise the request is
    /// queued FIFO, and a `LockGranted` event follows when the tab gets the
    /// lock (at once if it is free). As with `navigator.locks.request`, a tab
    /// asking again for a lock it holds or waits for queues a second request
    /// behind the first; it does not get the lock twice.
    fn lock_request(&mut self, _now: SimTime, tab: TabIndex, name: &str) -> bool {
        if !self.config.locks_enabled || !self.can_act(tab) {
            return false;
        }
        let lock = self.locks.entry(name.to_string()).or_default();
        lock.waiters.push_back(tab);
        self.grant_next(name);
        true
    }

    /// The holder releases `name`, and the next waiter gets it. A tab that
    /// only waits for `name` withdraws its oldest request instead (an
    /// `AbortSignal` on the request). Anything else is a no-op.
    fn lock_release(&mut self, _now: SimTime, tab: TabIndex, name: &str) {
        let Some(lock) = self.locks.get_mut(name) else {
            return;
        };
        if lock.holder == Some(tab) {
            lock.holder = None;
        } else if let Some(i) = lock.waiters.iter().position(|w| *w == tab) {
            lock.waiters.remove(i);
        }
        self.grant_next(name);
    }

    pub fn lock_holder(&self, name: &str) -> Option<TabIndex> {
        self.locks.get(name).and_then(|l| l.holder)
    }

    /// The tabs waiting for `name`, first in line first.
    pub fn lock_waiters(&self, name: &str) -> Vec<TabIndex> {
        self.locks
            .get(name)
            .map(|l| l.waiters.iter().copied().collect())
            .unwrap_or_default()
    }

    fn grant_next(&mut self, name: &str) {
        let Some(lock) = self.locks.get_mut(name) else {
            return;
        };
        if lock.holder.is_none() {
            if let Some(next) = lock.waiters.pop_front() {
                lock.holder = Some(next);
                self.events.push_back(PlatformEvent::LockGranted {
                    tab: next,
                    name: name.to_string(),
                });
            }
        }
        if lock.holder.is_none() && lock.waiters.is_empty() {
            self.locks.remove(name);
        }
    }

    // ---- B4 lifecycle ----------------------------------------------------

    pub fn lifecycle(&self, tab: TabIndex) -> Lifecycle {
        self.tab(tab).lifecycle
    }

    /// Open and not frozen.
    pub fn is_running(&self, tab: TabIndex) -> bool {
        self.tab(tab).lifecycle.is_running()
    }

    /// Whether what `tab` does takes effect: it runs, or it is frozen and
    /// the profile says its channel handler still runs (whose writes, posts
    /// and lock requests are the only things a frozen tab can do).
    fn can_act(&self, tab: TabIndex) -> bool {
        match self.tab(tab).lifecycle {
            Lifecycle::Frozen { .. } => self.frozen_channel().is_some(),
            other => other.is_running(),
        }
    }

    /// The tab goes to the background. A frozen tab that was visible notes
    /// when it was hidden, for when it thaws.
    fn hide(&mut self, now: SimTime, tab: TabIndex) {
        let t = self.tab_mut(tab);
        t.lifecycle = match t.lifecycle {
            Lifecycle::Visible => Lifecycle::Hidden { since: now },
            Lifecycle::Frozen { hidden_since: None } => Lifecycle::Frozen {
                hidden_since: Some(now),
            },
            other => other,
        };
    }

    /// The tab comes to the foreground. Browsers resume a frozen tab the user
    /// switches to, so showing a frozen tab thaws it first.
    fn show(&mut self, now: SimTime, tab: TabIndex) {
        self.thaw(now, tab);
        let t = self.tab_mut(tab);
        if let Lifecycle::Hidden { .. } = t.lifecycle {
            t.lifecycle = Lifecycle::Visible;
        }
    }

    /// The tab stops running anything. Its events are held, not lost, and
    /// its storage view keeps being updated.
    fn freeze(&mut self, _now: SimTime, tab: TabIndex) {
        let mutant = self.mutant;
        let t = self.tab_mut(tab);
        if t.lifecycle.is_running() && fires(mutant, Mutant::FreezeIgnored) {
            return;
        }
        t.lifecycle = match t.lifecycle {
            Lifecycle::Visible => Lifecycle::Frozen { hidden_since: None },
            Lifecycle::Hidden { since } => Lifecycle::Frozen {
                hidden_since: Some(since),
            },
            other => other,
        };
    }

    /// The tab runs again, in the visibility it was frozen in; the events
    /// held for it come out next, in order.
    fn thaw(&mut self, _now: SimTime, tab: TabIndex) {
        let t = self.tab_mut(tab);
        let Lifecycle::Frozen { hidden_since } = t.lifecycle else {
            return;
        };
        t.lifecycle = match hidden_since {
            Some(since) => Lifecycle::Hidden { since },
            None => Lifecycle::Visible,
        };
        self.unhold(tab);
    }

    /// The events held for `tab` come out next. Everything held is older than
    /// anything of its still in the queue, so the front keeps its order.
    fn unhold(&mut self, tab: TabIndex) {
        let held = std::mem::take(&mut self.tab_mut(tab).held);
        for e in held.into_iter().rev() {
            self.events.push_front(e);
        }
    }

    /// The tab closes: its locks are released and its queued requests
    /// dropped, and nothing more reaches it. A goodbye (`pagehide`) is the
    /// caller's to send before calling this.
    fn close(&mut self, now: SimTime, tab: TabIndex) {
        self.end(now, tab, Lifecycle::Closed);
    }

    /// The tab's process dies: as `close` for the platform, but the caller
    /// must not send a goodbye first.
    fn crash(&mut self, now: SimTime, tab: TabIndex) {
        self.end(now, tab, Lifecycle::Crashed);
    }

    /// The tab is gone: nothing more reaches it, its lock requests are
    /// dropped and its locks released, at once (idealised) or after the
    /// profile's measured delay for a close or a crash.
    fn end(&mut self, now: SimTime, tab: TabIndex, how: Lifecycle) {
        let t = self.tab_mut(tab);
        if t.lifecycle.is_gone() {
            return;
        }
        t.lifecycle = how;
        t.held.clear();
        t.busy = false;
        t.deferred.clear();
        self.events.retain(|e| e.tab() != tab);
        self.deliveries.retain(|_, d| match d {
            Delivery::Storage { dest, .. } | Delivery::Message { dest, .. } => *dest != tab,
            Delivery::Release { .. } => true,
        });
        let names: Vec<String> = self.locks.keys().cloned().collect();
        let holds = names.iter().any(|n| self.lock_holder(n) == Some(tab));
        if how == Lifecycle::Crashed && holds && fires(self.mutant, Mutant::CrashKeepsLocks) {
            // The bug: the lock manager never hears that the holder died.
            return;
        }
        let release_after = self.config.profile.measured().map(|m| match how {
            Lifecycle::Crashed => m.lock_release_crash.clone(),
            _ => m.lock_release_close.clone(),
        });
        for name in names {
            let lock = self.locks.get_mut(&name).expect("key listed above");
            lock.waiters.retain(|w| *w != tab);
            match &release_after {
                Some(delay) if lock.holder == Some(tab) => {
                    let due = now + delay.draw_ms(&mut self.rng);
                    self.schedule(due, Delivery::Release { tab, name });
                }
                _ => self.release_held(tab, &name),
            }
        }
    }

    /// `tab`, gone, no longer holds `name`: the next waiter gets it.
    fn release_held(&mut self, tab: TabIndex, name: &str) {
        if let Some(lock) = self.locks.get_mut(name) {
            if lock.holder == Some(tab) {
                lock.holder = None;
            }
        }
        self.grant_next(name);
    }

    /// Open a new visible tab; returns its index. Its view is a copy of the
    /// browser's backing store (the latest write to every key in global
    /// order), as a freshly loaded page reads it; it gets no events for
    /// writes made before it opened.
    fn open_tab(&mut self, _now: SimTime) -> TabIndex {
        let applied = self
            .backing
            .iter()
            .map(|(k, (w, _))| (k.clone(), *w))
            .collect();
        let view = self
            .backing
            .iter()
            .filter_map(|(k, (_, v))| v.clone().map(|v| (k.clone(), v)))
            .collect();
        self.tabs.push(TabState::new(view, applied));
        self.tabs.len() - 1
    }

    // ---- B4 timer throttling ---------------------------------------------

    /// When a timer `tab` set to fire at `requested` actually fires, given
    /// the tab's lifecycle now. Visible: on time. Hidden: at least
    /// `hidden_timer_min_interval_ms` after the tab's previous timer fire
    /// (measured: the profile's interval, on a grid every hidden tab shares),
    /// and, if by then it has been hidden longer than
    /// `intensive_throttle_after_ms`, on the next point of the
    /// `intensive_timer_interval_ms` grid counted from when it was hidden
    /// (measured, if the profile has it: hidden longer than its threshold,
    /// its period after the tab's previous fire).
    /// Frozen or gone: never (`None`). The answer holds only while the
    /// lifecycle does not change, so callers ask again after a change.
    pub fn timer_fire_time(&self, tab: TabIndex, requested: SimTime) -> Option<SimTime> {
        let t = self.tab(tab);
        match t.lifecycle {
            Lifecycle::Visible => Some(requested),
            Lifecycle::Hidden { since } => {
                let measured = self.config.profile.measured();
                let interval = measured.map_or(self.config.hidden_timer_min_interval_ms, |m| {
                    m.hidden_interval_ms
                });
                let mut at = requested;
                if let Some(last) = t.last_timer_fire {
                    at = at.max(last + interval);
                }
                if measured.is_some_and(|m| m.hidden_grid) {
                    // Chromium wakes hidden tabs on one grid for all of them.
                    at = SimTime(at.as_ms().div_ceil(interval) * interval);
                }
                let hidden_for = at.since(since);
                if let Some(i) = measured.and_then(|m| m.intensive) {
                    // Measured: once a period after the previous fire.
                    if hidden_for > i.after_ms {
                        let last = t.last_timer_fire.unwrap_or(since + i.after_ms);
                        at = at.max(last + i.interval_ms);
                    }
                    return Some(at);
                }
                let grid = self.config.intensive_timer_interval_ms;
                if hidden_for > self.config.intensive_throttle_after_ms && grid > 0 {
                    at = since + hidden_for.div_ceil(grid) * grid;
                }
                Some(at)
            }
            Lifecycle::Frozen { .. } | Lifecycle::Closed | Lifecycle::Crashed => None,
        }
    }

    /// Record that a timer of `tab` fired at `at`, for the hidden-tab spacing.
    fn note_timer_fired(&mut self, tab: TabIndex, at: SimTime) {
        let t = self.tab_mut(tab);
        t.last_timer_fire = Some(t.last_timer_fire.map_or(at, |last| last.max(at)));
    }

    // ---- drive loop ------------------------------------------------------

    /// Deliver everything due by `now`: storage writes update the receiving
    /// tab's view (frozen tabs included; a busy one's once it is free) and
    /// queue a `Storage` event; messages queue a `Message` event.
    fn deliver_due(&mut self, now: SimTime) {
        while let Some(entry) = self.deliveries.first_entry() {
            if entry.key().0 > now {
                break;
            }
            match entry.remove() {
                Delivery::Storage {
                    dest,
                    key,
                    value,
                    write,
                } => {
                    let t = &mut self.tabs[dest];
                    if t.lifecycle.is_gone() {
                        continue;
                    }
                    if t.busy {
                        t.deferred.push_back((write, key, value));
                        continue;
                    }
                    self.apply_storage(dest, write, key, value);
                }
                Delivery::Message {
                    dest,
                    channel,
                    from,
                    data,
                } => {
                    if self.tabs[dest].lifecycle.is_gone() {
                        continue;
                    }
                    self.events.push_back(PlatformEvent::Message {
                        tab: dest,
                        channel,
                        from,
                        data,
                    });
                }
                Delivery::Release { tab, name } => self.release_held(tab, &name),
            }
        }
    }

    /// A write reaches `tab`'s view. One older than what the view already
    /// holds (the tab's own later write) is superseded: no change, no event.
    fn apply_storage(&mut self, tab: TabIndex, write: u64, key: String, value: Option<String>) {
        if self.tabs[tab].apply(write, &key, value.clone()) {
            self.events
                .push_back(PlatformEvent::Storage { tab, key, value });
        }
    }

    /// B4: `tab`'s main thread is taken, or free again; once free, the
    /// events held for it come out next, then the writes that waited reach
    /// its view, each in the order it arrived.
    fn set_busy(&mut self, tab: TabIndex, busy: bool) {
        let t = self.tab_mut(tab);
        if t.lifecycle.is_gone() || t.busy == busy {
            return;
        }
        t.busy = busy;
        if !busy {
            self.unhold(tab);
            for (write, key, value) in std::mem::take(&mut self.tabs[tab].deferred) {
                self.apply_storage(tab, write, key, value);
            }
        }
    }

    /// The next event for a running tab; drain until `None`. Events for a
    /// frozen or busy tab are held for its thaw or its task's end, except
    /// that a frozen tab still gets its channel messages if the profile says
    /// its `onmessage` runs (`frozen_channel`); those for a gone tab are dropped.
    fn next_event(&mut self) -> Option<PlatformEvent> {
        let frozen_hears = self.frozen_channel().is_some();
        while let Some(e) = self.events.pop_front() {
            let t = &mut self.tabs[e.tab()];
            match t.lifecycle {
                Lifecycle::Closed | Lifecycle::Crashed => {}
                _ if t.busy => t.held.push_back(e),
                Lifecycle::Visible | Lifecycle::Hidden { .. } => return Some(e),
                Lifecycle::Frozen { .. }
                    if frozen_hears && matches!(e, PlatformEvent::Message { .. }) =>
                {
                    return Some(e)
                }
                Lifecycle::Frozen { .. } => t.held.push_back(e),
            }
        }
        None
    }
}

impl Machine for Platform {
    type Input = PlatformInput;
    type Output = PlatformEvent;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: PlatformInput, _: &()) {
        match input {
            PlatformInput::Effect { tab, effect } => match effect {
                Effect::StorageSet { key, value } => self.storage_set(now, tab, &key, value),
                Effect::Broadcast { channel, data } => {
                    self.broadcast(now, tab, &channel, data);
                }
                Effect::LockRequest { name } => {
                    self.lock_request(now, tab, &name);
                }
                Effect::LockRelease { name } => self.lock_release(now, tab, &name),
            },
            PlatformInput::Lifecycle { tab, change } => match change {
                TabChange::Hide => self.hide(now, tab),
                TabChange::Show => self.show(now, tab),
                TabChange::Freeze => self.freeze(now, tab),
                TabChange::Thaw => self.thaw(now, tab),
                TabChange::Close => self.close(now, tab),
                TabChange::Crash => self.crash(now, tab),
            },
            PlatformInput::Open => {
                self.open_tab(now);
            }
            PlatformInput::Broadcast(on) => self.set_broadcast_enabled(on),
            PlatformInput::Locks(on) => self.set_locks_enabled(on),
            PlatformInput::TimerFired { tab } => self.note_timer_fired(tab, now),
            PlatformInput::Busy { tab, busy } => self.set_busy(tab, busy),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.deliver_due(now)
    }

    /// The next event for a running tab; drain until `None`.
    fn poll_output(&mut self) -> Option<PlatformEvent> {
        self.next_event()
    }

    /// When the next pending delivery comes due.
    fn poll_timeout(&self) -> Option<SimTime> {
        self.deliveries.keys().next().map(|(due, _)| *due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rng_for;

    /// These tests pin the idealised model's rules (the measured profile's
    /// timing has its own tests: tests/profile.rs).
    fn idealised() -> PlatformConfig {
        PlatformConfig {
            profile: PlatformProfile::Idealised,
            ..PlatformConfig::default()
        }
    }
    use proptest::prelude::*;

    fn platform(tabs: usize) -> Platform {
        Platform::new(idealised(), tabs, rng_for(7, "platform"), None)
    }

    fn drain(p: &mut Platform) -> Vec<PlatformEvent> {
        std::iter::from_fn(|| p.poll_output()).collect()
    }

    /// Deliver everything pending, whatever the delay, and return the events.
    fn settle(p: &mut Platform) -> Vec<PlatformEvent> {
        let mut out = Vec::new();
        while let Some(t) = p.poll_timeout() {
            p.handle_timeout(t, &());
            out.extend(drain(p));
        }
        out.extend(drain(p));
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn a_busy_tab_sees_writes_only_once_its_task_ends() {
        let mut p = platform(2);
        let busy = |busy| PlatformInput::Busy { tab: 1, busy };
        p.handle(SimTime(0), busy(true), &());
        p.storage_set(SimTime(10), 0, "lease", s("tab0"));
        p.storage_set(SimTime(20), 0, "other", s("x"));
        assert!(p.broadcast(SimTime(30), 0, "ch", "hi".into()));
        p.handle_timeout(SimTime(100), &());
        assert!(drain(&mut p).is_empty(), "no event while the task runs");
        assert_eq!(p.storage_get(1, "lease"), None, "its copy is a task stale");
        // Its own write at the task's end is newer than the one that waited.
        p.storage_set(SimTime(300), 1, "lease", s("tab1"));
        p.handle(SimTime(300), busy(false), &());
        assert_eq!(
            p.storage_get(1, "lease"),
            s("tab1"),
            "own later write stands"
        );
        assert_eq!(p.storage_get(1, "other"), s("x"));
        let message = PlatformEvent::Message {
            tab: 1,
            channel: "ch".into(),
            from: 0,
            data: "hi".into(),
        };
        let other = PlatformEvent::Storage {
            tab: 1,
            key: "other".into(),
            value: s("x"),
        };
        assert_eq!(
            drain(&mut p),
            vec![message, other],
            "held events first; the superseded write fires nothing"
        );
        settle(&mut p);
        assert_eq!(
            p.storage_get(0, "lease"),
            s("tab1"),
            "last write wins everywhere"
        );
    }

    #[test]
    fn storage_write_is_seen_by_the_writer_at_once_and_by_others_after_the_delay() {
        let mut p = platform(3);
        p.storage_set(SimTime(100), 0, "lease", s("tab0"));
        assert_eq!(p.storage_get(0, "lease"), s("tab0"));
        assert_eq!(p.storage_get(1, "lease"), None, "not propagated yet");
        assert_eq!(p.storage_get(2, "lease"), None);
        let first = p.poll_timeout().expect("deliveries pending");
        assert!(first >= SimTime(101) && first <= SimTime(130), "{first}");
        p.handle_timeout(SimTime(100), &()); // nothing is due at the write time
        assert!(drain(&mut p).is_empty());
        p.handle_timeout(SimTime(130), &());
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.storage_get(1, "lease"), s("tab0"));
        assert_eq!(p.storage_get(2, "lease"), s("tab0"));
        let mut events = drain(&mut p);
        events.sort_by_key(PlatformEvent::tab);
        assert_eq!(
            events,
            vec![
                PlatformEvent::Storage {
                    tab: 1,
                    key: "lease".into(),
                    value: s("tab0")
                },
                PlatformEvent::Storage {
                    tab: 2,
                    key: "lease".into(),
                    value: s("tab0")
                },
            ],
            "one event per other tab, none for the writer"
        );
        p.storage_set(SimTime(200), 1, "lease", None);
        assert_eq!(
            p.storage_get(1, "lease"),
            None,
            "removeItem is immediate locally"
        );
        assert_eq!(p.storage_get(0, "lease"), s("tab0"));
        settle(&mut p);
        assert_eq!(p.storage_get(0, "lease"), None);
    }

    #[test]
    fn read_check_write_on_a_key_races_across_tabs() {
        // The lease protocol a naive leader election would use: read the key,
        // and if it is empty, claim it. Both tabs check before either write
        // has propagated, so both claim it (B1: localStorage is not atomic).
        let mut p = platform(2);
        let now = SimTime(1_000);
        let mut claimed = Vec::new();
        for tab in 0..2 {
            if p.storage_get(tab, "leader").is_none() {
                p.storage_set(now, tab, "leader", Some(format!("tab{tab}")));
                claimed.push(tab);
            }
        }
        assert_eq!(claimed, vec![0, 1], "both saw an empty key and both wrote");
        assert_eq!(p.storage_get(0, "leader"), s("tab0"));
        assert_eq!(p.storage_get(1, "leader"), s("tab1"));
        let events = settle(&mut p);
        // Tab 1 wrote last, so tab 0's view converges to it; tab 0's older
        // write reaches tab 1 after tab 1's own and is dropped there.
        assert_eq!(p.storage_get(0, "leader"), s("tab1"));
        assert_eq!(p.storage_get(1, "leader"), s("tab1"));
        assert_eq!(
            events,
            vec![PlatformEvent::Storage {
                tab: 0,
                key: "leader".into(),
                value: s("tab1")
            }]
        );
    }

    #[test]
    fn later_writes_to_a_key_are_never_overtaken_in_any_tab() {
        // Wide jitter makes a later write draw an earlier time than an
        // earlier one often; across seeds, each tab must still see them in order.
        for seed in 0..50 {
            let config = PlatformConfig {
                storage_propagation_min_ms: 1,
                storage_propagation_max_ms: 1000,
                ..idealised()
            };
            let mut p = Platform::new(config, 3, rng_for(seed, "platform"), None);
            for i in 0..20u64 {
                p.storage_set(SimTime(i), 0, "k", Some(i.to_string()));
            }
            let events = settle(&mut p);
            for tab in 1..3 {
                let seen: Vec<u64> = events
                    .iter()
                    .filter(|e| e.tab() == tab)
                    .map(|e| match e {
                        PlatformEvent::Storage { value, .. } => {
                            value.as_ref().unwrap().parse().unwrap()
                        }
                        other => panic!("unexpected {other:?}"),
                    })
                    .collect();
                assert_eq!(seen, (0..20).collect::<Vec<_>>(), "seed {seed} tab {tab}");
                assert_eq!(p.storage_get(tab, "k"), s("19"));
            }
        }
    }

    #[test]
    fn an_older_write_arriving_late_does_not_undo_a_newer_local_one() {
        let mut p = platform(2);
        p.storage_set(SimTime(0), 0, "k", s("old"));
        p.storage_set(SimTime(0), 1, "k", s("new"));
        let events = settle(&mut p);
        assert_eq!(p.storage_get(1, "k"), s("new"));
        assert_eq!(p.storage_get(0, "k"), s("new"));
        assert!(
            !events.iter().any(|e| e.tab() == 1),
            "the superseded write fires no event: {events:?}"
        );
    }

    #[test]
    fn broadcasts_arrive_in_order_per_sender_and_never_at_the_sender() {
        let config = PlatformConfig {
            broadcast_delay_min_ms: 0,
            broadcast_delay_max_ms: 200,
            ..idealised()
        };
        for seed in 0..20 {
            let mut p = Platform::new(config.clone(), 3, rng_for(seed, "platform"), None);
            for i in 0..10 {
                assert!(p.broadcast(SimTime(i), 0, "hb", format!("a{i}").into()));
                assert!(p.broadcast(SimTime(i), 1, "hb", format!("b{i}").into()));
            }
            let events = settle(&mut p);
            for e in &events {
                if let PlatformEvent::Message { tab, from, .. } = e {
                    assert_ne!(tab, from, "self-delivery: {e:?}");
                }
            }
            for (from, prefix) in [(0, "a"), (1, "b")] {
                for to in 0..3 {
                    let got: Vec<&str> = events
                        .iter()
                        .filter_map(|e| match e {
                            PlatformEvent::Message {
                                tab, from: f, data, ..
                            } if *tab == to && *f == from => Some(data.as_str()),
                            _ => None,
                        })
                        .collect();
                    let want: Vec<String> = if to == from {
                        vec![]
                    } else {
                        (0..10).map(|i| format!("{prefix}{i}")).collect()
                    };
                    assert_eq!(got, want, "seed {seed}: {from} -> {to}");
                }
            }
        }
    }

    #[test]
    fn broadcast_disabled_sends_nothing_and_says_so() {
        let mut p = platform(2);
        p.set_broadcast_enabled(false);
        assert!(!p.config().broadcast_enabled);
        assert!(!p.broadcast(SimTime(0), 0, "hb", "x".into()));
        assert_eq!(p.poll_timeout(), None);
        assert!(settle(&mut p).is_empty());
        p.set_broadcast_enabled(true);
        assert!(p.broadcast(SimTime(10), 0, "hb", "y".into()));
        assert_eq!(
            settle(&mut p),
            vec![PlatformEvent::Message {
                tab: 1,
                channel: "hb".into(),
                from: 0,
                data: "y".into()
            }]
        );
    }

    fn granted(tab: TabIndex, name: &str) -> PlatformEvent {
        PlatformEvent::LockGranted {
            tab,
            name: name.into(),
        }
    }

    #[test]
    fn locks_are_exclusive_and_granted_in_fifo_order() {
        let mut p = platform(4);
        let now = SimTime(0);
        assert!(p.lock_request(now, 2, "refresh"));
        assert!(p.lock_request(now, 0, "refresh"));
        assert!(p.lock_request(now, 3, "refresh"));
        assert!(p.lock_request(now, 1, "other"));
        assert_eq!(
            drain(&mut p),
            vec![granted(2, "refresh"), granted(1, "other")]
        );
        assert_eq!(p.lock_holder("refresh"), Some(2));
        assert_eq!(p.lock_waiters("refresh"), vec![0, 3]);
        p.lock_release(now, 0, "refresh"); // not the holder: withdraws its request
        assert_eq!(p.lock_holder("refresh"), Some(2));
        assert_eq!(p.lock_waiters("refresh"), vec![3]);
        assert!(p.lock_request(now, 0, "refresh"));
        p.lock_release(now, 2, "refresh");
        assert_eq!(drain(&mut p), vec![granted(3, "refresh")]);
        p.lock_release(now, 3, "refresh");
        assert_eq!(drain(&mut p), vec![granted(0, "refresh")]);
        p.lock_release(now, 0, "refresh");
        assert_eq!(p.lock_holder("refresh"), None);
        assert!(drain(&mut p).is_empty());
    }

    #[test]
    fn closing_or_crashing_a_tab_releases_its_locks_and_drops_its_requests() {
        let mut p = platform(4);
        let now = SimTime(0);
        for tab in [0, 1, 2, 3] {
            assert!(p.lock_request(now, tab, "leader"));
        }
        assert!(p.lock_request(now, 1, "refresh"));
        assert!(p.lock_request(now, 2, "refresh"));
        drain(&mut p);
        p.close(now, 1); // waiting for "leader", holding "refresh"
        assert_eq!(p.lock_holder("refresh"), Some(2));
        assert_eq!(p.lock_waiters("leader"), vec![2, 3]);
        assert_eq!(drain(&mut p), vec![granted(2, "refresh")]);
        p.crash(now, 0); // holds "leader"
        assert_eq!(p.lock_holder("leader"), Some(2));
        assert_eq!(drain(&mut p), vec![granted(2, "leader")]);
        p.crash(now, 2); // holds both
        assert_eq!(p.lock_holder("leader"), Some(3));
        assert_eq!(p.lock_holder("refresh"), None);
        assert_eq!(drain(&mut p), vec![granted(3, "leader")]);
        assert!(!p.lock_request(now, 1, "leader"), "a closed tab cannot ask");
    }

    #[test]
    fn locks_disabled_refuses_requests() {
        let mut p = platform(2);
        assert!(p.lock_request(SimTime(0), 0, "a"));
        p.set_locks_enabled(false);
        assert!(!p.lock_request(SimTime(0), 1, "a"));
        assert!(!p.lock_request(SimTime(0), 1, "b"));
        assert_eq!(p.lock_holder("b"), None);
        assert_eq!(drain(&mut p), vec![granted(0, "a")]);
        p.lock_release(SimTime(1), 0, "a");
        assert_eq!(p.lock_holder("a"), None, "a held lock is still released");
        assert!(drain(&mut p).is_empty());
    }

    #[test]
    fn a_frozen_tab_holds_its_events_and_gets_them_in_order_on_thaw() {
        let mut p = platform(3);
        assert!(p.lock_request(SimTime(0), 2, "l2"));
        assert!(p.lock_request(SimTime(0), 1, "l2"));
        p.hide(SimTime(0), 1);
        p.freeze(SimTime(10), 1);
        assert!(!p.is_running(1));
        assert!(p.lock_request(SimTime(10), 2, "l"));
        assert!(p.lock_request(SimTime(10), 0, "l"));
        assert!(
            !p.lock_request(SimTime(10), 1, "l"),
            "a frozen tab runs nothing"
        );
        assert!(!p.broadcast(SimTime(10), 1, "c", "x".into()));
        for i in 0..5 {
            assert!(p.broadcast(SimTime(20 + i), 0, "c", format!("m{i}").into()));
        }
        p.storage_set(SimTime(30), 2, "k", s("v"));
        p.lock_release(SimTime(30), 2, "l2");
        assert_eq!(p.lock_holder("l2"), Some(1), "granted while frozen");
        let events = settle(&mut p);
        assert!(events.iter().all(|e| e.tab() != 1), "held: {events:?}");
        assert_eq!(p.storage_get(1, "k"), s("v"), "the view still updates");
        p.thaw(SimTime(5_000), 1);
        assert_eq!(p.lifecycle(1), Lifecycle::Hidden { since: SimTime(0) });
        let released = drain(&mut p);
        let want: Vec<PlatformEvent> = (0..5)
            .map(|i| PlatformEvent::Message {
                tab: 1,
                channel: "c".into(),
                from: 0,
                data: format!("m{i}").into(),
            })
            .collect();
        let messages: Vec<PlatformEvent> = released
            .iter()
            .filter(|e| matches!(e, PlatformEvent::Message { .. }))
            .cloned()
            .collect();
        assert_eq!(messages.len(), 5, "none lost: {released:?}");
        assert_eq!(messages, want, "in order");
        assert!(released.contains(&PlatformEvent::Storage {
            tab: 1,
            key: "k".into(),
            value: s("v")
        }));
        assert!(released.contains(&granted(1, "l2")));
        assert!(drain(&mut p).is_empty());
    }

    #[test]
    fn a_closed_tab_gets_nothing() {
        let mut p = platform(3);
        p.broadcast(SimTime(0), 0, "c", "before".into());
        p.storage_set(SimTime(0), 0, "k", s("before"));
        p.close(SimTime(1), 1);
        p.broadcast(SimTime(2), 0, "c", "after".into());
        p.storage_set(SimTime(2), 0, "k", s("after"));
        let events = settle(&mut p);
        assert!(events.iter().all(|e| e.tab() != 1), "{events:?}");
        assert!(events.iter().any(|e| e.tab() == 2), "tab 2 still hears");
        assert_eq!(p.storage_get(1, "k"), None, "in-flight writes were dropped");
        assert_eq!(p.lifecycle(1), Lifecycle::Closed);
        assert_eq!(p.timer_fire_time(1, SimTime(10)), None);
        p.storage_set(SimTime(3), 1, "k", s("ghost"));
        assert!(settle(&mut p).is_empty(), "a closed tab cannot write");
        p.show(SimTime(4), 1);
        p.thaw(SimTime(4), 1);
        assert_eq!(p.lifecycle(1), Lifecycle::Closed, "closed is final");
    }

    #[test]
    fn an_event_queued_before_close_is_dropped() {
        let mut p = platform(2);
        p.broadcast(SimTime(0), 0, "c", "x".into());
        p.handle_timeout(SimTime(100), &()); // queued, not yet polled
        p.lock_request(SimTime(100), 1, "l");
        p.crash(SimTime(100), 1);
        assert!(drain(&mut p).is_empty());
    }

    #[test]
    fn lifecycle_transitions_keep_the_hidden_start() {
        let mut p = platform(1);
        assert_eq!(p.lifecycle(0), Lifecycle::Visible);
        p.freeze(SimTime(5), 0);
        assert_eq!(p.lifecycle(0), Lifecycle::Frozen { hidden_since: None });
        p.hide(SimTime(7), 0);
        assert_eq!(
            p.lifecycle(0),
            Lifecycle::Frozen {
                hidden_since: Some(SimTime(7))
            }
        );
        p.thaw(SimTime(9), 0);
        assert_eq!(p.lifecycle(0), Lifecycle::Hidden { since: SimTime(7) });
        p.hide(SimTime(11), 0);
        assert_eq!(
            p.lifecycle(0),
            Lifecycle::Hidden { since: SimTime(7) },
            "already hidden"
        );
        p.freeze(SimTime(12), 0);
        p.show(SimTime(13), 0);
        assert_eq!(p.lifecycle(0), Lifecycle::Visible, "showing thaws");
        assert!(p.is_running(0));
    }

    #[test]
    fn timers_are_throttled_by_lifecycle() {
        let mut p = platform(1);
        // Visible: on time, however close together.
        assert_eq!(p.timer_fire_time(0, SimTime(100)), Some(SimTime(100)));
        p.note_timer_fired(0, SimTime(100));
        assert_eq!(p.timer_fire_time(0, SimTime(150)), Some(SimTime(150)));

        // Hidden: at least 1 s after the previous fire.
        p.hide(SimTime(200), 0);
        assert_eq!(p.timer_fire_time(0, SimTime(150)), Some(SimTime(1_100)));
        assert_eq!(p.timer_fire_time(0, SimTime(5_000)), Some(SimTime(5_000)));
        p.note_timer_fired(0, SimTime(5_000));
        p.note_timer_fired(0, SimTime(4_000)); // out of order: the later fire counts
        assert_eq!(p.timer_fire_time(0, SimTime(5_200)), Some(SimTime(6_000)));

        // Hidden more than 5 min: on the minute grid from when it was hidden.
        let hidden = 200;
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 300_000)),
            Some(SimTime(hidden + 300_000)),
            "exactly 5 min is not yet longer"
        );
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 300_001)),
            Some(SimTime(hidden + 360_000))
        );
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 420_000)),
            Some(SimTime(hidden + 420_000)),
            "already on the grid"
        );
        p.note_timer_fired(0, SimTime(hidden + 420_000));
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 420_500)),
            Some(SimTime(hidden + 480_000)),
            "at most once a minute"
        );

        // Frozen: never; thawed back into hidden, the hidden time still counts.
        p.freeze(SimTime(hidden + 430_000), 0);
        assert_eq!(p.timer_fire_time(0, SimTime(hidden + 430_000)), None);
        p.thaw(SimTime(hidden + 440_000), 0);
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 490_000)),
            Some(SimTime(hidden + 540_000))
        );
        p.show(SimTime(hidden + 500_000), 0);
        assert_eq!(
            p.timer_fire_time(0, SimTime(hidden + 500_001)),
            Some(SimTime(hidden + 500_001))
        );
        p.crash(SimTime(hidden + 500_002), 0);
        assert_eq!(p.timer_fire_time(0, SimTime(hidden + 600_000)), None);
    }

    #[test]
    fn a_new_tab_starts_from_the_backing_store() {
        let mut p = platform(2);
        p.storage_set(SimTime(0), 0, "a", s("1"));
        p.storage_set(SimTime(0), 0, "b", s("1"));
        p.storage_set(SimTime(1), 1, "b", s("2"));
        p.storage_set(SimTime(2), 0, "gone", s("x"));
        p.storage_set(SimTime(3), 0, "gone", None);
        let t = p.open_tab(SimTime(3));
        assert_eq!(t, 2);
        assert_eq!(p.tab_count(), 3);
        assert_eq!(p.lifecycle(t), Lifecycle::Visible);
        assert_eq!(p.storage_get(t, "a"), s("1"));
        assert_eq!(
            p.storage_get(t, "b"),
            s("2"),
            "the latest write in global order"
        );
        assert_eq!(p.storage_get(t, "gone"), None);
        let events = settle(&mut p);
        assert!(
            events.iter().all(|e| e.tab() != t),
            "no events for older writes"
        );
        assert_eq!(p.storage_get(t, "b"), s("2"));
        p.storage_set(SimTime(50), 0, "a", s("3"));
        settle(&mut p);
        assert_eq!(p.storage_get(t, "a"), s("3"), "and it hears later ones");
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let run = |seed| {
            let mut p = Platform::new(idealised(), 4, rng_for(seed, "platform"), None);
            let mut log = Vec::new();
            for i in 0..30u64 {
                let tab = (i % 4) as usize;
                p.storage_set(SimTime(i * 3), tab, "k", Some(i.to_string()));
                p.broadcast(SimTime(i * 3), tab, "c", i.to_string().into());
                while let Some(t) = p.poll_timeout().filter(|t| *t <= SimTime(i * 3 + 3)) {
                    p.handle_timeout(t, &());
                    log.extend(drain(&mut p).into_iter().map(|e| (t, e)));
                }
            }
            log
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set {
            tab: usize,
            key: usize,
            remove: bool,
            advance_ms: u64,
        },
        Freeze(usize),
        Thaw(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..4usize, 0..3usize, prop::bool::weighted(0.2), 0..40u64).prop_map(
                |(tab, key, remove, advance_ms)| Op::Set { tab, key, remove, advance_ms }
            ),
            1 => (0..4usize).prop_map(Op::Freeze),
            1 => (0..4usize).prop_map(Op::Thaw),
        ]
    }

    proptest! {
        /// B1: however writes from different tabs interleave with
        /// propagation, once the maximum delay has passed every live tab's
        /// view of each key is the last write in global order, and each tab
        /// saw a key's changes in write order.
        #[test]
        fn storage_views_converge_to_the_last_write(
            ops in prop::collection::vec(op(), 1..80),
            seed in any::<u64>(),
        ) {
            let config = idealised();
            let max = config.storage_propagation_max_ms;
            let mut p = Platform::new(config, 4, rng_for(seed, "platform"), None);
            let mut now = SimTime(0);
            let mut last: BTreeMap<String, Option<String>> = BTreeMap::new();
            let mut seen: BTreeMap<(TabIndex, String), u64> = BTreeMap::new();
            let mut check = |p: &mut Platform| -> Result<(), TestCaseError> {
                while let Some(e) = p.poll_output() {
                    if let PlatformEvent::Storage { tab, key, value: Some(v) } = e {
                        let n: u64 = v.parse().unwrap();
                        let prev = seen.insert((tab, key.clone()), n).unwrap_or(0);
                        prop_assert!(n > prev, "tab {} saw {} write {} after {}", tab, key, n, prev);
                    }
                }
                Ok(())
            };
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Set { tab, key, remove, advance_ms } => {
                        now = now + advance_ms;
                        p.handle_timeout(now, &());
                        check(&mut p)?;
                        let key = format!("k{key}");
                        let value = (!remove).then(|| (i + 1).to_string());
                        if p.is_running(tab) {
                            last.insert(key.clone(), value.clone());
                        }
                        p.storage_set(now, tab, &key, value);
                    }
                    Op::Freeze(tab) => p.freeze(now, tab),
                    Op::Thaw(tab) => p.thaw(now, tab),
                }
            }
            now = now + max;
            p.handle_timeout(now, &());
            check(&mut p)?;
            prop_assert_eq!(p.poll_timeout(), None);
            for tab in 0..4 {
                for (key, value) in &last {
                    prop_assert_eq!(&p.storage_get(tab, key), value, "tab {} key {}", tab, key);
                }
            }
        }
    }
}
