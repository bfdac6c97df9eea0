//! C15, S14: the page's route or property filter changes in place. The
//! lists are re-keyed and reloaded, and a live stream is told the page's
//! new services and filter with `update-services`, never reopened: the
//! stream stays hot and keeps its cursors. A connecting stream is told once
//! it is welcomed; a closed one opens with the new set.

use super::*;
use crate::client::stream::Subscription;
use crate::query::Filter;

impl Tab {
    /// What the page needs its stream to carry.
    pub(super) fn subscription(&self) -> Subscription {
        Subscription {
            services: self.page_services(),
            property: self.cache.property,
        }
    }

    /// What the tab's stream must carry: its page's; behind the leader, the
    /// scope's stream carries every service of every property (the tabs'
    /// pages differ and change; each applies what its own shows).
    pub(super) fn stream_subscription(&self) -> Subscription {
        if !self.config.stream_behind_leader || fires(self.mutant, Mutant::SharedStreamLeadersPage)
        {
            // The bug: the scope's stream is opened as a tab's own would be.
            return self.subscription();
        }
        Self::scope_stream()
    }

    /// What the scope's stream carries behind the leader: every service of
    /// every property of the org.
    pub(super) fn scope_stream() -> Subscription {
        Subscription {
            services: Service::ALL.into_iter().collect(),
            property: None,
        }
    }

    /// The user moved to a route whose page shows `lists`.
    pub(super) fn change_route(&mut self, now: SimTime, lists: &[ListKind], env: &dyn BrowserView) {
        let property = self.cache.property;
        self.change_page(now, lists, property, env);
    }

    /// The user set the page's property filter.
    pub(super) fn set_filter(&mut self, now: SimTime, filter: Filter, env: &dyn BrowserView) {
        let lists = self.cache.kinds();
        self.change_page(now, &lists, filter.property(), env);
    }

    fn change_page(
        &mut self,
        now: SimTime,
        lists: &[ListKind],
        property: Option<PropertyId>,
        env: &dyn BrowserView,
    ) {
        if lists == self.cache.kinds().as_slice() && property == self.cache.property {
            return self.on_timer(now, env);
        }
        // A refetch in flight is of the old page's keys: the new page reloads.
        self.abort_all(Kind::Refetch);
        if property != self.cache.property {
            // So are the aggregates: other keys, fetched afresh.
            self.abort_all(Kind::Aggregate);
            self.derived.handle(now, DerivedInput::Rekeyed, &());
        }
        self.cache.set_page(lists, property);
        self.owe_refetch(0);
        self.next_refetch_at = now;
        if self.stream_open() && fires(self.mutant, Mutant::UpdateServicesReconnects) {
            // The bug: a new set is a new stream.
            self.abort_all(Kind::Poll);
            self.next_poll_at = Some(now);
        }
        self.on_timer(now, env);
    }

    /// S14: a welcomed stream that carries other than the page needs is
    /// changed in place, one call at a time.
    pub(super) fn sync_services(&mut self, now: SimTime) {
        // A v1 tab has no stream to change (and computing the set allocates).
        let Some(v2) = self.v2.as_ref() else { return };
        let want = self.stream_subscription();
        let current = v2.asked.as_ref() == Some(&want);
        if current || self.calls.has(Kind::UpdateServices) || !self.stream_open() {
            return;
        }
        let Some(client) = v2.client else { return };
        let route = Route::UpdateServices { org: self.id.org };
        let body = Body::Services {
            client,
            services: want.services.clone(),
            property: want.property,
        };
        let timeout = self.config.refetch_request_timeout_ms;
        let kind = RequestKind::UpdateServices;
        if let Some(call) = self.send_body(now, kind, route, body, timeout) {
            self.calls.track(call, Purpose::UpdateServices);
            self.v2.as_mut().expect("checked above").asked = Some(want);
        }
    }

    /// The answer to `update-services`. The change itself is acknowledged on
    /// the stream (a `Subscribed` frame); a change that failed is made by
    /// reopening the stream with the page's set.
    pub(super) fn on_update_result(
        &mut self,
        now: SimTime,
        req: u64,
        result: Result<Response, Outcome>,
        env: &dyn BrowserView,
    ) {
        let Some((call, _)) = self.calls.remove(req) else {
            return;
        };
        self.record_response(req, outcome_of(&result), 0);
        let v2 = self.v2.as_mut().expect("only a v2 tab updates its stream");
        match result {
            // Changed; or the server had closed the stream already (no
            // connection to change): its end is on the way, and the stream
            // reopens with the page's set.
            Ok(Response { status: 200, .. }) => {}
            Ok(Response {
                status: status @ (401 | 403),
                ..
            }) => {
                // Asked again with the next token.
                v2.asked = None;
                self.refused(now, status, call.epoch, env);
            }
            _ => {
                // The call failed: the stream the tab holds may carry the
                // old set; reopen it.
                v2.asked = None;
                self.abort_all(Kind::Poll);
                self.next_poll_at = Some(now);
            }
        }
    }
}
