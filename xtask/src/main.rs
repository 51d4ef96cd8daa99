//! `mir-ref` (`cargo xtask` in the checkout): parses arguments, sets up logging, calls the
//! library's operations and prints their summaries.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use mir_table::RunLayout;
use xtask::{DeformRequest, RunOptions, Shard, Stage, chores, config, models, runlog, tidy};

// mimalloc: mir-alloc says why.
#[global_allocator]
static GLOBAL: mir_alloc::MiMalloc = mir_alloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mir-ref",
    about = "mir-ref: evaluate music audio representations"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run an experiment from a YAML config (paths in it are relative to the config file).
    Experiment {
        /// The config file.
        config: PathBuf,
        /// The run directory (a path or URL; default `output:` of the config, else
        /// `runs/<name>` of the current folder).
        #[arg(long)]
        output: Option<String>,
        /// Print the planned grid, what is cached and what would run, and exit (writes nothing).
        #[arg(long)]
        dry_run: bool,
        /// Write the deformed audio under `audio/` of the run directory.
        #[arg(long)]
        keep_audio: bool,
        /// Recompute even what an earlier run left with unchanged inputs: `--force` everything
        /// but the datasets, `--force STAGE` that stage and the later ones.
        #[arg(long, value_parser = stage_parser(), num_args = 0..=1, default_missing_value = "extract")]
        force: Option<Stage>,
        /// Do one stage only, once the earlier ones are complete (a cluster's job does one
        /// stage); without it every stage runs, finishing whatever workers left undone.
        #[arg(long, value_parser = stage_parser())]
        stage: Option<Stage>,
        /// With `--stage extract` or `--stage train`: only shard K of N of its work (K from 0
        /// to N-1, as Slurm array and Kubernetes completion indices count).
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
        /// With `--stage`: wait up to this many seconds for the earlier stages to be complete
        /// (they are checked every 5 s), instead of failing at once.
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// Prepare (render, download or explain) and parse every dataset of a config, write its
    /// tasks' `tracks` tables to the run directory, and print per task the split sizes, the
    /// vocabulary, labels per track and what was left out: a download checked before hours of
    /// extraction. Fails, after the summary, when a dataset did.
    Datasets {
        /// The config file.
        config: PathBuf,
        /// The run directory (default as for `experiment`).
        #[arg(long)]
        output: Option<String>,
    },
    /// Write (and with `--submit`, submit) the jobs that run an experiment on a cluster: one
    /// job per stage, the extraction and training stages as arrays of `--shards` workers.
    Cluster {
        #[command(subcommand)]
        engine: ClusterCmd,
    },
    /// Summarise the workers of a run directory (a path or URL): shards done, running and
    /// failed per stage, and the tracks left out.
    Status {
        /// The run directory.
        run: String,
    },
    /// Rebuild `report/` of a run directory from its tables alone (nothing is rerun).
    Report {
        /// The run directory (`runs/NAME`).
        run: PathBuf,
        /// Table presets (`overview`, `robustness`, `probes`, `layers`, `regression`, `tags`), repeatable; default:
        /// the run config's `report.tables`, else all.
        #[arg(long = "table")]
        tables: Vec<String>,
        /// The metric of tables and plots, where a task has it (default: each task's primary
        /// metric, or the run config's `report.metric`).
        #[arg(long)]
        metric: Option<String>,
    },
    /// Deform one audio file, to hear what a scenario does.
    Deform(DeformRequest),
    /// Render every fixture dataset (synthetic audio in each real dataset's layout).
    Fixtures {
        /// Output folder; each dataset goes to a subfolder.
        #[arg(long, default_value = "fixtures/generated")]
        out: PathBuf,
    },
    /// Extract ONNX Runtime's shared library from the `onnxruntime` PyPI wheel into the cache
    /// (`$MIRREF_CACHE_DIR`, else `~/.cache/mir-ref`), where ONNX models find it.
    SetupOrt {
        /// The onnxruntime release.
        #[arg(long, default_value = mir_embed::onnx::runtime::ORT_VERSION)]
        version: String,
        /// Extract again even if it is there.
        #[arg(long)]
        force: bool,
        /// The CUDA build (`onnxruntime-gpu` wheel, Linux x86-64), for `device: cuda:N`.
        #[arg(long)]
        gpu: bool,
    },
    /// Model files described by the cards in `$MIRREF_MODELS`, else `configs/models/`.
    Models {
        #[command(subcommand)]
        action: ModelsCmd,
    },
    /// Regenerate docs/tables.md from the table contract (in the checkout).
    Docs,
    /// Check the crate layers: leaves, then libraries that never depend on each other.
    Tidy,
    /// Run what CI runs: formatting, lints, tests (after provisioning ONNX Runtime and
    /// basic-pitch, which the tests then require).
    Ci,
    /// Run the criterion benchmarks (optimised build); extra arguments go to criterion.
    Bench {
        /// Passed to `cargo bench`, for example a benchmark name filter.
        args: Vec<String>,
    },
}

