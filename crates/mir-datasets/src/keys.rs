//! Key estimation datasets in one 24-key label space (`C major` .. `B minor`, sharps only):
//! Beatport EDM key (Zenodo 1101082) and GiantSteps (MTG key for training, key for testing).
//!
//! Only tracks with exactly one major or minor key are kept: multiple keys (`A minor | C
//! major`, `F minor / G# major`), unknown keys (`X`, `-`, `unknown`), `other` and modal labels
//! are left out, and the number left out is logged.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::split::{SplitConfig, assign, stratified};
use crate::{Error, Result, task_tracks};
use mir_table::{Split, TaskType, Track};

/// The 24 keys, spelled with sharps.
pub fn vocabulary() -> Vec<String> {
    let tonics = [
        "A", "A#", "B", "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#",
    ];
    let mut keys: Vec<String> = tonics
        .iter()
        .flat_map(|t| [format!("{t} major"), format!("{t} minor")])
        .collect();
    keys.sort();
    keys
}

/// One key label in canonical form (`Db major` -> `C# major`, `d minor` -> `D minor`), or
/// `None` when the label is not exactly one major or minor key.
pub fn normalize_key(label: &str) -> Option<String> {
    let mut words = label.split_whitespace();
    let (tonic, mode, rest) = (words.next()?, words.next()?, words.next());
    if rest.is_some() {
        return None;
    }
    let mode = match mode.to_ascii_lowercase().as_str() {
        "major" | "maj" => "major",
        "minor" | "min" => "minor",
        _ => return None,
    };
    let mut chars = tonic.chars();
    let letter = chars.next()?.to_ascii_uppercase();
    let base = "C D EF G A B".find(letter)? as i32;
    let accidental: i32 = match chars.as_str() {
        "" => 0,
        "#" | "♯" => 1,
        "b" | "♭" => -1,
        _ => return None,
    };
    let names = [
        "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
    ];
    Some(format!(
        "{} {mode}",
        names[(base + accidental).rem_euclid(12) as usize]
    ))
}

fn default_skip() -> bool {
    false
}

/// Beatport EDM key in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeatportConfig {
    /// Folder holding `keys/` and `audio/` (the extracted `keys.zip` and `audio.zip`).
    pub root: PathBuf,
    /// Fetch the archives from Zenodo (or `mirror`) when missing.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing Zenodo's (a local mirror).
    #[serde(default)]
    pub mirror: Option<String>,
    /// Split fractions (the dataset has no official split), stratified by key.
    #[serde(default)]
    pub split: SplitConfig,
    /// Leave out annotated tracks whose audio is missing, instead of failing.
    #[serde(default = "default_skip")]
    pub skip_missing_audio: bool,
}

/// The Zenodo archives of Beatport EDM key, with their MD5s (mirdata's `beatport_key.py`).
pub fn beatport_remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("https://zenodo.org/record/1101082/files");
    [
        ("keys.zip", "939abc05f36121badfac4087241ac172"),
        ("audio.zip", "f490ee6c23578482d6fcfa11b82636a1"),
    ]
    .into_iter()
    .map(|(name, md5)| Remote {
        url: format!("{base}/{name}?download=1"),
        filename: name.into(),
        size: None,
        md5: Some(md5.into()),
        sha256: None,
        sha1: None,
        extract: true,
    })
    .collect()
}

/// Makes sure Beatport EDM key is on disk, downloading it when allowed.
pub fn prepare_beatport(config: &BeatportConfig, options: &Options) -> Result<()> {
    if config.root.join("keys").is_dir() && config.root.join("audio").is_dir() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: config.root.join("keys"),
            hint: format!(
                "set `download: true`, or download keys.zip and audio.zip from \
                 https://zenodo.org/record/1101082 and extract both into `{}`",
                config.root.display()
            ),
        });
    }
    for remote in beatport_remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// Reads a one-line annotation file and returns its canonical key, if it has exactly one.
fn read_key(path: &Path) -> Result<Option<String>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // GiantSteps MTG `.key` files hold `key<TAB>confidence<TAB>comment`.
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .split('\t')
        .next()
        .unwrap_or("");
    Ok(normalize_key(first))
}

/// A labelled track, or a reason to leave it out.
fn keyed_track(
    track_id: String,
    audio_path: PathBuf,
    key: String,
    missing: &mut Vec<PathBuf>,
) -> Result<Option<Track>> {
    if !audio_path.is_file() {
        missing.push(audio_path);
        return Ok(None);
    }
    Ok(Some(Track {
        track_id,
        duration_s: crate::uri::track_duration_s(&audio_path.to_string_lossy()),
        audio_uri: audio_path.to_string_lossy().into_owned(),
        split: Split::Train,
        labels: vec![key],
        targets: None,
        fold: None,
    }))
}

