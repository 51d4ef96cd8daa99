//! The evaluation stage: each probe run's `metrics` and `confusion` (cached beside its
//! predictions), then the run's `metrics.parquet` and `confusion.parquet`.

use anyhow::{Context, Result};
use mir_table::layout::ProbeDir;
use mir_table::{ConfusionRow, MetricRow, RunLayout, Table, TableKind, TableStore};

use super::datasets::TaskTables;
use super::train::Job;
use crate::cache::{self, read_with_hash, with_input_hash, with_metadata};
use crate::config::ExperimentConfig;

/// Every run's metric and confusion rows, and how many were reused.
pub struct Evaluated {
    /// The `metrics` rows of every run.
    pub metrics: Vec<MetricRow>,
    /// The `confusion` rows of every run.
    pub confusion: Vec<ConfusionRow>,
    /// Runs whose metrics were reused.
    pub cached: usize,
    /// Each run's evaluation input hash, in run order.
    pub hashes: Vec<String>,
}

/// Scores every run (reusing metrics whose inputs are unchanged, unless `force`) and writes
/// the run's tables.
pub async fn all(
    config: &ExperimentConfig,
    store: &TableStore,
    runs: &[(Job, Table)],
    tasks: &TaskTables,
    force: bool,
) -> Result<Evaluated> {
    let mut out = Evaluated {
        metrics: Vec::new(),
        confusion: Vec::new(),
        cached: 0,
        hashes: Vec::new(),
    };
    let mut scored = Vec::with_capacity(runs.len());
    for (job, _) in runs {
        let hash = cache::evaluation(config, &job.hash);
        let hit = match force {
            true => None,
            false => cached(store, &RunLayout::probe(&job.key), &hash).await,
        };
        out.hashes.push(hash);
        scored.push(hit);
    }
    out.cached = scored.iter().filter(|s| s.is_some()).count();
    // The runs to score, scored on every core at once (each run's resamples spread too).
    let missing: Vec<usize> = (0..runs.len()).filter(|&i| scored[i].is_none()).collect();
    let computed = crate::work::map(&missing, crate::work::cores(), |&i| {
        let (job, predictions) = &runs[i];
        let tracks = &tasks[&(job.key.dataset.clone(), job.key.task.clone())].0;
        score(config, &RunLayout::probe(&job.key), tracks, predictions)
    });
    for (&i, rows) in missing.iter().zip(computed) {
        let rows = rows.context("a run left unscored")??;
        let dir = RunLayout::probe(&runs[i].0.key);
        save(config, store, &dir, &out.hashes[i], &rows).await?;
        scored[i] = Some(rows);
    }
    for (metrics, confusion) in scored.into_iter().flatten() {
        out.metrics.extend(metrics);
        out.confusion.extend(confusion);
    }
    write_totals(config, store, &out).await?;
    significance(config, store, runs, tasks, force).await?;
    Ok(out)
}

/// The paired comparison of every two systems scored on the same test tracks, on the
/// report's metric (else each task's primary one), written to `significance.parquet`;
/// reused while no run's predictions change.
async fn significance(
    config: &ExperimentConfig,
    store: &TableStore,
    runs: &[(Job, Table)],
    tasks: &TaskTables,
    force: bool,
) -> Result<()> {
    let mut metrics: Vec<&str> = config.report.metric.iter().map(String::as_str).collect();
    metrics.extend(mir_report::pivot::PRIMARY_METRICS);
    let hashes: Vec<&str> = runs.iter().map(|(job, _)| job.hash.as_str()).collect();
    let hash = cache::significance(config, &hashes, &metrics);
    let kind = TableKind::Significance;
    if !force
        && read_with_hash(store, RunLayout::SIGNIFICANCE, kind, &hash)
            .await
            .is_some()
    {
        return Ok(());
    }
    let pairs: Vec<(&Table, &Table)> = (runs.iter())
        .map(|(job, predictions)| {
            let tracks = &tasks[&(job.key.dataset.clone(), job.key.task.clone())].0;
            (tracks, predictions)
        })
        .collect();
    let rows = mir_eval::significance(&config.evaluation, config.seed, &pairs, &metrics)
        .context("comparing the systems")?;
    warn_if_coarse(config, &rows);
    let schema = mir_eval::significance_schema(Some(&config.hash()))?;
    let schema = with_input_hash(schema, &hash);
    let batch = mir_table::significance_batch(&schema, &rows)?;
    store
        .write(RunLayout::SIGNIFICANCE, kind, &schema, &[batch])
        .await?;
    Ok(())
}

