//! `cargo xtask bench bridge`: what the Python bridge itself costs. The quickstart is run with
//! a HEAR module that returns zeros at once (`fixtures/hear/zeros.py`) and with the built-in
//! log-mel alone, cold (a fresh run directory each time), alternately, in one process.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use mir_embed::ModelConfig;
use mir_embed::python::PythonConfig;
use mir_table::TableStore;

use crate::chores::project_root;
use crate::{ExperimentConfig, RunOptions};

/// Median wall seconds of `runs` cold quickstart runs with each model, and their ratio.
#[derive(Debug)]
pub struct Overhead {
    /// The built-in log-mel.
    pub logmel_s: f64,
    /// The zeros HEAR module through the bridge.
    pub bridge_s: f64,
}

/// Runs the comparison with the Python at `python` (numpy and pyarrow installed there).
pub fn measure(python: &Path, runs: usize) -> Result<Overhead> {
    let quickstart = project_root().join("configs/quickstart.yml");
    let base = crate::config::load(&quickstart)?;
    let mut logmel = base.clone();
    logmel.models.retain(|name, _| name == "logmel");
    let mut bridge = base;
    let module = project_root().join("fixtures/hear/zeros.py");
    let zeros = PythonConfig {
        python: python.to_path_buf(),
        ..PythonConfig::new(module)
    };
    bridge.models = [("zeros".to_string(), ModelConfig::Hear(zeros))].into();
    bridge.model_layers = [("zeros".to_string(), vec!["scene".to_string()])].into();
    // The first run renders the fixture if needed; it is not timed.
    timed(&logmel)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        a.push(timed(&logmel)?);
        b.push(timed(&bridge)?);
    }
    Ok(Overhead {
        logmel_s: median(&mut a),
        bridge_s: median(&mut b),
    })
}

/// One cold run of `config` into a fresh temporary folder: its wall seconds.
fn timed(config: &ExperimentConfig) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let store = TableStore::open(&dir.path().to_string_lossy())?;
    let start = Instant::now();
    crate::experiment_in(config, &store, &RunOptions::default())
        .with_context(|| format!("running the quickstart with {:?}", config.models.keys()))?;
    Ok(start.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