/// Beatport EDM key: `keys/<name>.txt` holding the key, `audio/<name>.mp3`.
pub fn load_beatport(dataset: &str, config: &BeatportConfig, seed: u64) -> Result<TaskTracks> {
    let keys_dir = config.root.join("keys");
    let mut names: Vec<PathBuf> = list(&keys_dir, "txt")?;
    names.sort();
    let (mut tracks, mut missing, mut left_out) = (Vec::new(), Vec::new(), 0usize);
    for path in names {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        match read_key(&path)? {
            Some(key) => {
                let audio_path = config.root.join("audio").join(format!("{stem}.mp3"));
                tracks.extend(keyed_track(stem, audio_path, key, &mut missing)?);
            }
            None => left_out += 1,
        }
    }
    if !missing.is_empty() && !config.skip_missing_audio {
        return Err(crate::missing_error(
            &missing,
            "extract audio.zip into the dataset folder",
        ));
    }
    tracing::info!(
        dataset,
        kept = tracks.len(),
        left_out,
        missing = missing.len(),
        "key annotations"
    );
    let items: Vec<(String, String)> = tracks
        .iter()
        .map(|t| (t.track_id.clone(), t.labels[0].clone()))
        .collect();
    for (t, (s, fold)) in tracks
        .iter_mut()
        .zip(assign(seed, dataset, &items, &config.split))
    {
        t.split = s;
        t.fold = fold.map(|f| f as i32);
    }
    let mut task = task_tracks("key", TaskType::Multiclass, tracks);
    task.left_out = left_out_of(left_out, &missing);
    Ok(task)
}

/// What a key dataset left out: annotations that are not one key, and (with
/// `skip_missing_audio`) tracks without audio.
fn left_out_of(
    not_one_key: usize,
    missing: &[PathBuf],
) -> std::collections::BTreeMap<String, usize> {
    [
        (
            "annotation not one key (or below min_confidence)",
            not_one_key,
        ),
        ("audio file missing", missing.len()),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(why, n)| (why.to_string(), n))
    .collect()
}

fn default_min_confidence() -> u32 {
    2
}

fn default_validation() -> f64 {
    0.15
}

/// GiantSteps in an experiment config: train on GiantSteps MTG key, test on GiantSteps key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiantStepsConfig {
    /// Folder holding clones of `giantsteps-key-dataset/` and `giantsteps-mtg-key-dataset/`
    /// with their `audio/` fetched by each repository's `audio_dl.sh`.
    pub root: PathBuf,
    /// MTG key tracks need at least this annotator confidence (0 to 2).
    #[serde(default = "default_min_confidence")]
    pub min_confidence: u32,
    /// Fraction of the MTG key tracks held out for validation, stratified by key.
    #[serde(default = "default_validation")]
    pub validation: f64,
    /// Leave out annotated tracks whose audio is missing, instead of failing.
    #[serde(default = "default_skip")]
    pub skip_missing_audio: bool,
}

const GS_KEY: &str = "giantsteps-key-dataset";
const GS_MTG: &str = "giantsteps-mtg-key-dataset";

/// GiantSteps cannot be downloaded in one step (its audio comes from Beatport previews through
/// each repository's script): checks it is on disk and says how to get it.
pub fn prepare_giantsteps(config: &GiantStepsConfig) -> Result<()> {
    for (repo, annotations) in [
        (GS_KEY, "annotations/key"),
        (GS_MTG, "annotations/annotations.txt"),
    ] {
        let path = config.root.join(repo).join(annotations);
        if !path.exists() {
            return Err(Error::Missing {
                path,
                hint: format!(
                    "clone https://github.com/GiantSteps/{repo} into `{}` and run its \
                     `audio_dl.sh` there to fetch the audio previews into `{repo}/audio/`",
                    config.root.display()
                ),
            });
        }
    }
    Ok(())
}

