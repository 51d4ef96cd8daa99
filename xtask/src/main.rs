//! `cargo xtask`: mir-ref's pipelines and project chores, as subcommands of one binary.

mod config;
mod models;
mod pipeline;
mod report;
mod runlog;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

// glibc's malloc returns burn's per-step tensor buffers to the kernel and faults them in again:
// measured on the probe benchmark, up to 25 s of system time in a 60 s run and twice the wall
// time, depending on heap layout. mimalloc keeps them (2.80 s per training, no system time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "mir-ref: evaluate music audio representations"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run an experiment from a YAML config (paths in it are relative to the repository root).
    Experiment {
        /// The config file.
        config: PathBuf,
        /// Print the planned grid, what is cached and what would run, and exit (writes nothing).
        #[arg(long)]
        dry_run: bool,
        /// Write the deformed audio under `audio/` of the run directory.
        #[arg(long)]
        keep_audio: bool,
        /// Recompute even what an earlier run left with unchanged inputs: `--force` everything,
        /// `--force STAGE` that stage and the later ones.
        #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "embeddings")]
        force: Option<pipeline::Stage>,
    },
    /// Rebuild `report/` of a run directory from its tables alone (nothing is rerun).
    Report {
        /// The run directory (`runs/NAME`).
        run: PathBuf,
        /// Table presets (`overview`, `robustness`, `probes`, `layers`), repeatable; default:
        /// the run config's `report.tables`, else all.
        #[arg(long = "table")]
        tables: Vec<String>,
        /// The metric of tables and plots, where a task has it (default: each task's primary
        /// metric, or the run config's `report.metric`).
        #[arg(long)]
        metric: Option<String>,
    },
    /// Deform one audio file, to hear what a scenario does.
    Deform {
        /// Audio file to read (WAV, FLAC, MP3, Ogg Vorbis, M4A).
        #[arg(long)]
        input: PathBuf,
        /// Steps as `name key=value ...`, separated by `|` (`'white_noise snr_db=15'`), or,
        /// with `--config`, the name of one of its scenarios.
        #[arg(long)]
        scenario: String,
        /// 32-bit float WAV to write.
        #[arg(long)]
        output: PathBuf,
        /// Take the scenario and seed from this experiment config, so the output is exactly
        /// what the experiment fed the model for this track.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed (without `--config`).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The track id the noise is drawn for (default: the input path as given).
        #[arg(long)]
        track_id: Option<String>,
    },
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
    },
    /// Model files described by the cards in configs/models/.
    Models {
        #[command(subcommand)]
        action: ModelsCmd,
    },
    /// Regenerate docs/tables.md from the table contract.
    Docs,
    /// Check that no mir-* crate depends on a sibling other than mir-table.
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

