//! A progress bar on stderr for long batches: items done, failures so far and
//! an ETA. indicatif draws it only when stderr is a terminal, so a CI log or a
//! pipe gets nothing extra. It reads the wall clock for its ETA; nothing the
//! simulator runs ever sees it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Progress {
    bar: ProgressBar,
    failed: AtomicU64,
    /// What a failure is called in the message ("failed", "disagreements").
    failures: &'static str,
}

impl Progress {
    /// A bar for `total` items named `unit` ("runs", "scenarios").
    pub fn new(total: u64, unit: &str, failures: &'static str) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let template = format!("{{bar:30}} {{pos}}/{{len}} {unit}, {{msg}}, ETA {{eta}}");
        bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
        bar.set_message(format!("0 {failures}"));
        Progress {
            bar,
            failed: AtomicU64::new(0),
            failures,
        }
    }

    /// A spinner for work of unknown length (`rtsim bench`): items done so far,
    /// the last one's name, the time taken.
    pub fn spinner(unit: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = format!("{{spinner}} {{pos}} {unit} done, last: {{msg}} ({{elapsed}})");
        bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Progress {
            bar,
            failed: AtomicU64::new(0),
            failures: "failed",
        }
    }

    /// Say what was done last (the spinner's message).
    pub fn note(&self, what: String) {
        self.bar.set_message(what);
    }

    /// One item done; `pass` false counts it as a failure.
    pub fn done(&self, pass: bool) {
        if !pass {
            let n = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{n} {}", self.failures));
        }
        self.bar.inc(1);
    }

    /// Print `text` to stdout with the bar out of its way.
    pub fn print(&self, text: &str) {
        self.bar.suspend(|| print!("{text}"));
    }

    /// Take the bar off the terminal before the results are printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