/// What `cluster` generates for each engine.
#[derive(clap::Args)]
struct ClusterJobs {
    /// The experiment config.
    config: PathBuf,
    /// Workers of the extraction and training stages.
    #[arg(long, default_value_t = 4)]
    shards: usize,
    /// The run directory (default: the config's `output`, else `runs/<name>` of the current
    /// folder, made absolute).
    #[arg(long)]
    output: Option<String>,
    /// Folder of the generated files (default `cluster/<name>/<engine>`).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Slurm batch scripts: datasets, an extraction array, a training array, evaluation,
    /// chained by `afterok` in `submit.sh`.
    Slurm {
        #[command(flatten)]
        jobs: ClusterJobs,
        #[command(flatten)]
        options: xtask::cluster::SlurmOptions,
        /// The `mir-ref` binary the jobs run (default: this one).
        #[arg(long)]
        binary: Option<String>,
        /// Submit them (`submit.sh`) once written.
        #[arg(long)]
        submit: bool,
    },
    /// Kubernetes Jobs in one `jobs.yaml` (Indexed Jobs for the sharded stages), for
    /// `kubectl apply -f`.
    K8s {
        #[command(flatten)]
        jobs: ClusterJobs,
        #[command(flatten)]
        options: xtask::cluster::K8sOptions,
    },
}

#[derive(Subcommand)]
enum ModelsCmd {
    /// List the cards and whether each model file is in place.
    List,
    /// Embed generated audio with a card's model on the CPU and on a device: the largest
    /// difference and both throughputs (the GPU check of `scripts/gpu-check.sh`).
    CheckDevice {
        /// Card name (`basic-pitch`) or path.
        card: String,
        /// The device to compare with the CPU (`cuda:0`).
        #[arg(long, default_value = "cuda:0")]
        device: mir_embed::onnx::Device,
        /// Clips to embed.
        #[arg(long, default_value_t = 16)]
        tracks: usize,
        /// Seconds per clip.
        #[arg(long, default_value_t = 30.0)]
        seconds: f64,
        /// The largest difference allowed.
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f32,
    },
    /// Get a card's model file (from its PyPI wheel or URL) and check its SHA-256.
    Fetch {
        /// Card names (`basic-pitch`) or card paths.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Record the SHA-256 of a card's model file in the card (after exporting it yourself).
    Pin {
        /// Card names (`vggish`) or card paths.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// tracing to stderr (`RUST_LOG` filters) and as JSON lines to the run's `run.log`.
fn init_logging() {
    use tracing_subscriber::prelude::*;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,symphonia=warn,ort=warn".into())
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(runlog::RunLogWriter)
                .with_filter(filter()),
        )
        .init();
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    init_logging();
    if let Err(e) = mir_alloc::without_huge_pages() {
        tracing::warn!(error = %e, "transparent huge pages stay on");
    }
    match cli.command {
        Cmd::Experiment {
            config,
            output,
            dry_run,
            keep_audio,
            force,
            stage,
            shard,
            wait,
        } => {
            let options = RunOptions::new(force, stage, shard, wait)?;
            let mut config = config::load(&config)?;
            config.keep_audio |= keep_audio;
            if output.is_some() {
                config.output = output;
            }
            if dry_run {
                print!("{}", xtask::plan(&config)?);
            } else {
                experiment(&config, &options)?;
            }
        }
        Cmd::Datasets { config, output } => {
            let mut config = config::load(&config)?;
            if output.is_some() {
                config.output = output;
            }
            let inventory = xtask::inventory::check(&config)?;
            print!("{}", inventory.text());
            if !inventory.failed.is_empty() {
                anyhow::bail!(
                    "{} of {} datasets failed",
                    inventory.failed.len(),
                    config.datasets.len()
                );
            }
        }
        Cmd::Cluster { engine } => cluster(engine)?,
        Cmd::Status { run } => print!("{}", xtask::status::of_run(&run)?),
        Cmd::Report {
            run,
            tables,
            metric,
        } => {
            let built = xtask::rebuild_report(&run, tables, metric)?;
            println!("{}", built.markdown);
            println!(
                "Report: {}/{} ({} plots, {} confusion pages, {} spectrograms rendered)",
                run.display(),
                RunLayout::report().index().in_run(),
                built.plots,
                built.pages,
                built.spectrograms
            );
        }
        Cmd::Deform(request) => print_deformed(&xtask::deform_file(&request)?),
        Cmd::Fixtures { out } => {
            for f in xtask::render_fixtures(&out)? {
                println!("{}: {} under {}", f.name, f.written, f.dir.display());
            }
        }
        Cmd::SetupOrt {
            version,
            force,
            gpu: true,
        } => {
            let lib = models::setup_ort(&version, force, true)?;
            println!(
                "ONNX Runtime {version} for CUDA: {} (use it with ORT_DYLIB_PATH={0})",
                lib.display()
            );
        }
        Cmd::SetupOrt { version, force, .. } => {
            let lib = models::setup_ort(&version, force, false)?;
            println!(
                "ONNX Runtime {version}: {} (loads; used when ORT_DYLIB_PATH is unset and Python \
                 has no onnxruntime)",
                lib.display()
            );
        }
        Cmd::Models { action } => models_cmd(action)?,
        Cmd::Docs => println!("wrote {}", chores::docs()?.display()),
        Cmd::Tidy => {
            let n = tidy::check_workspace(&chores::project_root())?;
            println!("tidy: {n} crates keep their layer");
        }
        Cmd::Ci => chores::ci()?,
        Cmd::Bench { args } => chores::bench(&args)?,
    }
    Ok(())
}

/// `models list`, `models check-device`, `models fetch`, `models pin`.
fn models_cmd(action: ModelsCmd) -> Result<()> {
    match action {
        ModelsCmd::List => {
            for (name, state) in models::list() {
                println!("{name:<16} {state}");
            }
        }
        ModelsCmd::CheckDevice {
            card,
            device,
            tracks,
            seconds,
            tolerance,
        } => {
            let c = models::check_device(&card, device, tracks, seconds)?;
            println!(
                "{card}: {} values, max |{device} - cpu| = {:.3e} (tolerance {tolerance:.0e}); \
                 audio seconds per second: cpu {:.1}, {device} {:.1} ({:.1}x)",
                c.values,
                c.max_abs_diff,
                c.cpu_audio_s_per_s,
                c.device_audio_s_per_s,
                c.device_audio_s_per_s / c.cpu_audio_s_per_s
            );
            anyhow::ensure!(
                c.max_abs_diff <= tolerance,
                "{card}: {device} differs from the CPU by more than {tolerance}"
            );
        }
        ModelsCmd::Pin { names } => {
            for name in names {
                let (sha, was) = models::pin(&name)?;
                let was = match was {
                    Some(w) if w.eq_ignore_ascii_case(&sha) => " (unchanged)".to_string(),
                    Some(w) => format!(" (was {w})"),
                    None => String::new(),
                };
                println!("{name}: pinned sha256 {sha}{was}");
            }
        }
        ModelsCmd::Fetch { names } => {
            for name in names {
                let path = models::fetch(&name)?;
                println!("{name}: {}", path.display());
            }
        }
    }
    Ok(())
}

/// Writes a cluster's jobs, says where, and submits them when asked.
fn cluster(engine: ClusterCmd) -> Result<()> {
    let load = |jobs: &ClusterJobs, engine: &str, binary: Option<String>| -> Result<_> {
        let mut config = config::load(&jobs.config)?;
        if jobs.output.is_some() {
            config.output.clone_from(&jobs.output);
        }
        let out = (jobs.out.clone())
            .unwrap_or_else(|| PathBuf::from(format!("cluster/{}/{engine}", config.name)));
        Ok((
            xtask::cluster::Jobs::new(&jobs.config, &config, jobs.shards, binary)?,
            out,
        ))
    };
    let generated = match &engine {
        ClusterCmd::Slurm {
            jobs,
            options,
            binary,
            ..
        } => {
            let (jobs, out) = load(jobs, "slurm", binary.clone())?;
            xtask::cluster::slurm(&jobs, options, &out)?
        }
        ClusterCmd::K8s { jobs, options } => {
            let (jobs, out) = load(jobs, "k8s", None)?;
            xtask::cluster::kubernetes(&jobs, options, &out)?
        }
    };
    for f in &generated.files {
        println!("wrote {}", f.display());
    }
    match engine {
        ClusterCmd::Slurm { submit: true, .. } => print!("{}", xtask::cluster::submit(&generated)?),
        ClusterCmd::Slurm { .. } => println!("submit with: bash {}", generated.entry.display()),
        ClusterCmd::K8s { .. } => {
            println!("apply with: kubectl apply -f {}", generated.entry.display())
        }
    }
    Ok(())
}

/// `--stage` and `--force` values: the stage names.
fn stage_parser() -> impl clap::builder::TypedValueParser<Value = Stage> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Stage::NAMES).try_map(|s| s.parse::<Stage>())
}

