//! emoMusic ("1000 songs", Soleymani et al., MediaEval 2013): 744 clips of 45 s with static
//! arousal and valence ratings (1 to 9). `root` holds the six annotation CSVs (the
//! `annotations.tar.gz` root) and `clips_45seconds/<song_id>.mp3`.
//!
//! The split of JukeMIR and MARBLE: the 125 songs of MediaEval's evaluation set test; the
//! development songs go to training or validation by their artist (8:2, from a SHA-1 of the
//! normalised artist name, so no artist is in both); targets are z-scored with the mean and
//! population standard deviation of all development songs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::{Error, Result, uri};

/// The song table and the ratings.
const SONGS: &str = "songs_info.csv";
const RATINGS: &str = "static_annotations.csv";
/// The clips' folder (not the archive's name).
const CLIPS: &str = "clips_45seconds";

/// emoMusic's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Both targets, `[arousal, valence]`.
    ArousalValence,
    /// Arousal alone.
    Arousal,
    /// Valence alone.
    Valence,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::ArousalValence => "arousal_valence",
            Task::Arousal => "arousal",
            Task::Valence => "valence",
        }
    }
}

fn default_tasks() -> Vec<Task> {
    vec![Task::ArousalValence]
}

/// emoMusic in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmoMusicConfig {
    /// Folder holding the six CSVs and `clips_45seconds/`.
    pub root: PathBuf,
    /// Fetch both archives from the University of Geneva (or `mirror`) when missing.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing the original host's folder.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Tasks to build (default: `arousal_valence`).
    #[serde(default = "default_tasks")]
    pub tasks: Vec<Task>,
}

/// Task names of the config.
pub fn task_names(config: &EmoMusicConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}

/// The two archives, with the SHA-256s jukemir pins.
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("http://cvml.unige.ch/databases/emoMusic");
    let remote = |file: &str, sha256: &str| Remote {
        url: format!("{base}/{file}"),
        filename: file.into(),
        size: None,
        md5: None,
        sha256: Some(sha256.into()),
        sha1: None,
        extract: true,
    };
    vec![
        remote(
            "clips_45sec.tar.gz",
            "3994a5d5fefc27f9540d1a69cd7f1294c68e6cb311ce49765021e2e9c7a1057b",
        ),
        remote(
            "annotations.tar.gz",
            "e0cb0b06e1b0ce7f04b1572fc410937699b7fad9dae67ddaa745f06cda4b0b33",
        ),
    ]
}

/// Makes sure the annotations and clips are on disk, downloading them when allowed.
pub fn prepare(config: &EmoMusicConfig, options: &Options) -> Result<()> {
    if config.root.join(SONGS).is_file() && config.root.join(CLIPS).is_dir() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: config.root.join(SONGS),
            hint: "set `download: true`, or download clips_45sec.tar.gz and annotations.tar.gz \
                   from http://cvml.unige.ch/databases/emoMusic/ and extract both there (the \
                   CSVs at the root, the clips in clips_45seconds/)"
                .into(),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// One song of `songs_info.csv`, its values stripped of the TABs inside their quotes.
struct Song {
    id: String,
    artist: String,
    evaluation: bool,
    line: usize,
    /// The clip's segment of the song, in seconds.
    segment_s: (f64, f64),
}

/// A `min.sec` time of `songs_info.csv` in seconds: `0.48` is 48 s, `0.2` is 20 s (one second
/// digit stands for tens, as JukeMIR pads it), `1` is 60 s.
pub fn min_sec(text: &str) -> Option<f64> {
    let (minutes, seconds) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    let seconds = match seconds.len() {
        1 => format!("{seconds}0"),
        _ => seconds.to_string(),
    };
    let (m, s): (u32, u32) = (minutes.parse().ok()?, seconds.parse().ok()?);
    (s < 60).then(|| f64::from(m * 60 + s))
}

/// The rows of a CSV file with a header, as maps from column to stripped value.
fn rows(path: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let bad = |reason: String| Error::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let headers: Vec<String> = (reader.headers().map_err(|e| bad(e.to_string()))?)
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let row = headers
            .iter()
            .cloned()
            .zip(record.iter().map(|v| v.trim().to_string()));
        out.push(row.collect());
    }
    Ok(out)
}

fn songs(path: &Path) -> Result<Vec<Song>> {
    let mut out = Vec::new();
    for (i, row) in rows(path)?.into_iter().enumerate() {
        let field = |name: &str| {
            row.get(name).cloned().ok_or_else(|| Error::Metadata {
                path: path.to_path_buf(),
                reason: format!("no column `{name}`"),
            })
        };
        let set = field("Mediaeval 2013 set")?;
        let time = |name: &str| -> Result<f64> {
            let text = field(name)?;
            min_sec(&text).ok_or_else(|| Error::Metadata {
                path: path.to_path_buf(),
                reason: format!("line {}: `{name}` is `{text}`, not minutes.seconds", i + 2),
            })
        };
        out.push(Song {
            id: field("song_id")?,
            artist: field("Artist")?,
            evaluation: set == "evaluation",
            line: i + 2,
            segment_s: (
                time("start of the segment (min.sec)")?,
                time("end of the segment (min.sec)")?,
            ),
        });
    }
    Ok(out)
}

/// `(mean_arousal, mean_valence)` by song id.
fn ratings(path: &Path) -> Result<BTreeMap<String, [f64; 2]>> {
    let mut out = BTreeMap::new();
    for (i, row) in rows(path)?.into_iter().enumerate() {
        let value = |name: &str| -> Result<f64> {
            let v = row.get(name).map(String::as_str).unwrap_or_default();
            v.parse().map_err(|_| Error::Metadata {
                path: path.to_path_buf(),
                reason: format!("line {}: `{name}` is `{v}`, not a number", i + 2),
            })
        };
        let id = row.get("song_id").cloned().unwrap_or_default();
        out.insert(id, [value("mean_arousal")?, value("mean_valence")?]);
    }
    Ok(out)
}

