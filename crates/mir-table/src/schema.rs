//! The tables of the contract: their columns, types and required metadata.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::{Error, Result};

/// Version of the table contract, stored under [`META_SCHEMA_VERSION`] in every file.
pub const SCHEMA_VERSION: &str = "1";
/// Metadata key naming the table (`tracks`, `embeddings`, ...).
pub const META_TABLE: &str = "mir.table";
/// Metadata key holding [`SCHEMA_VERSION`].
pub const META_SCHEMA_VERSION: &str = "mir.schema_version";

/// Plain metadata keys identifying what produced a file (DESIGN.md section 2).
pub mod keys {
    /// Dataset name, as in the experiment config.
    pub const DATASET: &str = "dataset";
    /// Task name, as in the experiment config.
    pub const TASK: &str = "task";
    /// `multiclass`, `multilabel` or `regression`.
    pub const TASK_TYPE: &str = "task_type";
    /// JSON list of class names; index `i` is score column `i`.
    pub const LABEL_VOCABULARY: &str = "label_vocabulary";
    /// Embedding model name.
    pub const MODEL: &str = "model";
    /// Model layer index (on `embeddings`, optional: the layer all its rows hold).
    pub const LAYER: &str = "layer";
    /// Optional, on `embeddings`: where precomputed embeddings were read from (their folder or
    /// table).
    pub const SOURCE: &str = "source";
    /// Optional, on `embeddings`: the name of the layer its rows hold.
    pub const LAYER_NAME: &str = "layer_name";
    /// Probe name.
    pub const PROBE: &str = "probe";
    /// Probe seed.
    pub const SEED: &str = "seed";
    /// Deformation scenario name (`clean` for none).
    pub const DEFORMATION: &str = "deformation";
    /// Hash of the resolved experiment config.
    pub const CONFIG_HASH: &str = "config_hash";
    /// Embedding dimension.
    pub const DIM: &str = "dim";
    /// Sample rate the model consumed, in Hz.
    pub const SAMPLE_RATE_HZ: &str = "sample_rate_hz";
    /// Window length in seconds (`0` when one window covers the whole track).
    pub const WINDOW_S: &str = "window_s";
    /// Hop between windows in seconds.
    pub const HOP_S: &str = "hop_s";
    /// SHA-256 of the model file, or of the built-in model's definition.
    pub const MODEL_SHA256: &str = "model_sha256";
    /// How window scores became track scores (`embedding_mean`, `prediction_mean`).
    pub const AGGREGATION: &str = "aggregation";
    /// Optional, on `predictions` and `training_log`: JSON object of the values a probe's
    /// hyperparameter search chose (`learning_rate`, `hidden`, `dropout`, `weight_decay`).
    pub const HYPERPARAMETERS: &str = "hyperparameters";
    /// Optional, on `embeddings`: JSON list of the model's layer names; `layer` `i` is
    /// `layers[i]`.
    pub const LAYERS: &str = "layers";
    /// Optional, on `metrics`: JSON object of the run's deformation scenarios by name, as
    /// configured (`{"white_noise_20db": {"steps": [{"type": "white_noise", "snr_db": 20}]}}`);
    /// reports plot metrics against a swept parameter from it.
    pub const DEFORMATIONS: &str = "deformations";
    /// Optional: SHA-256 of everything a table was computed from (model, audio files and
    /// their modification times, deformations, seed). A run reuses a table whose input hash
    /// equals the one it would compute.
    pub const INPUT_HASH: &str = "input_hash";
    /// Optional, on `predictions`: how many training tracks the probe learnt from (fewer than
    /// the training split under `shots` or `train_fraction`); mir-eval reports it as the
    /// clean-audio metric of the same name.
    pub const TRAIN_TRACKS: &str = "train_tracks";
}

/// The model name of the chance baselines' runs (`majority`, `uniform`), which hear nothing.
pub const CHANCE: &str = "chance";

/// The name used for undeformed audio in `deformation` columns and metadata.
pub const CLEAN: &str = "clean";

