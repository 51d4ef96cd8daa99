//! Seeded audio deformations for robustness evaluation.
//!
//! Reads and writes no table: it works on mono `f32` buffers at the track's own sample rate, on
//! the way from the decoder to the embedding model. It knows nothing about files, datasets or
//! models.
//!
//! The key design decision is where randomness comes from: only from
//! [`scenario_rng`]`(experiment seed, scenario name, track_id)`. A rerun, on any machine and in
//! any track order or thread count, gives bit-identical audio, so a robustness number can be
//! reproduced and the deformed audio the report plays is the audio the model saw.
//!
//! ```
//! use mir_deform::{Scenario, Step, WhiteNoise, apply};
//!
//! let scenario = Scenario { steps: vec![Step::WhiteNoise(WhiteNoise { snr_db: 20.0 })] };
//! let mut audio = vec![0.5_f32; 22_050];
//! apply(&scenario, "white_noise_20", 42, "flute/A4", &mut audio, 22_050).unwrap();
//! assert_ne!(audio[0], 0.5);
//! ```

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Errors of deformations. All of them concern one track and may be recorded and skipped.
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
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Gaussian white noise at a signal-to-noise ratio, the noise RMS set from the signal's RMS
/// (as audiomentations' `AddGaussianSNR`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhiteNoise {
    /// Target SNR in dB.
    pub snr_db: f32,
}

/// A gain change (audiomentations' `Gain`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gain {
    /// Gain in dB (negative attenuates).
    pub gain_db: f32,
}

/// One deformation with its parameters, as written in the experiment config
/// (`{type: white_noise, snr_db: 20}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// See [`WhiteNoise`].
    WhiteNoise(WhiteNoise),
    /// See [`Gain`].
    Gain(Gain),
}

impl Step {
    /// The step's name in configs.
    pub fn name(&self) -> &'static str {
        match self {
            Step::WhiteNoise(_) => "white_noise",
            Step::Gain(_) => "gain",
        }
    }

    /// Applies the step in place.
    pub fn apply(
        &self,
        samples: &mut [f32],
        _sample_rate_hz: u32,
        rng: &mut ChaCha8Rng,
    ) -> Result<()> {
        match *self {
            Step::WhiteNoise(WhiteNoise { snr_db }) => {
                if !snr_db.is_finite() {
                    return Err(Error::InvalidParameter {
                        step: self.name(),
                        reason: "snr_db must be finite".into(),
                    });
                }
                let noise_rms = rms(samples) / 10f64.powf(f64::from(snr_db) / 20.0);
                for s in samples.iter_mut() {
                    let z: f64 = rng.sample(StandardNormal);
                    *s += (z * noise_rms) as f32;
                }
            }
            Step::Gain(Gain { gain_db }) => {
                let g = 10f32.powf(gain_db / 20.0);
                samples.iter_mut().for_each(|s| *s *= g);
            }
        }
        Ok(())
    }
}

/// An ordered chain of deformations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Steps, applied in order.
    pub steps: Vec<Step>,
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
    samples: &mut [f32],
    sample_rate_hz: u32,
) -> Result<()> {
    let mut rng = scenario_rng(seed, scenario_name, track_id);
    for step in &scenario.steps {
        step.apply(samples, sample_rate_hz, &mut rng)?;
    }
    Ok(())
}

/// Root mean square, accumulated in f64.
pub fn rms(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.05).sin() * 0.5).collect()
    }

    fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
        let noise: Vec<f32> = noisy.iter().zip(clean).map(|(a, b)| a - b).collect();
        20.0 * (rms(clean) / rms(&noise)).log10()
    }

    #[test]
    fn white_noise_hits_the_requested_snr() {
        for target in [0.0_f32, 10.0, 20.0, 30.0] {
            let clean = sine(200_000);
            let mut noisy = clean.clone();
            let s = Scenario {
                steps: vec![Step::WhiteNoise(WhiteNoise { snr_db: target })],
            };
            apply(&s, "n", 1, "t", &mut noisy, 22_050).unwrap();
            let measured = snr_db(&clean, &noisy);
            assert!(
                (measured - f64::from(target)).abs() < 0.05,
                "target {target} measured {measured}"
            );
        }
    }

    #[test]
    fn same_inputs_same_noise_other_track_other_noise() {
        let s = Scenario {
            steps: vec![Step::WhiteNoise(WhiteNoise { snr_db: 10.0 })],
        };
        let run = |seed, name: &str, track: &str| {
            let mut a = sine(1000);
            apply(&s, name, seed, track, &mut a, 22_050).unwrap();
            a
        };
        assert_eq!(run(1, "n", "t"), run(1, "n", "t"));
        assert_ne!(run(1, "n", "t"), run(1, "n", "u"));
        assert_ne!(run(1, "n", "t"), run(2, "n", "t"));
        assert_ne!(run(1, "n", "t"), run(1, "m", "t"));
    }

    #[test]
    fn gain_scales_rms() {
        let clean = sine(10_000);
        let mut quiet = clean.clone();
        Step::Gain(Gain { gain_db: -6.0 })
            .apply(&mut quiet, 22_050, &mut scenario_rng(0, "", ""))
            .unwrap();
        let ratio_db = 20.0 * (rms(&quiet) / rms(&clean)).log10();
        assert!((ratio_db + 6.0).abs() < 1e-4, "{ratio_db}");
    }

    #[test]
    fn config_parses_and_rejects_unknown_parameters() {
        let s: Scenario =
            serde_json::from_str(r#"{"steps":[{"type":"white_noise","snr_db":15}]}"#).unwrap();
        assert_eq!(s.steps, vec![Step::WhiteNoise(WhiteNoise { snr_db: 15.0 })]);
        let err =
            serde_json::from_str::<Scenario>(r#"{"steps":[{"type":"white_noise","snr":15}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("unknown field `snr`"), "{err}");
    }
}
