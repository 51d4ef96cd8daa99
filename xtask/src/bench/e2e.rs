//! `cargo xtask bench e2e`: the whole evaluation against the Python way, in one run.
//!
//! A TinySOL-layout dataset of 1,022 notes (14 instruments x 73, rendered once under
//! `target/bench-e2e/`) is evaluated by this optimised `mir-ref` cold (a fresh run directory)
//! and cached (the same run again), and by `xtask/bench/python_way.py` (librosa,
//! audiomentations, scikit-learn, from a venv the bench makes), alternately: two tasks, a
//! linear and an MLP probe, clean test audio and white noise at two SNRs, 1,000-resample
//! intervals and our report included. Prints wall and CPU seconds, their ratio and the
//! accuracies side by side.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use mir_table::{RunLayout, TableKind, TableStore};

use crate::chores::project_root;

/// Notes per instrument: 14 x 73 = 1,022 notes.
const NOTES: usize = 73;
/// The white-noise SNRs of the test audio, in dB.
const SNRS: [u32; 2] = [20, 10];

/// The measured times of one process: wall and CPU (user + system) seconds.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall_s: f64,
    cpu_s: f64,
}

/// Runs the comparison `rounds` times (alternating the three runs) and prints the medians.
pub fn run(rounds: usize) -> Result<()> {
    let work = project_root().join("target/bench-e2e");
    let root = work.join("tinysol");
    if !root.join(mir_datasets::tinysol::METADATA).is_file() {
        let n = mir_datasets::fixtures::tinysol(&root, NOTES)?;
        println!("rendered {n} notes into {}", root.display());
    }
    let config = work.join("e2e.yml");
    std::fs::write(&config, config_yaml(&root))?;
    let mir_ref = std::env::current_exe()?;
    let python = super::python()?;
    let script = super::script("python_way.py");
    let (mut cold, mut cached, mut py) = (Vec::new(), Vec::new(), Vec::new());
    let mut stages = String::new();
    for _ in 0..rounds.max(1) {
        let run_dir = work.join("run");
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir)?;
        }
        let (cost, out) = timed(Command::new(&mir_ref).arg("experiment").arg(&config))?;
        stages = super::stage_lines(&out).join("\n");
        cold.push(cost);
        cached.push(timed(Command::new(&mir_ref).arg("experiment").arg(&config))?.0);
        let mut cmd = Command::new(&python);
        cmd.arg(&script).arg(&root).arg(work.join("python.json"));
        cmd.args(SNRS.map(|s| s.to_string()));
        py.push(timed(&mut cmd)?.0);
    }
    let (cold, cached, py) = (median(&cold), median(&cached), median(&py));
    println!(
        "TinySOL layout, {} notes, 2 tasks x 2 probes x 3 conditions, median of {}",
        14 * NOTES,
        rounds.max(1)
    );
    println!("{:<28} {:>8} {:>8}", "", "wall s", "CPU s");
    for (name, c) in [
        ("mir-ref cold", cold),
        ("mir-ref cached", cached),
        ("Python way", py),
    ] {
        println!("{name:<28} {:>8.2} {:>8.2}", c.wall_s, c.cpu_s);
    }
    println!(
        "cold / Python way: {:.3} (wall), {:.3} (CPU); cached / cold: {:.1}%",
        cold.wall_s / py.wall_s,
        cold.cpu_s / py.cpu_s,
        100.0 * cached.wall_s / cold.wall_s
    );
    println!("\nmir-ref cold, by stage:\n{stages}\n");
    print_accuracies(&work.join("run"), &work.join("python.json"))
}

/// The experiment: the fixture, white noise at [`SNRS`], log-mel, a linear and an adaptive
/// MLP probe as in the quickstart, 1,000 bootstrap resamples, the default report.
fn config_yaml(root: &Path) -> String {
    let noise: String = SNRS
        .iter()
        .map(|s| format!("  white_noise_{s}db: {{steps: [{{type: white_noise, snr_db: {s}}}]}}\n"))
        .collect();
    format!(
        "name: bench-e2e\nseed: 42\noutput: run\n\
         datasets:\n  tinysol: {{type: tinysol, root: {}, tasks: [instrument, pitch_class]}}\n\
         deformations:\n{noise}\
         models:\n  logmel: {{type: logmel}}\n\
         probes:\n\
         \x20 linear: {{type: linear, epochs: 200, learning_rate: 0.003, batch_size: 16, patience: 30}}\n\
         \x20 mlp: {{type: mlp, adaptive: infer, hidden_layers: 1, epochs: 200, \
         learning_rate: 0.001, batch_size: 16, patience: 30}}\n\
         seeds: [0]\nevaluation: {{bootstrap: 1000}}\n",
        root.display()
    )
}

/// Runs `cmd` to completion (its output captured): its cost and its standard output.
fn timed(cmd: &mut Command) -> Result<(Cost, String)> {
    let cpu = children_cpu_s()?;
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let wall_s = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cost = Cost {
        wall_s,
        cpu_s: children_cpu_s()? - cpu,
    };
    Ok((cost, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// User and system seconds of this process's finished children (`cutime` and `cstime` of
/// `/proc/self/stat`, in clock ticks of 1/100 s).
fn children_cpu_s() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        let v = fields.get(i).context("short /proc/self/stat")?;
        Ok(v.parse::<f64>()? / 100.0)
    };
    Ok(tick(13)? + tick(14)?)
}

fn median(costs: &[Cost]) -> Cost {
    let pick = |f: fn(&Cost) -> f64| super::median(&costs.iter().map(f).collect::<Vec<_>>());
    Cost {
        wall_s: pick(|c| c.wall_s),
        cpu_s: pick(|c| c.cpu_s),
    }
}

/// Our accuracy with its interval beside the Python way's, per task, probe and condition.
fn print_accuracies(run: &Path, python_json: &Path) -> Result<()> {
    let store = TableStore::open(&run.to_string_lossy())?;
    let table = tokio::runtime::Runtime::new()?
        .block_on(store.read(RunLayout::METRICS, TableKind::Metrics))?;
    let ours: BTreeMap<(String, String, String), (f64, f64, f64)> =
        mir_table::read_metrics(&table)?
            .into_iter()
            .filter(|r| r.metric == "accuracy")
            .map(|r| {
                let k = (r.task, r.probe, r.deformation);
                (
                    k,
                    (
                        r.value,
                        r.ci_low.unwrap_or(f64::NAN),
                        r.ci_high.unwrap_or(f64::NAN),
                    ),
                )
            })
            .collect();
    let py: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(python_json)?)?;
    println!(
        "\n{:<12} {:<7} {:<18} {:>22} {:>22}",
        "task", "probe", "condition", "mir-ref accuracy", "Python way accuracy"
    );
    for r in py["results"]
        .as_array()
        .context("python.json has no results")?
    {
        let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        let condition = text("condition");
        let key = (text("task"), text("probe"), condition.clone());
        let interval = |v: f64, lo: f64, hi: f64| format!("{v:.3} [{lo:.3}, {hi:.3}]");
        let mine = ours
            .get(&key)
            .map_or("-".into(), |&(v, lo, hi)| interval(v, lo, hi));
        let ci = &r["accuracy_interval"];
        let theirs = interval(
            r["accuracy"].as_f64().unwrap_or(f64::NAN),
            ci[0].as_f64().unwrap_or(f64::NAN),
            ci[1].as_f64().unwrap_or(f64::NAN),
        );
        println!(
            "{:<12} {:<7} {condition:<18} {mine:>22} {theirs:>22}",
            key.0, key.1
        );
    }
    Ok(())
}
