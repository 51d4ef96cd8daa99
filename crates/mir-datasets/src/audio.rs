//! Audio loading: decode, mix down to mono, resample.

use std::path::Path;

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::{Error, Result};

/// Mono audio at a known sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Samples in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }
}

/// Reads the duration of a WAV file from its header, without decoding it.
pub fn wav_duration_s(path: &Path) -> Result<f64> {
    let reader = hound::WavReader::open(path).map_err(|e| Error::decode(path, e))?;
    let spec = reader.spec();
    Ok(f64::from(reader.duration()) / f64::from(spec.sample_rate))
}

/// Decodes `path`, mixes it down to mono and resamples it to `sample_rate_hz` (`None` keeps
/// the file's rate).
///
/// A missing, corrupt or unsupported file is an [`Error::Decode`] naming the path: callers may
/// record it and skip the track.
pub fn load(path: &Path, sample_rate_hz: Option<u32>) -> Result<Audio> {
    let mut reader = hound::WavReader::open(path).map_err(|e| Error::decode(path, e))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| Error::decode(path, e))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| Error::decode(path, e))?
        }
    };
    let mono = mix_down(&interleaved, channels);
    let audio = Audio {
        samples: mono,
        sample_rate_hz: spec.sample_rate,
    };
    match sample_rate_hz {
        Some(rate) if rate != audio.sample_rate_hz => resample(&audio, rate).map_err(|e| match e {
            Error::Resample { reason, .. } => Error::Resample {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        }),
        _ => Ok(audio),
    }
}

/// Averages interleaved channels into one.
pub fn mix_down(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels <= 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect()
}

/// Resamples with rubato's FFT resampler (band-limited, delay trimmed).
pub fn resample(audio: &Audio, sample_rate_hz: u32) -> Result<Audio> {
    let err = |reason: String| Error::Resample {
        path: Default::default(),
        reason,
    };
    if audio.samples.is_empty() {
        return Ok(Audio {
            samples: vec![],
            sample_rate_hz,
        });
    }
    let n = audio.samples.len();
    let input = InterleavedSlice::new(&audio.samples, 1, n).map_err(|e| err(e.to_string()))?;
    let mut resampler = Fft::<f32>::new(
        audio.sample_rate_hz as usize,
        sample_rate_hz as usize,
        1024,
        1,
        FixedSync::Both,
    )
    .map_err(|e| err(e.to_string()))?;
    let out = resampler
        .process_all(&input, n, None)
        .map_err(|e| err(e.to_string()))?;
    Ok(Audio {
        samples: out.take_data(),
        sample_rate_hz,
    })
}

/// Writes mono 16-bit PCM WAV.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    let bytes = wav_bytes(audio)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Encodes mono 16-bit PCM WAV in memory (samples clipped to `[-1, 1]`).
pub fn wav_bytes(audio: &Audio) -> Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let io = |e: hound::Error| Error::Io {
        path: "<in-memory WAV>".into(),
        source: std::io::Error::other(e),
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut cursor, spec).map_err(io)?;
    for &s in &audio.samples {
        writer
            .write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
            .map_err(io)?;
    }
    writer.finalize().map_err(io)?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_down_averages_frames() {
        assert_eq!(mix_down(&[1.0, 0.0, 0.5, 0.5], 2), vec![0.5, 0.5]);
    }

    #[test]
    fn resampling_keeps_duration_and_frequency() {
        let sr = 44_100;
        let samples: Vec<f32> = (0..sr)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / sr as f32).sin())
            .collect();
        let out = resample(
            &Audio {
                samples,
                sample_rate_hz: sr,
            },
            22_050,
        )
        .unwrap();
        assert_eq!(out.samples.len(), 22_050);
        // Zero crossings of a 440 Hz sine over one second: 880, give or take the edges.
        let crossings = out
            .samples
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        assert!((439..=441).contains(&crossings), "{crossings}");
    }

    #[test]
    fn corrupt_file_is_a_decode_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.wav");
        std::fs::write(&path, b"RIFF\0\0\0\0WAVEjunk").unwrap();
        let err = load(&path, None).unwrap_err();
        assert!(matches!(err, Error::Decode { .. }));
        assert!(err.to_string().contains("broken.wav"), "{err}");
    }
}
