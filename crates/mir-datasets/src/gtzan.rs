//! GTZAN genre (Tzanetakis & Cook 2002): 1,000 excerpts of 30 s, 100 per genre, in
//! `genres/<genre>/<genre>.000NN.wav` (the standard archive; older copies hold Sun `.au` files
//! of the same names, and Kaggle's mirror puts the folders under `Data/genres_original/`).
//!
//! GTZAN repeats and mislabels excerpts (Sturm 2013), so results are only comparable on the
//! fault-filtered split of Kereliuk, Sturm & Larsen (2015): 443 training, 197 validation and
//! 290 test files, 70 left out. Its lists ship with this crate (`data/gtzan/`, from
//! `coreyker/dnn-mgr`'s `gtzan/*_filtered.txt`; SHA-256 `2b04966c...`, `f8fbee7c...`,
//! `09cafa6a...`, as torchaudio and jukemir pin them).

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

/// The `genre` task on the fault-filtered split: every listed file must be there (a missing one
/// is an error naming the list and its line); the 70 files of no list are left out.
pub fn load(config: &GtzanConfig) -> Result<Vec<TaskTracks>> {
    let genres = genres_dir(&config.root).ok_or_else(|| Error::MissingAudioDir {
        path: config.root.join("genres"),
    })?;
    let mut tracks = Vec::new();
    for (split, name, text) in FILTERED {
        for (i, entry) in text.lines().map(str::trim).enumerate() {
            tracks.push(track(&genres, split, name, i + 1, entry)?);
        }
    }
    Ok(vec![crate::task_tracks(
        "genre",
        TaskType::Multiclass,
        tracks,
    )])
}

/// The track of line `line` of the list `list`.
fn track(genres: &Path, split: Split, list: &str, line: usize, entry: &str) -> Result<Track> {
    let bad = |reason: String| Error::Metadata {
        path: PathBuf::from(format!("mir-datasets/data/gtzan/{list}")),
        reason: format!("line {line}: {reason}"),
    };
    let (genre, file) = entry
        .split_once('/')
        .ok_or_else(|| bad(format!("`{entry}` is not `<genre>/<file>`")))?;
    if !GENRES.contains(&genre) || !file.starts_with(&format!("{genre}.")) {
        return Err(bad(format!("`{entry}` names no genre's file")));
    }
    let path = locate(genres, entry).ok_or_else(|| Error::MissingAudio {
        path: genres.join(entry),
        metadata: PathBuf::from(format!("the fault-filtered split's {list}")),
        line,
    })?;
    let uri = path.to_string_lossy().into_owned();
    Ok(Track {
        track_id: file.trim_end_matches(".wav").to_string(),
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
