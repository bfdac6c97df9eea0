//! Seeds: parsing, printing, and deriving one generator per machine.
//!
//! Everything random in a run comes from the run seed. Each machine gets its
//! own ChaCha stream derived from the seed and the machine's name, so adding a
//! tab does not shift the random choices of the server, and the same seed
//! gives the same choices on every platform (ChaCha is portable; `rand`'s
//! small and thread-local generators are not).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator every machine uses.
pub type SimRng = ChaCha8Rng;

/// Parse a seed from decimal (`42`) or hexadecimal (`0x2a`).
pub fn parse_seed(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16)
    } else {
        t.parse::<u64>()
    };
    parsed.map_err(|_| {
        format!("invalid seed {text:?}: expected a decimal or 0x-hex integer that fits in 64 bits")
    })
}

/// A generator for the machine called `name` in the run seeded with `seed`.
pub fn rng_for(seed: u64, name: &str) -> SimRng {
    // xxh3 is a fixed, portable function, so the derived stream is the same on every machine.
    let salt = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    SimRng::seed_from_u64(seed ^ salt.rotate_left(17))
}

/// A jittered duration uniformly in `[lo_ms, hi_ms]`.
pub fn jitter_ms(rng: &mut SimRng, lo_ms: u64, hi_ms: u64) -> u64 {
    if hi_ms <= lo_ms {
        lo_ms
    } else {
        rng.gen_range(lo_ms..=hi_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_from_decimal_and_hex() {
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed("0x2a"), Ok(42));
        assert_eq!(parse_seed("0X2A"), Ok(42));
        assert!(parse_seed("forty-two").is_err());
        assert!(parse_seed("0x").is_err());
        assert!(parse_seed("18446744073709551616").is_err());
    }

    #[test]
    fn derived_streams_differ_by_name_and_repeat_by_seed() {
        let a: u64 = rng_for(7, "server").gen();
        let b: u64 = rng_for(7, "server").gen();
        let c: u64 = rng_for(7, "org0/browser0/tab0").gen();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
