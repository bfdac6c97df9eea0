//! The provider's tunables, with the seed documents' defaults (the
//! parameter table in `params.rs` sets them from a scenario).

use crate::client::auth::AuthConfig;
use crate::client::breaker::BreakerConfig;
use crate::client::dedup::DedupConfig;
use crate::client::derived::DerivedConfig;
use crate::client::flags::Flags;
use crate::client::leader::LeaderConfig;
use crate::client::writes::WriteConfig;
use crate::query::Page;

/// How a tab gets its events: v1's long-poll, run by the scope's leader
/// (C1, L5), or v2's stream (C15): one per tab, as seed 003's provider
/// keeps it, or one per scope behind the leader (`stream_behind_leader`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    LongPoll,
    Stream,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    pub transport: Transport,
    /// C15: a stream silent this long (no frame, not even the server's
    /// ping) is dead, and the tab reconnects.
    pub stream_silence_ms: u64,
    /// C15: a hidden tab closes its stream, and resumes it (with its
    /// cursors) when shown again.
    pub stream_close_when_hidden: bool,
    /// C15 behind the leader (the seeds are silent on which): the scope's
    /// elected tab keeps the one stream, of every service and property,
    /// and shares its frames on the scope's channel; each tab applies what
    /// its own page shows. Off: every tab keeps its own stream.
    pub stream_behind_leader: bool,
    /// S13: a service quarantine shed is stale in the tab; its lists reload
    /// this long after the first shed frame (a slow consumer is not made
    /// to reload at every frame).
    pub stream_suppressed_refetch_ms: u64,
    /// A poll gets this long to answer: the server's long-poll timeout plus slack.
    pub poll_request_timeout_ms: u64,
    pub refetch_request_timeout_ms: u64,
    /// C5: an empty answer faster than this is "fast-empty"...
    pub fast_empty_ms: u64,
    /// ...and delays the next poll by a jittered backoff in this range.
    pub fast_empty_backoff_min_ms: u64,
    pub fast_empty_backoff_max_ms: u64,
    /// C6: a hidden tab, or one polling alone because there is no
    /// BroadcastChannel, waits a jittered min..max ms after each answer.
    pub paced_poll_min_ms: u64,
    pub paced_poll_max_ms: u64,
    /// C8: this long without a successful poll triggers a full refetch.
    pub hard_recover_after_ms: u64,
    /// Pause before re-polling after a failed poll (the breaker adds its own).
    pub poll_retry_ms: u64,
    /// Pause before retrying a failed refetch.
    pub refetch_retry_ms: u64,
    pub dedup: DedupConfig,
    pub breaker: BreakerConfig,
    pub leader: LeaderConfig,
    pub auth: AuthConfig,
    pub derived: DerivedConfig,
    /// The queries the page shows (U1, U3).
    pub page: Page,
    pub writes: WriteConfig,
    pub flags: Flags,
    /// C11: while the page has no live stream, refetch the list every
    /// min..max ms (jittered).
    pub degraded_polling: bool,
    pub degraded_refetch_min_ms: u64,
    pub degraded_refetch_max_ms: u64,
    /// U4: on focus, a list older than this is refetched...
    pub list_stale_ms: u64,
    /// ...and an aggregate older than this (live) or that (not live).
    pub aggregate_stale_live_ms: u64,
    pub aggregate_stale_offline_ms: u64,
    /// C14: the share of telemetry-worthy events reported, in percent.
    pub telemetry_sample_pct: u32,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            transport: Transport::LongPoll,
            stream_silence_ms: 35_000,
            stream_close_when_hidden: true,
            stream_behind_leader: false,
            stream_suppressed_refetch_ms: 5_000,
            poll_request_timeout_ms: 35_000,
            refetch_request_timeout_ms: 10_000,
            fast_empty_ms: 1_500,
            fast_empty_backoff_min_ms: 2_000,
            fast_empty_backoff_max_ms: 5_000,
            paced_poll_min_ms: 3_000,
            paced_poll_max_ms: 5_000,
            hard_recover_after_ms: 60_000,
            poll_retry_ms: 1_000,
            refetch_retry_ms: 5_000,
            dedup: DedupConfig::default(),
            breaker: BreakerConfig::default(),
            leader: LeaderConfig::default(),
            auth: AuthConfig::default(),
            derived: DerivedConfig::default(),
            page: Page::default(),
            writes: WriteConfig::default(),
            flags: Flags::default(),
            degraded_polling: true,
            degraded_refetch_min_ms: 12_000,
            degraded_refetch_max_ms: 18_000,
            list_stale_ms: 5_000,
            aggregate_stale_live_ms: 25_000,
            aggregate_stale_offline_ms: 10_000,
            telemetry_sample_pct: 2,
        }
    }
}
