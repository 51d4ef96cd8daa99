//! Audio that deformations read or round-trip (decoded and resampled by `mir-audio`), and the
//! folders of impulse responses and noise recordings.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Audio, Error, Result};

/// File extensions treated as audio when a folder is searched.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg", "m4a"];

/// The audio files at `path`: the file itself, or every audio file under the folder, sorted so
/// that a seeded draw picks the same file on every machine. Listings are cached per path.
pub fn list(path: &Path) -> Result<Arc<Vec<PathBuf>>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<Vec<PathBuf>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().expect("cache lock").get(path) {
        return Ok(found.clone());
    }
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mut found = Vec::new();
    if meta.is_file() {
        found.push(path.to_path_buf());
    } else {
        let mut stack = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io)? {
                let p = entry.map_err(io)?.path();
                if p.is_dir() {
                    stack.push(p);
                } else if is_audio(&p) {
                    found.push(p);
                }
            }
        }
        found.sort();
    }
    if found.is_empty() {
        return Err(Error::NoAudioFiles {
            path: path.to_path_buf(),
            extensions: AUDIO_EXTENSIONS.join(", "),
        });
    }
    let found = Arc::new(found);
    cache
        .lock()
        .expect("cache lock")
        .insert(path.to_path_buf(), found.clone());
    Ok(found)
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes a whole file (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A) with all its channels at its own
/// rate.
pub fn load(path: &Path) -> Result<Audio> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (channels, sample_rate_hz) = mir_audio::decode_planar(Box::new(file), path)?;
    Ok(Audio {
        channels,
        sample_rate_hz,
    })
}

/// Decodes a file, mixes it to mono and resamples it to `sample_rate_hz`.
pub fn load_mono(path: &Path, sample_rate_hz: u32) -> Result<Vec<f32>> {
    let audio = load(path)?;
    let rate = audio.sample_rate_hz;
    resample(
        &audio.into_mono(),
        f64::from(rate),
        f64::from(sample_rate_hz),
    )
}

/// Writes 32-bit float WAV with every channel, unclipped: what a deformation produced, exactly.
pub fn write_wav(path: &Path, audio: &Audio) -> Result<()> {
    let io = |e: hound::Error| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    };
    let channels =
        u16::try_from(audio.channels.len()).map_err(|_| io(hound::Error::Unsupported))?;
    let spec = hound::WavSpec {
        channels,
        sample_rate: audio.sample_rate_hz,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).map_err(io)?;
    for i in 0..audio.frames() {
        for c in &audio.channels {
            writer.write_sample(c[i]).map_err(io)?;
        }
    }
    writer.finalize().map_err(io)
}

/// [`load_mono`], cached per (file, rate): for short files read for every track (impulse
/// responses).
pub fn load_mono_cached(path: &Path, sample_rate_hz: u32) -> Result<Arc<Vec<f32>>> {
    type Cache = Mutex<HashMap<(PathBuf, u32), Arc<Vec<f32>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (path.to_path_buf(), sample_rate_hz);
    if let Some(found) = cache.lock().expect("cache lock").get(&key) {
        return Ok(found.clone());
    }
    let loaded = Arc::new(load_mono(path, sample_rate_hz)?);
    cache
        .lock()
        .expect("cache lock")
        .insert(key, loaded.clone());
    Ok(loaded)
}

/// Decodes an in-memory stream (the MP3 round trip) with every channel.
pub(crate) fn decode_bytes(bytes: Vec<u8>, label: &str) -> Result<(Vec<Vec<f32>>, u32)> {
    Ok(mir_audio::decode_planar(
        Box::new(Cursor::new(bytes)),
        Path::new(label),
    )?)
}

/// [`mir_audio::resample`] (band-limited; FFT for integer rates, sinc for any ratio), with this
/// crate's error.
pub fn resample(samples: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>> {
    Ok(mir_audio::resample(samples, from_hz, to_hz)?)
}
