//! `mir-ref experiment`: the grid through every crate, table by table, one stage per module.

mod datasets;
mod evaluate;
mod extract;
mod train;

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, Result};
use mir_table::{CLEAN, FailureRow, Metadata, RunLayout, TableKind, TableStore};
use tracing::info;

use crate::config::{ExperimentConfig, Plan, planned_datasets};
use crate::runlog::Stages;
use datasets::TaskTables;
use train::EmbeddingTables;

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
            * (1 + extract::deformation_splits(plan).len()),
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

/// What a run prints at the end.
pub struct RunSummary {
    /// The report's tables, as Markdown (also `report/tables.md`).
    pub table: String,
    /// Time and peak memory per stage.
    pub stages: String,
    /// Tracks left out because they failed (`failures.parquet`).
    pub skipped_tracks: usize,
    /// Tracks decoded block by block into the model, over every extraction of this run.
    pub streamed_tracks: usize,
}

/// Runs the whole experiment: the steps in order, each reusing what an earlier run into the
/// same directory left with unchanged inputs (their `input_hash`); `force` recomputes its
/// stage and every later one.
pub async fn run(
    config: &ExperimentConfig,
    store: &TableStore,
    force: Option<Stage>,
) -> Result<RunSummary> {
    let forced = |stage: Stage| force.is_some_and(|f| f <= stage);
    let plan = config.plan();
    let (started, mut stages) = (Instant::now(), Stages::start());
    write_resolved_config(config, store).await?;
    let mut tasks = datasets::prepare(config, &plan, store).await?;
    info!(seconds = started.elapsed().as_secs_f64(), "datasets ready");
    stages.done("datasets");
    let forced_embeddings = forced(Stage::Embeddings);
    let (embeddings, failures, streamed_tracks) =
        extract_all(config, &plan, store, &tasks, forced_embeddings, &mut stages).await?;
    write_failures(store, &failures).await?;
    datasets::drop_failed(&mut tasks, &failures)?;
    let keys = train::keys(config, &plan, &tasks);
    let forced_probes = forced(Stage::Probes);
    let jobs = train::jobs(config, store, keys, &tasks, &embeddings, forced_probes).await;
    let cached = jobs.iter().filter(|j| j.cached.is_some()).count();
    let runs = train::run(config, store, jobs, &tasks, &embeddings).await?;
    stages.done(format!(
        "train {} probes ({cached} cached)",
        runs.len() - cached
    ));
    let forced_metrics = forced(Stage::Metrics);
    let evaluated = evaluate::all(config, store, &runs, &tasks, forced_metrics).await?;
    stages.done(format!(
        "evaluate {} runs ({} cached)",
        runs.len(),
        evaluated.cached
    ));
    let built = report(config, store, &evaluated.metrics).await?;
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
        skipped_tracks: skipped_tracks(&failures),
        streamed_tracks,
    })
}

/// `config.resolved.yml`: the config after defaults, with its hash.
async fn write_resolved_config(config: &ExperimentConfig, store: &TableStore) -> Result<()> {
    let mut resolved = serde_yaml::to_string(config)?;
    resolved.push_str(&format!("# config_hash: {}\n", config.hash()));
    store.put(RunLayout::CONFIG, resolved.into()).await?;
    Ok(())
}

/// Every (dataset, model) extraction, reused or computed; the failures of all of them, and how
/// many tracks were streamed.
async fn extract_all(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
    tasks: &TaskTables,
    force: bool,
    stages: &mut Stages,
) -> Result<(EmbeddingTables, Vec<FailureRow>, usize)> {
    let mut embeddings = EmbeddingTables::new();
    let (mut failures, mut streamed) = (Vec::new(), 0);
    for dataset in planned_datasets(plan) {
        let tracks = datasets::tracks_of(tasks, &dataset);
        for model in &plan.models {
            let started = Instant::now();
            let job = extract::Job::new(config, plan, store, &dataset, model, &tracks)?;
            let cached = match force {
                true => None,
                false => job.cached(&tracks).await,
            };
            let reused = cached.is_some();
            let extraction = match cached {
                Some(e) => e,
                None => job.compute(&tracks).await?,
            };
            // Failures recorded by an earlier extraction count too.
            check_fail_fast(config, &extraction.failures)?;
            failures.extend(extraction.failures);
            streamed += extraction.streamed;
            info!(
                dataset,
                model,
                seconds = started.elapsed().as_secs_f64(),
                "embeddings ready"
            );
            embeddings.insert((dataset.clone(), model.clone()), extraction.tables);
            let note = if reused { " (cached)" } else { "" };
            stages.done(format!("embed {dataset}/{model}{note}"));
        }
    }
    Ok((embeddings, failures, streamed))
}

