//! FMA, the Free Music Archive dataset (Defferrard et al. 2017): `fma_metadata/` (its
//! `tracks.csv` and `genres.csv`) beside the audio of one subset, `fma_small/` (8,000 clips of
//! 30 s, 8 balanced top genres), `fma_medium/` (25,000, 16) or `fma_large/` (106,574), as
//! `NNN/NNNNNN.mp3` (the six-digit track id, its first three digits the folder).
//!
//! `tracks.csv` is pandas' CSV of a frame with two column levels: three header lines (the
//! level-0 names, the level-1 names, then `track_id` alone), quoted free text (an artist's bio
//! holds commas and newlines), lists as Python literals (`[21, 12]`). Subsets are cumulative
//! (medium holds small's tracks). Tasks: `genre_top` (multiclass over the subset's top-level
//! genres; a track whose genres span several roots has none and is left out) and `genres`
//! (multilabel over every genre of `('track', 'genres_all')`, ancestors included, by title).
//! The split is the official `('set', 'split')`: `training`, `validation`, `test`
//! (artist-disjoint, 80/10/10 per genre). Files known to hold no audio are left out, counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, fetch};
use crate::{Error, Result, uri};

/// The audio subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subset {
    /// 8,000 clips, 8 genres.
    #[default]
    Small,
    /// 25,000 clips, 16 genres.
    Medium,
    /// 106,574 clips, 161 genres.
    Large,
}

impl Subset {
    fn name(self) -> &'static str {
        match self {
            Subset::Small => "small",
            Subset::Medium => "medium",
            Subset::Large => "large",
        }
    }

    /// The archive's SHA-1 (mdeff/fma's README).
    fn sha1(self) -> &'static str {
        match self {
            Subset::Small => "ade154f733639d52e35e32f5593efe5be76c6d70",
            Subset::Medium => "c67b69ea232021025fca9231fc1c7c1a063ab50b",
            Subset::Large => "497109f4dd721066b5ce5e5f250ec604dc78939e",
        }
    }
}

/// A task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// The top-level genre (multiclass).
    GenreTop,
    /// Every genre, ancestors included (multilabel).
    Genres,
}

impl Task {
    /// The task's name.
    pub fn name(self) -> &'static str {
        match self {
            Task::GenreTop => "genre_top",
            Task::Genres => "genres",
        }
    }
}

/// Track ids whose files hold no audio (mdeff/fma issues #44 and #70; `133297` is 1,752
/// bytes in `fma_large`, issue #4).
pub const NO_AUDIO: [u32; 3] = [99134, 108925, 133297];

/// FMA in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FmaConfig {
    /// Folder holding `fma_metadata/` and `fma_<subset>/`.
    pub root: PathBuf,
    /// The subset (`small`, the default, `medium`, `large`).
    #[serde(default)]
    pub subset: Subset,
    /// Tasks to build (default: genre_top).
    #[serde(default = "default_tasks")]
    pub tasks: Vec<Task>,
    /// Fetch `fma_metadata.zip` and the subset's archive (from `mirror`, else SWITCH's object
    /// store), check their SHA-1 and unpack them.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing `https://os.unil.cloud.switch.ch/fma`.
    #[serde(default)]
    pub mirror: Option<String>,
    /// Leave out tracks whose audio is missing (beyond [`NO_AUDIO`]), instead of failing.
    #[serde(default)]
    pub skip_missing_audio: bool,
    /// At most this many tracks per split, the same on every machine, keeping every tag of
    /// the split present where the number allows: a quick run on a large dataset.
    #[serde(default)]
    pub max_tracks: Option<usize>,
}

fn default_tasks() -> Vec<Task> {
    vec![Task::GenreTop]
}

/// Task names of the config.
pub fn task_names(config: &FmaConfig) -> Vec<String> {
    config.tasks.iter().map(|t| t.name().to_string()).collect()
}

/// The metadata archive and the subset's, with their SHA-1s.
pub fn remotes(mirror: Option<&str>, subset: Subset) -> Vec<Remote> {
    let base = mirror.unwrap_or("https://os.unil.cloud.switch.ch/fma");
    let remote = |file: String, sha1: &str| Remote {
        url: format!("{base}/{file}"),
        filename: file,
        size: None,
        md5: None,
        sha256: None,
        sha1: Some(sha1.into()),
        extract: true,
    };
    vec![
        remote(
            "fma_metadata.zip".into(),
            "f0df49ffe5f2a6008d7dc83c6915b31835dfe733",
        ),
        remote(format!("fma_{}.zip", subset.name()), subset.sha1()),
    ]
}

