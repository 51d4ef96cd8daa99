//! The benchmarks that race the Python way on the same files in the same run, `bench e2e`
//! (the whole evaluation) and `bench decode_resample` (decoding and resampling), and `bench
//! scale` (a run's cost as the dataset grows). They run in an optimised build (a debug `cargo
//! xtask` hands them to `cargo run --release`); the Python comes from a venv in mir-ref's
//! cache, made the first time.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

use crate::chores::{pip_install, project_root};

pub mod decode;
pub mod e2e;
pub mod scale;

/// Runs `bench ARGS` in an optimised build: here when this is one, else through `cargo run
/// --release`. Returns whether it ran here (`false`: the release build did it).
pub fn in_release(args: &[String]) -> Result<bool> {
    if !cfg!(debug_assertions) {
        return Ok(true);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(project_root())
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "xtask",
            "--bin",
            "mir-ref",
            "--",
        ])
        .arg("bench")
        .args(args)
        .status()?;
    if !status.success() {
        bail!(
            "`cargo run --release -p xtask -- bench {}` failed",
            args.join(" ")
        );
    }
    Ok(false)
}

/// The Python of `bench-venv` in mir-ref's cache, with librosa, audiomentations and
/// scikit-learn (pip installed the first time).
pub fn python() -> Result<PathBuf> {
    let venv = mir_embed::onnx::runtime::cache_dir().join("bench-venv");
    let python = venv.join("bin").join("python");
    let ready = || {
        Command::new(&python)
            .args(["-c", "import librosa, audiomentations, sklearn"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready() {
        pip_install(&venv, &["librosa", "audiomentations", "scikit-learn"]);
    }
    if !ready() {
        bail!(
            "the bench's venv {} lacks librosa, audiomentations or scikit-learn",
            venv.display()
        );
    }
    Ok(python)
}

/// A bench script of `xtask/bench/`.
pub fn script(name: &str) -> PathBuf {
    project_root().join("xtask/bench").join(name)
}

/// The table of stages (time and peak memory of each, header and total included) a run
/// prints on its standard output.
pub fn stage_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("| stage |"))
        .take_while(|l| l.starts_with('|'))
        .collect()
}

/// The median of `values`.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
