//! MTG-Jamendo autotagging (Bogdanov et al. 2019): 55,525 full tracks with genre, instrument
//! and mood/theme tags, as the dataset repository's `data/` (the split TSVs) beside the
//! unpacked audio tars under `audio/` (`NN/<id>.mp3`, or `NN/<id>.low.mp3` from `audio-low`;
//! folder `NN` is the track number modulo 100).
//!
//! The TSVs declare six columns (`TRACK_ID PATH ... TAGS`) but a row carries its 1 to 33 tags
//! as further TAB-separated fields, with CRLF line endings; tags read `<category>---<tag>`.
//! Tasks: `moodtheme` (56 tags), `instrument` (40), `genre` (87), `top50tags` (50) and `all`
//! (183), on the artist-disjoint `split: 0` to `4` of `data/splits/split-K/`. The tags of a
//! one-category task lose their category prefix (`happy`); those of `top50tags` and `all`
//! keep it (`genre---rock`). The vocabulary is every tag of the task's three split files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::{Error, Result, uri};

/// A task: one of the split files' subsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Mood and theme (56 tags).
    Moodtheme,
    /// Instrument (40).
    Instrument,
    /// Genre (87).
    Genre,
    /// The 50 most frequent tags of all categories.
    Top50tags,
    /// Every tag (183).
    All,
}

impl Task {
    /// The task's name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Moodtheme => "moodtheme",
            Task::Instrument => "instrument",
            Task::Genre => "genre",
            Task::Top50tags => "top50tags",
            Task::All => "all",
        }
    }

    /// `autotagging_moodtheme-train.tsv`, ..., `autotagging-train.tsv` for `all`.
    fn file(self, part: &str) -> String {
        match self {
            Task::All => format!("autotagging-{part}.tsv"),
            t => format!("autotagging_{}-{part}.tsv", t.name()),
        }
    }

    /// The category prefix a one-category task strips.
    fn category(self) -> Option<&'static str> {
        match self {
            Task::Moodtheme => Some("mood/theme"),
            Task::Instrument => Some("instrument"),
            Task::Genre => Some("genre"),
            Task::Top50tags | Task::All => None,
        }
    }
}

/// Which audio download the files are from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudioKind {
    /// `audio`: 320 kbit/s MP3, `NN/<id>.mp3`.
    #[default]
    Audio,
    /// `audio-low`: mono MP3 (LAME V2), `NN/<id>.low.mp3` (MARBLE's choice).
    AudioLow,
}

/// MTG-Jamendo in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtgJamendoConfig {
    /// Folder holding `data/` (the dataset repository's) and `audio/`.
    pub root: PathBuf,
    /// Fetch the metadata archive and the audio tars the tasks need, each checked against
    /// the published SHA-256 list before it is unpacked; resumes across runs.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing `https://cdn.freesound.org/mtg-jamendo`.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Tasks to build (default: moodtheme).
    #[serde(default = "default_tasks")]
    pub tasks: Vec<Task>,
    /// The split, 0 to 4.
    #[serde(default)]
    pub split: u8,
    /// `audio` (the default) or `audio_low`.
    #[serde(default)]
    pub audio: AudioKind,
    /// Leave out tracks whose audio is missing, instead of failing.
    #[serde(default)]
    pub skip_missing_audio: bool,
    /// At most this many tracks per split, the same on every machine, keeping every tag of
    /// the split present where the number allows: a quick run on a large dataset.
    #[serde(default)]
    pub max_tracks: Option<usize>,
}

fn default_tasks() -> Vec<Task> {
    vec![Task::Moodtheme]
}

/// Task names of the config.
pub fn task_names(config: &MtgJamendoConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}

/// The split parts; the files name them as [`Split`] does.
const PARTS: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

/// The columns before the tags.
const HEADER: [&str; 6] = [
    "TRACK_ID",
    "ARTIST_ID",
    "ALBUM_ID",
    "PATH",
    "DURATION",
    "TAGS",
];

/// The metadata archive (Zenodo's `data.zip`, the MD5 mirdata publishes).
pub fn metadata_remote(mirror: Option<&str>) -> Remote {
    let url = match mirror {
        Some(base) => format!("{base}/data.zip"),
        None => "https://zenodo.org/record/3826813/files/data.zip".into(),
    };
    Remote {
        url,
        filename: "data.zip".into(),
        size: None,
        md5: Some("039ce10f267f6e4e9f72837c76d72b2f".into()),
        sha256: None,
        sha1: None,
        extract: true,
    }
}

/// The download a task's audio comes from: moodtheme's own tars, else raw_30s's.
fn dataset_of(task: Task) -> &'static str {
    match task {
        Task::Moodtheme => "autotagging_moodtheme",
        _ => "raw_30s",
    }
}

/// The audio tars of `dataset` (`autotagging_moodtheme` or `raw_30s`), with the SHA-256s of
/// the metadata's `data/download/<dataset>_<kind>_sha256_tars.txt` (`<sha256> <tar name>`).
pub fn audio_remotes(
    root: &Path,
    mirror: Option<&str>,
    dataset: &str,
    kind: AudioKind,
) -> Result<Vec<Remote>> {
    let kind = match kind {
        AudioKind::Audio => "audio",
        AudioKind::AudioLow => "audio-low",
    };
    let list = root.join(format!("data/download/{dataset}_{kind}_sha256_tars.txt"));
    let text = std::fs::read_to_string(&list).map_err(|source| Error::Io {
        path: list.clone(),
        source,
    })?;
    let base = mirror.unwrap_or("https://cdn.freesound.org/mtg-jamendo");
    let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines
        .enumerate()
        .map(|(i, line)| {
            let (sha256, name) =
                line.split_once(char::is_whitespace)
                    .ok_or_else(|| Error::Metadata {
                        path: list.clone(),
                        reason: format!("line {}: expected `<sha256> <tar name>`", i + 1),
                    })?;
            let name = name.trim();
            Ok(Remote {
                url: format!("{base}/{dataset}/{kind}/{name}"),
                filename: name.to_string(),
                size: None,
                md5: None,
                sha256: Some(sha256.to_string()),
                sha1: None,
                extract: false,
            })
        })
        .collect()
}

