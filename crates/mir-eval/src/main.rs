//! `mir-eval`: score one predictions table against its tracks table and write a metrics table.

use anyhow::{Context, Result};
use clap::Parser;
use mir_eval::EvalConfig;
use mir_table::{TableKind, TableStore};

/// Score `predictions` against `tracks` and write the long `metrics` table.
#[derive(Parser)]
#[command(name = "mir-eval", version)]
struct Args {
    /// The `tracks` table (Parquet path or file:// URL).
    #[arg(long)]
    tracks: String,
    /// The `predictions` table.
    #[arg(long)]
    predictions: String,
    /// Where to write the `metrics` table.
    #[arg(long)]
    output: String,
    /// Bootstrap resamples for confidence intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Decision threshold for multilabel F1.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let read = |location: &str, kind| -> Result<mir_table::Table> {
        let (store, name) = TableStore::open_file(location)?;
        rt.block_on(store.read(&name, kind))
            .with_context(|| format!("reading {location}"))
    };
    let tracks = read(&args.tracks, TableKind::Tracks)?;
    let predictions = read(&args.predictions, TableKind::Predictions)?;
    let config = EvalConfig {
        bootstrap: args.bootstrap,
        threshold: args.threshold,
        ..EvalConfig::default()
    };
    let rows = mir_eval::evaluate(&config, args.seed, &tracks, &predictions)
        .with_context(|| format!("evaluating {}", args.predictions))?;
    let schema = mir_eval::metrics_schema(None)?;
    let batch = mir_table::metrics_batch(&schema, &rows)?;
    let (store, name) = TableStore::open_file(&args.output)?;
    rt.block_on(store.write(&name, TableKind::Metrics, &schema, &[batch]))
        .with_context(|| format!("writing {}", args.output))?;
    println!("wrote {} metric values to {}", rows.len(), args.output);
    Ok(())
}
