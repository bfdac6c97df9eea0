//! The v2 transport part of a tab (C15, S11-S15): one stream connection per
//! tab, single-flight (the call table holds at most one), closed while the
//! tab is hidden and resumed with its cursors when it is shown; frames are
//! acknowledged as the tab handles them (a busy tab is a slow consumer);
//! a service the server could not replay is refetched, as is a hole.

use super::*;
use crate::client::stream::{StreamKey, Subscription, Taken};
use crate::frames::{Frame, StreamEvent};

impl Tab {
    /// The services the page shows: its lists' (C15: a route's service set).
    pub(super) fn page_services(&self) -> std::collections::BTreeSet<Service> {
        self.cache
            .kinds()
            .iter()
            .map(|l| l.entity().service())
            .collect()
    }

    /// C15: a hidden tab keeps no stream of its own (it resumes when shown);
    /// the scope's, behind the leader, a hidden leader keeps as v1's does.
    pub(super) fn stream_paused(&self) -> bool {
        self.v2.is_some() && self.hidden && self.config.stream_close_when_hidden
    }

    /// C15's single-flight guard: whether the transport has a call in
    /// flight (a stream connecting or open, or v1's poll), so no other opens.
    pub(super) fn transport_in_flight(&self) -> bool {
        let in_flight = self.calls.has(Kind::Poll);
        if in_flight
            && self.stream_connecting()
            && fires(self.mutant, Mutant::ConnectWhileConnecting)
        {
            // The bug: the guard asks whether the socket is open, and one
            // still connecting is not.
            return false;
        }
        in_flight
    }

    /// A v2 stream is in flight that has not been welcomed yet.
    fn stream_connecting(&self) -> bool {
        self.v2.as_ref().is_some_and(|v2| {
            v2.welcomed
                .is_none_or(|req| self.calls.purpose_of(req) != Some(Purpose::Poll))
        })
    }

    /// The stream is open and welcomed: it can be changed in place.
    pub(super) fn stream_open(&self) -> bool {
        self.calls.has(Kind::Poll) && !self.stream_connecting()
    }

    /// S11: open the stream, resuming from the tab's cursors if it has any.
    pub(super) fn open_stream(&mut self, now: SimTime) {
        let want = self.stream_subscription();
        let route = Route::Stream {
            org: self.id.org,
            services: want.services.clone(),
            property: want.property,
            resume: self.v2.as_ref().and_then(|v| v.resume()),
        };
        let timeout = self.config.stream_silence_ms;
        if let Some(call) = self.send(now, RequestKind::Stream, route, timeout) {
            self.calls.track(call, Purpose::Poll);
            let v2 = self.v2.as_mut().expect("a v2 tab opens streams");
            v2.asked = Some(want);
            v2.client = None;
        }
    }

    /// A frame on the stream `req`: handled, shared with the scope if the
    /// stream is the leader's, then acknowledged.
    pub(super) fn on_frame(&mut self, now: SimTime, req: u64, frame: Frame, env: &dyn BrowserView) {
        if self.v2.is_none() || self.calls.purpose_of(req) != Some(Purpose::Poll) {
            // A frame of a stream given up already: its socket is closed.
            return self.on_timer(now, env);
        }
        self.calls.extend(req, now + self.config.stream_silence_ms);
        if let Frame::Welcome { client, .. } = &frame {
            let v2 = self.v2.as_mut().expect("checked above");
            v2.welcomed = Some(req);
            v2.client = Some(*client);
            v2.carried = v2.asked.clone();
        }
        let shared = self.shares_stream().then(|| frame.clone());
        self.take_frame(now, frame, false, env);
        if let Some(frame) = shared {
            self.share_frame(frame);
        }
        self.out.push_back(TabOutput::Ack { req });
        self.on_timer(now, env);
    }

    /// Behind the leader: whether this tab's stream is the scope's, to share.
    fn shares_stream(&self) -> bool {
        self.config.stream_behind_leader && self.role() == Some(Role::Leader)
    }

    /// L5 for v2: the leader shares each frame (but pings) with its followers.
    fn share_frame(&mut self, frame: Frame) {
        let epoch = self.v2.as_ref().and_then(|v| v.epoch());
        if let (Some(epoch), false) = (epoch, matches!(frame, Frame::Ping)) {
            self.tell_followers(|tab, seq| ChannelMessage::Frame {
                tab,
                seq,
                epoch,
                frame,
            });
        }
    }

    /// A follower behind the leader takes a frame the leader shared as its
    /// own stream's, having first picked up what it has no copy of.
    pub(super) fn take_shared(
        &mut self,
        now: SimTime,
        epoch: u64,
        frame: Frame,
        env: &dyn BrowserView,
    ) {
        let v2 = self.v2.as_mut().expect("a v2 tab");
        match &frame {
            Frame::Welcome { as_of, starts, .. } => {
                // The new stream starts past what this tab has: a reload.
                let behind = !v2.reaches(epoch, starts);
                if behind && self.loaded_through.is_none_or(|t| t < *as_of) {
                    self.owe_refetch(*as_of);
                }
            }
            Frame::Batch { service, after, .. } | Frame::Suppressed { service, after, .. } => {
                let (service, head) = (*service, *after);
                if v2.join(epoch, service, head) {
                    let through = match &frame {
                        Frame::Batch { events, .. } => {
                            events.iter().map(|e| e.event.sequence).max()
                        }
                        _ => None,
                    }
                    .unwrap_or(0);
                    let starts = v2.copy();
                    self.observe(Observation::StreamStarted {
                        tab: self.name,
                        epoch: Some(epoch),
                        as_of: through,
                        starts,
                        shared: true,
                    });
                    self.owe_refetch(through);
                }
            }
            Frame::Subscribed { .. } | Frame::Ping => {}
        }
        self.take_frame(now, frame, true, env);
    }

