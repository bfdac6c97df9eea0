//! Diagnostic logging through `tracing`, stamped with simulated time.
//!
//! The drivers and machines emit `tracing` events (the history's every step
//! at debug, the election's role changes, each express dispatch at trace);
//! `RUST_LOG=rtsim=debug rtsim run ...` prints them to stderr. The timestamp
//! is the simulated clock of the run on this thread, which the drivers set
//! as they advance it (`set_now`); the wall clock is never read. With
//! `RUST_LOG` unset no subscriber is installed, and each event costs one
//! check of a static interest flag, so sweeps pay nothing measurable
//! (BENCHMARKS.md has the express figure with logging compiled in and off).

use crate::time::SimTime;
use std::cell::Cell;
use std::fmt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

thread_local! {
    /// The simulated time of the run on this thread (each run is one thread's business).
    static NOW: Cell<u64> = const { Cell::new(0) };
}

/// The drivers call this as their clock advances.
#[inline]
pub fn set_now(t: SimTime) {
    NOW.with(|n| n.set(t.as_ms()));
}

/// A tracing-subscriber timer that prints the simulated time, `12.345s`.
pub struct SimTimer;

impl FormatTime for SimTimer {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let ms = NOW.with(Cell::get);
        write!(w, "{:>5}.{:03}s", ms / 1000, ms % 1000)
    }
}

/// Install a stderr subscriber when `RUST_LOG` is set (e.g. `rtsim=debug`);
/// otherwise install nothing. Whether one was installed.
pub fn init_from_env() -> bool {
    let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() else {
        return false;
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(SimTimer)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init()
        .is_ok()
}
