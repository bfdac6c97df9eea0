//! What reaches the page from the transport (C2, C3, C13, U1): recorded as
//! delivered, held back in shadow mode, put in order, deduplicated, and
//! patched into the cache row by row.

use super::*;

impl Tab {
    /// Record what reached the tab; under C13's shadow mode that is all
    /// (true: the page is untouched).
    pub(super) fn delivered<'e>(&mut self, events: impl Iterator<Item = &'e Event>) -> bool {
        let delivered: Vec<Delivered> = events
            .map(|e| Delivered {
                org: e.org_id,
                property: e.property_id,
                seq: e.sequence,
            })
            .collect();
        let count = delivered.len();
        self.observe(Observation::Delivered {
            tab: self.name.clone(),
            events: delivered,
        });
        if self.realtime == Realtime::Shadow
            && count > 0
            && !fires(self.mutant, Mutant::ShadowApplies)
        {
            // C13: diagnostics only (`finance-shadow-events`); the page is untouched.
            self.observe(Observation::ShadowEvents {
                tab: self.name.clone(),
                events: count,
            });
            return true;
        }
        false
    }

    /// Apply events to the cache: C3 order, C2 dedup, U1 patch.
    pub(super) fn apply_events(&mut self, now: SimTime, mut events: Vec<Event>) {
        if self.delivered(events.iter()) {
            return;
        }
        let out_of_order = events
            .windows(2)
            .any(|w| application_order(&w[0], &w[1]) == std::cmp::Ordering::Greater);
        if !(out_of_order && fires(self.mutant, Mutant::BatchUnsorted)) {
            events.sort_by(application_order);
        }
        for event in events {
            if let Some(m) = event.mutation {
                self.echo_due.remove(&m);
            }
            // O3 across batches: an event older than one already applied (a late copy
            // from a second source, after a leader change) is skipped; the hole it
            // belongs to was seen as a gap, and the refetch that follows covers it.
            let applied = self
                .applied_through
                .get(&event.org_id)
                .copied()
                .unwrap_or(0);
            if event.sequence < applied {
                continue;
            }
            let fresh = self
                .dedup
                .first_sighting(now, event.org_id, event.dedup_key())
                || fires(self.mutant, Mutant::NoDedup);
            if fresh {
                self.applied_through
                    .insert(event.org_id, event.sequence.max(applied));
                self.patch(now, event, None);
            }
        }
    }

    /// U1: one event, new to the tab, patches its cache and aggregates
    /// (`stream`: v2's service and sequence of it).
    pub(super) fn patch(&mut self, now: SimTime, event: Event, stream: Option<(Service, u64)>) {
        self.observe(Observation::Applied {
            tab: self.name.clone(),
            org: event.org_id,
            seq: event.sequence,
            event_id: event.event_id,
            stream,
        });
        self.list_updated_at = now;
        let changed = DerivedInput::Changed(event.metadata.clone());
        self.derived.handle(now, changed, &());
        self.cache.handle(now, CacheInput::Event(event), &());
    }
}