/// One table of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// One row per track of one task of one dataset.
    Tracks,
    /// One row per window of one track, model layer and deformation.
    Embeddings,
    /// One row per validation or test track of one (task, model, layer, probe, seed), per deformation.
    Predictions,
    /// One row per training epoch of one probe.
    TrainingLog,
    /// One row per metric value, in long ("tidy") format.
    Metrics,
    /// One row per non-empty cell of a confusion matrix.
    Confusion,
    /// One row per track a stage could not process and skipped.
    Failures,
    /// One row per pair of systems scored on the same test tracks: a paired difference.
    Significance,
    /// One row per pair of tracks of a dataset whose audio is the same or nearly so.
    Duplicates,
    /// One row per (dataset, model, layer, deformation): how far deformed embeddings move.
    Drift,
}

/// The type a column must have. `FixedSizeListFloat32` accepts any width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `Utf8`.
    Utf8,
    /// `Int32`.
    Int32,
    /// `Int64`.
    Int64,
    /// `Float32`.
    Float32,
    /// `Float64`.
    Float64,
    /// `List<Utf8>`.
    ListUtf8,
    /// `List<Float32>`.
    ListFloat32,
    /// `FixedSizeList<Float32, N>`, `N` fixed per file.
    FixedSizeListFloat32,
}

impl ColumnType {
    /// The Arrow type; `width` is used by fixed-size lists only.
    pub fn to_arrow(self, width: i32) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::ListUtf8 => DataType::new_list(DataType::Utf8, true),
            ColumnType::ListFloat32 => DataType::new_list(DataType::Float32, true),
            ColumnType::FixedSizeListFloat32 => {
                DataType::new_fixed_size_list(DataType::Float32, width, false)
            }
        }
    }

    /// Whether `found` is this type (list child names and nullability are not compared).
    pub fn matches(self, found: &DataType) -> bool {
        match (self, found) {
            (ColumnType::ListUtf8, DataType::List(f)) => f.data_type() == &DataType::Utf8,
            (ColumnType::ListFloat32, DataType::List(f)) => f.data_type() == &DataType::Float32,
            (ColumnType::FixedSizeListFloat32, DataType::FixedSizeList(f, _)) => {
                f.data_type() == &DataType::Float32
            }
            (t, found) => &t.to_arrow(0) == found,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Utf8 => "Utf8",
            ColumnType::Int32 => "Int32",
            ColumnType::Int64 => "Int64",
            ColumnType::Float32 => "Float32",
            ColumnType::Float64 => "Float64",
            ColumnType::ListUtf8 => "List<Utf8>",
            ColumnType::ListFloat32 => "List<Float32>",
            ColumnType::FixedSizeListFloat32 => "FixedSizeList<Float32, N>",
        })
    }
}

/// One required column.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name (snake_case, unit in the name).
    pub name: &'static str,
    /// Required type.
    pub ty: ColumnType,
    /// Whether nulls are allowed.
    pub nullable: bool,
    /// What the column holds, for `docs/tables.md`.
    pub doc: &'static str,
}

const fn col(name: &'static str, ty: ColumnType, nullable: bool, doc: &'static str) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        nullable,
        doc,
    }
}

use ColumnType::*;

const TRACKS: &[ColumnSpec] = &[
    col(
        "track_id",
        Utf8,
        false,
        "Stable track identifier, unique within the dataset.",
    ),
    col("audio_uri", Utf8, false, "Path or URL of the audio file."),
    col("split", Utf8, false, "`train`, `validation` or `test`."),
    col(
        "labels",
        ListUtf8,
        false,
        "Exactly one label for multiclass, zero or more for multilabel, empty for regression.",
    ),
    col(
        "targets",
        ListFloat32,
        true,
        "Regression targets; null for classification.",
    ),
    col("duration_s", Float64, false, "Audio duration in seconds."),
    col(
        "fold",
        Int32,
        true,
        "Cross-validation fold; null when the task has none.",
    ),
];

const EMBEDDINGS: &[ColumnSpec] = &[
    col("track_id", Utf8, false, "Track identifier, as in `tracks`."),
    col(
        "deformation",
        Utf8,
        false,
        "Deformation scenario applied to the audio; `clean` for none.",
    ),
    col(
        "layer",
        Int32,
        false,
        "Model layer: its index among the model's selected layers (the `layers` metadata), 0 \
         when the model has one output. A table written by mir-ref holds one layer (its \
         `layer` and `layer_name` metadata), so each layer keeps its own width.",
    ),
    col(
        "window",
        Int32,
        false,
        "Window index within the track, from 0.",
    ),
    col("start_s", Float32, false, "Window start in seconds."),
    col(
        "embedding",
        FixedSizeListFloat32,
        false,
        "The embedding; `N` is the `dim` metadata.",
    ),
];

