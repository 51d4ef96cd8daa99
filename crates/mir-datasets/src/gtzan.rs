//! GTZAN genre (Tzanetakis & Cook 2002): 1,000 excerpts of 30 s, 100 per genre, in
//! `genres/<genre>/<genre>.000NN.wav` (the standard archive; older copies hold Sun `.au` files
//! of the same names, and Kaggle's mirror puts the folders under `Data/genres_original/`).
//!
//! GTZAN repeats and mislabels excerpts (Sturm 2013), so results are only comparable on the
//! fault-filtered split of Kereliuk, Sturm & Larsen (2015): 443 training, 197 validation and
//! 290 test files, 70 left out. Its lists ship with this crate (`data/gtzan/`, from
//! `coreyker/dnn-mgr`'s `gtzan/*_filtered.txt`; SHA-256 `2b04966c...`, `f8fbee7c...`,
//! `09cafa6a...`, as torchaudio and jukemir pin them).
//!
//! `split: {folds: 10, test_fold: i}` is HEAR's protocol instead: all 1,000 files in 10 folds
//! ([`crate::split::hear_kfold`] over the file stems), fold `i` for testing and the next for
//! validation. The archive's 14 pairs of bitwise-identical files ([`DUPLICATES`], Sturm 2013)
//! then stay in: the ones this copy really has twice and that fall in different folds are
//! reported, as a test excerpt whose twin is trained on inflates the accuracy.

use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::{Error, Result, uri};

/// The ten genres, in label order.
pub const GENRES: [&str; 10] = [
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
];

/// The fault-filtered split, as shipped: (split, list file name, its lines).
const FILTERED: [(Split, &str, &str); 3] = [
    (
        Split::Train,
        "train_filtered.txt",
        include_str!("../data/gtzan/train_filtered.txt"),
    ),
    (
        Split::Validation,
        "valid_filtered.txt",
        include_str!("../data/gtzan/valid_filtered.txt"),
    ),
    (
        Split::Test,
        "test_filtered.txt",
        include_str!("../data/gtzan/test_filtered.txt"),
    ),
];

/// The archive's pairs of bitwise-identical files (equal MD5s in mirdata's index; Sturm 2013,
/// "The GTZAN dataset: its contents, its faults").
pub const DUPLICATES: [(&str, &str); 14] = [
    ("disco.00098", "disco.00099"),
    ("hiphop.00039", "hiphop.00045"),
    ("hiphop.00076", "hiphop.00078"),
    ("metal.00034", "metal.00094"),
    ("metal.00040", "metal.00061"),
    ("metal.00041", "metal.00062"),
    ("metal.00042", "metal.00063"),
    ("metal.00043", "metal.00064"),
    ("metal.00044", "metal.00065"),
    ("metal.00045", "metal.00066"),
    ("rock.00016", "metal.00058"),
    ("pop.00054", "pop.00060"),
    ("pop.00067", "pop.00071"),
    ("reggae.00081", "reggae.00082"),
];

/// Which files make up which split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "SplitRepr", into = "SplitRepr")]
pub enum GtzanSplit {
    /// The fault-filtered split (443 / 197 / 290 files).
    #[default]
    Filtered,
    /// HEAR's k folds over all 1,000 files: `test_fold` tests, the next fold validates.
    Folds {
        /// The number of folds (HEAR: 10).
        folds: u32,
        /// The fold held out for testing, from 0.
        test_fold: u32,
    },
}

/// `split:` as written: `filtered`, or `{folds: K, test_fold: I}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SplitRepr {
    Named(String),
    Folds(FoldsRepr),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FoldsRepr {
    folds: u32,
    #[serde(default)]
    test_fold: u32,
}

impl TryFrom<SplitRepr> for GtzanSplit {
    type Error = String;
    fn try_from(repr: SplitRepr) -> std::result::Result<Self, String> {
        match repr {
            SplitRepr::Named(name) if name == "filtered" => Ok(Self::Filtered),
            SplitRepr::Named(name) => Err(format!(
                "unknown GTZAN split `{name}` (known: `filtered`, or `{{folds: K, test_fold: I}}`)"
            )),
            SplitRepr::Folds(FoldsRepr { folds, test_fold }) if folds >= 3 && test_fold < folds => {
                Ok(Self::Folds { folds, test_fold })
            }
            SplitRepr::Folds(FoldsRepr { folds, test_fold }) => Err(format!(
                "GTZAN split {{folds: {folds}, test_fold: {test_fold}}}: needs at least 3 folds \
                 (test, validation, training) and test_fold from 0 to folds - 1"
            )),
        }
    }
}

