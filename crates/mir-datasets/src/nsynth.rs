//! NSynth (Engel et al. 2017): 305,979 four-second notes at 16 kHz in three official splits,
//! `nsynth-{train,valid,test}/examples.json` (one object keyed by `note_str`) and
//! `nsynth-<split>/audio/<note_str>.wav`. The instruments of the validation and test splits
//! are not in the training split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::{Error, Result, uri};

/// The ten qualities, in the order of the `qualities` bit vector (`tempo-synced` with its
/// hyphen, as the dataset spells it).
pub const QUALITIES: [&str; 10] = [
    "bright",
    "dark",
    "distortion",
    "fast_decay",
    "long_release",
    "multiphonic",
    "nonlinear_env",
    "percussive",
    "reverb",
    "tempo-synced",
];

/// The official splits: (split, folder, MD5 of its `.jsonwav.tar.gz` as HEAR pins it).
const SPLITS: [(Split, &str, &str); 3] = [
    (
        Split::Train,
        "nsynth-train",
        "fde6665a93865503ba598b9fac388660",
    ),
    (
        Split::Validation,
        "nsynth-valid",
        "87e94a00a19b6dbc99cf6d4c0c0cae87",
    ),
    (
        Split::Test,
        "nsynth-test",
        "5e6f8719bf7e16ad0a00d518b78af77d",
    ),
];

/// NSynth's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Instrument family (11: bass, brass, ..., vocal), `instrument_family_str`.
    InstrumentFamily,
    /// How the sound was made (3: acoustic, electronic, synthetic).
    InstrumentSource,
    /// MIDI pitch: 21 to 108 (HEAR's 88 piano keys) or, with `pitch_range: all`, 9 to 120.
    Pitch,
    /// The note's qualities (multilabel, 10; a note may have none).
    Qualities,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::InstrumentFamily => "instrument_family",
            Task::InstrumentSource => "instrument_source",
            Task::Pitch => "pitch",
            Task::Qualities => "qualities",
        }
    }
}

/// The pitches of the pitch task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PitchRange {
    /// MIDI 21 to 108, HEAR's `nsynth_pitch` (88 classes).
    #[default]
    Hear,
    /// Every pitch of the dataset, MIDI 9 to 120.
    All,
}

fn all_tasks() -> Vec<Task> {
    vec![
        Task::InstrumentFamily,
        Task::InstrumentSource,
        Task::Pitch,
        Task::Qualities,
    ]
}

/// NSynth in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NsynthConfig {
    /// Folder holding `nsynth-train/`, `nsynth-valid/`, `nsynth-test/`.
    pub root: PathBuf,
    /// Fetch the three archives (22 GB for the training split) from Magenta (or `mirror`).
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing Magenta's.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Tasks to build (default: all four).
    #[serde(default = "all_tasks")]
    pub tasks: Vec<Task>,
    /// The pitches of the pitch task.
    #[serde(default)]
    pub pitch_range: PitchRange,
    /// At most this many notes per split, the same ones on every machine (those whose
    /// `note_str` has the smallest SHA-256): the training split has 289,205.
    #[serde(default)]
    pub max_tracks: Option<usize>,
}

/// The archives, with their MD5s.
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("http://download.magenta.tensorflow.org/datasets/nsynth");
    SPLITS
        .iter()
        .map(|(_, folder, md5)| Remote {
            url: format!("{base}/{folder}.jsonwav.tar.gz"),
            filename: format!("{folder}.jsonwav.tar.gz"),
            size: None,
            md5: Some((*md5).into()),
            sha256: None,
            sha1: None,
            extract: true,
        })
        .collect()
}

