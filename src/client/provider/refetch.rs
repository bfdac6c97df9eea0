//! Refetches of the page's lists (C9, C11): what is owed, its answer, and
//! degraded polling while the stream is not live.

use super::*;

impl Tab {
    /// The list refetch, if one is owed and its retry is due (C8, C9).
    pub(super) fn start_refetch(&mut self, now: SimTime) {
        let refetching = self.calls.has(Kind::Refetch);
        if self.refetch_needed && !refetching && self.next_refetch_at <= now {
            let route = Route::ListRows {
                org: self.id.org,
                property: self.cache.property,
                lists: self.cache.kinds(),
            };
            let owed = self.refetch_owed_through;
            if let Some(f) = self.send(
                now,
                RequestKind::Refetch,
                route,
                self.config.refetch_request_timeout_ms,
            ) {
                self.calls.track(f, Purpose::Refetch { owed });
            }
        }
    }

    /// C11: the page has no live stream to keep its list fresh.
    pub(super) fn wants_degraded(&self) -> bool {
        self.config.degraded_polling && (self.realtime != Realtime::Live || !self.stream_live)
    }

    pub(super) fn degraded_pause(&mut self) -> u64 {
        jitter_ms(
            &mut self.rng,
            self.config.degraded_refetch_min_ms,
            self.config.degraded_refetch_max_ms,
        )
    }

    /// C11: enter or leave degraded mode, and owe its periodic refetch when due.
    pub(super) fn degraded_tick(&mut self, now: SimTime) {
        let degraded = self.wants_degraded();
        if degraded != self.degraded {
            self.degraded = degraded;
            self.observe(Observation::Degraded {
                tab: self.name.clone(),
                on: degraded,
            });
            self.next_degraded_refetch = degraded.then(|| now + self.degraded_pause());
        }
        if self.next_degraded_refetch.is_some_and(|t| t <= now) {
            if !self.refetch_needed && !fires(self.mutant, Mutant::NoDegradedPolling) {
                self.refetch_needed = true;
                self.refetch_periodic = true;
            }
            self.next_degraded_refetch = Some(now + self.degraded_pause());
        }
    }

    pub(super) fn owe_refetch(&mut self, through: u64) {
        self.refetch_needed = true;
        self.refetch_periodic = false;
        self.refetch_owed_through = self.refetch_owed_through.max(through);
    }

    pub(super) fn on_refetch_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        let Some((call, Purpose::Refetch { owed })) = self.calls.remove(req) else {
            return;
        };
        match result {
            Ok(Response {
                status: 200,
                body: Body::Rows { rows, as_of_seq },
            }) => {
                self.record_response(req, Outcome::Status(200), 0);
                self.observe(Observation::Snapshot {
                    tab: self.name.clone(),
                    org: self.id.org,
                    property: self.cache.property,
                    as_of_seq,
                    rows: rows.len(),
                });
                let snapshot = CacheInput::Snapshot { rows, as_of_seq };
                self.cache.handle(now, snapshot, &());
                self.list_updated_at = now;
                self.derived.handle(now, DerivedInput::InvalidateAll, &());
                let through = self.loaded_through.map_or(as_of_seq, |t| t.max(as_of_seq));
                self.loaded_through = Some(through);
                if as_of_seq >= self.refetch_owed_through.max(owed) {
                    self.refetch_needed = false;
                    self.refetch_owed_through = 0;
                }
            }
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                self.record_response(req, Outcome::Status(status), 0);
                self.refused(now, status, call.epoch, env);
            }
            other => {
                let outcome = outcome_of(&other);
                self.record_response(req, outcome, 0);
                if self.refetch_periodic {
                    // C11's poll failed; its next tick tries again.
                    self.refetch_needed = false;
                } else {
                    self.next_refetch_at = now + self.config.refetch_retry_ms;
                }
            }
        }
    }
}
