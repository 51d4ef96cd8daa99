//! TinySOL (Cella et al., Zenodo 3685367): 2,913 single notes of 14 orchestral instruments,
//! with the official 5-fold split.
//!
//! Layout: `TinySOL_metadata.csv` (CRLF; header `Path,Fold,Family,Instrument (abbr.),Instrument
//! (in full),...,Pitch,...`) beside the extracted `TinySOL.tar.gz`, whose entries are
//! `<Family>/<Instrument>/ordinario/<Abbr>-ord-<Pitch>-<Dynamics>-<Instance>-<Retune>.wav`
//! (mirdata keeps them under `audio/`; both are accepted).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::split::fold_split;
use crate::{Error, Result, task_tracks};
use mir_table::{TaskType, Track};

/// The metadata file's name.
pub const METADATA: &str = "TinySOL_metadata.csv";

/// TinySOL's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// 14 instruments (`Instrument (in full)`).
    Instrument,
    /// 12 pitch classes, octave stripped (`F#1` -> `F#`).
    PitchClass,
    /// The octave of the note (`F#1` -> `1`): the instrument's register.
    Register,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::Instrument => "instrument",
            Task::PitchClass => "pitch_class",
            Task::Register => "register",
        }
    }
}

fn all_tasks() -> Vec<Task> {
    vec![Task::Instrument, Task::PitchClass, Task::Register]
}

fn default_validation_fold() -> Option<u32> {
    None
}

/// TinySOL in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TinySolConfig {
    /// Folder holding `TinySOL_metadata.csv` and the extracted audio.
    pub root: PathBuf,
    /// Fetch the archive and the metadata from Zenodo (or `mirror`) when missing.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing Zenodo's (a local mirror).
    #[serde(default)]
    pub mirror: Option<String>,
    /// Render the synthetic TinySOL-layout fixture ([`crate::fixtures::tinysol`]) into `root`
    /// when `root` does not exist (never into an existing folder).
    #[serde(default)]
    pub fixture: bool,
    /// Tasks to build (default: all three).
    #[serde(default = "all_tasks")]
    pub tasks: Vec<Task>,
    /// The official fold held out for testing (0 to 4).
    #[serde(default)]
    pub test_fold: u32,
    /// The fold used for validation (default: the one after `test_fold`).
    #[serde(default = "default_validation_fold")]
    pub validation_fold: Option<u32>,
}

/// The Zenodo files, with their MD5s (as published; mirdata's `tinysol.py`).
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("https://zenodo.org/record/3685367/files");
    vec![
        Remote {
            url: format!("{base}/TinySOL.tar.gz?download=1"),
            filename: "TinySOL.tar.gz".into(),
            size: None,
            md5: Some("36030a7fe389da86c3419e5ee48e3b7f".into()),
            sha256: None,
            sha1: None,
            extract: true,
        },
        Remote {
            url: format!("{base}/TinySOL_metadata.csv?download=1"),
            filename: METADATA.into(),
            size: None,
            md5: Some("a86c9bb115f69e61f2f25872e397fc4a".into()),
            sha256: None,
            sha1: None,
            extract: false,
        },
    ]
}

/// Notes per instrument of the fixture rendered by `fixture: true`.
pub const FIXTURE_NOTES: usize = 20;

