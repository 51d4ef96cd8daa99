//! Pitch shift and time stretch with librosa's phase vocoder.
//!
//! The algorithm is `librosa.effects.time_stretch` (librosa 0.11): a centred STFT (n_fft 2048,
//! hop 512, periodic Hann, zero padding), `librosa.phase_vocoder`, and an ISTFT with window
//! sum-square normalisation to `round(len / rate)` samples. Pitch shift is, as in
//! `librosa.effects.pitch_shift`, a time stretch by `2^(-semitones / 12)` followed by band-limited
//! resampling back to the original length (rubato's sinc resampler where librosa uses soxr).

use std::f64::consts::PI;
use std::sync::Arc;

use rand::rngs::ChaCha8Rng;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Result, files, invalid};

const N_FFT: usize = 2048;
const HOP: usize = 512;

/// Pitch shift by semitones with the duration preserved (audiomentations' `PitchShift`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PitchShift {
    /// Semitones, in `[-48, 48]` (negative shifts down).
    pub semitones: f32,
}

/// Time stretch by a rate with the pitch preserved (audiomentations' `TimeStretch`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeStretch {
    /// Speed factor in `[0.1, 10]`: 1.25 plays 25% faster, so the output lasts 0.8 of the input.
    pub rate: f32,
    /// Pad with silence or cut the output back to the input's length (default false, unlike
    /// audiomentations: a stretch that keeps the length is rarely what a robustness study wants).
    #[serde(default)]
    pub leave_length_unchanged: bool,
}

impl Deformation for PitchShift {
    fn name(&self) -> &'static str {
        "pitch_shift"
    }

    fn validate(&self) -> Result<()> {
        let s = self.semitones;
        if s.is_finite() && s.abs() <= 48.0 {
            Ok(())
        } else {
            Err(invalid(
                self.name(),
                format!("`semitones` must be in [-48, 48], got {s}"),
            ))
        }
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let rate = 2f64.powf(-f64::from(self.semitones) / 12.0);
        let sr = f64::from(audio.sample_rate_hz);
        let vocoder = Vocoder::new();
        for channel in &mut audio.channels {
            let n = channel.len();
            let stretched = vocoder.time_stretch(channel, rate);
            let mut shifted = files::resample(&stretched, sr / rate, sr)?;
            shifted.resize(n, 0.0);
            *channel = shifted;
        }
        Ok(())
    }
}

impl Deformation for TimeStretch {
    fn name(&self) -> &'static str {
        "time_stretch"
    }

    fn validate(&self) -> Result<()> {
        let r = self.rate;
        if r.is_finite() && (0.1..=10.0).contains(&r) {
            Ok(())
        } else {
            Err(invalid(
                self.name(),
                format!("`rate` must be in [0.1, 10], got {r}"),
            ))
        }
    }

    fn apply(&self, audio: &mut Audio, _rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let vocoder = Vocoder::new();
        for channel in &mut audio.channels {
            let n = channel.len();
            *channel = vocoder.time_stretch(channel, f64::from(self.rate));
            if self.leave_length_unchanged {
                channel.resize(n, 0.0);
            }
        }
        Ok(())
    }
}

/// FFT plans and the window of the phase vocoder.
struct Vocoder {
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    window: Vec<f64>,
}

/// One STFT column as the vocoder uses it: magnitudes and phases.
struct Column {
    mag: Vec<f64>,
    phase: Vec<f64>,
}

