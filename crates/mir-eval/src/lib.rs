//! Metrics for mir-ref: score `predictions` against `tracks`, write the long `metrics` table.
//!
//! Reads `tracks` (the truth: labels, or targets for regression) and `predictions` (scores, with
//! the run's identifiers in the metadata); writes `metrics` rows ([`mir_table::MetricRow`]), one
//! per (deformation, metric), each with a bootstrap confidence interval, and for every
//! deformation the paired difference to the clean audio (`delta/<metric>`). It is pure
//! computation on Arrow data: the only file I/O is in the small `mir-eval` CLI.
//!
//! The key design decision is that metric definitions follow scikit-learn and mir_eval exactly
//! (which classes a macro average runs over, what a zero division gives, how tied scores rank),
//! so that a number here can be put next to one computed in Python; the tests pin values
//! computed by those libraries. Where they would fail or return NaN (a tag with no positive in
//! the test set), the metric is computed over the defined classes and the skipped ones are
//! counted in their own row.
//!
//! Metrics by task type:
//! - multiclass ([`classification`]): accuracy, balanced accuracy, precision, recall and F1
//!   (macro, micro, weighted, per class as `f1/<class>`), top-3 and top-5 accuracy, one-vs-rest
//!   ROC-AUC and PR-AUC (macro); the MIREX key score when every class is a key (`C# major`);
//!   accuracy modulo octave when every class is a note with an octave (`C#4`);
//! - multilabel ([`multilabel`]): ROC-AUC and average precision (macro, micro, per tag), F1 at a
//!   threshold (macro, micro), `tags_skipped`;
//! - regression ([`regression`]): R², MAE, RMSE, Pearson and Spearman, per dimension and averaged.
//!
//! On plain labels and score slices (the values are scikit-learn's and mir_eval's):
//!
//! ```
//! assert_eq!(mir_eval::accuracy(&[0, 1, 2], &[0, 1, 1]), 2.0 / 3.0);
//! assert!((mir_eval::f1_macro(&[0, 1, 2], &[0, 1, 1]) - 5.0 / 9.0).abs() < 1e-12);
//! // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75, and
//! // average_precision_score of the same == 0.8333...; every row counts (`idx`).
//! let (positive, scores) = ([false, false, true, true], [0.1, 0.4, 0.35, 0.8]);
//! let (auc, ap) = mir_eval::ranking::roc_auc_and_ap(&positive, &scores, &[0, 1, 2, 3]);
//! assert_eq!(auc, Some(0.75));
//! assert!((ap.unwrap() - 5.0 / 6.0).abs() < 1e-12);
//! // mir_eval.key.weighted_score("C major", "G major") == 0.5 (a fifth above).
//! assert_eq!(mir_eval::key::weighted_score("C major", "G major"), Some(0.5));
//! ```

pub mod bootstrap;
pub mod classification;
mod drift;
pub mod key;
pub mod multilabel;
pub mod ranking;
pub mod regression;
mod significance;

pub use drift::drift;
pub use significance::significance;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::datatypes::SchemaRef;
use mir_table::{
    CLEAN, ConfusionRow, Metadata, MetricRow, Split, Table, TableKind, TaskType, keys,
    read_predictions, read_tracks,
};
use serde::{Deserialize, Serialize};

use crate::bootstrap::Bootstrap;

/// Errors of evaluation; each ends the evaluation of one predictions table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Predictions and tracks disagree.
    #[error("{0}")]
    Mismatch(String),
    /// An input table is invalid.
    #[error(transparent)]
    Table(#[from] mir_table::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Metric names and values. A [`Prepared`] test set names its metrics with strings it holds
/// (`Named<&str>`), so a resample allocates no names; [`owned`] makes them `String`s.
pub type Named<N = String> = Vec<(N, f64)>;

/// `named` with its names owned.
pub fn owned(named: Named<&str>) -> Named {
    named.into_iter().map(|(m, v)| (m.to_owned(), v)).collect()
}

/// Evaluation settings, as written in the experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Bootstrap resamples for confidence intervals; 0 disables them.
    #[serde(default = "d_bootstrap")]
    pub bootstrap: usize,
    /// Coverage of the intervals.
    #[serde(default = "d_confidence")]
    pub confidence: f64,
    /// Decision threshold on multilabel scores (`score >= threshold` is a positive).
    #[serde(default = "d_threshold")]
    pub threshold: f32,
}

