//! Seeded, stratified train/validation/test splits.

use std::collections::BTreeMap;

use mir_table::Split;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a dataset without an official split is split: fractions (the test split takes the
/// rest), or, with `folds`, stratified k-fold with one fold held out for testing and the next
/// for validation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Fraction of each stratum used for training.
    #[serde(default = "default_train")]
    pub train: f64,
    /// Fraction of each stratum used for validation.
    #[serde(default = "default_validation")]
    pub validation: f64,
    /// Stratified k-fold instead of fractions: the number of folds (each track's fold is
    /// written to the `fold` column).
    #[serde(default)]
    pub folds: Option<u32>,
    /// With `folds`: the fold held out for testing (the next one is validation).
    #[serde(default)]
    pub test_fold: u32,
}

fn default_train() -> f64 {
    0.6
}
fn default_validation() -> f64 {
    0.2
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            train: default_train(),
            validation: default_validation(),
            folds: None,
            test_fold: 0,
        }
    }
}

/// A stable 64-bit hash of `(seed, dataset, track_id)`, the same on every machine.
pub fn track_hash(seed: u64, dataset: &str, track_id: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update((dataset.len() as u64).to_le_bytes());
    h.update(dataset.as_bytes());
    h.update(track_id.as_bytes());
    let digest = h.finalize();
    u64::from_le_bytes(
        digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes"),
    )
}

/// Assigns a [`Split`] to each `(track_id, stratum)`.
///
/// Within each stratum (a class label), tracks are ordered by [`track_hash`] and the first
/// `train` fraction goes to training, the next `validation` fraction to validation, the rest to
/// test (rounding so each of the three gets at least one track when the stratum has three).
/// The result depends only on the seed, the dataset name and the set of tracks, never on their
/// order or on the machine.
pub fn stratified(
    seed: u64,
    dataset: &str,
    items: &[(String, String)],
    config: &SplitConfig,
) -> Vec<Split> {
    let mut strata: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, stratum)) in items.iter().enumerate() {
        strata.entry(stratum.as_str()).or_default().push(i);
    }
    let mut out = vec![Split::Train; items.len()];
    for members in strata.values_mut() {
        members.sort_by_key(|&i| (track_hash(seed, dataset, &items[i].0), items[i].0.clone()));
        let n = members.len();
        let (n_train, n_val) = counts(n, config);
        for (rank, &i) in members.iter().enumerate() {
            out[i] = if rank < n_train {
                Split::Train
            } else if rank < n_train + n_val {
                Split::Validation
            } else {
                Split::Test
            };
        }
    }
    out
}

/// The split (and fold, under k-fold) of each `(track_id, stratum)` as `config` asks:
/// [`stratified`] fractions, or [`kfold`] with [`fold_split`].
pub fn assign(
    seed: u64,
    dataset: &str,
    items: &[(String, String)],
    config: &SplitConfig,
) -> Vec<(Split, Option<u32>)> {
    match config.folds {
        Some(k) => {
            let k = k.max(2);
            let test = config.test_fold % k;
            kfold(seed, dataset, items, k)
                .into_iter()
                .map(|f| (fold_split(f, test, (test + 1) % k), Some(f)))
                .collect()
        }
        None => stratified(seed, dataset, items, config)
            .into_iter()
            .map(|s| (s, None))
            .collect(),
    }
}

/// Stratified k-fold assignment: within each stratum, tracks ordered by [`track_hash`] are dealt
/// to folds `0..k` in turn, so every fold holds about `1/k` of each class. Like
/// [`stratified`], a pure function of (seed, dataset, track set).
pub fn kfold(seed: u64, dataset: &str, items: &[(String, String)], k: u32) -> Vec<u32> {
    let k = k.max(1);
    let mut strata: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, stratum)) in items.iter().enumerate() {
        strata.entry(stratum.as_str()).or_default().push(i);
    }
    let mut out = vec![0; items.len()];
    // Continue the deal across strata so small classes do not all start at fold 0.
    let mut next = 0u32;
    for members in strata.values_mut() {
        members.sort_by_key(|&i| (track_hash(seed, dataset, &items[i].0), items[i].0.clone()));
        for &i in members.iter() {
            out[i] = next % k;
            next += 1;
        }
    }
    out
}

/// The split of a track in fold `fold` when `test_fold` is held out for testing and
/// `validation_fold` for validation.
pub fn fold_split(fold: u32, test_fold: u32, validation_fold: u32) -> Split {
    if fold == test_fold {
        Split::Test
    } else if fold == validation_fold {
        Split::Validation
    } else {
        Split::Train
    }
}

