//! Log-mel spectrogram summarised by per-band mean and standard deviation, as librosa computes it.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::features::{FrameFeatures, Framing};
use crate::{Error, Result};

/// Parameters, named and defaulted as in `librosa.feature.melspectrogram` and
/// `librosa.power_to_db`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogMelConfig {
    /// Sample rate the audio is resampled to, in Hz.
    #[serde(default = "d_sr")]
    pub sample_rate_hz: u32,
    /// FFT size.
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Hop between frames, in samples.
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    /// Number of mel bands.
    #[serde(default = "d_n_mels")]
    pub n_mels: usize,
    /// Lowest band edge in Hz.
    #[serde(default)]
    pub fmin: f64,
    /// Highest band edge in Hz; default `sample_rate_hz / 2`.
    #[serde(default)]
    pub fmax: Option<f64>,
    /// Dynamic range kept below the track's maximum, in dB (`None`: no clipping).
    #[serde(default = "d_top_db")]
    pub top_db: Option<f64>,
    /// Summary window in seconds; `None` summarises the whole track as one window.
    #[serde(default)]
    pub window_s: Option<f64>,
    /// Hop between summary windows in seconds; default `window_s`.
    #[serde(default)]
    pub hop_s: Option<f64>,
}

fn d_sr() -> u32 {
    22_050
}
fn d_n_fft() -> usize {
    2048
}
fn d_hop() -> usize {
    512
}
fn d_n_mels() -> usize {
    128
}
fn d_top_db() -> Option<f64> {
    Some(80.0)
}

impl Default for LogMelConfig {
    fn default() -> Self {
        Self {
            sample_rate_hz: d_sr(),
            n_fft: d_n_fft(),
            hop_length: d_hop(),
            n_mels: d_n_mels(),
            fmin: 0.0,
            fmax: None,
            top_db: d_top_db(),
            window_s: None,
            hop_s: None,
        }
    }
}

/// One mel band as a contiguous run of non-zero FFT-bin weights.
#[derive(Debug, Clone)]
struct Band {
    start: usize,
    weights: Vec<f32>,
}

/// The log-mel embedder. Build once, use from many threads.
pub struct LogMel {
    config: LogMelConfig,
    window: Vec<f32>,
    bands: Vec<Band>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LogMel {
    /// Checks the parameters and precomputes the window, the filterbank and the FFT plan.
    pub fn new(config: LogMelConfig) -> Result<Self> {
        let bad = |reason: String| Error::InvalidConfig {
            model: "logmel".into(),
            reason,
        };
        if config.n_fft < 2 || config.hop_length == 0 || config.n_mels == 0 {
            return Err(bad("n_fft must be >= 2, hop_length and n_mels > 0".into()));
        }
        let fmax = config
            .fmax
            .unwrap_or(f64::from(config.sample_rate_hz) / 2.0);
        if !(0.0..fmax).contains(&config.fmin) || fmax > f64::from(config.sample_rate_hz) / 2.0 {
            return Err(bad(format!(
                "need 0 <= fmin < fmax <= sample_rate_hz / 2, got fmin {} fmax {fmax}",
                config.fmin
            )));
        }
        if let Some(w) = config.window_s
            && (w.is_nan() || w <= 0.0)
        {
            return Err(bad(format!("window_s must be positive, got {w}")));
        }
        let n = config.n_fft;
        let window = hann(n);
        let bands = mel_filterbank(
            f64::from(config.sample_rate_hz),
            n,
            config.n_mels,
            config.fmin,
            fmax,
        );
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        Ok(Self {
            config,
            window,
            bands,
            fft,
        })
    }

    /// The log-mel spectrogram in dB, frames by bands (`frames x n_mels`, row-major), as
    /// `librosa.power_to_db(librosa.feature.melspectrogram(y=samples, sr=sr), top_db=80)`.
    pub fn spectrogram(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let mut out = self.mel_power(samples);
        // power_to_db(S, ref=1.0, amin=1e-10, top_db)
        let mut max_db = f32::NEG_INFINITY;
        for row in &mut out {
            for v in row.iter_mut() {
                *v = 10.0 * v.max(1e-10).log10();
                max_db = max_db.max(*v);
            }
        }
        if let Some(top_db) = self.config.top_db {
            let floor = max_db - top_db as f32;
            out.iter_mut().flatten().for_each(|v| *v = v.max(floor));
        }
        out
    }

    /// The mel power spectrogram, frames by bands, as `librosa.feature.melspectrogram(y=samples,
    /// sr=sr)` with this config's parameters (no logarithm).
    pub fn mel_power(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        power_frames(
            &*self.fft,
            &self.window,
            self.config.hop_length,
            samples,
            |power| {
                let mel: Vec<f32> = self
                    .bands
                    .iter()
                    .map(|b| {
                        b.weights
                            .iter()
                            .zip(&power[b.start..])
                            .map(|(w, p)| w * p)
                            .sum()
                    })
                    .collect();
                out.push(mel);
            },
        );
        out
    }
}

impl FrameFeatures for LogMel {
    fn name(&self) -> &'static str {
        "logmel"
    }