fn d_bootstrap() -> usize {
    1000
}
fn d_confidence() -> f64 {
    0.95
}
fn d_threshold() -> f32 {
    0.5
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            bootstrap: d_bootstrap(),
            confidence: d_confidence(),
            threshold: d_threshold(),
        }
    }
}

/// Scores of `n` items over `c` columns, row-major, with a column-major copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Number of items.
    pub n: usize,
    /// Number of columns (classes, tags or target dimensions).
    pub c: usize,
    rows: Vec<f32>,
    columns: Vec<Vec<f32>>,
}

impl Scores {
    /// From one score vector per item; every vector must have `c` values.
    pub fn new(rows: &[Vec<f32>], c: usize) -> Self {
        let n = rows.len();
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let columns = (0..c)
            .map(|j| (0..n).map(|i| flat[i * c + j]).collect())
            .collect();
        Self {
            n,
            c,
            rows: flat,
            columns,
        }
    }

    /// Item `i`'s scores.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.rows[i * self.c..(i + 1) * self.c]
    }

    /// Column `j`'s scores for every item.
    pub fn column(&self, j: usize) -> &[f32] {
        &self.columns[j]
    }
}

/// The truth of the test items, by task type.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    /// Class index per item.
    Classes(Vec<usize>),
    /// `tags` flags per item, row-major.
    Tags(Vec<bool>),
    /// `dimensions` targets per item, row-major.
    Targets(Vec<f64>),
}

/// Every metric of `truth` against `scores` over the items `idx` (repeats allowed).
pub fn compute(
    truth: &Truth,
    scores: &Scores,
    vocabulary: &[String],
    idx: &[usize],
    config: &EvalConfig,
) -> Named {
    owned(prepare(truth, scores, vocabulary, config).compute(idx))
}

/// A test set made ready for many resamples ([`Prepared::compute`]): multiclass predictions,
/// rankings and relations, tagging rankings and decisions, and every metric's name, are
/// computed once ([`classification::Prepared`], [`multilabel::Prepared`],
/// [`regression::Prepared`]).
pub enum Prepared<'a> {
    /// Single-label classification.
    Classes(classification::Prepared<'a>),
    /// Tagging.
    Tags(multilabel::Prepared),
    /// Regression.
    Targets(regression::Prepared<'a>),
}

/// Prepares `truth` and `scores` for [`Prepared::compute`]. Regression dimensions are named by
/// `vocabulary` when it names every one, else by their index.
pub fn prepare<'a>(
    truth: &'a Truth,
    scores: &'a Scores,
    vocabulary: &'a [String],
    config: &EvalConfig,
) -> Prepared<'a> {
    match truth {
        Truth::Classes(y) => {
            Prepared::Classes(classification::Prepared::new(y, scores, vocabulary))
        }
        Truth::Tags(t) => Prepared::Tags(multilabel::Prepared::new(
            t,
            scores,
            vocabulary,
            config.threshold,
        )),
        Truth::Targets(t) => {
            let indices: Vec<String>;
            let names = if vocabulary.len() == scores.c {
                vocabulary
            } else {
                indices = (0..scores.c).map(|k| k.to_string()).collect();
                &indices
            };
            Prepared::Targets(regression::Prepared::new(t, scores, names))
        }
    }
}

impl Prepared<'_> {
    /// Every metric of the task type over the items `idx` (which may repeat), named by strings
    /// the prepared set holds; see [`compute`].
    pub fn compute(&self, idx: &[usize]) -> Named<&str> {
        match self {
            Prepared::Classes(p) => p.metrics(idx),
            Prepared::Tags(p) => p.metrics(idx),
            Prepared::Targets(p) => p.metrics(idx),
        }
    }

    /// [`compute`](Self::compute)'s value of `metric` over `idx` (NaN when it computes no
    /// such metric), without the others where a shortcut exists (multiclass accuracy).
    pub fn compute_one(&self, idx: &[usize], metric: &str) -> f64 {
        match self {
            Prepared::Classes(p) if metric == "accuracy" => p.accuracy(idx),
            _ => (self.compute(idx).into_iter())
                .find(|(m, _)| *m == metric)
                .map_or(f64::NAN, |(_, v)| v),
        }
    }
}

/// Fraction of items whose prediction equals the truth (`sklearn.metrics.accuracy_score`).
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> f64 {
    if y_true.is_empty() {
        return f64::NAN;
    }
    y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count() as f64 / y_true.len() as f64
}

