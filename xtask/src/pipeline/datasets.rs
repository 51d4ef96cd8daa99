//! The datasets stage: each planned dataset prepared (rendered, downloaded) and parsed into
//! one `tracks` table per planned task.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use mir_datasets::TaskTracks;
use mir_table::{FailureRow, RunLayout, Table, TableKind, TableStore, Track};
use tracing::info;

use crate::config::{ExperimentConfig, Plan, planned_datasets};

/// Every planned task's `tracks` table and parsed tracks, by (dataset, task).
pub type TaskTables = BTreeMap<(String, String), (Table, TaskTracks)>;

/// Prepares every planned dataset, parses it and writes its tasks' `tracks` tables.
pub async fn prepare(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
) -> Result<TaskTables> {
    for dataset in planned_datasets(plan) {
        config.datasets[&dataset]
            .prepare(&Default::default())
            .with_context(|| format!("preparing dataset `{dataset}`"))?;
    }
    let tasks = load(config, plan)?;
    write(store, &tasks).await?;
    Ok(tasks)
}

/// Writes the `tracks` table of every task of `tasks`.
pub async fn write(store: &TableStore, tasks: &TaskTables) -> Result<()> {
    for ((dataset, task), (table, tracks)) in tasks {
        let rel = RunLayout::tracks(dataset, task);
        store
            .write(&rel, TableKind::Tracks, &table.schema, &table.batches)
            .await?;
        info!(dataset, task, tracks = tracks.tracks.len(), "wrote {rel}");
    }
    Ok(())
}

/// Parses the planned tasks of datasets already on disk (prepares nothing).
pub fn load(config: &ExperimentConfig, plan: &Plan) -> Result<TaskTables> {
    let mut tasks = TaskTables::new();
    for dataset in planned_datasets(plan) {
        let loaded = load_one(config, plan, &dataset)
            .with_context(|| format!("loading dataset `{dataset}`"))?;
        tasks.extend(loaded);
    }
    Ok(tasks)
}

/// The planned tasks of one dataset already on disk.
pub fn load_one(config: &ExperimentConfig, plan: &Plan, dataset: &str) -> Result<TaskTables> {
    let mut tasks = TaskTables::new();
    for task in config.datasets[dataset].load(dataset, config.seed)? {
        let key = (dataset.to_owned(), task.task.clone());
        if plan.tasks.contains(&key) {
            tasks.insert(key, (table_of(dataset, &task)?, task));
        }
    }
    Ok(tasks)
}

fn table_of(dataset: &str, task: &TaskTracks) -> Result<Table> {
    let (schema, batch) = mir_datasets::tracks_table(dataset, task)?;
    Ok(Table {
        schema,
        batches: vec![batch],
    })
}

/// The tracks of every task of `dataset`: tasks share the dataset's split, so their union is
/// what an extraction covers.
pub fn tracks_of(tasks: &TaskTables, dataset: &str) -> Vec<Track> {
    let mut tracks: BTreeMap<&str, &Track> = BTreeMap::new();
    for ((d, _), (_, t)) in tasks {
        if d == dataset {
            for tr in &t.tracks {
                tracks.entry(&tr.track_id).or_insert(tr);
            }
        }
    }
    tracks.into_values().cloned().collect()
}

/// Removes the tracks any extraction skipped from every task: every model and probe sees the
/// same tracks.
pub fn drop_failed(tasks: &mut TaskTables, failures: &[FailureRow]) -> Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let skipped: BTreeSet<(&str, &str)> = failures
        .iter()
        .map(|f| (f.dataset.as_str(), f.track_id.as_str()))
        .collect();
    tracing::warn!(
        tracks = skipped.len(),
        "tracks skipped; {} says why",
        RunLayout::FAILURES
    );
    for ((dataset, _), (table, task)) in tasks.iter_mut() {
        let before = task.tracks.len();
        task.tracks
            .retain(|t| !skipped.contains(&(dataset.as_str(), t.track_id.as_str())));
        if task.tracks.len() < before {
            *table = table_of(dataset, task)?;
        }
    }
    Ok(())
}
