//! Mono 16-bit PCM WAV, for audio people listen to (kept deformations, fixtures).

use std::path::Path;

use crate::{Audio, Error, Result};

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
