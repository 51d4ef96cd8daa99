//! Additive noise at a signal-to-noise ratio: Gaussian white noise and background recordings.

use std::path::PathBuf;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Error, Result, check_finite, files};

/// Gaussian white noise at a signal-to-noise ratio, the noise RMS set from the signal's RMS over
/// all channels (audiomentations' `AddGaussianSNR`). Each channel gets its own noise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhiteNoise {
    /// Target SNR in dB.
    pub snr_db: f32,
}

impl Deformation for WhiteNoise {
    fn name(&self) -> &'static str {
        "white_noise"
    }

    fn validate(&self) -> Result<()> {
        check_finite(self.name(), "snr_db", self.snr_db)
    }

    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let noise_rms = audio.rms() / amplitude_ratio(self.snr_db);
        for channel in &mut audio.channels {
            for s in channel.iter_mut() {
                let z: f64 = rng.sample(StandardNormal);
                *s += (z * noise_rms) as f32;
            }
        }
        Ok(())
    }
}

/// Background noise from a recording, at a signal-to-noise ratio (audiomentations'
/// `AddBackgroundNoise`).
///
/// `sounds_path` is one audio file or a folder searched recursively for audio files. Per track,
/// one file is drawn, decoded, mixed to mono and resampled to the track's rate; a segment of the
/// track's length starts at a random offset (a shorter recording is repeated, from a random
/// offset), is scaled to the
/// SNR against the signal's RMS, and is added to every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackgroundNoise {
    /// A noise file, or a folder of them.
    pub sounds_path: PathBuf,
    /// Target SNR in dB.
    pub snr_db: f32,
}

impl Deformation for BackgroundNoise {
    fn name(&self) -> &'static str {
        "background_noise"
    }

    fn validate(&self) -> Result<()> {
        check_finite(self.name(), "snr_db", self.snr_db)?;
        files::list(&self.sounds_path).map(drop)
    }

    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()> {
        check_finite(self.name(), "snr_db", self.snr_db)?;
        let candidates = files::list(&self.sounds_path)?;
        let path = &candidates[rng.random_range(0..candidates.len())];
        let noise = files::load_mono(path, audio.sample_rate_hz)?;
        if noise.is_empty() {
            return Err(Error::UnusableRecording {
                path: path.clone(),
                reason: "the recording holds no samples".into(),
            });
        }
        let n = audio.frames();
        // A longer recording starts anywhere it still covers the track; a shorter one is
        // repeated from anywhere in it.
        let start = if noise.len() > n {
            rng.random_range(0..=noise.len() - n)
        } else {
            rng.random_range(0..noise.len())
        };
        let segment: Vec<f32> = noise.iter().copied().cycle().skip(start).take(n).collect();
        let segment_rms = crate::rms(&segment);
        if segment_rms == 0.0 {
            return Err(Error::UnusableRecording {
                path: path.clone(),
                reason: "the recording is silent where it was drawn".into(),
            });
        }
        let gain = (audio.rms() / amplitude_ratio(self.snr_db) / segment_rms) as f32;
        for channel in &mut audio.channels {
            for (s, &v) in channel.iter_mut().zip(&segment) {
                *s += v * gain;
            }
        }
        Ok(())
    }
}

/// Signal-to-noise amplitude ratio of an SNR in dB.
fn amplitude_ratio(snr_db: f32) -> f64 {
    10f64.powf(f64::from(snr_db) / 20.0)
}