/// Makes sure the dataset is on disk, downloading it when allowed.
pub fn prepare(config: &TinySolConfig, options: &Options) -> Result<()> {
    if config.root.join(METADATA).is_file() {
        return Ok(());
    }
    if config.fixture && !config.root.exists() {
        // Rendered beside the target and renamed when complete, so an interrupted run leaves
        // no half-written dataset behind.
        let mut partial = config.root.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let _ = std::fs::remove_dir_all(&partial);
        let n = crate::fixtures::tinysol(&partial, FIXTURE_NOTES)?;
        std::fs::rename(&partial, &config.root).map_err(|source| Error::Io {
            path: config.root.clone(),
            source,
        })?;
        tracing::info!(files = n, root = %config.root.display(), "rendered the TinySOL fixture");
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: config.root.join(METADATA),
            hint: format!(
                "set `download: true`, or download TinySOL.tar.gz and {METADATA} from \
                 https://zenodo.org/record/3685367, extract the archive into `{}` and put the \
                 CSV beside it",
                config.root.display()
            ),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// The audio file `rel` of the metadata: under the folder the first file was found in (the
/// root, `audio/` or `TinySOL/`, as the archives unpack), which `base` remembers; `None` when
/// it is not there.
fn locate(config: &TinySolConfig, base: &mut Option<PathBuf>, rel: &str) -> Option<PathBuf> {
    if base.is_none() {
        let candidates = [
            config.root.clone(),
            config.root.join("audio"),
            config.root.join("TinySOL"),
        ];
        *base = Some(candidates.into_iter().find(|b| b.join(rel).is_file())?);
    }
    let path = base.as_ref()?.join(rel);
    path.is_file().then_some(path)
}

/// Parses the metadata into one [`TaskTracks`] per configured task.
pub fn load(config: &TinySolConfig) -> Result<Vec<TaskTracks>> {
    let metadata = config.root.join(METADATA);
    let bad = |reason: String| Error::Metadata {
        path: metadata.clone(),
        reason,
    };
    if config.test_fold > 4 {
        return Err(bad(format!(
            "test_fold {} is not a fold (0 to 4)",
            config.test_fold
        )));
    }
    let validation_fold = config.validation_fold.unwrap_or((config.test_fold + 1) % 5);
    let mut reader = csv::Reader::from_path(&metadata).map_err(|e| bad(e.to_string()))?;
    let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(format!("no column `{name}`")))
    };
    let (path_c, fold_c, inst_c, pitch_c) = (
        col("Path")?,
        col("Fold")?,
        col("Instrument (in full)")?,
        col("Pitch")?,
    );
    let mut base: Option<PathBuf> = None;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let line = i + 2;
        let rel = record[path_c].trim().trim_start_matches("./");
        let audio_path = locate(config, &mut base, rel).ok_or_else(|| Error::MissingAudio {
            path: base.as_ref().unwrap_or(&config.root).join(rel),
            metadata: metadata.clone(),
            line,
        })?;
        let fold: u32 = record[fold_c].trim().parse().map_err(|_| {
            bad(format!(
                "line {line}: fold `{}` is not a number",
                &record[fold_c]
            ))
        })?;
        let pitch = record[pitch_c].trim();
        let (pitch_class, octave) = split_pitch(pitch)
            .ok_or_else(|| bad(format!("line {line}: pitch `{pitch}` is not like `F#1`")))?;
        let track = Track {
            track_id: Path::new(rel)
                .with_extension("")
                .to_string_lossy()
                .into_owned(),
            audio_uri: audio_path.to_string_lossy().into_owned(),
            split: fold_split(fold, config.test_fold, validation_fold),
            labels: vec![],
            targets: None,
            duration_s: crate::uri::track_duration_s(&audio_path.to_string_lossy()),
            fold: Some(fold as i32),
        };
        rows.push((
            track,
            BTreeMap::from([
                (Task::Instrument, record[inst_c].trim().to_string()),
                (Task::PitchClass, pitch_class.to_string()),
                (Task::Register, octave.to_string()),
            ]),
        ));
    }
    let mut tasks = config.tasks.clone();
    tasks.sort();
    tasks.dedup();
    Ok(tasks
        .into_iter()
        .map(|task| {
            let tracks = rows
                .iter()
                .map(|(t, labels)| Track {
                    labels: vec![labels[&task].clone()],
                    ..t.clone()
                })
                .collect();
            task_tracks(task.name(), TaskType::Multiclass, tracks)
        })
        .collect())
}

/// `F#1` -> (`F#`, `1`); `C-1` -> (`C`, `-1`).
fn split_pitch(pitch: &str) -> Option<(&str, &str)> {
    let at = pitch.find(|c: char| c.is_ascii_digit() || c == '-')?;
    let (class, octave) = pitch.split_at(at);
    (!class.is_empty() && octave.parse::<i32>().is_ok()).then_some((class, octave))
}

/// The task names of a config.
pub fn task_names(config: &TinySolConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitches_split_into_class_and_octave() {
        assert_eq!(split_pitch("F#1"), Some(("F#", "1")));
        assert_eq!(split_pitch("C8"), Some(("C", "8")));
        assert_eq!(split_pitch("A#-1"), Some(("A#", "-1")));
        assert_eq!(split_pitch("X"), None);
    }
}
