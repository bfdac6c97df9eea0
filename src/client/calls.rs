//! A tab's calls in flight: one table keyed by request id, each call with
//! what it is for. The provider sends, answers, times out and aborts calls
//! through it, one kind at a time in the order the provider names.

use crate::event::MutationId;
use crate::query::AggregateKind;
use crate::time::SimTime;
use litemap::LiteMap;

/// What a call is for, with what its answer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The transport's long-poll (C1).
    Poll,
    /// The page's lists, owed to cover the org up to `owed` (C9, C11).
    Refetch { owed: u64 },
    /// `POST /auth/refresh`, when this tab holds the mutex (A1).
    Refresh,
    /// One aggregate of the page (U3, C10).
    Aggregate(AggregateKind),
    /// The user's write (U2).
    Write {
        mutation: MutationId,
        optimistic: bool,
    },
    /// A sampled telemetry event (C14).
    Telemetry,
    /// S14: the stream's services or filter change in place.
    UpdateServices,
}

/// The kinds of `Purpose`, to select calls by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Poll,
    Refetch,
    Refresh,
    Aggregate,
    Write,
    Telemetry,
    UpdateServices,
}

impl Purpose {
    pub fn kind(&self) -> Kind {
        match self {
            Purpose::Poll => Kind::Poll,
            Purpose::Refetch { .. } => Kind::Refetch,
            Purpose::Refresh => Kind::Refresh,
            Purpose::Aggregate(_) => Kind::Aggregate,
            Purpose::Write { .. } => Kind::Write,
            Purpose::Telemetry => Kind::Telemetry,
            Purpose::UpdateServices => Kind::UpdateServices,
        }
    }
}

/// A request the tab sent and has not settled.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub req: u64,
    pub sent_at: SimTime,
    pub deadline: SimTime,
    /// The token it carried (`Auth::epoch`).
    pub epoch: u64,
}

#[derive(Debug, Default)]
pub struct Calls {
    by_req: LiteMap<u64, (Call, Purpose)>,
}

impl Calls {
    pub fn track(&mut self, call: Call, purpose: Purpose) {
        self.by_req.insert(call.req, (call, purpose));
    }

    /// Settle `req`: it leaves the table.
    pub fn remove(&mut self, req: u64) -> Option<(Call, Purpose)> {
        self.by_req.remove(&req)
    }

    /// `req` lives on until `deadline` (a stream that just heard from the server).
    pub fn extend(&mut self, req: u64, deadline: SimTime) {
        if let Some((call, _)) = self.by_req.get_mut(&req) {
            call.deadline = deadline;
        }
    }

    pub fn purpose_of(&self, req: u64) -> Option<Purpose> {
        self.by_req.get(&req).map(|(_, p)| *p)
    }

    /// The oldest call of `kind`, if any.
    pub fn first(&self, kind: Kind) -> Option<(Call, Purpose)> {
        self.by_req
            .values()
            .find(|(_, p)| p.kind() == kind)
            .copied()
    }

    pub fn has(&self, kind: Kind) -> bool {
        self.first(kind).is_some()
    }

    /// The oldest call of `kind` whose deadline has come.
    pub fn first_due(&self, now: SimTime, kind: Kind) -> Option<Call> {
        self.by_req
            .values()
            .find(|(c, p)| p.kind() == kind && c.deadline <= now)
            .map(|(c, _)| *c)
    }

    /// Take every call of `kind` out, oldest first.
    pub fn take_all(&mut self, kind: Kind) -> Vec<Call> {
        let reqs: Vec<u64> = self
            .by_req
            .iter()
            .filter(|(_, (_, p))| p.kind() == kind)
            .map(|(r, _)| *r)
            .collect();
        reqs.into_iter()
            .filter_map(|r| self.by_req.remove(&r).map(|(c, _)| c))
            .collect()
    }

    /// The earliest deadline of any call.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.by_req.values().map(|(c, _)| c.deadline).min()
    }
}
