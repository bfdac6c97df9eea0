//! What the loom models share: a browser's shared memory as loom sees it.
//!
//! Tabs are loom threads. localStorage is a map behind a loom mutex, so each
//! `getItem` and each `setItem` is atomic, but a read followed by a write is
//! not (B1, with propagation at its worst: zero). `navigator.locks` is a loom
//! mutex. Every storage operation is logged under the same lock as the
//! operation itself, so a failing interleaving prints in its true order.
#![allow(dead_code)]

use loom::sync::atomic::AtomicUsize;
use loom::sync::{Arc, Mutex, MutexGuard, RwLock};
use rtsim::client::browser_api::{BrowserView, Effect};
use std::collections::BTreeMap;

/// The memory every tab of the browser shares.
pub struct Browser {
    /// localStorage, and the interleaving as it happened (one line per step).
    memory: Mutex<(BTreeMap<String, String>, Vec<String>)>,
    /// `navigator.locks`: one exclusive lock (the models use one name each).
    pub lock: Mutex<()>,
    /// The timing promise of a recheck delay (see `recheck`).
    phase: RwLock<()>,
    /// How many tabs act as the one (leader, refresher) right now, and the most ever.
    pub acting: AtomicUsize,
}

impl Browser {
    pub fn new() -> Arc<Browser> {
        Arc::new(Browser {
            memory: Mutex::new((BTreeMap::new(), Vec::new())),
            lock: Mutex::new(()),
            phase: RwLock::new(()),
            acting: AtomicUsize::new(0),
        })
    }

    pub fn note(&self, line: String) {
        self.memory.lock().unwrap().1.push(line);
    }

    /// What storage holds for `key`, for the model's own bookkeeping (not logged).
    pub fn peek(&self, key: &str) -> Option<String> {
        self.memory.lock().unwrap().0.get(key).cloned()
    }

    pub fn interleaving(&self) -> String {
        self.memory.lock().unwrap().1.join("\n")
    }

    /// A step that may read a key and write a claim (many may run at once).
    pub fn claim<R>(&self, f: impl FnOnce() -> R) -> R {
        let _step = self.phase.read().unwrap();
        f()
    }

    /// A recheck, under the recheck delay's promise: by the time a tab re-reads
    /// its claim, every claim step that had begun has finished (its write
    /// landed). In a browser that is the delay (100 ms) outlasting a
    /// read-to-write window of microseconds plus storage propagation; loom has
    /// no clock, so the model makes the recheck wait for them and hold new
    /// ones back while it runs.
    pub fn recheck<R>(&self, f: impl FnOnce() -> R) -> R {
        let _alone = self.phase.write().unwrap();
        f()
    }
}

/// One tab's browser: what its machines read (`BrowserView`), and where
/// their effects land (`carry_out`).
pub struct TabView {
    pub browser: Arc<Browser>,
    pub tab: u32,
    /// Whether `navigator.locks` exists (else the machines fall back to storage).
    pub locks: bool,
    /// The lock the machine asked for, to be granted by the thread.
    pub lock_wanted: Option<String>,
    pub lock_released: bool,
}

impl TabView {
    pub fn new(browser: &Arc<Browser>, tab: u32, locks: bool) -> TabView {
        TabView {
            browser: browser.clone(),
            tab,
            locks,
            lock_wanted: None,
            lock_released: false,
        }
    }
}

/// Block for `browser`'s lock as `navigator.locks` would before granting it.
pub fn grant(browser: &Browser, tab: u32) -> MutexGuard<'_, ()> {
    let guard = browser.lock.lock().unwrap();
    browser.note(format!("tab{tab} granted the lock"));
    guard
}

impl BrowserView for TabView {
    fn storage_get(&self, key: &str) -> Option<String> {
        let mut m = self.browser.memory.lock().unwrap();
        let v = m.0.get(key).cloned();
        m.1.push(format!("tab{} get {key} -> {}", self.tab, show(&v)));
        v
    }

    fn broadcast_enabled(&self) -> bool {
        true
    }

    fn locks_available(&self) -> bool {
        self.locks
    }
}

impl TabView {
    /// Carry out an effect a machine asked for, as the browser node does.
    pub fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::StorageSet { key, value } => {
                let mut m = self.browser.memory.lock().unwrap();
                m.1.push(format!("tab{} set {key} = {}", self.tab, show(&value)));
                match value {
                    Some(v) => m.0.insert(key, v),
                    None => m.0.remove(&key),
                };
            }
            Effect::Broadcast { channel, data } => self
                .browser
                .note(format!("tab{} post {channel}: {data}", self.tab)),
            Effect::LockRequest { name } => self.lock_wanted = Some(name),
            Effect::LockRelease { .. } => self.lock_released = true,
        }
    }
}

fn show(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".to_string())
}

/// Run `f` under loom with `preemption_bound`, count the interleavings it
/// explored and print the count. Returns the count.
pub fn explore(name: &str, preemption_bound: usize, f: impl Fn() + Sync + Send + 'static) -> usize {
    // Counted per call (tests run in parallel), outside loom's view.
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = runs.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemption_bound);
    builder.max_branches = 100_000;
    builder.check(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        f()
    });
    let n = runs.load(std::sync::atomic::Ordering::SeqCst);
    println!("{name}: {n} interleavings explored (preemption bound {preemption_bound})");
    n
}

std::thread_local! {
    /// The interleaving a failing model ran, kept per test thread (loom runs a
    /// model's threads as coroutines on the test's own thread).
    static FAILURE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Keep the interleaving a model is about to fail on, for `find_failure`.
pub fn record_failure(interleaving: String) {
    FAILURE.with(|f| *f.borrow_mut() = interleaving);
}

/// Run a model expected to fail: returns the interleaving it failed on.
pub fn find_failure(
    name: &str,
    preemption_bound: usize,
    f: impl Fn() + Sync + Send + 'static,
) -> String {
    record_failure(String::new());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        explore(name, preemption_bound, f)
    }));
    assert!(
        outcome.is_err(),
        "{name}: loom found no failing interleaving"
    );
    let found = FAILURE.with(|f| f.borrow().clone());
    assert!(
        !found.is_empty(),
        "{name}: the failing model recorded no interleaving"
    );
    println!("{name}: failing interleaving:\n{found}");
    found
}
