//! The auth lifecycle of one tab (SPEC A1-A5, C7), sans-IO.
//!
//! Every tab of a session holds the same access token. When it runs out (a
//! 401, or the pre-expiry timer), exactly one tab must refresh it (A1): a
//! tab takes the session's refresh mutex (the `navigator.locks` lock, else a
//! localStorage lease with a short TTL, claimed by write-then-recheck as the
//! leader lease is), then re-reads the shared token, since another tab may
//! have refreshed while it waited, and only then calls `POST /auth/refresh`.
//! It announces `refresh-started`, `refresh-success {token}` or
//! `refresh-failed` on the `auth-refresh` channel (A2), and writes the token
//! and the backoff to localStorage, which is how tabs without a
//! BroadcastChannel learn them. Failures back off 2, 4, 8 ... 60 s, shared
//! by every tab, with the expired banner up (A3, A5). A logout is announced
//! on `auth-control` and in localStorage `auth-logout` (A4); every tab that
//! hears it drops the session at once.

use super::browser_api::{BrowserView, Effect, MessageData};
use crate::machine::Machine;
use crate::mutant::{fires, Mutant};
pub use crate::observation::Banner;
use crate::time::{earliest, SimTime};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Debug, PartialEq)]
pub struct AuthConfig {
    /// C15: refresh this long before the token expires.
    pub pre_expiry_refresh_ms: u64,
    pub refresh_request_timeout_ms: u64,
    /// A1: the localStorage mutex's lease lasts this long...
    pub refresh_lease_ttl_ms: u64,
    /// ...and a tab that took the mutex (lock or lease) re-reads the claim and the
    /// shared token after this long, longer than storage propagation.
    pub refresh_lease_recheck_ms: u64,
    /// A2: a tab paused by another's `refresh-started` waits at most this long for the result.
    pub refresh_wait_ms: u64,
    /// A3: backoff after a failed refresh: base, doubling, capped.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            pre_expiry_refresh_ms: 60_000,
            refresh_request_timeout_ms: 10_000,
            refresh_lease_ttl_ms: 15_000,
            refresh_lease_recheck_ms: 100,
            refresh_wait_ms: 15_000,
            backoff_base_ms: 2_000,
            backoff_max_ms: 60_000,
        }
    }
}

impl AuthConfig {
    /// A3: the pause after the `failures`-th failed refresh in a row.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        let doublings = failures.saturating_sub(1).min(32);
        self.backoff_base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max_ms)
    }
}

/// A session as a tab holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub session: u64,
    pub token: String,
    pub refresh_token: String,
    pub expires_at: SimTime,
}

/// What tabs tell each other on `auth-refresh` and `auth-control` (A2, A4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMessage {
    RefreshStarted {
        session: u64,
    },
    RefreshSuccess {
        session: u64,
        token: String,
        expires_at: SimTime,
    },
    RefreshFailed {
        session: u64,
        failures: u32,
        retry_at: SimTime,
    },
    Logout {
        session: u64,
    },
}

pub const REFRESH_CHANNEL: &str = "auth-refresh";
pub const CONTROL_CHANNEL: &str = "auth-control";
/// localStorage: the session's latest token, its backoff, and the logout fallback.
const TOKEN_KEY: &str = "auth-token";
const BACKOFF_KEY: &str = "auth-backoff";
const LOGOUT_KEY: &str = "auth-logout";
/// The refresh mutex's lease key, per session (A2): the prefix, then the session.
const LEASE_PREFIX: &str = "auth-refresh-lease:";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SharedToken {
    session: u64,
    token: String,
    expires_at: SimTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SharedBackoff {
    session: u64,
    failures: u32,
    retry_at: SimTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RefreshLease {
    tab: u32,
    expires_at: SimTime,
}

/// A1: where this tab is with the session's refresh mutex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutex {
    Free,
    /// Asked `navigator.locks`; the grant comes as an event.
    Waiting,
    /// Holds the lock, or wrote its lease claim (`lease`); at `check_at` it
    /// re-reads the claim and the shared token. The wait outlasts storage
    /// propagation, so a token the previous holder wrote has arrived by then.
    Settling {
        check_at: SimTime,
        lease: bool,
    },
    Held,
}

/// What reaches a tab's auth machine.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthInput {
    /// The user signed in (or the tab opened in a signed-in browser).
    SignIn(Credentials),
    /// A call made with the token of `epoch` came back 401/403.
    Refused { epoch: u64 },
    /// This tab's refresh call answered: the new token and its expiry, or a failure.
    RefreshResult(Result<(String, SimTime), ()>),
    /// A message on `auth-refresh` or `auth-control`.
    Message(AuthMessage),
    /// A localStorage write by another tab.
    Storage { key: String, value: Option<String> },
    /// B3: the tab now holds the lock `name`.
    LockGranted { name: String },
    /// A4: the user logs out in this tab.
    Logout,
    /// A5: whether the transport reaches the server.
    Offline(bool),
}