const PREDICTIONS: &[ColumnSpec] = &[
    col("track_id", Utf8, false, "Track identifier, as in `tracks`."),
    col("split", Utf8, false, "`validation` or `test`."),
    col(
        "deformation",
        Utf8,
        false,
        "Deformation applied to the evaluated audio; `clean` for none.",
    ),
    col(
        "scores",
        FixedSizeListFloat32,
        false,
        "Class probabilities in `label_vocabulary` order (classification) or predicted values (regression).",
    ),
];

const TRAINING_LOG: &[ColumnSpec] = &[
    col("epoch", Int32, false, "Epoch, from 1."),
    col(
        "train_loss",
        Float64,
        false,
        "Mean training loss over the epoch.",
    ),
    col(
        "validation_loss",
        Float64,
        true,
        "Validation loss after the epoch; null without a validation split.",
    ),
    col(
        "validation_metric",
        Float64,
        true,
        "Early-stopping metric on the validation split.",
    ),
    col(
        "learning_rate",
        Float64,
        false,
        "Learning rate used in the epoch.",
    ),
    col("seconds", Float64, false, "Wall time of the epoch."),
];

/// The columns identifying one evaluated run, first in `metrics` and `confusion`.
const RUN_KEY: [ColumnSpec; 7] = [
    col("task", Utf8, false, "Task name."),
    col("dataset", Utf8, false, "Dataset name."),
    col("model", Utf8, false, "Embedding model name."),
    col("layer", Int32, false, "Model layer."),
    col("probe", Utf8, false, "Probe name."),
    col("seed", Int64, false, "Probe seed."),
    col(
        "deformation",
        Utf8,
        false,
        "Deformation of the test audio; `clean` for none.",
    ),
];

/// `RUN_KEY` followed by `rest` (`M` must be `7 + N`).
const fn after_run_key<const N: usize, const M: usize>(rest: [ColumnSpec; N]) -> [ColumnSpec; M] {
    assert!(M == RUN_KEY.len() + N, "M must be 7 + N");
    let mut out = [RUN_KEY[0]; M];
    let mut i = 0;
    while i < M {
        out[i] = if i < RUN_KEY.len() {
            RUN_KEY[i]
        } else {
            rest[i - RUN_KEY.len()]
        };
        i += 1;
    }
    out
}

const METRICS: &[ColumnSpec] = &after_run_key::<5, 12>([
    col(
        "metric",
        Utf8,
        false,
        "Metric name, for example `accuracy` or `f1_macro`.",
    ),
    col("value", Float64, false, "Metric value."),
    col(
        "ci_low",
        Float64,
        true,
        "Lower bound of the confidence interval, when computed.",
    ),
    col(
        "ci_high",
        Float64,
        true,
        "Upper bound of the confidence interval, when computed.",
    ),
    col(
        "n",
        Int64,
        false,
        "Number of test items the value was computed on.",
    ),
]);

const CONFUSION: &[ColumnSpec] = &after_run_key::<3, 10>([
    col("true_label", Utf8, false, "The reference class."),
    col(
        "predicted_label",
        Utf8,
        false,
        "The predicted class (highest score).",
    ),
    col("count", Int64, false, "Number of test tracks in the cell."),
]);

const FAILURES: &[ColumnSpec] = &[
    col(
        "stage",
        Utf8,
        false,
        "The stage that failed: `decode`, `deform` or `embed`.",
    ),
    col("dataset", Utf8, false, "Dataset name."),
    col(
        "model",
        Utf8,
        false,
        "Model name (the extraction the track was skipped from).",
    ),
    col(
        "deformation",
        Utf8,
        false,
        "`clean`, or the deformation that failed.",
    ),
    col("track_id", Utf8, false, "The track."),
    col("audio_uri", Utf8, false, "The track's audio file."),
    col("error", Utf8, false, "The error, with its causes."),
];

