//! Lease election over localStorage (SPEC L2, B1), every interleaving.
//!
//! 2 and 3 tabs, as loom threads, run the claim step of the real `Leader`
//! machine against storage whose get and set are each atomic but not together.
//!
//! - The plain lease (the `lease-no-recheck` mutant: read, and if free, write
//!   and lead) splits: loom finds two leaders and the test prints how.
//! - Write-then-recheck (the shipped machine) also splits if nothing bounds
//!   time: a tab that read the key empty may write its claim after another
//!   tab has already re-read and confirmed its own. Its safety rests on the
//!   recheck delay outlasting any other tab's read-to-write window and storage
//!   propagation; with that stated (`Browser::recheck`) it holds exhaustively.
//! - Web Locks (a loom mutex standing in for `navigator.locks`) holds
//!   exhaustively: never two tabs leading at once.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_lease`.
#![cfg(loom)]

#[path = "support/mod.rs"]
mod support;

use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use rtsim::client::leader::{Leader, LeaderConfig, LeaderInput, LeaderOutput, Mechanism, Role};
use rtsim::machine::Machine;
use rtsim::mutant::Mutant;
use rtsim::seed::rng_for;
use rtsim::time::SimTime;
use support::{explore, find_failure, grant, record_failure, Browser, TabView};

const BOUND: usize = 3;

#[derive(Clone, Copy)]
struct Variant {
    mechanism: Mechanism,
    mutant: Option<Mutant>,
    /// State the recheck delay's timing promise (see `Browser::recheck`).
    timing: bool,
}

/// Carry out what the election asked for, in order, as the browser node does.
fn carry_out(leader: &mut Leader, view: &mut TabView) {
    while let Some(output) = leader.poll_output() {
        if let LeaderOutput::Effect(effect) = output {
            view.carry_out(effect);
        }
    }
}

/// One tab, from opening to its settled role, as the simulator runs it.
fn tab(browser: Arc<Browser>, me: u32, v: Variant) -> Role {
    let config = LeaderConfig {
        mechanism: v.mechanism,
        ..LeaderConfig::default()
    };
    let recheck = config.lease_recheck_ms;
    let mut view = TabView::new(&browser, me, v.mechanism == Mechanism::WebLocks);
    let mut leader = Leader::new(
        config,
        me,
        "scope",
        rng_for(1, &format!("tab{me}")),
        v.mutant,
    );
    let t0 = SimTime::ZERO;
    browser.claim(|| {
        leader.handle(t0, LeaderInput::Start, &view);
        carry_out(&mut leader, &mut view);
    });
    if let Some(name) = view.lock_wanted.take() {
        // Web Locks: lead while holding the lock, then close and let the next tab in.
        let _held = grant(&browser, me);
        leader.handle(t0, LeaderInput::LockGranted { name }, &view);
        carry_out(&mut leader, &mut view);
        assert_eq!(leader.role(), Role::Leader);
        let before = browser.acting.fetch_add(1, Ordering::SeqCst);
        browser.note(format!("tab{me} leads"));
        if before > 0 {
            record_and_fail(&browser, "two tabs lead at once");
        }
        browser.acting.fetch_sub(1, Ordering::SeqCst);
        leader.handle(t0, LeaderInput::Close, &view);
        carry_out(&mut leader, &mut view);
        return Role::Closed;
    }
    if leader.role() == Role::Claiming {
        let mut confirm = || {
            leader.handle_timeout(t0 + recheck, &view);
            carry_out(&mut leader, &mut view);
        };
        if v.timing {
            browser.recheck(confirm);
        } else {
            confirm();
        }
    }
    browser.note(format!("tab{me} ends as {:?}", leader.role()));
    leader.role()
}

fn record_and_fail(browser: &Browser, what: &str) -> ! {
    record_failure(browser.interleaving());
    panic!("{what}");
}

/// `tabs` tabs elect at once; at most one may end up leading.
fn election(tabs: u32, v: Variant) {
    let browser = Browser::new();
    let handles: Vec<_> = (0..tabs)
        .map(|me| {
            let b = browser.clone();
            loom::thread::spawn(move || tab(b, me, v))
        })
        .collect();
    let roles: Vec<Role> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    if roles.iter().filter(|r| **r == Role::Leader).count() > 1 {
        record_and_fail(&browser, "split brain");
    }
}

const PLAIN: Variant = Variant {
    mechanism: Mechanism::Lease,
    mutant: Some(Mutant::LeaseNoRecheck),
    timing: false,
};
const RECHECK_UNTIMED: Variant = Variant {
    mechanism: Mechanism::Lease,
    mutant: None,
    timing: false,
};
const RECHECK: Variant = Variant {
    mechanism: Mechanism::Lease,
    mutant: None,
    timing: true,
};
const WEB_LOCKS: Variant = Variant {
    mechanism: Mechanism::WebLocks,
    mutant: None,
    timing: false,
};

fn expect_split(name: &str, tabs: u32, v: Variant) {
    let found = find_failure(name, BOUND, move || election(tabs, v));
    let leading = found.lines().filter(|l| l.ends_with("as Leader")).count();
    assert!(
        leading >= 2,
        "{name}: the interleaving shows {leading} leaders:\n{found}"
    );
}

#[test]
fn plain_lease_splits_with_2_and_3_tabs() {
    expect_split("plain lease, 2 tabs", 2, PLAIN);
    expect_split("plain lease, 3 tabs", 3, PLAIN);
}

#[test]
fn recheck_without_its_timing_promise_splits() {
    expect_split("lease + recheck, no timing, 2 tabs", 2, RECHECK_UNTIMED);
}

#[test]
fn recheck_with_its_timing_promise_holds_with_2_and_3_tabs() {
    assert!(explore("lease + recheck, 2 tabs", BOUND, || election(2, RECHECK)) > 1);
    assert!(explore("lease + recheck, 3 tabs", BOUND, || election(3, RECHECK)) > 1);
}

#[test]
fn web_locks_hold_with_2_and_3_tabs() {
    assert!(explore("web locks, 2 tabs", BOUND, || election(2, WEB_LOCKS)) > 1);
    assert!(explore("web locks, 3 tabs", BOUND, || election(3, WEB_LOCKS)) > 1);
}
