//! The browser client (SPEC C1-C14, U1-U4), sans-IO: one provider and cache per tab.

pub mod auth;
pub mod breaker;
pub mod browser_api;
pub mod cache;
pub mod calls;
pub mod dedup;
pub mod derived;
pub mod leader;
pub mod provider;
pub mod query_cache;
pub mod stream;

pub use provider::{NetError, ProviderConfig, Tab, TabId, TabInput, TabOutput, Transport};
pub mod flags;
pub mod writes;
