//! How a tab takes its inputs (the `Machine` shape): what its browser hands
//! it, and how it hands its own parts (the election, the auth machine) theirs
//! and carries out what they ask, in order, before anything reads again.

use super::*;

/// What reaches a tab from its browser.
#[derive(Clone, Debug, PartialEq)]
pub enum TabInput {
    /// The session is signed in: its credentials, and the scope (L1) its tabs share.
    SignIn {
        creds: Credentials,
        scope: String,
    },
    /// The answer to the tab's request `req`.
    Response {
        req: u64,
        result: Result<Response, NetError>,
    },
    /// A frame on the v2 stream the tab's request `req` opened.
    Frame {
        req: u64,
        frame: crate::frames::Frame,
    },
    /// A BroadcastChannel message (or an L6 mailbox one) from another tab.
    Message {
        channel: String,
        data: MessageData,
    },
    /// A localStorage write by another tab.
    Storage {
        key: String,
        value: Option<String>,
    },
    /// B3: a lock this tab asked for is its own now.
    LockGranted {
        name: String,
    },
    /// U4: the tab's window gains focus.
    Focus,
    /// B4, C6: the tab is hidden (or shown again); a hidden tab paces its polls.
    Visibility {
        hidden: bool,
    },
    /// A4: the user clicks "log out" in this tab.
    Logout,
    /// The tab closes (cleanly, or `crashed` without a goodbye).
    Close {
        crashed: bool,
    },
    /// B4: `pagehide` as the page enters the back-forward cache, and
    /// `pageshow` as it is restored from it.
    PageHide,
    PageShow,
    /// C15: the user moves to a route whose page shows `lists`...
    ChangeRoute {
        lists: Vec<ListKind>,
    },
    /// ...or sets the page's property filter.
    SetFilter {
        filter: crate::query::Filter,
    },
}

impl Tab {
    /// Hand the election an input, then carry out what it asks (see `sync_role`).
    pub(super) fn to_leader(&mut self, now: SimTime, input: LeaderInput, env: &dyn BrowserView) {
        if let Some(l) = self.leader.as_mut() {
            l.handle(now, input, env);
        }
        self.sync_role(now);
    }

    /// Hand the auth machine an input, then carry out what it asks.
    pub(super) fn to_auth(&mut self, now: SimTime, input: AuthInput, env: &dyn BrowserView) {
        self.auth.handle(now, input, env);
        self.drain_auth(now, env);
    }

    /// A localStorage write of another tab reached this one: the election's and
    /// the session's keys are apart, so at most one of the two acts on it.
    fn on_storage(
        &mut self,
        now: SimTime,
        key: String,
        value: Option<String>,
        env: &dyn BrowserView,
    ) {
        let (k, v) = (key.clone(), value.clone());
        self.to_leader(now, LeaderInput::Storage { key: k, value: v }, env);
        self.to_auth(now, AuthInput::Storage { key, value }, env);
        self.on_timer(now, env);
    }

    /// B3: a lock this tab asked for is now its own (the election's, or the refresh mutex).
    fn on_lock_granted(&mut self, now: SimTime, name: String, env: &dyn BrowserView) {
        let input = LeaderInput::LockGranted { name: name.clone() };
        self.to_leader(now, input, env);
        self.to_auth(now, AuthInput::LockGranted { name }, env);
        self.on_timer(now, env);
    }

    /// The tab closes (cleanly, or `crashed` without a goodbye).
    fn close(&mut self, now: SimTime, crashed: bool, env: &dyn BrowserView) {
        let input = if crashed {
            LeaderInput::Crash
        } else {
            LeaderInput::Close
        };
        self.to_leader(now, input, env);
        for kind in [Kind::Refetch, Kind::Refresh, Kind::Aggregate] {
            self.abort_all(kind);
        }
        self.stop_page_calls();
        self.cache.handle(now, CacheInput::ClearOptimistic, &());
        self.refetch_needed = false;
    }

    /// The tab's cursor moves; its election's heartbeats carry it (L5).
    pub(super) fn set_cursor(&mut self, cursor: Option<u64>) {
        self.cursor = cursor;
        if let Some(l) = self.leader.as_mut() {
            l.handle(SimTime::ZERO, LeaderInput::Cursor(cursor), &NoReads);
        }
    }
}

/// The view for an input that reads nothing of the browser.
struct NoReads;

impl BrowserView for NoReads {
    fn storage_get(&self, _key: &str) -> Option<String> {
        unreachable!("this input reads no storage")
    }
    fn broadcast_enabled(&self) -> bool {
        unreachable!("this input reads no channel")
    }
    fn locks_available(&self) -> bool {
        unreachable!("this input reads no lock")
    }
}

impl Machine for Tab {
    type Input = TabInput;
    type Output = TabOutput;
    type View<'v> = dyn BrowserView + 'v;

    fn handle(&mut self, now: SimTime, input: TabInput, view: &dyn BrowserView) {
        match input {
            TabInput::SignIn { creds, scope } => self.sign_in(now, creds, scope, view),
            TabInput::Response { req, result } => self.on_response(now, req, result, view),
            TabInput::Frame { req, frame } => self.on_frame(now, req, frame, view),
            TabInput::Message { channel, data } => self.on_message(now, &channel, &data, view),
            TabInput::Storage { key, value } => self.on_storage(now, key, value, view),
            TabInput::LockGranted { name } => self.on_lock_granted(now, name, view),
            TabInput::Focus => self.on_focus(now, view),
            TabInput::Visibility { hidden } => {
                self.hidden = hidden;
                if hidden {
                    self.to_leader(now, LeaderInput::Hidden, view);
                }
                self.on_timer(now, view);
            }
            TabInput::Logout => self.logout(now, view),
            TabInput::Close { crashed } => self.close(now, crashed, view),
            TabInput::PageHide => self.to_leader(now, LeaderInput::PageHide, view),
            TabInput::PageShow => {
                self.to_leader(now, LeaderInput::PageShow, view);
                self.on_timer(now, view);
            }
            TabInput::ChangeRoute { lists } => self.change_route(now, &lists, view),
            TabInput::SetFilter { filter } => self.set_filter(now, filter, view),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, view: &dyn BrowserView) {
        self.on_timer(now, view)
    }

    fn poll_output(&mut self) -> Option<TabOutput> {
        while let Some(c) = self.cache.poll_output() {
            self.observe(Observation::ListRow {
                tab: self.name.clone(),
                mutation: c.mutation,
                row: c.row,
                shown: c.shown,
                how: c.how,
            });
        }
        let out = self.out.pop_front();
        // A page load makes an output of every row at once; give the room
        // back once it is drained instead of keeping it all run long (at
        // 50,000 tabs that is tens of megabytes, issue 19).
        if out.is_none() && self.out.capacity() > 8 {
            self.out = VecDeque::new();
        }
        out
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.next_timer()
    }
}
