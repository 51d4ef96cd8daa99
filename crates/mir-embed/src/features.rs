//! MFCC (with deltas), chroma and spectral statistics, as librosa computes them, summarised per
//! window by mean and standard deviation.

use std::f64::consts::PI;

use mir_audio::spectral::Stft;
use serde::{Deserialize, Serialize};

use crate::logmel::{LogMel, LogMelConfig};
use crate::{Embedder, Error, ModelInfo, Result, WindowEmbedding};

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
fn d_n_mfcc() -> usize {
    20
}
fn d_true() -> bool {
    true
}
fn d_n_chroma() -> usize {
    12
}
fn d_roll() -> f64 {
    0.85
}

/// How frame features become window embeddings: the frame rate and the summary windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framing {
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
    /// Hop between frames, in samples.
    pub hop_length: usize,
    /// Summary window in seconds; `None`: the whole track.
    pub window_s: Option<f64>,
    /// Hop between summary windows in seconds; default `window_s`.
    pub hop_s: Option<f64>,
}

/// A built-in embedding computed frame by frame: every such type is an [`Embedder`] whose
/// windows are the per-dimension mean and standard deviation of its frames.
pub trait FrameFeatures: Send + Sync {
    /// The model's name.
    fn name(&self) -> &'static str;
    /// Everything that determines the output, hashed into the model's checksum.
    fn definition(&self) -> String;
    /// Frame rate and summary windows.
    fn framing(&self) -> Framing;
    /// Values per frame.
    fn dims(&self) -> usize;
    /// `frames x dims` features of a track.
    fn frames(&self, samples: &[f32]) -> Vec<Vec<f32>>;
}

impl<T: FrameFeatures> Embedder for T {
    fn info(&self) -> ModelInfo {
        let f = self.framing();
        ModelInfo {
            name: self.name().into(),
            version: "1".into(),
            license: "MIT OR Apache-2.0".into(),
            sha256: crate::sha256_hex(self.definition().as_bytes()),
            sample_rate_hz: f.sample_rate_hz,
            window_s: f.window_s.unwrap_or(0.0),
            hop_s: f.hop_s.or(f.window_s).unwrap_or(0.0),
            layers: vec!["summary".into()],
            dims: vec![2 * self.dims()],
            source: None,
        }
    }

    fn embed(&self, samples: &[f32]) -> Result<Vec<WindowEmbedding>> {
        let f = self.framing();
        Ok(crate::summarize(
            &self.frames(samples),
            self.dims(),
            f64::from(f.sample_rate_hz),
            f.hop_length,
            f.window_s,
            f.hop_s,
        ))
    }
}

/// `librosa.feature.mfcc` (DCT-II, orthonormal, of the log-mel spectrogram with `top_db=80`),
/// with `librosa.feature.delta` of order 1 and 2 (width 9, `mode="interp"`) when `deltas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfccConfig {
    /// Sample rate the audio is resampled to, in Hz.
    #[serde(default = "d_sr")]
    pub sample_rate_hz: u32,
    /// FFT size.
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Hop between frames, in samples.
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    /// Mel bands before the DCT.
    #[serde(default = "d_n_mels")]
    pub n_mels: usize,
    /// Coefficients kept.
    #[serde(default = "d_n_mfcc")]
    pub n_mfcc: usize,
    /// Append first and second derivatives (default true).
    #[serde(default = "d_true")]
    pub deltas: bool,
    /// Summary window in seconds; `None`: the whole track.
    #[serde(default)]
    pub window_s: Option<f64>,
    /// Hop between summary windows in seconds; default `window_s`.
    #[serde(default)]
    pub hop_s: Option<f64>,
}

/// The MFCC embedder.
#[derive(Debug)]
pub struct Mfcc {
    config: MfccConfig,
    logmel: LogMel,
    /// `n_mfcc x n_mels` orthonormal DCT-II rows.
    dct: Vec<Vec<f32>>,
}