const SIGNIFICANCE: &[ColumnSpec] = &[
    col("task", Utf8, false, "Task name."),
    col("dataset", Utf8, false, "Dataset name."),
    col(
        "deformation",
        Utf8,
        false,
        "Condition of the test audio; `clean` for none.",
    ),
    col(
        "seed",
        Int64,
        false,
        "Probe seed both systems were trained with.",
    ),
    col("metric", Utf8, false, "The metric compared."),
    col("model_a", Utf8, false, "System a: embedding model."),
    col("layer_a", Int32, false, "System a: layer."),
    col("probe_a", Utf8, false, "System a: probe."),
    col("model_b", Utf8, false, "System b: embedding model."),
    col("layer_b", Int32, false, "System b: layer."),
    col("probe_b", Utf8, false, "System b: probe."),
    col(
        "delta",
        Float64,
        false,
        "b's metric minus a's, on the whole test set.",
    ),
    col(
        "ci_low",
        Float64,
        true,
        "Lower bound of the paired bootstrap interval of the difference.",
    ),
    col("ci_high", Float64, true, "Upper bound."),
    col(
        "p_value",
        Float64,
        false,
        "Two-sided paired bootstrap p-value of no difference.",
    ),
    col(
        "p_holm",
        Float64,
        false,
        "`p_value` adjusted by Holm's method over the pairs of one (task, dataset, deformation, seed, metric).",
    ),
    col("n", Int64, false, "Number of test tracks."),
];

const DUPLICATES: &[ColumnSpec] = &[
    col("dataset", Utf8, false, "Dataset name."),
    col("task", Utf8, false, "The task whose splits the pair is in."),
    col("track_a", Utf8, false, "One track (the smaller id)."),
    col("split_a", Utf8, false, "Its split."),
    col("track_b", Utf8, false, "The other track."),
    col("split_b", Utf8, false, "Its split."),
    col(
        "kind",
        Utf8,
        false,
        "`exact` (the same decoded samples) or `near` (log-mel cosine above the threshold).",
    ),
    col(
        "cosine",
        Float64,
        false,
        "Cosine of the two tracks' standardised log-mel summaries.",
    ),
];

const DRIFT: &[ColumnSpec] = &[
    col("dataset", Utf8, false, "Dataset name."),
    col("model", Utf8, false, "Embedding model."),
    col("layer", Int32, false, "Model layer."),
    col(
        "deformation",
        Utf8,
        false,
        "The deformation (never `clean`).",
    ),
    col(
        "drift",
        Float64,
        false,
        "Mean cosine distance between a track's clean and deformed embeddings (window means, standardised with the clean tracks' statistics).",
    ),
    col(
        "typical",
        Float64,
        false,
        "Mean cosine distance between two different tracks' clean embeddings.",
    ),
    col("ratio", Float64, false, "`drift / typical`."),
    col("n", Int64, false, "Tracks with both embeddings."),
];

const RUN_IDS: &[&str] = &[
    keys::DATASET,
    keys::TASK,
    keys::MODEL,
    keys::LAYER,
    keys::PROBE,
    keys::SEED,
];

impl TableKind {
    /// Every table, in pipeline order.
    pub const ALL: [TableKind; 10] = [
        TableKind::Tracks,
        TableKind::Embeddings,
        TableKind::Predictions,
        TableKind::TrainingLog,
        TableKind::Metrics,
        TableKind::Confusion,
        TableKind::Failures,
        TableKind::Significance,
        TableKind::Duplicates,
        TableKind::Drift,
    ];