/// GiantSteps: MTG key tracks (train and validation) and key tracks (test), one task `key`.
pub fn load_giantsteps(dataset: &str, config: &GiantStepsConfig, seed: u64) -> Result<TaskTracks> {
    let (mut missing, mut left_out) = (Vec::new(), 0usize);
    let mut train = mtg_tracks(dataset, config, seed, &mut missing, &mut left_out)?;
    let test = giantsteps_test_tracks(config, &mut missing, &mut left_out)?;
    if !missing.is_empty() && !config.skip_missing_audio {
        return Err(crate::missing_error(
            &missing,
            "run each repository's `audio_dl.sh`",
        ));
    }
    tracing::info!(
        dataset,
        train = train.len(),
        test = test.len(),
        left_out,
        missing = missing.len(),
        "key annotations"
    );
    train.extend(test);
    let mut task = task_tracks("key", TaskType::Multiclass, train);
    task.left_out = left_out_of(left_out, &missing);
    Ok(task)
}

/// GiantSteps MTG key (`annotations.txt`, `ID<TAB>MANUAL KEY<TAB>C`): the training and
/// validation tracks, split by key from the seed. Keys below `min_confidence` or not one key
/// count in `left_out`; absent audio files go to `missing`.
fn mtg_tracks(
    dataset: &str,
    config: &GiantStepsConfig,
    seed: u64,
    missing: &mut Vec<PathBuf>,
    left_out: &mut usize,
) -> Result<Vec<Track>> {
    let mtg = config.root.join(GS_MTG);
    let annotations = mtg.join("annotations/annotations.txt");
    let text = std::fs::read_to_string(&annotations).map_err(|source| Error::Io {
        path: annotations.clone(),
        source,
    })?;
    let mut train = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [id, key, confidence] = fields[..] else {
            return Err(Error::Metadata {
                path: annotations.clone(),
                reason: format!(
                    "line {}: expected `ID<TAB>KEY<TAB>C`, found `{line}`",
                    i + 1
                ),
            });
        };
        let confidence: u32 = confidence.trim().parse().map_err(|_| Error::Metadata {
            path: annotations.clone(),
            reason: format!("line {}: confidence `{confidence}` is not a number", i + 1),
        })?;
        match normalize_key(key) {
            Some(key) if confidence >= config.min_confidence => {
                let audio_path = mtg.join("audio").join(format!("{}.LOFI.mp3", id.trim()));
                train.extend(keyed_track(
                    format!("mtg/{}", id.trim()),
                    audio_path,
                    key,
                    missing,
                )?);
            }
            _ => *left_out += 1,
        }
    }
    let items: Vec<(String, String)> = train
        .iter()
        .map(|t| (t.track_id.clone(), t.labels[0].clone()))
        .collect();
    let split = SplitConfig {
        train: 1.0 - config.validation,
        validation: config.validation,
        ..SplitConfig::default()
    };
    for (t, s) in train
        .iter_mut()
        .zip(stratified(seed, dataset, &items, &split))
    {
        // The MTG set has no test tracks: the GiantSteps key set is the test set.
        t.split = if s == Split::Train {
            Split::Train
        } else {
            Split::Validation
        };
    }
    Ok(train)
}

/// GiantSteps key (`annotations/key/<id>.LOFI.key`, `audio/<id>.LOFI.mp3`): the test tracks.
fn giantsteps_test_tracks(
    config: &GiantStepsConfig,
    missing: &mut Vec<PathBuf>,
    left_out: &mut usize,
) -> Result<Vec<Track>> {
    let gs = config.root.join(GS_KEY);
    let mut test = Vec::new();
    for path in list(&gs.join("annotations/key"), "key")? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let id = name.trim_end_matches(".key").trim_end_matches(".LOFI");
        match read_key(&path)? {
            Some(key) => {
                let audio_path = gs.join("audio").join(format!("{id}.LOFI.mp3"));
                test.extend(keyed_track(format!("gs/{id}"), audio_path, key, missing)?);
            }
            None => *left_out += 1,
        }
    }
    for t in &mut test {
        t.split = Split::Test;
    }
    Ok(test)
}

/// Files with extension `ext` in `dir` (not recursive), sorted.
fn list(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('.') && path.extension().and_then(|e| e.to_str()) == Some(ext) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_with_sharps_and_ambiguous_ones_refused() {
        for (label, want) in [
            ("D minor", Some("D minor")),
            ("Bb major", Some("A# major")),
            ("d minor", Some("D minor")),
            ("Db major ", Some("C# major")),
            ("Cb major", Some("B major")),
            ("E# minor", Some("F minor")),
            ("Ab major | F minor", None),
            ("F minor / G# major", None),
            ("X", None),
            ("-", None),
            ("unknown", None),
            ("E other", None),
            ("F minor phrygian", None),
            ("H major", None),
        ] {
            assert_eq!(normalize_key(label).as_deref(), want, "{label}");
        }
        assert_eq!(vocabulary().len(), 24);
    }
}
