//! The media of the confusion pages: links to each track's original and kept deformed audio,
//! relative to `report/confusion/`, and their spectrograms (rendered on every core, named by a
//! hash of the audio file's path, size and time so reruns reuse them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mir_report::confusion::{Media, TrackMedia};
use mir_table::layout::{ReportFile, run_file_from_page};
use mir_table::{RunLayout, TableStore, Track};
use serde_json::Value;
use tracing::warn;

/// Seconds of audio a spectrogram shows (the start of the track).
const SPECTROGRAM_S: usize = 30;
/// Sample rate spectrograms are computed at.
const SPECTROGRAM_HZ: u32 = 22050;

/// Links and spectrograms of tracks' audio, as seen from `report/confusion/`.
pub struct MediaMaker<'a> {
    store: &'a TableStore,
    /// The run directory on disk, when it is local.
    root: Option<PathBuf>,
    /// Tracks given spectrograms so far, per dataset.
    counted: BTreeMap<String, BTreeSet<String>>,
    limit: usize,
    done: BTreeMap<(String, String), TrackMedia>,
    /// Spectrograms to render, and their audio files.
    jobs: BTreeMap<ReportFile, PathBuf>,
    /// Spectrograms rendered (not reused).
    pub rendered: usize,
}

impl<'a> MediaMaker<'a> {
    /// Links from `store`'s run; spectrograms for up to `limit` tracks per dataset.
    pub fn new(store: &'a TableStore, limit: usize) -> Self {
        let root = crate::runlog::local_dir(store.url()).map(absolute);
        Self {
            store,
            root,
            counted: BTreeMap::new(),
            limit,
            done: BTreeMap::new(),
            jobs: BTreeMap::new(),
            rendered: 0,
        }
    }

    /// The media of one track of `dataset`.
    pub async fn of(
        &mut self,
        dataset: &str,
        track: &Track,
        deformations: &BTreeMap<String, Value>,
    ) -> Result<TrackMedia> {
        let key = (dataset.to_owned(), track.track_id.clone());
        if let Some(m) = self.done.get(&key) {
            return Ok(m.clone());
        }
        let counted = self.counted.entry(dataset.to_owned()).or_default();
        let with_spectrogram = counted.len() < self.limit;
        if with_spectrogram {
            counted.insert(track.track_id.clone());
        }
        let source = audio_path(&track.audio_uri);
        let mut out = TrackMedia::default();
        match (self.root.clone(), &source) {
            (Some(root), Some(path)) => {
                let pages = root.join(RunLayout::report().pages_folder());
                out.original.audio = Some(relative_href(&pages, path));
                if with_spectrogram {
                    out.original.spectrogram =
                        self.spectrogram(path, dataset, None, &track.track_id).await;
                }
            }
            _ => out.original.audio = Some(track.audio_uri.clone()),
        }
        // Deformed audio the run kept (`keep_audio`).
        if let Some(root) = self.root.clone() {
            for name in deformations.keys() {
                let rel = RunLayout::kept_audio(dataset, name, &track.track_id);
                let path = root.join(&rel);
                if !path.is_file() {
                    continue;
                }
                let spectrogram = if with_spectrogram {
                    self.spectrogram(&path, dataset, Some(name), &track.track_id)
                        .await
                } else {
                    None
                };
                out.deformed.insert(
                    name.clone(),
                    Media {
                        audio: Some(run_file_from_page(&encode_path(&rel))),
                        spectrogram,
                    },
                );
            }
        }
        self.done.insert(key, out.clone());
        Ok(out)
    }

    /// The link from a confusion page to the spectrogram of `audio` (a track of `dataset`,
    /// original or under `deformation`), queued for [`render`] unless an earlier report made
    /// it (the name holds a hash of the file's path, size and modification time); `None` when
    /// the audio file is not there.
    ///
    /// [`render`]: Self::render
    async fn spectrogram(
        &mut self,
        audio: &Path,
        dataset: &str,
        deformation: Option<&str>,
        track_id: &str,
    ) -> Option<String> {
        let meta = std::fs::metadata(audio).ok()?;
        let stamp = format!(
            "{} {} {:?}",
            audio.display(),
            meta.len(),
            meta.modified().ok()
        );
        let hash = &mir_audio::sha256_hex(stamp.as_bytes())[..8];
        let file = RunLayout::report().spectrogram(dataset, deformation, track_id, hash);
        if !self.store.exists(&file.in_run()).await.unwrap_or(false) {
            self.jobs.insert(file.clone(), audio.to_path_buf());
        }
        Some(file.from_page())
    }

