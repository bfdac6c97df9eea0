//! The browser: its platform (SPEC B1-B5, `platform`) and the node a driver
//! moves (`node`): one login session of one org, with its tabs.

pub mod node;
pub mod platform;

pub use node::{BrowserConfig, BrowserInput, BrowserNode, BrowserOutput, TabAction, TabSel};
