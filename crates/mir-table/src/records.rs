//! Plain Rust rows for each table, and their conversion to and from Arrow batches.
//!
//! Producers fill a `Vec` of rows and call `*_batch`; consumers call `read_*` on a validated
//! [`Table`]. Nothing here knows what the values mean.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, FixedSizeListBuilder, Float32Array, Float32Builder,
    Float64Array, Int32Array, Int64Array, ListArray, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};

use crate::io::Table;
use crate::names::{FailureStage, Split};
use crate::schema::TableKind;
use crate::{Error, Result, column};

/// A row of `tracks`.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Stable identifier.
    pub track_id: String,
    /// Path or URL of the audio.
    pub audio_uri: String,
    /// The split it belongs to.
    pub split: Split,
    /// Class labels.
    pub labels: Vec<String>,
    /// Regression targets.
    pub targets: Option<Vec<f32>>,
    /// Duration in seconds.
    pub duration_s: f64,
    /// Cross-validation fold.
    pub fold: Option<i32>,
}

/// A row of `embeddings`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingRow {
    /// Track identifier.
    pub track_id: String,
    /// Deformation scenario (`clean` for none).
    pub deformation: String,
    /// Model layer.
    pub layer: i32,
    /// Window index.
    pub window: i32,
    /// Window start in seconds.
    pub start_s: f32,
    /// The embedding; every row of a file has the same length.
    pub embedding: Vec<f32>,
}

/// A row of `predictions`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Track identifier.
    pub track_id: String,
    /// `validation` or `test`.
    pub split: Split,
    /// Deformation of the evaluated audio.
    pub deformation: String,
    /// Scores in vocabulary order.
    pub scores: Vec<f32>,
}

/// A row of `training_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// Epoch from 1.
    pub epoch: i32,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub validation_loss: Option<f64>,
    /// Validation metric.
    pub validation_metric: Option<f64>,
    /// Learning rate.
    pub learning_rate: f64,
    /// Wall time.
    pub seconds: f64,
}

/// A row of `metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// Task name.
    pub task: String,
    /// Dataset name.
    pub dataset: String,
    /// Model name.
    pub model: String,
    /// Layer.
    pub layer: i32,
    /// Probe name.
    pub probe: String,
    /// Seed.
    pub seed: i64,
    /// Deformation of the test audio.
    pub deformation: String,
    /// Metric name.
    pub metric: String,
    /// Value.
    pub value: f64,
    /// Lower confidence bound.
    pub ci_low: Option<f64>,
    /// Upper confidence bound.
    pub ci_high: Option<f64>,
    /// Number of items.
    pub n: i64,
}

/// A row of `confusion`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionRow {
    /// Task name.
    pub task: String,
    /// Dataset name.
    pub dataset: String,
    /// Model name.
    pub model: String,
    /// Layer.
    pub layer: i32,
    /// Probe name.
    pub probe: String,
    /// Seed.
    pub seed: i64,
    /// Deformation of the test audio.
    pub deformation: String,
    /// Reference class.
    pub true_label: String,
    /// Predicted class.
    pub predicted_label: String,
    /// Tracks in the cell.
    pub count: i64,
}

fn strings<'a>(rows: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(rows))
}

fn fixed_size_f32(
    schema: &SchemaRef,
    name: &str,
    rows: impl Iterator<Item = Vec<f32>>,
) -> Result<ArrayRef> {
    let (item, width) = match schema.field_with_name(name).map(|f| f.data_type()) {
        Ok(DataType::FixedSizeList(item, width)) => (item.clone(), *width),
        _ => unreachable!("the schema was validated: `{name}` is a fixed-size list"),
    };
    let mut builder = FixedSizeListBuilder::new(Float32Builder::new(), width).with_field(item);
    for (i, row) in rows.enumerate() {
        if row.len() != width as usize {
            return Err(Error::BadRow {
                column: name.into(),
                row: i,
                reason: format!("has {} values but the schema width is {width}", row.len()),
            });
        }
        builder.values().append_slice(&row);
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

fn batch(kind: TableKind, schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    crate::validate(kind, schema)?;
    RecordBatch::try_new(schema.clone(), columns).map_err(|source| Error::Arrow {
        table: kind.name().into(),
        source,
    })
}

/// Builds a `tracks` batch.
pub fn tracks_batch(schema: &SchemaRef, rows: &[Track]) -> Result<RecordBatch> {
    let mut labels = ListBuilder::new(StringBuilder::new());
    let mut targets = ListBuilder::new(Float32Builder::new());
    for t in rows {
        for l in &t.labels {
            labels.values().append_value(l);
        }
        labels.append(true);
        match &t.targets {
            Some(v) => {
                targets.values().append_slice(v);
                targets.append(true);
            }
            None => targets.append(false),
        }
    }
    batch(
        TableKind::Tracks,
        schema,
        vec![
            strings(rows.iter().map(|t| t.track_id.as_str())),
            strings(rows.iter().map(|t| t.audio_uri.as_str())),
            strings(rows.iter().map(|t| t.split.name())),
            Arc::new(labels.finish()),
            Arc::new(targets.finish()),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|t| t.duration_s),
            )),
            Arc::new(Int32Array::from(
                rows.iter().map(|t| t.fold).collect::<Vec<_>>(),
            )),
        ],
    )
}

