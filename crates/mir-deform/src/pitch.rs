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

    /// `librosa.effects.time_stretch(y, rate=rate)`.
    fn time_stretch(&self, y: &[f32], rate: f64) -> Vec<f32> {
        let length = (y.len() as f64 / rate).round() as usize;
        if y.is_empty() || length == 0 {
            return vec![0.0; length];
        }
        let stft = self.stft(y);
        let stretched = phase_vocoder(&stft, rate);
        self.istft(&stretched, length)
    }

    /// Centred STFT with zero padding: `1 + len / HOP` frames of `N_FFT / 2 + 1` bins.
    fn stft(&self, y: &[f32]) -> Vec<Vec<Complex<f64>>> {
        let pad = N_FFT / 2;
        let n_frames = 1 + y.len() / HOP;
        let mut frame = vec![0.0; N_FFT];
        let mut out = Vec::with_capacity(n_frames);
        for t in 0..n_frames {
            let start = t * HOP;
            for (i, f) in frame.iter_mut().enumerate() {
                let idx = (start + i).wrapping_sub(pad);
                *f = y.get(idx).map_or(0.0, |&s| f64::from(s)) * self.window[i];
            }
            let mut spectrum = self.forward.make_output_vec();
            self.forward
                .process(&mut frame, &mut spectrum)
                .expect("FFT buffers have the planned sizes");
            out.push(spectrum);
        }
        out
    }

    /// ISTFT with window sum-square normalisation, centred, to exactly `length` samples.
    fn istft(&self, frames: &[Vec<Complex<f64>>], length: usize) -> Vec<f32> {
        let pad = N_FFT / 2;
        let n_frames = frames.len().min((length + 2 * pad).div_ceil(HOP));
        let total = N_FFT + HOP * (n_frames.max(1) - 1);
        let mut y = vec![0.0f64; total];
        let mut norm = vec![0.0f64; total];
        let mut spectrum = self.inverse.make_input_vec();
        let mut frame = self.inverse.make_output_vec();
        let scale = 1.0 / N_FFT as f64;
        for (t, column) in frames.iter().take(n_frames).enumerate() {
            spectrum.copy_from_slice(column);
            // numpy's irfft ignores the imaginary parts of the DC and Nyquist bins.
            spectrum[0].im = 0.0;
            spectrum[N_FFT / 2].im = 0.0;
            self.inverse
                .process(&mut spectrum, &mut frame)
                .expect("FFT buffers have the planned sizes");
            let start = t * HOP;
            for (i, &v) in frame.iter().enumerate() {
                y[start + i] += v * scale * self.window[i];
                norm[start + i] += self.window[i] * self.window[i];
            }
        }
        let tiny = f64::from(f32::MIN_POSITIVE);
        (0..length)
            .map(|i| {
                let j = i + pad;
                match (y.get(j), norm.get(j)) {
                    (Some(&v), Some(&w)) if w > tiny => (v / w) as f32,
                    (Some(&v), Some(_)) => v as f32,
                    _ => 0.0,
                }
            })
            .collect()
    }
}

/// `librosa.phase_vocoder(D, rate=rate, hop_length=HOP, n_fft=N_FFT)`.
fn phase_vocoder(d: &[Vec<Complex<f64>>], rate: f64) -> Vec<Vec<Complex<f64>>> {
    let bins = N_FFT / 2 + 1;
    let n = d.len();
    let steps = (n as f64 / rate).ceil() as usize;
    let phi_advance: Vec<f64> = (0..bins)
        .map(|k| PI * HOP as f64 * k as f64 / (bins - 1) as f64)
        .collect();
    let zero = vec![Complex::new(0.0, 0.0); bins];
    let column = |i: usize| d.get(i).unwrap_or(&zero);
    let mut phase: Vec<f64> = d[0].iter().map(|c| c.arg()).collect();
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps {
        let step = t as f64 * rate;
        let (left, right) = (column(step as usize), column(step as usize + 1));
        let alpha = step.fract();
        let mut frame = Vec::with_capacity(bins);
        for k in 0..bins {
            let mag = (1.0 - alpha) * left[k].norm() + alpha * right[k].norm();
            frame.push(Complex::from_polar(mag, phase[k]));
            let mut dphase = right[k].arg() - left[k].arg() - phi_advance[k];
            dphase -= 2.0 * PI * (dphase / (2.0 * PI)).round_ties_even();
            phase[k] += phi_advance[k] + dphase;
        }
        out.push(frame);
    }
    out
}
