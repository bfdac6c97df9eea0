//! The page around the transport (U2-U4, C10, C14): the user's writes and
//! their echoes, the aggregates, refetch on focus, sampled telemetry.

use super::*;

impl Tab {
    /// U4: the window gets focus: refetch what is stale.
    pub(super) fn on_focus(&mut self, now: SimTime, env: &dyn BrowserView) {
        if !self.auth.signed_in() {
            return;
        }
        let stale = now.since(self.list_updated_at) > self.config.list_stale_ms;
        if stale && !fires(self.mutant, Mutant::FocusNoRefetch) {
            self.owe_refetch(0);
        }
        let stale_ms = if self.stream_live && self.realtime == Realtime::Live {
            self.config.aggregate_stale_live_ms
        } else {
            self.config.aggregate_stale_offline_ms
        };
        self.derived
            .handle(now, DerivedInput::Focused { stale_ms }, &());
        self.on_timer(now, env);
    }

    /// C14: report `kind`, sampled at `telemetry_sample_pct`, with no auth
    /// and never the token (the `telemetry-leaks-token` mutant adds it).
    pub(super) fn telemetry(&mut self, now: SimTime, kind: &str, detail: &str) {
        if self.telemetry_rng.gen_range(0..100) >= self.config.telemetry_sample_pct {
            return;
        }
        let mut payload = serde_json::json!({
            "type": kind,
            "org": self.id.org,
            "tab": self.name,
            "at_ms": now.as_ms(),
            "detail": detail,
        });
        if let Some(b) = self
            .auth
            .bearer()
            .filter(|_| fires(self.mutant, Mutant::TelemetryLeaksToken))
        {
            payload["authorization"] = b.into();
        }
        let body = Body::Telemetry {
            payload: payload.to_string(),
        };
        let timeout = self.config.refetch_request_timeout_ms;
        let call = self.send_raw(
            now,
            RequestKind::Telemetry,
            Route::Telemetry,
            body,
            None,
            timeout,
        );
        self.calls.track(call, Purpose::Telemetry);
    }

    pub(super) fn on_telemetry_result(&mut self, req: u64, result: Result<Response, Outcome>) {
        self.calls.remove(req);
        self.record_response(req, outcome_of(&result), 0);
    }

    /// Give up the page's own calls in flight (writes, telemetry) and stop
    /// writing (sign-out, close).
    pub(super) fn stop_page_calls(&mut self) {
        self.abort_all(Kind::Write);
        self.abort_all(Kind::Telemetry);
        self.abort_all(Kind::UpdateServices);
        self.next_write_at = None;
        self.echo_due.clear();
    }

    /// U2: the user writes. An optimistic add shows at once.
    pub(super) fn write(&mut self, now: SimTime) {
        let rows = self.cache.editable_rows();
        let (req, optimistic) =
            self.config
                .writes
                .choose(&mut self.rng, self.cache.property, &rows);
        let MutationRequest {
            mutation,
            property,
            op,
        } = req.clone();
        let route = Route::Mutate { org: self.id.org };
        let timeout = self.config.writes.request_timeout_ms;
        let Some(call) = self.send_body(
            now,
            RequestKind::Mutate,
            route,
            Body::Mutation(req),
            timeout,
        ) else {
            return;
        };
        self.observe(Observation::Mutation {
            tab: self.name.clone(),
            mutation,
            op: format!("{op:?}"),
            optimistic,
        });
        if optimistic {
            if let crate::http::WriteOp::Add { amount_cents } = op {
                let shown = CacheInput::Optimistic {
                    mutation,
                    property,
                    amount_cents,
                };
                self.cache.handle(now, shown, &());
            }
        }
        self.calls.track(
            call,
            Purpose::Write {
                mutation,
                optimistic,
            },
        );
        self.echo_due
            .insert(mutation, now + self.config.writes.echo_timeout_ms);
    }

    pub(super) fn on_write_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        let Some((
            call,
            Purpose::Write {
                mutation,
                optimistic,
            },
        )) = self.calls.remove(req)
        else {
            return;
        };
        self.record_response(req, outcome_of(&result), 0);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Committed(event),
            }) => {
                let input = if optimistic && self.cache.shows(ListKind::Revenues) {
                    CacheInput::Committed {
                        mutation,
                        seq: event.sequence,
                    }
                } else {
                    // Shown from the answer, unless realtime already brought it (or newer).
                    CacheInput::Event(*event)
                };
                self.cache.handle(now, input, &());
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.write_failed(now, mutation, true);
                self.refused(now, status, call.epoch, env);
            }
            Ok(_) => self.write_failed(now, mutation, true),
            Err(_) => self.write_failed(now, mutation, false),
        }
    }

    pub(super) fn write_failed(&mut self, now: SimTime, mutation: MutationId, refused: bool) {
        let failed = CacheInput::WriteFailed { mutation, refused };
        self.cache.handle(now, failed, &());
    }

    pub(super) fn echo_timeouts(&mut self, now: SimTime) {
        // U2: no echo in time; the list may miss the write (or more), so refetch it.
        while let Some((&m, _)) = self.echo_due.iter().find(|(_, due)| **due <= now) {
            self.echo_due.remove(&m);
            if !fires(self.mutant, Mutant::NoEchoTimeout) {
                self.owe_refetch(0);
            }
        }
    }

    pub(super) fn on_aggregate_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        let Some((call, Purpose::Aggregate(kind))) = self.calls.remove(req) else {
            return;
        };
        self.record_response(req, outcome_of(&result), 0);
        match result {
            Ok(Response {
                status: 200,
                body: Body::Aggregate { value, as_of_seq },
            }) => {
                self.derived_answer(now, kind, Some(Aggregate { value, as_of_seq }));
                self.observe(Observation::AggregateShown {
                    tab: self.name.clone(),
                    aggregate: kind,
                    total_cents: value,
                    as_of_seq,
                });
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.derived_answer(now, kind, None);
                self.refused(now, status, call.epoch, env);
            }
            _ => self.derived_answer(now, kind, None),
        }
    }

    fn derived_answer(&mut self, now: SimTime, kind: AggregateKind, aggregate: Option<Aggregate>) {
        let answered = DerivedInput::Answered { kind, aggregate };
        self.derived.handle(now, answered, &());
    }

    /// The aggregates the page shows, with their values.
    pub fn aggregates(&self) -> Vec<(AggregateKind, i64)> {
        let shown = self.derived.shown().iter();
        shown.map(|(k, a)| (*k, a.value)).collect()
    }
}
