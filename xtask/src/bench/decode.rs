//! `cargo xtask bench decode_resample`: decoding to 22.05 kHz mono, ours against librosa's
//! `load(sr=22050)` (libsndfile, then soxr's high-quality resampler), on the same 60 s of
//! 44.1 kHz stereo music-like audio as 16-bit WAV and 192 kbps MP3, in the same run, one
//! thread each.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::chores::project_root;

/// Seconds of audio in each file.
const SECONDS: u32 = 60;
/// Timed runs of each (after an untimed one); the median is printed.
const RUNS: usize = 7;

/// Renders the files once under `target/bench-decode/`, times both sides and prints their
/// speeds in multiples of real time and our ratio to librosa.
pub fn run() -> Result<()> {
    let dir = project_root().join("target/bench-decode");
    let files = match (dir.join("music.wav"), dir.join("music.mp3")) {
        (w, m) if w.is_file() && m.is_file() => [w, m],
        _ => mir_datasets::fixtures::stereo_music(&dir, SECONDS)?,
    };
    let python = super::python()?;
    let out = Command::new(&python)
        .arg(super::script("librosa_load.py"))
        .arg(RUNS.to_string())
        .args(&files)
        .output()
        .context("running librosa_load.py")?;
    if !out.status.success() {
        bail!(
            "librosa_load.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let librosa: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    println!(
        "{SECONDS} s of 44.1 kHz stereo to mono, one thread, median of {RUNS}; librosa {}, \
         libsndfile {}, soxr {}",
        librosa["versions"]["librosa"].as_str().unwrap_or("?"),
        librosa["versions"]["libsndfile"].as_str().unwrap_or("?"),
        librosa["versions"]["soxr"].as_str().unwrap_or("?"),
    );
    println!(
        "{:<6} {:<16} {:>10} {:>10} {:>8}",
        "file", "to", "mir-ref x", "librosa x", "ratio"
    );
    for path in &files {
        let theirs = &librosa[path.to_string_lossy().as_ref()];
        for (to, rate, key) in [
            ("22,050 Hz", Some(22_050), "resampled_s"),
            ("native rate", None, "native_s"),
        ] {
            let ours = time_load(path, rate)?;
            let librosa_s = theirs[key].as_f64().context("librosa_load.py's output")?;
            let x = |s: f64| f64::from(SECONDS) / s;
            println!(
                "{:<6} {to:<16} {:>10.0} {:>10.0} {:>8.2}",
                path.extension().and_then(|e| e.to_str()).unwrap_or("?"),
                x(ours),
                x(librosa_s),
                librosa_s / ours
            );
        }
    }
    Ok(())
}

/// The median seconds of `mir_audio::load(path, rate)`.
fn time_load(path: &Path, rate: Option<u32>) -> Result<f64> {
    mir_audio::load(path, rate)?;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(mir_audio::load(path, rate)?);
        times.push(start.elapsed().as_secs_f64());
    }
    Ok(super::median(&times))
}