/// What the tab must do for its auth machine.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthOutput {
    /// Call `POST /auth/refresh` with this refresh token.
    Refresh {
        refresh_token: String,
    },
    /// The session ended in this tab (`cause`): drop everything that belongs to it.
    SignedOut {
        cause: &'static str,
    },
    Banner(Banner),
    /// A4: revoke the session on the server (`POST /auth/logout`), with the
    /// bearer the tab held when the user logged out.
    Revoke {
        refresh_token: String,
        bearer: Option<String>,
    },
    /// A storage write, a broadcast or a lock for the browser to carry out.
    Effect(Effect),
}

pub struct Auth {
    config: AuthConfig,
    mutant: Option<Mutant>,
    me: u32,
    creds: Option<Credentials>,
    epoch: u64,
    /// The current token was refused (401/403); no request until a new one.
    refused: bool,
    /// A refresh is wanted (refused, due, or retrying after a failure).
    wanted: bool,
    mutex: Mutex,
    /// This tab's refresh call is out.
    refreshing: bool,
    /// Another tab announced a refresh: pause until its result, or until then.
    other_refreshing_until: Option<SimTime>,
    /// The storage lease is another tab's until then.
    lease_busy_until: Option<SimTime>,
    failures: u32,
    retry_at: Option<SimTime>,
    offline: bool,
    banner: Banner,
    out: VecDeque<AuthOutput>,
}

impl Auth {
    pub fn new(config: AuthConfig, me: u32, mutant: Option<Mutant>) -> Self {
        Auth {
            config,
            mutant,
            me,
            creds: None,
            epoch: 0,
            refused: false,
            wanted: false,
            mutex: Mutex::Free,
            refreshing: false,
            other_refreshing_until: None,
            lease_busy_until: None,
            failures: 0,
            retry_at: None,
            offline: false,
            banner: Banner::None,
            out: VecDeque::new(),
        }
    }

    pub fn session(&self) -> Option<u64> {
        self.creds.as_ref().map(|c| c.session)
    }

    pub fn signed_in(&self) -> bool {
        self.creds.is_some()
    }

    /// Which token the tab holds: it changes with every new one, so an answer
    /// refusing an older token is not taken for a refusal of the current one.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The bearer for a request now, if the tab may send one (C7): signed in,
    /// the token not refused, and no other tab mid-refresh. A token past its
    /// expiry goes out all the same (the pre-expiry refresh should have
    /// replaced it); the server's 401 then starts a refresh.
    pub fn bearer(&self) -> Option<String> {
        self.bearer_ref().map(str::to_string)
    }

    /// Whether a call could go out now with a bearer (`bearer` is `Some`),
    /// without copying the token: the timers ask this on every wake-up.
    pub fn has_bearer(&self) -> bool {
        self.bearer_ref().is_some()
    }

    fn bearer_ref(&self) -> Option<&str> {
        let c = self.creds.as_ref()?;
        let usable = !self.refused && self.other_refreshing_until.is_none();
        if usable {
            Some(&c.token)
        } else if fires(self.mutant, Mutant::EmptyBearer) {
            // The bug: the pause is skipped and the header goes out with nothing in it.
            Some("")
        } else {
            None
        }
    }

    /// The refresh token, for a logout call.
    pub fn refresh_token(&self) -> Option<String> {
        self.creds.as_ref().map(|c| c.refresh_token.clone())
    }