    /// The name stored under [`META_TABLE`].
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Tracks => "tracks",
            TableKind::Embeddings => "embeddings",
            TableKind::Predictions => "predictions",
            TableKind::TrainingLog => "training_log",
            TableKind::Metrics => "metrics",
            TableKind::Confusion => "confusion",
            TableKind::Failures => "failures",
            TableKind::Significance => "significance",
            TableKind::Duplicates => "duplicates",
            TableKind::Drift => "drift",
        }
    }

    /// Parses a name stored under [`META_TABLE`].
    pub fn from_name(name: &str) -> Option<TableKind> {
        TableKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What one row is.
    pub fn row(self) -> &'static str {
        match self {
            TableKind::Tracks => "track of one task of one dataset",
            TableKind::Embeddings => {
                "window (or whole track) of one track, one model layer, one deformation"
            }
            TableKind::Predictions => {
                "validation or test track of one (task, model, layer, probe, seed), per deformation"
            }
            TableKind::TrainingLog => "epoch of one probe training",
            TableKind::Metrics => "metric value",
            TableKind::Confusion => {
                "non-empty (true class, predicted class) cell of one run's test confusion matrix"
            }
            TableKind::Failures => "track that one stage could not process, skipped by the run",
            TableKind::Significance => {
                "pair of systems (model, layer, probe) scored on the same test tracks"
            }
            TableKind::Duplicates => {
                "pair of tracks of one dataset with the same or nearly the same audio"
            }
            TableKind::Drift => "deformation of one model layer's embeddings of one dataset",
        }
    }

    /// The required columns, in order. Files may carry extra columns.
    pub fn columns(self) -> &'static [ColumnSpec] {
        match self {
            TableKind::Tracks => TRACKS,
            TableKind::Embeddings => EMBEDDINGS,
            TableKind::Predictions => PREDICTIONS,
            TableKind::TrainingLog => TRAINING_LOG,
            TableKind::Metrics => METRICS,
            TableKind::Confusion => CONFUSION,
            TableKind::Failures => FAILURES,
            TableKind::Significance => SIGNIFICANCE,
            TableKind::Duplicates => DUPLICATES,
            TableKind::Drift => DRIFT,
        }
    }

    /// The required metadata keys, besides [`META_TABLE`] and [`META_SCHEMA_VERSION`].
    pub fn required_metadata(self) -> Vec<&'static str> {
        match self {
            TableKind::Tracks => vec![
                keys::DATASET,
                keys::TASK,
                keys::TASK_TYPE,
                keys::LABEL_VOCABULARY,
            ],
            TableKind::Embeddings => vec![
                keys::DATASET,
                keys::MODEL,
                keys::DIM,
                keys::SAMPLE_RATE_HZ,
                keys::WINDOW_S,
                keys::HOP_S,
                keys::MODEL_SHA256,
            ],
            TableKind::Predictions => {
                let mut k = RUN_IDS.to_vec();
                k.extend([keys::LABEL_VOCABULARY, keys::TASK_TYPE, keys::AGGREGATION]);
                k
            }
            TableKind::TrainingLog => RUN_IDS.to_vec(),
            TableKind::Metrics
            | TableKind::Confusion
            | TableKind::Failures
            | TableKind::Significance
            | TableKind::Duplicates
            | TableKind::Drift => vec![],
        }
    }

    /// Builds this table's schema.
    ///
    /// `width` is the fixed-size list width (embedding dimension or score count; ignored by
    /// tables without one). `metadata` must hold every [`required_metadata`](Self::required_metadata)
    /// key; [`META_TABLE`] and [`META_SCHEMA_VERSION`] are added here.
    pub fn schema(self, width: i32, metadata: &Metadata) -> Result<SchemaRef> {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|c| Field::new(c.name, c.ty.to_arrow(width), c.nullable))
            .collect();
        let mut meta: HashMap<String, String> = metadata.0.clone().into_iter().collect();
        meta.insert(META_TABLE.into(), self.name().into());
        meta.insert(META_SCHEMA_VERSION.into(), SCHEMA_VERSION.into());
        let schema = Schema::new_with_metadata(fields, meta);
        crate::validate(self, &schema)?;
        Ok(Arc::new(schema))
    }
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Schema metadata under plain string keys (see [`keys`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(pub BTreeMap<String, String>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one key.
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.0.insert(key.to_string(), value.to_string());
        self
    }

    /// Reads the metadata of a schema written by this crate.
    pub fn of(schema: &Schema) -> Self {
        Metadata(
            schema
                .metadata()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// One key, or [`Error::MissingMetadata`] naming `table`.
    pub fn get(&self, table: TableKind, key: &str) -> Result<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::MissingMetadata {
                table: table.name().into(),
                key: key.into(),
            })
    }

    /// The `label_vocabulary` key, parsed from its JSON list.
    pub fn label_vocabulary(&self, table: TableKind) -> Result<Vec<String>> {
        let raw = self.get(table, keys::LABEL_VOCABULARY)?;
        serde_json::from_str(raw).map_err(|e| Error::BadMetadata {
            table: table.name().into(),
            key: keys::LABEL_VOCABULARY.into(),
            reason: format!("expected a JSON list of strings: {e}"),
        })
    }
}

/// Encodes a label vocabulary for the `label_vocabulary` key.
pub fn vocabulary_json(labels: &[String]) -> String {
    serde_json::to_string(labels).expect("a list of strings always serialises")
}

/// The identity of one probe run: what `predictions` and `training_log` carry in their
/// metadata, and the identifier columns of a `metrics` row but the deformation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    /// Dataset.
    pub dataset: String,
    /// Task.
    pub task: String,
    /// Embedding model.
    pub model: String,
    /// Model layer.
    pub layer: i32,
    /// Probe.
    pub probe: String,
    /// Probe seed.
    pub seed: i64,
}

