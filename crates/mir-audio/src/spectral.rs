//! The centred STFT and the Slaney mel filterbank, as librosa computes them (checked against
//! librosa 0.11 by mir-embed's tests).

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// A short-time Fourier transform plan: periodic Hann window of `n_fft` samples every `hop`,
/// centred frames (`center=True`, zero padding, as librosa's default). Build once, use from
/// many threads.
#[derive(Clone)]
pub struct Stft {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    hop: usize,
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft")
            .field("n_fft", &self.window.len())
            .field("hop", &self.hop)
            .finish()
    }
}

impl Stft {
    /// A plan for frames of `n_fft` samples every `hop` (both at least 1).
    pub fn new(n_fft: usize, hop: usize) -> Self {
        let n_fft = n_fft.max(1);
        Self {
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n_fft),
            window: hann(n_fft),
            hop: hop.max(1),
        }
    }

    /// Frequency bins per frame: `n_fft / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.window.len() / 2 + 1
    }

    /// The power spectrum of each frame, handed to `each` frame by frame: `1 + len / hop`
    /// frames of [`Stft::bins`] values.
    pub fn power_frames(&self, samples: &[f32], mut each: impl FnMut(&[f32])) {
        let n = self.window.len();
        let pad = n / 2;
        let mut padded = vec![0.0f32; samples.len() + 2 * pad];
        padded[pad..pad + samples.len()].copy_from_slice(samples);
        let frames = if padded.len() >= n {
            1 + (padded.len() - n) / self.hop
        } else {
            0
        };
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; spectrum.len()];
        for f in 0..frames {
            let frame = &padded[f * self.hop..f * self.hop + n];
            for ((x, &s), &w) in input.iter_mut().zip(frame).zip(&self.window) {
                *x = s * w;
            }
            self.fft
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffers come from the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            each(&power);
        }
    }
}

/// Every frame's power spectrum of `samples` ([`Stft::power_frames`] collected).
pub fn power_frames(samples: &[f32], n_fft: usize, hop: usize) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    Stft::new(n_fft, hop).power_frames(samples, |p| out.push(p.to_vec()));
    out
}

/// `scipy.signal.get_window("hann", n, fftbins=True)`: the periodic Hann window.
pub fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32)
        .collect()
}

/// Hz to mel on Slaney's auditory toolbox scale (librosa's `htk=False`).
pub fn hz_to_mel(f: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= min_log_hz {
        min_log_mel + (f / min_log_hz).ln() / logstep
    } else {
        f / f_sp
    }
}

/// Mel to Hz, the inverse of [`hz_to_mel`].
pub fn mel_to_hz(m: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= min_log_mel {
        min_log_hz * (logstep * (m - min_log_mel)).exp()
    } else {
        f_sp * m
    }
}

/// One mel band as a contiguous run of non-zero FFT-bin weights.
#[derive(Debug, Clone, PartialEq)]
pub struct MelBand {
    /// The first bin with a non-zero weight.
    pub start: usize,
    /// The weights from `start` on.
    pub weights: Vec<f32>,
}

impl MelBand {
    /// The band's energy in a power spectrum.
    pub fn apply(&self, power: &[f32]) -> f32 {
        // Eight running sums, so the compiler can keep them in one vector register: a
        // single sum is a chain of dependent additions, the slowest part of a mel frame.
        const LANES: usize = 8;
        let power = power.get(self.start..).unwrap_or_default();
        let n = self.weights.len().min(power.len());
        let (w_chunks, p_chunks) = (
            self.weights[..n].chunks_exact(LANES),
            power[..n].chunks_exact(LANES),
        );
        let tail: f32 = (w_chunks.remainder().iter())
            .zip(p_chunks.remainder())
            .map(|(w, p)| w * p)
            .sum();
        let mut sums = [0.0f32; LANES];
        for (w, p) in w_chunks.zip(p_chunks) {
            for k in 0..LANES {
                sums[k] += w[k] * p[k];
            }
        }
        sums.iter().sum::<f32>() + tail
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney")`, stored
/// sparsely.
pub fn mel_filterbank(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Vec<MelBand> {
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
            MelBand {
                start,
                weights: dense[start..end].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for f in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11025.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-6);
        }
    }

    #[test]
    fn frame_count_matches_librosa_center_true() {
        // librosa: 1 + len // hop frames.
        assert_eq!(
            power_frames(&vec![0.1; 22_050], 2048, 512).len(),
            1 + 22_050 / 512
        );
        assert_eq!(power_frames(&[0.1; 100], 2048, 512).len(), 1);
    }
}
