//! `cargo xtask bench scale`: the cost of a run as the dataset grows. A generated class-folder
//! dataset of 10 classes (2 s tracks at 22.05 kHz, each class a chord of its own with noise)
//! is evaluated cold at each size, as the same experiment (log-mel, a linear probe, clean and
//! white noise at 20 dB, 1,000-resample intervals, the report); prints wall seconds per track
//! and each stage's seconds and peak memory.

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

/// Runs the experiment at each of `sizes` (tracks) and prints the table.
pub fn run(sizes: &[usize]) -> Result<()> {
    let work = project_root().join("target/bench-scale");
    let mir_ref = std::env::current_exe()?;
    let mut table = String::from(
        "| tracks | wall s | ms per track | stages: seconds (peak MB) |\n|---|---|---|---|\n",
    );
    for &n in sizes {
        let root = work.join(format!("data-{n}"));
        if !root.join("done").is_file() {
            render(&root, n)?;
        }
        let config = work.join(format!("scale-{n}.yml"));
        std::fs::write(&config, config_yaml(&root, n))?;
        let run_dir = work.join(format!("run-{n}"));
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir)?;
        }
        let start = Instant::now();
        let out = Command::new(&mir_ref)
            .arg("experiment")
            .arg(&config)
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
        writeln!(
            table,
            "| {n} | {wall:.1} | {:.2} | {stages} |",
            1000.0 * wall / n as f64
        )?;
        eprintln!("{n} tracks: {wall:.1} s");
    }
    print!("{table}");
    Ok(())
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