    fn definition(&self) -> String {
        let c = &self.config;
        format!(
            "logmel v1 librosa-0.11-compatible sr={} n_fft={} hop={} n_mels={} fmin={} fmax={:?} top_db={:?} window_s={:?} hop_s={:?}",
            c.sample_rate_hz,
            c.n_fft,
            c.hop_length,
            c.n_mels,
            c.fmin,
            c.fmax,
            c.top_db,
            c.window_s,
            c.hop_s
        )
    }

    fn framing(&self) -> Framing {
        framing_of!(self.config)
    }

    fn dims(&self) -> usize {
        self.config.n_mels
    }

    fn frames(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        self.spectrogram(samples)
    }
}

/// The power spectrum of each frame of a centred STFT (`center=True`, zero padding, as librosa's
/// default), handed to `each` frame by frame: `1 + len / hop` frames of `n_fft / 2 + 1` bins.
pub(crate) fn power_frames(
    fft: &dyn RealToComplex<f32>,
    window: &[f32],
    hop: usize,
    samples: &[f32],
    mut each: impl FnMut(&[f32]),
) {
    let n = window.len();
    let pad = n / 2;
    let mut padded = vec![0.0f32; samples.len() + 2 * pad];
    padded[pad..pad + samples.len()].copy_from_slice(samples);
    let frames = if padded.len() >= n {
        1 + (padded.len() - n) / hop
    } else {
        0
    };
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0.0f32; spectrum.len()];
    for f in 0..frames {
        let frame = &padded[f * hop..f * hop + n];
        for ((x, &s), &w) in input.iter_mut().zip(frame).zip(window) {
            *x = s * w;
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffers come from the plan");
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.norm_sqr();
        }
        each(&power);
    }
}

/// `scipy.signal.get_window("hann", n, fftbins=True)`: the periodic Hann window.
pub(crate) fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Per-band mean then population standard deviation (numpy's default `ddof=0`).
pub(crate) fn mean_std(frames: &[Vec<f32>], bands: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 2 * bands];
    if frames.is_empty() {
        return out;
    }
    let n = frames.len() as f64;
    for b in 0..bands {
        let mean = frames.iter().map(|f| f64::from(f[b])).sum::<f64>() / n;
        let var = frames
            .iter()
            .map(|f| (f64::from(f[b]) - mean).powi(2))
            .sum::<f64>()
            / n;
        out[b] = mean as f32;
        out[bands + b] = var.sqrt() as f32;
    }
    out
}

fn hz_to_mel(f: f64) -> f64 {
    // Slaney's auditory toolbox scale, as librosa's htk=False.
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney")`, stored sparsely.
fn mel_filterbank(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<Band> {
    let bins = 1 + n_fft / 2;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * sr / n_fft as f64).collect();
    let (lo, hi) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|i| {
            let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
            let (d0, d1) = (mel_f[i + 1] - mel_f[i], mel_f[i + 2] - mel_f[i + 1]);
            let dense: Vec<f32> = fft_freqs
                .iter()
                .map(|&f| {
                    let lower = (f - mel_f[i]) / d0;
                    let upper = (mel_f[i + 2] - f) / d1;
                    (lower.min(upper).max(0.0) * enorm) as f32
                })
                .collect();
            let start = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let end = dense
                .iter()
                .rposition(|&w| w > 0.0)
                .map_or(start, |e| e + 1);
            Band {
                start,
                weights: dense[start..end].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Embedder;

    #[test]
    fn mel_scale_round_trips() {
        for f in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-6);
        }
    }

    #[test]
    fn frame_count_matches_librosa_center_true() {
        let m = LogMel::new(LogMelConfig::default()).unwrap();
        // librosa: 1 + len // hop frames.
        assert_eq!(m.spectrogram(&vec![0.1; 22_050]).len(), 1 + 22_050 / 512);
        assert_eq!(m.spectrogram(&vec![0.1; 100]).len(), 1);
    }

    #[test]
    fn windows_cover_the_track() {
        let cfg = LogMelConfig {
            window_s: Some(0.5),
            ..LogMelConfig::default()
        };
        let m = LogMel::new(cfg).unwrap();
        let w = m.embed(&vec![0.1; 22_050 * 2]).unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(w[1].window, 1);
        assert!((w[1].start_s - 0.5).abs() < 0.02);
        assert_eq!(w[0].embedding.len(), 256);
    }

    #[test]
    fn invalid_parameters_are_errors() {
        let err = LogMel::new(LogMelConfig {
            fmin: 20_000.0,
            ..LogMelConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("fmin"), "{err}");
    }
}
