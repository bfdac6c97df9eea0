//! The browser: its platform (SPEC B1-B5, `platform`) and the node a driver
//! moves (`node`): one login session of one org, with its tabs, and the ops
//! probe one browser may run (`probe`).

pub mod node;
pub mod platform;
pub mod probe;

pub use node::{BrowserConfig, BrowserInput, BrowserNode, BrowserOutput, TabAction, TabSel};