/// Builds an `embeddings` batch; every embedding must have the schema's width.
pub fn embeddings_batch(schema: &SchemaRef, rows: &[EmbeddingRow]) -> Result<RecordBatch> {
    batch(
        TableKind::Embeddings,
        schema,
        vec![
            strings(rows.iter().map(|r| r.track_id.as_str())),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.layer))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.window))),
            Arc::new(Float32Array::from_iter_values(
                rows.iter().map(|r| r.start_s),
            )),
            fixed_size_f32(
                schema,
                "embedding",
                rows.iter().map(|r| r.embedding.clone()),
            )?,
        ],
    )
}

/// Builds a `predictions` batch; every score vector must have the schema's width.
pub fn predictions_batch(schema: &SchemaRef, rows: &[Prediction]) -> Result<RecordBatch> {
    batch(
        TableKind::Predictions,
        schema,
        vec![
            strings(rows.iter().map(|r| r.track_id.as_str())),
            strings(rows.iter().map(|r| r.split.name())),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            fixed_size_f32(schema, "scores", rows.iter().map(|r| r.scores.clone()))?,
        ],
    )
}

/// Builds a `training_log` batch.
pub fn training_log_batch(schema: &SchemaRef, rows: &[Epoch]) -> Result<RecordBatch> {
    batch(
        TableKind::TrainingLog,
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.epoch))),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.train_loss),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.validation_loss).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.validation_metric).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.learning_rate),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.seconds),
            )),
        ],
    )
}

/// Builds a `metrics` batch.
pub fn metrics_batch(schema: &SchemaRef, rows: &[MetricRow]) -> Result<RecordBatch> {
    batch(
        TableKind::Metrics,
        schema,
        vec![
            strings(rows.iter().map(|r| r.task.as_str())),
            strings(rows.iter().map(|r| r.dataset.as_str())),
            strings(rows.iter().map(|r| r.model.as_str())),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.layer))),
            strings(rows.iter().map(|r| r.probe.as_str())),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.seed))),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            strings(rows.iter().map(|r| r.metric.as_str())),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.ci_low).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.ci_high).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n))),
        ],
    )
}

/// A row of `failures`.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    /// Where it failed.
    pub stage: FailureStage,
    /// Dataset name.
    pub dataset: String,
    /// Model name.
    pub model: String,
    /// `clean` or the deformation.
    pub deformation: String,
    /// The track.
    pub track_id: String,
    /// Its audio file.
    pub audio_uri: String,
    /// The error with its causes.
    pub error: String,
}

/// Builds a `failures` batch.
pub fn failures_batch(schema: &SchemaRef, rows: &[FailureRow]) -> Result<RecordBatch> {
    batch(
        TableKind::Failures,
        schema,
        vec![
            strings(rows.iter().map(|r| r.stage.name())),
            strings(rows.iter().map(|r| r.dataset.as_str())),
            strings(rows.iter().map(|r| r.model.as_str())),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            strings(rows.iter().map(|r| r.track_id.as_str())),
            strings(rows.iter().map(|r| r.audio_uri.as_str())),
            strings(rows.iter().map(|r| r.error.as_str())),
        ],
    )
}

