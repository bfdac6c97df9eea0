//! What holds each behaviour rule of SPEC sections 2-7 (v1 and v2): the check that reads
//! it off a run's history, and the mutants that break it (found by the SPEC
//! ids their `breaks` names, so nothing is listed twice). A rule no mutant
//! breaks yet says why in `gap`; the tests hold the two in step, so a new
//! mutant for a gap rule, or a gap with a mutant, fails until this is fixed.
//! `rtsim coverage` prints it as README's table.

use crate::mutant::Mutant;

pub struct Rule {
    pub id: &'static str,
    /// The rule, in a few words.
    pub rule: &'static str,
    /// The oracle and checker that hold it, and how.
    pub check: &'static str,
    /// Why no mutant breaks it yet, for a rule none does.
    pub gap: Option<&'static str>,
}

macro_rules! rules {
    ($($id:literal, $rule:literal, $check:literal $(, gap: $gap:literal)?;)*) => {
        /// Every behaviour rule of SPEC sections 2-7 (v1 and v2), in SPEC order.
        pub const RULES: &[Rule] = &[$(Rule {
            id: $id,
            rule: $rule,
            check: $check,
            gap: rules!(@gap $($gap)?),
        },)*];
    };
    (@gap) => { None };
    (@gap $gap:literal) => { Some($gap) };
}

