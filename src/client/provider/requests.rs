//! Requests: sending a call, settling its answer or its timeout through the
//! table of calls in flight (`client::calls`), and aborting it.

use super::*;

impl Tab {
    /// A call under the session's token; none while the tab may not make one (C7).
    pub(super) fn send(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        timeout_ms: u64,
    ) -> Option<Call> {
        self.send_body(now, kind, route, Body::Empty, timeout_ms)
    }

    pub(super) fn send_body(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        body: Body,
        timeout_ms: u64,
    ) -> Option<Call> {
        let bearer = self.auth.bearer()?;
        Some(self.send_raw(now, kind, route, body, Some(bearer), timeout_ms))
    }

    pub(super) fn send_raw(
        &mut self,
        now: SimTime,
        kind: RequestKind,
        route: Route,
        body: Body,
        bearer: Option<String>,
        timeout_ms: u64,
    ) -> Call {
        self.next_req += 1;
        let req = self.next_req;
        let path = route.to_path();
        self.observe(Observation::Request {
            tab: self.name.clone(),
            req,
            what: kind,
            path: path.clone(),
            bearer: bearer.as_deref().is_some_and(|b| !b.is_empty()),
        });
        let request = Request {
            method: route.method(),
            path,
            bearer,
            body,
        };
        self.out.push_back(TabOutput::Send { req, request });
        Call {
            req,
            sent_at: now,
            deadline: now + timeout_ms,
            epoch: self.auth.epoch(),
        }
    }

    /// The refresh and aggregate calls past their deadline time out.
    pub(super) fn expire_auth_calls(&mut self, now: SimTime, env: &dyn BrowserView) {
        self.expire(now, Kind::Refresh, env);
        self.expire(now, Kind::Aggregate, env);
    }

    /// The poll, the refetch, telemetry and writes past their deadline time out.
    pub(super) fn expire_page_calls(&mut self, now: SimTime, env: &dyn BrowserView) {
        let page = [Kind::Poll, Kind::Refetch, Kind::Telemetry, Kind::Write];
        for kind in page.into_iter().chain([Kind::UpdateServices]) {
            self.expire(now, kind, env);
        }
    }

    /// Time out the calls of `kind` past their deadline, oldest first.
    pub(super) fn expire(&mut self, now: SimTime, kind: Kind, env: &dyn BrowserView) {
        while let Some(call) = self.calls.first_due(now, kind) {
            self.out.push_back(TabOutput::Abort { req: call.req });
            self.settle(now, call.req, Err(Outcome::Timeout), env);
        }
    }

    /// An answer (or a network failure) for request `req`.
    pub(super) fn on_response(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, NetError>,
        env: &dyn BrowserView,
    ) {
        self.settle(now, req, result.map_err(|_| Outcome::NetError), env);
        self.on_timer(now, env);
    }

    /// The call `req` ended with `result`: hand it to what it was for. A call
    /// no longer in the table was aborted already; its late answer is ignored.
    pub(super) fn settle(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        match self.calls.purpose_of(req).map(|p| p.kind()) {
            Some(Kind::Poll) => self.on_poll_result(now, req, result, env),
            Some(Kind::Refetch) => self.on_refetch_result(now, req, result, env),
            Some(Kind::Refresh) => self.on_refresh_result(now, req, result, env),
            Some(Kind::Aggregate) => self.on_aggregate_result(now, req, result, env),
            Some(Kind::Write) => self.on_write_result(now, req, result, env),
            Some(Kind::Telemetry) => self.on_telemetry_result(req, result),
            Some(Kind::UpdateServices) => self.on_update_result(now, req, result, env),
            None => {}
        }
    }

    /// Give up every call of `kind` in flight, oldest first.
    pub(super) fn abort_all(&mut self, kind: Kind) {
        for call in self.calls.take_all(kind) {
            self.abort(call);
        }
    }

    /// Give a call up for the tab's own reasons (it stopped polling, closed, signed out).
    pub(super) fn abort(&mut self, call: Call) {
        self.out.push_back(TabOutput::Abort { req: call.req });
        self.record_response(call.req, Outcome::Aborted, 0);
    }

    pub(super) fn record_response(&mut self, req: u64, outcome: Outcome, events: usize) {
        self.observe(Observation::Response {
            tab: self.name.clone(),
            req,
            outcome,
            events,
        });
    }
}
