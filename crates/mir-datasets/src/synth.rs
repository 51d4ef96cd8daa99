//! A synthetic instrument dataset rendered with fundsp: the quickstart's and the tests' fixture.
//!
//! Four instruments that differ in spectrum and envelope (a breathy flute-like sine, a
//! low-passed brass-like saw, a clarinet-like odd-harmonic square, a decaying mallet with an
//! inharmonic partial), each playing the twelve pitch classes in several octaves. Rendering is
//! deterministic: the same parameters give byte-identical files.

use std::io::Write;
use std::path::Path;

use crate::audio::{Audio, write_wav};
use crate::{Error, Result};

/// The instruments, in label order.
pub const INSTRUMENTS: [&str; 4] = ["brass", "flute", "mallet", "reed"];
/// Pitch class names (sharps).
pub const PITCH_CLASSES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// Parameters of the synthetic dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthConfig {
    /// Octaves each pitch class is played in (one file per octave), starting at octave 2.
    pub variants: u32,
    /// Note length in seconds.
    pub duration_s: f32,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            variants: 5,
            duration_s: 1.0,
            sample_rate_hz: 22_050,
        }
    }
}

/// Renders the dataset into `root`: `audio/<instrument>/<instrument>-<pitch><octave>.wav` and
/// `metadata.csv` (`path,instrument,pitch_class,octave,midi`). Returns the number of files.
///
/// Files are first written into `root` with a `.partial` suffix on the metadata, which is renamed
/// last, so an interrupted render is detected (no `metadata.csv`) and redone.
pub fn render(root: &Path, config: &SynthConfig) -> Result<usize> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let mut rows = Vec::new();
    for (k, instrument) in INSTRUMENTS.iter().enumerate() {
        let dir = root.join("audio").join(instrument);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for v in 0..config.variants {
            let octave = 2 + v as i32;
            for (pc, name) in PITCH_CLASSES.iter().enumerate() {
                let midi = 12 * (octave + 1) + pc as i32;
                let file = format!("{instrument}-{}{octave}.wav", name.replace('#', "s"));
                let rel = format!("audio/{instrument}/{file}");
                let samples = note(k, midi, config);
                write_wav(
                    &dir.join(&file),
                    &Audio {
                        samples,
                        sample_rate_hz: config.sample_rate_hz,
                    },
                )?;
                rows.push(format!("{rel},{instrument},{name},{octave},{midi}"));
            }
        }
    }
    let partial = root.join("metadata.csv.partial");
    let mut f = std::fs::File::create(&partial).map_err(io(&partial))?;
    writeln!(f, "path,instrument,pitch_class,octave,midi").map_err(io(&partial))?;
    for row in &rows {
        writeln!(f, "{row}").map_err(io(&partial))?;
    }
    f.sync_all().map_err(io(&partial))?;
    let final_path = root.join("metadata.csv");
    std::fs::rename(&partial, &final_path).map_err(io(&final_path))?;
    Ok(rows.len())
}

/// Renders one note of instrument `k` at MIDI pitch `midi`.
fn note(k: usize, midi: i32, config: &SynthConfig) -> Vec<f32> {
    use fundsp_prelude::*;
    let sr = f64::from(config.sample_rate_hz);
    let f0 = 440.0 * 2f32.powf((midi - 69) as f32 / 12.0);
    let mut unit: Box<dyn AudioUnit> = match k {
        0 => Box::new(saw_hz(f0) >> lowpass_hz((f0 * 6.0).min(8000.0), 0.9)),
        1 => Box::new(
            sine_hz(f0) * 0.9
                + sine_hz(2.0 * f0) * 0.08
                + (noise() >> bandpass_hz(f0 * 2.0, 2.0)) * 0.05,
        ),
        2 => Box::new(triangle_hz(f0) * 0.7 + sine_hz(f0 * 2.76) * 0.3 + sine_hz(f0 * 5.4) * 0.1),
        _ => Box::new(square_hz(f0) >> lowpass_hz(3000.0, 1.2)),
    };
    unit.set_sample_rate(sr);
    let n = (config.duration_s * config.sample_rate_hz as f32) as usize;
    // (attack s, decay rate 1/s, sustain level, release s)
    // Envelopes differ in ways that do not move with pitch: brass swells, the flute has a
    // 5 Hz tremolo, the mallet decays to silence, the reed holds steady.
    let (attack, decay, sustain, release) = match k {
        0 => (0.08, 0.0, 0.6, 0.08),
        1 => (0.15, 1.0, 0.9, 0.15),
        2 => (0.003, 6.0, 0.0, 0.02),
        _ => (0.01, 2.0, 0.95, 0.03),
    };
    // Loudness varies from file to file, and every "recording" has a white noise floor between
    // 60 and 30 dB below the note, as real recordings do: without one, empty bands sit at the
    // log-mel floor and any added noise looks like a different instrument.
    let variant = (midi as usize * 7 + k * 3) % 4;
    let gain = 0.35 + 0.1 * variant as f32;
    let floor_gain =
        gain * 10f32.powf(-(30.0 + 10.0 * ((midi as usize * 5 + k) % 4) as f32) / 20.0);
    let mut floor = noise().seed((k as u64) << 8 | midi as u64);
    floor.set_sample_rate(sr);
    (0..n)
        .map(|i| {
            let t = i as f32 / config.sample_rate_hz as f32;
            let mut env = if t < attack {
                t / attack
            } else {
                sustain + (1.0 - sustain) * (-(t - attack) * decay).exp()
            };
            match k {
                0 => env *= 0.6 + 0.4 * t / config.duration_s,
                1 => env *= 1.0 - 0.3 * (0.5 + 0.5 * (2.0 * std::f32::consts::PI * 5.0 * t).sin()),
                _ => {}
            }
            let until_end = config.duration_s - t;
            if until_end < release {
                env *= until_end / release;
            }
            unit.get_mono() * env * gain + floor.get_mono() * floor_gain
        })
        .collect()
}

/// fundsp's prelude shadows common names; keep its glob import in this module alone.
mod fundsp_prelude {
    pub use fundsp::prelude32::*;
}
