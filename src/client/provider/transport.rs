//! The transport part of a tab (C1-C5, C8, C9, C12, L5): the poll and its
//! answers, the cursor, gap detection, the breaker and fast-empty backoff,
//! sharing batches with the scope (`apply.rs` applies what they bring).

use super::*;

impl Tab {
    /// C12: the poller's view of its stream changed; tell the other tabs.
    pub(super) fn set_stream_live(&mut self, live: bool) {
        if live == self.stream_live {
            return;
        }
        self.stream_live = live;
        if fires(self.mutant, Mutant::HealthNotShared) {
            return;
        }
        let health = Health {
            is_live: live,
            last_success_at: self.last_success.map(SimTime::as_ms),
            failures: self.poll_failures,
        };
        self.out.push_back(TabOutput::Effect(Effect::Broadcast {
            channel: HEALTH_CHANNEL.to_string(),
            data: MessageData::of(health),
        }));
    }

    /// Record role changes and start or stop the transport to match.
    pub(super) fn sync_role(&mut self, now: SimTime) {
        while let Some(output) = self.leader.as_mut().and_then(Leader::poll_output) {
            let change = match output {
                LeaderOutput::Role(change) => change,
                LeaderOutput::Effect(effect) => {
                    self.out.push_back(TabOutput::Effect(effect));
                    continue;
                }
            };
            self.observe(Observation::Role {
                tab: self.name.clone(),
                scope: self.scope.clone(),
                role: change.role,
                seq: change.seq,
                cause: change.cause.to_string(),
            });
            let polled = matches!(self.last_role, Some(Role::Leader | Role::Solo));
            if change.role == Role::Leader {
                let kind = if self.last_role == Some(Role::Follower) {
                    "leader_takeover"
                } else {
                    "leader_acquired"
                };
                self.telemetry(now, kind, change.cause);
            }
            self.last_role = Some(change.role);
            // C15: a v2 tab's stream is its own; its role moves nothing.
            let handoff = self.v2.is_none();
            if handoff && matches!(change.role, Role::Leader | Role::Solo) && !polled {
                // L5: a tab that takes the transport over resumes from the cursor the last
                // leader shared. Without one, it starts afresh and reloads the page once
                // the new cursor is known.
                let handoff = self.leader.as_ref().and_then(|l| l.shared_cursor());
                // The bug only differs from the fix where there is a cursor to
                // ignore or a loaded page to keep.
                let differs = handoff.is_some() || self.loaded();
                if differs && fires(self.mutant, Mutant::NoCursorHandoff) {
                    // The bug: start afresh from the server's head, and trust the page
                    // loaded before as current, so the handshake reloads nothing.
                    self.set_cursor(None);
                    if self.loaded() {
                        self.loaded_through = Some(u64::MAX);
                    }
                } else if let Some(c) = handoff {
                    self.set_cursor(Some(self.cursor.map_or(c, |own| own.max(c))));
                } else {
                    self.set_cursor(None);
                    self.loaded_through = None;
                }
            }
            let follows = matches!(change.role, Role::Follower | Role::Claiming);
            if handoff && polled && follows {
                // A tab that gives its own stream up ignored the leader's batches while it
                // polled; whatever the leader shared beyond its own cursor it must reload.
                let shared = self.leader.as_ref().and_then(|l| l.shared_cursor());
                if let (Some(own), Some(shared)) = (self.cursor, shared) {
                    if own < shared {
                        self.owe_refetch(shared);
                    }
                }
            }
        }
        if self.polls() {
            if !self.transport_in_flight() && self.next_poll_at.is_none() {
                // C6: taking the transport back in the background, it owes the pause.
                let owed = self.paced_until.filter(|_| self.in_background());
                self.next_poll_at = Some(owed.map_or(now, |until| until.max(now)));
            }
        } else {
            // A follower never calls the backend for events (L5).
            self.abort_all(Kind::Poll);
            self.next_poll_at = None;
        }
    }

    /// Subscribe from the cursor: the long-poll (C1, S3).
    pub(super) fn send_poll(&mut self, now: SimTime) {
        if self.v2.is_some() {
            return self.open_stream(now);
        }
        let route = Route::Subscribe {
            org: self.id.org,
            property: self.cache.property,
            last_event_id: self.cursor,
        };
        let timeout = self.config.poll_request_timeout_ms;
        if let Some(call) = self.send(now, RequestKind::Poll, route, timeout) {
            self.calls.track(call, Purpose::Poll);
        }
    }