impl Mfcc {
    /// Checks the parameters and precomputes the DCT.
    pub fn new(config: MfccConfig) -> Result<Self> {
        if config.n_mfcc == 0 || config.n_mfcc > config.n_mels {
            return Err(Error::InvalidConfig {
                model: "mfcc".into(),
                reason: format!(
                    "need 0 < n_mfcc <= n_mels, got n_mfcc {} n_mels {}",
                    config.n_mfcc, config.n_mels
                ),
            });
        }
        let logmel = LogMel::new(LogMelConfig {
            sample_rate_hz: config.sample_rate_hz,
            n_fft: config.n_fft,
            hop_length: config.hop_length,
            n_mels: config.n_mels,
            ..LogMelConfig::default()
        })?;
        let m = config.n_mels as f64;
        // scipy.fftpack.dct(type=2, norm="ortho"): sqrt(1/N) for k = 0, sqrt(2/N) otherwise.
        let dct = (0..config.n_mfcc)
            .map(|k| {
                let scale = if k == 0 {
                    (1.0 / m).sqrt()
                } else {
                    (2.0 / m).sqrt()
                };
                (0..config.n_mels)
                    .map(|n| {
                        (scale * (PI * k as f64 * (2 * n + 1) as f64 / (2.0 * m)).cos()) as f32
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            config,
            logmel,
            dct,
        })
    }

    /// Frame features: the coefficients, then their deltas and delta-deltas when configured.
    pub fn features(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let spec = self.logmel.spectrogram(samples);
        let mfcc: Vec<Vec<f32>> = spec
            .iter()
            .map(|frame| {
                self.dct
                    .iter()
                    .map(|row| row.iter().zip(frame).map(|(a, b)| a * b).sum())
                    .collect()
            })
            .collect();
        if !self.config.deltas {
            return mfcc;
        }
        let d1 = delta(&mfcc, 1);
        let d2 = delta(&mfcc, 2);
        mfcc.into_iter()
            .zip(d1)
            .zip(d2)
            .map(|((a, b), c)| a.into_iter().chain(b).chain(c).collect())
            .collect()
    }
}

/// `librosa.feature.delta(data, width=9, order, axis=0 over frames, mode="interp")`: a
/// Savitzky-Golay derivative. With polynomial order equal to the derivative order, the
/// `interp` edges take the value of the nearest full window. Tracks shorter than 9 frames use
/// the widest odd window that fits (3 at least; none: zeros).
fn delta(frames: &[Vec<f32>], order: u32) -> Vec<Vec<f32>> {
    let n = frames.len();
    let dims = frames.first().map_or(0, Vec::len);
    let width = if n >= 9 {
        9
    } else if n % 2 == 1 {
        n
    } else {
        n.saturating_sub(1)
    };
    if width < 3 {
        return vec![vec![0.0; dims]; n];
    }
    let half = (width / 2) as i64;
    let ks: Vec<f64> = (-half..=half).map(|k| k as f64).collect();
    let coefs: Vec<f64> = match order {
        1 => {
            let norm: f64 = ks.iter().map(|k| k * k).sum();
            ks.iter().map(|k| k / norm).collect()
        }
        _ => {
            let mean = ks.iter().map(|k| k * k).sum::<f64>() / ks.len() as f64;
            let norm: f64 = ks.iter().map(|k| (k * k - mean).powi(2)).sum();
            ks.iter().map(|k| 2.0 * (k * k - mean) / norm).collect()
        }
    };
    let half = half as usize;
    let at = |t: usize| -> Vec<f32> {
        (0..dims)
            .map(|d| {
                coefs
                    .iter()
                    .enumerate()
                    .map(|(j, c)| c * f64::from(frames[t + j - half][d]))
                    .sum::<f64>() as f32
            })
            .collect()
    };
    (0..n).map(|t| at(t.clamp(half, n - 1 - half))).collect()
}

impl FrameFeatures for Mfcc {
    fn name(&self) -> &'static str {
        "mfcc"
    }

    fn definition(&self) -> String {
        format!("mfcc v1 librosa-0.11-compatible {:?}", self.config)
    }

    fn framing(&self) -> Framing {
        framing_of!(self.config)
    }

    fn dims(&self) -> usize {
        self.config.n_mfcc * if self.config.deltas { 3 } else { 1 }
    }

    fn frames(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        self.features(samples)
    }
}

/// `librosa.feature.chroma_stft` on the power spectrogram with `tuning` fixed (librosa
/// estimates it when not given; pass the same value to compare), each frame normalised to
/// its maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChromaConfig {
    /// Sample rate the audio is resampled to, in Hz.
    #[serde(default = "d_sr")]
    pub sample_rate_hz: u32,
    /// FFT size.
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Hop between frames, in samples.
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    /// Chroma bins per octave.
    #[serde(default = "d_n_chroma")]
    pub n_chroma: usize,
    /// Deviation from A440 tuning, in fractions of a chroma bin.
    #[serde(default)]
    pub tuning: f64,
    /// Summary window in seconds; `None`: the whole track.
    #[serde(default)]
    pub window_s: Option<f64>,
    /// Hop between summary windows in seconds; default `window_s`.
    #[serde(default)]
    pub hop_s: Option<f64>,
}

/// The chroma embedder.
pub struct Chroma {
    config: ChromaConfig,
    stft: Stft,
    /// `n_chroma x (n_fft / 2 + 1)`.
    filters: Vec<Vec<f32>>,
}