impl Vocoder {
    fn new() -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let window = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / N_FFT as f64).cos())
            .collect();
        Self {
            forward: planner.plan_fft_forward(N_FFT),
            inverse: planner.plan_fft_inverse(N_FFT),
            window,
        }
    }

    /// Column `t` of the centred, zero-padded STFT of `y` (`1 + len / HOP` columns); zeros
    /// past the last one, as librosa pads the matrix.
    fn column(
        &self,
        y: &[f32],
        t: usize,
        frame: &mut [f64],
        spectrum: &mut [Complex<f64>],
    ) -> Column {
        let bins = N_FFT / 2 + 1;
        if t > y.len() / HOP {
            return Column {
                mag: vec![0.0; bins],
                phase: vec![0.0; bins],
            };
        }
        let start = t * HOP;
        for (i, f) in frame.iter_mut().enumerate() {
            let idx = (start + i).wrapping_sub(N_FFT / 2);
            *f = y.get(idx).map_or(0.0, |&s| f64::from(s)) * self.window[i];
        }
        self.forward
            .process(frame, spectrum)
            .expect("FFT buffers have the planned sizes");
        Column {
            mag: spectrum.iter().map(|c| c.norm()).collect(),
            phase: spectrum.iter().map(|c| c.arg()).collect(),
        }
    }

    /// `librosa.effects.time_stretch(y, rate=rate)`: STFT, `librosa.phase_vocoder`, ISTFT with
    /// window sum-square normalisation to `round(len / rate)` samples. Streaming: each input
    /// column is transformed once when the vocoder reaches it, and each output column is
    /// inverted and overlap-added at once, so memory is the output plus a few columns.
    fn time_stretch(&self, y: &[f32], rate: f64) -> Vec<f32> {
        let length = (y.len() as f64 / rate).round() as usize;
        if y.is_empty() || length == 0 {
            return vec![0.0; length];
        }
        let bins = N_FFT / 2 + 1;
        let pad = N_FFT / 2;
        let n_in = 1 + y.len() / HOP;
        let steps = (n_in as f64 / rate).ceil() as usize;
        // librosa's istft keeps only the columns that reach the requested length.
        let n_out = steps.min((length + 2 * pad).div_ceil(HOP));
        let phi_advance: Vec<f64> = (0..bins)
            .map(|k| PI * HOP as f64 * k as f64 / (bins - 1) as f64)
            .collect();

        let mut frame = self.forward.make_input_vec();
        let mut spectrum = self.forward.make_output_vec();
        let mut out_spectrum = self.inverse.make_input_vec();
        let mut out_frame = self.inverse.make_output_vec();
        let total = N_FFT + HOP * (n_out.max(1) - 1);
        let mut out = vec![0.0f64; total];
        let mut norm = vec![0.0f64; total];
        let scale = 1.0 / N_FFT as f64;

        // The pair of input columns (i, i + 1) under the current step, and their phase
        // advance, each computed once.
        let mut i = 0;
        let mut left = self.column(y, 0, &mut frame, &mut spectrum);
        let mut right = self.column(y, 1, &mut frame, &mut spectrum);
        let dphase = |l: &Column, r: &Column| -> Vec<f64> {
            (0..bins)
                .map(|k| {
                    let d = r.phase[k] - l.phase[k] - phi_advance[k];
                    d - 2.0 * PI * (d / (2.0 * PI)).round_ties_even()
                })
                .collect()
        };
        let mut advance = dphase(&left, &right);
        let mut phase = left.phase.clone();
        for t in 0..n_out {
            let step = t as f64 * rate;
            while i < step as usize {
                i += 1;
                left =
                    std::mem::replace(&mut right, self.column(y, i + 1, &mut frame, &mut spectrum));
                advance = dphase(&left, &right);
            }
            let alpha = step.fract();
            for k in 0..bins {
                let mag = (1.0 - alpha) * left.mag[k] + alpha * right.mag[k];
                out_spectrum[k] = Complex::from_polar(mag, phase[k]);
                phase[k] += phi_advance[k] + advance[k];
            }
            // numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
            out_spectrum[0].im = 0.0;
            out_spectrum[bins - 1].im = 0.0;
            self.inverse
                .process(&mut out_spectrum, &mut out_frame)
                .expect("FFT buffers have the planned sizes");
            let start = t * HOP;
            for (j, &v) in out_frame.iter().enumerate() {
                out[start + j] += v * scale * self.window[j];
                norm[start + j] += self.window[j] * self.window[j];
            }
        }
        let tiny = f64::from(f32::MIN_POSITIVE);
        (0..length)
            .map(|j| match (out.get(j + pad), norm.get(j + pad)) {
                (Some(&v), Some(&w)) if w > tiny => (v / w) as f32,
                (Some(&v), Some(_)) => v as f32,
                _ => 0.0,
            })
            .collect()
    }
}