    fn refresh_lock(&self) -> String {
        format!("auth-refresh:{}", self.session().unwrap_or(0))
    }

    fn lease_key(&self) -> String {
        format!("{LEASE_PREFIX}{}", self.session().unwrap_or(0))
    }

    /// Whether `key` is this session's refresh lease, without spelling the
    /// key (every storage event reaches this test).
    fn is_lease_key(&self, key: &str) -> bool {
        let session = self.session().unwrap_or(0);
        key.strip_prefix(LEASE_PREFIX) == Some(itoa::Buffer::new().format(session))
    }

    fn set_banner(&mut self) {
        let banner = if self.creds.is_some() && self.failures > 0 {
            Banner::Expired
        } else if self.creds.is_some() && self.offline {
            Banner::Offline
        } else {
            Banner::None
        };
        let clears = self.banner == Banner::Expired && banner != Banner::Expired;
        if clears && self.creds.is_some() && fires(self.mutant, Mutant::BannerSticks) {
            // The bug: the banner is only ever taken down by a reload.
            return;
        }
        let back_online = self.banner == Banner::Offline && banner == Banner::None;
        if back_online && fires(self.mutant, Mutant::OfflineBannerSticks) {
            // The bug: nothing listens for `online`.
            return;
        }
        if banner != self.banner {
            self.banner = banner;
            self.out.push_back(AuthOutput::Banner(banner));
        }
    }

