//! `mir-ref experiment`: the grid through every crate, table by table, one stage per module.

pub(crate) mod datasets;
mod evaluate;
mod extract;
pub mod hygiene;
pub mod markers;
mod train;

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use mir_table::{CLEAN, FailureRow, Metadata, RunLayout, Shard, Stage, TableKind, TableStore};
use tracing::info;

use crate::cache;
use crate::config::{ExperimentConfig, Plan, planned_datasets};
use crate::runlog::Stages;
use datasets::TaskTables;
use extract::Sharding;
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
    /// The report's tables, as Markdown (also `report/tables.md`); empty when the process did
    /// one stage other than `evaluate`.
    pub table: String,
    /// Time and peak memory per stage.
    pub stages: String,
    /// Tracks left out because they failed (`failures.parquet`).
    pub skipped_tracks: usize,
    /// Tracks decoded block by block into the model, over every extraction of this run.
    pub streamed_tracks: usize,
}

/// Which part of an experiment one process does, and what it recomputes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Recompute this stage and the later ones even where inputs are unchanged.
    pub force: Option<Stage>,
    /// Do this stage only, after checking the earlier ones are complete (`None`: every stage,
    /// finishing whatever workers left undone).
    pub stage: Option<Stage>,
    /// With `stage` extract or train: only this shard of the stage's work.
    pub shard: Shard,
    /// How long a stage waits for the earlier ones to be complete (0: it fails at once).
    pub wait_s: u64,
}

impl RunOptions {
    /// The options, checked together.
    pub fn new(
        force: Option<Stage>,
        stage: Option<Stage>,
        shard: Option<Shard>,
        wait_s: u64,
    ) -> Result<Self> {
        let shard = shard.unwrap_or_default();
        if shard != Shard::WHOLE && !matches!(stage, Some(Stage::Extract | Stage::Train)) {
            bail!(
                "--shard {shard} needs --stage {} or --stage {}: the stages split in shards",
                Stage::Extract,
                Stage::Train
            );
        }
        if let (Some(f), Some(s)) = (force, stage)
            && f < s
        {
            bail!("--force {f} with --stage {s}: the {s} stage does not {f}");
        }
        Ok(Self {
            force,
            stage,
            shard,
            wait_s,
        })
    }

    /// Whether this process does `stage`.
    fn does(&self, stage: Stage) -> bool {
        self.stage.is_none_or(|s| s == stage)
    }

    /// Whether this process recomputes `stage`.
    fn forces(&self, stage: Stage) -> bool {
        self.force.is_some_and(|f| f <= stage)
    }

    /// How this process does each extraction's shards.
    fn sharding(&self) -> Sharding {
        match self.stage {
            None => Sharding::Finish,
            Some(Stage::Extract) => Sharding::Only(self.shard),
            Some(_) => Sharding::Require,
        }
    }
}

/// An earlier stage is not complete: a later one cannot start yet (it may, once the workers
/// still at it are done: `--wait`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Incomplete(pub String);

