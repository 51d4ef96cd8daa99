//! Mel spectrogram images for the confusion-matrix pages.
//!
//! Centred short-time Fourier transform (Hann window of 1,024 samples, hop 512: librosa's
//! default hop, a column per 23 ms at 22.05 kHz), power summed
//! into 96 Slaney-normalised mel bands (librosa's `filters.mel` defaults) from 0 Hz to the
//! Nyquist frequency (both from `mir-audio`), in decibels relative to the loudest bin over an 80 dB range, coloured
//! with a perceptually ordered map (dark: quiet, yellow: loud), low frequencies at the bottom.
//! Frames are averaged in groups so an image is at most [`MAX_WIDTH`] pixels wide.

use mir_audio::spectral::{MelBand, Stft, mel_filterbank};

use crate::{Error, Result};

/// Samples per analysis window.
pub const N_FFT: usize = 1024;
/// Samples between windows: half a window, as librosa's displays have it. A finer hop
/// doubled the cost of the report's spectrograms (`benches/spectrogram.rs`, one core: a 2 s
/// image 0.30 ms against 0.16, 30 s 3.9 ms against 2.2) for images shown 480 pixels wide,
/// where a 30 s track has 1,292 columns at this hop before averaging.
pub const HOP: usize = 512;
/// Mel bands (image height in pixels).
pub const N_MELS: usize = 96;
/// Widest image, in pixels.
pub const MAX_WIDTH: usize = 640;
/// Decibels per neper of power: `10 / ln 10`.
const DB_PER_NEPER: f32 = 10.0 / std::f32::consts::LN_10;
/// Dynamic range shown, in dB.
pub const TOP_DB: f32 = 80.0;

/// Colours of [`Renderer`]'s palette: an image is indexed colour, one byte per pixel, each
/// within one step of a channel of the exact [`colour`] of its level.
const LEVELS: usize = 256;

/// Renders mel spectrogram images of audio at one sample rate. It plans the STFT and the
/// filterbank once, so one renderer serves any number of images (from any thread).
#[derive(Debug)]
pub struct Renderer {
    bands: Vec<MelBand>,
    stft: Stft,
    /// [`colour`] at `LEVELS` evenly spaced points of `[0, 1]`.
    palette: Vec<[u8; 3]>,
}

impl Renderer {
    /// A renderer for audio at `sample_rate_hz` (above 0).
    pub fn new(sample_rate_hz: u32) -> Result<Self> {
        if sample_rate_hz == 0 {
            return Err(Error::Input(
                "a spectrogram needs a sample rate above 0".into(),
            ));
        }
        let sr = f64::from(sample_rate_hz);
        let palette = (0..LEVELS)
            .map(|i| colour(i as f32 / (LEVELS - 1) as f32))
            .collect();
        Ok(Self {
            bands: mel_filterbank(sr, N_FFT, N_MELS, 0.0, sr / 2.0),
            stft: Stft::new(N_FFT, HOP),
            palette,
        })
    }

    /// Power mel spectrogram, `[frame][band]`, frames averaged to at most [`MAX_WIDTH`]: the
    /// centred STFT and Slaney filterbank of `mir-audio` (librosa's `melspectrogram`
    /// defaults).
    pub fn mel_power(&self, samples: &[f32]) -> Vec<[f32; N_MELS]> {
        let frames = 1 + samples.len() / HOP;
        let group = frames.div_ceil(MAX_WIDTH);
        let mut out = Vec::with_capacity(frames.div_ceil(group));
        let mut acc = [0.0f32; N_MELS];
        let (mut in_group, mut seen) = (0, 0);
        self.stft.power_frames(samples, |power| {
            for (a, band) in acc.iter_mut().zip(&self.bands) {
                *a += band.apply(power);
            }
            in_group += 1;
            seen += 1;
            if in_group == group || seen == frames {
                out.push(acc.map(|v| v / in_group as f32));
                acc = [0.0; N_MELS];
                in_group = 0;
            }
        });
        out
    }

