//! A researcher's own model in Python: a module with the HEAR API (`type: hear`:
//! `load_model`, `get_scene_embeddings`, `get_timestamp_embeddings`) or a plain
//! `embed(audio, sample_rate) -> dict[str, array]` (`type: python`), run in one worker process
//! of the user's own environment.
//!
//! The worker (`worker.py`, shipped inside this crate) receives clips over a pipe as Arrow IPC
//! and answers the same way; everything else (decoding, resampling to the module's rate,
//! deformations, caching, failure rows) is the pipeline's, as for any [`Embedder`]. A Python
//! exception is an [`Error::Extraction`] carrying the traceback, for the tracks of that call
//! alone; a worker that dies is started again and the call retried once, then that call's
//! tracks fail.

mod worker;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::pooling::{Pooling, pool, window_starts};
use crate::{Embedder, Error, ModelInfo, Result, WindowEmbedding};
use worker::{Failure, Worker};

/// Which Python API the module has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// HEAR's: `load_model(model_file?)`, `get_scene_embeddings(audio, model)` (layer
    /// `scene`) and `get_timestamp_embeddings(audio, model)` (layer `timestamp`, pooled per
    /// clip).
    Hear,
    /// `embed(audio [batch, samples], sample_rate) -> dict[str, array]`: each key is a layer,
    /// each value `[batch, dim]` or `[batch, time, dim]` (pooled per clip).
    Python,
}

/// A Python model in the experiment config (`type: hear` or `type: python`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonConfig {
    /// The module: an importable name (`hearbaseline`) or a `.py` file.
    pub module: PathBuf,
    /// The interpreter of the environment the module is installed in; numpy and pyarrow must
    /// be installed there too.
    #[serde(default = "default_python")]
    pub python: PathBuf,
    /// HEAR only: the weights given to `load_model`.
    #[serde(default)]
    pub model_file: Option<PathBuf>,
    /// Layers, in order. HEAR: `scene` (the default) and `timestamp`; `python`: keys of the
    /// dict `embed` returns (default: all of them, in its order).
    #[serde(default)]
    pub layers: Vec<String>,
    /// `python` only: the rate `embed` takes; default the module's `SAMPLE_RATE`. A HEAR
    /// model's rate is its `sample_rate`.
    #[serde(default)]
    pub sample_rate_hz: Option<u32>,
    /// Clip length in seconds; 0 (the default): the whole track is one clip.
    #[serde(default)]
    pub window_s: f64,
    /// Hop between clips in seconds; default `window_s`.
    #[serde(default)]
    pub hop_s: Option<f64>,
    /// How an output's time axis (HEAR's timestamps) becomes one vector per clip.
    #[serde(default)]
    pub pooling: Pooling,
    /// Clips per call; clips of one call have one length.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Where a torch model runs: `cpu`, `cuda`, `cuda:N`.
    #[serde(default = "default_device")]
    pub device: String,
}

fn default_python() -> PathBuf {
    PathBuf::from("python3")
}

fn default_batch() -> usize {
    16
}

fn default_device() -> String {
    "cpu".into()
}

impl PythonConfig {
    /// A config for `module` with every option at its default.
    pub fn new(module: impl Into<PathBuf>) -> Self {
        Self {
            module: module.into(),
            python: default_python(),
            model_file: None,
            layers: Vec::new(),
            sample_rate_hz: None,
            window_s: 0.0,
            hop_s: None,
            pooling: Pooling::Mean,
            batch_size: default_batch(),
            device: default_device(),
        }
    }

    /// The paths among the config's fields (a `.py` module, the model file, an interpreter
    /// given by path), for a caller that resolves them against the config's folder.
    pub fn paths_mut(&mut self) -> Vec<&mut PathBuf> {
        let is_path = |p: &Path| p.components().count() > 1 || p.extension().is_some();
        let mut out = Vec::new();
        if self.module.extension().is_some_and(|e| e == "py") {
            out.push(&mut self.module);
        }
        if is_path(&self.python) {
            out.push(&mut self.python);
        }
        out.extend(self.model_file.as_mut());
        out
    }

    /// The layers the config names without running the module, where it does.
    pub fn declared_layers(&self, kind: Kind) -> Option<Vec<String>> {
        match (kind, self.layers.is_empty()) {
            (_, false) => Some(self.layers.clone()),
            (Kind::Hear, true) => Some(vec![SCENE.into()]),
            (Kind::Python, true) => None,
        }
    }
}

