//! The training stage: one probe run per (task, model, layer, probe, seed), reused when its
//! inputs are unchanged, else trained (as many at once as there are cores) and saved.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::{Context, Result};
use mir_table::layout::ProbeDir;
use mir_table::{RunKey, RunLayout, Stage, Table, TableKind, TableStore};
use tracing::info;

use super::datasets::TaskTables;
use crate::cache::{self, read_with_hash, with_input_hash};
use crate::config::{ExperimentConfig, Plan};
use crate::work;

/// Embedding tables by (dataset, model).
pub type EmbeddingTables = BTreeMap<(String, String), Vec<Table>>;

/// One probe run of the grid, with the hash of its inputs and its predictions when an
/// earlier run left them with that hash.
pub struct Job {
    /// The run's identity.
    pub key: RunKey,
    /// Its input hash (empty when its embeddings were not extracted: a dry run).
    pub hash: String,
    /// Predictions reused from an earlier run.
    pub cached: Option<Table>,
}

/// Every probe run of the grid, in grid order.
pub fn keys(config: &ExperimentConfig, plan: &Plan, tasks: &TaskTables) -> Vec<RunKey> {
    let mut keys = Vec::new();
    for (dataset, task) in tasks.keys() {
        for model in &plan.models {
            let layers = config.model_layers.get(model).map_or(1, |l| l.len().max(1)) as i32;
            for layer in 0..layers {
                for probe in &plan.probes {
                    for &seed in &config.seeds {
                        keys.push(RunKey {
                            dataset: dataset.clone(),
                            task: task.clone(),
                            model: model.clone(),
                            layer,
                            probe: probe.clone(),
                            // Checked below 2^63 when the config was loaded.
                            seed: i64::try_from(seed).unwrap_or(i64::MAX),
                        });
                    }
                }
            }
        }
    }
    keys
}

/// Hashes every run's inputs and looks up its predictions (unless `force`).
pub async fn jobs(
    config: &ExperimentConfig,
    store: &TableStore,
    keys: Vec<RunKey>,
    tasks: &TaskTables,
    embeddings: &EmbeddingTables,
    force: bool,
) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(keys.len());
    for key in keys {
        let extracted = embeddings.get(&(key.dataset.clone(), key.model.clone()));
        let hash = extracted.map_or_else(String::new, |tables| {
            let task = &tasks[&(key.dataset.clone(), key.task.clone())].1;
            cache::probe(&config.probes[&key.probe], &key, task, tables)
        });
        let cached = match extracted {
            Some(_) if !force => cached_predictions(store, &RunLayout::probe(&key), &hash).await,
            _ => None,
        };
        if cached.is_some() {
            info!(
                dir = RunLayout::probe(&key).dir(),
                "reusing predictions: inputs unchanged"
            );
        }
        jobs.push(Job { key, hash, cached });
    }
    jobs
}

/// The predictions of an earlier run of the same job, if both its tables carry `job_hash`.
async fn cached_predictions(store: &TableStore, dir: &ProbeDir, job_hash: &str) -> Option<Table> {
    read_with_hash(store, &dir.training_log(), TableKind::TrainingLog, job_hash).await?;
    read_with_hash(store, &dir.predictions(), TableKind::Predictions, job_hash).await
}

/// Trains every job without cached predictions (concurrently, up to the core count), saves
/// each, and returns every job's predictions in job order.
pub async fn run(
    config: &ExperimentConfig,
    store: &TableStore,
    jobs: Vec<Job>,
    tasks: &TaskTables,
    embeddings: &EmbeddingTables,
) -> Result<Vec<(Job, Table)>> {
    let to_train: Vec<&Job> = jobs.iter().filter(|j| j.cached.is_none()).collect();
    let bar = crate::runlog::progress(to_train.len(), "training probes");
    let trained = work::map(&to_train, work::cores(), |job| {
        let out = train(config, &job.key, tasks, embeddings);
        bar.inc(1);
        // Every job trains: a failure is reported once all are done.
        Ok::<_, ()>(out)
    });
    bar.finish_and_clear();
    let mut trained = trained.into_iter().map(|r| r.and_then(Result::ok));
    let mut out = Vec::with_capacity(jobs.len());
    for mut job in jobs {
        let predictions = match job.cached.take() {
            Some(table) => table,
            None => {
                let result = trained.next().flatten().context("a training did not run")?;
                let (probe, seconds) = result.with_context(|| describe(&job.key))?;
                save(store, &job, &probe, seconds).await?
            }
        };
        out.push((job, predictions));
    }
    Ok(out)
}

/// `probe `linear` on tinysol/instrument with model `logmel`, seed 0`.
fn describe(key: &RunKey) -> String {
    format!(
        "probe `{}` on {}/{} with model `{}`, seed {}",
        key.probe, key.dataset, key.task, key.model, key.seed
    )
}

