//! The browser: its platform (SPEC B1-B5, `platform`) and the node a driver
//! moves (`node`): one login session of one org, with its tabs, and the ops
//! probe one browser may run (`probe`); the timing the platform follows, as
//! the SPEC stated it or as measured in a real browser (`profile`).

pub mod node;
pub mod platform;
pub mod probe;
pub mod profile;

pub use node::{BrowserConfig, BrowserInput, BrowserNode, BrowserOutput, TabAction, TabSel};