rules! {
    "S2", "bounded per-org buffer, event TTL, every drop counted",
        "O8 `o8_server_bounds`: buffer within max; inserted = dropped + held at the end";
    "S3", "long-poll: events at once, else empty within 25 s",
        "O8 `o8_long_poll`: no poll runs into the tab's own timeout while calls go through";
    "S4", "waiter cap; past it, answered at once, never dropped",
        "O8 `o8_server_bounds` (parked polls within the cap) and `o8_long_poll` (none left unanswered)";
    "S5", "idle org evicted after 2 min",
        "O8 `o8_server_bounds`: an org untouched for the window is evicted";
    "S6", "auth on every call; org and property filters",
        "O5 `o5_isolation` (no foreign org or property, any tab that ever lived); O6 (no call without a bearer)";
    "S7", "metrics endpoint",
        "O8 `o8_metrics`: each counter the ops probe reads lies between what the history shows the server had done when the call left and when it came back; v2: each `(org, service)` batch window it reads is one a flush had put in force while the call was out";
    "S8", "legacy subscribe answers 410",
        "O8 `o8_metrics`: the ops probe's legacy call answers 410 whenever the server answers";
    "S9", "token service: expiry, refresh, logout revokes",
        "O6 `o6_auth`: every token lives access_token_ttl_ms; one refresh per expiry; silence after logout";
    "S10", "a restart loses the buffers, and shows it",
        "O1 `o1_restart`: the first poll after a restart from an older cursor shows the loss";
    "S11", "v2: one stream per client carrying many services, each message a batch",
        "O3 `o3_order` (a batch's sequences rise within each service) and O13 `o13_replay` (each batch starts where the tab's copy of its service ends)",
        gap: "no mutant mixes services in a batch or shares one sequence between them yet";
    "S12", "v2: adaptive batch window 30-150 ms per (org, service)",
        "O8 `o8_stream`: every window within its bounds; a near-full batch widens it, a quiet one narrows it";
    "S13", "v2: bounded send queue; repeated overflow quarantines low tiers 30 s",
        "O8 `o8_stream`: quarantine only after quarantine_overflows overflows in the window, at once, on that connection alone; over within 30 s; nothing but analytics and dashboard shed";
    "S14", "v2: update-services changes a live connection in place",
        "O14 `o14_subscriptions`: a resubscription a tab sees carries a page that tab has shown since its welcome (never another tab's route); O13 (nothing of a dropped service after it, a new one from its head)";
    "S15", "v2: replay on reconnect from the last sequence per service",
        "O13 `o13_replay`: a recovered service resumes at the tab's own cursor in the tab's epoch; nothing resent, no unflagged hole";
    "B1", "localStorage: own writes at once, others' later; races",
        "O4 `o4_one_leader`: the lease's write-then-recheck must survive the race";
    "B2", "BroadcastChannel: async, per-sender order, never to the sender",
        "O2 and O1 through the followers that live on it (a reorder costs a follower a refetch, never an event)";
    "B3", "Web Locks: FIFO, released on close and crash",
        "O10 `o10_recovery`: a scope has a transport within the bound after a crash";
    "B4", "lifecycle: hidden throttling; frozen runs only its channel handler, whose requests wait",
        "O7 `o7_pacing`: a frozen tab sends nothing (throttling: the platform's unit tests)";
    "C1", "one transport per scope",
        "O4 (one backend stream per scope) and O7 (never two polls out at once)";
    "C2", "dedup LRU per org",
        "O1 `o1_exactly_once`: no event applied twice";
    "C3", "each batch sorted before it is applied",
        "O3 `o3_order`: sequences increase, and no fresh event of a batch is skipped";
    "C4", "breaker: 3 failures, 30 s open, half-open trial",
        "O7 `o7_pacing`: no poll while the breaker owes a pause";
    "C5", "fast-empty answer backs off 2-5 s",
        "O7 `o7_pacing`: no poll within the backoff after a fast empty";
    "C6", "hidden tabs and fallback followers resubscribe every 3-5 s at most",
        "O7 `o7_pacing`: no poll within paced_poll_min_ms of an answer while the tab is hidden or polls alone in fallback";
    "C7", "pause on 401/403; never a header without a token",
        "O6 `o6_auth`: no data call without a bearer";
    "C8", "hardRecover after 60 s silence",
        "O10 `o10_hard_recover`: a long-silent tab refetches its lists within the bound";
    "C9", "gap detection: a hole or a loss floor triggers a refetch",
        "O1 `o1_exactly_once` (nothing lost without a covering refetch) and `o1_restart`";
    "C10", "aggregates reconciled every ~60 s",
        "O9 `o9_reconcile`: no longer than a reconcile period between aggregate refetches";
    "C11", "degraded mode: lists refetched every 12-18 s",
        "O12 `o12_flags`: a degraded page refetches in time, and a page whose stream is down is degraded";
    "C12", "stream health broadcast to the scope",
        "O12 `o12_flags`: every page of a scope whose stream is down is degraded within the notice bound";
    "C13", "flags: master, shadow, rollout, kill list",
        "O12 `o12_flags`: the SPEC's decision per org, made in the checker; shadow applies nothing; off makes no stream call";
    "C14", "telemetry sampled, never a token",
        "O6 `o6_auth`: the server witnesses every payload that carries a token";
    "C15", "v2: update-services without reconnect; single-flight connect; pre-expiry refresh; per-service health",
        "O4 `o4_one_stream` (never two streams for a tab; behind the leader, `o4_one_leader`: one stream per scope), O14 `o14_subscriptions` (a route or filter change never closes the open stream to open another; at the end each open stream carries its page, or behind the leader every service; no tab applies an event its page does not show), O6 `o6_auth` (no stream opened without a bearer; pre-expiry refresh, one per expiry, as in v1: `v2_token_refresh`) and O12 `o12_flags` (no stream where the flags say off); per-service health is not read by an oracle yet";
    "L1", "scope per session or per browser+org",
        "O4 `o4_one_leader` works each tab's scope out from the SPEC (its browser and org, or its login session), never from the tab, so a tab that keys its election wrongly still counts in its true scope";
    "L2", "lease + heartbeats, or Web Locks",
        "O4 `o4_one_leader`: split-brain windows bounded and counted";
    "L3", "heartbeat 10 s, takeover ~18 s or ~3 s",
        "O10 `o10_recovery` (a transport within the bound) and `o10_handoff` (a clean close hands over within 2 s)";
    "L4", "a leader that hears a higher sequence yields",
        "O4 `o4_one_leader`: two leaders no longer than the split-brain bound";
    "L5", "followers never call; the new leader resumes from the shared cursor",
        "O4 (followers call nothing) and O1 (nothing lost across a takeover)";
    "L6", "no BroadcastChannel: solo polling, or the mailbox bus",
        "O2 `o2_convergence` and O4 (declared fallback)";
    "L7", "leader churn under 5 per day per tab",
        "O4 `o4_churn`: a leader never steps down while no other tab leads or claims its scope, unless it closed, signed out or lost its platform (the per-day rate is the summary's `leader_churn_per_tab_per_day`)";
    "A1", "refresh mutex: one refresh per expiry",
        "O6 `o6_auth`: a refresh while another is out, or of a token not due, is a herd";
    "A2", "auth-refresh channel shares the token",
        "O6 `o6_auth`: the other tabs take the shared token instead of refreshing again";
    "A3", "failed refreshes back off 2, 4, 8 ... 60 s; re-login banner",
        "O6 `o6_auth` (no retry before the backoff, written from the SPEC) and `o6_banner`";
    "A4", "logout silences every tab within 200 ms",
        "O6 `o6_auth`: no request and no call in flight 200 ms after a logout";
    "A5", "offline and expired banners come down",
        "O6 `o6_banner`: down within 2 s of a refresh success, or of the server answering";
    "U1", "row-level patching by query key",
        "O2 `o2_convergence`: every list equals the store's projection after the settle";
    "U2", "optimistic rows replaced by the echo, or refetched after 5 s",
        "O1 `o1_ui`: each optimistic row settles once, within the bound";
    "U3", "aggregates invalidated at most once a second",
        "O9 `o9_debounce`";
    "U4", "staleTime; refetch on focus",
        "O10 `o10_focus`: a focused tab with a stale list refetches it within a second";
}