/// With `fail_fast`, the first failed track ends the run.
fn check_fail_fast(config: &ExperimentConfig, failures: &[FailureRow]) -> Result<()> {
    match failures.first() {
        Some(f) if config.fail_fast => anyhow::bail!(
            "track `{}` ({}), stage {}, condition `{}` (fail_fast is set): {}",
            f.track_id,
            f.audio_uri,
            f.stage,
            f.deformation,
            f.error
        ),
        _ => Ok(()),
    }
}

/// The run's `failures.parquet`: every track an extraction left out, and why.
async fn write_failures(store: &TableStore, failures: &[FailureRow]) -> Result<()> {
    let schema = TableKind::Failures.schema(0, &Metadata::new())?;
    let batch = mir_table::failures_batch(&schema, failures)?;
    store
        .write(RunLayout::FAILURES, TableKind::Failures, &schema, &[batch])
        .await?;
    Ok(())
}

/// Tracks left out, counted once per dataset however many extractions failed on them.
fn skipped_tracks(failures: &[FailureRow]) -> usize {
    failures
        .iter()
        .map(|f| (&f.dataset, &f.track_id))
        .collect::<BTreeSet<_>>()
        .len()
}

/// `report/`, from the tables just written, with the long summary of every metric.
async fn report(
    config: &ExperimentConfig,
    store: &TableStore,
    metrics: &[mir_table::MetricRow],
) -> Result<crate::report::Built> {
    let summary = mir_report::summary_markdown(metrics, &mir_report::SUMMARY_METRICS);
    let rel = RunLayout::report().summary().in_run();
    store.put(&rel, summary.into()).await?;
    let options = crate::report::Options::from_config(&config.report)?;
    crate::report::build(store, &config.name, &options)
        .await
        .context("building the report")
}

/// What a run would reuse and what it would compute (the dry run's walk over the plan),
/// without writing anything or preparing (downloading, rendering) a dataset.
pub async fn cache_status(config: &ExperimentConfig, store: &TableStore) -> Result<String> {
    let plan = config.plan();
    let mut tasks = TaskTables::new();
    for dataset in planned_datasets(&plan) {
        match datasets::load_one(config, &plan, &dataset) {
            Ok(loaded) => tasks.extend(loaded),
            Err(e) => {
                return Ok(format!(
                    "dataset `{dataset}` is not ready ({e:#}): it will be prepared, and \
                     everything will run\n"
                ));
            }
        }
    }
    let mut lines = Vec::new();
    let mut embeddings = EmbeddingTables::new();
    for dataset in planned_datasets(&plan) {
        let tracks = datasets::tracks_of(&tasks, &dataset);
        for model in &plan.models {
            let job = extract::Job::new(config, &plan, store, &dataset, model, &tracks)?;
            let state = match job.cached(&tracks).await {
                Some(e) => {
                    embeddings.insert((dataset.clone(), model.clone()), e.tables);
                    "cached".to_string()
                }
                None => format!("will be extracted ({} tracks)", tracks.len()),
            };
            lines.push(format!("embeddings {dataset}/{model}: {state}"));
        }
    }
    let keys = train::keys(config, &plan, &tasks);
    let jobs = train::jobs(config, store, keys, &tasks, &embeddings, false).await;
    let trained = jobs.iter().filter(|j| j.cached.is_some()).count();
    let mut evaluated = 0;
    for job in jobs.iter().filter(|j| j.cached.is_some()) {
        let hash = crate::cache::evaluation(config, &job.hash);
        let dir = RunLayout::probe(&job.key);
        evaluated += usize::from(evaluate::cached(store, &dir, &hash).await.is_some());
    }
    let will = |cached: usize| format!("{cached} cached, {} will run", jobs.len() - cached);
    lines.push(format!("probe trainings: {}", will(trained)));
    lines.push(format!("evaluations: {}", will(evaluated)));
    Ok(lines.iter().map(|l| format!("  {l}\n")).collect())
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