/// The name of probe `probe` trained on part of the training split: `linear@0.05` (a
/// fraction) or `linear@100` (a count of tracks).
pub fn probe_on_part(probe: &str, part: f64) -> String {
    format!("{probe}@{part}")
}

/// The probe and the part of the training split a [`probe_on_part`] name says.
pub fn probe_part(name: &str) -> Option<(&str, f64)> {
    let (probe, part) = name.rsplit_once('@')?;
    Some((probe, part.parse().ok()?))
}

impl RunKey {
    /// The run's metadata keys (`dataset`, `task`, `model`, `layer`, `probe`, `seed`).
    pub fn metadata(&self) -> Metadata {
        Metadata::new()
            .with(keys::DATASET, &self.dataset)
            .with(keys::TASK, &self.task)
            .with(keys::MODEL, &self.model)
            .with(keys::LAYER, self.layer)
            .with(keys::PROBE, &self.probe)
            .with(keys::SEED, self.seed)
    }

    /// Reads the run's keys from the metadata of a `table` (errors name the key).
    pub fn from_metadata(meta: &Metadata, table: TableKind) -> Result<Self> {
        let number = |key: &str| -> Result<i64> {
            let value = meta.get(table, key)?;
            value.parse().map_err(|_| Error::BadMetadata {
                table: table.name().into(),
                key: key.into(),
                reason: format!("`{value}` is not an integer"),
            })
        };
        let layer = number(keys::LAYER)?;
        Ok(Self {
            dataset: meta.get(table, keys::DATASET)?.to_owned(),
            task: meta.get(table, keys::TASK)?.to_owned(),
            model: meta.get(table, keys::MODEL)?.to_owned(),
            layer: i32::try_from(layer).map_err(|_| Error::BadMetadata {
                table: table.name().into(),
                key: keys::LAYER.into(),
                reason: format!("{layer} is out of range"),
            })?,
            probe: meta.get(table, keys::PROBE)?.to_owned(),
            seed: number(keys::SEED)?,
        })
    }

    /// `instrument (tinysol), logmel layer 0, linear, seed 0`.
    pub fn label(&self) -> String {
        format!(
            "{} ({}), {} layer {}, {}, seed {}",
            self.task, self.dataset, self.model, self.layer, self.probe, self.seed
        )
    }
}

/// The kind of task a `tracks` table defines (its `task_type` metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// One label per track among C classes.
    Multiclass,
    /// Zero or more labels per track among C tags.
    Multilabel,
    /// Real-valued targets.
    Regression,
}

impl TaskType {
    /// The metadata value.
    pub fn name(self) -> &'static str {
        match self {
            TaskType::Multiclass => "multiclass",
            TaskType::Multilabel => "multilabel",
            TaskType::Regression => "regression",
        }
    }

    /// Parses the metadata value of `table`.
    pub fn parse(table: TableKind, value: &str) -> Result<Self> {
        [
            TaskType::Multiclass,
            TaskType::Multilabel,
            TaskType::Regression,
        ]
        .into_iter()
        .find(|t| t.name() == value)
        .ok_or_else(|| Error::BadMetadata {
            table: table.name().into(),
            key: keys::TASK_TYPE.into(),
            reason: format!("`{value}` is not multiclass, multilabel or regression"),
        })
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
