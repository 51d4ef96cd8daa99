//! Shards: one of N parts of a stage's work, so N workers (a Slurm job array, a Kubernetes
//! Indexed Job, N local processes) share it without talking to each other.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count`, written `K/N` with K from 0 to N-1 (as Slurm array and
/// Kubernetes completion indices count).
///
/// A track belongs to the shard of its id's stable hash ([`Shard::owns_track`]): the same on
/// every machine and every run, whatever the order the dataset lists its tracks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    /// K, from 0.
    pub index: usize,
    /// N, at least 1.
    pub count: usize,
}

/// A `--shard` value that is not `K/N` with `0 <= K < N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shard `{given}`: {reason} (a shard is K/N, shard K of N, with K from 0 to N-1)")]
pub struct ShardError {
    /// The value given.
    pub given: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Shard {
    /// All the work: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`.
    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        let error = |reason| ShardError {
            given: format!("{index}/{count}"),
            reason,
        };
        match (index, count) {
            (_, 0) => Err(error("N must be at least 1")),
            (k, n) if k >= n => Err(error("K must be below N")),
            _ => Ok(Shard { index, count }),
        }
    }

    /// Every shard of `count`, in order.
    pub fn all(count: usize) -> impl Iterator<Item = Shard> {
        (0..count).map(move |index| Shard { index, count })
    }

    /// Whether the track `track_id` is this shard's: the 64-bit FNV-1a hash of its UTF-8
    /// bytes, modulo N, is K.
    pub fn owns_track(&self, track_id: &str) -> bool {
        self.of_hash(fnv1a(track_id.as_bytes()))
    }

    /// Whether the `position`-th item of a list every worker builds alike (the probe runs of
    /// the grid, in grid order) is this shard's: every N-th from K.
    pub fn owns_position(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    fn of_hash(&self, hash: u64) -> bool {
        // `count` fits in u64 on every platform Rust supports.
        hash % self.count as u64 == self.index as u64
    }

    /// `shard-K-of-N`: the shard in a file or folder name.
    pub fn slug(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }

    /// The shard a [`slug`](Self::slug) names.
    pub fn from_slug(slug: &str) -> Option<Shard> {
        let (k, n) = slug.strip_prefix("shard-")?.split_once("-of-")?;
        Shard::new(k.parse().ok()?, n.parse().ok()?).ok()
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, ShardError> {
        let error = |reason| ShardError {
            given: s.into(),
            reason,
        };
        let (k, n) = s.split_once('/').ok_or(error("no `/`"))?;
        let number = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| error("K and N are whole numbers"))
        };
        Shard::new(number(k)?, number(n)?).map_err(|e| error(e.reason))
    }
}

/// 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_k_of_n_and_names_what_is_wrong() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard { index: 2, count: 3 }));
        let reason = |s: &str| s.parse::<Shard>().unwrap_err().to_string();
        assert_eq!(
            reason("4/3"),
            "shard `4/3`: K must be below N (a shard is K/N, shard K of N, with K from 0 to N-1)"
        );
        assert!(
            reason("0/0").contains("N must be at least 1"),
            "{}",
            reason("0/0")
        );
        assert!(reason("x").contains("shard `x`: no `/`"));
        assert!(reason("a/2").contains("whole numbers"));
        assert!(reason("-1/2").contains("whole numbers"));
    }

    #[test]
    fn every_track_is_in_exactly_one_shard_and_the_split_is_even() {
        let ids: Vec<String> = (0..3000).map(|i| format!("track-{i:05}.wav")).collect();
        let mut sizes = [0usize; 3];
        for id in &ids {
            let owners: Vec<Shard> = Shard::all(3).filter(|s| s.owns_track(id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            sizes[owners[0].index] += 1;
        }
        // Within 10 % of 1000 each.
        assert!(sizes.iter().all(|s| s.abs_diff(1000) < 100), "{sizes:?}");
        assert!(Shard::WHOLE.owns_track("anything"));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn slugs_round_trip() {
        let s = Shard { index: 1, count: 4 };
        assert_eq!(s.slug(), "shard-1-of-4");
        assert_eq!(Shard::from_slug(&s.slug()), Some(s));
        assert_eq!(Shard::from_slug("shard-4-of-4"), None);
    }
}
