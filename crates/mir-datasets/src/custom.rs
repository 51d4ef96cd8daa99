//! Custom datasets: a folder of audio plus a metadata CSV (path, label columns, optional split).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::split::{SplitConfig, assign};
use mir_table::{Split, TaskType, Track};

use crate::{Error, Result};

/// A dataset described by a metadata CSV.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomConfig {
    /// Folder holding the audio; CSV paths are relative to it.
    pub root: PathBuf,
    /// The metadata CSV, relative to `root` unless absolute. Must have a `path` column.
    #[serde(default = "default_metadata")]
    pub metadata: PathBuf,
    /// Render a built-in synthetic dataset into `root` when its metadata is missing.
    #[serde(default)]
    pub generate: Option<Generator>,
    /// The tasks defined on this dataset, by name.
    pub tasks: BTreeMap<String, TaskConfig>,
    /// Split fractions, used when the CSV has no `split` column.
    #[serde(default)]
    pub split: SplitConfig,
    /// The column whose values stratify the split; default: the first task's label column.
    #[serde(default)]
    pub stratify_by: Option<String>,
    /// Where labels come from: the metadata CSV (default), or one folder per class under `root`
    /// (then the label column is `class` and the path column `path`, as if from a CSV).
    #[serde(default)]
    pub layout: Layout,
}

/// How a custom dataset states its labels.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A metadata CSV with a `path` column and label columns.
    #[default]
    Csv,
    /// `root/<class>/.../<file>`: the first folder below `root` is the label (column `class`).
    ClassFolders,
}

/// The metadata of a class-folder dataset as CSV text (`path,class`), files sorted.
fn class_folder_csv(root: &Path) -> Result<String> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let audio_ext = ["wav", "flac", "mp3", "ogg", "m4a", "aac"];
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let p = entry.map_err(io(&dir))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| audio_ext.contains(&e.to_ascii_lowercase().as_str()))
            {
                let rel = p
                    .strip_prefix(root)
                    .expect("walked from root")
                    .to_path_buf();
                if rel.components().count() >= 2 {
                    files.push(rel);
                }
            }
        }
    }
    files.sort();
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| Error::Metadata {
        path: root.to_path_buf(),
        reason: e.to_string(),
    };
    w.write_record(["path", "class"]).map_err(bad)?;
    for rel in files {
        let class = rel
            .components()
            .next()
            .expect("at least two components")
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let path = rel.to_string_lossy().replace('\\', "/");
        w.write_record([path.as_str(), class.as_str()])
            .map_err(bad)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Metadata {
        path: root.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn default_metadata() -> PathBuf {
    PathBuf::from("metadata.csv")
}

/// Built-in generated datasets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// [`crate::synth`]: 4 instruments x 12 pitch classes x 5 octaves.
    SynthInstruments,
}

/// One task on a dataset.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// The kind of task.
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// The CSV column holding the label (multiclass) or the `;`-separated labels (multilabel).
    pub label_column: String,
}

/// Tracks of one task, with the class vocabulary in index order.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTracks {
    /// Task name.
    pub task: String,
    /// Task type.
    pub task_type: TaskType,
    /// Class names in index order: sorted, unless the dataset has a standard order
    /// (MagnaTagATune's top 50, emoMusic's targets).
    pub vocabulary: Vec<String>,
    /// One entry per track.
    pub tracks: Vec<Track>,
    /// Tracks of the dataset the task's protocol leaves out, by reason: how many.
    pub left_out: std::collections::BTreeMap<String, usize>,
}

impl CustomConfig {
    /// Whether `root` is an object-store URL (`s3://bucket/prefix`): the metadata CSV and the
    /// audio are read from the bucket, the audio by ranged GETs, and nothing is copied.
    pub fn on_object_store(&self) -> bool {
        mir_table::remote::is_url(&self.root.to_string_lossy())
    }

