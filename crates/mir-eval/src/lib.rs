//! Metrics for mir-ref: score `predictions` against `tracks`, write the long `metrics` table.
//!
//! Reads `tracks` (true labels) and `predictions` (scores, with the run's identifiers in the
//! metadata); writes `metrics` rows ([`mir_table::MetricRow`]), one per (deformation, metric).
//! It is pure computation on Arrow arrays: no file I/O, no audio, no training.
//!
//! The key design decision is that metric definitions follow scikit-learn exactly (which labels
//! a macro average runs over, what a zero division gives), so that a number here can be put next
//! to one computed in Python; the unit tests pin values computed by scikit-learn.
//!
//! ```
//! assert_eq!(mir_eval::accuracy(&[0, 1, 2], &[0, 1, 1]), 2.0 / 3.0);
//! assert!((mir_eval::f1_macro(&[0, 1, 2], &[0, 1, 1]) - 5.0 / 9.0).abs() < 1e-12);
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::datatypes::SchemaRef;
use mir_table::{
    Metadata, MetricRow, Table, TableKind, TaskType, keys, read_predictions, read_tracks,
};

/// Errors of evaluation; each ends the evaluation of one predictions table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Predictions and tracks disagree.
    #[error("{0}")]
    Mismatch(String),
    /// The task type has no metrics yet.
    #[error("task type `{0}` has no metrics yet (multiclass only)")]
    UnsupportedTask(TaskType),
    /// An input table is invalid.
    #[error(transparent)]
    Table(#[from] mir_table::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

fn argmax(scores: &[f32]) -> usize {
    scores
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > scores[best] { i } else { best })
}

/// Scores the test predictions of one probe run, per deformation.
///
/// The run's identifiers (dataset, task, model, layer, probe, seed) come from the predictions'
/// metadata. Every test track must have a prediction for the clean audio; a missing one is an
/// error rather than a metric on a silently smaller test set.
pub fn evaluate(tracks: &Table, predictions: &Table) -> Result<Vec<MetricRow>> {
    let pmeta = Metadata::of(&predictions.schema);
    let p = TableKind::Predictions;
    let task_type = TaskType::parse(p, pmeta.get(p, keys::TASK_TYPE)?)?;
    if task_type != TaskType::Multiclass {
        return Err(Error::UnsupportedTask(task_type));
    }
    let vocabulary = pmeta.label_vocabulary(p)?;
    let class_of: HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let truth: HashMap<String, usize> = read_tracks(tracks)?
        .into_iter()
        .filter(|t| t.split == "test")
        .map(|t| {
            let label = t.labels.first().ok_or_else(|| {
                Error::Mismatch(format!("test track `{}` has no label", t.track_id))
            })?;
            let c = class_of.get(label.as_str()).ok_or_else(|| {
                Error::Mismatch(format!(
                    "test track `{}` has label `{label}`, absent from the predictions' vocabulary",
                    t.track_id
                ))
            })?;
            Ok((t.track_id, *c))
        })
        .collect::<Result<_>>()?;

    let mut by_deformation: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    let mut clean_seen = BTreeSet::new();
    for pred in read_predictions(predictions)? {
        if pred.split != "test" {
            continue;
        }
        let Some(&t) = truth.get(&pred.track_id) else {
            return Err(Error::Mismatch(format!(
                "prediction for `{}`, which is not a test track",
                pred.track_id
            )));
        };
        if pred.deformation == mir_table::CLEAN {
            clean_seen.insert(pred.track_id.clone());
        }
        let entry = by_deformation.entry(pred.deformation).or_default();
        entry.0.push(t);
        entry.1.push(argmax(&pred.scores));
    }
    if let Some(missing) = truth.keys().find(|id| !clean_seen.contains(*id)) {
        return Err(Error::Mismatch(format!(
            "test track `{missing}` has no clean prediction ({} of {} predicted)",
            clean_seen.len(),
            truth.len()
        )));
    }

    let id = |key| pmeta.get(p, key).map(str::to_string);
    let layer: i32 = id(keys::LAYER)?
        .parse()
        .map_err(|_| Error::Mismatch("metadata `layer` is not an integer".into()))?;
    let seed: i64 = id(keys::SEED)?
        .parse()
        .map_err(|_| Error::Mismatch("metadata `seed` is not an integer".into()))?;
    let mut rows = Vec::new();
    for (deformation, (y_true, y_pred)) in by_deformation {
        for (metric, value) in [
            ("accuracy", accuracy(&y_true, &y_pred)),
            ("f1_macro", f1_macro(&y_true, &y_pred)),
        ] {
            rows.push(MetricRow {
                task: id(keys::TASK)?,
                dataset: id(keys::DATASET)?,
                model: id(keys::MODEL)?,
                layer,
                probe: id(keys::PROBE)?,
                seed,
                deformation: deformation.clone(),
                metric: metric.into(),
                value,
                ci_low: None,
                ci_high: None,
                n: y_true.len() as i64,
            });
        }
    }
    Ok(rows)
}

/// The `metrics` schema, with the config hash when known.
pub fn metrics_schema(config_hash: Option<&str>) -> Result<SchemaRef> {
    let meta = match config_hash {
        Some(h) => Metadata::new().with(keys::CONFIG_HASH, h),
        None => Metadata::new(),
    };
    Ok(TableKind::Metrics.schema(0, &meta)?)
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