impl Rule {
    /// The mutants that break this rule.
    pub fn mutants(&self) -> Vec<Mutant> {
        Mutant::ALL
            .iter()
            .copied()
            .filter(|m| spec_ids(m.breaks()).contains(&self.id))
            .collect()
    }
}

/// The SPEC ids (`S3`, `C10`, `O7`...) a text names.
pub fn spec_ids(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| {
            let mut chars = w.chars();
            chars.next().is_some_and(|c| "SBCLAUO".contains(c))
                && w.len() >= 2
                && chars.all(|c| c.is_ascii_digit())
        })
        .collect()
}

/// README's table: one row per rule.
pub fn markdown_table() -> String {
    let mut s =
        String::from("| SPEC | rule | checked by | mutants that break it |\n|---|---|---|---|\n");
    for r in RULES {
        let mutants: Vec<String> = r.mutants().iter().map(|m| format!("`{m}`")).collect();
        let mutants = match (mutants.is_empty(), r.gap) {
            (false, _) => mutants.join(", "),
            (true, Some(gap)) => format!("none: {gap}"),
            (true, None) => "none".to_string(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.id, r.rule, r.check, mutants
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_a_mutant_or_says_why_not() {
        for r in RULES {
            let mutants = r.mutants();
            assert!(
                mutants.is_empty() == r.gap.is_some(),
                "{}: mutants {:?} and gap {:?} disagree",
                r.id,
                mutants,
                r.gap
            );
        }
    }

    #[test]
    fn every_mutant_names_rules_of_the_table() {
        for &m in Mutant::ALL {
            let ids = spec_ids(m.breaks());
            assert!(!ids.is_empty(), "{m} names no SPEC id");
            for id in ids.iter().filter(|id| !id.starts_with('O')) {
                assert!(
                    RULES.iter().any(|r| r.id == *id),
                    "{m} names {id}, which the table lacks"
                );
            }
        }
    }

    #[test]
    fn the_table_covers_sections_2_to_7_once_each() {
        let expected: Vec<String> = [
            ("S", 2..=15),
            ("B", 1..=4),
            ("C", 1..=15),
            ("L", 1..=7),
            ("A", 1..=5),
            ("U", 1..=4),
        ]
        .into_iter()
        .flat_map(|(p, r)| r.map(move |n| format!("{p}{n}")))
        .collect();
        let ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(ids, expected);
    }
}
