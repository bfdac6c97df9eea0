//! Platform profiles: what the browser model (SPEC B1-B4) assumes about a
//! browser's timing, either as the SPEC first stated it (`Idealised`: the
//! uniform delays and immediate lock release of the `storage_*`,
//! `broadcast_*` parameters) or as measured in a real browser by `probe/`
//! (`Measured`: the profile JSON the probe writes, `profiles/chromium.json`
//! being the committed one).
//!
//! A measured profile gives the model, from the probe's fields:
//! - `storage_event_delay`, `broadcast_channel_delay`: the delay of a storage
//!   event and of a channel message, drawn from the measured quantiles
//!   (piecewise linear between min, p50, p90, p99 and max), to the millisecond;
//! - `broadcast_channel_burst`: the receiving tab's cost per message, so a
//!   burst queues at the receiver and drains when the measured one did;
//! - `lock_release_after_close`, `lock_release_after_crash`: how long a Web
//!   Lock stays held after its tab closes or crashes;
//! - `hidden_tab_timers`: whether hidden tabs' timers run on one shared grid
//!   of the hidden interval (phase spread under 5 ms), as Chromium aligns them;
//! - `intensive_throttling` (when the probe ran with `--intensive`): from how
//!   long hidden a tab's chained timers run once a minute, and that period;
//! - `frozen_tab`: whether a frozen page's BroadcastChannel `onmessage` runs
//!   while it is frozen, and whether the requests that handler makes are
//!   sent only once the page resumes (its storage writes and posts take
//!   effect at once, as measured; a profile saying otherwise is refused,
//!   since the model cannot follow it), and whether freezing a page in
//!   front hides it (Chromium's does: hidden while frozen and after).
//!
//! Not taken from a profile: the busy tab's task length (the `cpu_throttle`
//! fault gives it); the back-forward cache is the `bfcache` parameter, on by
//! default as measured (tests/profile.rs checks the two agree).

use crate::seed::SimRng;
use rand::Rng;
use serde::Deserialize;
use std::sync::Arc;

/// The committed Chromium profile, compiled in so a run never depends on
/// the working directory.
const CHROMIUM: &str = include_str!("../../profiles/chromium.json");

/// A measured distribution of delays in ms, as the probe writes it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Quantiles {
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Quantiles {
    /// The delay at quantile `u` in [0, 1], linear between the measured points.
    pub fn at(&self, u: f64) -> f64 {
        let points = [
            (0.0, self.min_ms),
            (0.5, self.p50_ms),
            (0.9, self.p90_ms),
            (0.99, self.p99_ms),
            (1.0, self.max_ms),
        ];
        let u = u.clamp(0.0, 1.0);
        let i = points
            .iter()
            .rposition(|(q, _)| *q <= u)
            .unwrap_or(0)
            .min(3);
        let ((q0, d0), (q1, d1)) = (points[i], points[i + 1]);
        d0 + (d1 - d0) * (u - q0) / (q1 - q0)
    }

    /// One delay drawn from the distribution, in nanoseconds.
    pub fn draw_ns(&self, rng: &mut SimRng) -> u64 {
        (self.at(rng.gen::<f64>()) * 1e6).round().max(0.0) as u64
    }

    /// One delay drawn from the distribution, to the nearest millisecond
    /// (the model's clock).
    pub fn draw_ms(&self, rng: &mut SimRng) -> u64 {
        (self.draw_ns(rng) + 500_000) / 1_000_000
    }

    fn check(&self, field: &str) -> Result<(), String> {
        let v = [
            self.min_ms,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
        ];
        let ordered = v.windows(2).all(|w| w[0] <= w[1]);
        if v.iter().all(|x| x.is_finite() && *x >= 0.0) && ordered {
            Ok(())
        } else {
            Err(format!("{field}: quantiles must be non-negative and ordered min <= p50 <= p90 <= p99 <= max"))
        }
    }
}

#[derive(Deserialize)]
struct Burst {
    messages: u64,
    max_ms: f64,
}

#[derive(Deserialize)]
struct HiddenTimers {
    gap: Quantiles,
    phase_spread_ms: f64,
}

#[derive(Deserialize)]
struct IntensiveThrottling {
    /// Hidden this long, the tab's timer ran a minute late for the first time.
    minute_gaps_from_hidden_ms: Option<f64>,
    gap_after: Option<Quantiles>,
}

/// B4: what a frozen page's channel handler did in the probe's `frozen_tab` stage.
#[derive(Deserialize)]
struct FrozenTabFile {
    channel_messages_sent: u64,
    channel_messages_run_while_frozen: u64,
    handler_storage_writes_seen_while_frozen: Option<u64>,
    handler_posts_delivered_while_frozen: Option<u64>,
    handler_fetches_sent_while_frozen: Option<u64>,
    visibility_before_freeze: Option<String>,
    visibility_read_by_handler_while_frozen: Option<Vec<String>>,
}