/// Splits by group (a singer, an artist): every group lands whole in one split. Groups in
/// `test` are the test split; of the others, the `validation` fraction (at least one when there
/// are two or more) ordered by [`track_hash`] of the group name is validation, the rest train.
pub fn by_group(
    seed: u64,
    dataset: &str,
    groups: &[String],
    test: &[String],
    validation: f64,
) -> Vec<Split> {
    let mut others: Vec<&String> = groups
        .iter()
        .filter(|g| !test.contains(g))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    others.sort_by_key(|g| (track_hash(seed, dataset, g), (*g).clone()));
    let mut n_val = (validation * others.len() as f64).round() as usize;
    if others.len() >= 2 {
        n_val = n_val.clamp(1, others.len() - 1);
    }
    let val: Vec<&String> = others.into_iter().take(n_val).collect();
    groups
        .iter()
        .map(|g| {
            if test.contains(g) {
                Split::Test
            } else if val.contains(&g) {
                Split::Validation
            } else {
                Split::Train
            }
        })
        .collect()
}

/// HEAR's k folds (`hearpreprocess` `pipeline.py`, `split_k_folds`): the sorted distinct keys
/// are shuffled by CPython's `random.Random(seed)` and cut into `k` nearly equal runs, the
/// longer ones first (`np.array_split`); the seed is `"split_k_folds"`, then
/// `"split_k_folds_retry_0"`, `_1`, ... up to 999 retries, until every fold holds every label.
/// `items` are `(key, label)`; returns each item's fold, or `None` when no seed gives every
/// fold every label.
pub fn hear_kfold(items: &[(String, String)], k: u32) -> Option<Vec<u32>> {
    let k = k.max(1) as usize;
    let keys: Vec<&str> = items
        .iter()
        .map(|(key, _)| key.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = items
        .iter()
        .map(|(_, l)| l)
        .collect::<std::collections::BTreeSet<_>>();
    let seeds = std::iter::once("split_k_folds".to_string())
        .chain((0..999).map(|i| format!("split_k_folds_retry_{i}")));
    for seed in seeds {
        let mut shuffled = keys.clone();
        crate::pyrandom::PyRandom::new(&seed).shuffle(&mut shuffled);
        let (base, longer) = (shuffled.len() / k, shuffled.len() % k);
        let mut fold_of = BTreeMap::new();
        let mut start = 0;
        for fold in 0..k {
            let len = base + usize::from(fold < longer);
            for key in &shuffled[start..start + len] {
                fold_of.insert(*key, fold as u32);
            }
            start += len;
        }
        let folds: Vec<u32> = items.iter().map(|(key, _)| fold_of[key.as_str()]).collect();
        let complete = (0..k as u32).all(|f| {
            let held = items.iter().zip(&folds).filter(|(_, g)| **g == f);
            held.map(|((_, l), _)| l)
                .collect::<std::collections::BTreeSet<_>>()
                == labels
        });
        if complete {
            return Some(folds);
        }
    }
    None
}

/// At most `n` tracks of each split of `task`, the same on every machine, keeping every label
/// of the split where `n` allows: first, label by label (in vocabulary order), the track of
/// that label with the smallest [`track_hash`] not yet kept; then the smallest hashes. The
/// tracks left out are counted in `task.left_out`. Labels no kept track has (when a split has
/// more labels than `n`) are what the count cannot keep.
pub fn max_tracks(task: &mut crate::TaskTracks, n: usize, seed: u64, dataset: &str) {
    let mut keep = vec![false; task.tracks.len()];
    for split in [Split::Train, Split::Validation, Split::Test] {
        let mut members: Vec<usize> = (0..task.tracks.len())
            .filter(|&i| task.tracks[i].split == split)
            .collect();
        let hash = |i: &usize| track_hash(seed, dataset, &task.tracks[*i].track_id);
        members.sort_by_key(|i| (hash(i), task.tracks[*i].track_id.clone()));
        let mut kept = 0;
        for label in &task.vocabulary {
            if kept == n {
                break;
            }
            let has = |i: &&usize| !keep[**i] && task.tracks[**i].labels.contains(label);
            let covered = members
                .iter()
                .any(|&i| keep[i] && task.tracks[i].labels.contains(label));
            if let (false, Some(&i)) = (covered, members.iter().find(has)) {
                keep[i] = true;
                kept += 1;
            }
        }
        for &i in &members {
            if kept < n && !keep[i] {
                keep[i] = true;
                kept += 1;
            }
        }
    }
    let before = task.tracks.len();
    let mut flags = keep.into_iter();
    task.tracks.retain(|_| flags.next().unwrap_or(false));
    if task.tracks.len() < before {
        let why = format!("beyond max_tracks {n} per split");
        *task.left_out.entry(why).or_default() += before - task.tracks.len();
    }
}

fn counts(n: usize, config: &SplitConfig) -> (usize, usize) {
    let mut n_train = (config.train * n as f64).round() as usize;
    let mut n_val = (config.validation * n as f64).round() as usize;
    if n >= 3 {
        n_train = n_train.clamp(1, n - 2);
        n_val = n_val.clamp(1, n - 1 - n_train);
    } else {
        n_train = n_train.min(n);
        n_val = n_val.min(n - n_train);
    }
    (n_train, n_val)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize, classes: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| (format!("track{i}"), format!("c{}", i % classes)))
            .collect()
    }

    /// Reference: hearpreprocess's `split_k_folds` loop run in CPython 3.11.7 with numpy 2.4.6
    /// (`random.Random(seed).shuffle`, `np.array_split`, the same seed list).
    #[test]
    fn hear_kfold_is_hearpreprocesss() {
        let genres = crate::gtzan::GENRES;
        let gtzan: Vec<(String, String)> = genres
            .iter()
            .flat_map(|g| (0..100).map(move |i| (format!("{g}.{i:05}"), g.to_string())))
            .collect();
        let folds = hear_kfold(&gtzan, 10).unwrap();
        let fold_of = |key: &str| folds[gtzan.iter().position(|(k, _)| k == key).unwrap()];
        let named = [
            "blues.00000",
            "classical.00042",
            "jazz.00054",
            "metal.00058",
        ];
        let named = named.map(fold_of);
        assert_eq!(named, [0, 8, 1, 4]);
        assert_eq!([fold_of("rock.00016"), fold_of("reggae.00099")], [2, 5]);
        let fold3: Vec<&str> = gtzan
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f == 3)
            .map(|((k, _), _)| k.as_str())
            .collect();
        assert_eq!(fold3.len(), 100);
        assert_eq!(
            fold3[..4],
            ["blues.00004", "blues.00012", "blues.00022", "blues.00024"]
        );
        // 14 keys, 3 labels, 4 folds: seed "split_k_folds_retry_51" is the first to give every
        // fold every label.
        let small: Vec<(String, String)> = (0..14)
            .map(|i| (format!("k{i:02}"), format!("l{}", i % 3)))
            .collect();
        let want = [3, 0, 0, 0, 1, 2, 1, 2, 3, 2, 3, 1, 1, 0];
        assert_eq!(hear_kfold(&small, 4).unwrap(), want);
        // 4 keys cannot give 4 folds 2 labels each.
        let tiny: Vec<(String, String)> = (0..4)
            .map(|i| (format!("k{i}"), format!("l{}", i % 2)))
            .collect();
        assert_eq!(hear_kfold(&tiny, 4), None);
    }

    #[test]
    fn kfold_balances_classes_and_groups_stay_whole() {
        let it = items(100, 4);
        let folds = kfold(3, "d", &it, 5);
        for f in 0..5 {
            for c in 0..4 {
                let n = (0..100)
                    .filter(|&i| folds[i] == f && it[i].1 == format!("c{c}"))
                    .count();
                assert!((4..=6).contains(&n), "fold {f} class {c}: {n}");
            }
        }
        let groups: Vec<String> = (0..60).map(|i| format!("g{}", i % 12)).collect();
        let splits = by_group(1, "d", &groups, &["g0".into(), "g1".into()], 0.2);
        for g in 0..12 {
            let s: std::collections::BTreeSet<_> = (0..60)
                .filter(|&i| groups[i] == format!("g{g}"))
                .map(|i| splits[i])
                .collect();
            assert_eq!(s.len(), 1, "group g{g} in {s:?}");
        }
        assert_eq!(splits[0], Split::Test);
        let val: std::collections::BTreeSet<_> = (0..60)
            .filter(|&i| splits[i] == Split::Validation)
            .map(|i| &groups[i])
            .collect();
        assert_eq!(val.len(), 2);
    }

    #[test]
    fn proportions_per_stratum() {
        let split = stratified(1, "d", &items(120, 4), &SplitConfig::default());
        for class in 0..4 {
            let of = |s: Split| {
                (0..120)
                    .filter(|i| i % 4 == class && split[*i] == s)
                    .count()
            };
            let counts = (of(Split::Train), of(Split::Validation), of(Split::Test));
            assert_eq!(counts, (18, 6, 6));
        }
    }

    #[test]
    fn stable_under_reordering_and_seed_dependent() {
        let a = items(50, 3);
        let mut b = a.clone();
        b.reverse();
        let sa = stratified(7, "d", &a, &SplitConfig::default());
        let sb = stratified(7, "d", &b, &SplitConfig::default());
        for (i, (id, _)) in a.iter().enumerate() {
            let j = b.iter().position(|(x, _)| x == id).unwrap();
            assert_eq!(sa[i], sb[j]);
        }
        assert_ne!(sa, stratified(8, "d", &a, &SplitConfig::default()));
    }

    #[test]
    fn hash_is_pinned() {
        // A change here reshuffles every user's splits: it must be deliberate. Values from
        // Python: hashlib.sha256(pack("<Q", seed) + pack("<Q", len(ds)) + ds + track_id),
        // first 8 bytes read little-endian.
        assert_eq!(
            track_hash(42, "synth", "audio/flute/flute-A4"),
            0x5259_de82_346c_10d6
        );
        assert_eq!(track_hash(0, "", ""), 0xd59d_71f7_ff08_4737);
        assert_ne!(track_hash(1, "ab", "c"), track_hash(1, "a", "bc"));
    }
}
