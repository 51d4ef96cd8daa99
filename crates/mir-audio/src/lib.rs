//! The audio primitives several of mir-ref's crates need, written once: decoding with mono
//! mix-down and resampling, the centred STFT and the Slaney mel filterbank, argmax, digests.
//!
//! Reads and writes no table, and knows nothing of datasets, models or metrics: it is one of
//! the two leaf crates (with `mir-table`) that the libraries may depend on, so the copies they
//! used to keep (a decoder in mir-datasets and another in mir-deform, a mel filterbank in
//! mir-embed and another in mir-report, an argmax in three crates) cannot drift apart.
//!
//! The key design decision is to decode by streaming: [`AudioReader`] turns decoded blocks
//! into mono samples at the wanted rate chunk by chunk (rubato's FFT resampler), so memory is a
//! few packets whatever the file's length, and [`load`] is that reader read to the end.
//!
//! ```
//! let sr = 22_050;
//! let tone: Vec<f32> = (0..sr).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / sr as f32).sin()).collect();
//! let audio = mir_audio::Audio { samples: tone, sample_rate_hz: sr };
//! let wav = mir_audio::wav_bytes(&audio).unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("a4.wav");
//! std::fs::write(&path, wav).unwrap();
//! let back = mir_audio::load(&path, Some(16_000)).unwrap();
//! assert_eq!(back.samples.len(), 16_000);
//! let frames = mir_audio::spectral::power_frames(&back.samples, 1024, 256);
//! let loudest = mir_audio::argmax(&frames[10]).unwrap();
//! assert_eq!(loudest, (440.0_f32 * 1024.0 / 16_000.0).round() as usize); // bin of 440 Hz
//! ```

mod au;
mod decode;
mod pcm;
mod resample;
mod source;
pub mod spectral;
mod wav;

use std::path::PathBuf;

pub use decode::{Audio, AudioReader, Window, Windows, decode_planar, duration_s, load, mix_down};
pub use resample::resample;
pub use wav::{wav_bytes, write_wav};

/// Errors of decoding, resampling and writing audio.
///
/// Every error concerns one file: a pipeline may record the track and go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An audio file (or in-memory stream) cannot be decoded.
    #[error("cannot decode audio file `{}`: {reason}", path.display())]
    Decode {
        /// The file (or a label for an in-memory stream).
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// Resampling failed.
    #[error("resampling from {from_hz} Hz to {to_hz} Hz: {reason}")]
    Resample {
        /// Input rate.
        from_hz: f64,
        /// Output rate.
        to_hz: f64,
        /// The resampler's message.
        reason: String,
    },
    /// A file cannot be read or written.
    #[error("cannot access `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    fn decode(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Error::Decode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A music-like test signal for benchmarks and generated fixtures: `frames` samples at
/// `sample_rate_hz` of four partials (220, 277.2, 329.6 and 440 Hz, each times `detune`) with
/// a 5 Hz vibrato, each partial at `amplitude`.
pub fn chord(frames: usize, sample_rate_hz: u32, amplitude: f32, detune: f32) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            let t = i as f32 / sample_rate_hz as f32;
            [220.0, 277.2, 329.6, 440.0]
                .iter()
                .map(|f| {
                    (std::f32::consts::TAU * f * detune * t + (5.0 * t).sin()).sin() * amplitude
                })
                .sum()
        })
        .collect()
}

/// The index of the highest score, as `numpy.argmax` picks it: the first of equal maxima, and
/// the first NaN if there is one (a NaN score wins, so a broken probe shows up as wrong
/// predictions rather than as a silently different class); `None` for no scores.
pub fn argmax(scores: &[f32]) -> Option<usize> {
    if let Some(nan) = scores.iter().position(|s| s.is_nan()) {
        return Some(nan);
    }
    scores
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f32)>, (i, &s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((i, s)),
        })
        .map(|(i, _)| i)
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SHA-256 of `bytes` as 64 lowercase hex digits (model files, downloads, cache keys).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_is_numpys() {
        // numpy 2.4.6: argmax([0.2, 0.5, 0.5]) == 1, argmax([nan, 0.1]) == 0,
        // argmax([0.5, nan]) == 1, argmax([-inf, -inf]) == 0.
        assert_eq!(argmax(&[0.2, 0.5, 0.5]), Some(1));
        assert_eq!(argmax(&[f32::NAN, 0.1]), Some(0));
        assert_eq!(argmax(&[0.5, f32::NAN]), Some(1));
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), Some(0));
        assert_eq!(argmax(&[]), None);
    }

    #[test]
    fn digests_are_hex() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
