//! Butterworth low-pass, high-pass and band-pass filters, built from fundsp biquads.
//!
//! As in audiomentations, `rolloff` is the slope in dB per octave, a multiple of 6: a filter of
//! rolloff `6 N` is a Butterworth filter of order `N`, a cascade of second-order sections with
//! the Butterworth pole Q values (and one first-order section when `N` is odd). fundsp's biquad
//! coefficients are the bilinear transform with the cutoff pre-warped, so the cascade has
//! exactly the transfer function of `scipy.signal.butter(N, cutoff, fs=sr, output="sos")`.
//! The filters are causal (not zero-phase), run in f64 and start from rest.

use std::f64::consts::PI;

use fundsp::audionode::AudioNode;
use fundsp::biquad::{Biquad, BiquadCoefs};
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Result, check_positive, invalid};

fn default_rolloff() -> u32 {
    12
}

/// A Butterworth low-pass filter (audiomentations' `LowPassFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LowPass {
    /// The -3 dB frequency in Hz.
    pub cutoff_frequency: f32,
    /// Slope in dB per octave: 6, 12, 18, ... 48 (default 12).
    #[serde(default = "default_rolloff")]
    pub rolloff: u32,
}

/// A Butterworth high-pass filter (audiomentations' `HighPassFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighPass {
    /// The -3 dB frequency in Hz.
    pub cutoff_frequency: f32,
    /// Slope in dB per octave: 6, 12, 18, ... 48 (default 12).
    #[serde(default = "default_rolloff")]
    pub rolloff: u32,
}

/// A band-pass filter (audiomentations' `BandPassFilter`): a Butterworth high-pass at
/// `center_frequency * (1 - bandwidth_fraction / 2)` followed by a Butterworth low-pass at
/// `center_frequency * (1 + bandwidth_fraction / 2)`, each with slope `rolloff`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandPass {
    /// Centre of the pass band in Hz.
    pub center_frequency: f32,
    /// Width of the pass band relative to its centre, in `(0, 2)`.
    pub bandwidth_fraction: f32,
    /// Slope of each edge in dB per octave: 6, 12, 18, ... 48 (default 12).
    #[serde(default = "default_rolloff")]
    pub rolloff: u32,
}

#[derive(Clone, Copy)]
enum Kind {
    Low,
    High,
}

impl Deformation for LowPass {
    fn name(&self) -> &'static str {
        "low_pass"
    }

    fn validate(&self) -> Result<()> {
        check_positive(self.name(), "cutoff_frequency", self.cutoff_frequency)?;
        order(self.name(), self.rolloff).map(drop)
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        let sections = butterworth(self, Kind::Low, self.cutoff_frequency, self.rolloff, audio)?;
        run(&sections, audio);
        Ok(())
    }
}

impl Deformation for HighPass {
    fn name(&self) -> &'static str {
        "high_pass"
    }

    fn validate(&self) -> Result<()> {
        check_positive(self.name(), "cutoff_frequency", self.cutoff_frequency)?;
        order(self.name(), self.rolloff).map(drop)
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        let sections = butterworth(self, Kind::High, self.cutoff_frequency, self.rolloff, audio)?;
        run(&sections, audio);
        Ok(())
    }
}

impl BandPass {
    /// The -3 dB edges of the pass band in Hz.
    pub fn edges(&self) -> (f32, f32) {
        let half = self.center_frequency * self.bandwidth_fraction / 2.0;
        (self.center_frequency - half, self.center_frequency + half)
    }
}

impl Deformation for BandPass {
    fn name(&self) -> &'static str {
        "band_pass"
    }

    fn validate(&self) -> Result<()> {
        check_positive(self.name(), "center_frequency", self.center_frequency)?;
        let b = self.bandwidth_fraction;
        if !(b > 0.0 && b < 2.0) {
            return Err(invalid(
                self.name(),
                format!("`bandwidth_fraction` must be in (0, 2), got {b}"),
            ));
        }
        order(self.name(), self.rolloff).map(drop)
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let (low, high) = self.edges();
        let mut sections = butterworth(self, Kind::High, low, self.rolloff, audio)?;
        sections.extend(butterworth(self, Kind::Low, high, self.rolloff, audio)?);
        run(&sections, audio);
        Ok(())
    }
}

fn order(step: &'static str, rolloff: u32) -> Result<u32> {
    if rolloff.is_multiple_of(6) && (6..=48).contains(&rolloff) {
        Ok(rolloff / 6)
    } else {
        Err(invalid(
            step,
            format!("`rolloff` must be a multiple of 6 dB/octave from 6 to 48, got {rolloff}"),
        ))
    }
}

/// The second-order sections of a Butterworth filter.
fn butterworth(
    step: &dyn Deformation,
    kind: Kind,
    cutoff_hz: f32,
    rolloff: u32,
    audio: &Audio,
) -> Result<Vec<BiquadCoefs<f64>>> {
    step.validate()?;
    let order = order(step.name(), rolloff)?;
    let sr = f64::from(audio.sample_rate_hz);
    let fc = f64::from(cutoff_hz);
    if fc >= sr / 2.0 {
        return Err(invalid(
            step.name(),
            format!(
                "cutoff {fc} Hz is at or above the Nyquist frequency {} Hz of this audio",
                sr / 2.0
            ),
        ));
    }
    let n = f64::from(order);
    let mut sections: Vec<BiquadCoefs<f64>> = (0..order / 2)
        .map(|k| {
            let q = 1.0 / (2.0 * ((2.0 * f64::from(k) + 1.0) * PI / (2.0 * n)).sin());
            match kind {
                Kind::Low => BiquadCoefs::lowpass(sr, fc, q),
                Kind::High => BiquadCoefs::highpass(sr, fc, q),
            }
        })
        .collect();
    if !order.is_multiple_of(2) {
        // First order: bilinear transform of 1 / (s + 1), pre-warped at the cutoff.
        let k = (PI * fc / sr).tan();
        let a1 = (k - 1.0) / (k + 1.0);
        let (b0, b1) = match kind {
            Kind::Low => (k / (k + 1.0), k / (k + 1.0)),
            Kind::High => (1.0 / (k + 1.0), -1.0 / (k + 1.0)),
        };
        sections.push(BiquadCoefs::arbitrary(a1, 0.0, b0, b1, 0.0));
    }
    Ok(sections)
}

fn run(sections: &[BiquadCoefs<f64>], audio: &mut Audio) {
    for channel in &mut audio.channels {
        for &coefs in sections {
            let mut biquad = Biquad::<f64>::with_coefs(coefs);
            for s in channel.iter_mut() {
                *s = biquad.filter_mono(*s);
            }
        }
    }
}