fn tracks_csv(root: &Path) -> PathBuf {
    root.join("fma_metadata/tracks.csv")
}

fn audio_dir(config: &FmaConfig) -> PathBuf {
    config.root.join(format!("fma_{}", config.subset.name()))
}

/// Makes sure the metadata and the subset's audio are on disk, downloading them when allowed.
pub fn prepare(config: &FmaConfig, options: &Options) -> Result<()> {
    if tracks_csv(&config.root).is_file() && audio_dir(config).is_dir() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: tracks_csv(&config.root),
            hint: format!(
                "set `download: true`, or unzip fma_metadata.zip and fma_{}.zip from \
                 https://github.com/mdeff/fma there (7-Zip where unzip fails)",
                config.subset.name()
            ),
        });
    }
    for remote in remotes(config.mirror.as_deref(), config.subset) {
        fetch(&remote, &config.root, options)?;
    }
    Ok(())
}

/// The configured tasks on the official split of the subset.
pub fn load(config: &FmaConfig) -> Result<Vec<TaskTracks>> {
    let titles = genre_titles(&config.root.join("fma_metadata/genres.csv"))?;
    let rows = read_tracks(&tracks_csv(&config.root), &titles)?;
    let in_subset: Vec<&Row> = rows.iter().filter(|r| r.subset <= config.subset).collect();
    let audio = audio_dir(config);
    let mut present = Vec::new();
    let (mut missing, mut no_audio) = (Vec::new(), 0);
    for row in in_subset {
        let path = audio.join(format!("{:03}/{:06}.mp3", row.id / 1000, row.id));
        if NO_AUDIO.contains(&row.id) {
            no_audio += 1;
        } else if path.is_file() {
            present.push((row, path));
        } else {
            missing.push(path);
        }
    }
    if !missing.is_empty() && !config.skip_missing_audio {
        let how = format!(
            "unzip fma_{}.zip into the dataset folder",
            config.subset.name()
        );
        return Err(crate::missing_error(&missing, &how));
    }
    let tasks = config.tasks.iter().map(|task| {
        let mut out = task_of(*task, &present);
        let counts = [
            ("known to hold no audio", no_audio),
            ("audio file missing", missing.len()),
        ];
        for (why, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
            out.left_out.insert(why.into(), n);
        }
        out
    });
    Ok(tasks.collect())
}

fn task_of(task: Task, present: &[(&Row, PathBuf)]) -> TaskTracks {
    let mut tracks = Vec::new();
    let mut no_top = 0;
    for (row, path) in present {
        let labels = match (task, &row.genre_top) {
            (Task::GenreTop, Some(top)) => vec![top.clone()],
            (Task::GenreTop, None) => {
                no_top += 1;
                continue;
            }
            (Task::Genres, _) => row.genres_all.clone(),
        };
        let uri = path.to_string_lossy().into_owned();
        tracks.push(Track {
            track_id: format!("{:06}", row.id),
            duration_s: uri::track_duration_s(&uri),
            audio_uri: uri,
            split: row.split,
            labels,
            targets: None,
            fold: None,
        });
    }
    let task_type = match task {
        Task::GenreTop => TaskType::Multiclass,
        Task::Genres => TaskType::Multilabel,
    };
    let mut out = crate::task_tracks(task.name(), task_type, tracks);
    if no_top > 0 {
        out.left_out
            .insert("no single top-level genre".into(), no_top);
    }
    out
}

/// A track of `tracks.csv`, as the tasks need it.
struct Row {
    id: u32,
    subset: Subset,
    split: Split,
    genre_top: Option<String>,
    genres_all: Vec<String>,
}

fn bad(path: &Path, line: u64, reason: String) -> Error {
    Error::Metadata {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    }
}