/// Makes sure the three splits are on disk, downloading them when allowed.
pub fn prepare(config: &NsynthConfig, options: &Options) -> Result<()> {
    let missing: Vec<&str> = (SPLITS.iter())
        .map(|(_, folder, _)| *folder)
        .filter(|f| !config.root.join(f).join("examples.json").is_file())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: config.root.join(missing[0]).join("examples.json"),
            hint: "set `download: true`, or download nsynth-{train,valid,test}.jsonwav.tar.gz \
                   from https://magenta.tensorflow.org/datasets/nsynth and extract them there"
                .into(),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// The fields of an `examples.json` entry that the tasks use.
#[derive(Debug, Deserialize)]
struct Example {
    pitch: u8,
    instrument_family_str: String,
    instrument_source_str: String,
    qualities_str: Vec<String>,
}

/// Task names of the config.
pub fn task_names(config: &NsynthConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}

/// Parses the three splits into one [`TaskTracks`] per configured task.
pub fn load(config: &NsynthConfig) -> Result<Vec<TaskTracks>> {
    let mut notes = Vec::new();
    for (split, folder, _) in SPLITS {
        notes.extend(load_split(config, split, folder)?);
    }
    let mut tasks = config.tasks.clone();
    tasks.sort();
    tasks.dedup();
    Ok(tasks
        .into_iter()
        .map(|task| task_of(config, task, &notes))
        .collect())
}

/// One split's notes (at most `max_tracks`), each with its example.
fn load_split(config: &NsynthConfig, split: Split, folder: &str) -> Result<Vec<(Track, Example)>> {
    let path = config.root.join(folder).join("examples.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let examples: BTreeMap<String, Example> =
        serde_json::from_str(&text).map_err(|e| Error::Metadata {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let mut entries: Vec<(String, Example)> = examples.into_iter().collect();
    if let Some(n) = config.max_tracks {
        entries.sort_by_cached_key(|(name, _)| mir_audio::sha256_hex(name.as_bytes()));
        entries.truncate(n);
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (name, example) in entries {
        let audio = config
            .root
            .join(folder)
            .join("audio")
            .join(format!("{name}.wav"));
        if !audio.is_file() {
            return Err(missing(&audio, &path, &text, &name));
        }
        let uri = audio.to_string_lossy().into_owned();
        let track = Track {
            track_id: name,
            duration_s: uri::track_duration_s(&uri),
            audio_uri: uri,
            split,
            labels: vec![],
            targets: None,
            fold: None,
        };
        out.push((track, example));
    }
    Ok(out)
}

/// A missing note's file, with the line of `examples.json` that lists it.
fn missing(audio: &Path, metadata: &Path, text: &str, name: &str) -> Error {
    let key = format!("\"{name}\":");
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(&key))
        .map_or(0, |i| i + 1);
    Error::MissingAudio {
        path: audio.to_path_buf(),
        metadata: metadata.to_path_buf(),
        line,
    }
}

/// The tracks of `task`: the pitch task keeps the configured range, the qualities task has
/// all ten qualities in its vocabulary.
fn task_of(config: &NsynthConfig, task: Task, notes: &[(Track, Example)]) -> TaskTracks {
    let (low, high) = match config.pitch_range {
        PitchRange::Hear => (21, 108),
        PitchRange::All => (9, 120),
    };
    let tracks: Vec<Track> = notes
        .iter()
        .filter(|(_, e)| task != Task::Pitch || (low..=high).contains(&e.pitch))
        .map(|(t, e)| Track {
            labels: match task {
                Task::InstrumentFamily => vec![e.instrument_family_str.clone()],
                Task::InstrumentSource => vec![e.instrument_source_str.clone()],
                Task::Pitch => vec![e.pitch.to_string()],
                Task::Qualities => e.qualities_str.clone(),
            },
            ..t.clone()
        })
        .collect();
    let task_type = match task {
        Task::Qualities => TaskType::Multilabel,
        _ => TaskType::Multiclass,
    };
    let mut out = crate::task_tracks(task.name(), task_type, tracks);
    if task == Task::Qualities {
        out.vocabulary = QUALITIES.iter().map(|q| q.to_string()).collect();
        out.vocabulary.sort();
    }
    out
}
