//! The media of the confusion pages: links to each track's original and kept deformed audio,
//! relative to `report/confusion/`, and their spectrograms (named by a hash of the audio
//! file's path, size and time so reruns reuse them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use futures::{StreamExt, TryStreamExt};
use mir_report::confusion::{Media, TrackMedia};
use mir_report::spectrogram::Renderer;
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
    /// The tracks given spectrograms, per dataset.
    chosen: BTreeMap<String, BTreeSet<String>>,
    /// Spectrograms an earlier report made, as run paths (reused).
    made: BTreeSet<String>,
    done: BTreeMap<(String, String), TrackMedia>,
    /// Spectrograms to render, and their audio files.
    jobs: BTreeMap<ReportFile, PathBuf>,
    /// Spectrograms rendered (not reused).
    pub rendered: usize,
}

impl<'a> MediaMaker<'a> {
    /// Links from `store`'s run; spectrograms for the `chosen` tracks of each dataset.
    pub async fn new(
        store: &'a TableStore,
        chosen: BTreeMap<String, BTreeSet<String>>,
    ) -> Result<Self> {
        let root = crate::runlog::local_dir(store.url()).map(absolute);
        // One listing instead of a look-up per image.
        let made = store.list(&RunLayout::report().media_folder()).await?;
        Ok(Self {
            store,
            root,
            chosen,
            made: made.into_iter().collect(),
            done: BTreeMap::new(),
            jobs: BTreeMap::new(),
            rendered: 0,
        })
    }

    /// The media of one track of `dataset`.
    pub fn of(
        &mut self,
        dataset: &str,
        track: &Track,
        deformations: &BTreeMap<String, Value>,
    ) -> TrackMedia {
        let key = (dataset.to_owned(), track.track_id.clone());
        if let Some(m) = self.done.get(&key) {
            return m.clone();
        }
        let with_spectrogram = (self.chosen.get(dataset)).is_some_and(|c| c.contains(&key.1));
        let source = audio_path(&track.audio_uri);
        let mut out = TrackMedia::default();
        match (self.root.clone(), &source) {
            (Some(root), Some(path)) => {
                let pages = root.join(RunLayout::report().pages_folder());
                out.original.audio = Some(relative_href(&pages, path));
                if with_spectrogram {
                    out.original.spectrogram =
                        self.spectrogram(path, dataset, None, &track.track_id);
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
                let spectrogram = with_spectrogram
                    .then(|| self.spectrogram(&path, dataset, Some(name), &track.track_id))
                    .flatten();
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
        out
    }

    /// The link from a confusion page to the spectrogram of `audio` (a track of `dataset`,
    /// original or under `deformation`), queued for rendering unless an earlier report made
    /// it (the name holds a hash of the file's path, size and modification time); `None` when
    /// the audio file is not there.
    fn spectrogram(
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
        if !self.made.contains(&file.in_run()) {
            self.jobs.insert(file.clone(), audio.to_path_buf());
        }
        Some(file.from_page())
    }

    /// The spectrograms queued so far, and their audio files, for [`render`] and
    /// [`MediaMaker::write`].
    pub fn take_jobs(&mut self) -> Vec<(ReportFile, PathBuf)> {
        std::mem::take(&mut self.jobs).into_iter().collect()
    }

    /// Writes the rendered spectrograms of `jobs` (several at a time), and returns the hrefs
    /// of those whose audio could not be read (logged), for the pages to leave out.
    pub async fn write(
        &mut self,
        jobs: &[(ReportFile, PathBuf)],
        pngs: Vec<Result<Vec<u8>>>,
    ) -> Result<BTreeSet<String>> {
        let mut failed = BTreeSet::new();
        let mut made = Vec::new();
        for ((file, audio), png) in jobs.iter().zip(pngs) {
            match png {
                Ok(bytes) => made.push((file.in_run(), bytes)),
                Err(e) => {
                    warn!(audio = %audio.display(), error = %e, "no spectrogram");
                    failed.insert(file.from_page());
                }
            }
        }
        self.rendered += made.len();
        let store = self.store;
        futures::stream::iter(made)
            .map(|(rel, bytes)| async move { store.put(&rel, bytes.into()).await })
            .buffer_unordered(PUTS_AT_ONCE)
            .try_collect::<()>()
            .await?;
        Ok(failed)
    }
}

/// Spectrograms written at once: local writes overlap, and object-store uploads do not wait
/// on each other's round trips.
const PUTS_AT_ONCE: usize = 16;

/// The renderer of the report's spectrograms.
pub fn renderer() -> Result<Renderer> {
    Ok(Renderer::new(SPECTROGRAM_HZ)?)
}

/// The spectrogram of the start of `audio` as a PNG.
pub fn render(renderer: &Renderer, audio: &Path) -> Result<Vec<u8>> {
    Ok(renderer.png(&read_start(audio)?)?)
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
