//! Audio by the `audio_uri` of a `tracks` row: a local path, or an object-store URL
//! (`s3://bucket/key`, `gs://...`, `az://...`) read by ranged GETs
//! ([`mir_table::remote::ObjectReader`]), so a dataset on a bucket needs no local copy.

use std::path::Path;

use mir_audio::{Audio, AudioReader};
use mir_table::remote;

use crate::Result;

/// Opens the audio at `uri` for reading at `sample_rate_hz` (`None`: the file's rate).
pub fn open(uri: &str, sample_rate_hz: Option<u32>) -> Result<AudioReader> {
    let label = Path::new(uri);
    if !remote::is_url(uri) {
        return Ok(AudioReader::open(label, sample_rate_hz)?);
    }
    let reader = remote::ObjectReader::open(uri).map_err(|e| mir_audio::Error::Decode {
        path: label.to_path_buf(),
        reason: e.to_string(),
    })?;
    let len = reader.size();
    Ok(AudioReader::from_reader(
        reader,
        Some(len),
        label,
        sample_rate_hz,
    )?)
}

/// The whole audio at `uri`, mono, at `sample_rate_hz` (`None`: the file's rate); the samples
/// of [`mir_audio::load`] for a path.
pub fn load(uri: &str, sample_rate_hz: Option<u32>) -> Result<Audio> {
    Ok(open(uri, sample_rate_hz)?.read_to_end()?)
}

/// Whether there is a file or object at `uri`.
pub fn exists(uri: &str) -> Result<bool> {
    if !remote::is_url(uri) {
        return Ok(Path::new(uri).is_file());
    }
    match remote::head(uri) {
        Ok(_) => Ok(true),
        Err(mir_table::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What identifies the content at `uri` for caches: size and modification time of a file,
/// size and ETag (else modification time) of an object; `unreadable` when neither can be had.
pub fn version(uri: &str) -> String {
    if remote::is_url(uri) {
        return remote::head(uri).map_or_else(
            |_| "unreadable".into(),
            |i| format!("{} {}", i.size, i.version),
        );
    }
    std::fs::metadata(uri)
        .ok()
        .and_then(|m| {
            let modified = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            Some(format!("{} {}", m.len(), modified.as_nanos()))
        })
        .unwrap_or_else(|| "unreadable".into())
}

/// The duration of the track at `uri` for its `tracks` row, from the container header where
/// it says (a few ranged reads for an object); NaN, with a warning, when it cannot be read, so
/// that one corrupt file does not stop a dataset from loading (the extraction then fails on it,
/// records it and skips it).
pub fn track_duration_s(uri: &str) -> f64 {
    match open(uri, None).and_then(|reader| Ok(reader.duration_s()?)) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!("{e}");
            f64::NAN
        }
    }
}
