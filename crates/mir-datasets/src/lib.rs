//! Datasets for mir-ref: put audio on disk, parse its metadata, split it, and write `tracks`.
//!
//! Reads: nothing but the dataset's own files. Writes: one `tracks` table per (dataset, task)
//! through [`tracks_table`]. Dataset audio is decoded by the shared leaf crate `mir-audio`
//! (re-exported as [`audio`]), the one decoder of the workspace.
//!
//! It deliberately knows nothing about embeddings, probes or metrics, and it is the only crate
//! that will touch the network (dataset downloads).
//!
//! The key design decision is that a track's split is a pure function of the experiment seed,
//! the dataset name and the set of track identifiers ([`split::stratified`]): reruns on any
//! machine give the same splits, and no split file needs to travel with the results.
//!
//! Listing a dataset's tracks, here the built-in synthetic one, rendered on first use:
//!
//! ```
//! use mir_datasets::DatasetConfig;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let root = dir.path().join("synth");
//! let yaml = format!(
//!     "{{type: custom, root: '{}', generate: synth_instruments, \
//!      tasks: {{instrument: {{type: multiclass, label_column: instrument}}}}}}",
//!     root.display()
//! );
//! let config: DatasetConfig = serde_yaml::from_str(&yaml).unwrap();
//! config.prepare(&Default::default()).unwrap(); // renders the audio and its metadata CSV
//! let tasks = config.load("synth", 42).unwrap();
//! let instrument = &tasks[0];
//! assert_eq!(instrument.task, "instrument");
//! assert!(instrument.tracks.iter().all(|t| instrument.vocabulary.contains(&t.labels[0])));
//! let (_schema, batch) = mir_datasets::tracks_table("synth", instrument).unwrap();
//! assert_eq!(batch.num_rows(), instrument.tracks.len());
//! ```

pub use mir_audio as audio;
pub mod custom;
pub mod download;
pub mod emomusic;
pub mod fixtures;
pub mod fma;
pub mod gtzan;
pub mod hygiene;
pub mod keys;
pub mod magnatagatune;
pub mod mtg_jamendo;
pub mod nsynth;
mod pyrandom;
pub mod split;
pub mod synth;
pub mod tinysol;
pub mod uri;
pub mod vocalset;

pub use custom::TaskTracks;

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use mir_table::{Metadata, TableKind, vocabulary_json};
use serde::{Deserialize, Serialize};

