//! Audio that deformations read or round-trip: decoding with symphonia, resampling with rubato,
//! and the folders of impulse responses and noise recordings.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

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
    let (channels, sample_rate_hz) = decode(Box::new(file), path)?;
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

/// Decodes a whole stream to planar `f32`; returns the channels and the sample rate. Encoder
/// delay and padding that the container declares (LAME tag, iTunes gapless) are trimmed.
pub(crate) fn decode(source: Box<dyn MediaSource>, path: &Path) -> Result<(Vec<Vec<f32>>, u32)> {
    let err = |reason: String| Error::Decode {
        path: path.to_path_buf(),
        reason,
    };
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mss = MediaSourceStream::new(source, Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| err(e.to_string()))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| err("no audio track".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| err("no audio codec parameters".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| err(e.to_string()))?;
    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut rate = 0;
    let mut interleaved: Vec<f32> = Vec::new();
    while let Some(packet) = format.next_packet().map_err(|e| err(e.to_string()))? {
        if packet.track_id != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).map_err(|e| err(e.to_string()))?;
        let n_channels = decoded.spec().channels().count();
        rate = decoded.spec().rate();
        if channels.is_empty() {
            channels = vec![Vec::new(); n_channels];
        }
        decoded.copy_to_vec_interleaved(&mut interleaved);
        let frames = decoded.frames();
        // Decoders that do not trim delay and padding themselves produce the block's full
        // duration; trim what the packet declares.
        let valid = packet.dur.get() as usize;
        let (skip, take) = if frames > valid {
            let start = (packet.trim_start.get() as usize).min(frames);
            (start, valid.min(frames - start))
        } else {
            (0, frames)
        };
        for (c, channel) in channels.iter_mut().enumerate() {
            channel.extend(
                interleaved
                    .iter()
                    .skip(c)
                    .step_by(n_channels)
                    .skip(skip)
                    .take(take),
            );
        }
    }
    if channels.is_empty() {
        return Err(err("no audio frames".into()));
    }
    Ok((channels, rate))
}

/// Decodes an in-memory stream (the MP3 round trip).
pub(crate) fn decode_bytes(bytes: Vec<u8>, label: &str) -> Result<(Vec<Vec<f32>>, u32)> {
    decode(Box::new(Cursor::new(bytes)), Path::new(label))
}

/// Band-limited resampling of one channel: rubato's FFT resampler for integer rates, its sinc
/// resampler for any other ratio (pitch shift). The resampler's delay is trimmed, and the output
/// has `round(len * to / from)` samples.
pub fn resample(samples: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>> {
    if from_hz == to_hz || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let err = |reason: String| Error::Resample {
        from_hz,
        to_hz,
        reason,
    };
    let n = samples.len();
    let wanted = (n as f64 * to_hz / from_hz).round() as usize;
    let input = InterleavedSlice::new(samples, 1, n).map_err(|e| err(e.to_string()))?;
    let integer = |r: f64| r.fract() == 0.0 && r > 0.0 && r < f64::from(u32::MAX);
    let mut resampler: Box<dyn Resampler<f32>> = if integer(from_hz) && integer(to_hz) {
        Box::new(
            Fft::<f32>::new(from_hz as usize, to_hz as usize, 1024, 1, FixedSync::Both)
                .map_err(|e| err(e.to_string()))?,
        )
    } else {
        let params = SincInterpolationParameters {
            sinc_len: 128,
            f_cutoff: None,
            oversampling_factor: 256,
            interpolation: SincInterpolationType::Linear,
            window: WindowFunction::BlackmanHarris2,
        };
        Box::new(
            Async::<f32>::new_sinc(to_hz / from_hz, 1.0, &params, 1024, 1, FixedAsync::Input)
                .map_err(|e| err(e.to_string()))?,
        )
    };
    let out = resampler
        .process_all(&input, n, None)
        .map_err(|e| err(e.to_string()))?;
    let mut out = out.take_data();
    out.resize(wanted, 0.0);
    Ok(out)
}
