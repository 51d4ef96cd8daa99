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
    };
    for (job, predictions) in runs {
        let dir = RunLayout::probe(&job.key);
        let hash = cache::evaluation(config, &job.hash);
        let hit = if force {
            None
        } else {
            cached(store, &dir, &hash).await
        };
        let (metrics, confusion) = match hit {
            Some(rows) => {
                out.cached += 1;
                rows
            }
            None => {
                let tracks = &tasks[&(job.key.dataset.clone(), job.key.task.clone())].0;
                one(config, store, &dir, &hash, tracks, predictions).await?
            }
        };
        out.metrics.extend(metrics);
        out.confusion.extend(confusion);
    }
    write_totals(config, store, &out).await?;
    Ok(out)
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

/// Scores one run and saves its tables beside its predictions (metrics last: a run cut off
/// before them evaluates again).
async fn one(
    config: &ExperimentConfig,
    store: &TableStore,
    dir: &ProbeDir,
    input_hash: &str,
    tracks: &Table,
    predictions: &Table,
) -> Result<(Vec<MetricRow>, Vec<ConfusionRow>)> {
    let config_hash = config.hash();
    let rows = mir_eval::evaluate(&config.evaluation, config.seed, tracks, predictions)
        .with_context(|| format!("evaluating {}", dir.dir()))?;
    let confusion = mir_eval::confusion(tracks, predictions)?;
    let cschema = with_input_hash(mir_eval::confusion_schema(Some(&config_hash))?, input_hash);
    let cbatch = mir_table::confusion_batch(&cschema, &confusion)?;
    store
        .write(&dir.confusion(), TableKind::Confusion, &cschema, &[cbatch])
        .await?;
    let mschema = with_input_hash(mir_eval::metrics_schema(Some(&config_hash))?, input_hash);
    let mbatch = mir_table::metrics_batch(&mschema, &rows)?;
    store
        .write(&dir.metrics(), TableKind::Metrics, &mschema, &[mbatch])
        .await?;
    Ok((rows, confusion))
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