/// Reads every row of a `failures` table.
pub fn read_failures(table: &Table) -> Result<Vec<FailureRow>> {
    let k = TableKind::Failures;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let cols = [
            s("stage")?,
            s("dataset")?,
            s("model")?,
            s("deformation")?,
            s("track_id")?,
            s("audio_uri")?,
            s("error")?,
        ];
        for i in 0..b.num_rows() {
            let v = |c: usize| cols[c].value(i).to_string();
            out.push(FailureRow {
                stage: parse_name(cols[0], "stage", i, out.len())?,
                dataset: v(1),
                model: v(2),
                deformation: v(3),
                track_id: v(4),
                audio_uri: v(5),
                error: v(6),
            });
        }
    }
    Ok(out)
}

/// One system of a [`SignificanceRow`]: an embedding model's layer with a probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct System {
    /// Model name.
    pub model: String,
    /// Layer.
    pub layer: i32,
    /// Probe name.
    pub probe: String,
}

/// A row of `significance`: system `b` against system `a` on the same test tracks.
#[derive(Debug, Clone, PartialEq)]
pub struct SignificanceRow {
    /// Task name.
    pub task: String,
    /// Dataset name.
    pub dataset: String,
    /// Condition of the test audio.
    pub deformation: String,
    /// Probe seed of both.
    pub seed: i64,
    /// The metric compared.
    pub metric: String,
    /// The first system.
    pub a: System,
    /// The second system.
    pub b: System,
    /// `b - a`.
    pub delta: f64,
    /// Lower bound of the paired interval.
    pub ci_low: Option<f64>,
    /// Upper bound.
    pub ci_high: Option<f64>,
    /// Two-sided p-value of no difference.
    pub p_value: f64,
    /// Holm-adjusted p-value.
    pub p_holm: f64,
    /// Test tracks.
    pub n: i64,
}

/// Builds a `significance` batch.
pub fn significance_batch(schema: &SchemaRef, rows: &[SignificanceRow]) -> Result<RecordBatch> {
    let f64s = |f: fn(&SignificanceRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
    };
    let opt = |f: fn(&SignificanceRow) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let system = |side: fn(&SignificanceRow) -> &System| -> [ArrayRef; 3] {
        [
            strings(rows.iter().map(|r| side(r).model.as_str())),
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| side(r).layer),
            )),
            strings(rows.iter().map(|r| side(r).probe.as_str())),
        ]
    };
    let mut columns = vec![
        strings(rows.iter().map(|r| r.task.as_str())),
        strings(rows.iter().map(|r| r.dataset.as_str())),
        strings(rows.iter().map(|r| r.deformation.as_str())),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.seed))) as ArrayRef,
        strings(rows.iter().map(|r| r.metric.as_str())),
    ];
    columns.extend(system(|r| &r.a));
    columns.extend(system(|r| &r.b));
    columns.extend([
        f64s(|r| r.delta),
        opt(|r| r.ci_low),
        opt(|r| r.ci_high),
        f64s(|r| r.p_value),
        f64s(|r| r.p_holm),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n))),
    ]);
    batch(TableKind::Significance, schema, columns)
}

/// Reads every row of a `significance` table.
pub fn read_significance(table: &Table) -> Result<Vec<SignificanceRow>> {
    let k = TableKind::Significance;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let f = |name| column::<Float64Array>(b, k, name);
        let layer = |name| column::<Int32Array>(b, k, name);
        let (task, dataset, deformation, metric) =
            (s("task")?, s("dataset")?, s("deformation")?, s("metric")?);
        let (ma, la, pa) = (s("model_a")?, layer("layer_a")?, s("probe_a")?);
        let (mb, lb, pb) = (s("model_b")?, layer("layer_b")?, s("probe_b")?);
        let (delta, lo, hi, p, holm) = (
            f("delta")?,
            f("ci_low")?,
            f("ci_high")?,
            f("p_value")?,
            f("p_holm")?,
        );
        let seed = column::<Int64Array>(b, k, "seed")?;
        let n = column::<Int64Array>(b, k, "n")?;
        for i in 0..b.num_rows() {
            let system = |m: &StringArray, l: &Int32Array, p: &StringArray| System {
                model: m.value(i).to_string(),
                layer: l.value(i),
                probe: p.value(i).to_string(),
            };
            out.push(SignificanceRow {
                task: task.value(i).to_string(),
                dataset: dataset.value(i).to_string(),
                deformation: deformation.value(i).to_string(),
                seed: seed.value(i),
                metric: metric.value(i).to_string(),
                a: system(ma, la, pa),
                b: system(mb, lb, pb),
                delta: delta.value(i),
                ci_low: opt(lo, i, || lo.value(i)),
                ci_high: opt(hi, i, || hi.value(i)),
                p_value: p.value(i),
                p_holm: holm.value(i),
                n: n.value(i),
            });
        }
    }
    Ok(out)
}

