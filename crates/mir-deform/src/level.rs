//! Level deformations: gain and clipping distortion.

use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Result, check_finite, invalid};

/// A gain change (audiomentations' `Gain`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gain {
    /// Gain in dB (negative attenuates).
    pub gain_db: f32,
}

impl Deformation for Gain {
    fn name(&self) -> &'static str {
        "gain"
    }

    fn validate(&self) -> Result<()> {
        check_finite(self.name(), "gain_db", self.gain_db)
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let g = 10f64.powf(f64::from(self.gain_db) / 20.0);
        for s in audio.channels.iter_mut().flatten() {
            *s = (f64::from(*s) * g) as f32;
        }
        Ok(())
    }
}

/// Clipping distortion (audiomentations' `ClippingDistortion`): the signal is clipped at the
/// levels that leave `percentile_threshold` percent of all samples outside, half at each end.
///
/// The thresholds are numpy's linear-interpolation percentiles at `p / 2` and `100 - p / 2` of
/// all samples of all channels. (audiomentations truncates `p / 2` to an integer; we do not.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clipping {
    /// Percent of samples clipped, in `[0, 100)`.
    pub percentile_threshold: f32,
}

impl Deformation for Clipping {
    fn name(&self) -> &'static str {
        "clipping"
    }

    fn validate(&self) -> Result<()> {
        let p = self.percentile_threshold;
        if (0.0..100.0).contains(&p) {
            Ok(())
        } else {
            Err(invalid(
                self.name(),
                format!("`percentile_threshold` must be in [0, 100), got {p}"),
            ))
        }
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let mut values: Vec<f32> = audio.channels.iter().flatten().copied().collect();
        if values.is_empty() {
            return Ok(());
        }
        let half = f64::from(self.percentile_threshold) / 2.0;
        let low = percentile(&mut values, half);
        let high = percentile(&mut values, 100.0 - half);
        for s in audio.channels.iter_mut().flatten() {
            *s = s.clamp(low, high);
        }
        Ok(())
    }
}

/// numpy's default (`linear`) percentile, by selection (linear time; reorders `values`).
fn percentile(values: &mut [f32], q: f64) -> f32 {
    let pos = q / 100.0 * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, f32::total_cmp);
    let next = above
        .iter()
        .copied()
        .min_by(f32::total_cmp)
        .unwrap_or(below);
    let frac = pos - lo as f64;
    (f64::from(below) + (f64::from(next) - f64::from(below)) * frac) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy() {
        // numpy 2.x: np.percentile([1, 2, 3, 4], [0, 10, 50, 100]) == [1.0, 1.3, 2.5, 4.0]
        let mut v = [4.0, 2.0, 1.0, 3.0];
        for (q, want) in [(0.0, 1.0), (10.0, 1.3), (50.0, 2.5), (100.0, 4.0)] {
            assert!((percentile(&mut v, q) - want).abs() < 1e-6, "{q}");
        }
    }
}