/// A run's metrics and confusion rows from an earlier run with the same input hash.
pub async fn cached(
    store: &TableStore,
    dir: &ProbeDir,
    input_hash: &str,
) -> Option<(Vec<MetricRow>, Vec<ConfusionRow>)> {
    let m = read_with_hash(store, &dir.metrics(), TableKind::Metrics, input_hash).await?;
    let c = read_with_hash(store, &dir.confusion(), TableKind::Confusion, input_hash).await?;
    Some((
        mir_table::read_metrics(&m).ok()?,
        mir_table::read_confusion(&c).ok()?,
    ))
}

/// One run's metric and confusion rows.
fn score(
    config: &ExperimentConfig,
    dir: &ProbeDir,
    tracks: &Table,
    predictions: &Table,
) -> Result<(Vec<MetricRow>, Vec<ConfusionRow>)> {
    let rows = mir_eval::evaluate(&config.evaluation, config.seed, tracks, predictions)
        .with_context(|| format!("evaluating {}", dir.dir()))?;
    let confusion = mir_eval::confusion(tracks, predictions)?;
    Ok((rows, confusion))
}

/// Saves one run's tables beside its predictions (metrics last: a run cut off before them
/// evaluates again).
async fn save(
    config: &ExperimentConfig,
    store: &TableStore,
    dir: &ProbeDir,
    input_hash: &str,
    (rows, confusion): &(Vec<MetricRow>, Vec<ConfusionRow>),
) -> Result<()> {
    let config_hash = config.hash();
    let cschema = with_input_hash(mir_eval::confusion_schema(Some(&config_hash))?, input_hash);
    let cbatch = mir_table::confusion_batch(&cschema, confusion)?;
    store
        .write(&dir.confusion(), TableKind::Confusion, &cschema, &[cbatch])
        .await?;
    let mschema = with_input_hash(mir_eval::metrics_schema(Some(&config_hash))?, input_hash);
    let mbatch = mir_table::metrics_batch(&mschema, rows)?;
    store
        .write(&dir.metrics(), TableKind::Metrics, &mschema, &[mbatch])
        .await?;
    Ok(())
}

/// `metrics.parquet` (with the scenarios in its metadata, so reports can plot metrics against
/// a swept parameter from the tables alone) and `confusion.parquet`.
async fn write_totals(
    config: &ExperimentConfig,
    store: &TableStore,
    out: &Evaluated,
) -> Result<()> {
    let hash = config.hash();
    let mschema = with_metadata(
        mir_eval::metrics_schema(Some(&hash))?,
        mir_table::keys::DEFORMATIONS,
        &serde_json::to_string(&config.deformations)?,
    );
    let mbatch = mir_table::metrics_batch(&mschema, &out.metrics)?;
    store
        .write(RunLayout::METRICS, TableKind::Metrics, &mschema, &[mbatch])
        .await?;
    let cschema = mir_eval::confusion_schema(Some(&hash))?;
    let cbatch = mir_table::confusion_batch(&cschema, &out.confusion)?;
    let kind = TableKind::Confusion;
    store
        .write(RunLayout::CONFUSION, kind, &cschema, &[cbatch])
        .await?;
    Ok(())
}

/// The smallest bootstrap p-value is `2 / (B + 1)`, so Holm's adjustment over `m` pairs can
/// reach the significance level only with `B >= 2 m / level`: says so when it cannot.
fn warn_if_coarse(config: &ExperimentConfig, rows: &[mir_table::SignificanceRow]) {
    let mut family: std::collections::BTreeMap<_, usize> = std::collections::BTreeMap::new();
    for r in rows {
        *family
            .entry((&r.dataset, &r.task, &r.deformation, r.seed))
            .or_default() += 1;
    }
    let Some(&pairs) = family.values().max() else {
        return;
    };
    let alpha = mir_report::significance::ALPHA;
    let resamples = config.evaluation.bootstrap;
    let needed = (2.0 * pairs as f64 / alpha).ceil() as usize;
    if resamples < needed {
        tracing::warn!(
            pairs,
            resamples,
            "with {resamples} bootstrap resamples no Holm-adjusted p-value of {pairs} pairs can \
             fall below {alpha}: set `evaluation.bootstrap` to at least {needed}"
        );
    }
}