/// Per layer (named), one pooled vector per clip.
type Layers = Vec<(String, Vec<Vec<f32>>)>;

/// HEAR's clip-level layer, the default.
const SCENE: &str = "scene";

/// A Python module made an [`Embedder`]: one worker, calls serialised.
pub struct PythonEmbedder {
    kind: Kind,
    config: PythonConfig,
    /// The model's name in errors: the module as written.
    name: String,
    spec: serde_json::Value,
    worker: Mutex<Option<Worker>>,
    layers: Vec<String>,
    sample_rate_hz: u32,
    dims: Vec<usize>,
    sha256: String,
    version: String,
    python_version: String,
}

impl std::fmt::Debug for PythonEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonEmbedder")
            .field("module", &self.name)
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

impl PythonEmbedder {
    /// Checks the config, starts the worker (which loads the module), and embeds one silent
    /// clip to learn the layers and their width. A module that fails to load is an
    /// [`Error::InvalidConfig`] with its traceback.
    pub fn new(kind: Kind, config: &PythonConfig) -> Result<Self> {
        let name = config.module.display().to_string();
        let invalid = |reason: String| Error::InvalidConfig {
            model: name.clone(),
            reason,
        };
        check(kind, config).map_err(invalid)?;
        let spec = serde_json::json!({
            "kind": if kind == Kind::Hear { "hear" } else { "python" },
            "module": config.module,
            "model_file": config.model_file,
            "sample_rate_hz": config.sample_rate_hz,
            "device": config.device,
        });
        let worker = Worker::start(&config.python, &spec).map_err(|f| invalid(loading(f)))?;
        let hello = &worker.hello;
        let sample_rate_hz = hello["sample_rate"]
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .filter(|&r| r > 0)
            .ok_or_else(|| {
                invalid(format!(
                    "the module's sample rate is {}",
                    hello["sample_rate"]
                ))
            })?;
        let text = |key: &str| hello[key].as_str().unwrap_or_default().to_string();
        let sha256 = module_sha256(config, hello["file"].as_str(), &text("version"));
        let mut model = Self {
            kind,
            name: name.clone(),
            version: text("version"),
            python_version: text("python"),
            layers: config.declared_layers(kind).unwrap_or_default(),
            config: config.clone(),
            spec,
            worker: Mutex::new(Some(worker)),
            sample_rate_hz,
            dims: Vec::new(),
            sha256,
        };
        model.learn_layers()?;
        Ok(model)
    }

