//! Cross-tab leader election (SPEC L1-L6): one transport per scope.
//!
//! Each tab runs one `Leader`. With the `lease` mechanism the lease lives in
//! localStorage (`{service}-leader:{scope}` = holder, sequence, expiry): a
//! tab that finds it empty or expired writes its own claim, waits longer than
//! storage takes to propagate, and re-reads it; only if the claim survived
//! does it lead (B1 makes the write-then-check necessary: two tabs can both
//! see an empty key). The leader renews the lease and heartbeats on the
//! BroadcastChannel every `heartbeat_ms`; a follower that hears nothing for
//! `takeover_ms` (+ jitter) tries to take over. Heartbeats carry the lease
//! sequence; a leader that hears a higher (sequence, tab) yields (L4). With
//! `web-locks` the leader is whoever holds the `navigator.locks` lock (B3).
//! Without a BroadcastChannel every tab polls on its own (L6 fallback), which
//! is declared, so the one-stream oracle does not count it.

use super::browser_api::{BrowserView, Effect, MessageData};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
pub use crate::observation::Role;
use crate::seed::{jitter_ms, SimRng};
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    Lease,
    WebLocks,
}

/// L1: whose tabs share one transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Per login session (the access token's hash): the seeds' "safest" choice.
    Session,
    /// Per browser and org: one transport even across sessions.
    BrowserOrg,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LeaderConfig {
    /// C13 `FIN_LEADER_ENABLED`: off, every tab polls on its own.
    pub leader_enabled: bool,
    pub mechanism: Mechanism,
    pub scope: Scope,
    pub heartbeat_ms: u64,
    pub takeover_ms: u64,
    pub takeover_jitter_ms: u64,
    /// How long a claimant waits before re-reading its claim; longer than storage propagation.
    pub lease_recheck_ms: u64,
    /// L6: without a BroadcastChannel, every tab polls on its own (`Solo`) or the
    /// tabs talk through a localStorage mailbox bus (`Mailbox`).
    pub fallback: Fallback,
    /// The mailbox bus's guardrails: largest message, and messages per minute per tab.
    pub mailbox_max_bytes: usize,
    pub mailbox_max_per_min: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fallback {
    Solo,
    Mailbox,
}

impl Default for LeaderConfig {
    fn default() -> Self {
        LeaderConfig {
            leader_enabled: true,
            mechanism: Mechanism::Lease,
            scope: Scope::Session,
            heartbeat_ms: 10_000,
            takeover_ms: 18_000,
            takeover_jitter_ms: 2_000,
            lease_recheck_ms: 100,
            fallback: Fallback::Solo,
            mailbox_max_bytes: 64 * 1024,
            mailbox_max_per_min: 100,
        }
    }
}

/// The lease as stored in localStorage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Lease {
    tab: u32,
    seq: u64,
    expires_at: SimTime,
}

/// What tabs say to each other on the scope's BroadcastChannel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
// Externally tagged: serde's internally tagged enums buffer their content and cannot carry a u128 event id.
#[serde(rename_all = "snake_case")]
pub enum ChannelMessage {
    Heartbeat {
        tab: u32,
        seq: u64,
        cursor: Option<u64>,
    },
    /// The leader's batch, for followers to apply (L5).
    Events {
        tab: u32,
        seq: u64,
        /// The leader's cursor before this batch, so a follower can tell it missed one.
        since: u64,
        cursor: u64,
        refetch: bool,
        events: Vec<crate::event::Event>,
    },
    /// v2 behind the leader (C15): a frame of the scope's stream, for the
    /// followers to take as their own would be, with the epoch its
    /// sequences are of.
    Frame {
        tab: u32,
        seq: u64,
        epoch: u64,
        frame: crate::frames::Frame,
    },
}

impl ChannelMessage {
    /// Who sent it, at which lease sequence, and the cursor it carries.
    pub fn sender(&self) -> (u32, u64, Option<u64>) {
        match self {
            ChannelMessage::Heartbeat { tab, seq, cursor } => (*tab, *seq, *cursor),
            ChannelMessage::Events {
                tab, seq, cursor, ..
            } => (*tab, *seq, Some(*cursor)),
            ChannelMessage::Frame { tab, seq, .. } => (*tab, *seq, None),
        }
    }
}