    /// A dataset on a bucket has its metadata CSV there, and is not generated nor laid out in
    /// class folders (which would need listing).
    fn check_remote(&self) -> Result<()> {
        let metadata = self.metadata_path();
        let reason = match (self.generate, self.layout) {
            (Some(_), _) => "a generated dataset is rendered into a local folder, not a bucket",
            (None, Layout::ClassFolders) => {
                "class folders are read from a local folder; on a bucket, list the files in a metadata CSV"
            }
            (None, Layout::Csv) => {
                return crate::uri::exists(&metadata.to_string_lossy())?
                    .then_some(())
                    .ok_or_else(|| Error::Io {
                        path: metadata.clone(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "metadata CSV not found",
                        ),
                    });
            }
        };
        Err(metadata_error(&self.root, reason.to_string()))
    }

    /// Where the metadata CSV lives.
    pub fn metadata_path(&self) -> PathBuf {
        if self.metadata.is_absolute() {
            self.metadata.clone()
        } else {
            self.root.join(&self.metadata)
        }
    }
}

/// Makes sure the dataset is on disk: renders a generated dataset when its metadata is missing,
/// and otherwise checks that `root` and the metadata exist.
pub fn prepare(config: &CustomConfig) -> Result<()> {
    if config.on_object_store() {
        return config.check_remote();
    }
    let metadata = config.metadata_path();
    if metadata.is_file() || (config.layout == Layout::ClassFolders && config.root.is_dir()) {
        return Ok(());
    }
    match config.generate {
        Some(Generator::SynthInstruments) => {
            crate::synth::render(&config.root, &crate::synth::SynthConfig::default())?;
            Ok(())
        }
        None if !config.root.is_dir() => Err(Error::MissingAudioDir {
            path: config.root.clone(),
        }),
        None => Err(Error::Io {
            path: metadata,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "metadata CSV not found"),
        }),
    }
}

/// The metadata CSV's text, from a file or an object.
fn read_metadata(path: &Path) -> Result<String> {
    let location = path.to_string_lossy();
    let bytes = match mir_table::remote::is_url(&location) {
        true => mir_table::remote::get(&location)?.to_vec(),
        false => std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?,
    };
    String::from_utf8(bytes).map_err(|_| metadata_error(path, "not UTF-8 text".into()))
}

/// Parses the metadata CSV into one [`TaskTracks`] per task.
///
/// Every referenced audio file must exist (a missing one is an error naming it); durations come
/// from the file headers. Splits come from a `split` column when the CSV has one, else from
/// [`stratified`](crate::split::stratified) with `seed` and `dataset`.
pub fn load(dataset: &str, config: &CustomConfig, seed: u64) -> Result<Vec<TaskTracks>> {
    let path = match config.layout {
        Layout::Csv => config.metadata_path(),
        Layout::ClassFolders => config.root.clone(),
    };
    let text = match config.layout {
        Layout::Csv => read_metadata(&path)?,
        Layout::ClassFolders => class_folder_csv(&config.root)?,
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let columns = Columns::find(config, &path, &mut reader)?;
    let rows = read_rows(config, &path, &columns, &mut reader)?;
    let splits: Vec<(Split, Option<u32>)> = match columns.split {
        Some(_) => rows
            .iter()
            .map(|r| (r.split.unwrap_or(Split::Train), None))
            .collect(),
        None => {
            let items: Vec<(String, String)> = rows
                .iter()
                .map(|r| (r.track_id.clone(), r.record[columns.stratify].to_string()))
                .collect();
            assign(seed, dataset, &items, &config.split)
        }
    };
    config
        .tasks
        .iter()
        .zip(&columns.tasks)
        .map(|((name, task), &c)| task_of(name, task, c, &path, &rows, &splits))
        .collect()
}

/// The metadata columns a dataset reads.
struct Columns {
    path: usize,
    split: Option<usize>,
    tasks: Vec<usize>,
    stratify: usize,
}

impl Columns {
    /// Finds the columns in the CSV's header; a missing one is an error listing those there.
    fn find(config: &CustomConfig, path: &Path, reader: &mut csv::Reader<&[u8]>) -> Result<Self> {
        let headers = reader
            .headers()
            .map_err(|e| metadata_error(path, e.to_string()))?
            .clone();
        let col = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                let known = headers.iter().collect::<Vec<_>>().join(", ");
                metadata_error(path, format!("no column `{name}` (columns: {known})"))
            })
        };
        let tasks: Vec<usize> = config
            .tasks
            .values()
            .map(|t| col(&t.label_column))
            .collect::<Result<_>>()?;
        let stratify = match &config.stratify_by {
            Some(name) => col(name)?,
            None => *tasks
                .first()
                .ok_or_else(|| metadata_error(path, "the dataset defines no task".into()))?,
        };
        Ok(Self {
            path: col("path")?,
            split: headers.iter().position(|h| h == "split"),
            tasks,
            stratify,
        })
    }
}