/// Makes sure the split files and the audio are on disk, downloading them when allowed: the
/// metadata archive (unless `data/` is there, a clone of the repository), then each tar the
/// tasks need into `tars/` (resumed, checked) and unpacked into `audio/` once.
pub fn prepare(config: &MtgJamendoConfig, options: &Options) -> Result<()> {
    let splits = splits_dir(config);
    let audio = config.root.join("audio");
    if splits.is_dir() && audio.is_dir() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: if splits.is_dir() { audio } else { splits },
            hint: "set `download: true`, or clone https://github.com/MTG/mtg-jamendo-dataset \
                   there (its `data/`) and unpack the audio tars (its \
                   scripts/download/download.py) into `audio/`"
                .into(),
        });
    }
    if !splits.is_dir() {
        let metadata = metadata_remote(config.mirror.as_deref());
        fetch(&metadata, &config.root, options)?;
    }
    let datasets: BTreeSet<&str> = config.tasks.iter().map(|t| dataset_of(*t)).collect();
    let tars = config.root.join("tars");
    for dataset in datasets {
        let mirror = config.mirror.as_deref();
        for remote in audio_remotes(&config.root, mirror, dataset, config.audio)? {
            let tar = fetch(&remote, &tars, options)?;
            crate::download::extract_once(&tar, &audio)?;
        }
    }
    Ok(())
}

fn splits_dir(config: &MtgJamendoConfig) -> PathBuf {
    config
        .root
        .join("data/splits")
        .join(format!("split-{}", config.split))
}

/// The configured tasks on the configured split.
pub fn load(config: &MtgJamendoConfig) -> Result<Vec<TaskTracks>> {
    if config.split > 4 {
        return Err(Error::Metadata {
            path: config.root.join("data/splits"),
            reason: format!("split {} does not exist (0 to 4)", config.split),
        });
    }
    config.tasks.iter().map(|t| load_task(config, *t)).collect()
}

fn load_task(config: &MtgJamendoConfig, task: Task) -> Result<TaskTracks> {
    let mut tracks = Vec::new();
    let mut missing = Vec::new();
    for split in PARTS {
        let file = splits_dir(config).join(task.file(&split.to_string()));
        for row in read_split(&file)? {
            let path = audio_path(config, &row.path);
            if !path.is_file() {
                missing.push(path);
                continue;
            }
            let labels = row
                .tags
                .iter()
                .map(|t| match task.category() {
                    Some(c) => t.strip_prefix(&format!("{c}---")).unwrap_or(t).to_string(),
                    None => t.clone(),
                })
                .collect();
            let uri = path.to_string_lossy().into_owned();
            tracks.push(Track {
                track_id: row.id,
                duration_s: uri::track_duration_s(&uri),
                audio_uri: uri,
                split,
                labels,
                targets: None,
                fold: None,
            });
        }
    }
    let mut out = crate::task_tracks(task.name(), TaskType::Multilabel, tracks);
    if !missing.is_empty() {
        if !config.skip_missing_audio {
            return Err(crate::missing_error(
                &missing,
                "unpack the audio tars into `audio/`",
            ));
        }
        out.left_out
            .insert("audio file missing".into(), missing.len());
    }
    Ok(out)
}

/// `audio/NN/<id>.mp3`, or `.low.mp3` for audio-low.
fn audio_path(config: &MtgJamendoConfig, path: &str) -> PathBuf {
    let audio = config.root.join("audio");
    match config.audio {
        AudioKind::Audio => audio.join(path),
        AudioKind::AudioLow => audio.join(path.replace(".mp3", ".low.mp3")),
    }
}

/// A row of a split file.
struct Row {
    id: String,
    path: String,
    tags: Vec<String>,
}

/// The rows of a split TSV: the header checked, CR stripped, the ragged tags read.
fn read_split(file: &Path) -> Result<Vec<Row>> {
    let bad = |line: usize, reason: String| Error::Metadata {
        path: file.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    };
    let text = std::fs::read_to_string(file).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => Error::Missing {
            path: file.to_path_buf(),
            hint: "the split files come from the dataset repository's data/splits/".into(),
        },
        _ => Error::Io {
            path: file.to_path_buf(),
            source,
        },
    })?;
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    if header != HEADER {
        return Err(bad(
            1,
            format!(
                "expected the header `{}`, found `{}`",
                HEADER.join("\\t"),
                header.join("\\t")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 6 {
            return Err(bad(
                i + 2,
                format!("{} fields; a row has 5 and at least one tag", fields.len()),
            ));
        }
        if let Some(t) = fields[5..].iter().find(|t| !t.contains("---")) {
            return Err(bad(i + 2, format!("tag `{t}` is not `<category>---<tag>`")));
        }
        rows.push(Row {
            id: fields[0].to_string(),
            path: fields[3].to_string(),
            tags: fields[5..].iter().map(|t| t.to_string()).collect(),
        });
    }
    Ok(rows)
}
