//! Seeds: parsing, printing, and deriving one generator per machine.
//!
//! Everything random in a run comes from the run seed. Each machine gets its
//! own ChaCha stream derived from the seed and the machine's name, so adding a
//! tab does not shift the random choices of the server, and the same seed
//! gives the same choices on every platform (ChaCha is portable; `rand`'s
//! small and thread-local generators are not).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator every machine uses: a ChaCha8 stream, kept as its seed,
/// stream number and word position (64 bytes) instead of with ChaCha's
/// 256-byte block buffer, and brought back at that position for each draw.
/// Every tab has four, so the buffers were a tenth of a large run's memory;
/// the words drawn are exactly ChaCha8Rng's (`tests` below checks it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRng {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

impl SimRng {
    /// Move to another stream of the same seed, at the same word position (as `ChaCha8Rng::set_stream`).
    pub fn set_stream(&mut self, stream: u64) {
        self.stream = stream;
    }

    /// Run `f` on the generator at this position, and keep where it left off.
    ///
    /// Bringing ChaCha back at a position computes a 256-byte buffer, most
    /// of which one draw throws away (a tenth of a large run's driver time,
    /// issue 19). The generator last drawn from on this thread is kept, and
    /// used as it is when the next draw continues where it left off, as
    /// draws come in runs (a broadcast's delays to each tab): ChaCha8's words
    /// are a function of seed, stream and position alone, so which one
    /// serves a draw changes nothing drawn.
    fn draw<T>(&mut self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        LAST_DRAWN.with_borrow_mut(|last| {
            let rng = match last {
                Some(rng)
                    if rng.get_seed() == self.seed
                        && rng.get_stream() == self.stream
                        && rng.get_word_pos() == self.word_pos =>
                {
                    rng
                }
                _ => {
                    let mut rng = ChaCha8Rng::from_seed(self.seed);
                    rng.set_stream(self.stream);
                    rng.set_word_pos(self.word_pos);
                    last.insert(rng)
                }
            };
            let out = f(rng);
            self.word_pos = rng.get_word_pos();
            out
        })
    }
}

thread_local! {
    /// The generator of the last draw on this thread, at where it left off.
    static LAST_DRAWN: std::cell::RefCell<Option<ChaCha8Rng>> =
        const { std::cell::RefCell::new(None) };
}

impl RngCore for SimRng {
    fn next_u32(&mut self) -> u32 {
        self.draw(|r| r.next_u32())
    }
    fn next_u64(&mut self) -> u64 {
        self.draw(|r| r.next_u64())
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.draw(|r| r.fill_bytes(dest))
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.draw(|r| r.try_fill_bytes(dest))
    }
}

impl SeedableRng for SimRng {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        SimRng {
            seed,
            stream: 0,
            word_pos: 0,
        }
    }

    fn seed_from_u64(state: u64) -> Self {
        Self::from_seed(ChaCha8Rng::seed_from_u64(state).get_seed())
    }
}

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
        // One draw of the generator for the whole range, not one per word.
        rng.draw(|r| r.gen_range(lo_ms..=hi_ms))
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

    /// The compact generator draws exactly what ChaCha8Rng draws, through
    /// every kind of call, across buffer boundaries and stream switches.
    #[test]
    fn the_compact_generator_draws_what_chacha8_draws() {
        let mut ours = SimRng::seed_from_u64(99);
        let mut theirs = ChaCha8Rng::seed_from_u64(99);
        for i in 0..500u64 {
            match i % 6 {
                0 => assert_eq!(ours.next_u32(), theirs.next_u32(), "u32 at {i}"),
                1 => assert_eq!(ours.next_u64(), theirs.next_u64(), "u64 at {i}"),
                2 => {
                    let (mut a, mut b) = ([0u8; 13], [0u8; 13]);
                    ours.fill_bytes(&mut a);
                    theirs.fill_bytes(&mut b);
                    assert_eq!(a, b, "bytes at {i}");
                }
                3 => assert_eq!(
                    jitter_ms(&mut ours, 5, 5_000),
                    theirs.gen_range(5..=5_000u64),
                    "range at {i}"
                ),
                4 => assert_eq!(ours.gen::<u128>(), theirs.gen::<u128>(), "u128 at {i}"),
                _ => {
                    ours.set_stream(i);
                    theirs.set_stream(i);
                }
            }
        }
        // Generators drawn from in turn, runs of draws and single ones, a
        // clone among them: each draws its own words, whichever generator the
        // thread kept from the draw before.
        let mut ours = [
            SimRng::seed_from_u64(1),
            SimRng::seed_from_u64(2),
            SimRng::seed_from_u64(1),
        ];
        ours[2].set_stream(7);
        let mut theirs = [
            ChaCha8Rng::seed_from_u64(1),
            ChaCha8Rng::seed_from_u64(2),
            ChaCha8Rng::seed_from_u64(1),
        ];
        theirs[2].set_stream(7);
        for i in 0..600usize {
            let k = (i * 7 / 5 + i / 11) % 3;
            for _ in 0..1 + i % 4 {
                assert_eq!(
                    ours[k].next_u64(),
                    theirs[k].next_u64(),
                    "generator {k} at {i}"
                );
            }
            if i == 300 {
                let mut copy = ours[0].clone();
                let mut copied = theirs[0].clone();
                assert_eq!(copy.next_u32(), copied.next_u32(), "a clone");
                assert_eq!(ours[0].next_u32(), theirs[0].next_u32(), "its original");
            }
        }
        let mut fresh = SimRng::seed_from_u64(5);
        let mut chacha = ChaCha8Rng::seed_from_u64(5);
        fresh.set_stream(3);
        chacha.set_stream(3);
        assert_eq!(
            fresh.gen::<u64>(),
            chacha.gen::<u64>(),
            "a stream set before any draw"
        );
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
