//! One shape for every state machine the simulator runs.
//!
//! The shape is quinn-proto's and str0m's: a machine never does I/O and never
//! reads a clock. Its host feeds it what happened (`handle`) and wakes it when
//! its timer is due (`handle_timeout`), both with the time; it answers with
//! outputs, drained in order (`poll_output`), and says when it next wants to
//! wake (`poll_timeout`). An effect on the world around it (a request, a
//! localStorage write, a broadcast, a lock request) is an output its host
//! carries out; what it may read of that world without changing it comes in
//! through `View` (`()` for a machine that reads nothing).
//!
//! A host drives a machine the same way everywhere (nodes under a driver, a
//! tab under its browser, a part under its tab, a loom model's thread): it
//! hands it inputs and carries its outputs out in the order they came. Where
//! an effect changes what the machine (or another) reads, the host carries it
//! out before anything reads again: a browser drains a tab before any other
//! tab runs. Outputs that change nothing read (a response, an observation)
//! may wait for the end of the host's step.

use crate::time::SimTime;

pub trait Machine {
    /// What reaches the machine from outside.
    type Input;
    /// What it asks its host to do or record.
    type Output;
    /// What it may read of its surroundings, but not change (it may borrow them).
    type View<'v>: ?Sized;

    fn handle(&mut self, now: SimTime, input: Self::Input, view: &Self::View<'_>);
    /// Its timer came due (or may have: a machine checks what is due itself).
    fn handle_timeout(&mut self, now: SimTime, view: &Self::View<'_>);
    fn poll_output(&mut self) -> Option<Self::Output>;
    /// When it next wants `handle_timeout`; `None` when nothing is pending.
    fn poll_timeout(&self) -> Option<SimTime>;
}
