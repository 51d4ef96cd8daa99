//! `cargo xtask bench scale`: the cost of a run as the dataset grows. A generated class-folder
//! dataset of 10 classes (2 s tracks at 22.05 kHz, each class a chord of its own with noise)
//! is evaluated cold at each size, as the same experiment (log-mel, a linear probe, clean and
//! white noise at 20 dB, 1,000-resample intervals, the report), a few rounds; prints each
//! size's median wall seconds per track, its stages' seconds and peak memory, and the spread
//! of the time per track across sizes.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use mir_audio::{Audio, write_wav};

use crate::chores::project_root;

/// Classes of the generated dataset.
const CLASSES: usize = 10;
/// Seconds per track.
const TRACK_S: f32 = 2.0;
/// Sample rate of the generated audio.
const SR: u32 = 22_050;

/// One cold run: its wall seconds and its stages' seconds and peak memory.
struct Measured {
    wall: f64,
    stages: String,
}

/// Runs the experiment at each of `sizes` (tracks), `rounds` times, and prints the table of
/// each size's median run and the spread of its time per track across sizes. The rounds go
/// through every size in turn, so a slow spell of a shared machine falls on all sizes alike.
pub fn run(sizes: &[usize], rounds: usize) -> Result<()> {
    let work = project_root().join("target/bench-scale");
    let mut configs = Vec::new();
    for &n in sizes {
        let root = work.join(format!("data-{n}"));
        if !root.join("done").is_file() {
            render(&root, n)?;
        }
        let config = work.join(format!("scale-{n}.yml"));
        std::fs::write(&config, config_yaml(&root, n))?;
        configs.push((n, config, work.join(format!("run-{n}"))));
    }
    let mut runs: Vec<Vec<Measured>> = sizes.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds.max(1) {
        for ((n, config, run_dir), runs) in configs.iter().zip(&mut runs) {
            let m = run_once(*n, config, run_dir)?;
            eprintln!("round {round}, {n} tracks: {:.1} s", m.wall);
            runs.push(m);
        }
    }
    print!("{}", table(sizes, runs)?);
    Ok(())
}

/// The table of each size's median run (by wall time) with the range of its rounds, and the
/// spread of the medians' time per track.
fn table(sizes: &[usize], mut runs: Vec<Vec<Measured>>) -> Result<String> {
    let rounds = runs.first().map_or(0, Vec::len);
    let mut out = format!(
        "Median of {rounds} cold runs per size (fastest-slowest in brackets):\n\n\
         | tracks | wall s | ms per track | stages: seconds (peak MB) |\n|---|---|---|---|\n"
    );
    let mut per_track = Vec::new();
    for (&n, runs) in sizes.iter().zip(&mut runs) {
        runs.sort_by(|a, b| a.wall.total_cmp(&b.wall));
        let ms = |m: &Measured| 1000.0 * m.wall / n as f64;
        let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
            continue;
        };
        let median = &runs[runs.len() / 2];
        per_track.push(ms(median));
        writeln!(
            out,
            "| {n} | {:.1} | {:.2} ({:.2}-{:.2}) | {} |",
            median.wall,
            ms(median),
            ms(first),
            ms(last),
            median.stages
        )?;
    }
    let (lo, hi) = (
        per_track.iter().copied().fold(f64::INFINITY, f64::min),
        per_track.iter().copied().fold(0.0, f64::max),
    );
    writeln!(
        out,
        "\nms per track, slowest size / fastest: {:.2}x",
        hi / lo
    )?;
    Ok(out)
}

/// The experiment `config` of `n` tracks, cold (its run directory removed first).
fn run_once(n: usize, config: &Path, run_dir: &Path) -> Result<Measured> {
    if run_dir.exists() {
        std::fs::remove_dir_all(run_dir)?;
    }
    // The last run's files are flushed first, or their write-back would slow this one.
    let synced = Command::new("sync").status();
    if !synced.is_ok_and(|s| s.success()) {
        eprintln!("`sync` failed: the disk may still be busy with the last run");
    }
    let start = Instant::now();
    let out = Command::new(std::env::current_exe()?)
        .arg("experiment")
        .arg(config)
        .output()
        .with_context(|| format!("running {}", config.display()))?;
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "the {n}-track run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stages = stages(&String::from_utf8_lossy(&out.stdout));
    Ok(Measured { wall, stages })
}

/// `n` tracks in `root/<class>/<i>.wav`, then a `done` marker.
fn render(root: &Path, n: usize) -> Result<()> {
    if root.exists() {
        std::fs::remove_dir_all(root)?;
    }
    for class in 0..CLASSES {
        std::fs::create_dir_all(root.join(format!("class{class:02}")))?;
    }
    crate::work::map(&(0..n).collect::<Vec<_>>(), crate::work::cores(), |&i| {
        let class = i % CLASSES;
        let path = root.join(format!("class{class:02}/{i:06}.wav"));
        let audio = Audio {
            samples: track(class, i as u64),
            sample_rate_hz: SR,
        };
        write_wav(&path, &audio).map_err(anyhow::Error::from)
    })
    .into_iter()
    .flatten()
    .collect::<Result<()>>()?;
    std::fs::write(root.join("done"), n.to_string())?;
    Ok(())
}

/// A chord of three partials whose root follows the class, detuned per track, with noise.
fn track(class: usize, seed: u64) -> Vec<f32> {
    let n = (TRACK_S * SR as f32) as usize;
    let root = 110.0 * 2f32.powf(class as f32 / CLASSES as f32) * (1.0 + 0.002 * (seed % 7) as f32);
    let steps: Vec<f32> = [1.0, 1.26, 1.5]
        .iter()
        .map(|r| std::f32::consts::TAU * root * r / SR as f32)
        .collect();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let white = (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            let tone: f32 = steps.iter().map(|w| (w * i as f32).sin()).sum();
            0.1 * tone + 0.05 * white
        })
        .collect()
}

fn config_yaml(root: &Path, n: usize) -> String {
    format!(
        "name: bench-scale-{n}\nseed: 0\noutput: run-{n}\n\
         datasets:\n  generated:\n    type: custom\n    root: {}\n    layout: class_folders\n\
         \x20   tasks: {{class: {{type: multiclass, label_column: class}}}}\n\
         deformations:\n  white_noise_20db: {{steps: [{{type: white_noise, snr_db: 20}}]}}\n\
         models:\n  logmel: {{type: logmel}}\n\
         probes:\n  linear: {{type: linear, epochs: 100, learning_rate: 0.003, batch_size: 64, patience: 20}}\n\
         evaluation: {{bootstrap: 1000}}\n",
        root.display()
    )
}

/// `name seconds (peak MB)` of each stage, from the run's table of stages.
fn stages(stdout: &str) -> String {
    (super::stage_lines(stdout).iter().skip(2))
        .filter(|l| !l.starts_with("| total"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells.len() == 3).then(|| format!("{} {} ({})", cells[0], cells[1], cells[2]))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
