//! `BrowserNode`: one browser (one login session of one org) and its tabs.
//!
//! The node logs the session in (S9), hands the token to every tab, and
//! routes each tab's requests out and their answers back. A driver moves its
//! requests to the server and feeds answers and time back in; nothing here
//! knows how. The platform model tabs share (storage, channels, locks,
//! lifecycle; SPEC B1-B5) arrives with leader election.

use crate::check::history::{Observation, Outcome, RequestKind};
use crate::client::{NetError, ProviderConfig, Tab, TabId, TabOutput};
use crate::event::{OrgId, PropertyId};
use crate::http::{Body, Method, Request, Response, Route};
use crate::mutant::Mutant;
use crate::seed::rng_for;
use crate::time::{earliest, SimTime};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct BrowserConfig {
    pub org: OrgId,
    pub browser: u32,
    pub tabs: u32,
    /// The property every tab of this browser filters to, if any.
    pub property: Option<PropertyId>,
    pub login_timeout_ms: u64,
    pub login_retry_ms: u64,
    pub provider: ProviderConfig,
}

#[derive(Clone, Debug, PartialEq)]
pub enum BrowserInput {
    Response {
        req: u64,
        result: Result<Response, NetError>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum BrowserOutput {
    /// Send `request` to the server; `req` is unique within the browser.
    Send {
        req: u64,
        request: Request,
    },
    Abort {
        req: u64,
    },
    Observe(Observation),
}

/// Who inside the browser is waiting for an answer.
#[derive(Clone, Copy, Debug)]
enum Requester {
    Session,
    Tab { index: usize, req: u64 },
}

pub struct BrowserNode {
    config: BrowserConfig,
    name: String,
    tabs: Vec<Tab>,
    token: Option<String>,
    login: Option<(u64, SimTime)>,
    next_login_at: Option<SimTime>,
    next_req: u64,
    in_flight: BTreeMap<u64, Requester>,
    /// Browser-level request id for each (tab, tab-local request id).
    tab_reqs: BTreeMap<(usize, u64), u64>,
    out: VecDeque<BrowserOutput>,
}

impl BrowserNode {
    pub fn new(config: BrowserConfig, seed: u64, mutant: Option<Mutant>) -> Self {
        let tabs = (0..config.tabs)
            .map(|k| {
                let id = TabId {
                    org: config.org,
                    browser: config.browser,
                    tab: k,
                };
                let rng = rng_for(seed, &id.to_string());
                Tab::new(id, config.property, config.provider.clone(), rng, mutant)
            })
            .collect();
        BrowserNode {
            name: format!("org{}/browser{}", config.org, config.browser),
            tabs,
            token: None,
            login: None,
            next_login_at: Some(SimTime::ZERO),
            next_req: 0,
            in_flight: BTreeMap::new(),
            tab_reqs: BTreeMap::new(),
            out: VecDeque::new(),
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tabs(&self) -> &[Tab] {
        &self.tabs
    }

    fn alloc(&mut self, who: Requester) -> u64 {
        self.next_req += 1;
        self.in_flight.insert(self.next_req, who);
        self.next_req
    }

    pub fn handle(&mut self, now: SimTime, input: BrowserInput) {
        let BrowserInput::Response { req, result } = input;
        match self.in_flight.remove(&req) {
            Some(Requester::Session) => self.on_login(now, req, result),
            Some(Requester::Tab { index, req: local }) => {
                self.tab_reqs.remove(&(index, local));
                self.tabs[index].on_response(now, local, result);
            }
            None => {} // aborted earlier; a late answer has no one to go to
        }
        self.handle_timeout(now);
    }

    fn on_login(&mut self, now: SimTime, req: u64, result: Result<Response, NetError>) {
        self.login = None;
        let outcome = match &result {
            Ok(r) => Outcome::Status(r.status),
            Err(_) => Outcome::NetError,
        };
        self.out
            .push_back(BrowserOutput::Observe(Observation::Response {
                tab: self.name.clone(),
                req,
                outcome,
                events: 0,
            }));
        match result {
            Ok(Response {
                status: 200,
                body: Body::Token { token, .. },
            }) => {
                self.token = Some(token.clone());
                for tab in &mut self.tabs {
                    tab.set_token(now, token.clone());
                }
            }
            _ => self.next_login_at = Some(now + self.config.login_retry_ms),
        }
    }

    pub fn handle_timeout(&mut self, now: SimTime) {
        if let Some((req, deadline)) = self.login {
            if deadline <= now {
                self.in_flight.remove(&req);
                self.out.push_back(BrowserOutput::Abort { req });
                self.login = None;
                self.next_login_at = Some(now + self.config.login_retry_ms);
            }
        }
        if self.token.is_none()
            && self.login.is_none()
            && self.next_login_at.is_some_and(|t| t <= now)
        {
            self.next_login_at = None;
            let req = self.alloc(Requester::Session);
            let path = Route::Login.to_path();
            self.out
                .push_back(BrowserOutput::Observe(Observation::Request {
                    tab: self.name.clone(),
                    req,
                    what: RequestKind::Login,
                    path: path.clone(),
                    bearer: false,
                }));
            let body = Body::Login {
                org_id: self.config.org,
                user_id: self.config.browser,
            };
            self.out.push_back(BrowserOutput::Send {
                req,
                request: Request {
                    method: Method::Post,
                    path,
                    bearer: None,
                    body,
                },
            });
            self.login = Some((req, now + self.config.login_timeout_ms));
        }
        for index in 0..self.tabs.len() {
            self.tabs[index].handle_timeout(now);
            self.drain_tab(index);
        }
    }

    fn drain_tab(&mut self, index: usize) {
        while let Some(o) = self.tabs[index].poll_output() {
            let out = match o {
                TabOutput::Send { req, request } => {
                    let id = self.alloc(Requester::Tab { index, req });
                    self.tab_reqs.insert((index, req), id);
                    BrowserOutput::Send { req: id, request }
                }
                TabOutput::Abort { req } => match self.tab_reqs.remove(&(index, req)) {
                    Some(id) => {
                        self.in_flight.remove(&id);
                        BrowserOutput::Abort { req: id }
                    }
                    None => continue,
                },
                TabOutput::Observe(obs) => BrowserOutput::Observe(obs),
            };
            self.out.push_back(out);
        }
    }

    pub fn poll_timeout(&self) -> Option<SimTime> {
        let login = match (self.login, self.token.is_some()) {
            (Some((_, deadline)), _) => Some(deadline),
            (None, false) => self.next_login_at,
            (None, true) => None,
        };
        self.tabs
            .iter()
            .map(Tab::poll_timeout)
            .fold(login, earliest)
    }

    pub fn poll_output(&mut self) -> Option<BrowserOutput> {
        self.out.pop_front()
    }
}
