//! VocalSet (Wilkins et al., Zenodo 1442513): 20 singers, 17 technique folders.
//!
//! Layout: `FULL/<singer>/<context>/<technique>/<file>.wav` with singers `female1`..`female9`,
//! `male1`..`male11`, and `train_singers_technique.txt` / `test_singers_technique.txt` beside
//! `FULL/`. Labels come from the folders, never from file names (which miss the singer prefix
//! in places and mix token orders), and singers are compared whole: `male1` is not `male11`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::split::{SplitConfig, assign, by_group};
use crate::{Error, Result, task_tracks};
use mir_table::{Split, TaskType, Track};

/// The ten techniques of the VocalSet paper's classification task.
pub const TECHNIQUES: [&str; 10] = [
    "belt",
    "breathy",
    "inhaled",
    "lip_trill",
    "spoken",
    "straight",
    "trill",
    "trillo",
    "vibrato",
    "vocal_fry",
];

/// The official test singers of the technique task (`test_singers_technique.txt`), used when
/// the file is absent.
pub const TEST_SINGERS: [&str; 5] = ["female2", "female8", "male3", "male5", "male10"];

/// VocalSet's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Singer identification (20 classes); recordings split stratified by singer.
    Singer,
    /// Technique (10 classes); split by singer, no singer in two splits.
    Technique,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::Singer => "singer",
            Task::Technique => "technique",
        }
    }
}

fn all_tasks() -> Vec<Task> {
    vec![Task::Singer, Task::Technique]
}

fn default_validation() -> f64 {
    0.2
}

/// VocalSet in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocalSetConfig {
    /// Folder holding `FULL/` (the extracted archive).
    pub root: PathBuf,
    /// Fetch the archive from Zenodo (or `mirror`) when missing (2 GB).
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing Zenodo's (a local mirror).
    #[serde(default)]
    pub mirror: Option<String>,
    /// Tasks to build (default: both).
    #[serde(default = "all_tasks")]
    pub tasks: Vec<Task>,
    /// Singer task: split fractions over each singer's recordings.
    #[serde(default)]
    pub split: SplitConfig,
    /// Technique task: the fraction of the training singers held out for validation.
    #[serde(default = "default_validation")]
    pub validation_singers: f64,
}

/// The Zenodo archive (record 1442513, `VocalSet11.zip`; size and MD5 as published there).
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("https://zenodo.org/record/1442513/files");
    vec![Remote {
        url: format!("{base}/VocalSet11.zip?download=1"),
        filename: "VocalSet11.zip".into(),
        size: Some(2_077_243_579),
        md5: Some("0c09396242f946e7111ad7d8fc649b81".into()),
        sha256: None,
        sha1: None,
        extract: true,
    }]
}

/// The folder holding the singers.
fn full(root: &Path) -> PathBuf {
    root.join("FULL")
}

/// Makes sure the dataset is on disk, downloading it when allowed.
pub fn prepare(config: &VocalSetConfig, options: &Options) -> Result<()> {
    if full(&config.root).is_dir() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: full(&config.root),
            hint: format!(
                "set `download: true`, or download VocalSet11.zip from \
                 https://zenodo.org/record/1442513 and extract it into `{}` (it holds `FULL/`)",
                config.root.display()
            ),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// One recording: (singer folder, technique folder, path relative to `FULL/`).
fn recordings(root: &Path) -> Result<Vec<(String, String, PathBuf)>> {
    let base = full(root);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut out = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // macOS resource forks (`__MACOSX/`, `._x.wav`) are not audio.
            if name.starts_with('.') || name == "__MACOSX" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if !name.to_ascii_lowercase().ends_with(".wav") {
                continue;
            }
            let rel = path
                .strip_prefix(&base)
                .expect("walked from base")
                .to_path_buf();
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if let [singer, _context, technique, _file] = parts.as_slice() {
                out.push((singer.clone(), technique.clone(), rel));
            }
        }
    }
    out.sort_by(|a, b| a.2.cmp(&b.2));
    if out.is_empty() {
        return Err(Error::Metadata {
            path: base,
            reason: "no `<singer>/<context>/<technique>/<file>.wav` recording".into(),
        });
    }
    Ok(out)
}

/// The official test singers: `test_singers_technique.txt` (one name per line) when present.
fn test_singers(root: &Path) -> Result<Vec<String>> {
    let path = root.join("test_singers_technique.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .split(['\n', '\r', ','])
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(TEST_SINGERS.iter().map(|s| s.to_string()).collect())
        }
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// Builds one [`TaskTracks`] per configured task.
pub fn load(dataset: &str, config: &VocalSetConfig, seed: u64) -> Result<Vec<TaskTracks>> {
    let recs = recordings(&config.root)?;
    let base = full(&config.root);
    let mut tracks = Vec::with_capacity(recs.len());
    for (_, _, rel) in &recs {
        let path = base.join(rel);
        tracks.push(Track {
            track_id: rel.with_extension("").to_string_lossy().replace('\\', "/"),
            audio_uri: path.to_string_lossy().into_owned(),
            split: Split::Train,
            labels: vec![],
            targets: None,
            duration_s: crate::uri::track_duration_s(&path.to_string_lossy()),
            fold: None,
        });
    }
    let mut tasks = config.tasks.clone();
    tasks.sort();
    tasks.dedup();
    let mut out = Vec::new();
    for task in tasks {
        let selected: Vec<(usize, String, String)> = recs
            .iter()
            .enumerate()
            .filter(|(_, r)| task == Task::Singer || TECHNIQUES.contains(&r.1.as_str()))
            .map(|(i, r)| (i, r.0.clone(), r.1.clone()))
            .collect();
        let splits = match task {
            Task::Singer => {
                let items: Vec<(String, String)> = selected
                    .iter()
                    .map(|(i, singer, _)| (tracks[*i].track_id.clone(), singer.clone()))
                    .collect();
                assign(seed, dataset, &items, &config.split)
            }
            Task::Technique => {
                let singers: Vec<String> = selected.iter().map(|s| s.1.clone()).collect();
                by_group(
                    seed,
                    dataset,
                    &singers,
                    &test_singers(&config.root)?,
                    config.validation_singers,
                )
                .into_iter()
                .map(|s| (s, None))
                .collect()
            }
        };
        let task_tracks_list = selected
            .iter()
            .zip(splits)
            .map(|((i, singer, technique), (split, fold))| Track {
                split,
                fold: fold.map(|f| f as i32),
                labels: vec![match task {
                    Task::Singer => singer.clone(),
                    Task::Technique => technique.clone(),
                }],
                ..tracks[*i].clone()
            })
            .collect();
        out.push(task_tracks(
            task.name(),
            TaskType::Multiclass,
            task_tracks_list,
        ));
    }
    Ok(out)
}

/// The task names of a config.
pub fn task_names(config: &VocalSetConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}