/// Errors of dataset preparation and audio loading.
///
/// [`Error::Audio`] (a file that cannot be decoded) concerns one track: a caller may record it
/// and continue with the others.
/// Every other error concerns the whole dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An audio file cannot be decoded or resampled.
    #[error(transparent)]
    Audio(#[from] mir_audio::Error),
    /// The dataset's audio folder does not exist.
    #[error("audio folder `{}` does not exist", path.display())]
    MissingAudioDir {
        /// The folder.
        path: PathBuf,
    },
    /// A file listed in the metadata does not exist.
    #[error("audio file `{}` listed at line {line} of `{}` does not exist", path.display(), metadata.display())]
    MissingAudio {
        /// The missing file.
        path: PathBuf,
        /// The metadata file listing it.
        metadata: PathBuf,
        /// Line in the metadata file.
        line: usize,
    },
    /// The metadata file is malformed.
    #[error("metadata `{}`: {reason}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Two entries of a task name the same track.
    #[error(
        "dataset `{dataset}`, task `{task}`: track `{track_id}` is listed {times} times \
         ({others} other ids are repeated too); every track must be listed once"
    )]
    DuplicateTrack {
        /// The dataset.
        dataset: String,
        /// The task.
        task: String,
        /// The first repeated track id.
        track_id: String,
        /// How often it is listed.
        times: usize,
        /// How many other ids repeat.
        others: usize,
    },
    /// A file system operation failed.
    #[error("I/O error on `{}`", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A dataset is not on disk; the hint says how to get it.
    #[error("`{}` is missing: {hint}", path.display())]
    Missing {
        /// What was looked for.
        path: PathBuf,
        /// What the user can do.
        hint: String,
    },
    /// A download failed; the message says what the user can do.
    #[error("cannot download `{url}` to `{}`: {reason}", path.display())]
    Download {
        /// The URL.
        url: String,
        /// The local file.
        path: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A file does not have the size or checksum its dataset declares.
    #[error(transparent)]
    Checksum(Box<ChecksumMismatch>),
    /// An archive cannot be unpacked.
    #[error("cannot unpack archive `{}`: {reason}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Building the `tracks` table failed.
    #[error(transparent)]
    Table(#[from] mir_table::Error),
}

/// The details of [`Error::Checksum`].
#[derive(Debug, thiserror::Error)]
#[error(
    "`{}` (from `{url}`) fails verification: {algorithm} expected {expected}, found {found}; \
     it was moved to `{}` and is not used (delete it and rerun to download again)",
    path.display(), moved_to.display()
)]
pub struct ChecksumMismatch {
    /// The file.
    pub path: PathBuf,
    /// Where it came from.
    pub url: String,
    /// `size`, `MD5` or `SHA-256`.
    pub algorithm: String,
    /// The declared value.
    pub expected: String,
    /// The value of the file.
    pub found: String,
    /// Where the file was moved.
    pub moved_to: PathBuf,
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A dataset, by kind, as written in the experiment config (`type: tinysol`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DatasetConfig {
    /// A folder of audio plus a metadata CSV.
    Custom(custom::CustomConfig),
    /// TinySOL.
    Tinysol(tinysol::TinySolConfig),
    /// VocalSet.
    Vocalset(vocalset::VocalSetConfig),
    /// Beatport EDM key.
    BeatportKey(keys::BeatportConfig),
    /// GiantSteps key (test) with GiantSteps MTG key (train).
    GiantstepsKey(keys::GiantStepsConfig),
    /// GTZAN genre, on the fault-filtered split.
    Gtzan(gtzan::GtzanConfig),
    /// NSynth: instrument family and source, pitch, qualities.
    Nsynth(nsynth::NsynthConfig),
    /// emoMusic: arousal and valence regression.
    Emomusic(emomusic::EmoMusicConfig),
    /// MagnaTagATune: top-50 (or all 188) tags.
    Magnatagatune(magnatagatune::MagnaTagATuneConfig),
    /// MTG-Jamendo autotagging: mood/theme, instrument, genre, top-50, all tags.
    MtgJamendo(mtg_jamendo::MtgJamendoConfig),
    /// FMA: top-level genre, or every genre.
    Fma(fma::FmaConfig),
}

impl DatasetConfig {
    /// Task names defined on the dataset.
    pub fn tasks(&self) -> Vec<String> {
        match self {
            DatasetConfig::Custom(c) => c.tasks.keys().cloned().collect(),
            DatasetConfig::Tinysol(c) => tinysol::task_names(c),
            DatasetConfig::Vocalset(c) => vocalset::task_names(c),
            DatasetConfig::BeatportKey(_) | DatasetConfig::GiantstepsKey(_) => vec!["key".into()],
            DatasetConfig::Gtzan(_) => vec!["genre".into()],
            DatasetConfig::Nsynth(c) => nsynth::task_names(c),
            DatasetConfig::Emomusic(c) => emomusic::task_names(c),
            DatasetConfig::Magnatagatune(_) => vec!["tags".into()],
            DatasetConfig::MtgJamendo(c) => mtg_jamendo::task_names(c),
            DatasetConfig::Fma(c) => fma::task_names(c),
        }
    }

    /// The dataset's folder.
    pub fn root(&self) -> &Path {
        match self {
            DatasetConfig::Custom(c) => &c.root,
            DatasetConfig::Tinysol(c) => &c.root,
            DatasetConfig::Vocalset(c) => &c.root,
            DatasetConfig::BeatportKey(c) => &c.root,
            DatasetConfig::GiantstepsKey(c) => &c.root,
            DatasetConfig::Gtzan(c) => &c.root,
            DatasetConfig::Nsynth(c) => &c.root,
            DatasetConfig::Emomusic(c) => &c.root,
            DatasetConfig::Magnatagatune(c) => &c.root,
            DatasetConfig::MtgJamendo(c) => &c.root,
            DatasetConfig::Fma(c) => &c.root,
        }
    }

    /// The folders the config names (the dataset's root), for a caller that resolves relative
    /// paths against the config they were written in. (A custom dataset's `metadata` is
    /// relative to its root.)
    pub fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        vec![match self {
            DatasetConfig::Custom(c) => &mut c.root,
            DatasetConfig::Tinysol(c) => &mut c.root,
            DatasetConfig::Vocalset(c) => &mut c.root,
            DatasetConfig::BeatportKey(c) => &mut c.root,
            DatasetConfig::GiantstepsKey(c) => &mut c.root,
            DatasetConfig::Gtzan(c) => &mut c.root,
            DatasetConfig::Nsynth(c) => &mut c.root,
            DatasetConfig::Emomusic(c) => &mut c.root,
            DatasetConfig::Magnatagatune(c) => &mut c.root,
            DatasetConfig::MtgJamendo(c) => &mut c.root,
            DatasetConfig::Fma(c) => &mut c.root,
        }]
    }

    /// Makes sure the dataset is on disk: renders, downloads (when the config allows) or
    /// explains what to place where.
    pub fn prepare(&self, options: &download::Options) -> Result<()> {
        match self {
            DatasetConfig::Custom(c) => custom::prepare(c),
            DatasetConfig::Tinysol(c) => tinysol::prepare(c, options),
            DatasetConfig::Vocalset(c) => vocalset::prepare(c, options),
            DatasetConfig::BeatportKey(c) => keys::prepare_beatport(c, options),
            DatasetConfig::GiantstepsKey(c) => keys::prepare_giantsteps(c),
            DatasetConfig::Gtzan(c) => gtzan::prepare(c, options),
            DatasetConfig::Nsynth(c) => nsynth::prepare(c, options),
            DatasetConfig::Emomusic(c) => emomusic::prepare(c, options),
            DatasetConfig::Magnatagatune(c) => magnatagatune::prepare(c, options),
            DatasetConfig::MtgJamendo(c) => mtg_jamendo::prepare(c, options),
            DatasetConfig::Fma(c) => fma::prepare(c, options),
        }
    }

    /// Parses the dataset into one [`custom::TaskTracks`] per task.
    pub fn load(&self, dataset: &str, seed: u64) -> Result<Vec<custom::TaskTracks>> {
        let mut tasks = self.load_all(dataset, seed)?;
        if let Some(n) = self.max_tracks() {
            for task in &mut tasks {
                split::max_tracks(task, n, seed, dataset);
            }
        }
        Ok(tasks)
    }

    /// The `max_tracks` of the tagging datasets' configs.
    fn max_tracks(&self) -> Option<usize> {
        match self {
            DatasetConfig::Magnatagatune(c) => c.max_tracks,
            DatasetConfig::MtgJamendo(c) => c.max_tracks,
            DatasetConfig::Fma(c) => c.max_tracks,
            _ => None,
        }
    }

    fn load_all(&self, dataset: &str, seed: u64) -> Result<Vec<custom::TaskTracks>> {
        match self {
            DatasetConfig::Custom(c) => custom::load(dataset, c, seed),
            DatasetConfig::Tinysol(c) => tinysol::load(c),
            DatasetConfig::Vocalset(c) => vocalset::load(dataset, c, seed),
            DatasetConfig::BeatportKey(c) => Ok(vec![keys::load_beatport(dataset, c, seed)?]),
            DatasetConfig::GiantstepsKey(c) => Ok(vec![keys::load_giantsteps(dataset, c, seed)?]),
            DatasetConfig::Gtzan(c) => gtzan::load(c),
            DatasetConfig::Nsynth(c) => nsynth::load(c),
            DatasetConfig::Emomusic(c) => emomusic::load(c),
            DatasetConfig::Magnatagatune(c) => magnatagatune::load(c),
            DatasetConfig::MtgJamendo(c) => mtg_jamendo::load(c),
            DatasetConfig::Fma(c) => fma::load(c),
        }
    }
}

/// A task's tracks with its vocabulary: the sorted set of labels.
pub(crate) fn task_tracks(
    task: &str,
    task_type: mir_table::TaskType,
    tracks: Vec<mir_table::Track>,
) -> custom::TaskTracks {
    let vocabulary: std::collections::BTreeSet<String> = tracks
        .iter()
        .flat_map(|t| t.labels.iter().cloned())
        .collect();
    custom::TaskTracks {
        task: task.into(),
        task_type,
        vocabulary: vocabulary.into_iter().collect(),
        tracks,
        left_out: Default::default(),
    }
}

/// The error for annotated tracks without audio: how many, the first three, what to do.
pub(crate) fn missing_error(missing: &[PathBuf], how: &str) -> Error {
    let first: Vec<String> = (missing.iter().take(3))
        .map(|p| format!("`{}`", p.display()))
        .collect();
    Error::Missing {
        path: missing[0].clone(),
        hint: format!(
            "{} ({}{}); {how}, or set `skip_missing_audio: true`",
            match missing.len() {
                1 => "1 annotated track has no audio".to_string(),
                n => format!("{n} annotated tracks have no audio"),
            },
            first.join(", "),
            if missing.len() > 3 { ", ..." } else { "" }
        ),
    }
}

/// Builds the `tracks` table of one task; a track listed twice is an error naming it.
pub fn tracks_table(dataset: &str, task: &custom::TaskTracks) -> Result<(SchemaRef, RecordBatch)> {
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for t in &task.tracks {
        *seen.entry(&t.track_id).or_default() += 1;
    }
    let mut repeated = seen.iter().filter(|(_, n)| **n > 1);
    if let Some((id, &times)) = repeated.next() {
        return Err(Error::DuplicateTrack {
            dataset: dataset.into(),
            task: task.task.clone(),
            track_id: (*id).into(),
            times,
            others: repeated.count(),
        });
    }
    let meta = Metadata::new()
        .with(mir_table::keys::DATASET, dataset)
        .with(mir_table::keys::TASK, &task.task)
        .with(mir_table::keys::TASK_TYPE, task.task_type)
        .with(
            mir_table::keys::LABEL_VOCABULARY,
            vocabulary_json(&task.vocabulary),
        );
    let schema = TableKind::Tracks.schema(0, &meta)?;
    let batch = mir_table::tracks_batch(&schema, &task.tracks)?;
    Ok((schema, batch))
}