/// `genres.csv`: genre id to title.
fn genre_titles(path: &Path) -> Result<BTreeMap<u32, String>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(path, 1, e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| bad(path, 1, e.to_string()))?
        .clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| bad(path, 1, format!("no `{name}` column")))
    };
    let (id, title) = (col("genre_id")?, col("title")?);
    let mut titles = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(path, 0, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let gid = record[id].parse().map_err(|_| {
            bad(
                path,
                line,
                format!("genre_id `{}` is no number", &record[id]),
            )
        })?;
        titles.insert(gid, record[title].to_string());
    }
    Ok(titles)
}

/// The columns of `tracks.csv`'s two header levels that the tasks read.
struct Columns {
    subset: usize,
    split: usize,
    genre_top: usize,
    genres_all: usize,
}

/// Finds the columns from the first two header lines (level 0, level 1; the third holds
/// `track_id` alone).
fn columns(path: &Path, level0: &csv::StringRecord, level1: &csv::StringRecord) -> Result<Columns> {
    let find = |a: &str, b: &str| {
        (0..level0.len())
            .find(|&i| level0.get(i) == Some(a) && level1.get(i) == Some(b))
            .ok_or_else(|| {
                bad(
                    path,
                    1,
                    format!("no column ('{a}', '{b}') in the two header lines"),
                )
            })
    };
    Ok(Columns {
        subset: find("set", "subset")?,
        split: find("set", "split")?,
        genre_top: find("track", "genre_top")?,
        genres_all: find("track", "genres_all")?,
    })
}

fn read_tracks(path: &Path, titles: &BTreeMap<u32, String>) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad(path, 1, e.to_string()))?;
    let mut records = reader.records();
    let mut next_header = |line: u64| {
        records
            .next()
            .ok_or_else(|| {
                bad(
                    path,
                    line,
                    "tracks.csv ends inside its three header lines".into(),
                )
            })?
            .map_err(|e| bad(path, line, e.to_string()))
    };
    let (level0, level1, index) = (next_header(1)?, next_header(2)?, next_header(3)?);
    if index.get(0) != Some("track_id") {
        let found = index.get(0).unwrap_or_default().to_string();
        return Err(bad(
            path,
            3,
            format!("expected `track_id` (pandas' index line), found `{found}`"),
        ));
    }
    let cols = columns(path, &level0, &level1)?;
    let mut rows = Vec::new();
    for record in records {
        let record = record.map_err(|e| bad(path, 0, e.to_string()))?;
        rows.push(row(path, &record, &cols, titles)?);
    }
    Ok(rows)
}

fn row(
    path: &Path,
    record: &csv::StringRecord,
    cols: &Columns,
    titles: &BTreeMap<u32, String>,
) -> Result<Row> {
    let line = record.position().map_or(0, |p| p.line());
    let field = |i: usize| record.get(i).unwrap_or_default();
    let id = field(0)
        .parse()
        .map_err(|_| bad(path, line, format!("track_id `{}` is no number", field(0))))?;
    let subset = match field(cols.subset) {
        "small" => Subset::Small,
        "medium" => Subset::Medium,
        "large" => Subset::Large,
        other => {
            return Err(bad(
                path,
                line,
                format!("('set', 'subset') `{other}` is not small, medium or large"),
            ));
        }
    };
    let split = match field(cols.split) {
        "training" => Split::Train,
        "validation" => Split::Validation, // tidy: not a split (FMA's word)
        "test" => Split::Test,             // tidy: not a split (FMA's word)
        other => {
            return Err(bad(
                path,
                line,
                format!("('set', 'split') `{other}` is not training, validation or test"),
            ));
        }
    };
    let genre_top = Some(field(cols.genre_top))
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    let ids = python_int_list(field(cols.genres_all)).ok_or_else(|| {
        bad(
            path,
            line,
            format!(
                "('track', 'genres_all') `{}` is not a list of ids",
                field(cols.genres_all)
            ),
        )
    })?;
    let genres_all = ids
        .iter()
        .map(|g| {
            titles
                .get(g)
                .cloned()
                .ok_or_else(|| bad(path, line, format!("genre {g} is not in genres.csv")))
        })
        .collect::<Result<_>>()?;
    Ok(Row {
        id,
        subset,
        split,
        genre_top,
        genres_all,
    })
}

/// A Python list literal of integers (`[21, 12]`, `[]`).
fn python_int_list(text: &str) -> Option<Vec<u32>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}