/// What reaches a tab's election.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaderInput {
    /// The tab opened in a signed-in browser: start competing (or fall back).
    Start,
    /// A heartbeat or a batch from a tab of the scope (see `ChannelMessage::sender`).
    Heard {
        tab: u32,
        seq: u64,
        cursor: Option<u64>,
    },
    /// B3: the tab now holds the lock `name`.
    LockGranted {
        name: String,
    },
    /// A localStorage write by another tab.
    Storage {
        key: String,
        value: Option<String>,
    },
    /// The tab's cursor moved; heartbeats carry it for a successor (L5).
    Cursor(Option<u64>),
    /// The tab closes cleanly, giving its lease or lock up.
    Close,
    /// The tab crashed: no goodbye; its lease runs out, the browser frees its lock.
    Crash,
    /// B4: the tab went hidden. A hidden leader keeps leading (C6 paces its polls).
    Hidden,
    /// B4: the page enters the back-forward cache, or is restored from it.
    PageHide,
    PageShow,
}

/// What a tab's election asks of its tab.
#[derive(Clone, Debug, PartialEq)]
pub enum LeaderOutput {
    Role(RoleChange),
    Effect(Effect),
}

/// A change of role, with why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub role: Role,
    pub seq: u64,
    pub cause: &'static str,
}

pub struct Leader {
    config: LeaderConfig,
    mutant: Option<Mutant>,
    me: u32,
    lease_key: String,
    channel: String,
    role: Role,
    /// The mechanism this tab competes by: the configured one, except that a
    /// browser without navigator.locks at the start falls back to the lease.
    mechanism: Mechanism,
    /// Whether the role has been reported yet: the first one always is, so
    /// the history knows every tab of a scope, a silent follower included.
    announced: bool,
    seq: u64,
    /// The highest (sequence, tab) heard from another tab.
    highest_heard: (u64, u32),
    last_heard: SimTime,
    takeover_after_ms: u64,
    /// The cursor the last leader shared, for a successor to resume from (L5).
    shared_cursor: Option<u64>,
    /// The tab's own cursor, which its heartbeats carry while it leads.
    cursor: Option<u64>,
    next_timer: Option<SimTime>,
    /// Gave up its role as its page entered the back-forward cache (B4).
    cached: bool,
    out: VecDeque<LeaderOutput>,
}

