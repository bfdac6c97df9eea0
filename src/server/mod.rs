//! The server (SPEC S1-S10), sans-IO.
//!
//! `ServerNode` owns the store, the pub/sub hop, the buffers and the token
//! service, and drives the workload of domain writes. A driver hands it
//! requests on connections and moves its answers back.

pub mod buffer;
pub mod node;
pub mod pubsub;
pub mod store;
pub mod stream;
pub mod tokens;

pub use node::{Held, ServerConfig, ServerInput, ServerNode, ServerOutput};