impl From<GtzanSplit> for SplitRepr {
    fn from(split: GtzanSplit) -> Self {
        match split {
            GtzanSplit::Filtered => Self::Named("filtered".into()),
            GtzanSplit::Folds { folds, test_fold } => Self::Folds(FoldsRepr { folds, test_fold }),
        }
    }
}

/// GTZAN in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GtzanConfig {
    /// Folder holding `genres/` (or Kaggle's `Data/genres_original/`).
    pub root: PathBuf,
    /// Fetch `genres.tar.gz` (from `mirror`, else the original host) when missing.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing the original host's folder (the original is gone since 2023).
    #[serde(default)]
    pub mirror: Option<String>,
    /// `filtered` (the default) or HEAR's `{folds: 10, test_fold: i}`.
    #[serde(default)]
    pub split: GtzanSplit,
}

/// The archive, with the MD5 mirdata publishes and the SHA-256 torchaudio pins.
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("http://opihi.cs.uvic.ca/sound");
    vec![Remote {
        url: format!("{base}/genres.tar.gz"),
        filename: "genres.tar.gz".into(),
        size: None,
        md5: Some("5b3d6dddb579ab49814ab86dba69e7c7".into()),
        sha256: Some("24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6".into()),
        sha1: None,
        extract: true,
    }]
}

/// The folder of the genre folders, where it is.
fn genres_dir(root: &Path) -> Option<PathBuf> {
    ["genres", "genres_original", "Data/genres_original"]
        .iter()
        .map(|d| root.join(d))
        .find(|d| d.is_dir())
}