/// Unweighted mean of per-class F1 over the classes present in `y_true` or `y_pred`; a class
/// with a zero denominator scores 0 (`sklearn.metrics.f1_score(average="macro",
/// zero_division=0)`).
pub fn f1_macro(y_true: &[usize], y_pred: &[usize]) -> f64 {
    let labels: BTreeSet<usize> = y_true.iter().chain(y_pred).copied().collect();
    if labels.is_empty() {
        return f64::NAN;
    }
    let sum: f64 = labels
        .iter()
        .map(|&c| {
            let tp = y_true
                .iter()
                .zip(y_pred)
                .filter(|&(&t, &p)| t == c && p == c)
                .count() as f64;
            let fp = y_true
                .iter()
                .zip(y_pred)
                .filter(|&(&t, &p)| t != c && p == c)
                .count() as f64;
            let fn_ = y_true
                .iter()
                .zip(y_pred)
                .filter(|&(&t, &p)| t == c && p != c)
                .count() as f64;
            let denom = 2.0 * tp + fp + fn_;
            if denom == 0.0 { 0.0 } else { 2.0 * tp / denom }
        })
        .sum();
    sum / labels.len() as f64
}

/// One deformation's test items: their ids (sorted), truth and scores.
struct Group {
    ids: Vec<String>,
    truth: Truth,
    scores: Scores,
}

/// One probe run's test predictions, grouped by deformation, with its identifiers.
struct Run {
    task: String,
    dataset: String,
    model: String,
    layer: i32,
    probe: String,
    seed: i64,
    vocabulary: Vec<String>,
    groups: BTreeMap<String, Group>,
    /// The predictions' `train_tracks`, where the probe wrote it.
    train_tracks: Option<f64>,
}

impl Run {
    fn row(
        &self,
        deformation: &str,
        metric: String,
        value: f64,
        ci: Option<&(f64, f64)>,
        n: usize,
    ) -> MetricRow {
        MetricRow {
            task: self.task.clone(),
            dataset: self.dataset.clone(),
            model: self.model.clone(),
            layer: self.layer,
            probe: self.probe.clone(),
            seed: self.seed,
            deformation: deformation.to_string(),
            metric,
            value,
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
            n: n as i64,
        }
    }
}

/// Reads one run's tables, checking that every test track has a clean prediction.
fn load(tracks: &Table, predictions: &Table) -> Result<Run> {
    let pmeta = Metadata::of(&predictions.schema);
    let p = TableKind::Predictions;
    let task_type = TaskType::parse(p, pmeta.get(p, keys::TASK_TYPE)?)?;
    let vocabulary = pmeta.label_vocabulary(p)?;
    let class_of: HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let test: BTreeMap<String, mir_table::Track> = read_tracks(tracks)?
        .into_iter()
        .filter(|t| t.split == Split::Test)
        .map(|t| (t.track_id.clone(), t))
        .collect();

    let mut by_deformation: BTreeMap<String, BTreeMap<String, Vec<f32>>> = BTreeMap::new();
    for pred in read_predictions(predictions)? {
        if pred.split != Split::Test {
            continue;
        }
        if !test.contains_key(&pred.track_id) {
            return Err(Error::Mismatch(format!(
                "prediction for `{}`, which is not a test track",
                pred.track_id
            )));
        }
        by_deformation
            .entry(pred.deformation)
            .or_default()
            .insert(pred.track_id, pred.scores);
    }
    let clean_count = by_deformation.get(CLEAN).map_or(0, BTreeMap::len);
    if let Some(missing) = test.keys().find(|id| {
        !by_deformation
            .get(CLEAN)
            .is_some_and(|c| c.contains_key(*id))
    }) {
        return Err(Error::Mismatch(format!(
            "test track `{missing}` has no clean prediction ({clean_count} of {} predicted)",
            test.len()
        )));
    }
    let width = predictions
        .schema
        .field_with_name("scores")
        .ok()
        .and_then(|f| match f.data_type() {
            arrow::datatypes::DataType::FixedSizeList(_, w) => Some(*w as usize),
            _ => None,
        })
        .unwrap_or(vocabulary.len());
    let mut groups = BTreeMap::new();
    for (deformation, preds) in by_deformation {
        let ids: Vec<String> = preds.keys().cloned().collect();
        let truth = truth_of(task_type, &ids, &test, &class_of, width)?;
        let rows: Vec<Vec<f32>> = preds.into_values().collect();
        groups.insert(
            deformation,
            Group {
                ids,
                truth,
                scores: Scores::new(&rows, width),
            },
        );
    }

    let id = |key: &str| pmeta.get(p, key).map(str::to_string);
    let parse_int = |key: &str| -> Result<i64> {
        id(key)?
            .parse()
            .map_err(|_| Error::Mismatch(format!("predictions metadata `{key}` is not an integer")))
    };
    Ok(Run {
        task: id(keys::TASK)?,
        dataset: id(keys::DATASET)?,
        model: id(keys::MODEL)?,
        layer: parse_int(keys::LAYER)? as i32,
        probe: id(keys::PROBE)?,
        seed: parse_int(keys::SEED)?,
        vocabulary,
        groups,
        train_tracks: match pmeta.get(p, keys::TRAIN_TRACKS) {
            Ok(_) => Some(parse_int(keys::TRAIN_TRACKS)? as f64),
            Err(_) => None,
        },
    })
}

