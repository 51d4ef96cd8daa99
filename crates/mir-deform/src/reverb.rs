//! Reverberation: convolution with a recorded impulse response, or with a generated room
//! response of a given RT60.

use std::path::PathBuf;
use std::sync::Arc;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::StandardNormal;
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::{Audio, Deformation, Result, files, invalid};

/// Convolution with an impulse response file (audiomentations' `ApplyImpulseResponse`).
///
/// `ir_path` is a file or a folder searched recursively; per track one file is drawn. The
/// response is mixed to mono, resampled to the track's rate, used as recorded (not normalised)
/// and applied to every channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpulseResponse {
    /// An impulse response file, or a folder of them.
    pub ir_path: PathBuf,
    /// Cut the reverberant tail so the output keeps the input's length (default true, as in
    /// audiomentations).
    #[serde(default = "yes")]
    pub leave_length_unchanged: bool,
}

/// Convolution with a generated room impulse response: a unit direct path followed by Gaussian
/// noise decaying by 60 dB in `rt60_s` (diffuse exponential decay), as much energy in the tail
/// as in the direct path, normalised to unit energy. Each track draws its own noise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomReverb {
    /// Reverberation time in seconds, in `(0, 10]`.
    pub rt60_s: f32,
    /// Cut the reverberant tail so the output keeps the input's length (default true).
    #[serde(default = "yes")]
    pub leave_length_unchanged: bool,
}

fn yes() -> bool {
    true
}

impl Deformation for ImpulseResponse {
    fn name(&self) -> &'static str {
        "impulse_response"
    }

    fn validate(&self) -> Result<()> {
        files::list(&self.ir_path).map(drop)
    }

    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()> {
        let candidates = files::list(&self.ir_path)?;
        let path = &candidates[rng.random_range(0..candidates.len())];
        let ir = files::load_mono_cached(path, audio.sample_rate_hz)?;
        convolve_all(audio, &ir, self.leave_length_unchanged);
        Ok(())
    }
}

impl Deformation for RoomReverb {
    fn name(&self) -> &'static str {
        "room_reverb"
    }

    fn validate(&self) -> Result<()> {
        let t = self.rt60_s;
        if t.is_finite() && t > 0.0 && t <= 10.0 {
            Ok(())
        } else {
            Err(invalid(
                self.name(),
                format!("`rt60_s` must be in (0, 10] seconds, got {t}"),
            ))
        }
    }

    fn apply(&self, audio: &mut Audio, rng: &mut ChaCha8Rng) -> Result<()> {
        self.validate()?;
        let ir = room_ir(f64::from(self.rt60_s), audio.sample_rate_hz, rng);
        convolve_all(audio, &ir, self.leave_length_unchanged);
        Ok(())
    }
}

/// A room impulse response of 1.2 RT60: see [`RoomReverb`].
pub fn room_ir(rt60_s: f64, sample_rate_hz: u32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let sr = f64::from(sample_rate_hz);
    let n = ((1.2 * rt60_s * sr).ceil() as usize).max(2);
    // Energy decays by 60 dB (a factor 1e6) in rt60: amplitude exp(-3 ln(10) t / rt60).
    let decay = 3.0 * std::f64::consts::LN_10 / (rt60_s * sr);
    let mut tail: Vec<f64> = (1..n)
        .map(|i| rng.sample::<f64, _>(StandardNormal) * (-decay * i as f64).exp())
        .collect();
    let tail_energy: f64 = tail.iter().map(|v| v * v).sum();
    let tail_gain = if tail_energy > 0.0 {
        tail_energy.sqrt().recip()
    } else {
        0.0
    };
    tail.iter_mut().for_each(|v| *v *= tail_gain);
    // Direct path 1 and tail energy 1: total energy 2.
    let norm = 2f64.sqrt().recip();
    std::iter::once(norm)
        .chain(tail.into_iter().map(|v| v * norm))
        .map(|v| v as f32)
        .collect()
}

/// Reverberation time by Schroeder backward integration: the T30 slope (from -5 to -35 dB of
/// the energy decay curve, least squares), extrapolated to 60 dB. `None` when the response does
/// not decay by 35 dB.
pub fn measure_rt60_s(ir: &[f32], sample_rate_hz: u32) -> Option<f64> {
    let mut edc: Vec<f64> = ir.iter().map(|&v| f64::from(v) * f64::from(v)).collect();
    for i in (0..edc.len().saturating_sub(1)).rev() {
        edc[i] += edc[i + 1];
    }
    let total = *edc.first()?;
    if total <= 0.0 {
        return None;
    }
    let db: Vec<f64> = edc.iter().map(|e| 10.0 * (e / total).log10()).collect();
    let points: Vec<(f64, f64)> = db
        .iter()
        .enumerate()
        .filter(|&(_, &d)| (-35.0..=-5.0).contains(&d))
        .map(|(i, &d)| (i as f64 / f64::from(sample_rate_hz), d))
        .collect();
    if points.len() < 2 || db.last().is_none_or(|&d| d > -35.0) {
        return None;
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (sxy, sxx) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    let slope = sxy / sxx;
    (slope < 0.0).then(|| -60.0 / slope)
}

fn convolve_all(audio: &mut Audio, ir: &[f32], leave_length_unchanged: bool) {
    for channel in &mut audio.channels {
        let n = channel.len();
        *channel = convolve(channel, ir);
        if leave_length_unchanged {
            channel.truncate(n);
        }
    }
}

/// Full linear convolution (`len(x) + len(h) - 1` samples) by FFT overlap-add, in blocks, so
/// memory stays proportional to the impulse response, not to the track.
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let m = h.len();
    let fft_len = (2 * m).next_power_of_two().max(4096);
    let block = fft_len - m + 1;
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(fft_len);
    let inverse: Arc<dyn realfft::ComplexToReal<f32>> = planner.plan_fft_inverse(fft_len);
    let mut buf = forward.make_input_vec();
    buf[..m].copy_from_slice(h);
    let mut h_spec = forward.make_output_vec();
    forward
        .process(&mut buf, &mut h_spec)
        .expect("FFT buffers have the planned sizes");
    let scale = 1.0 / fft_len as f32;
    let mut out = vec![0.0f32; x.len() + m - 1];
    let mut spec: Vec<Complex<f32>> = forward.make_output_vec();
    for start in (0..x.len()).step_by(block) {
        let chunk = &x[start..(start + block).min(x.len())];
        buf.fill(0.0);
        buf[..chunk.len()].copy_from_slice(chunk);
        forward
            .process(&mut buf, &mut spec)
            .expect("FFT buffers have the planned sizes");
        spec.iter_mut().zip(&h_spec).for_each(|(a, b)| *a *= b);
        spec[0].im = 0.0;
        spec[fft_len / 2].im = 0.0;
        inverse
            .process(&mut spec, &mut buf)
            .expect("FFT buffers have the planned sizes");
        let valid = chunk.len() + m - 1;
        for (o, &v) in out[start..start + valid].iter_mut().zip(&buf[..valid]) {
            *o += v * scale;
        }
    }
    out
}
