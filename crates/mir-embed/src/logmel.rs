//! Log-mel spectrogram summarised by per-band mean and standard deviation, as librosa computes it.

use mir_audio::spectral::{MelBand, Stft, mel_filterbank};
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

/// The log-mel embedder. Build once, use from many threads.
pub struct LogMel {
    config: LogMelConfig,
    stft: Stft,
    bands: Vec<MelBand>,
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
        let bands = mel_filterbank(
            f64::from(config.sample_rate_hz),
            config.n_fft,
            config.n_mels,
            config.fmin,
            fmax,
        );
        Ok(Self {
            stft: Stft::new(config.n_fft, config.hop_length),
            config,
            bands,
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
        self.stft.power_frames(samples, |power| {
            out.push(self.bands.iter().map(|b| b.apply(power)).collect());
        });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Embedder;

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
