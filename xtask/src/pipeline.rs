//! `cargo xtask experiment`: runs the grid through every crate, table by table.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use mir_datasets::custom::TaskTracks;
use mir_table::{CLEAN, FailureRow, Metadata, Table, TableKind, TableStore, Track};
use tracing::info;

use crate::config::{ExperimentConfig, Plan, planned_datasets};

/// Counts of the work a plan implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridSize {
    /// Embedding tables: (dataset, model, clean or deformation).
    pub extractions: usize,
    /// Probe trainings: (task, model, probe, seed).
    pub trainings: usize,
    /// Metric evaluations: trainings times (clean plus deformations).
    pub evaluations: usize,
}

/// The size of the grid.
pub fn grid_size(config: &ExperimentConfig, plan: &Plan) -> GridSize {
    let layers: usize = plan
        .models
        .iter()
        .map(|m| config.model_layers.get(m).map_or(1, Vec::len))
        .sum();
    let trainings = plan.tasks.len() * layers * plan.probes.len() * config.seeds.len();
    GridSize {
        extractions: planned_datasets(plan).len()
            * plan.models.len()
            * (1 + deformation_splits(plan).len()),
        trainings,
        evaluations: trainings * (1 + plan.deformations.len()),
    }
}

/// The `--dry-run` text.
pub fn describe_plan(config: &ExperimentConfig, plan: &Plan) -> String {
    let size = grid_size(config, plan);
    let tasks: Vec<String> = plan.tasks.iter().map(|(d, t)| format!("{d}/{t}")).collect();
    let mut conditions = vec![CLEAN.to_string()];
    conditions.extend(plan.deformations.iter().cloned());
    format!(
        "experiment `{}` -> {}\n  tasks:        {}\n  models:       {}\n  deformations: {}\n  probes:       {}\n  seeds:        {:?}\n\
         plan: {} embedding extractions, {} probe trainings, {} evaluations\n",
        config.name,
        config.output(),
        tasks.join(", "),
        plan.models
            .iter()
            .map(|m| match config.model_layers.get(m) {
                Some(l) if l.len() > 1 => format!("{m} (layers {})", l.join(", ")),
                _ => m.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        conditions.join(", "),
        plan.probes.join(", "),
        config.seeds,
        size.extractions,
        size.trainings,
        size.evaluations,
    )
}

/// Runs the whole experiment and returns the summary Markdown table.
///
/// Embeddings whose inputs are unchanged since an earlier run into the same directory are
/// reused (their `input_hash`); `force` recomputes its stage and every later one.
pub async fn run(config: &ExperimentConfig, force: Option<Stage>) -> Result<RunSummary> {
    run_or_plan(config, force, false).await
}

/// What a run would reuse and what it would compute, without writing anything or preparing
/// (downloading, rendering) a dataset.
pub async fn cache_status(config: &ExperimentConfig) -> Result<String> {
    Ok(run_or_plan(config, None, true).await?.table)
}

/// [`run`], or with `dry` only the cache status (in [`RunSummary::table`]).
async fn run_or_plan(
    config: &ExperimentConfig,
    force: Option<Stage>,
    dry: bool,
) -> Result<RunSummary> {
    // Forcing a stage forces the ones after it.
    let forced = |stage: Stage| force.is_some_and(|f| f <= stage);
    let plan = config.plan();
    let mut stages = crate::runlog::Stages::start();
    let store = TableStore::open(&config.output())?;
    let started = Instant::now();
    let hash = config.hash();
    let mut status = Vec::new();
    if !dry {
        let mut resolved = serde_yaml::to_string(config)?;
        resolved.push_str(&format!("# config_hash: {hash}\n"));
        store.put("config.resolved.yml", resolved.into()).await?;
    }

    // 1. Datasets -> tracks.
    let mut tasks: TaskTables = BTreeMap::new();
    for dataset in planned_datasets(&plan) {
        let dc = &config.datasets[&dataset];
        if dry {
            if let Err(e) = dc.load(&dataset, config.seed) {
                return Ok(RunSummary::status(format!(
                    "dataset `{dataset}` is not ready ({e}): it will be prepared, and everything \
                     will run\n"
                )));
            }
        } else {
            dc.prepare(&Default::default())
                .with_context(|| format!("preparing dataset `{dataset}`"))?;
        }
        for task in dc
            .load(&dataset, config.seed)
            .with_context(|| format!("loading dataset `{dataset}`"))?
        {
            if !plan.tasks.contains(&(dataset.clone(), task.task.clone())) {
                continue;
            }
            let (schema, batch) = mir_datasets::tracks_table(&dataset, &task)?;
            let rel = format!("tracks/{dataset}/{}.parquet", task.task);
            if !dry {
                store
                    .write(
                        &rel,
                        TableKind::Tracks,
                        &schema,
                        std::slice::from_ref(&batch),
                    )
                    .await?;
            }
            info!(
                dataset,
                task = task.task,
                tracks = task.tracks.len(),
                "wrote {rel}"
            );
            tasks.insert(
                (dataset.clone(), task.task.clone()),
                (
                    Table {
                        schema,
                        batches: vec![batch],
                    },
                    task,
                ),
            );
        }
    }
    info!(seconds = started.elapsed().as_secs_f64(), "datasets ready");
    stages.done("datasets");

    // 2. Audio -> deformations -> embeddings, once per (dataset, model, condition).
    let mut embeddings: BTreeMap<(String, String), Vec<Table>> = BTreeMap::new();
    let mut failures: Vec<FailureRow> = Vec::new();
    for dataset in planned_datasets(&plan) {
        // Every task of a dataset shares its split, so the union of tracks covers all tasks.
        let mut tracks: BTreeMap<String, Track> = BTreeMap::new();
        for ((d, _), (_, t)) in &tasks {
            if *d == dataset {
                for tr in &t.tracks {
                    tracks
                        .entry(tr.track_id.clone())
                        .or_insert_with(|| tr.clone());
                }
            }
        }
        let tracks: Vec<Track> = tracks.into_values().collect();
        for model_name in &plan.models {
            let stage = Instant::now();
            let (tables, skipped, reused) = extract(
                config,
                &plan,
                &store,
                &dataset,
                model_name,
                &tracks,
                Mode {
                    force: forced(Stage::Embeddings),
                    dry,
                },
            )
            .await?;
            if dry {
                status.push(format!(
                    "embeddings {dataset}/{model_name}: {}",
                    if reused {
                        "cached".to_string()
                    } else {
                        format!("will be extracted ({} tracks)", tracks.len())
                    }
                ));
                if !reused {
                    continue;
                }
            }
            // Failures recorded by an earlier extraction count too.
            if config.fail_fast
                && let Some(f) = skipped.first()
            {
                anyhow::bail!(
                    "track `{}` ({}), stage {}, condition `{}` (fail_fast is set): {}",
                    f.track_id,
                    f.audio_uri,
                    f.stage,
                    f.deformation,
                    f.error
                );
            }
            failures.extend(skipped);
            info!(
                dataset,
                model = model_name,
                seconds = stage.elapsed().as_secs_f64(),
                "embeddings ready"
            );
            embeddings.insert((dataset.clone(), model_name.clone()), tables);
            stages.done(format!(
                "embed {dataset}/{model_name}{}",
                if reused { " (cached)" } else { "" }
            ));
        }
    }

    // Tracks skipped by any extraction leave the run: every model and probe sees the same tracks.
    if !dry {
        let fschema = TableKind::Failures.schema(0, &Metadata::new())?;
        let fbatch = mir_table::failures_batch(&fschema, &failures)?;
        store
            .write("failures.parquet", TableKind::Failures, &fschema, &[fbatch])
            .await?;
    }
    if !failures.is_empty() {
        let skipped: BTreeSet<(&str, &str)> = failures
            .iter()
            .map(|f| (f.dataset.as_str(), f.track_id.as_str()))
            .collect();
        tracing::warn!(
            tracks = skipped.len(),
            "tracks skipped; failures.parquet says why"
        );
        for ((dataset, _), (table, task)) in tasks.iter_mut() {
            let before = task.tracks.len();
            task.tracks
                .retain(|t| !skipped.contains(&(dataset.as_str(), t.track_id.as_str())));
            if task.tracks.len() < before {
                let (schema, batch) = mir_datasets::tracks_table(dataset, task)?;
                *table = Table {
                    schema,
                    batches: vec![batch],
                };
            }
        }
    }

    // 3. Probes -> predictions, trained concurrently up to the core count; 4. metrics.
    let mut jobs = Vec::new();
    for (dataset, task) in tasks.keys() {
        for model in &plan.models {
            let layers = config.model_layers.get(model).map_or(1, |l| l.len().max(1)) as i32;
            for layer in 0..layers {
                for probe in &plan.probes {
                    for &seed in &config.seeds {
                        jobs.push(mir_probe::RunIds {
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
    // A probe whose inputs (config, seed, tracks and labels, embeddings) are unchanged since an
    // earlier run keeps its predictions; the others train.
    let mut cached: Vec<Option<Table>> = Vec::with_capacity(jobs.len());
    let mut job_hashes = Vec::with_capacity(jobs.len());
    for ids in &jobs {
        let extracted = embeddings.contains_key(&(ids.dataset.clone(), ids.model.clone()));
        let job_hash = if extracted {
            probe_hash(config, ids, &tasks, &embeddings)
        } else {
            String::new()
        };
        let dir = probe_dir(ids);
        let hit = if forced(Stage::Probes) || !extracted {
            None
        } else {
            cached_predictions(&store, &dir, &job_hash).await
        };
        if hit.is_some() {
            info!(dir, "reusing predictions: inputs unchanged");
        }
        cached.push(hit);
        job_hashes.push(job_hash);
    }
    let to_train: Vec<mir_probe::RunIds> = jobs
        .iter()
        .zip(&cached)
        .filter(|(_, c)| c.is_none())
        .map(|(ids, _)| ids.clone())
        .collect();
    if dry {
        let mut evaluations_cached = 0;
        for ((ids, hit), job_hash) in jobs.iter().zip(&cached).zip(&job_hashes) {
            let dir = probe_dir(ids);
            if hit.is_some()
                && cached_metrics(
                    &store,
                    &format!("{dir}/metrics.parquet"),
                    &format!("{dir}/confusion.parquet"),
                    &eval_hash(config, job_hash),
                )
                .await
                .is_some()
            {
                evaluations_cached += 1;
            }
        }
        status.push(format!(
            "probe trainings: {} cached, {} will run",
            jobs.len() - to_train.len(),
            to_train.len()
        ));
        status.push(format!(
            "evaluations: {evaluations_cached} cached, {} will run",
            jobs.len() - evaluations_cached
        ));
        return Ok(RunSummary::status(
            status.iter().map(|l| format!("  {l}\n")).collect(),
        ));
    }
    let mut trained = train_all(config, &to_train, &tasks, &embeddings).into_iter();
    stages.done(format!(
        "train {} probes ({} cached)",
        to_train.len(),
        jobs.len() - to_train.len()
    ));
    let mut metric_rows = Vec::new();
    let mut confusion_rows = Vec::new();
    let mut evaluations_cached = 0;
    for ((ids, hit), job_hash) in jobs.iter().zip(cached).zip(&job_hashes) {
        let (dataset, task, model, probe, seed) =
            (&ids.dataset, &ids.task, &ids.model, &ids.probe, ids.seed);
        let dir = probe_dir(ids);
        let tracks_table = &tasks[&(dataset.clone(), task.clone())].0;
        let predictions = match hit {
            Some(table) => table,
            None => {
                let (out, seconds) = trained
                    .next()
                    .expect("one training per job without cached predictions")
                    .with_context(|| {
                        format!(
                            "probe `{probe}` on {dataset}/{task} with model `{model}`, seed {seed}"
                        )
                    })?;
                let (pschema, lschema) = mir_probe::output_schemas(ids, &out)?;
                let (pschema, lschema) = (
                    with_input_hash(pschema, job_hash),
                    with_input_hash(lschema, job_hash),
                );
                let pbatch = mir_table::predictions_batch(&pschema, &out.predictions)?;
                let lbatch = mir_table::training_log_batch(&lschema, &out.epochs)?;
                // The trained probe (architecture and standardisation, burnpack weights), the
                // training log, then the predictions, which mark the job done.
                store
                    .put(
                        &format!("{dir}/model.json"),
                        serde_json::to_vec_pretty(&out.saved)?.into(),
                    )
                    .await?;
                store
                    .put(&format!("{dir}/model.bpk"), out.weights.clone().into())
                    .await?;
                store
                    .write(
                        &format!("{dir}/training_log.parquet"),
                        TableKind::TrainingLog,
                        &lschema,
                        &[lbatch],
                    )
                    .await?;
                store
                    .write(
                        &format!("{dir}/predictions.parquet"),
                        TableKind::Predictions,
                        &pschema,
                        std::slice::from_ref(&pbatch),
                    )
                    .await?;
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
                Table {
                    schema: pschema,
                    batches: vec![pbatch],
                }
            }
        };
        // Metrics depend on the predictions (hence the job's hash), the evaluation settings and
        // the seed of the bootstrap; a probe's metrics are kept beside its predictions.
        let eval_hash = eval_hash(config, job_hash);
        let (mrel, crel) = (
            format!("{dir}/metrics.parquet"),
            format!("{dir}/confusion.parquet"),
        );
        if !forced(Stage::Metrics)
            && let Some((m, c)) = cached_metrics(&store, &mrel, &crel, &eval_hash).await
        {
            evaluations_cached += 1;
            metric_rows.extend(m);
            confusion_rows.extend(c);
            continue;
        }
        let rows = mir_eval::evaluate(&config.evaluation, config.seed, tracks_table, &predictions)
            .with_context(|| format!("evaluating {dir}"))?;
        let confusion = mir_eval::confusion(tracks_table, &predictions)?;
        let cschema = with_input_hash(mir_eval::confusion_schema(Some(&hash))?, &eval_hash);
        let cbatch = mir_table::confusion_batch(&cschema, &confusion)?;
        store
            .write(&crel, TableKind::Confusion, &cschema, &[cbatch])
            .await?;
        // Written last: a run cut off before it evaluates again.
        let mschema = with_input_hash(mir_eval::metrics_schema(Some(&hash))?, &eval_hash);
        let mbatch = mir_table::metrics_batch(&mschema, &rows)?;
        store
            .write(&mrel, TableKind::Metrics, &mschema, &[mbatch])
            .await?;
        confusion_rows.extend(confusion);
        metric_rows.extend(rows);
    }
    // The scenarios travel with the metrics, so reports can plot metrics against a swept
    // parameter (SNR, bitrate) from the tables alone.
    let mschema = with_metadata(
        mir_eval::metrics_schema(Some(&hash))?,
        mir_table::keys::DEFORMATIONS,
        &serde_json::to_string(&config.deformations)?,
    );
    let mbatch = mir_table::metrics_batch(&mschema, &metric_rows)?;
    store
        .write("metrics.parquet", TableKind::Metrics, &mschema, &[mbatch])
        .await?;
    let cschema = mir_eval::confusion_schema(Some(&hash))?;
    let cbatch = mir_table::confusion_batch(&cschema, &confusion_rows)?;
    store
        .write(
            "confusion.parquet",
            TableKind::Confusion,
            &cschema,
            &[cbatch],
        )
        .await?;

    stages.done(format!(
        "evaluate {} runs ({evaluations_cached} cached)",
        jobs.len()
    ));

    // 5. Report, from the tables just written.
    let summary = mir_report::summary_markdown(&metric_rows, &mir_report::SUMMARY_METRICS);
    store.put("report/summary.md", summary.into()).await?;
    let built = crate::report::build(
        &store,
        &config.name,
        &crate::report::Options::from_config(&config.report)?,
    )
    .await
    .context("building the report")?;
    stages.done(format!(
        "report ({} plots, {} confusion pages, {} spectrograms rendered)",
        built.plots, built.pages, built.spectrograms
    ));
    info!(
        seconds = started.elapsed().as_secs_f64(),
        "experiment finished"
    );
    Ok(RunSummary {
        table: built.markdown,
        stages: stages.markdown(),
        skipped_tracks: failures
            .iter()
            .map(|f| (&f.dataset, &f.track_id))
            .collect::<BTreeSet<_>>()
            .len(),
    })
}

/// SHA-256 of what a probe's metrics depend on: its predictions (the job's hash), the
/// evaluation settings and the seed of the bootstrap.
fn eval_hash(config: &ExperimentConfig, job_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let settings = serde_json::to_string(&config.evaluation).unwrap_or_default();
    Sha256::digest(format!("metrics v1 {job_hash} {} {settings}", config.seed).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stages `--force` can recompute, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Stage {
    /// Embeddings (and everything after).
    Embeddings,
    /// Probe training (and metrics).
    Probes,
    /// Metrics.
    Metrics,
}

/// How [`extract`] treats earlier results: `force` recomputes them; `dry` only says whether
/// they are there.
#[derive(Debug, Clone, Copy)]
struct Mode {
    force: bool,
    dry: bool,
}

impl RunSummary {
    fn status(text: String) -> Self {
        Self {
            table: text,
            stages: String::new(),
            skipped_tracks: 0,
        }
    }
}

/// What a run prints at the end.
pub struct RunSummary {
    /// The report's tables, as Markdown (also `report/tables.md`).
    pub table: String,
    /// Time and peak memory per stage.
    pub stages: String,
    /// Tracks left out because they failed (`failures.parquet`).
    pub skipped_tracks: usize,
}

type TaskTables = BTreeMap<(String, String), (Table, TaskTracks)>;

/// Where a probe run's tables go: every identifier is in the path, so two datasets with a
/// task of the same name (Beatport and GiantSteps `key`) keep their own results.
fn probe_dir(ids: &mir_probe::RunIds) -> String {
    probe_path(
        &ids.dataset,
        &ids.task,
        &ids.model,
        ids.layer,
        &ids.probe,
        ids.seed,
    )
}

/// [`probe_dir`] from the identifiers of a `metrics` row.
pub fn probe_path(
    dataset: &str,
    task: &str,
    model: &str,
    layer: i32,
    probe: &str,
    seed: i64,
) -> String {
    format!("probes/{dataset}/{task}/{model}/{layer}/{probe}/seed-{seed}")
}

/// SHA-256 of everything a probe's predictions depend on: its config, seed and layer, the
/// task's tracks (ids, splits, labels, targets), and the input hashes of the embeddings.
fn probe_hash(
    config: &ExperimentConfig,
    ids: &mir_probe::RunIds,
    tasks: &TaskTables,
    embeddings: &BTreeMap<(String, String), Vec<Table>>,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    part("probe v1");
    part(&serde_json::to_string(&config.probes[&ids.probe]).unwrap_or_default());
    part(&format!("{} {} {}", ids.seed, ids.layer, ids.task));
    let (_, task) = &tasks[&(ids.dataset.clone(), ids.task.clone())];
    part(&serde_json::to_string(&task.vocabulary).unwrap_or_default());
    for t in &task.tracks {
        part(&format!(
            "{} {} {:?} {:?}",
            t.track_id, t.split, t.labels, t.targets
        ));
    }
    for table in &embeddings[&(ids.dataset.clone(), ids.model.clone())] {
        let meta = Metadata::of(&table.schema);
        part(
            meta.get(TableKind::Embeddings, mir_table::keys::INPUT_HASH)
                .unwrap_or("none"),
        );
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The predictions of an earlier run of the same job, if both its tables carry `job_hash`.
async fn cached_predictions(store: &TableStore, dir: &str, job_hash: &str) -> Option<Table> {
    let log = format!("{dir}/training_log.parquet");
    read_with_hash(store, &log, TableKind::TrainingLog, job_hash).await?;
    let predictions = format!("{dir}/predictions.parquet");
    read_with_hash(store, &predictions, TableKind::Predictions, job_hash).await
}

/// The table at `rel` if it is there, valid, and carries `input_hash`: what a rerun reuses.
async fn read_with_hash(
    store: &TableStore,
    rel: &str,
    kind: TableKind,
    input_hash: &str,
) -> Option<Table> {
    let table = store
        .read(rel, kind)
        .await
        .map_err(|e| tracing::debug!("not reusing {rel}: {e}"))
        .ok()?;
    let hash = Metadata::of(&table.schema)
        .get(kind, mir_table::keys::INPUT_HASH)
        .ok()?
        .to_string();
    (hash == input_hash).then_some(table)
}

/// A trained probe's output and its training wall time.
type Trained = Result<(mir_probe::ProbeOutput, f64)>;

/// Trains every probe of `jobs`, as many at once as there are cores; results in job order,
/// with each training's wall time.
fn train_all(
    config: &ExperimentConfig,
    jobs: &[mir_probe::RunIds],
    tasks: &TaskTables,
    embeddings: &BTreeMap<(String, String), Vec<Table>>,
) -> Vec<Trained> {
    let next = AtomicUsize::new(0);
    let bar = crate::runlog::progress(jobs.len(), "training probes");
    let results: Mutex<Vec<Option<Trained>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(ids) = jobs.get(i) else { break };
                    let started = Instant::now();
                    let tracks = &tasks[&(ids.dataset.clone(), ids.task.clone())].0;
                    let emb = &embeddings[&(ids.dataset.clone(), ids.model.clone())];
                    let result = mir_probe::run(
                        &config.probes[&ids.probe],
                        ids.seed.unsigned_abs(),
                        ids.layer,
                        tracks,
                        emb,
                    )
                    .map(|out| (out, started.elapsed().as_secs_f64()))
                    .map_err(anyhow::Error::from);
                    results.lock().expect("no worker panics holding it")[i] = Some(result);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    results
        .into_inner()
        .expect("workers are done")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// The deformations of one dataset's extraction, and the splits each one deforms: test
/// tracks when it is evaluated, training tracks when a probe augments with it.
fn deformation_splits(plan: &Plan) -> Vec<(&str, Vec<&'static str>)> {
    let mut names: Vec<&str> = plan
        .deformations
        .iter()
        .chain(&plan.augmentations)
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mut splits = Vec::new();
            if plan.deformations.iter().any(|d| d == name) {
                splits.push("test");
            }
            if plan.augmentations.iter().any(|d| d == name) {
                splits.push("train");
            }
            (name, splits)
        })
        .collect()
}

/// Whether `audio/<dataset>/<deformation>/<track_id>.wav` exists for every track and
/// deformation applied to its split, but the tracks that failed.
async fn kept_audio_complete(
    store: &TableStore,
    dataset: &str,
    deformations: &[(&str, Vec<&'static str>)],
    tracks: &[Track],
    failures: &[FailureRow],
) -> bool {
    let failed: BTreeSet<&str> = failures.iter().map(|f| f.track_id.as_str()).collect();
    for (name, splits) in deformations {
        for t in tracks {
            if !splits.contains(&t.split.as_str()) || failed.contains(t.track_id.as_str()) {
                continue;
            }
            let rel = format!("audio/{dataset}/{name}/{}.wav", t.track_id);
            if !store.exists(&rel).await.unwrap_or(false) {
                return false;
            }
        }
    }
    true
}

/// Decodes each track once, embeds it clean, and embeds each deformation of the tracks it
/// applies to ([`deformation_splits`]); with `keep_audio`, writes the deformed audio to
/// `audio/<dataset>/<deformation>/<track_id>.wav`. Writes one `embeddings` table per condition
/// and returns them (clean first), with the tracks it skipped: a track that cannot be decoded,
/// deformed or embedded contributes no row at all.
async fn extract(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
    dataset: &str,
    model_name: &str,
    tracks: &[Track],
    mode: Mode,
) -> Result<(Vec<Table>, Vec<FailureRow>, bool)> {
    let Mode { force, dry } = mode;
    let model = mir_embed::build(&config.models[model_name])?;
    let info = model.info();
    let deformations = deformation_splits(plan);
    let conditions: Vec<&str> = std::iter::once(CLEAN)
        .chain(deformations.iter().map(|(d, _)| *d))
        .collect();
    let input_hash = extraction_hash(config, &model.fingerprint(), dataset, &deformations, tracks);
    let dir = format!("embeddings/{dataset}/{model_name}");
    // Kept audio is written during extraction: a run that keeps audio reuses an extraction
    // only when every file is there.
    if !force
        && let Some(cached) = cached_extraction(store, &dir, &conditions, &input_hash).await
        && (!config.keep_audio
            || kept_audio_complete(store, dataset, &deformations, tracks, &cached.1).await)
    {
        info!(
            dataset,
            model = model_name,
            "reusing embeddings: inputs unchanged ({dir})"
        );
        return Ok((cached.0, cached.1, true));
    }
    if dry {
        return Ok((Vec::new(), Vec::new(), false));
    }
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Handle::current();
    // A track that cannot be decoded, deformed or embedded is skipped and recorded (`Skip`); a
    // failure of the run itself (writing kept audio) stops it (`Fatal`).
    enum Stop {
        Skip(&'static str, String, anyhow::Error),
        Fatal(anyhow::Error),
    }
    // The audio of one track under every condition it is embedded in.
    type Conditions<'a> = Vec<(&'a str, Vec<f32>)>;
    let prepare = |track: &Track| -> Result<Conditions, Stop> {
        let skip = |stage, condition: &str| {
            let condition = condition.to_string();
            move |e: anyhow::Error| Stop::Skip(stage, condition, e)
        };
        let audio = mir_datasets::audio::load(
            std::path::Path::new(&track.audio_uri),
            Some(info.sample_rate_hz),
        )
        .map_err(|e| skip("decode", CLEAN)(e.into()))?;
        let mut out = Vec::new();
        for (condition, splits) in &deformations {
            if !splits.contains(&track.split.as_str()) {
                continue;
            }
            let mut deformed = mir_deform::Audio::mono(audio.samples.clone(), audio.sample_rate_hz);
            mir_deform::apply(
                &config.deformations[*condition],
                condition,
                config.seed,
                &track.track_id,
                &mut deformed,
            )
            .map_err(|e| skip("deform", condition)(e.into()))?;
            let samples = deformed.into_mono();
            if config.keep_audio {
                let rel = format!("audio/{dataset}/{condition}/{}.wav", track.track_id);
                mir_datasets::audio::wav_bytes(&mir_datasets::audio::Audio {
                    samples: samples.clone(),
                    sample_rate_hz: audio.sample_rate_hz,
                })
                .map_err(anyhow::Error::from)
                .and_then(|bytes| {
                    runtime
                        .block_on(store.put(&rel, bytes.into()))
                        .map_err(anyhow::Error::from)
                })
                .map_err(|e| Stop::Fatal(e.context(format!("writing {rel}"))))?;
            }
            out.push((*condition, samples));
        }
        out.insert(0, (CLEAN, audio.samples));
        Ok(out)
    };
    let streamed_tracks = AtomicUsize::new(0);
    // A track longer than `stream_tracks_longer_than_s` that no deformation applies to is
    // decoded block by block into `embed_stream`: memory does not grow with its length.
    let stream = |track: &Track| -> Option<Result<Vec<mir_embed::WindowEmbedding>, Stop>> {
        if config.keep_audio
            || deformations
                .iter()
                .any(|(_, splits)| splits.contains(&track.split.as_str()))
        {
            return None;
        }
        let path = std::path::Path::new(&track.audio_uri);
        let mut reader =
            mir_datasets::audio::AudioReader::open(path, Some(info.sample_rate_hz)).ok()?;
        if reader
            .header_duration_s()
            .is_none_or(|d| d <= config.stream_tracks_longer_than_s)
        {
            return None;
        }
        let mut decode_error = None;
        let mut chunks = std::iter::from_fn(|| match reader.read(1 << 16) {
            Ok(block) if block.is_empty() => None,
            Ok(block) => Some(Ok(block)),
            Err(e) => {
                let reason = e.to_string();
                decode_error = Some(anyhow::Error::from(e));
                Some(Err(mir_embed::Error::Extraction {
                    model: model_name.to_string(),
                    reason,
                }))
            }
        });
        let result = model.embed_stream(&mut chunks);
        streamed_tracks.fetch_add(1, Ordering::Relaxed);
        Some(match (result, decode_error) {
            (_, Some(e)) => Err(Stop::Skip("decode", CLEAN.into(), e)),
            (Err(e), None) => Err(Stop::Skip("embed", CLEAN.into(), e.into())),
            (Ok(windows), None) => Ok(windows),
        })
    };
    let rows_of = |track: &Track, condition: &str, windows: Vec<mir_embed::WindowEmbedding>| {
        windows
            .into_iter()
            .map(|w| mir_table::EmbeddingRow {
                track_id: track.track_id.clone(),
                deformation: condition.to_string(),
                layer: w.layer,
                window: w.window,
                start_s: w.start_s,
                embedding: w.embedding,
            })
            .collect::<Vec<_>>()
    };
    // Workers take tracks in groups, so a model that batches (ONNX) fills its batches with the
    // windows of several tracks; memory holds one group's audio per worker.
    const GROUP: usize = 8;
    let bar = crate::runlog::progress(tracks.len(), &format!("{dataset}/{model_name}"));
    let schema = with_input_hash(
        mir_embed::embeddings_schema(&info, model_name, dataset)?,
        &input_hash,
    );
    let fschema = with_input_hash(
        TableKind::Failures.schema(0, &Metadata::new())?,
        &input_hash,
    );
    // Tracks are extracted in chunks, each saved under `parts/` as it finishes, so a run cut
    // off mid-extraction resumes at the chunk it was in.
    let parts = format!("{dir}/parts/{}", &input_hash[..16]);
    let mut all_rows: BTreeMap<&str, Vec<mir_table::EmbeddingRow>> = BTreeMap::new();
    let mut all_failures: Vec<FailureRow> = Vec::new();
    for (c, tracks) in tracks.chunks(config.checkpoint_tracks.max(1)).enumerate() {
        let (epart, fpart) = (
            format!("{parts}/{c}.parquet"),
            format!("{parts}/{c}.failures.parquet"),
        );
        if !config.keep_audio
            && let Some((r, f)) = read_part(store, &epart, &fpart, &input_hash).await
        {
            for row in r {
                if let Some(condition) = conditions.iter().find(|c| **c == row.deformation) {
                    all_rows.entry(condition).or_default().push(row);
                }
            }
            all_failures.extend(f);
            bar.inc(tracks.len() as u64);
            info!(
                dataset,
                model = model_name,
                "resuming: tracks of chunk {c} were extracted by an interrupted run ({epart})"
            );
            continue;
        }
        let rows: Mutex<BTreeMap<&str, Vec<mir_table::EmbeddingRow>>> = Mutex::new(BTreeMap::new());
        let next = AtomicUsize::new(0);
        let failures: Mutex<Vec<FailureRow>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let first = next.fetch_add(GROUP, Ordering::Relaxed);
                        if first >= tracks.len()
                            || failure
                                .lock()
                                .expect("no worker panics holding it")
                                .is_some()
                        {
                            break;
                        }
                        let group = &tracks[first..(first + GROUP).min(tracks.len())];
                        // Long tracks embedded only clean are streamed; the others are decoded
                        // whole, deformed, and embedded with the rest of the group.
                        let streamed: Vec<_> = group.iter().map(stream).collect();
                        let prepared: Vec<_> = group
                            .iter()
                            .zip(&streamed)
                            .map(|(t, s)| match s {
                                Some(_) => Ok(Vec::new()),
                                None => prepare(t),
                            })
                            .collect();
                        // A track whose embedding failed under some condition: it contributes no
                        // row at all.
                        let mut failed: Vec<Option<Stop>> = group.iter().map(|_| None).collect();
                        let mut embedded: Vec<Vec<(&str, Vec<mir_table::EmbeddingRow>)>> =
                            group.iter().map(|_| Vec::new()).collect();
                        for (k, s) in streamed.into_iter().enumerate() {
                            match s {
                                Some(Ok(windows)) => {
                                    embedded[k].push((CLEAN, rows_of(&group[k], CLEAN, windows)))
                                }
                                Some(Err(stop)) => failed[k] = Some(stop),
                                None => {}
                            }
                        }
                        for condition in &conditions {
                            // (track in group, samples) of the tracks still in that have `condition`.
                            let items: Vec<(usize, &[f32])> = prepared
                                .iter()
                                .enumerate()
                                .filter(|(k, _)| failed[*k].is_none())
                                .filter_map(|(k, p)| {
                                    let audio = p.as_ref().ok()?;
                                    let (_, samples) =
                                        audio.iter().find(|(c, _)| c == condition)?;
                                    Some((k, samples.as_slice()))
                                })
                                .collect();
                            if items.is_empty() {
                                continue;
                            }
                            let batch: Vec<&[f32]> = items.iter().map(|(_, s)| *s).collect();
                            for ((k, _), result) in items.iter().zip(model.embed_batch(&batch)) {
                                let track = &group[*k];
                                match result {
                                    Ok(windows) => embedded[*k]
                                        .push((condition, rows_of(track, condition, windows))),
                                    Err(e) => {
                                        failed[*k] = Some(Stop::Skip(
                                            "embed",
                                            condition.to_string(),
                                            e.into(),
                                        ))
                                    }
                                }
                            }
                        }
                        bar.inc(group.len() as u64);
                        for (((track, p), out), failed) in
                            group.iter().zip(prepared).zip(embedded).zip(failed)
                        {
                            match failed.map_or(p.map(|_| ()), Err) {
                            Ok(_) => {
                                let mut rows = rows.lock().expect("no worker panics holding it");
                                for (condition, r) in out {
                                    rows.entry(condition).or_default().extend(r);
                                }
                            }
                            Err(Stop::Skip(stage, condition, e)) if config.fail_fast => {
                                *failure.lock().expect("no worker panics holding it") =
                                    Some(e.context(format!(
                                        "track `{}` ({}), stage {stage}, condition `{condition}` \
                                         (fail_fast is set)",
                                        track.track_id, track.audio_uri
                                    )))
                            }
                            Err(Stop::Skip(stage, condition, e)) => {
                                tracing::warn!(track = track.track_id, stage, "skipped: {e:#}");
                                failures.lock().expect("no worker panics holding it").push(
                                    FailureRow {
                                        stage: stage.into(),
                                        dataset: dataset.into(),
                                        model: model_name.into(),
                                        deformation: condition,
                                        track_id: track.track_id.clone(),
                                        audio_uri: track.audio_uri.clone(),
                                        error: format!("{e:#}"),
                                    },
                                );
                            }
                            Err(Stop::Fatal(e)) => {
                                *failure.lock().expect("no worker panics holding it") = Some(e)
                            }
                        }
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.lock().expect("workers are done").take() {
            bar.finish_and_clear();
            return Err(e.context(format!(
                "extracting `{model_name}` embeddings of dataset `{dataset}`"
            )));
        }
        let rows = rows.into_inner().expect("workers are done");
        let failures = failures.into_inner().expect("workers are done");
        // The chunk's rows of every condition in one table, then its failures, which mark the
        // part complete.
        let flat: Vec<mir_table::EmbeddingRow> = rows.values().flatten().cloned().collect();
        let batch = mir_table::embeddings_batch(&schema, &flat)?;
        store
            .write(&epart, TableKind::Embeddings, &schema, &[batch])
            .await?;
        let fbatch = mir_table::failures_batch(&fschema, &failures)?;
        store
            .write(&fpart, TableKind::Failures, &fschema, &[fbatch])
            .await?;
        for (condition, r) in rows {
            all_rows.entry(condition).or_default().extend(r);
        }
        all_failures.extend(failures);
    }
    bar.finish_and_clear();
    let mut failures = all_failures;
    failures.sort_by(|a, b| a.track_id.cmp(&b.track_id));
    let mut rows = all_rows;
    let mut tables = Vec::new();
    for condition in conditions {
        let mut r = rows.remove(condition).unwrap_or_default();
        // Workers finish in any order: sort so the file is the same on every run.
        r.sort_by(|a, b| (&a.track_id, a.layer, a.window).cmp(&(&b.track_id, b.layer, b.window)));
        let batch = mir_table::embeddings_batch(&schema, &r)?;
        let rel = format!("embeddings/{dataset}/{model_name}/{condition}.parquet");
        store
            .write(
                &rel,
                TableKind::Embeddings,
                &schema,
                std::slice::from_ref(&batch),
            )
            .await?;
        info!(rows = r.len(), "wrote {rel}");
        tables.push(Table {
            schema: schema.clone(),
            batches: vec![batch],
        });
    }
    // The extraction's own failures, reused with its tables; written last, so a run cut off
    // before this point extracts again (from its parts).
    let fbatch = mir_table::failures_batch(&fschema, &failures)?;
    store
        .write(
            &format!("{dir}/failures.parquet"),
            TableKind::Failures,
            &fschema,
            &[fbatch],
        )
        .await?;
    let streamed_tracks = streamed_tracks.into_inner();
    if streamed_tracks > 0 {
        info!(
            dataset,
            model = model_name,
            "streamed {streamed_tracks} tracks longer than {} s",
            config.stream_tracks_longer_than_s
        );
    }
    // The parts are in the tables now.
    if let Err(e) = store.delete_prefix(&format!("{dir}/parts")).await {
        tracing::warn!("could not remove {dir}/parts: {e}");
    }
    Ok((tables, failures, false))
}

/// One saved chunk of an interrupted extraction: its rows and failures, if both are there
/// with `input_hash`.
async fn read_part(
    store: &TableStore,
    embeddings: &str,
    failures: &str,
    input_hash: &str,
) -> Option<(Vec<mir_table::EmbeddingRow>, Vec<FailureRow>)> {
    let f = read_with_hash(store, failures, TableKind::Failures, input_hash).await?;
    let e = read_with_hash(store, embeddings, TableKind::Embeddings, input_hash).await?;
    Some((
        mir_table::read_embeddings(&e).ok()?,
        mir_table::read_failures(&f).ok()?,
    ))
}

/// SHA-256 of everything an extraction depends on: the model's definition, the dataset, the
/// experiment seed, each deformation's steps and the splits it deforms, and every track's id,
/// split, file, size and modification time.
fn extraction_hash(
    config: &ExperimentConfig,
    model_sha256: &str,
    dataset: &str,
    deformations: &[(&str, Vec<&'static str>)],
    tracks: &[Track],
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    part("extraction v1");
    part(model_sha256);
    part(dataset);
    part(&config.seed.to_string());
    for (name, splits) in deformations {
        part(name);
        part(&serde_json::to_string(&config.deformations[*name]).unwrap_or_default());
        part(&splits.join(","));
    }
    for t in tracks {
        part(&t.track_id);
        part(&t.split);
        part(&t.audio_uri);
        let stamp = std::fs::metadata(&t.audio_uri)
            .ok()
            .and_then(|m| {
                let modified = m
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?;
                Some(format!("{} {}", m.len(), modified.as_nanos()))
            })
            .unwrap_or_else(|| "unreadable".into());
        part(&stamp);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A probe's metrics and confusion rows from an earlier run with the same input hash.
async fn cached_metrics(
    store: &TableStore,
    metrics: &str,
    confusion: &str,
    input_hash: &str,
) -> Option<(Vec<mir_table::MetricRow>, Vec<mir_table::ConfusionRow>)> {
    let m = read_with_hash(store, metrics, TableKind::Metrics, input_hash).await?;
    let c = read_with_hash(store, confusion, TableKind::Confusion, input_hash).await?;
    Some((
        mir_table::read_metrics(&m).ok()?,
        mir_table::read_confusion(&c).ok()?,
    ))
}

/// The tables of an earlier extraction with the same input hash, if all are there.
async fn cached_extraction(
    store: &TableStore,
    dir: &str,
    conditions: &[&str],
    input_hash: &str,
) -> Option<(Vec<Table>, Vec<FailureRow>)> {
    let failures = format!("{dir}/failures.parquet");
    let failures = read_with_hash(store, &failures, TableKind::Failures, input_hash).await?;
    let mut tables = Vec::new();
    for condition in conditions {
        let rel = format!("{dir}/{condition}.parquet");
        tables.push(read_with_hash(store, &rel, TableKind::Embeddings, input_hash).await?);
    }
    Some((tables, mir_table::read_failures(&failures).ok()?))
}

/// `schema` with `input_hash` added to its metadata.
fn with_input_hash(
    schema: arrow::datatypes::SchemaRef,
    input_hash: &str,
) -> arrow::datatypes::SchemaRef {
    with_metadata(schema, mir_table::keys::INPUT_HASH, input_hash)
}

fn with_metadata(
    schema: arrow::datatypes::SchemaRef,
    key: &str,
    value: &str,
) -> arrow::datatypes::SchemaRef {
    let mut metadata = schema.metadata().clone();
    metadata.insert(key.to_string(), value.to_string());
    std::sync::Arc::new(schema.as_ref().clone().with_metadata(metadata))
}