    /// A5: whether the transport reaches the server.
    fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
        self.set_banner();
    }

    /// The user signed in (or the tab opened in a signed-in browser). A token
    /// another tab refreshed since, found in localStorage, replaces the given one.
    fn sign_in(&mut self, now: SimTime, creds: Credentials, env: &dyn BrowserView) {
        let epoch = self.epoch + 1;
        self.reset();
        self.epoch = epoch;
        self.creds = Some(creds);
        if let Some(shared) = read::<SharedToken>(env, TOKEN_KEY) {
            self.adopt(now, shared.session, shared.token, shared.expires_at);
        }
        self.on_timer(now, env);
    }

    /// Take a token another tab refreshed, if it is this session's and newer.
    fn adopt(&mut self, _now: SimTime, session: u64, token: String, expires_at: SimTime) {
        let Some(c) = self.creds.as_mut() else { return };
        if c.session != session {
            return;
        }
        // The refresh another tab announced is over, whether this token is
        // news (it may have come first by the localStorage fallback) or not.
        self.other_refreshing_until = None;
        if c.token == token || expires_at < c.expires_at {
            return;
        }
        c.token = token;
        c.expires_at = expires_at;
        self.epoch += 1;
        self.refused = false;
        self.wanted = false;
        self.failures = 0;
        self.retry_at = None;
        self.other_refreshing_until = None;
        self.set_banner();
    }

    /// A call made with the token of `epoch` came back 401/403 (C7: pause, refresh).
    fn on_refused(&mut self, now: SimTime, epoch: u64, env: &dyn BrowserView) {
        if self.creds.is_none() || epoch != self.epoch {
            return;
        }
        self.refused = true;
        self.wanted = true;
        self.on_timer(now, env);
    }

    fn on_timer(&mut self, now: SimTime, env: &dyn BrowserView) {
        let Some(c) = self.creds.as_ref() else { return };
        if !self.wanted && now.as_ms() + self.config.pre_expiry_refresh_ms >= c.expires_at.as_ms() {
            self.wanted = true;
        }
        if self.other_refreshing_until.is_some_and(|t| t <= now) {
            self.other_refreshing_until = None;
        }
        if self.lease_busy_until.is_some_and(|t| t <= now) {
            self.lease_busy_until = None;
        }
        if let Mutex::Settling { check_at, lease } = self.mutex {
            if check_at <= now {
                match read::<RefreshLease>(env, &self.lease_key()) {
                    Some(l) if lease && l.tab != self.me => {
                        self.mutex = Mutex::Free;
                        self.lease_busy_until = Some(l.expires_at);
                    }
                    None if lease => self.mutex = Mutex::Free,
                    _ => {
                        self.mutex = Mutex::Held;
                        self.proceed(now, env);
                    }
                }
            }
        }
        let ready = self.wanted
            && self.mutex == Mutex::Free
            && !self.refreshing
            && self.other_refreshing_until.is_none()
            && self.lease_busy_until.is_none()
            && self.retry_at.is_none_or(|t| t <= now);
        if ready {
            self.acquire(now, env);
        }
    }

    fn next_timer(&self) -> Option<SimTime> {
        let c = self.creds.as_ref()?;
        let mut next = None;
        if !self.wanted {
            next = Some(SimTime(
                c.expires_at
                    .as_ms()
                    .saturating_sub(self.config.pre_expiry_refresh_ms),
            ));
        }
        if let Mutex::Settling { check_at, .. } = self.mutex {
            next = earliest(next, Some(check_at));
        }
        next = earliest(next, self.other_refreshing_until);
        if self.wanted && self.mutex == Mutex::Free && !self.refreshing {
            // A refresh may start once nothing holds it back any more.
            let ready_at = [
                self.retry_at,
                self.lease_busy_until,
                self.other_refreshing_until,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(SimTime::ZERO);
            next = earliest(next, Some(ready_at));
        }
        next
    }

    /// A1: take the session's refresh mutex.
    fn acquire(&mut self, now: SimTime, env: &dyn BrowserView) {
        if fires(self.mutant, Mutant::RefreshNoMutex) {
            self.mutex = Mutex::Held;
            return self.proceed(now, env);
        }
        if env.locks_available() {
            let name = self.refresh_lock();
            self.effect(Effect::LockRequest { name });
            self.mutex = Mutex::Waiting;
            return;
        }
        let key = self.lease_key();
        match read::<RefreshLease>(env, &key) {
            Some(l) if l.tab != self.me && l.expires_at > now => {
                self.lease_busy_until = Some(l.expires_at)
            }
            _ => {
                let lease = RefreshLease {
                    tab: self.me,
                    expires_at: now + self.config.refresh_lease_ttl_ms,
                };
                self.write(&key, Some(&lease));
                self.mutex = Mutex::Settling {
                    check_at: now + self.config.refresh_lease_recheck_ms,
                    lease: true,
                };
            }
        }
    }

    /// B3: a lock this tab asked for is its own now.
    fn on_lock_granted(&mut self, now: SimTime, name: &str, env: &dyn BrowserView) {
        if self.mutex == Mutex::Waiting && name == self.refresh_lock() {
            self.mutex = Mutex::Settling {
                check_at: now + self.config.refresh_lease_recheck_ms,
                lease: false,
            };
            self.on_timer(now, env);
        }
    }

    fn release(&mut self, env: &dyn BrowserView) {
        match self.mutex {
            Mutex::Waiting => {
                let name = self.refresh_lock();
                self.effect(Effect::LockRelease { name });
            }
            Mutex::Held | Mutex::Settling { .. } => {
                let name = self.refresh_lock();
                self.effect(Effect::LockRelease { name });
                let key = self.lease_key();
                if read::<RefreshLease>(env, &key).is_some_and(|l| l.tab == self.me) {
                    self.write::<RefreshLease>(&key, None);
                }
            }
            Mutex::Free => {}
        }
        self.mutex = Mutex::Free;
    }

    /// Holding the mutex: refresh unless another tab already did (or failed and backs off).
    fn proceed(&mut self, now: SimTime, env: &dyn BrowserView) {
        let Some(session) = self.session() else {
            return self.release(env);
        };
        if let Some(shared) = read::<SharedToken>(env, TOKEN_KEY) {
            self.adopt(now, shared.session, shared.token, shared.expires_at);
        }
        if let Some(b) = read::<SharedBackoff>(env, BACKOFF_KEY) {
            self.heard_failure(b.session, b.failures, b.retry_at);
        }
        if !self.wanted || self.retry_at.is_some_and(|t| t > now) {
            return self.release(env);
        }
        self.broadcast(REFRESH_CHANNEL, AuthMessage::RefreshStarted { session });
        self.refreshing = true;
        let refresh_token = self.refresh_token().expect("signed in");
        self.out.push_back(AuthOutput::Refresh { refresh_token });
    }

    /// The refresh call's result: the new token and its expiry, or a failure.
    fn on_refresh_result(
        &mut self,
        now: SimTime,
        result: Result<(String, SimTime), ()>,
        env: &dyn BrowserView,
    ) {
        if !self.refreshing {
            return;
        }
        self.refreshing = false;
        let Some(session) = self.session() else {
            return self.release(env);
        };
        match result {
            Ok((token, expires_at)) => {
                // A2: the session's other tabs learn the token on `auth-refresh`,
                // and from localStorage (no channel, or opened later).
                let share = !fires(self.mutant, Mutant::RefreshSuccessUnshared);
                let shared = SharedToken {
                    session,
                    token: token.clone(),
                    expires_at,
                };
                if share {
                    self.write(TOKEN_KEY, Some(&shared));
                }
                self.write::<SharedBackoff>(BACKOFF_KEY, None);
                let msg = AuthMessage::RefreshSuccess {
                    session,
                    token: token.clone(),
                    expires_at,
                };
                if share {
                    self.broadcast(REFRESH_CHANNEL, msg);
                }
                self.adopt(now, session, token, expires_at);
            }
            Err(()) => {
                let failures = self.failures + 1;
                let delay = if fires(self.mutant, Mutant::NoBackoff) {
                    self.config.backoff_base_ms
                } else {
                    self.config.backoff_ms(failures)
                };
                let retry_at = now + delay;
                let backoff = SharedBackoff {
                    session,
                    failures,
                    retry_at,
                };
                self.write(BACKOFF_KEY, Some(&backoff));
                let msg = AuthMessage::RefreshFailed {
                    session,
                    failures,
                    retry_at,
                };
                self.broadcast(REFRESH_CHANNEL, msg);
                self.heard_failure(session, failures, retry_at);
            }
        }
        self.release(env);
        self.on_timer(now, env);
    }

    /// A3: a refresh of this session failed; back off with every other tab, banner up.
    fn heard_failure(&mut self, session: u64, failures: u32, retry_at: SimTime) {
        if self.session() != Some(session) || failures < self.failures {
            return;
        }
        self.failures = failures;
        self.retry_at = Some(self.retry_at.map_or(retry_at, |t| t.max(retry_at)));
        self.wanted = true;
        self.other_refreshing_until = None;
        self.set_banner();
    }

    /// A message on `auth-refresh` or `auth-control`.
    fn on_message(&mut self, now: SimTime, msg: AuthMessage, env: &dyn BrowserView) {
        if self.session() != Some(msg_session(&msg)) {
            return;
        }
        match msg {
            AuthMessage::RefreshStarted { .. } => {
                if !self.refreshing {
                    self.other_refreshing_until = Some(now + self.config.refresh_wait_ms);
                }
            }
            AuthMessage::RefreshSuccess {
                session,
                token,
                expires_at,
            } => self.adopt(now, session, token, expires_at),
            AuthMessage::RefreshFailed {
                session,
                failures,
                retry_at,
            } => self.heard_failure(session, failures, retry_at),
            AuthMessage::Logout { .. } => return self.sign_out("logout broadcast", env),
        }
        self.on_timer(now, env);
    }

    /// A localStorage write of another tab: the fallback for every message.
    fn on_storage(&mut self, now: SimTime, key: &str, value: Option<&str>, env: &dyn BrowserView) {
        match key {
            TOKEN_KEY => {
                if let Some(s) = parse::<SharedToken>(value) {
                    self.adopt(now, s.session, s.token, s.expires_at);
                }
            }
            BACKOFF_KEY => {
                // The event may be older than what this tab has heard since:
                // a frozen page runs its channel messages as they come but gets
                // storage events at its resume (B4, measured), so the backoff
                // of a refresh that failed arrives after the success that
                // cleared it. What the key holds now decides.
                if let Some(b) = read::<SharedBackoff>(env, BACKOFF_KEY) {
                    self.heard_failure(b.session, b.failures, b.retry_at);
                }
            }
            LOGOUT_KEY => {
                if let Some(session) = parse::<u64>(value) {
                    if self.session() == Some(session) {
                        return self.sign_out("logout in storage", env);
                    }
                }
            }
            k if self.is_lease_key(k) && value.is_none() => self.lease_busy_until = None,
            _ => return,
        }
        self.on_timer(now, env);
    }

    /// A4: the user logs out in this tab. Tell every tab (channel and storage),
    /// drop the session here, then ask for the server call that revokes it.
    fn logout(&mut self, env: &dyn BrowserView) {
        let Some(session) = self.session() else {
            return;
        };
        let (refresh_token, bearer) = (self.refresh_token(), self.bearer());
        if !fires(self.mutant, Mutant::LogoutNoBroadcast) {
            self.broadcast(CONTROL_CHANNEL, AuthMessage::Logout { session });
            self.write(LOGOUT_KEY, Some(&session));
        }
        self.write::<SharedToken>(TOKEN_KEY, None);
        self.sign_out("logged out here", env);
        if let Some(refresh_token) = refresh_token {
            self.out.push_back(AuthOutput::Revoke {
                refresh_token,
                bearer,
            });
        }
    }

    /// Drop the session: idempotent; a tab signed out already does nothing.
    fn sign_out(&mut self, cause: &'static str, env: &dyn BrowserView) {
        if self.creds.is_none() {
            return;
        }
        self.release(env);
        let (banner, epoch) = (self.banner, self.epoch);
        self.reset();
        self.banner = banner;
        self.epoch = epoch;
        self.set_banner();
        self.out.push_back(AuthOutput::SignedOut { cause });
    }

    /// Forget the session. Effects already asked for still happen; what was
    /// not yet reported about the session (a banner) goes with it.
    fn reset(&mut self) {
        let mut out = std::mem::take(&mut self.out);
        out.retain(|o| matches!(o, AuthOutput::Effect(_)));
        *self = Auth::new(self.config.clone(), self.me, self.mutant);
        self.out = out;
    }

    fn effect(&mut self, effect: Effect) {
        self.out.push_back(AuthOutput::Effect(effect));
    }

    fn write<T: Serialize>(&mut self, key: &str, value: Option<&T>) {
        let (key, value) = (key.to_string(), value.map(to_json));
        self.effect(Effect::StorageSet { key, value });
    }

    fn broadcast(&mut self, channel: &str, msg: AuthMessage) {
        let (channel, data) = (channel.to_string(), MessageData::of(msg));
        self.effect(Effect::Broadcast { channel, data });
    }
}