    /// What a frame brings, from the tab's own stream or (`shared`) the
    /// leader's.
    fn take_frame(&mut self, now: SimTime, frame: Frame, shared: bool, env: &dyn BrowserView) {
        match frame {
            Frame::Welcome {
                epoch,
                as_of,
                starts,
                ..
            } => {
                if shared {
                    self.v2.as_mut().expect("a v2 tab").carried = Some(Self::scope_stream());
                }
                self.on_welcome(now, Some(epoch), as_of, &starts, shared, env)
            }
            Frame::Subscribed {
                as_of,
                starts,
                property,
            } => {
                let services = starts.iter().map(|s| s.service).collect();
                let carried = Subscription { services, property };
                self.v2.as_mut().expect("a v2 tab").carried = Some(carried);
                self.on_welcome(now, None, as_of, &starts, shared, env)
            }
            Frame::Batch {
                service,
                after,
                through,
                events,
            } => {
                self.observe_batch(service, (after, through), events.len(), (false, shared));
                let org = self.id.org;
                let key = |e: &Event| -> StreamKey { (e.service, e.entity_type, e.event_id) };
                let v2 = self.v2.as_mut().expect("a v2 tab");
                let taken = v2.batch(now, org, service, (after, through), events, key);
                self.on_taken(now, taken);
            }
            Frame::Suppressed {
                service,
                after,
                through,
                count,
            } => {
                self.observe_batch(service, (after, through), count as usize, (true, shared));
                let v2 = self.v2.as_mut().expect("a v2 tab");
                v2.suppressed(service, through, count);
                // The bug: a shed service is counted, and its copy left stale.
                let reloads = !fires(self.mutant, Mutant::SuppressedNotReloaded);
                if !self.refetch_needed && reloads {
                    // S13: the tab's copy of the service is stale; it reloads
                    // once the quarantine has had time to pass.
                    self.owe_refetch(0);
                    self.next_refetch_at = now + self.config.stream_suppressed_refetch_ms;
                }
            }
            Frame::Ping => {}
        }
    }

    /// What a batch (or a suppressed range) of `service` covered.
    fn observe_batch(
        &mut self,
        service: Service,
        (after, through): (u64, u64),
        events: usize,
        (suppressed, shared): (bool, bool),
    ) {
        self.observe(Observation::StreamBatch {
            tab: self.name,
            service,
            after,
            through,
            events,
            suppressed,
            shared,
        });
    }

    /// S15: the stream is (re)established, or its services changed: where
    /// each continues; a page whose snapshot does not cover what the server
    /// could not replay reloads (`as_of` is the org's head as it opened).
    fn on_welcome(
        &mut self,
        now: SimTime,
        epoch: Option<u64>,
        as_of: u64,
        starts: &[crate::frames::ServiceStart],
        shared: bool,
        env: &dyn BrowserView,
    ) {
        // A follower's copy follows the leader's stream; the connection,
        // its health and its reconnects are the leader's.
        let own = epoch.is_some() && !shared;
        let reconnect = own && self.last_success.is_some();
        let v2 = self.v2.as_mut().expect("a v2 tab");
        let continuous = v2.start(epoch, starts, reconnect);
        if own {
            self.auth.handle(now, AuthInput::Offline(false), env);
            self.breaker.on_success();
            self.poll_failures = 0;
            self.last_success = Some(now);
            self.set_stream_live(true);
        }
        self.observe(Observation::StreamStarted {
            tab: self.name,
            epoch,
            as_of,
            starts: starts.to_vec(),
            shared,
        });
        if !continuous && self.loaded_through.is_none_or(|t| t < as_of) {
            self.owe_refetch(as_of);
        }
    }

    fn on_taken(&mut self, now: SimTime, taken: Taken) {
        if let Some((cursor, after)) = taken.hole {
            // Never by design (a connection's frames follow on); if it
            // happens, the page reloads past what the frame carries.
            let through = taken
                .fresh
                .iter()
                .map(|e| e.event.sequence)
                .max()
                .unwrap_or(0);
            self.observe(Observation::Gap {
                tab: self.name,
                cursor,
                last_event_id: after,
                floor: after,
            });
            self.owe_refetch(through);
        }
        self.apply_stream_events(now, taken.fresh);
    }

    /// Apply what the stream delivered: each event once (C15's dedup), in
    /// its service's order; services are not ordered against each other.
    /// Until a route or filter change is acknowledged, the stream still
    /// carries the old page's: what the page no longer shows, it drops
    /// unseen (anything else is delivered, for O5 to judge).
    fn apply_stream_events(&mut self, now: SimTime, mut events: Vec<StreamEvent>) {
        let org = self.id.org;
        let admits = |s: &Subscription, e: &Event| {
            s.services.contains(&e.service) && e.visible_to(org, s.property)
        };
        let page = self.subscription();
        if let Some(old) = self.v2.as_ref().and_then(|v| v.carried.as_ref()) {
            // The bug: behind the leader, a follower takes the scope's whole stream.
            let unfiltered = self.config.stream_behind_leader
                && !self.polls()
                && fires(self.mutant, Mutant::SharedFramesUnfiltered);
            if !unfiltered {
                events.retain(|e| admits(&page, &e.event) || !admits(old, &e.event));
            }
        }
        if self.delivered(events.iter().map(|e| &e.event)) {
            return;
        }
        for StreamEvent { seq, event } in events {
            if let Some(m) = event.mutation {
                self.echo_due.remove(&m);
            }
            let service = event.service;
            self.patch(now, event, Some((service, seq)));
        }
    }
}
