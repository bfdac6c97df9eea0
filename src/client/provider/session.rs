//! The session in a tab (A1-A5, C7): signing in, carrying out what the auth
//! machine asks, a refused call, the refresh answer, logout and sign-out.

use super::*;

impl Tab {
    /// The session is signed in: take its credentials, join the scope's election
    /// and start. `scope` names the scope (L1): the session or the browser and org.
    pub(super) fn sign_in(
        &mut self,
        now: SimTime,
        creds: Credentials,
        scope: String,
        env: &dyn BrowserView,
    ) {
        self.to_auth(now, AuthInput::SignIn(creds), env);
        if self.leader.is_none() {
            self.derived.handle(now, DerivedInput::Start, &());
            self.next_write_at = self.config.writes.next_after(now, &mut self.rng);
            let index = self.id.tab;
            // The election draws from a stream of its own: a clone of the tab's
            // generator on the same stream would repeat the tab's next draws as
            // takeover jitter, correlating the two.
            let mut rng = crate::seed::SimRng::clone(&self.rng);
            rng.set_stream(LEADER_STREAM);
            self.scope = scope.clone();
            let leader = Leader::new(self.config.leader.clone(), index, &scope, rng, self.mutant);
            self.leader = Some(leader);
            self.to_leader(now, LeaderInput::Start, env);
            // A follower loads its page now; a poller after its first contact (see on_batch).
            if !self.polls() && !self.loaded() {
                self.owe_refetch(0);
            }
        }
        self.on_timer(now, env);
    }

    /// Carry out what the auth machine asks for.
    pub(super) fn drain_auth(&mut self, now: SimTime, env: &dyn BrowserView) {
        while let Some(output) = self.auth.poll_output() {
            match output {
                AuthOutput::Refresh { refresh_token } => {
                    let call = self.send_raw(
                        now,
                        RequestKind::Refresh,
                        Route::Refresh,
                        Body::RefreshToken { refresh_token },
                        None,
                        self.config.auth.refresh_request_timeout_ms,
                    );
                    // A new refresh replaces one still tracked, whose answer is then ignored.
                    self.calls.take_all(Kind::Refresh);
                    self.calls.track(call, Purpose::Refresh);
                }
                AuthOutput::Banner(banner) => self.observe(Observation::Banner {
                    tab: self.name.clone(),
                    banner,
                }),
                AuthOutput::SignedOut { cause } => self.drop_session(now, cause, env),
                AuthOutput::Revoke {
                    refresh_token,
                    bearer,
                } => {
                    // Revoke the session on the server too; the answer changes nothing here.
                    self.send_raw(
                        now,
                        RequestKind::Logout,
                        Route::Logout,
                        Body::RefreshToken { refresh_token },
                        bearer,
                        self.config.auth.refresh_request_timeout_ms,
                    );
                }
                AuthOutput::Effect(effect) => self.out.push_back(TabOutput::Effect(effect)),
            }
        }
    }

    /// A4: the session is over in this tab: abort every call, stop every
    /// timer, leave the election, clear the cache. Nothing more is sent until
    /// the user signs in again.
    pub(super) fn drop_session(&mut self, now: SimTime, cause: &str, env: &dyn BrowserView) {
        self.observe(Observation::SignedOut {
            tab: self.name.clone(),
            cause: cause.to_string(),
        });
        self.derived.handle(now, DerivedInput::Stop, &());
        for kind in [Kind::Poll, Kind::Refetch, Kind::Refresh, Kind::Aggregate] {
            self.abort_all(kind);
        }
        self.stop_page_calls();
        self.degraded = false;
        self.next_degraded_refetch = None;
        self.to_leader(now, LeaderInput::Close, env);
        self.leader = None;
        self.last_role = None;
        self.next_poll_at = None;
        self.refetch_needed = false;
        self.refetch_owed_through = 0;
        self.set_cursor(None);
        self.last_shared = None;
        self.loaded_through = None;
        self.applied_through.clear();
        self.cache.handle(now, CacheInput::Clear, &());
        self.out.push_back(TabOutput::SignedOut);
    }

    /// The user clicks "log out" in this tab (A4).
    pub(super) fn logout(&mut self, now: SimTime, env: &dyn BrowserView) {
        if !self.auth.signed_in() {
            return;
        }
        self.observe(Observation::Logout {
            tab: self.name.clone(),
        });
        self.to_auth(now, AuthInput::Logout, env);
    }

    pub fn signed_in(&self) -> bool {
        self.auth.signed_in()
    }

    /// C7: a 401/403 pauses the tab's calls until its auth machine has a new token.
    pub(super) fn refused(&mut self, now: SimTime, status: u16, epoch: u64, env: &dyn BrowserView) {
        self.observe(Observation::AuthPaused {
            tab: self.name.clone(),
            status,
        });
        self.to_auth(now, AuthInput::Refused { epoch }, env);
    }

    pub(super) fn on_refresh_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        if self.calls.remove(req).is_none() {
            return;
        }
        self.record_response(req, outcome_of(&result), 0);
        let issued = match result {
            Ok(Response {
                status: 200,
                body:
                    Body::Token {
                        token,
                        expires_at_ms,
                        ..
                    },
            }) => Ok((token, SimTime(expires_at_ms))),
            _ => Err(()),
        };
        let refreshed = issued.is_ok();
        self.to_auth(now, AuthInput::RefreshResult(issued), env);
        let parked = self.polls() && self.calls.has(Kind::Poll);
        if refreshed && parked && fires(self.mutant, Mutant::ResubscribeOnRefresh) {
            // The bug: the stream restarts with the new token; the old poll stays out.
            self.send_poll(now);
        }
    }
}