impl Machine for Auth {
    type Input = AuthInput;
    type Output = AuthOutput;
    type View<'v> = dyn BrowserView + 'v;

    fn handle(&mut self, now: SimTime, input: AuthInput, view: &dyn BrowserView) {
        match input {
            AuthInput::SignIn(creds) => self.sign_in(now, creds, view),
            AuthInput::Refused { epoch } => self.on_refused(now, epoch, view),
            AuthInput::RefreshResult(result) => self.on_refresh_result(now, result, view),
            AuthInput::Message(msg) => self.on_message(now, msg, view),
            AuthInput::Storage { key, value } => self.on_storage(now, &key, value.as_deref(), view),
            AuthInput::LockGranted { name } => self.on_lock_granted(now, &name, view),
            AuthInput::Logout => self.logout(view),
            AuthInput::Offline(offline) => self.set_offline(offline),
        }
    }

    fn handle_timeout(&mut self, now: SimTime, view: &dyn BrowserView) {
        self.on_timer(now, view)
    }

    fn poll_output(&mut self) -> Option<AuthOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        self.next_timer()
    }
}

fn msg_session(msg: &AuthMessage) -> u64 {
    match msg {
        AuthMessage::RefreshStarted { session }
        | AuthMessage::RefreshSuccess { session, .. }
        | AuthMessage::RefreshFailed { session, .. }
        | AuthMessage::Logout { session } => *session,
    }
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("auth records serialise")
}

fn parse<T: for<'de> Deserialize<'de>>(value: Option<&str>) -> Option<T> {
    value.and_then(|v| serde_json::from_str(v).ok())
}

fn read<T: for<'de> Deserialize<'de>>(env: &dyn BrowserView, key: &str) -> Option<T> {
    parse(env.storage_get(key).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_to_a_minute() {
        let c = AuthConfig::default();
        let got: Vec<u64> = (1..=8).map(|k| c.backoff_ms(k) / 1000).collect();
        assert_eq!(got, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(c.backoff_ms(1000), 60_000);
    }
}