    /// The mel spectrogram of `samples` (mono) as a PNG image: a column per (averaged)
    /// frame, a row per mel band, low frequencies at the bottom.
    pub fn png(&self, samples: &[f32]) -> Result<Vec<u8>> {
        let mut db = self.mel_power(samples);
        for v in db.iter_mut().flatten() {
            // 10 log10 through the natural log: glibc's `logf` is the faster of the two.
            *v = DB_PER_NEPER * v.max(1e-12).ln();
        }
        let top = db
            .iter()
            .flatten()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        let (floor, scale) = (top - TOP_DB, (LEVELS - 1) as f32 / TOP_DB);
        let width = db.len();
        let mut pixels = Vec::with_capacity(width * N_MELS);
        for band in (0..N_MELS).rev() {
            // A saturating cast: below the range is colour 0, NaN too; above it, the last.
            pixels.extend(db.iter().map(|f| ((f[band] - floor) * scale + 0.5) as u8));
        }
        let palette = Some(self.palette.as_slice());
        crate::encode_png(&pixels, width as u32, N_MELS as u32, palette)
    }
}

/// Colour map anchors (magma-like): black, purple, red-orange, yellow, near white.
const MAP: [(f32, [u8; 3]); 5] = [
    (0.0, [0, 0, 4]),
    (0.25, [80, 18, 123]),
    (0.5, [182, 54, 121]),
    (0.75, [251, 136, 97]),
    (1.0, [252, 253, 191]),
];

/// The colour of `t` in `[0, 1]`.
pub fn colour(t: f32) -> [u8; 3] {
    let t = t.clamp(0.0, 1.0);
    let i = MAP
        .iter()
        .position(|(x, _)| *x >= t)
        .unwrap_or(MAP.len() - 1)
        .max(1);
    let ((x0, c0), (x1, c1)) = (MAP[i - 1], MAP[i]);
    let u = (t - x0) / (x1 - x0);
    [0, 1, 2].map(|k| (f32::from(c0[k]) + u * (f32::from(c1[k]) - f32::from(c0[k]))).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    use mir_audio::spectral::{hz_to_mel, mel_to_hz};

    #[test]
    fn a_tone_lights_the_band_of_its_frequency() {
        let sr = 22050;
        let tone: Vec<f32> = (0..sr)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / sr as f32).sin())
            .collect();
        let power = Renderer::new(sr as u32).unwrap().mel_power(&tone);
        let frame = &power[power.len() / 2];
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap();
        let (lo, hi) = (
            mel_to_hz(hz_to_mel(11025.0) * loudest as f64 / (N_MELS + 1) as f64),
            mel_to_hz(hz_to_mel(11025.0) * (loudest + 2) as f64 / (N_MELS + 1) as f64),
        );
        assert!(lo < 1000.0 && 1000.0 < hi, "band {loudest}: {lo}-{hi} Hz");
        // Slaney's scale: 1 kHz is exactly 15 mel.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((mel_to_hz(hz_to_mel(3000.0)) - 3000.0).abs() < 1e-9);
    }

    #[test]
    fn the_palette_is_within_one_step_of_the_colour_map() {
        let renderer = Renderer::new(22050).unwrap();
        for i in 0..=10_000 {
            let t = i as f32 / 10_000.0;
            let level = (t * (LEVELS - 1) as f32 + 0.5) as u8 as usize;
            let (got, want) = (renderer.palette[level], colour(t));
            for k in 0..3 {
                assert!(got[k].abs_diff(want[k]) <= 1, "t {t}: {got:?} vs {want:?}");
            }
        }
        assert!(Renderer::new(0).is_err());
    }

    #[test]
    fn long_audio_is_averaged_to_the_maximum_width() {
        let long = vec![0.1f32; 22050 * 60];
        let renderer = Renderer::new(22050).unwrap();
        let power = renderer.mel_power(&long);
        assert!(
            power.len() <= MAX_WIDTH && power.len() > MAX_WIDTH / 2,
            "{}",
            power.len()
        );
        let image = renderer.png(&long).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(image));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().height as usize, N_MELS);
        assert_eq!(reader.info().width as usize, power.len());
    }
}