/// Runs the experiment and prints its tables, failures, stages and where the results are.
fn experiment(config: &config::ExperimentConfig, options: &RunOptions) -> Result<()> {
    print!("{}", xtask::describe_plan(config, &config.plan()));
    let summary = xtask::experiment(config, options)?;
    let output = config.output();
    if let Some(stage) = options.stage {
        println!("{}", summary.stages);
        println!("stage {stage}, shard {}: done ({output}/)", options.shard);
        return Ok(());
    }
    println!("\n{}", summary.table);
    if summary.skipped_tracks > 0 {
        println!(
            "{} track(s) failed and were left out: see {output}/{}\n",
            summary.skipped_tracks,
            RunLayout::FAILURES
        );
    }
    println!("{}", summary.stages);
    println!(
        "Results: {output}/ (tables as Parquet), report: {output}/{}",
        RunLayout::report().index().in_run()
    );
    Ok(())
}

fn print_deformed(s: &xtask::DeformSummary) {
    let clips = if s.peak > 1.0 {
        " (clips in 16-bit players)"
    } else {
        ""
    };
    println!(
        "wrote {}: {:.2} s, {} Hz, {} channel(s), level {:+.2} dB, peak {:.3}{clips}",
        s.output.display(),
        s.duration_s,
        s.sample_rate_hz,
        s.channels,
        s.level_db,
        s.peak,
    );
}