    pub(super) fn on_poll_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        let Some((call, _)) = self.calls.remove(req) else {
            return;
        };
        let sent_at = call.sent_at;
        let offline = matches!(result, Err(Outcome::NetError | Outcome::Timeout));
        // All this can raise is the offline banner (A5), which the tab reports at
        // its next drain of the auth machine, after this answer's own observations.
        self.auth.handle(now, AuthInput::Offline(offline), env);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Events(batch),
            }) => {
                self.record_response(req, Outcome::Status(200), batch.events.len());
                self.breaker.on_success();
                self.poll_failures = 0;
                // C5 is for an idle loop. The handshake (no cursor yet) is answered at
                // once by design; backing off after it would hold the page's first
                // events back 2-5 s (O11 found that).
                let handshake = self.cursor.is_none();
                let fast_empty = !handshake
                    && batch.events.is_empty()
                    && now.since(sent_at) < self.config.fast_empty_ms;
                self.on_batch(now, batch);
                self.set_stream_live(true);
                if fast_empty {
                    self.telemetry(now, "fast_empty", "");
                }
                let next = if fast_empty && !fires(self.mutant, Mutant::NoFastEmptyBackoff) {
                    now + jitter_ms(
                        &mut self.rng,
                        self.config.fast_empty_backoff_min_ms,
                        self.config.fast_empty_backoff_max_ms,
                    )
                } else {
                    now
                };
                self.next_poll_at = Some(self.paced(now, next));
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.record_response(req, Outcome::Status(status), 0);
                self.next_poll_at = Some(now);
                self.telemetry(now, "auth_error", &status.to_string());
                self.refused(now, status, call.epoch, env);
            }
            other => {
                let outcome = outcome_of(&other);
                let network = matches!(outcome, Outcome::NetError | Outcome::Timeout);
                self.record_response(req, outcome, 0);
                self.poll_failures += 1;
                self.set_stream_live(false);
                if network {
                    self.telemetry(now, "network_error", "0");
                }
                if let Some(until) = self.breaker.on_failure(now) {
                    self.observe(Observation::BreakerOpen {
                        tab: self.name.clone(),
                        until,
                    });
                }
                self.next_poll_at = Some(now + self.config.poll_retry_ms);
            }
        }
    }

    pub(super) fn on_batch(&mut self, now: SimTime, batch: Batch) {
        let mut refetch = false;
        // C8: cut off too long, the cache may be far behind; refetch it whole.
        if let Some(last) = self.last_success {
            let silent_ms = now.since(last);
            if silent_ms > self.config.hard_recover_after_ms {
                self.observe(Observation::HardRecover {
                    tab: self.name.clone(),
                    silent_ms,
                });
                // The bug: the long silence is noticed, and the cache trusted anyway.
                refetch = !fires(self.mutant, Mutant::NoHardRecover);
            }
        }
        self.last_success = Some(now);
        let Some(cursor) = self.cursor else {
            // First contact: resume from the server's head. A page whose snapshot
            // does not reach the head (not loaded yet, or loaded before a commit
            // the head already counts: the commit may still be in the pub/sub pipe,
            // so no batch after the cursor will carry it) loads now, so its
            // snapshot covers everything before the cursor; so do the followers',
            // whose earlier snapshots may predate the head.
            self.set_cursor(Some(batch.last_event_id));
            if self.loaded_through.is_none_or(|t| t < batch.last_event_id) {
                self.owe_refetch(batch.last_event_id);
                let head = batch.last_event_id;
                self.share(head, head, true, Vec::new());
            }
            return;
        };
        if self.detects_gap(cursor, &batch) {
            self.observe(Observation::Gap {
                tab: self.name.clone(),
                cursor,
                last_event_id: batch.last_event_id,
                floor: batch.floor,
            });
            refetch = true;
        }
        let last = cursor.max(batch.last_event_id);
        self.set_cursor(Some(last));
        if refetch {
            self.owe_refetch(last);
        }
        self.share(cursor, last, refetch, batch.events.clone());
        self.apply_events(now, batch.events);
    }

    /// L5: a leader shares each batch, and any loss, with the followers of its scope.
    pub(super) fn share(&mut self, since: u64, cursor: u64, refetch: bool, events: Vec<Event>) {
        self.tell_followers(|tab, seq| ChannelMessage::Events {
            tab,
            seq,
            since,
            cursor,
            refetch,
            events,
        });
    }

    /// L5: broadcast what `msg` makes of the tab's id and lease sequence on
    /// the scope's channel, if this tab leads the scope.
    pub(super) fn tell_followers(&mut self, msg: impl FnOnce(u32, u64) -> ChannelMessage) {
        let Some(l) = self.leader.as_ref().filter(|l| l.role() == Role::Leader) else {
            return;
        };
        let msg = msg(self.id.tab, l.seq());
        let channel = l.channel().to_string();
        self.out.push_back(TabOutput::Effect(Effect::Broadcast {
            channel,
            data: MessageData::of(msg),
        }));
    }

    /// A BroadcastChannel message from another tab of the scope.
    pub(super) fn on_message(
        &mut self,
        now: SimTime,
        channel: &str,
        data: &MessageData,
        env: &dyn BrowserView,
    ) {
        if channel == HEALTH_CHANNEL {
            if let (false, Some(h)) = (self.polls(), data.read::<Health>()) {
                self.stream_live = h.is_live;
            }
            return self.on_timer(now, env);
        }
        if channel == REFRESH_CHANNEL || channel == CONTROL_CHANNEL {
            if let Some(msg) = data.read::<AuthMessage>() {
                self.to_auth(now, AuthInput::Message(msg), env);
            }
            return self.on_timer(now, env);
        }
        // Only the scope's own channel, and only while signed in to it.
        if self.leader.as_ref().is_none_or(|l| l.channel() != channel) {
            return;
        }
        let Some(msg) = data.read::<ChannelMessage>() else {
            return;
        };
        let (tab, seq, cursor) = msg.sender();
        self.to_leader(now, LeaderInput::Heard { tab, seq, cursor }, env);
        // A tab that polls on its own has its own stream; only followers take the leader's.
        if !self.polls() {
            match msg {
                ChannelMessage::Frame { epoch, frame, .. } if self.v2.is_some() => {
                    self.take_shared(now, epoch, frame, env)
                }
                ChannelMessage::Frame { .. } => {}
                msg => self.take_share(now, msg),
            }
        }
        self.on_timer(now, env);
    }

    /// L5: a follower takes what its leader shared (a heartbeat, or a batch).
    fn take_share(&mut self, now: SimTime, msg: ChannelMessage) {
        // What the leader has shared must follow on from what this tab got last;
        // a missed message (the mailbox bus drops past its caps) means a reload.
        let (since, reached) = match &msg {
            ChannelMessage::Events { since, cursor, .. } => (*since, Some(*cursor)),
            ChannelMessage::Heartbeat { cursor, .. } => (cursor.unwrap_or(0), *cursor),
            ChannelMessage::Frame { .. } => return,
        };
        // What this tab got last is the leader's last share, or its own
        // stream's cursor if it polled since (as leader, or alone in fallback);
        // before either, what its own snapshot reached: a share that starts
        // past it (the leader's own snapshot covered the events between)
        // leaves a hole only a reload fills, as does one that comes before
        // the tab has any snapshot (the one in flight may predate `since`).
        let got = self.last_shared.max(self.cursor).or(self.loaded_through);
        if got.is_none_or(|last| since > last) {
            if let Some(c) = reached {
                self.owe_refetch(c);
            }
        }
        if let Some(c) = reached {
            self.last_shared = Some(self.last_shared.map_or(c, |l| l.max(c)));
        }
        if let ChannelMessage::Events {
            cursor,
            refetch,
            events,
            ..
        } = msg
        {
            if refetch {
                self.owe_refetch(cursor);
            }
            self.apply_events(now, events);
        }
    }

    /// C9: a loss below the server's floor, or a hole in the org sequence.
    pub(super) fn detects_gap(&self, cursor: u64, batch: &Batch) -> bool {
        let hole = batch
            .org_sequences
            .iter()
            .zip(cursor + 1..)
            .any(|(&seq, expected)| seq != expected);
        (hole || batch.floor > cursor) && !fires(self.mutant, Mutant::NoGapDetect)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Health;
    use crate::client::browser_api::reads_back;

    /// The transport's health broadcast parses back to what wrote it.
    #[test]
    fn health_reads_back() {
        for (is_live, last_success_at) in [(true, Some(12)), (false, None)] {
            reads_back(Health {
                is_live,
                last_success_at,
                failures: 3,
            });
        }
    }
}