impl std::fmt::Debug for Chroma {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chroma")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Chroma {
    /// Checks the parameters and precomputes the filterbank.
    pub fn new(config: ChromaConfig) -> Result<Self> {
        if config.n_fft < 2 || config.hop_length == 0 || config.n_chroma == 0 {
            return Err(Error::InvalidConfig {
                model: "chroma".into(),
                reason: "n_fft must be >= 2, hop_length and n_chroma > 0".into(),
            });
        }
        let filters = chroma_filters(
            f64::from(config.sample_rate_hz),
            config.n_fft,
            config.n_chroma,
            config.tuning,
        );
        Ok(Self {
            stft: Stft::new(config.n_fft, config.hop_length),
            filters,
            config,
        })
    }

    /// Frame features: `n_chroma` values in `[0, 1]` per frame.
    pub fn features(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        self.stft.power_frames(samples, |power| {
            // Eight partial sums per row, so the dot product vectorises.
            let raw: Vec<f64> = self
                .filters
                .iter()
                .map(|row| {
                    let mut acc = [0.0f32; 8];
                    let whole = row.len() - row.len() % 8;
                    for (w, p) in row[..whole].chunks_exact(8).zip(power.chunks_exact(8)) {
                        for k in 0..8 {
                            acc[k] += w[k] * p[k];
                        }
                    }
                    let tail: f32 = row[whole..]
                        .iter()
                        .zip(&power[whole..])
                        .map(|(w, p)| w * p)
                        .sum();
                    f64::from(acc.iter().sum::<f32>() + tail)
                })
                .collect();
            // util.normalize(norm=inf): divide by the largest magnitude unless it is tiny.
            let max = raw.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let scale = if max < f64::from(f32::MIN_POSITIVE) {
                1.0
            } else {
                1.0 / max
            };
            out.push(raw.iter().map(|v| (v * scale) as f32).collect());
        });
        out
    }
}

/// `librosa.filters.chroma(sr, n_fft, n_chroma, tuning, ctroct=5.0, octwidth=2, norm=2,
/// base_c=True)`.
fn chroma_filters(sr: f64, n_fft: usize, n_chroma: usize, tuning: f64) -> Vec<Vec<f32>> {
    let nc = n_chroma as f64;
    let a440 = 440.0 * 2f64.powf(tuning / nc);
    // frqbins over every FFT bin but DC, then DC placed 1.5 octaves below bin 1.
    let mut frqbins: Vec<f64> = (1..n_fft)
        .map(|i| nc * (i as f64 * sr / n_fft as f64 / (a440 / 16.0)).log2())
        .collect();
    frqbins.insert(0, frqbins[0] - 1.5 * nc);
    let mut widths: Vec<f64> = frqbins.windows(2).map(|w| (w[1] - w[0]).max(1.0)).collect();
    widths.push(1.0);
    let half = (nc / 2.0).round();
    let mut wts = vec![vec![0.0f64; n_fft]; n_chroma];
    for (j, (&f, &w)) in frqbins.iter().zip(&widths).enumerate() {
        let mut column: Vec<f64> = (0..n_chroma)
            .map(|c| {
                let d = (f - c as f64 + half + 10.0 * nc).rem_euclid(nc) - half;
                (-0.5 * (2.0 * d / w).powi(2)).exp()
            })
            .collect();
        let norm = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > f64::MIN_POSITIVE {
            column.iter_mut().for_each(|v| *v /= norm);
        }
        let octave_weight = (-0.5 * ((f / nc - 5.0) / 2.0).powi(2)).exp();
        for (c, v) in column.into_iter().enumerate() {
            wts[c][j] = v * octave_weight;
        }
    }
    // base_c: roll so that row 0 is C (3 bins up from A).
    wts.rotate_left(3 * (n_chroma / 12));
    wts.into_iter()
        .map(|row| row[..n_fft / 2 + 1].iter().map(|&v| v as f32).collect())
        .collect()
}

impl FrameFeatures for Chroma {
    fn name(&self) -> &'static str {
        "chroma"
    }

    fn definition(&self) -> String {
        format!("chroma v1 librosa-0.11-compatible {:?}", self.config)
    }

    fn framing(&self) -> Framing {
        framing_of!(self.config)
    }

    fn dims(&self) -> usize {
        self.config.n_chroma
    }

    fn frames(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        self.features(samples)
    }
}

/// Spectral statistics per frame, as librosa's defaults compute them: centroid, bandwidth
/// (`p=2`), roll-off (`roll_percent`), flatness (on the power spectrum), RMS and zero-crossing
/// rate (frames of `n_fft`, centred).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectralConfig {
    /// Sample rate the audio is resampled to, in Hz.
    #[serde(default = "d_sr")]
    pub sample_rate_hz: u32,
    /// FFT size (and frame length of RMS and zero-crossing rate).
    #[serde(default = "d_n_fft")]
    pub n_fft: usize,
    /// Hop between frames, in samples.
    #[serde(default = "d_hop")]
    pub hop_length: usize,
    /// Roll-off energy fraction.
    #[serde(default = "d_roll")]
    pub roll_percent: f64,
    /// Summary window in seconds; `None`: the whole track.
    #[serde(default)]
    pub window_s: Option<f64>,
    /// Hop between summary windows in seconds; default `window_s`.
    #[serde(default)]
    pub hop_s: Option<f64>,
}

