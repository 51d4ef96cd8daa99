//! Seeded, measured audio deformations for robustness evaluation.
//!
//! Reads and writes no table: it works on planar `f32` audio ([`Audio`], mono or multichannel)
//! at the track's own sample rate, on the way from the decoder to the embedding model. It knows
//! nothing about datasets, models or the pipeline; the only files it reads are the ones a
//! deformation names (impulse responses, background noise).
//!
//! Each deformation is a small struct deserialised from the experiment config, with parameters
//! named as in audiomentations (`snr_db`, `gain_db`, `bitrate`, `percentile_threshold`,
//! `semitones`, `rate`, `cutoff_frequency`, `rolloff`, `ir_path`, `sounds_path`), and implements
//! [`Deformation`]. A [`Scenario`] is an ordered chain of them ([`Step`]s).
//!
//! The key design decision is where randomness comes from: only from
//! [`scenario_rng`]`(experiment seed, scenario name, track_id)`. A rerun, on any machine and in
//! any track order or thread count, gives bit-identical audio, so a robustness number can be
//! reproduced and the deformed audio the report plays is the audio the model saw.
//!
//! Every deformation is checked by a test that measures it on generated signals (the SNR it
//! claims, the pitch it claims, the slope it claims), not by reading the code.
//!
//! ```
//! use mir_deform::{Audio, Scenario, Step, apply};
//! use mir_deform::noise::WhiteNoise;
//!
//! let scenario = Scenario::new(vec![Step::WhiteNoise(WhiteNoise { snr_db: 20.0 })]);
//! let mut audio = Audio::mono(vec![0.5_f32; 22_050], 22_050);
//! apply(&scenario, "white_noise_20", 42, "flute/A4", &mut audio).unwrap();
//! assert_ne!(audio.channels[0][0], 0.5);
//! ```

use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod files;
pub mod filter;
pub mod level;
pub mod mp3;
pub mod noise;
pub mod pitch;
pub mod reverb;
pub mod spec;

/// Errors of deformations.
///
/// [`Error::InvalidParameter`] comes from the config and ends the run (it is also reported by
/// [`Scenario::validate`] before any audio is touched). The others concern one track or one
/// file a deformation reads, and a caller may record them and skip the track.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of range.
    #[error("deformation `{step}`: {reason}")]
    InvalidParameter {
        /// The step's name.
        step: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file a deformation reads (impulse response, background noise) cannot be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file or an in-memory stream (`<mp3 round trip>`) cannot be decoded or resampled.
    #[error(transparent)]
    Audio(#[from] mir_audio::Error),
    /// A noise recording decodes but cannot serve (no samples, or silent where it was drawn).
    #[error("noise recording `{}`: {reason}", path.display())]
    UnusableRecording {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A folder of audio files holds none.
    #[error("`{path}` holds no audio file (looked for {extensions})")]
    NoAudioFiles {
        /// The folder.
        path: PathBuf,
        /// The extensions looked for.
        extensions: String,
    },
    /// The MP3 encoder failed.
    #[error("MP3 encoder: {0}")]
    Encode(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Planar audio: one `Vec<f32>` per channel, all of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples per channel, nominally in `[-1, 1]`.
    pub channels: Vec<Vec<f32>>,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

impl Audio {
    /// One channel.
    pub fn mono(samples: Vec<f32>, sample_rate_hz: u32) -> Self {
        Self {
            channels: vec![samples],
            sample_rate_hz,
        }
    }

    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate_hz)
    }

    /// The mean of the channels.
    pub fn into_mono(mut self) -> Vec<f32> {
        if self.channels.len() <= 1 {
            return self.channels.pop().unwrap_or_default();
        }
        let scale = 1.0 / self.channels.len() as f32;
        (0..self.frames())
            .map(|i| self.channels.iter().map(|c| c[i]).sum::<f32>() * scale)
            .collect()
    }

    /// Root mean square over all channels, accumulated in f64.
    pub fn rms(&self) -> f64 {
        let n: usize = self.channels.iter().map(Vec::len).sum();
        if n == 0 {
            return 0.0;
        }
        let energy: f64 = self.channels.iter().map(|c| energy(c)).sum();
        (energy / n as f64).sqrt()
    }
}

/// A deformation: the extension point of this crate.
///
/// Implementations describe themselves ([`Deformation::name`]), check their parameters once
/// before any audio is touched ([`Deformation::validate`]), and draw any randomness they need
/// from the generator they are given, never from elsewhere.
pub trait Deformation {
    /// The name of the step in configs (`white_noise`).
    fn name(&self) -> &'static str;

    /// Checks the parameters that do not depend on the audio.
    fn validate(&self) -> Result<()>;

    /// Deforms `audio` in place. The length may change only where the deformation says so
    /// (time stretch).
    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()>;
}

/// Reads a value as a given type: see [`Step::read_variant`].
pub trait VariantReader {
    /// What reading gives.
    type Output;
    /// Reads the value as `T`.
    fn read<T: serde::de::DeserializeOwned>(self) -> Self::Output;
}

macro_rules! steps {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) = $name:literal,)*) => {
        /// One deformation with its parameters, as written in the experiment config
        /// (`{type: white_noise, snr_db: 20}`).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Step {
            $($(#[$doc])* $variant($ty),)*
        }

        impl Step {
            /// The names of all steps, as written in configs.
            pub const NAMES: &[&str] = &[$($name),*];

            /// Reads the parameters of the step named `tag` as that step's own struct, with
            /// `reader`; `None` for an unknown name. Callers that deserialise a config node by
            /// node use it to report errors with the full key path, which serde's buffering of
            /// `type`-tagged enums loses.
            pub fn read_variant<R: VariantReader>(tag: &str, reader: R) -> Option<R::Output> {
                match tag {
                    $($name => Some(reader.read::<$ty>()),)*
                    _ => None,
                }
            }

            fn inner(&self) -> &dyn Deformation {
                match self {
                    $(Step::$variant(d) => d,)*
                }
            }
        }
    };
}

