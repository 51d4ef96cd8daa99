//! Renders a tagging dataset's fixture at scale, for timing the pipeline on a realistic
//! number of full-length files:
//!
//! ```text
//! cargo run -p mir-datasets --example render_fixture -- mtg_jamendo OUT 1000 30
//! ```
//!
//! Arguments: the dataset (`mtg_jamendo`, `magnatagatune` (tracks = clips per folder) or
//! `fma` (tracks = small tracks per genre)), the output folder, the number of tracks and their
//! length in seconds.

use std::path::PathBuf;
use std::time::Instant;

use mir_datasets::fixtures;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dataset, out, tracks, seconds] = args.as_slice() else {
        return Err("usage: render_fixture DATASET OUT TRACKS SECONDS".into());
    };
    let (out, tracks, seconds) = (PathBuf::from(out), tracks.parse()?, seconds.parse()?);
    let start = Instant::now();
    let written = match dataset.as_str() {
        "mtg_jamendo" => fixtures::mtg_jamendo(&out, tracks, seconds)?,
        "magnatagatune" => fixtures::magnatagatune(&out, tracks, seconds)?,
        "fma" => fixtures::fma(&out, tracks, seconds)?,
        other => return Err(format!("unknown dataset `{other}`").into()),
    };
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{dataset}: {written} tracks of {seconds} s in {} ({elapsed:.1} s)",
        out.display()
    );
    Ok(())
}
