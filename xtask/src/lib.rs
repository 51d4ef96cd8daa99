//! mir-ref's application: the pipeline that wires every crate together, as a library.
//!
//! Each operation of the `mir-ref` command line (`cargo xtask` in the checkout) is a function
//! here that takes a loaded config or plain paths and returns a typed summary; `main.rs` only
//! parses arguments, sets up logging and prints. So the pipeline can be embedded, tested on a
//! `memory://` store, and installed (`cargo install --path xtask` gives the `mir-ref` binary).
//!
//! Reads and writes every table of the contract, through [`mir_table::TableStore`] at the
//! paths of [`mir_table::RunLayout`]. It computes nothing itself: decoding, deforming,
//! embedding, training, scoring and drawing are the libraries'.
//!
//! Paths in a config are relative to the config file, as Cargo's are to `Cargo.toml`
//! ([`config::load`]); the default run directory is `runs/<name>` of the current folder. No
//! function here changes the working directory.
//!
//! ```no_run
//! let config = xtask::config::load(std::path::Path::new("configs/quickstart.yml"))?;
//! let summary = xtask::experiment(&config, &xtask::RunOptions::default())?;
//! println!("{}", summary.table);
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod bench;
mod cache;
pub mod chores;
pub mod cluster;
pub mod config;
pub mod inventory;
mod media;
pub mod models;
pub mod overhead;
mod pipeline;
pub mod report;
pub mod runlog;
pub mod status;
pub mod tidy;
mod work;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use mir_table::{RunLayout, TableStore};

pub use config::ExperimentConfig;
pub use mir_table::{Shard, Stage};
pub use pipeline::{GridSize, Incomplete, RunOptions, RunSummary, describe_plan, grid_size};

/// Runs an experiment, or the part of it `options` says: datasets, extraction, probes, metrics
/// and report, reusing what an earlier run or worker left in the same directory with
/// unchanged inputs. Tracing events also go to the run's `run.log`, a worker's (`--stage`) to
/// its own log under `logs/`, on the run's store.
pub fn experiment(config: &ExperimentConfig, options: &RunOptions) -> Result<RunSummary> {
    let output = config.output();
    let store = TableStore::open(&output)?;
    let rel = match options.stage {
        Some(stage) => RunLayout::worker_log(stage, options.shard),
        None => RunLayout::RUN_LOG.to_string(),
    };
    let log = runlog::LogFile::open(&output, &store, &rel)
        .with_context(|| format!("opening the log {}", store.display(&rel)))?;
    let (stage, shard) = (
        options.stage.map(|s| s.to_string()),
        options.shard.to_string(),
    );
    tracing::info!(
        stage,
        shard,
        host = pipeline::markers::host(),
        pid = std::process::id(),
        "worker started"
    );
    log.sync()?;
    let result = experiment_in(config, &store, options);
    match &result {
        Ok(_) => tracing::info!(stage, shard, "worker finished"),
        Err(e) => tracing::error!(stage, shard, error = format!("{e:#}"), "worker failed"),
    }
    log.sync()?;
    result
}

/// [`experiment`] into `store` (a `memory://` store, for one) instead of the config's
/// `output`; the caller reads the tables back from the same store. With `wait_s`, a stage
/// whose earlier stages are not complete yet checks again every few seconds until they are
/// or the time is up.
pub fn experiment_in(
    config: &ExperimentConfig,
    store: &TableStore,
    options: &RunOptions,
) -> Result<RunSummary> {
    let runtime = tokio::runtime::Runtime::new()?;
    let started = std::time::Instant::now();
    let wait = std::time::Duration::from_secs(options.wait_s);
    loop {
        match runtime.block_on(pipeline::run(config, store, options)) {
            Err(e) if e.is::<Incomplete>() && started.elapsed() < wait => {
                tracing::info!("waiting for the earlier stages: {e:#}");
                std::thread::sleep(WAIT_POLL.min(wait));
            }
            Err(e) if e.is::<Incomplete>() && options.wait_s > 0 => {
                return Err(e.context(format!(
                    "still not complete after waiting {} s (--wait)",
                    options.wait_s
                )));
            }
            result => return result,
        }
    }
}

/// How often a waiting stage checks the earlier ones.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// The dry run: the planned grid, what is cached and what would run; writes nothing and
/// prepares (downloads, renders) no dataset.
pub fn plan(config: &ExperimentConfig) -> Result<String> {
    plan_in(config, &TableStore::open(&config.output())?)
}

/// [`plan`] against the tables of `store`.
pub fn plan_in(config: &ExperimentConfig, store: &TableStore) -> Result<String> {
    let mut text = describe_plan(config, &config.plan());
    let status = pipeline::cache_status(config, store);
    text.push_str(&tokio::runtime::Runtime::new()?.block_on(status)?);
    Ok(text)
}

/// Rebuilds `report/` of the finished run in `run_dir` from its tables alone. `tables` and
/// `metric` override the run config's `report` settings when given.
pub fn rebuild_report(
    run_dir: &Path,
    tables: Vec<String>,
    metric: Option<String>,
) -> Result<report::Built> {
    if !run_dir.join(RunLayout::METRICS).is_file() {
        bail!(
            "`{}` is not a finished run directory (no {}): run `mir-ref experiment` first",
            run_dir.display(),
            RunLayout::METRICS
        );
    }
    let (name, mut settings) = report::run_settings(run_dir)?;
    if !tables.is_empty() {
        settings.tables = tables;
    }
    if metric.is_some() {
        settings.metric = metric;
    }
    let options = report::Options::from_config(&settings).context("option --table")?;
    let store = TableStore::open(&run_dir.display().to_string())?;
    tokio::runtime::Runtime::new()?.block_on(report::build(&store, &name, &options))
}