#[derive(Subcommand)]
enum ModelsCmd {
    /// List the cards and whether each model file is in place.
    List,
    /// Get a card's model file (from its PyPI wheel or URL) and check its SHA-256.
    Fetch {
        /// Card names (`basic-pitch`) or card paths.
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

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    // Paths given on the command line are relative to where the user stands; paths inside
    // configs are relative to the repository root.
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(project_root())?;
    {
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
    match cli.command {
        Cmd::Experiment {
            config,
            dry_run,
            keep_audio,
            force,
        } => {
            let path = cwd.join(config);
            let mut config = config::load(&path)?;
            config.keep_audio |= keep_audio;
            let plan = config.plan();
            print!("{}", pipeline::describe_plan(&config, &plan));
            if dry_run {
                let runtime = tokio::runtime::Runtime::new()?;
                print!("{}", runtime.block_on(pipeline::cache_status(&config))?);
                return Ok(());
            }
            let output = config.output();
            if let Some(dir) = runlog::local_dir(&output) {
                runlog::open(dir).with_context(|| format!("opening {}/run.log", dir.display()))?;
            }
            let runtime = tokio::runtime::Runtime::new()?;
            let summary = runtime.block_on(pipeline::run(&config, force))?;
            println!("\n{}", summary.table);
            if summary.skipped_tracks > 0 {
                println!(
                    "{} track(s) failed and were left out: see {output}/failures.parquet\n",
                    summary.skipped_tracks
                );
            }
            println!("{}", summary.stages);
            println!(
                "Results: {0}/ (tables as Parquet), report: {0}/report/index.html",
                config.output()
            );
        }
        Cmd::Report {
            run,
            tables,
            metric,
        } => {
            let dir = cwd.join(&run);
            if !dir.join("metrics.parquet").is_file() {
                bail!(
                    "`{}` is not a finished run directory (no metrics.parquet): run `cargo xtask experiment` first",
                    run.display()
                );
            }
            // The run's own report settings and name, from the config it ran with.
            let resolved = dir.join("config.resolved.yml");
            let (name, mut settings) = match std::fs::read_to_string(&resolved) {
                Ok(text) => {
                    let value: serde_yaml::Value = serde_yaml::from_str(&text)
                        .with_context(|| format!("reading {}", resolved.display()))?;
                    let settings = match value.get("report") {
                        Some(r) => serde_yaml::from_value(r.clone())
                            .with_context(|| format!("key `report` of {}", resolved.display()))?,
                        None => config::ReportConfig::default(),
                    };
                    let name = value
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_owned);
                    (name, settings)
                }
                Err(_) => (None, config::ReportConfig::default()),
            };
            let name = name.unwrap_or_else(|| {
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            if !tables.is_empty() {
                settings.tables = tables;
            }
            if metric.is_some() {
                settings.metric = metric;
            }
            let options = report::Options::from_config(&settings).context("option --table")?;
            let store = mir_table::TableStore::open(&dir.display().to_string())?;
            let runtime = tokio::runtime::Runtime::new()?;
            let built = runtime.block_on(report::build(&store, &name, &options))?;
            println!("{}", built.markdown);
            println!(
                "Report: {}/report/index.html ({} plots, {} confusion pages, {} spectrograms rendered)",
                run.display(),
                built.plots,
                built.pages,
                built.spectrograms
            );
        }
        Cmd::Deform {
            input,
            scenario,
            output,
            config,
            seed,
            track_id,
        } => {
            let track_id = track_id.unwrap_or_else(|| input.display().to_string());
            let (steps, seed) = match config {
                Some(c) => {
                    let c = config::load(&cwd.join(c))?;
                    let Some(s) = c.deformations.get(&scenario) else {
                        bail!(
                            "scenario `{scenario}` is not defined in `deformations` (defined: {})",
                            c.deformations
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        );
                    };
                    (s.clone(), c.seed)
                }
                None => (
                    mir_deform::spec::parse(&scenario)
                        .map_err(|e| anyhow::anyhow!("--scenario `{scenario}`: {e}"))?,
                    seed,
                ),
            };
            let (input, output) = (cwd.join(input), cwd.join(output));
            let mut audio = mir_deform::files::load(&input)?;
            let before = audio.rms();
            mir_deform::apply(&steps, &scenario, seed, &track_id, &mut audio)
                .with_context(|| format!("deforming `{}`", input.display()))?;
            mir_deform::files::write_wav(&output, &audio)?;
            let peak = audio
                .channels
                .iter()
                .flatten()
                .fold(0f32, |m, s| m.max(s.abs()));
            println!(
                "wrote {}: {:.2} s, {} Hz, {} channel(s), level {:+.2} dB, peak {:.3}{}",
                output.display(),
                audio.duration_s(),
                audio.sample_rate_hz,
                audio.channels.len(),
                20.0 * (audio.rms() / before).log10(),
                peak,
                if peak > 1.0 {
                    " (clips in 16-bit players)"
                } else {
                    ""
                },
            );
        }
        Cmd::Fixtures { out } => {
            use mir_datasets::fixtures;
            let out = cwd.join(out);
            let synth = mir_datasets::synth::render(
                &out.join("synth"),
                &mir_datasets::synth::SynthConfig::default(),
            )?;
            println!("synth: {synth} files under {}", out.join("synth").display());
            let n = fixtures::tinysol(&out.join("tinysol"), mir_datasets::tinysol::FIXTURE_NOTES)?;
            println!("tinysol: {n} files under {}", out.join("tinysol").display());
            let n = fixtures::vocalset(&out.join("vocalset"))?;
            println!(
                "vocalset: {n} files under {}",
                out.join("vocalset").display()
            );
            let (n, usable) = fixtures::beatport(&out.join("beatport_key"))?;
            println!(
                "beatport_key: {n} annotated tracks ({usable} with one key) under {}",
                out.join("beatport_key").display()
            );
            let (test, train) = fixtures::giantsteps(&out.join("giantsteps_key"))?;
            println!(
                "giantsteps_key: {test} test and {train} training tracks under {}",
                out.join("giantsteps_key").display()
            );
        }
        Cmd::SetupOrt { version, force } => {
            let lib = models::setup_ort(&version, force)?;
            println!(
                "ONNX Runtime {version}: {} (loads; used when ORT_DYLIB_PATH is unset and Python \
                 has no onnxruntime)",
                lib.display()
            );
        }
        Cmd::Models { action } => match action {
            ModelsCmd::List => {
                for name in models::card_names() {
                    let path = models::card_path(&name);
                    let state = match mir_embed::onnx::card::ModelCard::from_file(&path) {
                        Err(e) => format!("invalid card: {e}"),
                        Ok(card) if models::is_fetched(&name) => {
                            format!("ready ({})", card.model_path(&path).display())
                        }
                        Ok(card) => format!(
                            "not there ({}): {}",
                            card.model_path(&path).display(),
                            card.how_to_fetch(&path)
                        ),
                    };
                    println!("{name:<16} {state}");
                }
            }
            ModelsCmd::Fetch { names } => {
                for name in names {
                    let path = models::fetch(&name)?;
                    println!("{name}: {}", path.display());
                }
            }
        },
        Cmd::Docs => {
            let path = project_root().join("docs/tables.md");
            std::fs::write(&path, mir_table::docs::markdown())
                .with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        Cmd::Tidy => {
            let n = tidy::check_workspace(&project_root())?;
            println!(
                "tidy: {n} crates depend on no sibling but {}",
                tidy::CONTRACT
            );
        }
        Cmd::Ci => ci()?,
        Cmd::Bench { args } => {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["bench", "--workspace", "--bench", "*", "--"])
                .args(&args)
                .status()?;
            if !status.success() {
                bail!("`cargo bench` failed");
            }
        }
    }
    Ok(())
}

/// Whether the report's browser tests have a chromium: already there, or installed now with
/// `apt-get` (Debian's package). Where it cannot be installed (no apt, not root, no mirror) the
/// reason is printed and the browser tests skip; where it is there they must pass.
fn ensure_chromium() -> bool {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    let found = || {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .any(|b| on_path(b))
    };
    if std::env::var_os("MIRREF_CHROMIUM").is_some() || found() {
        return true;
    }
    eprintln!("$ apt-get install chromium (for the report's browser tests)");
    for args in [
        &["update", "-qq"][..],
        &[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                eprintln!(
                    "warning: `apt-get {}` failed ({other:?}): the browser tests will be skipped; \
                     install chromium (or set MIRREF_CHROMIUM) to run them",
                    args.join(" ")
                );
                return false;
            }
        }
    }
    found()
}

fn ci() -> Result<()> {
    let steps: [&[&str]; 3] = [
        &["fmt", "--all", "--", "--check"],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &["test", "--workspace"],
    ];
    // The ONNX tests run on a real pretrained network: provision ONNX Runtime and basic-pitch
    // from their PyPI wheels (cached), and make the tests fail rather than skip without them.
    models::setup_ort(mir_embed::onnx::runtime::ORT_VERSION, false)
        .context("provisioning ONNX Runtime for the tests")?;
    models::fetch("basic-pitch").context("fetching basic-pitch for the tests")?;
    // The report's browser test runs Debian's chromium.
    let browser = ensure_chromium();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in steps {
        eprintln!("$ cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(args)
            .env("MIRREF_REQUIRE_MODELS", "1")
            .env("MIRREF_REQUIRE_BROWSER", if browser { "1" } else { "0" })
            .status()
            .with_context(|| format!("running cargo {}", args[0]))?;
        if !status.success() {
            bail!("`cargo {}` failed", args.join(" "));
        }
    }
    Ok(())
}