/// One training, with its wall time.
fn train(
    config: &ExperimentConfig,
    key: &RunKey,
    tasks: &TaskTables,
    embeddings: &EmbeddingTables,
) -> Result<(mir_probe::ProbeOutput, f64)> {
    let started = Instant::now();
    let tracks = &tasks[&(key.dataset.clone(), key.task.clone())].0;
    let tables = &embeddings[&(key.dataset.clone(), key.model.clone())];
    let probe = &config.probes[&key.probe];
    let out = mir_probe::run(probe, key.seed.unsigned_abs(), key.layer, tracks, tables)?;
    Ok((out, started.elapsed().as_secs_f64()))
}

/// Saves a trained network (architecture and standardisation, burnpack weights; a `knn` or
/// `centroid` probe has none), its training log, then its predictions, which mark the job
/// done; returns the predictions.
async fn save(
    store: &TableStore,
    job: &Job,
    out: &mir_probe::ProbeOutput,
    seconds: f64,
) -> Result<Table> {
    let dir = RunLayout::probe(&job.key);
    let (pschema, lschema) = mir_probe::output_schemas(&job.key, out)?;
    let pschema = with_input_hash(pschema, &job.hash);
    let lschema = with_input_hash(lschema, &job.hash);
    let pbatch = mir_table::predictions_batch(&pschema, &out.predictions)?;
    let lbatch = mir_table::training_log_batch(&lschema, &out.epochs)?;
    if let Some((saved, weights)) = &out.saved {
        let json = serde_json::to_vec_pretty(saved)?;
        store.put(&dir.model_json(), json.into()).await?;
        store
            .put(&dir.model_weights(), weights.clone().into())
            .await?;
    }
    let log = dir.training_log();
    store
        .write(&log, TableKind::TrainingLog, &lschema, &[lbatch])
        .await?;
    let predictions = dir.predictions();
    let batches = std::slice::from_ref(&pbatch);
    store
        .write(&predictions, TableKind::Predictions, &pschema, batches)
        .await?;
    let RunKey {
        task,
        model,
        probe,
        seed,
        ..
    } = &job.key;
    info!(
        task,
        model,
        probe,
        seed,
        best_epoch = out.best_epoch,
        epochs = out.epochs.len(),
        training_seconds = seconds,
        "probe trained"
    );
    Ok(Table {
        schema: pschema,
        batches: vec![pbatch],
    })
}

/// The chance baselines' runs of every task some probe ran on (model
/// [`mir_table::CHANCE`], a probe per [`mir_probe::Chance`]), on the conditions of that
/// probe's test predictions, saved like probe runs.
pub async fn chance(
    config: &ExperimentConfig,
    store: &TableStore,
    tasks: &TaskTables,
    runs: &[(Job, Table)],
) -> Result<Vec<(Job, Table)>> {
    let mut first: BTreeMap<(&str, &str), &Table> = BTreeMap::new();
    for (job, predictions) in runs {
        first
            .entry((&job.key.dataset, &job.key.task))
            .or_insert(predictions);
    }
    let mut out = Vec::new();
    for ((dataset, task), predictions) in first {
        let (tracks, task_tracks) = &tasks[&(dataset.to_owned(), task.to_owned())];
        let deformations: BTreeSet<String> = (mir_table::read_predictions(predictions)?)
            .into_iter()
            .map(|p| p.deformation)
            .collect();
        let deformations: Vec<String> = deformations.into_iter().collect();
        for chance in mir_probe::Chance::ALL {
            let key = RunKey {
                dataset: dataset.to_owned(),
                task: task.to_owned(),
                model: mir_table::CHANCE.to_owned(),
                layer: 0,
                probe: chance.name().to_owned(),
                seed: 0,
            };
            let hash = cache::chance(config, &key, task_tracks, &deformations);
            let probe = mir_probe::chance(chance, config.seed, tracks, &deformations)
                .with_context(|| describe(&key))?;
            let job = Job {
                key,
                hash,
                cached: None,
            };
            let table = save(store, &job, &probe, 0.0).await?;
            out.push((job, table));
        }
    }
    Ok(out)
}

/// With `--stage evaluate`: every probe run must have been trained. The error names those
/// that were not, with the training shard each belongs to (of the shard count the training
/// workers' done markers show).
pub async fn require_trained(store: &TableStore, jobs: &[Job]) -> Result<()> {
    let missing: Vec<usize> = (jobs.iter().enumerate())
        .filter_map(|(k, job)| job.cached.is_none().then_some(k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let markers = super::markers::of_stage(store, Stage::Train).await?;
    let count = markers.first().map(|(shard, _)| shard.count);
    let mut text = format!(
        "{} of {} probe runs are not trained:",
        missing.len(),
        jobs.len()
    );
    for k in missing.iter().take(10) {
        text.push_str(&format!("\n  {}", describe(&jobs[*k].key)));
        if let Some(count) = count {
            text.push_str(&format!(" (training shard {}/{count})", k % count));
        }
    }
    if missing.len() > 10 {
        text.push_str(&format!("\n  and {} more", missing.len() - 10));
    }
    text.push_str(&format!(
        "\nrun `mir-ref experiment CONFIG --stage {} --shard K/N` for each shard, or the \
         experiment without --stage to train them in one process",
        Stage::Train
    ));
    Err(super::Incomplete(text).into())
}