/// The probe's JSON, the fields the model reads (the rest is for people).
#[derive(Deserialize)]
struct ProbeFile {
    browser: String,
    measured_on: String,
    storage_event_delay: Quantiles,
    broadcast_channel_delay: Quantiles,
    broadcast_channel_burst: Burst,
    lock_release_after_close: Quantiles,
    lock_release_after_crash: Quantiles,
    hidden_tab_timers: HiddenTimers,
    intensive_throttling: Option<IntensiveThrottling>,
    frozen_tab: Option<FrozenTabFile>,
}

/// A real browser's timing, as the platform model uses it.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// What the parameter said: "chromium", or the file it was read from.
    pub name: String,
    pub browser: String,
    pub measured_on: String,
    pub storage: Quantiles,
    pub channel: Quantiles,
    /// The receiver's cost per channel message, in nanoseconds.
    pub channel_per_message_ns: u64,
    pub lock_release_close: Quantiles,
    pub lock_release_crash: Quantiles,
    /// The hidden-tab timer interval, in ms (the measured median gap).
    pub hidden_interval_ms: u64,
    /// Hidden tabs' timers fire on one grid shared by every tab.
    pub hidden_grid: bool,
    /// Intensive throttling, if the probe measured it.
    pub intensive: Option<Intensive>,
    /// A frozen tab's channel handler, if the probe measured it (else, as
    /// the idealised model: a frozen tab runs nothing).
    pub frozen: Option<FrozenChannel>,
    /// B4 measured: freezing a page in front hides it (its
    /// `visibilitychange` runs, and it is hidden until shown again).
    pub freeze_hides: bool,
}

/// B4 measured: a frozen page still runs its BroadcastChannel `onmessage`
/// (its timers, storage events and lock callbacks wait for the resume); its
/// storage writes and posts take effect at once, and the requests it makes
/// wait for the resume unless `fetches_held` is false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrozenChannel {
    pub fetches_held: bool,
}

/// B4 measured: hidden longer than `after_ms`, a tab's timers fire at most
/// once per `interval_ms`, counted from its previous fire (the probe saw the
/// first minute-long gap start at `after_ms`, not on a grid from hiding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intensive {
    pub after_ms: u64,
    pub interval_ms: u64,
}

/// Which timing the platform model follows.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformProfile {
    /// The SPEC's first model: uniform delays from the `storage_propagation_*`
    /// and `broadcast_delay_*` parameters, locks released at once.
    Idealised,
    Measured(Arc<Measured>),
}

impl PlatformProfile {
    /// The default: the committed Chromium profile, parsed once.
    pub fn chromium() -> PlatformProfile {
        static PARSED: std::sync::OnceLock<PlatformProfile> = std::sync::OnceLock::new();
        PARSED
            .get_or_init(|| {
                Measured::parse("chromium", CHROMIUM).expect("profiles/chromium.json parses")
            })
            .clone()
    }

    /// "idealised", "chromium" (the committed profile), or a profile file.
    pub fn named(name: &str) -> Result<PlatformProfile, String> {
        match name {
            "idealised" => Ok(PlatformProfile::Idealised),
            "chromium" => Ok(PlatformProfile::chromium()),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read profile {path}: {e}"))?;
                Measured::parse(path, &text)
            }
        }
    }

    pub fn name(&self) -> &str {
        match self {
            PlatformProfile::Idealised => "idealised",
            PlatformProfile::Measured(m) => &m.name,
        }
    }

    pub fn measured(&self) -> Option<&Measured> {
        match self {
            PlatformProfile::Idealised => None,
            PlatformProfile::Measured(m) => Some(m),
        }
    }
}

