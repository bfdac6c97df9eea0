//! Splitting a batch across machines: `--shard K/N` keeps the K-th of N
//! disjoint slices of a command's work list (every scenario x seed of a
//! sweep or a cross-check, every seed of a swarm), so N machines together
//! run each item exactly once. Items are dealt round-robin, so slow
//! scenarios spread over the shards instead of landing on one.
//!
//! `--shard N` alone takes K from `JOB_COMPLETION_INDEX` (0-based), which a
//! Kubernetes Indexed Job sets in each of its pods. `rtsim merge` joins the
//! shards' `--format json` outputs into the table one machine would print.

use std::fmt;

/// The K-th (1-based) of N slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u64,
    pub n: u64,
}

impl Shard {
    /// The whole work list: one shard of one.
    pub const ALL: Shard = Shard { k: 1, n: 1 };

    /// `K/N`, or `N` with K from `JOB_COMPLETION_INDEX`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let number = |t: &str, what: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} {t:?} in --shard {text:?} is not a whole number"))
        };
        let (k, n) = match text.split_once('/') {
            Some((k, n)) => (number(k, "K")?, number(n, "N")?),
            None => {
                let n = number(text, "N")?;
                let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                    format!("--shard {text:?} has no K, and JOB_COMPLETION_INDEX is not set")
                })?;
                let index = index
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("JOB_COMPLETION_INDEX {index:?} is not a whole number"))?;
                (index + 1, n)
            }
        };
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "--shard {text:?}: K must be 1..=N and N at least 1 (K {k}, N {n})"
            ));
        }
        Ok(Shard { k, n })
    }

    /// Whether item `i` of the work list is this shard's.
    pub fn keeps(self, i: usize) -> bool {
        i as u64 % self.n == self.k - 1
    }

    /// This shard's items of `work`, in order.
    pub fn slice<T: Clone>(self, work: &[T]) -> Vec<T> {
        work.iter()
            .enumerate()
            .filter(|(i, _)| self.keeps(*i))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_are_disjoint_and_cover_the_work() {
        let work: Vec<usize> = (0..103).collect();
        let mut seen: Vec<usize> = (1..=4)
            .flat_map(|k| Shard { k, n: 4 }.slice(&work))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, work);
        assert_eq!(Shard::parse("2/4"), Ok(Shard { k: 2, n: 4 }));
        for bad in ["0/4", "5/4", "x/4", "1/0", "1/"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }
}