    /// Embeds one second of silence (or one clip): the layers, when the config names none,
    /// and each one's width.
    fn learn_layers(&mut self) -> Result<()> {
        let len = self.clip_samples().unwrap_or(self.sample_rate_hz as usize);
        let silence = vec![0.0f32; len];
        let invalid = |reason: String| Error::InvalidConfig {
            model: self.name.clone(),
            reason,
        };
        let outputs = self.call(&[&silence]).map_err(|e| invalid(e.to_string()))?;
        if self.layers.is_empty() {
            self.layers = outputs.iter().map(|(name, _)| name.clone()).collect();
        }
        self.dims = (self.layers.iter())
            .map(|layer| {
                let found = outputs.iter().find(|(name, _)| name == layer);
                found
                    .and_then(|(_, vectors)| vectors.first())
                    .map(Vec::len)
                    .ok_or_else(|| invalid(format!("the module gave no layer `{layer}`")))
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// Samples per clip, or `None` when a clip is the whole track.
    fn clip_samples(&self) -> Option<usize> {
        let sr = f64::from(self.sample_rate_hz);
        (self.config.window_s > 0.0).then(|| ((self.config.window_s * sr).round() as usize).max(1))
    }

    fn hop_samples(&self) -> usize {
        let sr = f64::from(self.sample_rate_hz);
        let hop = self.config.hop_s.unwrap_or(self.config.window_s);
        ((hop * sr).round() as usize).max(1)
    }

    /// Runs `clips` (one length) through the worker: per layer (named), one pooled vector per
    /// clip. A worker that died is started again and the call retried once.
    fn call(&self, clips: &[&[f32]]) -> Result<Layers> {
        let fail = |reason: String| Error::Extraction {
            model: self.name.clone(),
            reason,
        };
        let mut slot = self
            .worker
            .lock()
            .map_err(|_| fail("an earlier call panicked".into()))?;
        let mut died = String::new();
        for attempt in 0..2 {
            let worker = match slot.as_mut() {
                Some(w) => w,
                None => slot.insert(
                    Worker::start(&self.config.python, &self.spec).map_err(|f| fail(loading(f)))?,
                ),
            };
            match worker.embed(clips, &self.layers) {
                Ok(outputs) => return self.pooled(outputs, clips.len()).map_err(fail),
                Err(Failure::Raised(traceback)) => {
                    return Err(fail(format!("the module raised:\n{traceback}")));
                }
                Err(Failure::Died(why)) => {
                    *slot = None;
                    if attempt == 0 {
                        tracing::warn!("model `{}`: {why}; starting it again", self.name);
                    }
                    died = why;
                }
            }
        }
        Err(fail(format!("{died} (after one restart)")))
    }

    /// The selected layers of a reply, each pooled over its time axis.
    fn pooled(
        &self,
        outputs: Vec<worker::Output>,
        clips: usize,
    ) -> std::result::Result<Layers, String> {
        let returned: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();
        let mut by_name: BTreeMap<String, worker::Output> =
            outputs.into_iter().map(|o| (o.name.clone(), o)).collect();
        let wanted = if self.layers.is_empty() {
            returned.clone()
        } else {
            self.layers.clone()
        };
        wanted
            .into_iter()
            .map(|name| {
                let o = by_name.remove(&name).ok_or_else(|| {
                    format!("no layer `{name}` in the reply (it has {returned:?})")
                })?;
                let time_axis = match o.shape.len() {
                    1 => None,
                    2 => Some(1),
                    _ => {
                        return Err(format!(
                            "layer `{name}` has shape {:?} per clip: expected [dim] or [time, dim]",
                            o.shape
                        ));
                    }
                };
                let shape: Vec<i64> = std::iter::once(clips)
                    .chain(o.shape.iter().copied())
                    .map(|d| d as i64)
                    .collect();
                let vectors = pool(&shape, &o.values, clips, time_axis, self.config.pooling)
                    .map_err(|e| format!("layer `{name}`: {e}"))?;
                Ok((name, vectors))
            })
            .collect()
    }

    /// Embeds several tracks: their clips grouped by length into calls of `batch_size`; a
    /// call that fails for several tracks is retried track by track, so one bad track fails
    /// alone.
    pub fn embed_tracks(&self, tracks: &[&[f32]]) -> Vec<Result<Vec<WindowEmbedding>>> {
        let clips = self.clips(tracks);
        let mut by_length: BTreeMap<usize, Vec<&Clip>> = BTreeMap::new();
        for clip in &clips {
            by_length.entry(clip.samples.len()).or_default().push(clip);
        }
        let mut out: Vec<Result<Vec<WindowEmbedding>>> =
            tracks.iter().map(|_| Ok(Vec::new())).collect();
        for group in by_length.values() {
            for chunk in group.chunks(self.config.batch_size) {
                self.run_chunk(chunk, &mut out);
            }
        }
        for rows in out.iter_mut().flatten() {
            rows.sort_by_key(|r| (r.layer, r.window));
        }
        out
    }

    /// Runs one call's clips and files their rows (or the error) under their tracks.
    fn run_chunk(&self, chunk: &[&Clip], out: &mut [Result<Vec<WindowEmbedding>>]) {
        let samples: Vec<&[f32]> = chunk.iter().map(|c| c.samples.as_ref()).collect();
        let err = match self.call(&samples) {
            Ok(layers) => {
                let sr = f64::from(self.sample_rate_hz);
                for (layer, (_, vectors)) in layers.into_iter().enumerate() {
                    for (clip, embedding) in chunk.iter().zip(vectors) {
                        if let Ok(rows) = &mut out[clip.track] {
                            rows.push(WindowEmbedding {
                                layer: layer as i32,
                                window: clip.window as i32,
                                start_s: (clip.start as f64 / sr) as f32,
                                embedding,
                            });
                        }
                    }
                }
                return;
            }
            Err(e) => e,
        };
        let tracks: std::collections::BTreeSet<usize> = chunk.iter().map(|c| c.track).collect();
        if tracks.len() == 1 {
            out[chunk[0].track] = Err(err);
            return;
        }
        for t in tracks {
            let alone: Vec<&Clip> = chunk.iter().copied().filter(|c| c.track == t).collect();
            self.run_chunk(&alone, out);
        }
    }

    /// Every track's clips: the whole track (at least one sample), or windows of
    /// `window_s` every `hop_s`, the last one zero-padded.
    fn clips<'t>(&self, tracks: &[&'t [f32]]) -> Vec<Clip<'t>> {
        let mut clips = Vec::new();
        for (track, samples) in tracks.iter().enumerate() {
            let Some(w) = self.clip_samples() else {
                let samples = if samples.is_empty() {
                    Cow::Owned(vec![0.0])
                } else {
                    Cow::Borrowed(*samples)
                };
                clips.push(Clip {
                    track,
                    window: 0,
                    start: 0,
                    samples,
                });
                continue;
            };
            for (window, start) in window_starts(samples.len(), w, self.hop_samples())
                .into_iter()
                .enumerate()
            {
                let end = (start + w).min(samples.len());
                let samples = if end - start.min(end) == w {
                    Cow::Borrowed(&samples[start..end])
                } else {
                    let mut padded = samples[start.min(end)..end].to_vec();
                    padded.resize(w, 0.0);
                    Cow::Owned(padded)
                };
                clips.push(Clip {
                    track,
                    window,
                    start,
                    samples,
                });
            }
        }
        clips
    }
}

