//! Logout against an in-flight poll (SPEC A4), every interleaving.
//!
//! One tab runs the real provider `Tab` (polling on its own) with a long-poll
//! in flight. Racing on loom threads: the poll's answer arrives, and the
//! logout arrives (from another tab on `auth-control`, or the user clicks it
//! in this tab). A tab runs one event handler at a time, so the tab is behind
//! a loom mutex and each handler is atomic; what loom varies is which lands
//! first, and, with a third thread, a timer firing in between. The property:
//! once the tab has signed out, it starts no request (but the logout call of
//! its own click), and every poll it started is answered or aborted.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test --release --test loom_logout`.
#![cfg(loom)]

#[path = "support/mod.rs"]
mod support;

use loom::sync::{Arc, Mutex};
use rtsim::client::auth::Credentials;
use rtsim::client::leader::LeaderConfig;
use rtsim::client::{ProviderConfig, Tab, TabId, TabInput, TabOutput};
use rtsim::http::{Batch, Body, Response};
use rtsim::machine::Machine;
use rtsim::seed::rng_for;
use rtsim::time::SimTime;
use support::{explore, Browser, TabView};

const BOUND: usize = 3;

struct World {
    tab: Tab,
    view: TabView,
    /// Everything the tab did, in order.
    log: Vec<TabOutput>,
}

impl World {
    /// Carry out the tab's browser effects and log everything it did, as the node does.
    fn drain(&mut self) {
        while let Some(o) = self.tab.poll_output() {
            if let TabOutput::Effect(effect) = &o {
                self.view.carry_out(effect.clone());
            }
            self.log.push(o);
        }
    }
}

fn setup() -> Arc<Mutex<World>> {
    let browser = Browser::new();
    let config = ProviderConfig {
        leader: LeaderConfig {
            leader_enabled: false,
            ..LeaderConfig::default()
        },
        ..ProviderConfig::default()
    };
    let id = TabId {
        org: 0,
        browser: 0,
        tab: 0,
    };
    let mut w = World {
        tab: Tab::new(id, None, config.into(), rng_for(1, "tab"), None),
        view: TabView::new(&browser, 0, true),
        log: Vec::new(),
    };
    let creds = Credentials {
        session: 1,
        token: "T1".to_string(),
        refresh_token: "R1".to_string(),
        expires_at: SimTime(900_000),
    };
    let scope = "session-1".to_string();
    w.tab
        .handle(SimTime(0), TabInput::SignIn { creds, scope }, &w.view);
    w.drain();
    assert!(
        w.log.iter().any(|o| matches!(o, TabOutput::Send { .. })),
        "the tab polls on its own once signed in"
    );
    Arc::new(Mutex::new(w))
}

/// Run `f` as one event handler of the tab.
fn handler(world: &Arc<Mutex<World>>, f: impl FnOnce(&mut Tab, &TabView)) {
    let mut w = world.lock().unwrap();
    let w = &mut *w;
    f(&mut w.tab, &w.view);
    w.drain();
}

fn first_poll(world: &Arc<Mutex<World>>) -> u64 {
    let w = world.lock().unwrap();
    w.log
        .iter()
        .find_map(|o| match o {
            TabOutput::Send { req, .. } => Some(*req),
            _ => None,
        })
        .expect("a poll")
}

/// After the sign-out: no request but the logout call; every poll answered or aborted.
fn check(world: &Arc<Mutex<World>>, answered: &[u64]) {
    let w = world.lock().unwrap();
    let out = w
        .log
        .iter()
        .position(|o| matches!(o, TabOutput::SignedOut))
        .expect("the tab signed out");
    for o in &w.log[out..] {
        if let TabOutput::Send { request, .. } = o {
            assert_eq!(
                request.path, "/auth/logout",
                "a request after the logout: {:?}",
                w.log
            );
        }
    }
    for o in &w.log[..out] {
        if let TabOutput::Send { req, .. } = o {
            let aborted = w
                .log
                .iter()
                .any(|x| matches!(x, TabOutput::Abort { req: r } if r == req));
            assert!(
                aborted || answered.contains(req),
                "poll {req} left in flight: {:?}",
                w.log
            );
        }
    }
}

fn race(own_click: bool) {
    let world = setup();
    let poll = first_poll(&world);
    let answer = Response::new(
        200,
        Body::Events(Batch {
            events: vec![],
            last_event_id: 7,
            org_sequences: vec![],
            floor: 0,
        }),
    );
    let net = {
        let w = world.clone();
        loom::thread::spawn(move || {
            handler(&w, |t, v| {
                let input = TabInput::Response {
                    req: poll,
                    result: Ok(answer),
                };
                t.handle(SimTime(5_000), input, v)
            })
        })
    };
    let timer = {
        let w = world.clone();
        loom::thread::spawn(move || handler(&w, |t, v| t.handle_timeout(SimTime(5_001), v)))
    };
    if own_click {
        handler(&world, |t, v| t.handle(SimTime(5_000), TabInput::Logout, v));
    } else {
        let input = TabInput::Message {
            channel: "auth-control".to_string(),
            data: r#"{"logout":{"session":1}}"#.into(),
        };
        handler(&world, |t, v| t.handle(SimTime(5_000), input, v));
    }
    net.join().unwrap();
    timer.join().unwrap();
    check(&world, &[poll]);
}

#[test]
fn logout_broadcast_against_the_poll_answer() {
    assert!(explore("logout broadcast vs poll answer", BOUND, || race(false)) > 1);
}

#[test]
fn own_logout_click_against_the_poll_answer() {
    assert!(explore("logout click vs poll answer", BOUND, || race(true)) > 1);
}
