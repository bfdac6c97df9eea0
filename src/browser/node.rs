//! `BrowserNode`: one browser (one login session of one org), its tabs, and
//! the platform they share (SPEC B1-B5).
//!
//! The node logs the session in (S9), hands the token to every tab, routes
//! each tab's requests out and answers back, and moves platform events
//! (storage, channel messages, lock grants) between tabs. It applies tab
//! lifecycle faults: a frozen tab runs nothing, and what reaches it (answers,
//! messages) waits until it thaws, except, under a profile that measured it,
//! its BroadcastChannel handler, whose requests wait for the thaw; a hidden
//! tab's timers are throttled; a CPU-throttled tab handles one input per
//! task of a fixed length: it decides, and what it does (writes, messages,
//! requests) takes effect, as the task ends, with the storage it could read
//! as the task began.

use super::platform::{
    Lifecycle, Platform, PlatformConfig, PlatformEvent, PlatformInput, TabChange, TabIndex,
};
use super::probe::{self, Probe};
use crate::client::auth::Credentials;
use crate::client::browser_api::{BrowserView, Effect, MessageData};
use crate::client::leader::{Fallback, Role, Scope};
use crate::client::{NetError, ProviderConfig, Tab, TabId, TabInput, TabOutput};
use crate::event::{OrgId, PropertyId};
use crate::frames::Frame;
use crate::http::{Body, Method, Request, Response, Route};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
use crate::observation::{Actor, Observation, Outcome, RequestKind};
use crate::query::{Filter, Lists};
use crate::seed::rng_for;
use crate::time::{earliest, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct BrowserConfig {
    pub org: OrgId,
    pub browser: u32,
    pub tabs: u32,
    /// The property every tab of this browser filters to, if any.
    pub property: Option<PropertyId>,
    pub login_timeout_ms: u64,
    pub login_retry_ms: u64,
    pub provider: ProviderConfig,
    pub platform: PlatformConfig,
    /// This browser also runs the ops probe (S7, S8), this often.
    pub probe_ms: Option<u64>,
}

/// Which tab a lifecycle action is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabSel {
    Index(u32),
    /// Whichever tab leads at the moment the fault starts.
    Leader,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TabAction {
    Crash,
    Close,
    Open,
    Hide,
    Show,
    Freeze,
    Thaw,
    BroadcastOff,
    BroadcastOn,
    LocksOff,
    LocksOn,
    /// A4: the user logs out in this tab.
    Logout,
    /// The user signs in again (browser-wide: every open tab gets the session).
    Login,
    /// U4: the tab's window gains focus (refetch what is stale), or loses it.
    Focus,
    Blur,
    /// B4: a slow device: each input the tab handles takes `ms` of its main
    /// thread, until `CpuUnthrottle`.
    CpuThrottle {
        ms: u64,
    },
    CpuUnthrottle,
    /// B4: the user navigates the tab to another site, and comes back to it.
    NavigateAway,
    NavigateBack,
    /// C15: the user moves to another route of the app, whose page shows
    /// `lists` (`None`: back to the scenario's page), or sets the property
    /// filter (`None`: back to the browser's own).
    ChangeRoute {
        lists: Option<Lists>,
    },
    SetFilter {
        filter: Option<Filter>,
    },
}

impl TabAction {
    /// How the trace's lifecycle records spell it.
    pub fn what(self) -> String {
        match self {
            TabAction::CpuThrottle { .. } => "cpu_throttle".to_string(),
            TabAction::CpuUnthrottle => "cpu_unthrottle".to_string(),
            TabAction::ChangeRoute { .. } => "navigate".to_string(),
            TabAction::SetFilter { .. } => "set_property_filter".to_string(),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum BrowserInput {
    Response {
        req: u64,
        result: Result<Response, NetError>,
    },
    /// A frame on the v2 stream opened by request `req`, which stays open.
    Frame { req: u64, frame: Frame },
    /// A lifecycle fault; `id` names the fault so its undo reaches the same tab.
    Lifecycle {
        id: u64,
        tab: TabSel,
        action: TabAction,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum BrowserOutput {
    /// Send `request` to the server; `req` is unique within the browser.
    Send {
        req: u64,
        request: Request,
    },
    Abort {
        req: u64,
    },
    /// The stream opened by `req` consumed a frame (its socket has room again).
    Ack {
        req: u64,
    },
    Observe(Observation),
}

/// What a tab's task handles: an input, or its timers.
#[derive(Debug)]
enum Work {
    Input(TabInput),
    Timers,
}

/// A CPU-throttled tab's task under way (B4).
#[derive(Debug)]
struct Task {
    ends: SimTime,
    work: Work,
}

/// Who inside the browser is waiting for an answer.
#[derive(Clone, Copy, Debug)]
enum Requester {
    Session,
    Tab { index: usize, req: u64 },
    Probe,
}

/// What one tab reads of the platform.
struct TabView<'a> {
    platform: &'a Platform,
    tab: TabIndex,
    /// L6 mailbox bus: on when there is no BroadcastChannel and the fallback is the mailbox.
    mailbox: bool,
}

#[derive(Clone, Copy)]
struct MailboxLimits {
    max_bytes: usize,
    max_per_min: usize,
}

/// Where the mailbox bus keeps a channel's latest message in localStorage.
const MAILBOX_PREFIX: &str = "mailbox:";

impl BrowserView for TabView<'_> {
    fn storage_get(&self, key: &str) -> Option<String> {
        self.platform.storage_get(self.tab, key)
    }
    fn broadcast_enabled(&self) -> bool {
        self.platform.config().broadcast_enabled || self.mailbox
    }
    /// A frozen page keeps `navigator.locks` (its requests are granted on
    /// resume); a gone one has none.
    fn locks_available(&self) -> bool {
        self.platform.config().locks_enabled && !self.platform.lifecycle(self.tab).is_gone()
    }
    fn frozen(&self) -> bool {
        self.platform.lifecycle(self.tab).is_frozen()
    }
}

pub struct BrowserNode {
    config: BrowserConfig,
    /// The tabs' provider configuration, one copy for all of them.
    provider: std::sync::Arc<crate::client::ProviderConfig>,
    seed: u64,
    mutant: Option<Mutant>,
    /// The browser as a whole, in observations.
    name: Actor,
    platform: Platform,
    tabs: Vec<Tab>,
    /// Each tab's own next timer (`Tab::poll_timeout`), refreshed whenever
    /// the tab has run (only running changes it): the browser asks for them
    /// on every wake-up, and recomputing them each time was a fifth of the run.
    tab_wants: Vec<Option<SimTime>>,
    /// The session as signed in; tabs keep their own (refreshed) copies.
    creds: Option<Credentials>,
    login: Option<(u64, SimTime)>,
    next_login_at: Option<SimTime>,
    next_req: u64,
    in_flight: BTreeMap<u64, Requester>,
    /// Browser-level request id for each (tab, tab-local request id).
    tab_reqs: BTreeMap<(usize, u64), u64>,
    /// What reached a frozen tab (answers, a sign-in, a visibility change), delivered when it thaws.
    held: BTreeMap<usize, VecDeque<TabInput>>,
    /// B4 measured: the requests a frozen tab's channel handler made, each
    /// with its `Request` observation, sent when it thaws (tab-local id, output).
    unsent: BTreeMap<usize, VecDeque<(u64, BrowserOutput)>>,
    /// Requests given up before they were sent: the tab's record of the
    /// abort is dropped with them, since the network never saw them.
    withdrawn: BTreeSet<(usize, u64)>,
    /// B4: CPU-throttled tabs, and what each input costs their main thread (ms).
    throttled: BTreeMap<usize, u64>,
    /// A throttled tab's task under way, handled by the tab as it ends.
    tasks: BTreeMap<usize, Task>,
    /// Inputs that reached a busy tab, handled one task at a time after it.
    backlog: BTreeMap<usize, VecDeque<TabInput>>,
    /// The tab each lifecycle fault resolved to, so its undo finds it again.
    fault_tabs: BTreeMap<u64, usize>,
    /// Each tab's recent mailbox writes (L6 rate cap).
    mailbox_sent: BTreeMap<usize, VecDeque<SimTime>>,
    probe: Option<Probe>,
    out: VecDeque<BrowserOutput>,
}

impl BrowserNode {
    pub fn new(config: BrowserConfig, seed: u64, mutant: Option<Mutant>) -> Self {
        let name = Actor::browser(config.org, config.browser);
        let platform = Platform::new(
            config.platform.clone(),
            config.tabs as usize,
            rng_for(seed, &format!("{name}/platform")),
            mutant,
        );
        let mut node = BrowserNode {
            provider: std::sync::Arc::new(config.provider.clone()),
            name,
            seed,
            mutant,
            platform,
            tabs: Vec::with_capacity(config.tabs as usize),
            tab_wants: Vec::with_capacity(config.tabs as usize),
            creds: None,
            login: None,
            next_login_at: Some(SimTime::ZERO),
            next_req: 0,
            in_flight: BTreeMap::new(),
            tab_reqs: BTreeMap::new(),
            held: BTreeMap::new(),
            unsent: BTreeMap::new(),
            withdrawn: BTreeSet::new(),
            throttled: BTreeMap::new(),
            tasks: BTreeMap::new(),
            backlog: BTreeMap::new(),
            fault_tabs: BTreeMap::new(),
            mailbox_sent: BTreeMap::new(),
            probe: config.probe_ms.map(Probe::new),
            out: VecDeque::new(),
            config,
        };
        for _ in 0..node.config.tabs {
            let tab = node.new_tab();
            node.add_tab(tab);
        }
        node
    }

    fn add_tab(&mut self, tab: Tab) {
        self.tab_wants.push(tab.poll_timeout());
        self.tabs.push(tab);
    }

    fn new_tab(&self) -> Tab {
        let id = TabId {
            org: self.config.org,
            browser: self.config.browser,
            tab: self.tabs.len() as u32,
        };
        let rng = rng_for(self.seed, &id.to_string());
        Tab::new(
            id,
            self.config.property,
            self.provider.clone(),
            rng,
            self.mutant,
        )
    }

    pub fn name(&self) -> Actor {
        self.name
    }

    pub fn tabs(&self) -> &[Tab] {
        &self.tabs
    }

    /// Tabs that are open (not closed or crashed) and signed in; frozen ones count.
    pub fn live_tabs(&self) -> impl Iterator<Item = &Tab> {
        self.tabs
            .iter()
            .enumerate()
            .filter(|(i, t)| self.is_open(*i) && t.signed_in())
            .map(|(_, t)| t)
    }

    fn is_open(&self, tab: usize) -> bool {
        !matches!(
            self.platform.lifecycle(tab),
            Lifecycle::Closed | Lifecycle::Crashed
        )
    }

    fn scope(&self, creds: &Credentials, index: usize) -> String {
        let scope = match self.config.provider.leader.scope {
            Scope::Session => format!("session-{}", creds.session),
            Scope::BrowserOrg => format!("org{}-browser{}", self.config.org, self.config.browser),
        };
        if self.tabs.len() > 1 && fires(self.mutant, Mutant::ScopePerTab) {
            return format!("{scope}-tab{index}");
        }
        scope
    }

    /// Hand the session to tab `index`.
    fn sign_in_tab(&mut self, now: SimTime, index: usize) {
        if let Some(creds) = self.creds.clone() {
            let scope = self.scope(&creds, index);
            self.to_running_tab(now, index, TabInput::SignIn { creds, scope });
        }
    }

    fn alloc(&mut self, who: Requester) -> u64 {
        self.next_req += 1;
        self.in_flight.insert(self.next_req, who);
        self.next_req
    }

    fn on_input(&mut self, now: SimTime, input: BrowserInput) {
        match input {
            BrowserInput::Response { req, result } => match self.in_flight.remove(&req) {
                Some(Requester::Session) => self.on_login(now, req, result),
                Some(Requester::Probe) => self.on_probe_answer(req, result),
                Some(Requester::Tab { index, req: local }) => {
                    self.tab_reqs.remove(&(index, local));
                    if self.is_open(index) {
                        let input = TabInput::Response { req: local, result };
                        self.to_running_tab(now, index, input);
                    }
                }
                None => {} // aborted earlier; a late answer has no one to go to
            },
            BrowserInput::Frame { req, frame } => {
                if let Some(&Requester::Tab { index, req: local }) = self.in_flight.get(&req) {
                    if self.is_open(index) {
                        let input = TabInput::Frame { req: local, frame };
                        self.to_running_tab(now, index, input);
                    }
                }
            }
            BrowserInput::Lifecycle { id, tab, action } => self.lifecycle(now, id, tab, action),
        }
        self.on_timer(now);
    }

    /// The mailbox bus's limits, when it carries the tabs' messages (L6).
    fn mailbox(&self) -> Option<MailboxLimits> {
        let leader = &self.config.provider.leader;
        (leader.fallback == Fallback::Mailbox && !self.platform.config().broadcast_enabled)
            .then_some(MailboxLimits {
                max_bytes: leader.mailbox_max_bytes,
                max_per_min: leader.mailbox_max_per_min,
            })
    }

    /// Hand tab `index` an input now, or, while it is frozen (it runs
    /// nothing), when it thaws.
    fn to_running_tab(&mut self, now: SimTime, index: usize, input: TabInput) {
        if self.platform.lifecycle(index).is_frozen() {
            self.held.entry(index).or_default().push_back(input);
        } else {
            self.to_tab(now, index, input);
        }
    }

    /// Hand tab `index` an input, then carry out what it asks; a busy tab
    /// (B4, CPU-throttled) handles it after the inputs before it.
    fn to_tab(&mut self, now: SimTime, index: usize, input: TabInput) {
        if self.tasks.contains_key(&index) {
            self.backlog.entry(index).or_default().push_back(input);
            return;
        }
        self.run_tab(now, index, Work::Input(input));
    }

    /// Tab `index` handles `work` now, or, CPU-throttled (B4), as a task that
    /// ends a task's length from now: the tab's main thread is taken until
    /// then, so every other input waits for it, and the writes reaching it
    /// wait to be applied (the platform's `Busy`), so it decides at the end
    /// on what it could read at the start (the probe's `busy_tab`).
    fn run_tab(&mut self, now: SimTime, index: usize, work: Work) {
        match self.throttled.get(&index) {
            Some(&ms) if ms > 0 => {
                let busy = PlatformInput::Busy {
                    tab: index,
                    busy: true,
                };
                self.platform.handle(now, busy, &());
                let ends = now + ms;
                self.tasks.insert(index, Task { ends, work });
            }
            _ => self.handle_now(now, index, work),
        }
    }

    /// Tab `index` handles `work` with its view of the platform, then its
    /// outputs are carried out in order, before any other tab runs.
    fn handle_now(&mut self, now: SimTime, index: usize, work: Work) {
        let view = TabView {
            platform: &self.platform,
            tab: index,
            mailbox: self.mailbox().is_some(),
        };
        // A frozen page that is closed runs no handler (the browser throws
        // it away as it is): its machines close, and nothing they ask for
        // reaches the platform.
        let frozen = self.platform.lifecycle(index).is_frozen();
        let acts = !(frozen && matches!(work, Work::Input(TabInput::Close { .. })));
        let tab = &mut self.tabs[index];
        match work {
            Work::Input(input) => tab.handle(now, input, &view),
            Work::Timers => tab.handle_timeout(now, &view),
        }
        self.drain_tab(now, index, acts);
        self.tab_wants[index] = self.tabs[index].poll_timeout();
    }

    /// Tab `index`'s task ends now: the tab handles its work, and then its
    /// main thread is free (the writes that waited reach its view).
    fn finish_task(&mut self, now: SimTime, index: usize) {
        if let Some(task) = self.tasks.remove(&index) {
            self.handle_now(now, index, task.work);
            let free = PlatformInput::Busy {
                tab: index,
                busy: false,
            };
            self.platform.handle(now, free, &());
        }
    }

    /// Tasks that end by `now` are handled, and each such tab takes its next
    /// waiting input (or, frozen since, keeps it for its thaw).
    fn end_tasks(&mut self, now: SimTime) {
        let done: Vec<usize> = self
            .tasks
            .iter()
            .filter(|(_, task)| task.ends <= now)
            .map(|(i, _)| *i)
            .collect();
        for index in done {
            self.finish_task(now, index);
            while !self.tasks.contains_key(&index) {
                let Some(input) = self.backlog.get_mut(&index).and_then(VecDeque::pop_front) else {
                    break;
                };
                self.to_running_tab(now, index, input);
            }
        }
    }

    /// Carry out a tab's effect on the platform; without a BroadcastChannel, a
    /// message goes by the L6 mailbox bus, if the scenario has one.
    fn carry_out(&mut self, now: SimTime, tab: usize, effect: Effect) {
        let effect = match effect {
            Effect::Broadcast { channel, data } if !self.platform.config().broadcast_enabled => {
                match self.mailbox_write(now, tab, &channel, data) {
                    Some(write) => write,
                    None => return,
                }
            }
            effect => effect,
        };
        self.platform
            .handle(now, PlatformInput::Effect { tab, effect }, &());
    }

    /// The storage write that carries a message on the mailbox bus, unless the
    /// bus is off or its guardrails drop the message.
    fn mailbox_write(
        &mut self,
        now: SimTime,
        tab: usize,
        channel: &str,
        data: MessageData,
    ) -> Option<Effect> {
        let limits = self.mailbox()?;
        let sent = self.mailbox_sent.entry(tab).or_default();
        // L6 guardrails: an oversized message, or one past the per-minute cap, is dropped.
        while sent.front().is_some_and(|t| *t + 60_000 <= now) {
            sent.pop_front();
        }
        let text = data.as_str();
        if text.len() > limits.max_bytes || sent.len() >= limits.max_per_min {
            return None;
        }
        sent.push_back(now);
        // The sender and a counter make every write a change, so each fires a storage event.
        let value =
            serde_json::json!({ "from": tab, "n": sent.len(), "at": now.as_ms(), "data": text });
        Some(Effect::StorageSet {
            key: format!("{MAILBOX_PREFIX}{channel}"),
            value: Some(value.to_string()),
        })
    }

    fn to_platform(&mut self, now: SimTime, tab: usize, change: TabChange) {
        self.platform
            .handle(now, PlatformInput::Lifecycle { tab, change }, &());
    }

    fn leader_tab(&self) -> Option<usize> {
        (0..self.tabs.len()).find(|&i| self.is_open(i) && self.tabs[i].role() == Some(Role::Leader))
    }

    fn lifecycle(&mut self, now: SimTime, id: u64, sel: TabSel, action: TabAction) {
        if matches!(action, TabAction::NavigateAway | TabAction::NavigateBack) {
            return self.navigate(now, id, sel, action == TabAction::NavigateAway);
        }
        let resolved = match (self.fault_tabs.get(&id), sel) {
            (Some(&i), _) => Some(i),
            (None, TabSel::Index(i)) => Some(i as usize).filter(|&i| i < self.tabs.len()),
            (None, TabSel::Leader) => self.leader_tab(),
        };
        let what = action.what();
        if self.browser_wide(now, action, &what) {
            return;
        }
        let Some(index) = resolved else { return };
        self.fault_tabs.insert(id, index);
        if !self.is_open(index) {
            return;
        }
        let user_acts = matches!(
            action,
            TabAction::Logout
                | TabAction::Focus
                | TabAction::Show
                | TabAction::ChangeRoute { .. }
                | TabAction::SetFilter { .. }
        );
        if user_acts && self.platform.lifecycle(index).is_frozen() {
            // The user can only act in a tab in front of them, and bringing a
            // frozen page forward resumes it first; shown, it is visible
            // before anything held for it runs.
            self.record_lifecycle(index, "thaw");
            if action == TabAction::Show {
                self.record_lifecycle(index, &what);
                self.to_platform(now, index, TabChange::Show);
                let shown = TabInput::Visibility { hidden: false };
                self.held.entry(index).or_default().push_front(shown);
                return self.thaw(now, index);
            }
            self.thaw(now, index);
        }
        if action == TabAction::Freeze {
            self.hide_before_freeze(now, index);
        }
        self.record_lifecycle(index, &what);
        match action {
            TabAction::Crash | TabAction::Close => {
                self.end_tab(now, index, action == TabAction::Crash)
            }
            TabAction::Hide => self.hide(now, index),
            TabAction::Show => {
                self.to_platform(now, index, TabChange::Show);
                self.to_tab(now, index, TabInput::Visibility { hidden: false });
            }
            TabAction::Freeze => self.freeze(now, index),
            TabAction::Logout => self.to_tab(now, index, TabInput::Logout),
            TabAction::Focus => self.to_tab(now, index, TabInput::Focus),
            TabAction::Thaw => self.thaw(now, index),
            TabAction::CpuThrottle { ms } => {
                self.throttled.insert(index, ms);
            }
            // A task under way still takes its time; the next ones do not.
            TabAction::CpuUnthrottle => {
                self.throttled.remove(&index);
            }
            TabAction::ChangeRoute { lists } => {
                let home = || Lists::of(&self.provider.page.lists);
                let lists = lists.unwrap_or_else(home).kinds();
                self.to_tab(now, index, TabInput::ChangeRoute { lists });
            }
            TabAction::SetFilter { filter } => {
                let filter = filter.unwrap_or(Filter::of(self.config.property));
                self.to_tab(now, index, TabInput::SetFilter { filter });
            }
            _ => {}
        }
    }

    /// B4: the user leaves a page (`away`) or comes back to it, as the steps
    /// a browser takes, each recorded as itself. With the back-forward cache
    /// the page is hidden (its `visibilitychange` runs), gets `pagehide`, and
    /// is frozen in the cache, where the lock manager keeps its locks; back,
    /// it is shown, resumes and gets `pageshow`. Without, it unloads (a clean
    /// close, the goodbye sent), and coming back loads it afresh: a new tab.
    fn navigate(&mut self, now: SimTime, id: u64, sel: TabSel, away: bool) {
        let cached = self.config.platform.bfcache;
        let page_event = |node: &mut Self, what: &str, input: TabInput| {
            if let Some(&index) = node.fault_tabs.get(&id).filter(|&&i| node.is_open(i)) {
                node.record_lifecycle(index, what);
                node.to_running_tab(now, index, input);
            }
        };
        match (away, cached) {
            (true, true) => {
                self.lifecycle(now, id, sel, TabAction::Hide);
                page_event(self, "pagehide", TabInput::PageHide);
                self.lifecycle(now, id, sel, TabAction::Freeze);
            }
            (true, false) => self.lifecycle(now, id, sel, TabAction::Close),
            (false, true) => {
                self.lifecycle(now, id, sel, TabAction::Show);
                page_event(self, "pageshow", TabInput::PageShow);
            }
            (false, false) => self.lifecycle(now, id, sel, TabAction::Open),
        }
    }

    fn hide(&mut self, now: SimTime, index: usize) {
        self.to_platform(now, index, TabChange::Hide);
        self.to_running_tab(now, index, TabInput::Visibility { hidden: true });
    }

    /// Freezing a visible page hides it first, if the profile measured that
    /// (Chromium: its `visibilitychange` runs, and it stays hidden after the
    /// resume, until it is shown).
    fn hide_before_freeze(&mut self, now: SimTime, index: usize) {
        if self.platform.freeze_hides() && self.platform.lifecycle(index) == Lifecycle::Visible {
            self.record_lifecycle(index, "hide");
            self.hide(now, index);
        }
    }

    /// A tab is frozen between tasks: a task under way ends first (it is
    /// handled now), and what waited for it waits for the thaw.
    fn freeze(&mut self, now: SimTime, index: usize) {
        self.finish_task(now, index);
        self.to_platform(now, index, TabChange::Freeze);
        if self.platform.lifecycle(index).is_frozen() {
            let waiting = self.backlog.remove(&index).unwrap_or_default();
            self.held.entry(index).or_default().extend(waiting);
        }
    }

    /// A frozen tab runs again: the requests its channel handler made go out,
    /// then it gets what waited for it, in order; but a
    /// page that resumes reads its visibility as it is now, so a change of
    /// it held while frozen comes first, as the visibility it has now.
    fn thaw(&mut self, now: SimTime, index: usize) {
        self.to_platform(now, index, TabChange::Thaw);
        let unsent = self.unsent.remove(&index).unwrap_or_default();
        self.out.extend(unsent.into_iter().map(|(_, out)| out));
        let mut held = self.held.remove(&index).unwrap_or_default();
        let is_visibility = |i: &TabInput| matches!(i, TabInput::Visibility { .. });
        if held.iter().any(is_visibility) {
            held.retain(|i| !is_visibility(i));
            let hidden = self.platform.lifecycle(index) != Lifecycle::Visible;
            held.push_front(TabInput::Visibility { hidden });
        }
        for input in held {
            self.to_tab(now, index, input);
        }
    }

    /// The actions on the whole browser rather than one tab; false for the others.
    fn browser_wide(&mut self, now: SimTime, action: TabAction, what: &str) -> bool {
        let what = what.to_string();
        match action {
            // Browser-wide switches: recorded against the browser, not a tab.
            TabAction::BroadcastOff
            | TabAction::BroadcastOn
            | TabAction::LocksOff
            | TabAction::LocksOn => {
                // Switching back on restores what the browser has: one
                // without a BroadcastChannel or Web Locks does not gain one.
                let has = &self.config.platform;
                let switch = match action {
                    TabAction::BroadcastOff | TabAction::BroadcastOn => PlatformInput::Broadcast(
                        action == TabAction::BroadcastOn && has.broadcast_enabled,
                    ),
                    _ => PlatformInput::Locks(action == TabAction::LocksOn && has.locks_enabled),
                };
                self.platform.handle(now, switch, &());
                let tab = self.name.clone();
                self.out
                    .push_back(BrowserOutput::Observe(Observation::Lifecycle { tab, what }));
            }
            TabAction::Open => {
                let index = self.platform.tab_count();
                debug_assert_eq!(
                    index,
                    self.tabs.len(),
                    "platform and node number tabs alike"
                );
                self.platform.handle(now, PlatformInput::Open, &());
                let tab = self.new_tab();
                self.add_tab(tab);
                self.record_lifecycle(index, "open");
                self.sign_in_tab(now, index);
            }
            TabAction::Login => {
                let tab = self.name.clone();
                self.out
                    .push_back(BrowserOutput::Observe(Observation::Lifecycle { tab, what }));
                if self.creds.is_none() && self.login.is_none() {
                    self.next_login_at = Some(now);
                }
            }
            _ => return false,
        }
        true
    }

    /// A tab crashes or closes; whatever it still had on the wire is abandoned with it.
    fn end_tab(&mut self, now: SimTime, index: usize, crashed: bool) {
        // A task under way never finishes: what it was handling is lost with the tab.
        self.throttled.remove(&index);
        self.backlog.remove(&index);
        self.tasks.remove(&index);
        self.to_tab(now, index, TabInput::Close { crashed });
        let change = if crashed {
            TabChange::Crash
        } else {
            TabChange::Close
        };
        self.to_platform(now, index, change);
        self.held.remove(&index);
        self.unsent.remove(&index);
        let gone: Vec<(usize, u64)> = self
            .tab_reqs
            .keys()
            .filter(|(i, _)| *i == index)
            .copied()
            .collect();
        for key in gone {
            if let Some(id) = self.tab_reqs.remove(&key) {
                self.in_flight.remove(&id);
                self.out.push_back(BrowserOutput::Abort { req: id });
            }
        }
    }

    fn record_lifecycle(&mut self, index: usize, what: &str) {
        let tab = self.tabs[index].name();
        self.out
            .push_back(BrowserOutput::Observe(Observation::Lifecycle {
                tab,
                what: what.to_string(),
            }));
    }

    fn on_login(&mut self, now: SimTime, req: u64, result: Result<Response, NetError>) {
        self.login = None;
        self.record_answer(req, answer_outcome(&result));
        match result {
            Ok(Response {
                status: 200,
                body:
                    Body::Token {
                        session,
                        token,
                        refresh_token,
                        expires_at_ms,
                    },
            }) => {
                self.creds = Some(Credentials {
                    session,
                    token,
                    refresh_token,
                    expires_at: SimTime(expires_at_ms),
                });
                for index in 0..self.tabs.len() {
                    if self.is_open(index) {
                        self.sign_in_tab(now, index);
                    }
                }
            }
            _ => self.next_login_at = Some(now + self.config.login_retry_ms),
        }
    }

    fn on_timer(&mut self, now: SimTime) {
        if let Some((req, deadline)) = self.login {
            if deadline <= now {
                self.in_flight.remove(&req);
                self.out.push_back(BrowserOutput::Abort { req });
                self.login = None;
                self.next_login_at = Some(now + self.config.login_retry_ms);
            }
        }
        if self.creds.is_none()
            && self.login.is_none()
            && self.next_login_at.is_some_and(|t| t <= now)
        {
            self.next_login_at = None;
            let req = self.alloc(Requester::Session);
            let path = Route::Login.to_path();
            self.out
                .push_back(BrowserOutput::Observe(Observation::Request {
                    tab: self.name.clone(),
                    req,
                    what: RequestKind::Login,
                    path: path.clone(),
                    bearer: false,
                }));
            let body = Body::Login {
                org_id: self.config.org,
                user_id: self.config.browser,
            };
            self.out.push_back(BrowserOutput::Send {
                req,
                request: Request {
                    method: Method::Post,
                    path,
                    bearer: None,
                    body,
                },
            });
            self.login = Some((req, now + self.config.login_timeout_ms));
        }
        if self.probe.as_ref().is_some_and(|p| p.next_at() <= now) {
            self.probe_round(now);
        }
        // Tasks that end, tabs whose (throttled) timers are due, then
        // whatever the platform now delivers.
        self.end_tasks(now);
        for index in 0..self.tabs.len() {
            if self.tab_timer(index).is_some_and(|t| t <= now) {
                let fired = PlatformInput::TimerFired { tab: index };
                self.platform.handle(now, fired, &());
                self.run_tab(now, index, Work::Timers);
            }
        }
        self.move_platform_events(now);
    }

    /// Deliver storage events, channel messages and lock grants that are due.
    fn move_platform_events(&mut self, now: SimTime) {
        loop {
            self.platform.handle_timeout(now, &());
            let Some(event) = self.platform.poll_output() else {
                break;
            };
            match event {
                PlatformEvent::Storage { tab, key, value } if key.starts_with(MAILBOX_PREFIX) => {
                    // A mailbox write is a channel message carried by localStorage (L6).
                    let data = value
                        .as_deref()
                        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
                        .and_then(|v| v.get("data").and_then(|d| d.as_str()).map(str::to_string));
                    let channel = key[MAILBOX_PREFIX.len()..].to_string();
                    if let Some(data) = data {
                        let data = data.into();
                        self.to_tab(now, tab, TabInput::Message { channel, data })
                    }
                }
                PlatformEvent::Storage { tab, key, value } => {
                    self.to_tab(now, tab, TabInput::Storage { key, value })
                }
                PlatformEvent::Message {
                    tab, channel, data, ..
                } => self.to_tab(now, tab, TabInput::Message { channel, data }),
                PlatformEvent::LockGranted { tab, name } => {
                    self.to_tab(now, tab, TabInput::LockGranted { name })
                }
            }
        }
    }

    /// When tab `index`'s next timer fires, after throttling (B4); never for
    /// a frozen or closed tab, nor while the tab is busy with a task.
    fn tab_timer(&self, index: usize) -> Option<SimTime> {
        if self.tasks.contains_key(&index) {
            return None;
        }
        let wanted = self.tab_wants[index]?;
        self.platform.timer_fire_time(index, wanted)
    }

    /// Carry out what tab `index` asked, in order (its effects on the
    /// platform only if it `acts`). A frozen tab's requests (and their
    /// `Request` records) wait for its thaw if the profile says so; one it
    /// gives up before then is never sent, nor recorded.
    fn drain_tab(&mut self, now: SimTime, index: usize, acts: bool) {
        let holds_requests = self.platform.lifecycle(index).is_frozen()
            && self
                .platform
                .frozen_channel()
                .is_some_and(|f| f.fetches_held);
        while let Some(o) = self.tabs[index].poll_output() {
            let out = match o {
                TabOutput::Send { req, request } => {
                    let id = self.alloc(Requester::Tab { index, req });
                    self.tab_reqs.insert((index, req), id);
                    let send = BrowserOutput::Send { req: id, request };
                    // Sent with its record: held if the record was.
                    match self.unsent.get_mut(&index) {
                        Some(unsent) if unsent.back().is_some_and(|(r, _)| *r == req) => {
                            unsent.push_back((req, send));
                            continue;
                        }
                        _ => send,
                    }
                }
                TabOutput::Abort { req } => match self.tab_reqs.remove(&(index, req)) {
                    Some(id) => {
                        self.in_flight.remove(&id);
                        if self.withdraw(index, req) {
                            continue;
                        }
                        BrowserOutput::Abort { req: id }
                    }
                    None => continue,
                },
                TabOutput::Ack { req } => match self.tab_reqs.get(&(index, req)) {
                    Some(&id) => BrowserOutput::Ack { req: id },
                    None => continue,
                },
                TabOutput::Observe(obs) => match obs {
                    Observation::Response { req, .. } if self.withdrawn.remove(&(index, req)) => {
                        continue
                    }
                    Observation::Request { req, .. }
                        if holds_requests && !fires(self.mutant, Mutant::FrozenFetchesSent) =>
                    {
                        let record = (req, BrowserOutput::Observe(obs));
                        self.unsent.entry(index).or_default().push_back(record);
                        continue;
                    }
                    obs => BrowserOutput::Observe(obs),
                },
                TabOutput::Effect(effect) => {
                    if acts {
                        self.carry_out(now, index, effect);
                    }
                    continue;
                }
                TabOutput::SignedOut => {
                    // No automatic sign-in after a logout: the user must (the `login` fault).
                    self.creds = None;
                    self.next_login_at = None;
                    // A4: the probe's calls carry the session's token; they go with it.
                    let calls = self.probe.as_mut().map(Probe::give_up).unwrap_or_default();
                    self.abort_probe_calls(calls);
                    continue;
                }
            };
            self.out.push_back(out);
        }
    }

    /// Request `req` of tab `index` is given up: if it is still waiting for
    /// the tab's thaw, it and its record are dropped, and so is the record
    /// of its abort that follows (true).
    fn withdraw(&mut self, index: usize, req: u64) -> bool {
        let Some(unsent) = self.unsent.get_mut(&index) else {
            return false;
        };
        let before = unsent.len();
        unsent.retain(|(r, _)| *r != req);
        let withdrawn = unsent.len() < before;
        if withdrawn {
            self.withdrawn.insert((index, req));
        }
        withdrawn
    }

    /// S7, S8: the ops probe's round, with the token of the first signed-in
    /// tab that has one (none: the round is skipped).
    fn probe_round(&mut self, now: SimTime) {
        let probe = self.probe.as_mut().expect("only called with a probe");
        let calls = probe.start_round(now);
        self.abort_probe_calls(calls);
        let bearer = (0..self.tabs.len())
            .filter(|&i| self.is_open(i))
            .find_map(|i| self.tabs[i].bearer());
        let Some(bearer) = bearer else { return };
        for kind in probe::CALLS {
            let req = self.alloc(Requester::Probe);
            let request = probe::request(kind, bearer.clone());
            self.out
                .push_back(BrowserOutput::Observe(Observation::Request {
                    tab: self.name,
                    req,
                    what: kind,
                    path: request.path.clone(),
                    bearer: true,
                }));
            self.out.push_back(BrowserOutput::Send { req, request });
            self.probe.as_mut().expect("checked").sent(req);
        }
    }

    /// Abort probe calls still out (a round given up, or the session gone).
    fn abort_probe_calls(&mut self, calls: Vec<u64>) {
        for req in calls {
            self.in_flight.remove(&req);
            self.out.push_back(BrowserOutput::Abort { req });
            self.record_answer(req, Outcome::Aborted);
        }
    }

    /// How one of the browser's own calls (a login, a probe call) ended.
    fn record_answer(&mut self, req: u64, outcome: Outcome) {
        self.out
            .push_back(BrowserOutput::Observe(Observation::Response {
                tab: self.name,
                req,
                outcome,
                events: 0,
            }));
    }

    fn on_probe_answer(&mut self, req: u64, result: Result<Response, NetError>) {
        if let Some(p) = self.probe.as_mut() {
            p.answered(req);
        }
        self.record_answer(req, answer_outcome(&result));
        let tab = self.name;
        if let Some(reading) = result.ok().and_then(|r| probe::reading(tab, req, &r)) {
            self.out.push_back(BrowserOutput::Observe(reading));
        }
    }

    fn next_timer(&self) -> Option<SimTime> {
        let login = match (self.login, self.creds.is_some()) {
            (Some((_, deadline)), _) => Some(deadline),
            (None, false) => self.next_login_at,
            (None, true) => None,
        };
        let probe = self.probe.as_ref().map(Probe::next_at);
        let tasks = self.tasks.values().map(|t| t.ends).min();
        let tabs = (0..self.tabs.len())
            .map(|i| self.tab_timer(i))
            .fold(earliest(earliest(login, probe), tasks), earliest);
        earliest(tabs, self.platform.poll_timeout())
    }
}

impl Machine for BrowserNode {
    type Input = BrowserInput;
    type Output = BrowserOutput;
    type View<'v> = ();

    fn handle(&mut self, now: SimTime, input: BrowserInput, _: &()) {
        self.on_input(now, input)
    }

    fn handle_timeout(&mut self, now: SimTime, _: &()) {
        self.on_timer(now)
    }

    fn poll_output(&mut self) -> Option<BrowserOutput> {
        let out = self.out.pop_front();
        // A burst (every tab signing in at once) grows the queue; give the
        // room back once it is drained instead of keeping it all run long.
        if out.is_none() && self.out.capacity() > 8 {
            self.out = VecDeque::new();
        }
        out
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.next_timer()
    }
}

/// The outcome the trace records for an answer, or a network failure.
fn answer_outcome(result: &Result<Response, NetError>) -> Outcome {
    match result {
        Ok(r) => Outcome::Status(r.status),
        Err(_) => Outcome::NetError,
    }
}
