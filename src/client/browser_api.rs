//! The browser APIs a tab's machines use (SPEC B1-B3): what they read of them
//! through `BrowserView`, and what they ask of them as an `Effect` their host
//! carries out. A tab sees its own writes once its host has carried them out,
//! which it does before the tab runs again (see `crate::machine`).

/// What a tab may read of its browser without changing it.
pub trait BrowserView {
    /// `localStorage.getItem(key)`, as this tab sees storage now.
    fn storage_get(&self, key: &str) -> Option<String>;
    /// Whether the tab has a channel to the others (a BroadcastChannel, or the L6 mailbox).
    fn broadcast_enabled(&self) -> bool;
    /// Whether `navigator.locks` would take a request from this tab now.
    fn locks_available(&self) -> bool;
    /// B4: the page is frozen and runs only its channel handler: none of
    /// its timers, so no work that was due before this input.
    fn frozen(&self) -> bool {
        false
    }
}

/// What a tab asks its browser to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// `localStorage.setItem(key, value)`, or `removeItem` for `None`.
    StorageSet { key: String, value: Option<String> },
    /// `postMessage` on the named channel (or its L6 fallback).
    Broadcast { channel: String, data: String },
    /// `navigator.locks.request(name)`: the grant comes back as an input.
    LockRequest { name: String },
    /// Release `name`, or withdraw a request for it not yet granted.
    LockRelease { name: String },
}