/// A row of `drift`.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftRow {
    /// Dataset name.
    pub dataset: String,
    /// Model name.
    pub model: String,
    /// Layer.
    pub layer: i32,
    /// The deformation.
    pub deformation: String,
    /// Mean cosine distance between clean and deformed embeddings of a track.
    pub drift: f64,
    /// Mean cosine distance between different tracks.
    pub typical: f64,
    /// `drift / typical`.
    pub ratio: f64,
    /// Tracks compared.
    pub n: i64,
}

/// Builds a `drift` batch.
pub fn drift_batch(schema: &SchemaRef, rows: &[DriftRow]) -> Result<RecordBatch> {
    let f64s = |f: fn(&DriftRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
    };
    batch(
        TableKind::Drift,
        schema,
        vec![
            strings(rows.iter().map(|r| r.dataset.as_str())),
            strings(rows.iter().map(|r| r.model.as_str())),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.layer))),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            f64s(|r| r.drift),
            f64s(|r| r.typical),
            f64s(|r| r.ratio),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n))),
        ],
    )
}

/// Reads every row of a `drift` table.
pub fn read_drift(table: &Table) -> Result<Vec<DriftRow>> {
    let k = TableKind::Drift;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let f = |name| column::<Float64Array>(b, k, name);
        let (dataset, model, deformation) = (s("dataset")?, s("model")?, s("deformation")?);
        let layer = column::<Int32Array>(b, k, "layer")?;
        let (drift, typical, ratio) = (f("drift")?, f("typical")?, f("ratio")?);
        let n = column::<Int64Array>(b, k, "n")?;
        for i in 0..b.num_rows() {
            out.push(DriftRow {
                dataset: dataset.value(i).to_string(),
                model: model.value(i).to_string(),
                layer: layer.value(i),
                deformation: deformation.value(i).to_string(),
                drift: drift.value(i),
                typical: typical.value(i),
                ratio: ratio.value(i),
                n: n.value(i),
            });
        }
    }
    Ok(out)
}

/// A row of `duplicates`.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateRow {
    /// Dataset name.
    pub dataset: String,
    /// The task whose splits `a` and `b` give.
    pub task: String,
    /// One track (the smaller id) and its split.
    pub a: (String, Split),
    /// The other track and its split.
    pub b: (String, Split),
    /// `exact` or `near`.
    pub kind: String,
    /// Cosine of the standardised log-mel summaries.
    pub cosine: f64,
}

/// Builds a `duplicates` batch.
pub fn duplicates_batch(schema: &SchemaRef, rows: &[DuplicateRow]) -> Result<RecordBatch> {
    batch(
        TableKind::Duplicates,
        schema,
        vec![
            strings(rows.iter().map(|r| r.dataset.as_str())),
            strings(rows.iter().map(|r| r.task.as_str())),
            strings(rows.iter().map(|r| r.a.0.as_str())),
            strings(rows.iter().map(|r| r.a.1.name())),
            strings(rows.iter().map(|r| r.b.0.as_str())),
            strings(rows.iter().map(|r| r.b.1.name())),
            strings(rows.iter().map(|r| r.kind.as_str())),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.cosine),
            )),
        ],
    )
}

/// Reads every row of a `duplicates` table.
pub fn read_duplicates(table: &Table) -> Result<Vec<DuplicateRow>> {
    let k = TableKind::Duplicates;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let task = s("task")?;
        let (dataset, ta, sa, tb, sb, kind) = (
            s("dataset")?,
            s("track_a")?,
            s("split_a")?,
            s("track_b")?,
            s("split_b")?,
            s("kind")?,
        );
        let cosine = column::<Float64Array>(b, k, "cosine")?;
        for i in 0..b.num_rows() {
            out.push(DuplicateRow {
                dataset: dataset.value(i).to_string(),
                task: task.value(i).to_string(),
                a: (
                    ta.value(i).to_string(),
                    parse_name(sa, "split_a", i, out.len())?,
                ),
                b: (
                    tb.value(i).to_string(),
                    parse_name(sb, "split_b", i, out.len())?,
                ),
                kind: kind.value(i).to_string(),
                cosine: cosine.value(i),
            });
        }
    }
    Ok(out)
}