impl Leader {
    pub fn new(
        config: LeaderConfig,
        me: u32,
        scope_id: &str,
        mut rng: SimRng,
        mutant: Option<Mutant>,
    ) -> Self {
        let takeover_after_ms =
            config.takeover_ms + jitter_ms(&mut rng, 0, config.takeover_jitter_ms);
        Leader {
            lease_key: format!("finance-leader:{scope_id}"),
            channel: format!("finance-events:{scope_id}"),
            config,
            mutant,
            me,
            role: Role::Follower,
            mechanism: Mechanism::Lease,
            announced: false,
            seq: 0,
            highest_heard: (0, 0),
            last_heard: SimTime::ZERO,
            takeover_after_ms,
            shared_cursor: None,
            cursor: None,
            next_timer: None,
            cached: false,
            out: VecDeque::new(),
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Whether this tab runs the backend transport.
    pub fn polls(&self) -> bool {
        match self.role {
            Role::Leader | Role::Solo => true,
            Role::Follower | Role::Claiming => fires(self.mutant, Mutant::FollowerPolls),
            Role::Closed => false,
        }
    }

    fn set_role(&mut self, role: Role, cause: &'static str) {
        if self.role != role || !self.announced {
            tracing::debug!(tab = self.me, ?role, cause, "leader: role");
            self.role = role;
            self.announced = true;
            self.out.push_back(LeaderOutput::Role(RoleChange {
                role,
                seq: self.seq,
                cause,
            }));
        }
    }

    fn effect(&mut self, effect: Effect) {
        self.out.push_back(LeaderOutput::Effect(effect));
    }

    /// L6: there is no BroadcastChannel, so this tab must poll on its own.
    fn no_channel(&self, env: &dyn BrowserView) -> bool {
        !env.broadcast_enabled() && !fires(self.mutant, Mutant::NoSoloFallback)
    }

    /// The tab opened: start competing (or fall back).
    fn start(&mut self, now: SimTime, env: &dyn BrowserView) {
        self.last_heard = now;
        if !self.config.leader_enabled || self.no_channel(env) {
            self.set_role(
                Role::Solo,
                if self.config.leader_enabled {
                    "no broadcast channel"
                } else {
                    "leader disabled"
                },
            );
            self.next_timer = Some(now + self.config.heartbeat_ms);
            return;
        }
        self.compete(now, env);
    }

    /// Compete for the scope by the configured mechanism, or by the lease on a
    /// browser that has no navigator.locks now.
    fn compete(&mut self, now: SimTime, env: &dyn BrowserView) {
        self.mechanism = match self.config.mechanism {
            Mechanism::WebLocks if env.locks_available() => Mechanism::WebLocks,
            _ => Mechanism::Lease,
        };
        match self.mechanism {
            Mechanism::WebLocks => {
                // The grant arrives as an input; until then this tab follows.
                self.set_role(Role::Follower, "waiting for the lock");
                let name = self.lease_key.clone();
                self.effect(Effect::LockRequest { name });
                self.next_timer = None;
            }
            _ => self.try_claim(now, env),
        }
    }

    fn read_lease(&self, env: &dyn BrowserView) -> Option<Lease> {
        env.storage_get(&self.lease_key)
            .and_then(|v| serde_json::from_str(&v).ok())
    }

    fn write_lease(&mut self, now: SimTime) {
        let lease = Lease {
            tab: self.me,
            seq: self.seq,
            expires_at: now + self.config.takeover_ms,
        };
        self.effect(Effect::StorageSet {
            key: self.lease_key.clone(),
            value: Some(serde_json::to_string(&lease).expect("lease serialises")),
        });
    }

    /// Take the lease if it is free or expired; then confirm after the recheck delay.
    fn try_claim(&mut self, now: SimTime, env: &dyn BrowserView) {
        match self.read_lease(env) {
            Some(l) if l.tab != self.me && l.expires_at > now => {
                self.highest_heard = self.highest_heard.max((l.seq, l.tab));
                self.set_role(Role::Follower, "lease held");
                self.last_heard = now;
                self.next_timer = Some(l.expires_at.max(now + self.takeover_after_ms));
            }
            lease => {
                self.seq = lease.map_or(0, |l| l.seq).max(self.highest_heard.0) + 1;
                self.write_lease(now);
                if fires(self.mutant, Mutant::LeaseNoRecheck) {
                    self.become_leader(now, "lease taken");
                } else {
                    self.set_role(Role::Claiming, "lease free");
                    self.next_timer = Some(now + self.config.lease_recheck_ms);
                }
            }
        }
    }

    fn become_leader(&mut self, now: SimTime, cause: &'static str) {
        self.set_role(Role::Leader, cause);
        // Like setInterval: the first heartbeat goes out one period after taking the lead.
        self.next_timer = Some(now + self.config.heartbeat_ms);
    }

    fn on_timer(&mut self, now: SimTime, env: &dyn BrowserView) {
        if self.next_timer.is_none_or(|t| t > now) {
            return;
        }
        self.next_timer = None;
        match self.role {
            Role::Closed => {}
            Role::Solo => {
                // Leave the fallback once a channel is there again.
                if self.config.leader_enabled && env.broadcast_enabled() {
                    self.set_role(Role::Follower, "broadcast channel back");
                    self.compete(now, env);
                } else {
                    self.next_timer = Some(now + self.config.heartbeat_ms);
                }
            }
            Role::Claiming => match self.read_lease(env) {
                Some(l) if l.tab == self.me && l.seq == self.seq => {
                    self.become_leader(now, "lease confirmed")
                }
                // The claim that beat ours was given up (its tab closed while
                // rechecking): the lease is free again, so claim it again
                // rather than wait a takeover out for a leader there is not.
                None => self.try_claim(now, env),
                _ => {
                    self.set_role(Role::Follower, "lost the lease race");
                    self.last_heard = now;
                    self.next_timer = Some(now + self.takeover_after_ms);
                }
            },
            Role::Leader => {
                if self.no_channel(env) {
                    self.go_solo(now);
                    return;
                }
                if self.mechanism == Mechanism::Lease {
                    if let Some(l) = self
                        .read_lease(env)
                        .filter(|l| l.expires_at > now && self.yields_to(l.seq, l.tab))
                    {
                        self.highest_heard = self.highest_heard.max((l.seq, l.tab));
                        self.step_down(now, "a newer lease");
                        return;
                    }
                    self.write_lease(now);
                }
                let hb = ChannelMessage::Heartbeat {
                    tab: self.me,
                    seq: self.seq,
                    cursor: self.cursor,
                };
                self.effect(Effect::Broadcast {
                    channel: self.channel.clone(),
                    data: MessageData::of(hb),
                });
                self.next_timer = Some(now + self.config.heartbeat_ms);
            }
            Role::Follower => {
                if self.no_channel(env) {
                    self.go_solo(now);
                } else if now.since(self.last_heard) >= self.takeover_after_ms {
                    if fires(self.mutant, Mutant::NoTakeover) {
                        // The bug: a silent leader is presumed alive; the follower waits again.
                        self.last_heard = now;
                        self.next_timer = Some(now + self.takeover_after_ms);
                        return;
                    }
                    match self.mechanism {
                        Mechanism::Lease => self.try_claim(now, env),
                        // A Web Locks follower waits in the lock queue; nothing to do on a timer.
                        Mechanism::WebLocks => {}
                    }
                } else {
                    self.next_timer = Some(self.last_heard + self.takeover_after_ms);
                }
            }
        }
    }

    /// L6: the channel is gone, so this tab polls on its own. It gives its
    /// lock up (or withdraws its request for it): it leads nobody now, and it
    /// asks again when the channel is back.
    fn go_solo(&mut self, now: SimTime) {
        if self.mechanism == Mechanism::WebLocks {
            let name = self.lease_key.clone();
            self.effect(Effect::LockRelease { name });
        }
        self.set_role(Role::Solo, "broadcast channel gone");
        self.next_timer = Some(now + self.config.heartbeat_ms);
    }

    /// A heartbeat or a batch from another tab of the scope.
    fn on_heard(&mut self, now: SimTime, tab: u32, seq: u64, cursor: Option<u64>) {
        if tab == self.me {
            return;
        }
        self.highest_heard = self.highest_heard.max((seq, tab));
        if cursor.is_some() {
            self.shared_cursor = cursor;
        }
        match self.role {
            Role::Leader if self.yields_to(seq, tab) => {
                self.step_down(now, "heard a higher sequence")
            }
            Role::Follower | Role::Claiming => {
                self.last_heard = now;
                if self.role == Role::Claiming && (seq, tab) > (self.seq, self.me) {
                    self.set_role(Role::Follower, "heard a higher sequence");
                }
                // A claim still standing keeps its recheck; a follower waits for silence.
                if self.mechanism == Mechanism::Lease && self.role == Role::Follower {
                    self.next_timer = Some(now + self.takeover_after_ms);
                }
            }
            _ => {}
        }
    }

    /// B3: this tab now holds the leader lock.
    fn on_lock_granted(&mut self, now: SimTime, name: &str) {
        if name == self.lease_key && self.role != Role::Closed {
            self.seq = self.highest_heard.0 + 1;
            self.become_leader(now, "lock granted");
        }
    }

    /// The tab closes cleanly: give the lease up so a follower need not wait
    /// it out. A claim still being rechecked is given up too: left behind, it
    /// reads as a live lease to every follower until it expires (found under
    /// the measured Chromium profile, where a storage event can reach a tab
    /// in the same millisecond as the write it announces).
    fn close(&mut self, env: &dyn BrowserView) {
        let holds_lease = self.read_lease(env).is_some_and(|l| l.tab == self.me);
        let gives_up = matches!(self.role, Role::Leader | Role::Claiming)
            && self.mechanism == Mechanism::Lease;
        // The bug: the lease stays behind, so followers wait for it to expire.
        if gives_up && holds_lease && !fires(self.mutant, Mutant::CloseKeepsLease) {
            let key = self.lease_key.clone();
            self.effect(Effect::StorageSet { key, value: None });
        }
        if self.mechanism == Mechanism::WebLocks {
            let name = self.lease_key.clone();
            self.effect(Effect::LockRelease { name });
        }
        self.set_role(Role::Closed, "tab closed");
        self.next_timer = None;
    }

    /// The `resign-when-hidden` bug: a leader gives its lease or lock up and
    /// stays a candidate, though nothing is wrong with it.
    fn resign(&mut self, now: SimTime) {
        let name = self.lease_key.clone();
        match self.mechanism {
            Mechanism::Lease => {
                self.effect(Effect::StorageSet {
                    key: name,
                    value: None,
                });
                self.step_down(now, "hidden");
            }
            Mechanism::WebLocks => {
                self.effect(Effect::LockRelease { name: name.clone() });
                self.effect(Effect::LockRequest { name });
                self.set_role(Role::Follower, "waiting for the lock");
                self.next_timer = None;
            }
        }
    }

    /// B4: the page enters the back-forward cache (`pagehide`, persisted).
    /// Frozen there it can neither lead nor step aside, and the lock manager
    /// keeps a cached page's locks (measured: not released within 10 s), so
    /// it gives up what it holds or waits for, as on a close, and competes
    /// again when restored.
    fn page_hide(&mut self, env: &dyn BrowserView) {
        if !matches!(self.role, Role::Leader | Role::Claiming | Role::Follower)
            || fires(self.mutant, Mutant::BfcacheKeepsLeadership)
        {
            return;
        }
        let name = self.lease_key.clone();
        match self.mechanism {
            // Held or waited for: either way a cached page must not get it.
            Mechanism::WebLocks => self.effect(Effect::LockRelease { name }),
            Mechanism::Lease if self.read_lease(env).is_some_and(|l| l.tab == self.me) => {
                self.effect(Effect::StorageSet {
                    key: name,
                    value: None,
                });
            }
            Mechanism::Lease => {}
        }
        self.set_role(Role::Follower, "in the back-forward cache");
        self.next_timer = None;
        self.cached = true;
    }

    /// B4: restored from the back-forward cache, the page competes again.
    fn page_show(&mut self, now: SimTime, env: &dyn BrowserView) {
        if std::mem::take(&mut self.cached) {
            self.last_heard = now;
            self.compete(now, env);
        }
    }

    /// L4: a leader yields to a higher (sequence, tab) than its own.
    fn yields_to(&self, seq: u64, tab: u32) -> bool {
        tab != self.me
            && (seq, tab) > (self.seq, self.me)
            && !fires(self.mutant, Mutant::NoYieldOnHigherSeq)
    }

    fn step_down(&mut self, now: SimTime, cause: &'static str) {
        self.set_role(Role::Follower, cause);
        self.last_heard = now;
        self.next_timer = Some(now + self.takeover_after_ms);
    }

    /// The tab crashed: no goodbye; its lease runs out, its lock is released by the browser.
    fn crash(&mut self) {
        self.set_role(Role::Closed, "tab crashed");
        self.next_timer = None;
    }

    /// The cursor the last leader shared, if any.
    pub fn shared_cursor(&self) -> Option<u64> {
        self.shared_cursor
    }

    /// A localStorage write by another tab: a removed lease means the leader left; claim at once.
    fn on_storage(&mut self, now: SimTime, key: &str, value: Option<&str>, env: &dyn BrowserView) {
        if key == self.lease_key
            && value.is_none()
            && self.role == Role::Follower
            && self.mechanism == Mechanism::Lease
            && !fires(self.mutant, Mutant::NoTakeover)
        {
            self.try_claim(now, env);
        }
    }
}

impl Machine for Leader {
    type Input = LeaderInput;
    type Output = LeaderOutput;
    type View<'v> = dyn BrowserView + 'v;

    fn handle(&mut self, now: SimTime, input: LeaderInput, view: &dyn BrowserView) {
        match input {
            LeaderInput::Start => self.start(now, view),
            LeaderInput::Heard { tab, seq, cursor } => self.on_heard(now, tab, seq, cursor),
            LeaderInput::LockGranted { name } => self.on_lock_granted(now, &name),
            LeaderInput::Storage { key, value } => {
                self.on_storage(now, &key, value.as_deref(), view)
            }
            LeaderInput::Cursor(cursor) => self.cursor = cursor,
            LeaderInput::Close => self.close(view),
            LeaderInput::Crash => self.crash(),
            LeaderInput::Hidden => {
                if self.role == Role::Leader && fires(self.mutant, Mutant::ResignWhenHidden) {
                    self.resign(now);
                }
            }
            LeaderInput::PageHide => self.page_hide(view),
            LeaderInput::PageShow => self.page_show(now, view),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, view: &dyn BrowserView) {
        self.on_timer(now, view)
    }

    fn poll_output(&mut self) -> Option<LeaderOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.next_timer
    }
}