/// One clip of one track.
struct Clip<'t> {
    track: usize,
    window: usize,
    start: usize,
    samples: Cow<'t, [f32]>,
}

impl Embedder for PythonEmbedder {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            name: self.name.clone(),
            version: self.version.clone(),
            license: String::new(),
            sha256: self.sha256.clone(),
            sample_rate_hz: self.sample_rate_hz,
            window_s: self.config.window_s,
            hop_s: self.config.hop_s.unwrap_or(self.config.window_s),
            layers: self.layers.clone(),
            dims: self.dims.clone(),
            source: None,
        }
    }

    fn fingerprint(&self) -> String {
        crate::sha256_hex(
            format!(
                "python v1 kind={:?} module={} version={} python={} layers={:?} config={}",
                self.kind,
                self.sha256,
                self.version,
                self.python_version,
                self.layers,
                serde_json::to_string(&self.config).unwrap_or_default()
            )
            .as_bytes(),
        )
    }

    fn embed(&self, samples: &[f32]) -> Result<Vec<WindowEmbedding>> {
        self.embed_tracks(&[samples])
            .pop()
            .expect("one result per track")
    }

    fn embed_batch(&self, tracks: &[&[f32]]) -> Vec<Result<Vec<WindowEmbedding>>> {
        self.embed_tracks(tracks)
    }
}

/// The config's own mistakes, before any worker starts.
fn check(kind: Kind, config: &PythonConfig) -> std::result::Result<(), String> {
    if config.batch_size == 0 {
        return Err("`batch_size` must be at least 1".into());
    }
    if !(config.window_s.is_finite() && config.window_s >= 0.0) {
        return Err(format!(
            "`window_s` is {}: give seconds, or 0 for whole tracks",
            config.window_s
        ));
    }
    if let Some(hop) = config.hop_s
        && !(hop.is_finite() && hop > 0.0)
    {
        return Err(format!("`hop_s` is {hop}: it must be above 0"));
    }
    if config.module.extension().is_some_and(|e| e == "py") && !config.module.is_file() {
        return Err(format!(
            "module file {} is not there",
            config.module.display()
        ));
    }
    match (kind, &config.model_file) {
        (Kind::Python, Some(_)) => Err("`model_file` is for `type: hear` (HEAR's `load_model`); a `type: python` module loads its own".into()),
        (Kind::Hear, Some(f)) if !f.exists() => Err(format!("model file {} is not there", f.display())),
        (Kind::Hear, _) if config.sample_rate_hz.is_some() => Err("`sample_rate_hz` is for `type: python`; a HEAR model's rate is its `sample_rate`".into()),
        _ => Ok(()),
    }
}

/// What a worker that did not start says.
fn loading(failure: Failure) -> String {
    match failure {
        Failure::Raised(traceback) => format!("loading the module raised:\n{traceback}"),
        Failure::Died(why) => why,
    }
}

/// The SHA-256 of the model file, else of the module's file, else of its name and version.
fn module_sha256(config: &PythonConfig, file: Option<&str>, version: &str) -> String {
    let read = |p: &Path| std::fs::read(p).ok();
    config
        .model_file
        .as_deref()
        .and_then(read)
        .or_else(|| file.map(Path::new).and_then(read))
        .map_or_else(
            || crate::sha256_hex(format!("{} {version}", config.module.display()).as_bytes()),
            |bytes| crate::sha256_hex(&bytes),
        )
}