/// Builds a `confusion` batch.
pub fn confusion_batch(schema: &SchemaRef, rows: &[ConfusionRow]) -> Result<RecordBatch> {
    batch(
        TableKind::Confusion,
        schema,
        vec![
            strings(rows.iter().map(|r| r.task.as_str())),
            strings(rows.iter().map(|r| r.dataset.as_str())),
            strings(rows.iter().map(|r| r.model.as_str())),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.layer))),
            strings(rows.iter().map(|r| r.probe.as_str())),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.seed))),
            strings(rows.iter().map(|r| r.deformation.as_str())),
            strings(rows.iter().map(|r| r.true_label.as_str())),
            strings(rows.iter().map(|r| r.predicted_label.as_str())),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.count))),
        ],
    )
}

fn opt<T>(array: &impl Array, i: usize, value: impl FnOnce() -> T) -> Option<T> {
    if array.is_null(i) {
        None
    } else {
        Some(value())
    }
}

fn f32_list(list: &ListArray, i: usize) -> Vec<f32> {
    let values = list.value(i);
    let values = values
        .as_any()
        .downcast_ref::<Float32Array>()
        .expect("validated List<Float32>");
    values.values().to_vec()
}

fn fixed_f32(list: &FixedSizeListArray, i: usize) -> Vec<f32> {
    let values = list.value(i);
    let values = values
        .as_any()
        .downcast_ref::<Float32Array>()
        .expect("validated FixedSizeList<Float32>");
    values.values().to_vec()
}

/// Reads every row of a `tracks` table.
pub fn read_tracks(table: &Table) -> Result<Vec<Track>> {
    let k = TableKind::Tracks;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let id = column::<StringArray>(b, k, "track_id")?;
        let uri = column::<StringArray>(b, k, "audio_uri")?;
        let split = column::<StringArray>(b, k, "split")?;
        let labels = column::<ListArray>(b, k, "labels")?;
        let targets = column::<ListArray>(b, k, "targets")?;
        let duration = column::<Float64Array>(b, k, "duration_s")?;
        let fold = column::<Int32Array>(b, k, "fold")?;
        for i in 0..b.num_rows() {
            let l = labels.value(i);
            let l = l
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("validated List<Utf8>");
            out.push(Track {
                track_id: id.value(i).to_string(),
                audio_uri: uri.value(i).to_string(),
                split: parse_name(split, "split", i, out.len())?,
                labels: l.iter().flatten().map(String::from).collect(),
                targets: opt(targets, i, || f32_list(targets, i)),
                duration_s: duration.value(i),
                fold: opt(fold, i, || fold.value(i)),
            });
        }
    }
    Ok(out)
}

/// Whether an `embeddings` table may hold rows of `layer`: its `layer` metadata (the one
/// layer a table written by mir-ref holds) is `layer`, or absent (a table of several layers).
pub fn embeddings_may_hold(table: &Table, layer: i32) -> bool {
    let meta = table.schema.metadata();
    meta.get(crate::keys::LAYER)
        .and_then(|v| v.parse::<i32>().ok())
        .is_none_or(|l| l == layer)
}

/// Reads every row of an `embeddings` table.
pub fn read_embeddings(table: &Table) -> Result<Vec<EmbeddingRow>> {
    let k = TableKind::Embeddings;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let id = column::<StringArray>(b, k, "track_id")?;
        let deformation = column::<StringArray>(b, k, "deformation")?;
        let layer = column::<Int32Array>(b, k, "layer")?;
        let window = column::<Int32Array>(b, k, "window")?;
        let start = column::<Float32Array>(b, k, "start_s")?;
        let emb = column::<FixedSizeListArray>(b, k, "embedding")?;
        for i in 0..b.num_rows() {
            out.push(EmbeddingRow {
                track_id: id.value(i).to_string(),
                deformation: deformation.value(i).to_string(),
                layer: layer.value(i),
                window: window.value(i),
                start_s: start.value(i),
                embedding: fixed_f32(emb, i),
            });
        }
    }
    Ok(out)
}

/// Reads every row of a `predictions` table.
pub fn read_predictions(table: &Table) -> Result<Vec<Prediction>> {
    let k = TableKind::Predictions;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let id = column::<StringArray>(b, k, "track_id")?;
        let split = column::<StringArray>(b, k, "split")?;
        let deformation = column::<StringArray>(b, k, "deformation")?;
        let scores = column::<FixedSizeListArray>(b, k, "scores")?;
        for i in 0..b.num_rows() {
            out.push(Prediction {
                track_id: id.value(i).to_string(),
                split: parse_name(split, "split", i, out.len())?,
                deformation: deformation.value(i).to_string(),
                scores: fixed_f32(scores, i),
            });
        }
    }
    Ok(out)
}