/// Makes sure the dataset is on disk, downloading it when allowed.
pub fn prepare(config: &GtzanConfig, options: &Options) -> Result<()> {
    if genres_dir(&config.root).is_some() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: config.root.join("genres"),
            hint: "set `download: true` with a `mirror` (the original host, opihi.cs.uvic.ca, is \
                   gone), or put the archive's `genres/` there; Kaggle's copy \
                   (andradaolteanu/gtzan-dataset-music-genre-classification) unpacks as \
                   `Data/genres_original/`, which is read too"
                .into(),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// The audio of list entry `entry` (`blues/blues.00029.wav`): the `.wav`, else the `.au` of
/// the same name.
fn locate(genres: &Path, entry: &str) -> Option<PathBuf> {
    let wav = genres.join(entry);
    let au = wav.with_extension("au");
    [wav, au].into_iter().find(|p| p.is_file())
}

/// The `genre` task on the configured split. Every file the split names must be there (a
/// missing one is an error naming it and the list or line that names it).
pub fn load(config: &GtzanConfig) -> Result<Vec<TaskTracks>> {
    let genres = genres_dir(&config.root).ok_or_else(|| Error::MissingAudioDir {
        path: config.root.join("genres"),
    })?;
    let tracks = match config.split {
        GtzanSplit::Filtered => filtered(&genres)?,
        GtzanSplit::Folds { folds, test_fold } => folded(&genres, folds, test_fold)?,
    };
    let mut task = crate::task_tracks("genre", TaskType::Multiclass, tracks);
    if config.split == GtzanSplit::Filtered {
        let why = "in no fault-filtered list (repeated, mislabeled or distorted)";
        task.left_out.insert(why.into(), 1000 - task.tracks.len());
    }
    Ok(vec![task])
}

/// The fault-filtered split's tracks; the 70 files of no list are left out.
fn filtered(genres: &Path) -> Result<Vec<Track>> {
    let mut tracks = Vec::new();
    for (split, list, text) in FILTERED {
        for (i, entry) in text.lines().map(str::trim).enumerate() {
            let bad = |reason: String| Error::Metadata {
                path: PathBuf::from(format!("mir-datasets/data/gtzan/{list}")),
                reason: format!("line {}: {reason}", i + 1),
            };
            let (genre, file) = entry
                .split_once('/')
                .ok_or_else(|| bad(format!("`{entry}` is not `<genre>/<file>`")))?;
            let stem = file.trim_end_matches(".wav");
            if !GENRES.contains(&genre) || !stem.starts_with(&format!("{genre}.")) {
                return Err(bad(format!("`{entry}` names no genre's file")));
            }
            let origin = format!("the fault-filtered split's {list}");
            tracks.push(track(genres, genre, stem, split, (&origin, i + 1))?);
        }
    }
    Ok(tracks)
}

/// All 1,000 files in HEAR's folds, fold `test_fold` testing and the next validating; the
/// known twins that fall in different folds are reported.
fn folded(genres: &Path, k: u32, test_fold: u32) -> Result<Vec<Track>> {
    let origin = "GTZAN's 1,000 files (`split: {folds: ...}` uses them all)";
    let mut tracks = Vec::with_capacity(1000);
    for (i, (genre, stem)) in all_files().enumerate() {
        tracks.push(track(genres, genre, &stem, Split::Train, (origin, i + 1))?);
    }
    let items: Vec<(String, String)> = tracks
        .iter()
        .map(|t| (t.track_id.clone(), t.labels[0].clone()))
        .collect();
    let folds = crate::split::hear_kfold(&items, k).ok_or_else(|| Error::Metadata {
        path: genres.to_path_buf(),
        reason: format!("no seed of HEAR's gives each of {k} folds every genre"),
    })?;
    for (t, fold) in tracks.iter_mut().zip(&folds) {
        t.split = crate::split::fold_split(*fold, test_fold, (test_fold + 1) % k);
        t.fold = Some(*fold as i32);
    }
    let fold_of = |id: &str| items.iter().position(|(k, _)| k == id).map(|i| folds[i]);
    let apart: Vec<String> = twins(genres)
        .into_iter()
        .filter(|(a, b)| fold_of(a) != fold_of(b))
        .map(|(a, b)| format!("{a} = {b}"))
        .collect();
    if !apart.is_empty() {
        tracing::warn!(
            pairs = ?apart,
            "GTZAN: {} pairs of bitwise-identical files fall in different folds (a test file's \
             twin is trained on); the fault-filtered split (`split: filtered`) has none",
            apart.len()
        );
    }
    Ok(tracks)
}

/// `(genre, stem)` of the archive's 1,000 files, in genre and number order.
fn all_files() -> impl Iterator<Item = (&'static str, String)> {
    GENRES
        .iter()
        .flat_map(|g| (0..100).map(move |n| (*g, format!("{g}.{n:05}"))))
}

/// The pairs of [`DUPLICATES`] that are bitwise identical in the copy under `genres` (both
/// files there, the same bytes); a copy re-encoded elsewhere may have none.
pub fn twins(genres: &Path) -> Vec<(String, String)> {
    let bytes = |stem: &str| {
        let genre = stem.split('.').next().unwrap_or_default();
        locate(genres, &format!("{genre}/{stem}.wav")).and_then(|p| std::fs::read(p).ok())
    };
    DUPLICATES
        .iter()
        .filter(|(a, b)| matches!((bytes(a), bytes(b)), (Some(x), Some(y)) if x == y))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The track of `<genre>/<stem>`, named at line `origin.1` of `origin.0`.
fn track(
    genres: &Path,
    genre: &str,
    stem: &str,
    split: Split,
    origin: (&str, usize),
) -> Result<Track> {
    let entry = format!("{genre}/{stem}.wav");
    let path = locate(genres, &entry).ok_or_else(|| Error::MissingAudio {
        path: genres.join(&entry),
        metadata: PathBuf::from(origin.0),
        line: origin.1,
    })?;
    let uri = path.to_string_lossy().into_owned();
    Ok(Track {
        track_id: stem.to_string(),
        duration_s: uri::track_duration_s(&uri),
        audio_uri: uri,
        split,
        labels: vec![genre.to_string()],
        targets: None,
        fold: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lists_are_the_published_ones() {
        let sizes: Vec<usize> = FILTERED.iter().map(|(_, _, t)| t.lines().count()).collect();
        assert_eq!(sizes, [443, 197, 290]);
        let digests: Vec<String> = FILTERED
            .iter()
            .map(|(_, _, t)| mir_audio::sha256_hex(t.as_bytes()))
            .collect();
        assert!(digests[0].starts_with("2b04966c") && digests[0].ends_with("fa3fa"));
        assert!(digests[1].starts_with("f8fbee7c") && digests[1].ends_with("26956"));
        assert!(digests[2].starts_with("09cafa6a") && digests[2].ends_with("ac72"));
    }
}