fn bootstrap_of(config: &EvalConfig, seed: u64) -> Bootstrap {
    Bootstrap {
        resamples: config.bootstrap,
        confidence: config.confidence,
        seed,
    }
}

/// Whether a metric gets a paired difference (averages, not per-class values or counts).
fn is_summary(metric: &str) -> bool {
    !metric.contains('/') && !metric.ends_with("_skipped")
}

/// Scores the test predictions of one probe run, per deformation.
///
/// The run's identifiers (dataset, task, model, layer, probe, seed) come from the predictions'
/// metadata. Every test track must have a clean prediction: a missing one is an error rather
/// than a metric on a silently smaller test set. Intervals come from `config.bootstrap`
/// resamples drawn from `seed`; the same seed and test set give the same resamples for every
/// deformation, model and probe, so their differences are paired.
pub fn evaluate(
    config: &EvalConfig,
    seed: u64,
    tracks: &Table,
    predictions: &Table,
) -> Result<Vec<MetricRow>> {
    let run = load(tracks, predictions)?;
    let boot = bootstrap_of(config, seed);
    let vocabulary = &run.vocabulary;
    let clean = &run.groups[CLEAN];
    let clean_prepared = prepare(&clean.truth, &clean.scores, vocabulary, config);
    let clean_samples = bootstrap::resamples(&boot, clean.ids.len());
    // Each resample's clean metrics, computed once for the clean intervals and every delta.
    let clean_dist = bootstrap::distribution(&clean_samples, |idx| clean_prepared.compute(idx));
    let clean_all: Vec<usize> = (0..clean.ids.len()).collect();
    let clean_point = clean_prepared.compute(&clean_all);
    // Before the loop: a deformation named before `clean` gets its deltas too.
    let clean_values: BTreeMap<&str, f64> = clean_point.iter().copied().collect();
    let mut rows = Vec::new();
    for (deformation, g) in &run.groups {
        let n = g.ids.len();
        // Clean, or a deformation the scores do not change (a chance baseline's): the clean
        // values and resamples serve.
        let unchanged = g.ids == clean.ids && g.scores.rows == clean.scores.rows;
        // Declared out here: the metrics borrow their names from the prepared set.
        let (prepared, own_samples);
        let (point, dist) = if deformation == CLEAN || unchanged {
            (clean_point.clone(), None)
        } else {
            prepared = prepare(&g.truth, &g.scores, vocabulary, config);
            let all: Vec<usize> = (0..n).collect();
            let samples = if n == clean.ids.len() {
                &clean_samples
            } else {
                own_samples = bootstrap::resamples(&boot, n);
                &own_samples
            };
            let dist = bootstrap::distribution(samples, |idx| prepared.compute(idx));
            (prepared.compute(&all), Some(dist))
        };
        let dist = dist.as_ref().unwrap_or(&clean_dist);
        let cis = bootstrap::intervals_of(&boot, dist);
        for &(metric, value) in &point {
            rows.push(run.row(deformation, metric.into(), value, cis.get(metric), n));
        }
        // Paired difference to the clean audio, on the same tracks.
        if deformation == CLEAN || g.ids != clean.ids {
            continue;
        }
        let deltas = bootstrap::paired_intervals_of(&boot, &clean_dist, dist);
        for &(metric, value) in point.iter().filter(|(m, _)| is_summary(m)) {
            if let Some(c) = clean_values.get(metric) {
                rows.push(run.row(
                    deformation,
                    format!("delta/{metric}"),
                    value - c,
                    deltas.get(metric),
                    n,
                ));
            }
        }
    }
    if let Some(count) = run.train_tracks {
        rows.push(run.row(
            CLEAN,
            keys::TRAIN_TRACKS.into(),
            count,
            None,
            clean.ids.len(),
        ));
    }
    Ok(rows)
}