/// Reads every row of a `training_log` table.
pub fn read_training_log(table: &Table) -> Result<Vec<Epoch>> {
    let k = TableKind::TrainingLog;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let f = |name| column::<Float64Array>(b, k, name);
        let epoch = column::<Int32Array>(b, k, "epoch")?;
        let (train, vloss, vmetric, lr, secs) = (
            f("train_loss")?,
            f("validation_loss")?,
            f("validation_metric")?,
            f("learning_rate")?,
            f("seconds")?,
        );
        for i in 0..b.num_rows() {
            out.push(Epoch {
                epoch: epoch.value(i),
                train_loss: train.value(i),
                validation_loss: opt(vloss, i, || vloss.value(i)),
                validation_metric: opt(vmetric, i, || vmetric.value(i)),
                learning_rate: lr.value(i),
                seconds: secs.value(i),
            });
        }
    }
    Ok(out)
}

/// Reads every row of a `metrics` table.
pub fn read_metrics(table: &Table) -> Result<Vec<MetricRow>> {
    let k = TableKind::Metrics;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let (task, dataset, model, probe, deformation, metric) = (
            s("task")?,
            s("dataset")?,
            s("model")?,
            s("probe")?,
            s("deformation")?,
            s("metric")?,
        );
        let layer = column::<Int32Array>(b, k, "layer")?;
        let seed = column::<Int64Array>(b, k, "seed")?;
        let value = column::<Float64Array>(b, k, "value")?;
        let lo = column::<Float64Array>(b, k, "ci_low")?;
        let hi = column::<Float64Array>(b, k, "ci_high")?;
        let n = column::<Int64Array>(b, k, "n")?;
        for i in 0..b.num_rows() {
            out.push(MetricRow {
                task: task.value(i).to_string(),
                dataset: dataset.value(i).to_string(),
                model: model.value(i).to_string(),
                layer: layer.value(i),
                probe: probe.value(i).to_string(),
                seed: seed.value(i),
                deformation: deformation.value(i).to_string(),
                metric: metric.value(i).to_string(),
                value: value.value(i),
                ci_low: opt(lo, i, || lo.value(i)),
                ci_high: opt(hi, i, || hi.value(i)),
                n: n.value(i),
            });
        }
    }
    Ok(out)
}

/// Reads every row of a `confusion` table.
pub fn read_confusion(table: &Table) -> Result<Vec<ConfusionRow>> {
    let k = TableKind::Confusion;
    let mut out = Vec::with_capacity(table.num_rows());
    for b in &table.batches {
        let s = |name| column::<StringArray>(b, k, name);
        let (task, dataset, model, probe, deformation) = (
            s("task")?,
            s("dataset")?,
            s("model")?,
            s("probe")?,
            s("deformation")?,
        );
        let (true_label, predicted_label) = (s("true_label")?, s("predicted_label")?);
        let layer = column::<Int32Array>(b, k, "layer")?;
        let seed = column::<Int64Array>(b, k, "seed")?;
        let count = column::<Int64Array>(b, k, "count")?;
        for i in 0..b.num_rows() {
            out.push(ConfusionRow {
                task: task.value(i).to_string(),
                dataset: dataset.value(i).to_string(),
                model: model.value(i).to_string(),
                layer: layer.value(i),
                probe: probe.value(i).to_string(),
                seed: seed.value(i),
                deformation: deformation.value(i).to_string(),
                true_label: true_label.value(i).to_string(),
                predicted_label: predicted_label.value(i).to_string(),
                count: count.value(i),
            });
        }
    }
    Ok(out)
}

/// Row `i` of a string column holding one of a set of names ([`crate::names`]); an unknown
/// name is an error naming the column, the row and the names it may hold.
/// `row` counts from the table's first row.
fn parse_name<T>(array: &StringArray, column: &str, i: usize, row: usize) -> Result<T>
where
    T: std::str::FromStr<Err = crate::names::UnknownName>,
{
    array
        .value(i)
        .parse()
        .map_err(|e: crate::names::UnknownName| Error::BadRow {
            column: column.into(),
            row,
            reason: e.to_string(),
        })
}