steps! {
    /// See [`noise::WhiteNoise`].
    WhiteNoise(noise::WhiteNoise) = "white_noise",
    /// See [`noise::BackgroundNoise`].
    BackgroundNoise(noise::BackgroundNoise) = "background_noise",
    /// See [`level::Gain`].
    Gain(level::Gain) = "gain",
    /// See [`level::Clipping`].
    Clipping(level::Clipping) = "clipping",
    /// See [`mp3::Mp3`].
    Mp3(mp3::Mp3) = "mp3",
    /// See [`pitch::PitchShift`].
    PitchShift(pitch::PitchShift) = "pitch_shift",
    /// See [`pitch::TimeStretch`].
    TimeStretch(pitch::TimeStretch) = "time_stretch",
    /// See [`filter::LowPass`].
    LowPass(filter::LowPass) = "low_pass",
    /// See [`filter::HighPass`].
    HighPass(filter::HighPass) = "high_pass",
    /// See [`filter::BandPass`].
    BandPass(filter::BandPass) = "band_pass",
    /// See [`reverb::ImpulseResponse`].
    ImpulseResponse(reverb::ImpulseResponse) = "impulse_response",
    /// See [`reverb::RoomReverb`].
    RoomReverb(reverb::RoomReverb) = "room_reverb",
}

impl Deformation for Step {
    fn name(&self) -> &'static str {
        self.inner().name()
    }

    fn validate(&self) -> Result<()> {
        self.inner().validate()
    }

    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()> {
        self.inner().apply(audio, rng)
    }
}

/// An ordered chain of deformations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Steps, applied in order.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// A scenario of these steps.
    pub fn new(steps: Vec<Step>) -> Self {
        Self { steps }
    }

    /// The files and folders the steps read (noise recordings, impulse responses), for a
    /// caller that resolves relative paths against the config they were written in.
    pub fn paths_mut(&mut self) -> Vec<&mut std::path::PathBuf> {
        self.steps
            .iter_mut()
            .filter_map(|s| match s {
                Step::BackgroundNoise(n) => Some(&mut n.sounds_path),
                Step::ImpulseResponse(r) => Some(&mut r.ir_path),
                _ => None,
            })
            .collect()
    }

    /// Checks every step's parameters; the error carries the index of the failing step.
    pub fn validate(&self) -> Result<(), (usize, Error)> {
        self.steps
            .iter()
            .enumerate()
            .try_for_each(|(i, s)| s.validate().map_err(|e| (i, e)))
    }
}

/// The random generator of one (experiment seed, scenario, track): the only source of
/// randomness for that track's deformation.
pub fn scenario_rng(seed: u64, scenario: &str, track_id: &str) -> ChaCha8Rng {
    let mut h = Sha256::new();
    for part in [
        &seed.to_le_bytes()[..],
        scenario.as_bytes(),
        &[0],
        track_id.as_bytes(),
    ] {
        h.update(part);
    }
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// Applies `scenario` to one track's audio in place.
pub fn apply(
    scenario: &Scenario,
    scenario_name: &str,
    seed: u64,
    track_id: &str,
    audio: &mut Audio,
) -> Result<()> {
    let mut rng = scenario_rng(seed, scenario_name, track_id);
    for step in &scenario.steps {
        step.apply(audio, &mut rng)?;
    }
    Ok(())
}

/// Root mean square of one channel, accumulated in f64.
pub fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (energy(samples) / samples.len() as f64).sqrt()
}

fn energy(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}

fn invalid(step: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidParameter {
        step,
        reason: reason.into(),
    }
}

fn check_finite(step: &'static str, key: &str, value: f32) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(invalid(step, format!("`{key}` must be a finite number")))
    }
}

fn check_positive(step: &'static str, key: &str, value: f32) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(invalid(step, format!("`{key}` must be > 0, got {value}")))
    }
}