fn metadata_error(path: &Path, reason: String) -> Error {
    Error::Metadata {
        path: path.to_path_buf(),
        reason,
    }
}

/// One metadata row whose audio file exists.
struct Row {
    track_id: String,
    audio_path: PathBuf,
    duration_s: f64,
    split: Option<Split>,
    record: csv::StringRecord,
}

/// Every row of the CSV; a row whose audio file is missing, or whose split is not a split, is
/// an error naming the line.
fn read_rows(
    config: &CustomConfig,
    path: &Path,
    columns: &Columns,
    reader: &mut csv::Reader<&[u8]>,
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| metadata_error(path, e.to_string()))?;
        let rel = &record[columns.path];
        let audio_path = config.root.join(rel);
        let uri = audio_path.to_string_lossy();
        if !crate::uri::exists(&uri)? {
            return Err(Error::MissingAudio {
                path: audio_path,
                metadata: path.to_path_buf(),
                line: line + 2,
            });
        }
        let track_id = Path::new(rel)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        let split = match columns.split {
            Some(c) => Some(parse_split(&record[c]).ok_or_else(|| {
                let reason = format!(
                    "line {}: split `{}` is not {}",
                    line + 2,
                    &record[c],
                    Split::NAMES.join(", ")
                );
                metadata_error(path, reason)
            })?),
            None => None,
        };
        rows.push(Row {
            duration_s: crate::uri::track_duration_s(&uri),
            track_id,
            audio_path,
            split,
            record,
        });
    }
    Ok(rows)
}

/// The tracks of task `name`, its labels (or target) read from column `c`.
fn task_of(
    name: &str,
    task: &TaskConfig,
    c: usize,
    path: &Path,
    rows: &[Row],
    splits: &[(Split, Option<u32>)],
) -> Result<TaskTracks> {
    let mut vocabulary = BTreeSet::new();
    let mut tracks = Vec::new();
    for (row, &(split, fold)) in rows.iter().zip(splits) {
        let value = &row.record[c];
        let labels = match task.task_type {
            TaskType::Multiclass => vec![value.to_string()],
            TaskType::Multilabel => value
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            TaskType::Regression => vec![],
        };
        vocabulary.extend(labels.iter().cloned());
        let targets = match task.task_type {
            TaskType::Regression => Some(vec![value.trim().parse::<f32>().map_err(|e| {
                let column = &task.label_column;
                metadata_error(
                    path,
                    format!("column `{column}`: `{value}` is not a number: {e}"),
                )
            })?]),
            _ => None,
        };
        tracks.push(Track {
            track_id: row.track_id.clone(),
            audio_uri: row.audio_path.to_string_lossy().into_owned(),
            split,
            labels,
            targets,
            duration_s: row.duration_s,
            fold: fold.map(|f| f as i32),
        });
    }
    Ok(TaskTracks {
        task: name.to_owned(),
        task_type: task.task_type,
        vocabulary: vocabulary.into_iter().collect(),
        tracks,
        left_out: Default::default(),
    })
}

/// A CSV's split value: a [`Split`] name, or `valid`/`val` for validation.
fn parse_split(s: &str) -> Option<Split> {
    match s.trim() {
        "valid" | "val" => Some(Split::Validation),
        other => other.parse().ok(),
    }
}
