//! Drivers: they move the nodes' messages and time, and apply the nemesis.

pub mod nemesis;
pub mod turmoil_driver;
pub mod wire;
