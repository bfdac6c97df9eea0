//! C13: the rollout flags a page reads at load.
//!
//! Shadow mode runs the transport and applies nothing (events go to a
//! diagnostics stream only); the master switch, the rollout percentage (a
//! stable hash of the org, so an org is in or out on every machine and every
//! load) and the per-org kill list decide who gets realtime at all. A page
//! without realtime keeps its lists fresh the old way: degraded polling (C11).

use crate::event::OrgId;
use xxhash_rust::xxh3::xxh3_64;

#[derive(Clone, Debug, PartialEq)]
pub struct Flags {
    pub master: bool,
    pub shadow: bool,
    /// 0, 5, 25 or 100 in the seeds' plan; any percentage works.
    pub rollout_pct: u32,
    /// REALTIME_DISABLED_ORGS.
    pub disabled_orgs: Vec<OrgId>,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            master: true,
            shadow: false,
            rollout_pct: 100,
            disabled_orgs: Vec::new(),
        }
    }
}

/// What realtime does for a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Realtime {
    /// Transport on, events patch the UI.
    Live,
    /// Transport on, nothing reaches the UI.
    Shadow,
    /// No transport at all.
    Off,
}

impl Flags {
    pub fn realtime_for(&self, org: OrgId) -> Realtime {
        if self.disabled_orgs.contains(&org) {
            Realtime::Off
        } else if self.shadow {
            Realtime::Shadow
        } else if self.master && rollout_bucket(org) < self.rollout_pct {
            Realtime::Live
        } else {
            Realtime::Off
        }
    }
}

/// The org's place in the rollout, 0..100, the same on every machine.
pub fn rollout_bucket(org: OrgId) -> u32 {
    (xxh3_64(&org.to_le_bytes()) % 100) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_is_stable_and_proportionate() {
        let flags = |pct| Flags {
            rollout_pct: pct,
            ..Flags::default()
        };
        let live = |pct| {
            (0..10_000)
                .filter(|o| flags(pct).realtime_for(*o) == Realtime::Live)
                .count()
        };
        assert_eq!(live(0), 0);
        assert_eq!(live(100), 10_000);
        let five = live(5);
        assert!((400..600).contains(&five), "5% of 10,000 orgs, got {five}");
        // An org in at 5% stays in at 25% (the buckets do not move).
        assert!((0..10_000)
            .filter(|o| flags(5).realtime_for(*o) == Realtime::Live)
            .all(|o| flags(25).realtime_for(o) == Realtime::Live));
    }

    #[test]
    fn the_kill_list_beats_everything_and_shadow_beats_the_master_switch() {
        let f = Flags {
            master: false,
            shadow: true,
            rollout_pct: 0,
            disabled_orgs: vec![3],
        };
        assert_eq!(f.realtime_for(3), Realtime::Off);
        assert_eq!(f.realtime_for(4), Realtime::Shadow);
        let off = Flags {
            master: false,
            ..Flags::default()
        };
        assert_eq!(off.realtime_for(4), Realtime::Off);
    }
}