/// The names of the spectral statistics, in embedding order.
pub const SPECTRAL_FEATURES: [&str; 6] =
    ["centroid", "bandwidth", "rolloff", "flatness", "rms", "zcr"];

/// The spectral statistics embedder.
pub struct Spectral {
    config: SpectralConfig,
    stft: Stft,
}

impl std::fmt::Debug for Spectral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spectral")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Spectral {
    /// Checks the parameters.
    pub fn new(config: SpectralConfig) -> Result<Self> {
        if config.n_fft < 2 || config.hop_length == 0 || !(0.0..1.0).contains(&config.roll_percent)
        {
            return Err(Error::InvalidConfig {
                model: "spectral".into(),
                reason: "n_fft must be >= 2, hop_length > 0 and 0 < roll_percent < 1".into(),
            });
        }
        Ok(Self {
            stft: Stft::new(config.n_fft, config.hop_length),
            config,
        })
    }

    /// Frame features in the order of [`SPECTRAL_FEATURES`].
    pub fn features(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let c = &self.config;
        let n = c.n_fft;
        let sr = f64::from(c.sample_rate_hz);
        let freqs: Vec<f64> = (0..n / 2 + 1).map(|k| k as f64 * sr / n as f64).collect();
        let mut out = Vec::new();
        self.stft.power_frames(samples, |power| {
            let mag: Vec<f64> = power.iter().map(|&p| f64::from(p).sqrt()).collect();
            let total: f64 = mag.iter().sum();
            let (centroid, bandwidth, rolloff) = if total > 0.0 {
                let centroid = freqs.iter().zip(&mag).map(|(f, m)| f * m).sum::<f64>() / total;
                let bandwidth = freqs
                    .iter()
                    .zip(&mag)
                    .map(|(f, m)| m / total * (f - centroid).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let threshold = c.roll_percent * total;
                let mut acc = 0.0;
                let k = mag
                    .iter()
                    .position(|m| {
                        acc += m;
                        acc >= threshold
                    })
                    .unwrap_or(mag.len() - 1);
                (centroid, bandwidth, freqs[k])
            } else {
                (0.0, 0.0, 0.0)
            };
            let p: Vec<f64> = power.iter().map(|&p| f64::from(p).max(1e-10)).collect();
            let geo = (p.iter().map(|v| v.ln()).sum::<f64>() / p.len() as f64).exp();
            let flatness = geo / (p.iter().sum::<f64>() / p.len() as f64);
            out.push(vec![
                centroid as f32,
                bandwidth as f32,
                rolloff as f32,
                flatness as f32,
            ]);
        });
        // RMS (centred, zero padding) and zero-crossing rate (centred, edge padding).
        let pad = n / 2;
        let hop = c.hop_length;
        for (t, row) in out.iter_mut().enumerate() {
            let start = (t * hop) as i64 - pad as i64;
            let at_zero = |i: i64| -> f32 {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| samples.get(i))
                    .copied()
                    .unwrap_or(0.0)
            };
            let at_edge = |i: i64| -> f32 {
                if samples.is_empty() {
                    0.0
                } else {
                    samples[i.clamp(0, samples.len() as i64 - 1) as usize]
                }
            };
            let energy: f64 = (0..n as i64)
                .map(|j| f64::from(at_zero(start + j)).powi(2))
                .sum();
            row.push((energy / n as f64).sqrt() as f32);
            // librosa.zero_crossings(threshold=1e-10, zero_pos=True): |x| <= threshold is 0,
            // and 0 counts as positive; the first sample of a frame is never a crossing.
            let sign = |x: f32| f64::from(x).abs() > 1e-10 && x < 0.0;
            let crossings = (1..n as i64)
                .filter(|&j| sign(at_edge(start + j)) != sign(at_edge(start + j - 1)))
                .count();
            row.push((crossings as f64 / n as f64) as f32);
        }
        out
    }
}

impl FrameFeatures for Spectral {
    fn name(&self) -> &'static str {
        "spectral"
    }

    fn definition(&self) -> String {
        format!("spectral v1 librosa-0.11-compatible {:?}", self.config)
    }

    fn framing(&self) -> Framing {
        framing_of!(self.config)
    }

    fn dims(&self) -> usize {
        SPECTRAL_FEATURES.len()
    }

    fn frames(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        self.features(samples)
    }
}