    /// Renders the queued spectrograms on every core and writes them; returns the hrefs of
    /// those whose audio could not be read (logged), for the pages to leave out.
    pub async fn render(&mut self) -> Result<BTreeSet<String>> {
        let jobs: Vec<(ReportFile, PathBuf)> = std::mem::take(&mut self.jobs).into_iter().collect();
        let renderer = mir_report::spectrogram::Renderer::new(SPECTROGRAM_HZ)?;
        // Every spectrogram renders: a failure leaves that one out.
        let results = crate::work::map(&jobs, crate::work::cores(), |(_, audio)| {
            let png = read_start(audio).and_then(|samples| Ok(renderer.png(&samples)?));
            Ok::<_, ()>(png)
        });
        let mut failed = BTreeSet::new();
        for ((file, audio), png) in jobs.iter().zip(results) {
            match png.and_then(Result::ok).context("not rendered")? {
                Ok(bytes) => {
                    self.store.put(&file.in_run(), bytes.into()).await?;
                    self.rendered += 1;
                }
                Err(e) => {
                    warn!(audio = %audio.display(), error = %e, "no spectrogram");
                    failed.insert(file.from_page());
                }
            }
        }
        Ok(failed)
    }
}

/// The first [`SPECTROGRAM_S`] seconds of `path`, mono at [`SPECTROGRAM_HZ`].
fn read_start(path: &Path) -> Result<Vec<f32>> {
    let mut reader = mir_audio::AudioReader::open(path, Some(SPECTROGRAM_HZ))?;
    let want = SPECTROGRAM_S * SPECTROGRAM_HZ as usize;
    // Sized from the header when it says: most tracks are far shorter than the cap (the
    // 1,000-track scale run's report peaked at 87-94 MB so, 105 MB with cap-sized buffers).
    let declared = reader
        .header_duration_s()
        .map(|s| (s * f64::from(SPECTROGRAM_HZ)) as usize + 1);
    let mut samples = Vec::with_capacity(declared.unwrap_or(want).min(want));
    while samples.len() < want {
        let block = reader.read(1 << 15)?;
        if block.is_empty() {
            break;
        }
        samples.extend(block);
    }
    samples.truncate(want);
    Ok(samples)
}

/// The local file an `audio_uri` names (a path, relative to the working directory, or a
/// `file://` URL); `None` for other URLs.
fn audio_path(uri: &str) -> Option<PathBuf> {
    match uri.split_once("://") {
        None => Some(absolute(Path::new(uri))),
        Some(("file", path)) => Some(absolute(Path::new(path))),
        Some(_) => None,
    }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved lexically.
fn absolute(path: &Path) -> PathBuf {
    crate::config::lexical(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// The relative URL from the folder `from` to the file `to` (both absolute).
fn relative_href(from: &Path, to: &Path) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let ups = "../".repeat(a.len() - common);
    let rest: Vec<String> = b[common..]
        .iter()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{ups}{}", encode_path(&rest.join("/")))
}

/// Percent-encodes a relative path for an HTML `src` (keeps letters, digits, `-._~/`).
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_relative_and_encoded() {
        let from = Path::new("/r/runs/q/report/confusion");
        assert_eq!(
            relative_href(from, Path::new("/r/data/Brass/Tp C#4 ff.wav")),
            "../../../../data/Brass/Tp%20C%234%20ff.wav"
        );
        assert_eq!(
            relative_href(from, Path::new("/r/runs/q/audio/x.wav")),
            "../../audio/x.wav"
        );
        assert_eq!(absolute(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(audio_path("s3://bucket/x.wav"), None);
        assert_eq!(
            audio_path("file:///x/y.wav"),
            Some(PathBuf::from("/x/y.wav"))
        );
    }
}
