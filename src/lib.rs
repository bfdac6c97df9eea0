//! rtsim: a deterministic simulation and verification harness for a browser
//! realtime pub/sub system (see `SPEC.md` for what is modelled and checked).
//!
//! The machines under `server`, `client` and `browser` are sans-IO and share
//! one shape, `machine::Machine`: time comes in as an argument, randomness
//! from a seeded ChaCha stream of their own, effects go out as values. The
//! drive-loop contract every host follows (a driver with its nodes, a browser
//! with its tabs, a tab with its parts, a loom model with a machine):
//!
//! 1. feed a machine its inputs with `handle(now, input, view)`;
//! 2. drain `poll_output()` until `None`, carrying each output out in order
//!    (requests and answers to their destination, browser effects to the
//!    platform, observations into the `History`) before anything reads what
//!    an output changes;
//! 3. call `handle_timeout(now, view)` when `poll_timeout()` comes due.
//!
//! `sim::turmoil_driver` is one such driver; `check` takes the history step
//! by step as it is recorded and decides the verdict; `run` ties a scenario, a seed and a mutant together;
//! `swarm` draws whole scenarios from a seed and `shrink` cuts a failing one
//! down to what it needs; `batch` runs sweeps and cross-checks, one `shard`
//! of them at a time, as the `results` records the command line prints.

pub mod baseline;
pub mod batch;
pub mod bench;
pub mod browser;
pub mod check;
pub mod client;
pub mod compare;
pub mod coverage;
pub mod crosscheck;
pub mod driver;
pub mod event;
pub mod faults;
pub mod frames;
pub mod http;
pub mod hunt;
pub mod leader_table;
pub mod log;
pub mod machine;
pub mod mutant;
pub mod mutex_table;
pub mod observation;
pub mod parallel;
pub mod params;
pub mod progress;
pub mod query;
pub mod recording;
pub mod results;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod server;
pub mod shard;
pub mod shrink;
pub mod sim;
pub mod swarm;
pub mod time;
pub mod topology;
pub mod trace;
pub mod view;
