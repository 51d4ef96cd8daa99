//! CPython's `random.Random(seed).shuffle(list)` for a string seed, bit for bit: what a
//! published split made with Python's `random` module (HEAR's k folds) needs to be rebuilt.
//!
//! CPython (`Lib/random.py`, `Modules/_randommodule.c`) seeds a str `s` (version 2) with the
//! integer `int.from_bytes(s.encode() + sha512(s.encode()).digest(), "big")`, fed to MT19937's
//! `init_by_array` as 32-bit words, least significant first; `shuffle` walks `i` from
//! `len - 1` down to 1, swapping `x[i]` with `x[_randbelow(i + 1)]`, and `_randbelow(n)` draws
//! `getrandbits(n.bit_length())` until the value is below `n`.

use rand_mt::Mt;
use sha2::{Digest, Sha512};

/// A Mersenne Twister seeded as CPython seeds `random.Random(seed)` for a str `seed`.
pub(crate) struct PyRandom(Mt);

impl PyRandom {
    pub(crate) fn new(seed: &str) -> Self {
        let mut bytes = seed.as_bytes().to_vec();
        bytes.extend(Sha512::digest(seed.as_bytes()));
        // The big-endian integer's 32-bit words, least significant first; leading zero bytes
        // do not count (CPython sizes the key by the integer's bit length).
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let mut le: Vec<u8> = bytes[first..].iter().rev().copied().collect();
        le.resize(le.len().div_ceil(4).max(1) * 4, 0);
        let key: Vec<u32> = le
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        Self(Mt::new_with_key(key))
    }

    /// `getrandbits(k)` for `k` of 1 to 32.
    fn bits(&mut self, k: u32) -> u32 {
        self.0.next_u32() >> (32 - k)
    }

    /// `_randbelow(n)`, for `n` of at least 1.
    fn below(&mut self, n: usize) -> usize {
        let n = u32::try_from(n).expect("a shuffled list shorter than 2^32");
        let k = 32 - n.leading_zeros();
        loop {
            let r = self.bits(k);
            if r < n {
                return r as usize;
            }
        }
    }

    /// `shuffle(items)`.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPython 3.11.7: `r = random.Random("split_k_folds"); [r.getrandbits(32) for _ in range(5)]`.
    #[test]
    fn the_stream_is_cpythons() {
        let mut r = PyRandom::new("split_k_folds");
        let drawn: Vec<u32> = (0..5).map(|_| r.bits(32)).collect();
        assert_eq!(
            drawn,
            [2878942904, 2840008276, 3725500164, 80767787, 2299832294]
        );
    }

    fn shuffled(seed: &str, n: u32) -> Vec<u32> {
        let mut x: Vec<u32> = (0..n).collect();
        PyRandom::new(seed).shuffle(&mut x);
        x
    }

    /// CPython 3.11.7: `x = list(range(n)); random.Random(seed).shuffle(x)`.
    #[test]
    fn shuffles_are_cpythons() {
        assert_eq!(shuffled("abc", 10), [4, 3, 0, 9, 1, 2, 6, 5, 7, 8]);
        assert_eq!(shuffled("", 10), [4, 0, 8, 2, 1, 5, 9, 6, 3, 7]);
        let x = shuffled("split_k_folds_retry_7", 300);
        assert_eq!(x[..8], [271, 93, 203, 293, 19, 28, 131, 42]);
        assert_eq!(x[296..], [136, 79, 43, 145]);
    }
}