/// The artist as JukeMIR hashes it: lower case, ASCII letters and whitespace only, runs of
/// whitespace as one space, no space at either end.
pub fn normalised_artist(artist: &str) -> String {
    let kept: String = artist
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_whitespace())
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A development song's split: the integer of the SHA-1 hex digest of its normalised artist,
/// modulo 10, indexes eight `train` and two `validation`.
pub fn development_split(artist: &str) -> Split {
    let digest = Sha1::digest(normalised_artist(artist).as_bytes());
    let rest = digest
        .iter()
        .fold(0u32, |r, b| (r * 256 + u32::from(*b)) % 10);
    if rest < 8 {
        Split::Train
    } else {
        Split::Validation
    }
}

/// Mean and population standard deviation.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The z-scoring of each target: (mean, population standard deviation) over the development
/// songs, arousal then valence.
pub fn standardisation(config: &EmoMusicConfig) -> Result<[(f64, f64); 2]> {
    let songs = songs(&config.root.join(SONGS))?;
    Ok(scale(&songs, &ratings(&config.root.join(RATINGS))?))
}

/// [`standardisation`] of songs and ratings already read.
fn scale(songs: &[Song], ratings: &BTreeMap<String, [f64; 2]>) -> [(f64, f64); 2] {
    let dev: Vec<[f64; 2]> = (songs.iter())
        .filter(|s| !s.evaluation)
        .filter_map(|s| ratings.get(&s.id).copied())
        .collect();
    let column = |k: usize| mean_std(&dev.iter().map(|r| r[k]).collect::<Vec<_>>());
    [column(0), column(1)]
}

/// The configured tasks: every song with its clip and ratings (a song without them is an
/// error naming it), targets z-scored.
pub fn load(config: &EmoMusicConfig) -> Result<Vec<TaskTracks>> {
    let songs_path = config.root.join(SONGS);
    let ratings_path = config.root.join(RATINGS);
    let (songs, ratings) = (songs(&songs_path)?, ratings(&ratings_path)?);
    let scale = scale(&songs, &ratings);
    let mut base = Vec::with_capacity(songs.len());
    let odd: Vec<&str> = (songs.iter())
        .filter(|s| (s.segment_s.1 - s.segment_s.0 - 45.0).abs() > 0.5)
        .map(|s| s.id.as_str())
        .collect();
    if !odd.is_empty() {
        tracing::warn!(songs = ?odd, "segments of songs_info.csv that are not 45 s long");
    }
    for song in &songs {
        let clip = config.root.join(CLIPS).join(format!("{}.mp3", song.id));
        if !clip.is_file() {
            return Err(Error::MissingAudio {
                path: clip,
                metadata: songs_path.clone(),
                line: song.line,
            });
        }
        let rating = ratings.get(&song.id).ok_or_else(|| Error::Metadata {
            path: ratings_path.clone(),
            reason: format!(
                "no ratings for song {} (line {} of {SONGS})",
                song.id, song.line
            ),
        })?;
        let z = [0, 1].map(|k| ((rating[k] - scale[k].0) / scale[k].1) as f32);
        base.push((track_of(song, &clip), z));
    }
    let mut tasks = config.tasks.clone();
    tasks.sort();
    tasks.dedup();
    Ok(tasks.into_iter().map(|task| task_of(task, &base)).collect())
}

fn track_of(song: &Song, clip: &Path) -> Track {
    let uri = clip.to_string_lossy().into_owned();
    Track {
        track_id: song.id.clone(),
        duration_s: uri::track_duration_s(&uri),
        audio_uri: uri,
        split: match song.evaluation {
            true => Split::Test,
            false => development_split(&song.artist),
        },
        labels: vec![],
        targets: None,
        fold: None,
    }
}

fn task_of(task: Task, base: &[(Track, [f32; 2])]) -> TaskTracks {
    let tracks = base
        .iter()
        .map(|(t, z)| Track {
            targets: Some(match task {
                Task::ArousalValence => z.to_vec(),
                Task::Arousal => vec![z[0]],
                Task::Valence => vec![z[1]],
            }),
            ..t.clone()
        })
        .collect();
    TaskTracks {
        task: task.name().into(),
        task_type: TaskType::Regression,
        // The targets' names, in their order: mir-eval names per-target metrics by them
        // (`r2/arousal`).
        vocabulary: match task {
            Task::ArousalValence => vec!["arousal".into(), "valence".into()],
            Task::Arousal => vec!["arousal".into()],
            Task::Valence => vec!["valence".into()],
        },
        tracks,
        left_out: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_sec_times_are_minutes_and_seconds() {
        assert_eq!(min_sec("0.48"), Some(48.0));
        assert_eq!(min_sec("\t0.2\t"), Some(20.0));
        assert_eq!(min_sec("1"), Some(60.0));
        assert_eq!(min_sec("1.33"), Some(93.0));
        assert_eq!(min_sec("0.75"), None);
        assert_eq!(min_sec("x"), None);
    }

    #[test]
    fn artists_are_normalised_as_jukemir_does() {
        assert_eq!(
            normalised_artist("The New Mystikal Troubadours"),
            "the new mystikal troubadours"
        );
        assert_eq!(normalised_artist("  AC/DC  &  Friends\t"), "acdc friends");
        assert_eq!(normalised_artist("Björk 2"), "bjrk");
    }
}
