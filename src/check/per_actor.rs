//! What a checker keeps per tab or browser, found in constant time.
//!
//! The checkers look a tab up at nearly every step. In a `BTreeMap` that is a
//! walk of about log2(tabs) comparisons over nodes scattered through memory,
//! so each lookup costs more the larger the run (issue 19): at 50,000 tabs
//! five levels of misses. Here a hash index finds it in one probe.
//!
//! The table is never walked in its own order, so its layout cannot reach a
//! verdict: the only walk, `sorted`, goes in `Actor`'s order, the order the
//! `BTreeMap`s this replaces walked in.

use crate::observation::Actor;
use rustc_hash::FxHashMap; // determinism-ok: only probed by key; `sorted` walks in actor order
use std::collections::hash_map::Entry;

/// A map from actor to `V` with constant-time lookup and a walk in actor order.
pub struct PerActor<V> {
    /// Where each actor's entry is in `entries`. The entries stay out of the
    /// table, which keeps its slack (a power of two) a few bytes an entry.
    index: FxHashMap<Actor, u32>, // determinism-ok: probed by key, never walked
    entries: Vec<(Actor, V)>,
}

impl<V> Default for PerActor<V> {
    fn default() -> Self {
        PerActor {
            index: FxHashMap::default(), // determinism-ok: probed by key, never walked
            entries: Vec::new(),
        }
    }
}

impl<V> PerActor<V> {
    pub fn get(&self, actor: &Actor) -> Option<&V> {
        let &i = self.index.get(actor)?;
        Some(&self.entries[i as usize].1)
    }

    pub fn get_mut(&mut self, actor: &Actor) -> Option<&mut V> {
        let &i = self.index.get(actor)?;
        Some(&mut self.entries[i as usize].1)
    }

    pub fn contains_key(&self, actor: &Actor) -> bool {
        self.index.contains_key(actor)
    }

    /// The actor's entry, made by `make` if it has none.
    pub fn or_insert_with(&mut self, actor: Actor, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.entry(actor) {
            Entry::Occupied(at) => *at.get() as usize,
            Entry::Vacant(slot) => {
                let i = self.entries.len();
                slot.insert(u32::try_from(i).expect("fewer than 2^32 actors"));
                self.entries.push((actor, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Set the actor's entry; the one it replaces, if any.
    pub fn insert(&mut self, actor: Actor, value: V) -> Option<V> {
        match self.get_mut(&actor) {
            Some(old) => Some(std::mem::replace(old, value)),
            None => {
                self.or_insert_with(actor, || value);
                None
            }
        }
    }

    /// Take the actor's entry out, if it has one.
    pub fn remove(&mut self, actor: &Actor) -> Option<V> {
        let i = self.index.remove(actor)? as usize;
        let (_, value) = self.entries.swap_remove(i);
        if let Some((moved, _)) = self.entries.get(i) {
            self.index.insert(*moved, i as u32);
        }
        Some(value)
    }

    /// Every entry, in actor order: the only walk there is, so the table's
    /// layout never reaches a verdict.
    pub fn sorted(&self) -> Vec<(&Actor, &V)> {
        let mut all: Vec<_> = self.entries.iter().map(|(a, v)| (a, v)).collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }
}

impl<V: Default> PerActor<V> {
    /// The actor's entry, a default one if it has none.
    pub fn or_default(&mut self, actor: Actor) -> &mut V {
        self.or_insert_with(actor, V::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Any sequence of inserts and removals leaves the same entries, walked in
    /// the same order, as a `BTreeMap` given the same sequence.
    #[test]
    fn agrees_with_a_btree_map() {
        let mut ours = PerActor::default();
        let mut theirs = BTreeMap::new();
        let mut x: u64 = 7;
        for step in 0..20_000u32 {
            // A small LCG: the test needs a varied sequence, not a good one.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = Actor {
                org: (x >> 33) as u32 % 13,
                browser: (x >> 40) as u32 % 4,
                tab: ((x >> 50) % 3 != 0).then_some((x >> 20) as u32 % 12),
            };
            if x % 3 == 0 {
                assert_eq!(ours.remove(&a), theirs.remove(&a), "step {step}");
            } else {
                assert_eq!(ours.insert(a, step), theirs.insert(a, step), "step {step}");
            }
            assert_eq!(ours.get(&a), theirs.get(&a));
            assert_eq!(ours.entries.len(), theirs.len());
        }
        let walked: Vec<_> = ours.sorted().into_iter().map(|(a, v)| (*a, *v)).collect();
        let expected: Vec<_> = theirs.into_iter().collect();
        assert_eq!(walked, expected);
    }
}