/// A paired comparison of two systems on the same test tracks: for each summary metric,
/// `b - a` with its paired bootstrap interval, as `metrics` rows labelled with `b`'s run and
/// named `delta_vs/<a's model>/<a's probe>/<metric>`, and the two-sided bootstrap p-value of
/// no difference ([`bootstrap::p_value`]) as `p_vs/<a's model>/<a's probe>/<metric>` (adjust
/// the p-values of several pairs together with [`bootstrap::holm`]).
///
/// Both predictions must cover the same test tracks for `deformation`; `a` might be another
/// model, probe or seed on the same task.
pub fn compare(
    config: &EvalConfig,
    seed: u64,
    tracks: &Table,
    a: &Table,
    b: &Table,
    deformation: &str,
) -> Result<Vec<MetricRow>> {
    let (ra, rb) = (load(tracks, a)?, load(tracks, b)?);
    let missing = || Error::Mismatch(format!("no `{deformation}` predictions"));
    let ga = ra.groups.get(deformation).ok_or_else(missing)?;
    let gb = rb.groups.get(deformation).ok_or_else(missing)?;
    if ga.ids != gb.ids || ra.vocabulary != rb.vocabulary {
        return Err(Error::Mismatch(
            "the two systems were not scored on the same tracks and classes".into(),
        ));
    }
    let boot = bootstrap_of(config, seed);
    let n = ga.ids.len();
    let all: Vec<usize> = (0..n).collect();
    let (prepared_a, prepared_b) = (
        prepare(&ga.truth, &ga.scores, &ra.vocabulary, config),
        prepare(&gb.truth, &gb.scores, &rb.vocabulary, config),
    );
    let fa = |idx: &[usize]| prepared_a.compute(idx);
    let fb = |idx: &[usize]| prepared_b.compute(idx);
    let (pa, pb): (BTreeMap<&str, f64>, Named<&str>) = (fa(&all).into_iter().collect(), fb(&all));
    let samples = bootstrap::resamples(&boot, n);
    let tests = bootstrap::paired_tests(&boot, &samples, fa, fb);
    let mut rows = Vec::new();
    for (m, v) in pb.into_iter().filter(|(m, _)| is_summary(m)) {
        let Some(va) = pa.get(m) else { continue };
        let test = tests.get(m);
        let ci = test.map(|t| (t.low, t.high));
        let delta = format!("delta_vs/{}/{}/{m}", ra.model, ra.probe);
        rows.push(rb.row(deformation, delta, v - va, ci.as_ref(), n));
        if let Some(t) = test {
            let p = format!("p_vs/{}/{}/{m}", ra.model, ra.probe);
            rows.push(rb.row(deformation, p, t.p, None, n));
        }
    }
    Ok(rows)
}

/// The confusion matrix of a multiclass run's test predictions, per deformation, as
/// non-empty cells (rows of the `confusion` table). Empty for other task types.
pub fn confusion(tracks: &Table, predictions: &Table) -> Result<Vec<ConfusionRow>> {
    let run = load(tracks, predictions)?;
    let mut rows = Vec::new();
    for (deformation, g) in &run.groups {
        let Truth::Classes(y) = &g.truth else {
            return Ok(vec![]);
        };
        let mut cells: BTreeMap<(usize, usize), i64> = BTreeMap::new();
        for (i, &t) in y.iter().enumerate() {
            *cells
                .entry((t, classification::argmax(g.scores.row(i))))
                .or_default() += 1;
        }
        rows.extend(cells.into_iter().map(|((t, p), count)| ConfusionRow {
            task: run.task.clone(),
            dataset: run.dataset.clone(),
            model: run.model.clone(),
            layer: run.layer,
            probe: run.probe.clone(),
            seed: run.seed,
            deformation: deformation.clone(),
            true_label: run.vocabulary[t].clone(),
            predicted_label: run.vocabulary[p].clone(),
            count,
        }));
    }
    Ok(rows)
}