/// What [`deform_file`] is asked to do (also the arguments of `mir-ref deform`).
#[derive(Debug, Clone, clap::Args)]
pub struct DeformRequest {
    /// Audio file to read (WAV, FLAC, MP3, Ogg Vorbis, M4A).
    #[arg(long)]
    pub input: PathBuf,
    /// Steps as `name key=value ...`, separated by `|` (`'white_noise snr_db=15'`), or, with
    /// `--config`, the name of one of its scenarios.
    #[arg(long)]
    pub scenario: String,
    /// 32-bit float WAV to write.
    #[arg(long)]
    pub output: PathBuf,
    /// Take the scenario and seed from this experiment config, so the output is exactly what
    /// the experiment fed the model for this track.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed (without `--config`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The track id the noise is drawn for (default: the input path as given).
    #[arg(long)]
    pub track_id: Option<String>,
}

/// What [`deform_file`] wrote.
pub struct DeformSummary {
    /// The output file.
    pub output: PathBuf,
    /// Its duration.
    pub duration_s: f64,
    /// Its sample rate.
    pub sample_rate_hz: u32,
    /// Its channels.
    pub channels: usize,
    /// RMS level change, in dB.
    pub level_db: f64,
    /// Highest absolute sample.
    pub peak: f32,
}

/// Deforms one file exactly as an experiment would (same steps, seed and track id).
pub fn deform_file(request: &DeformRequest) -> Result<DeformSummary> {
    let DeformRequest {
        input,
        scenario,
        output,
        ..
    } = request;
    let track_id = request
        .track_id
        .clone()
        .unwrap_or_else(|| input.display().to_string());
    let (steps, seed) = match &request.config {
        Some(c) => scenario_of(&config::load(c)?, scenario)?,
        None => (
            mir_deform::spec::parse(scenario)
                .map_err(|e| anyhow::anyhow!("--scenario `{scenario}`: {e}"))?,
            request.seed,
        ),
    };
    let mut audio = mir_deform::files::load(input)?;
    let before = audio.rms();
    mir_deform::apply(&steps, scenario, seed, &track_id, &mut audio)
        .with_context(|| format!("deforming `{}`", input.display()))?;
    mir_deform::files::write_wav(output, &audio)?;
    Ok(DeformSummary {
        output: output.clone(),
        duration_s: audio.duration_s(),
        sample_rate_hz: audio.sample_rate_hz,
        channels: audio.channels.len(),
        level_db: 20.0 * (audio.rms() / before).log10(),
        peak: audio
            .channels
            .iter()
            .flatten()
            .fold(0f32, |m, s| m.max(s.abs())),
    })
}

/// A config's scenario `name` and its seed.
fn scenario_of(config: &ExperimentConfig, name: &str) -> Result<(mir_deform::Scenario, u64)> {
    match config.deformations.get(name) {
        Some(s) => Ok((s.clone(), config.seed)),
        None => bail!(
            "scenario `{name}` is not defined in `deformations` (defined: {})",
            config
                .deformations
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One fixture dataset rendered by [`render_fixtures`].
pub struct Fixture {
    /// Dataset name (its folder under the output).
    pub name: &'static str,
    /// What was written (`1026 files`).
    pub written: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// Renders every fixture dataset (synthetic audio in each real dataset's layout) under `out`.
pub fn render_fixtures(out: &Path) -> Result<Vec<Fixture>> {
    use mir_datasets::fixtures;
    let dir = |name: &'static str| out.join(name);
    let fixture = |name, written| Fixture {
        name,
        written,
        dir: dir(name),
    };
    let synth =
        mir_datasets::synth::render(&dir("synth"), &mir_datasets::synth::SynthConfig::default())?;
    let tinysol = fixtures::tinysol(&dir("tinysol"), mir_datasets::tinysol::FIXTURE_NOTES)?;
    let vocalset = fixtures::vocalset(&dir("vocalset"))?;
    let (beatport, usable) = fixtures::beatport(&dir("beatport_key"))?;
    let (test, train) = fixtures::giantsteps(&dir("giantsteps_key"))?;
    let gtzan = fixtures::gtzan(&dir("gtzan"), 1.0, false)?;
    let nsynth = fixtures::nsynth(&dir("nsynth"), 48)?;
    let emomusic = fixtures::emomusic(&dir("emomusic"), 120)?;
    let mtt = fixtures::magnatagatune(&dir("magnatagatune"), 40, 1.0)?;
    let jamendo = fixtures::mtg_jamendo(&dir("mtg_jamendo"), 300, 1.0)?;
    let fma = fixtures::fma(&dir("fma"), 40, 1.0)?;
    Ok(vec![
        fixture("synth", format!("{synth} files")),
        fixture("tinysol", format!("{tinysol} files")),
        fixture("vocalset", format!("{vocalset} files")),
        fixture(
            "beatport_key",
            format!("{beatport} annotated tracks ({usable} with one key)"),
        ),
        fixture(
            "giantsteps_key",
            format!("{test} test and {train} training tracks"),
        ),
        fixture("gtzan", format!("{gtzan} files of 1 s")),
        fixture("nsynth", format!("{nsynth} notes in three splits")),
        fixture("emomusic", format!("{emomusic} songs")),
        fixture("magnatagatune", format!("{mtt} clips of 1 s")),
        fixture("mtg_jamendo", format!("{jamendo} tracks of 1 s")),
        fixture("fma", format!("{fma} tracks of 1 s in three subsets")),
    ])
}