/// Runs the experiment, or the part of it `options` says: the stages in order, each reusing
/// what an earlier run or worker left in the same directory with unchanged inputs (their
/// `input_hash`).
pub async fn run(
    config: &ExperimentConfig,
    store: &TableStore,
    options: &RunOptions,
) -> Result<RunSummary> {
    let plan = config.plan();
    let (started, mut stages) = (Instant::now(), Stages::start());
    write_resolved_config(config, store).await?;
    let mut tasks = datasets_stage(config, &plan, store, options).await?;
    stages.done("datasets");
    if let Some(hygiene) = &config.hygiene
        && matches!(options.stage, None | Some(Stage::Datasets))
    {
        let pairs = hygiene::run(hygiene, store, &tasks).await?;
        stages.done(format!("split hygiene ({pairs} duplicate pairs)"));
    }
    let done = |stages: Stages| async move {
        let shard = options.shard;
        let stage = options.stage.unwrap_or(Stage::Evaluate);
        markers::write(store, stage, shard, started.elapsed().as_secs_f64()).await?;
        Ok::<_, anyhow::Error>(RunSummary {
            table: String::new(),
            stages: stages.markdown(),
            skipped_tracks: 0,
            streamed_tracks: 0,
        })
    };
    if options.stage == Some(Stage::Datasets) {
        return done(stages).await;
    }
    let Some((embeddings, failures, streamed_tracks)) =
        extract_all(config, &plan, store, &tasks, options, &mut stages).await?
    else {
        return done(stages).await;
    };
    if options.does(Stage::Evaluate) {
        write_failures(store, &failures).await?;
    }
    datasets::drop_failed(&mut tasks, &failures)?;
    let runs = train_stage(
        config,
        &plan,
        store,
        &tasks,
        &embeddings,
        options,
        &mut stages,
    )
    .await?;
    if options.stage == Some(Stage::Train) {
        return done(stages).await;
    }
    let evaluated = evaluate::all(
        config,
        store,
        &runs,
        &tasks,
        options.forces(Stage::Evaluate),
    )
    .await?;
    stages.done(format!(
        "evaluate {} runs ({} cached)",
        runs.len(),
        evaluated.cached
    ));
    write_drift(config, store, &embeddings).await?;
    let force = options.forces(Stage::Evaluate);
    let built = report_stage(config, store, &evaluated, force, &mut stages).await?;
    markers::write(
        store,
        Stage::Evaluate,
        Shard::WHOLE,
        started.elapsed().as_secs_f64(),
    )
    .await?;
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

/// The planned tasks' tracks: prepared and written by the datasets stage (and a whole run),
/// which marks itself done; parsed from disk by the later stages, once it is.
async fn datasets_stage(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
    options: &RunOptions,
) -> Result<TaskTables> {
    if options.does(Stage::Datasets) {
        let started = Instant::now();
        let tasks = datasets::prepare(config, plan, store).await?;
        let seconds = started.elapsed().as_secs_f64();
        markers::write(store, Stage::Datasets, Shard::WHOLE, seconds).await?;
        return Ok(tasks);
    }
    if !markers::done(store, Stage::Datasets, Shard::WHOLE).await? {
        return Err(Incomplete(format!(
            "the datasets are not prepared yet ({} is missing): run `mir-ref experiment CONFIG \
             --stage {}` first",
            store.display(&RunLayout::shard_done(Stage::Datasets, Shard::WHOLE)),
            Stage::Datasets
        ))
        .into());
    }
    datasets::load(config, plan)
}

/// The training stage: every probe run of the grid (only this shard's with `--stage train`),
/// reused or trained; with `--stage evaluate`, every one must have been trained.
async fn train_stage(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
    tasks: &TaskTables,
    embeddings: &EmbeddingTables,
    options: &RunOptions,
    stages: &mut Stages,
) -> Result<Vec<(train::Job, mir_table::Table)>> {
    let keys = train::keys(config, plan, tasks);
    let forced = options.forces(Stage::Train);
    let mut jobs = train::jobs(config, store, keys, tasks, embeddings, forced).await;
    if options.stage == Some(Stage::Train) {
        let shard = options.shard;
        jobs = (jobs.into_iter().enumerate())
            .filter_map(|(k, job)| shard.owns_position(k).then_some(job))
            .collect();
    }
    if options.stage == Some(Stage::Evaluate) {
        train::require_trained(store, &jobs).await?;
    }
    let cached = jobs.iter().filter(|j| j.cached.is_some()).count();
    let mut runs = train::run(config, store, jobs, tasks, embeddings).await?;
    stages.done(format!(
        "train {} probes ({cached} cached)",
        runs.len() - cached
    ));
    // The chance baselines are scored with the probes, by whoever evaluates.
    if options.stage != Some(Stage::Train) {
        let chance = train::chance(config, store, tasks, &runs).await?;
        runs.extend(chance);
    }
    Ok(runs)
}

/// `drift.parquet`: how far each deformation moves each model layer's embeddings of each
/// dataset ([`mir_eval::drift`]).
async fn write_drift(
    config: &ExperimentConfig,
    store: &TableStore,
    embeddings: &EmbeddingTables,
) -> Result<()> {
    let mut rows = Vec::new();
    for ((dataset, model), tables) in embeddings {
        let drift = mir_eval::drift(tables)
            .with_context(|| format!("the drift of {model}'s embeddings of {dataset}"))?;
        rows.extend(drift);
    }
    let schema = mir_eval::drift_schema(Some(&config.hash()))?;
    let batch = mir_table::drift_batch(&schema, &rows)?;
    let kind = mir_table::TableKind::Drift;
    store
        .write(RunLayout::DRIFT, kind, &schema, &[batch])
        .await?;
    Ok(())
}

/// `config.resolved.yml`: the config after defaults, with its hash.
async fn write_resolved_config(config: &ExperimentConfig, store: &TableStore) -> Result<()> {
    let mut resolved = serde_yaml::to_string(config)?;
    resolved.push_str(&format!("# config_hash: {}\n", config.hash()));
    store.put(RunLayout::CONFIG, resolved.into()).await?;
    Ok(())
}

/// Every (dataset, model) extraction, reused or computed as `options` says; the failures of
/// all of them, and how many tracks were streamed. `None` when this process extracts one shard.
async fn extract_all(
    config: &ExperimentConfig,
    plan: &Plan,
    store: &TableStore,
    tasks: &TaskTables,
    options: &RunOptions,
    stages: &mut Stages,
) -> Result<Option<(EmbeddingTables, Vec<FailureRow>, usize)>> {
    let (force, sharding) = (options.forces(Stage::Extract), options.sharding());
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
            if force && sharding == Sharding::Finish {
                job.remove_parts().await;
            }
            let extraction = match cached {
                Some(e) => Some(e),
                None => job.compute(&tracks, sharding).await?,
            };
            let note = if reused { " (cached)" } else { "" };
            stages.done(format!("embed {dataset}/{model}{note}"));
            let Some(extraction) = extraction else {
                continue;
            };
            if options.does(Stage::Evaluate) {
                job.remove_parts().await;
            }
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
        }
    }
    Ok((!matches!(sharding, Sharding::Only(_))).then_some((embeddings, failures, streamed)))
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
/// The report stage: the report an earlier run built from the same inputs, else a new one,
/// stamped with its input hash once written.
async fn report_stage(
    config: &ExperimentConfig,
    store: &TableStore,
    evaluated: &evaluate::Evaluated,
    force: bool,
    stages: &mut Stages,
) -> Result<crate::report::Built> {
    let report_hash = cache::report(config, &evaluated.hashes);
    if let Some(built) = reused_report(store, &report_hash, force).await {
        stages.done("report (inputs unchanged: reused)");
        return Ok(built);
    }
    let built = report(config, store, &evaluated.metrics).await?;
    let inputs = RunLayout::report().inputs().in_run();
    store.put(&inputs, report_hash.into_bytes().into()).await?;
    stages.done(format!(
        "report ({} plots, {} confusion pages, {} spectrograms rendered)",
        built.plots, built.pages, built.spectrograms
    ));
    Ok(built)
}

/// The report an earlier run built from the same inputs ([`cache::report`]), unless `force`:
/// its tables, with nothing drawn now.
async fn reused_report(
    store: &TableStore,
    hash: &str,
    force: bool,
) -> Option<crate::report::Built> {
    let report = RunLayout::report();
    if force {
        return None;
    }
    let stored = store.get(&report.inputs().in_run()).await.ok()?;
    if stored.as_ref() != hash.as_bytes() || !store.exists(&report.index().in_run()).await.ok()? {
        return None;
    }
    let markdown = store.get(&report.tables_markdown().in_run()).await.ok()?;
    Some(crate::report::Built {
        markdown: String::from_utf8(markdown.to_vec()).ok()?,
        plots: 0,
        pages: 0,
        spectrograms: 0,
    })
}

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