fn truth_of(
    task_type: TaskType,
    ids: &[String],
    test: &BTreeMap<String, mir_table::Track>,
    class_of: &HashMap<&str, usize>,
    width: usize,
) -> Result<Truth> {
    let class = |id: &str, label: &str| {
        class_of.get(label).copied().ok_or_else(|| {
            Error::Mismatch(format!(
                "test track `{id}` has label `{label}`, absent from the predictions' vocabulary"
            ))
        })
    };
    Ok(match task_type {
        TaskType::Multiclass => Truth::Classes(
            ids.iter()
                .map(|id| match test[id].labels.as_slice() {
                    [label] => class(id, label),
                    other => Err(Error::Mismatch(format!(
                        "test track `{id}` has {} labels in a multiclass task",
                        other.len()
                    ))),
                })
                .collect::<Result<_>>()?,
        ),
        TaskType::Multilabel => {
            let mut flags = vec![false; ids.len() * width];
            for (i, id) in ids.iter().enumerate() {
                for label in &test[id].labels {
                    flags[i * width + class(id, label)?] = true;
                }
            }
            Truth::Tags(flags)
        }
        TaskType::Regression => {
            let mut targets = Vec::with_capacity(ids.len() * width);
            for id in ids {
                match &test[id].targets {
                    Some(t) if t.len() == width => targets.extend(t.iter().map(|&v| f64::from(v))),
                    other => {
                        return Err(Error::Mismatch(format!(
                            "test track `{id}` has {} targets, the predictions {width}",
                            other.as_ref().map_or(0, Vec::len)
                        )));
                    }
                }
            }
            Truth::Targets(targets)
        }
    })
}

fn schema_with_hash(kind: TableKind, config_hash: Option<&str>) -> Result<SchemaRef> {
    let meta = config_hash.map_or_else(Metadata::new, |h| {
        Metadata::new().with(keys::CONFIG_HASH, h)
    });
    Ok(kind.schema(0, &meta)?)
}

/// The `confusion` schema, with the config hash when known.
pub fn confusion_schema(config_hash: Option<&str>) -> Result<SchemaRef> {
    schema_with_hash(TableKind::Confusion, config_hash)
}

/// The `metrics` schema, with the config hash when known.
pub fn metrics_schema(config_hash: Option<&str>) -> Result<SchemaRef> {
    schema_with_hash(TableKind::Metrics, config_hash)
}

/// The `drift` schema, with the config hash when known.
pub fn drift_schema(config_hash: Option<&str>) -> Result<SchemaRef> {
    schema_with_hash(TableKind::Drift, config_hash)
}

/// The `significance` schema, with the config hash when known.
pub fn significance_schema(config_hash: Option<&str>) -> Result<SchemaRef> {
    schema_with_hash(TableKind::Significance, config_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values: scikit-learn 1.9.1,
    // y_true = [0, 0, 1, 1, 2, 2, 3, 3, 0, 1], y_pred = [0, 1, 1, 1, 2, 0, 3, 2, 0, 1]
    // accuracy_score -> 0.7, f1_score(average="macro") -> 0.6726190476190476.
    const Y_TRUE: [usize; 10] = [0, 0, 1, 1, 2, 2, 3, 3, 0, 1];
    const Y_PRED: [usize; 10] = [0, 1, 1, 1, 2, 0, 3, 2, 0, 1];

    #[test]
    fn matches_scikit_learn() {
        assert!((accuracy(&Y_TRUE, &Y_PRED) - 0.7).abs() < 1e-12);
        assert!((f1_macro(&Y_TRUE, &Y_PRED) - 0.6726190476190476).abs() < 1e-12);
    }

    #[test]
    fn label_only_predicted_counts_in_macro_average() {
        // sklearn f1_score([0, 0], [0, 1], average="macro") -> 0.3333333333333333
        assert!((f1_macro(&[0, 0], &[0, 1]) - 1.0 / 3.0).abs() < 1e-12);
    }
}

/// What the metric modules' tests share: fixed pseudo-random data, and the comparison of two
/// metric lists.
#[cfg(test)]
pub(crate) mod testing {
    use crate::Named;

    /// A xorshift generator: the same numbers on every run.
    pub fn numbers(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// The two lists name the same metrics in the same order, with values within 1e-12 (NaN
    /// equal to NaN).
    pub fn assert_same<A: AsRef<str>, B: AsRef<str>>(
        got: &Named<A>,
        want: &Named<B>,
        context: &str,
    ) {
        let got: Named<&str> = got.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        let want: Named<&str> = want.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        let (got_names, want_names): (Vec<&str>, Vec<&str>) = (
            got.iter().map(|(k, _)| *k).collect(),
            want.iter().map(|(k, _)| *k).collect(),
        );
        assert_eq!(got_names, want_names, "{context}");
        for ((name, a), (_, b)) in got.iter().zip(&want) {
            let same = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12;
            assert!(same, "{name}: {a} vs {b} ({context})");
        }
    }
}