impl Measured {
    fn parse(name: &str, text: &str) -> Result<PlatformProfile, String> {
        let file: ProbeFile = serde_json::from_str(text)
            .map_err(|e| format!("profile {name}: {e} (a profile is what probe/ writes)"))?;
        for (field, q) in [
            ("storage_event_delay", &file.storage_event_delay),
            ("broadcast_channel_delay", &file.broadcast_channel_delay),
            ("lock_release_after_close", &file.lock_release_after_close),
            ("lock_release_after_crash", &file.lock_release_after_crash),
            ("hidden_tab_timers.gap", &file.hidden_tab_timers.gap),
        ] {
            q.check(field).map_err(|e| format!("profile {name}: {e}"))?;
        }
        let burst = &file.broadcast_channel_burst;
        if burst.messages == 0 || !burst.max_ms.is_finite() || burst.max_ms < 0.0 {
            return Err(format!(
                "profile {name}: broadcast_channel_burst: needs messages > 0 and max_ms >= 0"
            ));
        }
        let hidden = &file.hidden_tab_timers;
        let intensive = match &file.intensive_throttling {
            Some(IntensiveThrottling {
                minute_gaps_from_hidden_ms: Some(after),
                gap_after: Some(gap),
            }) => {
                gap.check("intensive_throttling.gap_after")
                    .map_err(|e| format!("profile {name}: {e}"))?;
                if !after.is_finite() || *after < 0.0 {
                    return Err(format!("profile {name}: intensive_throttling.minute_gaps_from_hidden_ms must be >= 0"));
                }
                Some(Intensive {
                    after_ms: after.round() as u64,
                    interval_ms: gap.p50_ms.round().max(1.0) as u64,
                })
            }
            // Run too short to see it: the model keeps the parameters' rule.
            _ => None,
        };
        let (frozen, freeze_hides) = match &file.frozen_tab {
            Some(f) => {
                let context = |e: String| format!("profile {name}: frozen_tab: {e}");
                (
                    frozen_channel(f).map_err(context)?,
                    freeze_hides(f).map_err(context)?,
                )
            }
            None => (None, false),
        };
        let channel_per_message_ns = per_message_ns(burst, &file.broadcast_channel_delay);
        Ok(PlatformProfile::Measured(Arc::new(Measured {
            name: name.to_string(),
            browser: file.browser,
            measured_on: file.measured_on,
            storage: file.storage_event_delay,
            channel: file.broadcast_channel_delay,
            channel_per_message_ns,
            lock_release_close: file.lock_release_after_close,
            lock_release_crash: file.lock_release_after_crash,
            hidden_interval_ms: hidden.gap.p50_ms.round().max(1.0) as u64,
            hidden_grid: hidden.phase_spread_ms < 5.0,
            intensive,
            frozen,
            freeze_hides,
        })))
    }
}

/// Whether freezing a page in front hid it: what its channel handler read
/// of `document.visibilityState` while frozen (absent: not measured, and the
/// model keeps the idealised rule, a frozen page keeps its visibility).
fn freeze_hides(f: &FrozenTabFile) -> Result<bool, String> {
    let (Some(before), Some(read)) = (
        &f.visibility_before_freeze,
        &f.visibility_read_by_handler_while_frozen,
    ) else {
        return Ok(false);
    };
    if before != "visible" {
        return Err(format!(
            "visibility_before_freeze is {before:?}: the stage freezes a page in front"
        ));
    }
    match read.as_slice() {
        [one] if one == "hidden" => Ok(true),
        [one] if one == "visible" => Ok(false),
        other => Err(format!(
            "visibility_read_by_handler_while_frozen is {other:?}: the model needs one state"
        )),
    }
}

/// What the model takes of the `frozen_tab` stage: none of the messages run
/// while frozen, the idealised rule; all of them, the handler runs, and its
/// fetches are held if none went out while frozen. Anything between, or a
/// handler whose writes or posts did not take effect, the model cannot follow.
fn frozen_channel(f: &FrozenTabFile) -> Result<Option<FrozenChannel>, String> {
    let sent = f.channel_messages_sent;
    match f.channel_messages_run_while_frozen {
        0 => return Ok(None),
        n if n != sent => {
            return Err(format!(
                "{n} of {sent} channel messages ran while frozen; the model runs all or none"
            ))
        }
        _ => {}
    }
    for (field, seen) in [
        (
            "handler_storage_writes_seen_while_frozen",
            f.handler_storage_writes_seen_while_frozen,
        ),
        (
            "handler_posts_delivered_while_frozen",
            f.handler_posts_delivered_while_frozen,
        ),
    ] {
        if seen != Some(sent) {
            return Err(format!(
                "{field} must be {sent} (the model applies a frozen handler's writes and posts at once)"
            ));
        }
    }
    let fetches_held = match f.handler_fetches_sent_while_frozen {
        Some(0) => true,
        Some(n) if n == sent => false,
        Some(n) => {
            let why = format!("{n} of {sent}; the model holds all or none");
            return Err(format!("handler_fetches_sent_while_frozen: {why}"));
        }
        None => {
            let why = "missing (re-run the probe's frozen_tab stage)";
            return Err(format!("handler_fetches_sent_while_frozen {why}"));
        }
    };
    Ok(Some(FrozenChannel { fetches_held }))
}

/// The receiver's cost per message that makes a burst drain when the
/// measured one did: messages are delivered in order, so the drain is the
/// slowest early message's delay (about a single message's maximum, over
/// thousands) plus the queue behind it.
fn per_message_ns(burst: &Burst, single: &Quantiles) -> u64 {
    let queued_ms = (burst.max_ms - single.max_ms).max(0.0);
    (queued_ms * 1e6 / burst.messages as f64).round() as u64
}
