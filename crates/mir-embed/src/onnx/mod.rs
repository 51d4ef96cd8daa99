//! Any ONNX model as an embedding, described by a [`card::ModelCard`] and run on ONNX Runtime.
//!
//! Audio is cut into the card's windows (the last one zero-padded), each window becomes the
//! input tensor (raw samples, or a log-mel spectrogram we compute), windows of many tracks are
//! batched into one `Session::run`, and each selected output is pooled over its time axis into
//! one vector per window: the `layer` column numbers the selected layers in order.

pub mod card;
pub mod runtime;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorRef};
use serde::{Deserialize, Serialize};

use crate::logmel::{LogMel, LogMelConfig};
use crate::pooling::pool;
use crate::{Embedder, Error, ModelInfo, Result, WindowEmbedding};
use card::{Dim, DimName, FrontEnd, LogScale, ModelCard, card_error};

/// Where the model runs: `cpu`, or `cuda:N` (`cuda` is `cuda:0`), the N-th CUDA device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Device {
    /// ONNX Runtime's CPU execution provider.
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider on this device, with a runtime built for CUDA
    /// (`mir-ref setup-ort --gpu`, from the `onnxruntime-gpu` wheel).
    Cuda(u32),
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("unknown device `{s}` (known: cpu, cuda, cuda:N)");
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => {
                let n = s.strip_prefix("cuda:").ok_or_else(bad)?;
                n.parse().map(Device::Cuda).map_err(|_| bad())
            }
        }
    }
}

impl TryFrom<String> for Device {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

impl From<Device> for String {
    fn from(d: Device) -> String {
        d.to_string()
    }
}

/// An ONNX model in the experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxConfig {
    /// The model card (YAML).
    pub card: PathBuf,
    /// Layers to embed, by name or by index in the card's layer list (`[0, 6, 12]`), or `all`;
    /// default the card's `default_layers`, else all of them.
    #[serde(default, deserialize_with = "layer_list")]
    pub layers: Vec<LayerRef>,
    /// For a card with a dynamic time axis: the window length in seconds, or `track` for one
    /// window per track (up to the card's `max_window_s`); default the card's window.
    #[serde(default)]
    pub window_s: Option<WindowLength>,
    /// For a card with a dynamic time axis: seconds between window starts; default the window.
    #[serde(default)]
    pub hop_s: Option<f64>,
    /// Execution provider.
    #[serde(default)]
    pub device: Device,
    /// Threads ONNX Runtime uses inside one run, in one session that every worker shares.
    /// By default on the CPU, one single-threaded session per core, so that each worker runs
    /// its own batches (small models barely parallelise inside a run; each session holds its
    /// own copy of the weights); on a GPU, one session.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Windows per run; default the card's `batch_size`, else chosen from the input's size
    /// ([`auto_batch_size`]).
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Skip the model (with a notice) when its card, file or ONNX Runtime is not there, instead of
    /// failing: for configs that use a model where it has been fetched.
    #[serde(default)]
    pub optional: bool,
}

impl OnnxConfig {
    /// A config for `card` with every option at its default.
    pub fn new(card: impl Into<PathBuf>) -> Self {
        Self {
            card: card.into(),
            layers: Vec::new(),
            window_s: None,
            hop_s: None,
            device: Device::Cpu,
            threads: None,
            batch_size: None,
            optional: false,
        }
    }

    /// Why the model cannot run here (its file or ONNX Runtime is missing), if so. A card
    /// that is wrong is not "missing": building the model reports it.
    pub fn missing(&self) -> Option<String> {
        if !self.card.is_file() {
            return Some(format!("model card {} is not there", self.card.display()));
        }
        // An invalid card is an error of the config, reported when the model is built.
        let card = ModelCard::from_file(&self.card).ok()?;
        let file = card.model_path(&self.card);
        if !file.is_file() {
            return Some(format!(
                "{} is not there: {}",
                file.display(),
                card.how_to_fetch(&self.card)
            ));
        }
        runtime::runtime().err().map(|e| e.to_string())
    }
}

/// A shaped input batch: `shape` and row-major `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputBatch {
    /// Tensor shape, batch first.
    pub shape: Vec<i64>,
    /// Values.
    pub data: Vec<f32>,
}

/// An ONNX model card made runnable. Build once, use from many threads (runs are serialised;
/// ONNX Runtime parallelises inside each).
pub struct OnnxEmbedder {
    card: ModelCard,
    card_path: PathBuf,
    /// The sessions, each used by one run at a time.
    sessions: Vec<Mutex<Session>>,
    /// Indices into `card.outputs`, in layer order.
    layers: Vec<usize>,
    sha256: String,
    dims: Vec<usize>,
    front_end: Option<(LogMel, LogScale)>,
    batch_size: usize,
    /// Samples per window and between window starts: the card's, or the config's on a
    /// dynamic time axis.
    window: usize,
    hop: usize,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("card", &self.card_path)
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

impl OnnxEmbedder {
    /// Reads the card, checks the model file's checksum, opens it on ONNX Runtime, checks the
    /// tensor names and shapes against the card, and runs one silent window to learn the
    /// layers' dimensions. Every error names the card and the field.
    pub fn new(config: &OnnxConfig) -> Result<Self> {
        let card_path = config.card.clone();
        let card = ModelCard::from_file(&card_path)?;
        let layers = selected_layers(&card, &card_path, &config.layers)?;
        let (model_path, sha256) = verified_file(&card, &card_path)?;
        let session = open_session(&card, &model_path, config)?;
        check_tensors(&card, &card_path, &session, &layers)?;
        let mut sessions = vec![Mutex::new(session)];
        for _ in 1..session_count(config) {
            sessions.push(Mutex::new(open_session(&card, &model_path, config)?));
        }
        let front_end = front_end(&card, &card_path)?;
        let (window, hop) = windowing(&card, config)?;
        let mut model = Self {
            window,
            hop,
            batch_size: (config.batch_size.or(card.batch_size))
                .unwrap_or_else(|| auto_batch_size(&card_shape(&card, 1, window)))
                .max(1),
            card,
            card_path,
            sessions,
            layers,
            sha256,
            dims: Vec::new(),
            front_end,
        };
        model.dims = model.layer_widths()?;
        Ok(model)
    }

    /// A session no other run holds, else (all busy) one to wait for, chosen by thread;
    /// `None` when that session's lock was poisoned by a panicking run.
    fn free_session(&self) -> Option<std::sync::MutexGuard<'_, Session>> {
        if let Some(guard) = self.sessions.iter().find_map(|s| s.try_lock().ok()) {
            return Some(guard);
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::thread::current().id().hash(&mut h);
        self.sessions[h.finish() as usize % self.sessions.len()]
            .lock()
            .ok()
    }

    /// The width of each selected layer, from one silent window.
    fn layer_widths(&self) -> Result<Vec<usize>> {
        let silence = vec![0.0f32; self.window];
        let probe = self.run(&self.input_batch(&[&silence]))?;
        Ok(probe.iter().map(|l| l[0].len()).collect())
    }

    /// The card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The selected layers' names, in `layer` column order.
    pub fn layer_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|&l| self.card.outputs[l].layer.clone())
            .collect()
    }

    /// Windows per run.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Start samples of the windows of a track of `len` samples: every hop until a window
    /// reaches the end (at least one).
    pub fn window_starts(&self, len: usize) -> Vec<usize> {
        crate::pooling::window_starts(len, self.window, self.hop)
    }

    /// The length a window of `len` samples is run at: the window length (zero-padded), or on
    /// a dynamic time axis its own length, at least the card's `min_samples`.
    pub fn run_length(&self, len: usize) -> usize {
        match self.card.input.dynamic {
            None => self.window,
            Some(d) => len.min(self.window).max(d.min_samples),
        }
    }

    /// The input tensor of a batch of windows, each zero-padded or cut to the run length of
    /// the longest (a caller batches windows of one length on a dynamic time axis).
    pub fn input_batch(&self, windows: &[&[f32]]) -> InputBatch {
        let longest = windows.iter().map(|w| w.len()).max().unwrap_or(0);
        let w = self.run_length(longest);
        let mut data = Vec::new();
        let mut padded = vec![0.0f32; w];
        for win in windows {
            let n = win.len().min(w);
            padded[..n].copy_from_slice(&win[..n]);
            padded[n..].fill(0.0);
            match &self.front_end {
                None => data.extend_from_slice(&padded),
                Some((mel, log)) => {
                    let frames = mel.mel_power(&padded);
                    let frames_first = self.frames_before_mels();
                    let n_mels = frames.first().map_or(0, Vec::len);
                    let scale = |x: f32| match *log {
                        LogScale::Db => 10.0 * x.max(1e-10).log10(),
                        LogScale::Ln { offset } => (x + offset).ln(),
                        LogScale::Log10OnePlus { scale, float16 } => {
                            let x = if float16 { card::round_to_f16(x) } else { x };
                            (1.0 + scale * x).log10()
                        }
                    };
                    if frames_first {
                        data.extend(frames.iter().flatten().map(|&x| scale(x)));
                    } else {
                        for m in 0..n_mels {
                            data.extend(frames.iter().map(|f| scale(f[m])));
                        }
                    }
                }
            }
        }
        if let Some(n) = &self.card.input.normalize {
            let per_window = data.len() / windows.len().max(1);
            data.chunks_mut(per_window.max(1)).for_each(|w| n.apply(w));
        }
        InputBatch {
            shape: card_shape(&self.card, windows.len(), w),
            data,
        }
    }

    fn frames_before_mels(&self) -> bool {
        let pos = |n| {
            self.card
                .input
                .shape
                .iter()
                .position(|d| *d == Dim::Named(n))
        };
        pos(DimName::Frames) < pos(DimName::Mels)
    }

    /// Runs one batch; returns, for each selected layer, one pooled vector per window.
    pub fn run(&self, batch: &InputBatch) -> Result<Vec<Vec<Vec<f32>>>> {
        let fail = |reason: String| Error::Extraction {
            model: self.card.name.clone(),
            reason,
        };
        let tensor = TensorRef::from_array_view((batch.shape.clone(), batch.data.as_slice()))
            .map_err(|e| fail(format!("input tensor: {e}")))?;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            vec![(self.card.input.name.as_str().into(), tensor.into())];
        for c in &self.card.input.constants {
            let value = constant_tensor(c, &self.card, &batch.shape)
                .map_err(|e| fail(format!("input `{}`: {e}", c.name)))?;
            inputs.push((c.name.as_str().into(), value));
        }
        let mut session = self
            .free_session()
            .ok_or_else(|| fail("an earlier run panicked".into()))?;
        let outputs = session
            .run(inputs)
            .map_err(|e| fail(format!("inference: {e}")))?;
        let items = batch.shape[0] as usize;
        self.layers
            .iter()
            .map(|&l| {
                let spec = &self.card.outputs[l];
                let (shape, values) = outputs[spec.name.as_str()]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| fail(format!("output `{}`: {e}", spec.name)))?;
                let field = |f: &str| format!("outputs[{l}].{f}");
                let bad = |f: &str, reason: String| {
                    let reason =
                        format!("output `{}` of shape {:?}: {reason}", spec.name, &shape[..]);
                    card_error(&self.card_path, &field(f), reason)
                };
                let (layer_shape, layer_values, time_axis) = match (spec.layer_axis, spec.at) {
                    (Some(axis), Some(at)) => {
                        let (kept, sliced) = crate::pooling::slice_axis(shape, values, axis, at)
                            .map_err(|reason| bad("at", reason))?;
                        let time = spec.time_axis.map(|t| t - usize::from(t > axis));
                        (kept, Cow::Owned(sliced), time)
                    }
                    _ => (shape.to_vec(), Cow::Borrowed(values), spec.time_axis),
                };
                pool(&layer_shape, &layer_values, items, time_axis, spec.pooling)
                    .map_err(|reason| bad("time_axis", reason))
            })
            .collect()
    }

    /// Embeds several tracks, packing their windows into full batches; one result per track.
    pub fn embed_tracks(&self, tracks: &[&[f32]]) -> Vec<Result<Vec<WindowEmbedding>>> {
        let w = self.window;
        let sr = f64::from(self.card.input.sample_rate_hz);
        // (track, window index, start sample) of every window, in order.
        let mut jobs = Vec::new();
        for (t, samples) in tracks.iter().enumerate() {
            for (k, s) in self.window_starts(samples.len()).into_iter().enumerate() {
                jobs.push((t, k, s));
            }
        }
        // Windows of one run length share batches (all of them, but on a dynamic time axis).
        let length =
            |&(t, _, s): &(usize, usize, usize)| self.run_length(tracks[t].len().saturating_sub(s));
        jobs.sort_by_key(length);
        let mut out: Vec<Result<Vec<WindowEmbedding>>> =
            tracks.iter().map(|_| Ok(Vec::new())).collect();
        let groups = jobs.chunk_by(|a, b| length(a) == length(b));
        for chunk in groups.flat_map(|g| g.chunks(self.batch_size)) {
            let windows: Vec<&[f32]> = chunk
                .iter()
                .map(|&(t, _, s)| {
                    let samples = tracks[t];
                    &samples[s.min(samples.len())..(s + w).min(samples.len())]
                })
                .collect();
            match self.run(&self.input_batch(&windows)) {
                Ok(layers) => push_windows(&mut out, chunk, layers, sr),
                Err(e) => {
                    let reason = e.to_string();
                    for &(t, _, _) in chunk {
                        out[t] = Err(Error::Extraction {
                            model: self.card.name.clone(),
                            reason: reason.clone(),
                        });
                    }
                }
            }
        }
        for rows in out.iter_mut().flatten() {
            rows.sort_by_key(|r| (r.layer, r.window));
        }
        out
    }
}

impl OnnxEmbedder {
    /// Runs `windows` (each with its index and start sample) in batches of one run length and
    /// appends their rows to `out`.
    fn run_windows(
        &self,
        windows: &[(usize, usize, Vec<f32>)],
        out: &mut Vec<WindowEmbedding>,
    ) -> Result<()> {
        let sr = f64::from(self.card.input.sample_rate_hz);
        let same = |a: &(usize, usize, Vec<f32>), b: &(usize, usize, Vec<f32>)| {
            self.run_length(a.2.len()) == self.run_length(b.2.len())
        };
        for group in windows.chunk_by(same) {
            let refs: Vec<&[f32]> = group.iter().map(|(_, _, w)| w.as_slice()).collect();
            for (layer, vectors) in self.run(&self.input_batch(&refs))?.into_iter().enumerate() {
                for (&(k, s, _), embedding) in group.iter().zip(vectors) {
                    out.push(WindowEmbedding {
                        layer: layer as i32,
                        window: k as i32,
                        start_s: (s as f64 / sr) as f32,
                        embedding,
                    });
                }
            }
        }
        Ok(())
    }
}

impl Embedder for OnnxEmbedder {
    fn embed_stream(
        &self,
        chunks: &mut dyn Iterator<Item = Result<Vec<f32>>>,
    ) -> Result<Vec<WindowEmbedding>> {
        let (w, h) = (self.window, self.hop);
        let mut out = Vec::new();
        // Samples from `next_start` on; samples still to drop before it (a hop longer than
        // the window); the batch being filled; the last window's start.
        let mut pending: Vec<f32> = Vec::with_capacity(2 * w);
        let (mut next_start, mut to_skip) = (0usize, 0usize);
        let mut batch: Vec<(usize, usize, Vec<f32>)> = Vec::with_capacity(self.batch_size);
        let mut last: Option<usize> = None;
        let (mut total, mut count) = (0usize, 0usize);
        for chunk in chunks {
            let chunk = chunk?;
            total += chunk.len();
            let drop = to_skip.min(chunk.len());
            to_skip -= drop;
            pending.extend_from_slice(&chunk[drop..]);
            while pending.len() >= w {
                batch.push((count, next_start, pending[..w].to_vec()));
                count += 1;
                last = Some(next_start);
                let step = h.min(pending.len());
                pending.drain(..step);
                to_skip = h - step;
                next_start += h;
                if batch.len() == self.batch_size {
                    self.run_windows(&batch, &mut out)?;
                    batch.clear();
                }
            }
        }
        // As `window_starts`: a last, zero-padded window if no window reached the end.
        if last.is_none_or(|s| s + w < total) {
            batch.push((count, next_start, std::mem::take(&mut pending)));
        }
        if !batch.is_empty() {
            self.run_windows(&batch, &mut out)?;
        }
        out.sort_by_key(|r| (r.layer, r.window));
        Ok(out)
    }

    fn info(&self) -> ModelInfo {
        let sr = f64::from(self.card.input.sample_rate_hz);
        ModelInfo {
            name: self.card.name.clone(),
            version: self.card.version.clone(),
            license: self.card.license.clone(),
            sha256: self.sha256.clone(),
            sample_rate_hz: self.card.input.sample_rate_hz,
            window_s: self.window as f64 / sr,
            hop_s: self.hop as f64 / sr,
            layers: self.layer_names(),
            dims: self.dims.clone(),
            source: None,
        }
    }

    fn fingerprint(&self) -> String {
        crate::sha256_hex(
            format!(
                "onnx v1 model={} layers={:?} batch={} window={} hop={} card={}",
                self.sha256,
                self.layer_names(),
                self.batch_size,
                self.window,
                self.hop,
                serde_json::to_string(&self.card).unwrap_or_default()
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

/// Appends a batch's vectors (per layer, one per window of `chunk`: track, window index, start
/// sample) to the tracks they belong to.
fn push_windows(
    out: &mut [Result<Vec<WindowEmbedding>>],
    chunk: &[(usize, usize, usize)],
    layers: Vec<Vec<Vec<f32>>>,
    sample_rate_hz: f64,
) {
    for (layer, vectors) in layers.into_iter().enumerate() {
        for (&(t, k, s), embedding) in chunk.iter().zip(vectors) {
            if let Ok(rows) = &mut out[t] {
                rows.push(WindowEmbedding {
                    layer: layer as i32,
                    window: k as i32,
                    start_s: (s as f64 / sample_rate_hz) as f32,
                    embedding,
                });
            }
        }
    }
}

/// A layer in an experiment config: its name, or its index in the card's layer list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayerRef {
    /// Position in the card's (expanded) outputs, from 0.
    Index(usize),
    /// A layer name; `all` is every layer.
    Name(String),
}

impl From<&str> for LayerRef {
    fn from(name: &str) -> Self {
        LayerRef::Name(name.to_string())
    }
}

/// `layers: all` or a list.
fn layer_list<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<LayerRef>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(LayerRef),
        Many(Vec<LayerRef>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// The window length of a model with a dynamic time axis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WindowLength {
    /// Seconds.
    Seconds(f64),
    /// `track`: one window per track, up to the card's `max_window_s`.
    Whole(WholeTrack),
}

/// The word `track`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WholeTrack {
    /// One window per track.
    Track,
}

/// The card's outputs the config selects: its `layers` (names, indices or `all`), else the
/// card's `default_layers`, else every output.
fn selected_layers(card: &ModelCard, card_path: &Path, asked: &[LayerRef]) -> Result<Vec<usize>> {
    let every = || (0..card.outputs.len()).collect::<Vec<_>>();
    let invalid = |reason: String| Error::InvalidConfig {
        model: card.name.clone(),
        reason: format!("`layers`: {reason} ({})", card_path.display()),
    };
    if asked == [LayerRef::from("all")] {
        return Ok(every());
    }
    if asked.is_empty() {
        if card.default_layers.is_empty() {
            return Ok(every());
        }
        let names = card.default_layers.iter().map(|n| card.layer_index(n));
        return names
            .collect::<std::result::Result<_, _>>()
            .map_err(invalid);
    }
    asked
        .iter()
        .map(|l| match l {
            LayerRef::Index(i) if *i < card.outputs.len() => Ok(*i),
            LayerRef::Index(i) => Err(format!(
                "no layer {i}: the card has {} (0 to {})",
                card.outputs.len(),
                card.outputs.len().saturating_sub(1)
            )),
            LayerRef::Name(n) if n == "all" => Err("`all` stands alone, not in a list".into()),
            LayerRef::Name(n) => card.layer_index(n),
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(invalid)
}

/// Samples per window and between window starts: the card's, or on a dynamic time axis the
/// config's `window_s` (seconds or `track`) and `hop_s`, capped at the card's `max_window_s`.
fn windowing(card: &ModelCard, config: &OnnxConfig) -> Result<(usize, usize)> {
    let i = &card.input;
    let (window, hop) = (i.window_samples, i.hop_samples);
    let asked = config.window_s.is_some() || config.hop_s.is_some();
    let Some(dynamic) = i.dynamic else {
        if asked {
            return Err(Error::InvalidConfig {
                model: card.name.clone(),
                reason: format!(
                    "`window_s`/`hop_s`: the card's input has fixed windows of {window} samples \
                     every {hop} ({}); only a card with `input.dynamic` takes other windows",
                    config.card.display()
                ),
            });
        }
        return Ok((window, hop));
    };
    let sr = f64::from(i.sample_rate_hz);
    let samples = |s: f64| (s * sr).round().max(1.0) as usize;
    let max = samples(dynamic.max_window_s);
    let window = match config.window_s {
        None => window,
        Some(WindowLength::Whole(WholeTrack::Track)) => max,
        Some(WindowLength::Seconds(s)) if s > 0.0 && s.is_finite() => samples(s),
        Some(WindowLength::Seconds(s)) => {
            return Err(Error::InvalidConfig {
                model: card.name.clone(),
                reason: format!("`window_s` must be positive seconds or `track`, not {s}"),
            });
        }
    };
    let hop = match (config.hop_s, config.window_s) {
        (Some(h), _) if h > 0.0 && h.is_finite() => samples(h),
        (Some(h), _) => {
            return Err(Error::InvalidConfig {
                model: card.name.clone(),
                reason: format!("`hop_s` must be positive seconds, not {h}"),
            });
        }
        (None, Some(_)) => window.min(max),
        (None, None) => hop,
    };
    Ok((window.min(max), hop))
}

/// The tensor of a constant input for a batch whose main input has `shape`.
fn constant_tensor(
    c: &card::ConstantInput,
    card: &ModelCard,
    shape: &[i64],
) -> std::result::Result<SessionInputValue<'static>, String> {
    let dims: Vec<i64> = (c.shape.iter())
        .map(|d| match d {
            Dim::Fixed(n) => *n,
            named => card
                .input
                .shape
                .iter()
                .position(|m| m == named)
                .and_then(|k| shape.get(k).copied())
                .unwrap_or(1),
        })
        .collect();
    let n = dims.iter().product::<i64>().max(0) as usize;
    let v = c.value;
    let value: SessionInputValue<'static> = match c.dtype {
        card::ConstantType::Float32 => {
            Tensor::from_array((dims, vec![v as f32; n])).map(Into::into)
        }
        card::ConstantType::Int64 => Tensor::from_array((dims, vec![v as i64; n])).map(Into::into),
        card::ConstantType::Int32 => Tensor::from_array((dims, vec![v as i32; n])).map(Into::into),
        card::ConstantType::Bool => Tensor::from_array((dims, vec![v != 0.0; n])).map(Into::into),
    }
    .map_err(|e| e.to_string())?;
    Ok(value)
}

/// The model file with the card's SHA-256, and that checksum.
fn verified_file(card: &ModelCard, card_path: &Path) -> Result<(PathBuf, String)> {
    let err = |field: &str, reason: String| card_error(card_path, field, reason);
    let model_path = card.model_path(card_path);
    let bytes = std::fs::read(&model_path).map_err(|e| {
        let how = card.how_to_fetch(card_path);
        err(
            "file.path",
            format!("cannot read {}: {e}; {how}", model_path.display()),
        )
    })?;
    let sha256 = crate::sha256_hex(&bytes);
    match &card.file.sha256 {
        Some(want) if !card.accepts_sha256(&sha256) => {
            return Err(err(
                "file.sha256",
                format!(
                    "{} has SHA-256 {sha256}, the card expects {want}: a different or damaged \
                     file",
                    model_path.display(),
                ),
            ));
        }
        Some(_) => {}
        None => tracing::warn!(
            "model card {} is not pinned: running {} as it is (SHA-256 {sha256}, recorded with \
             the embeddings); `cargo xtask models pin {}` records it in the card",
            card_path.display(),
            model_path.display(),
            card_path.display()
        ),
    }
    Ok((model_path, sha256))
}

/// Sessions to open: one per core on the CPU unless `threads` asks for one shared session.
fn session_count(config: &OnnxConfig) -> usize {
    match (config.device, config.threads) {
        (Device::Cpu, None) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    }
}

/// An ONNX Runtime session on the model file, with the config's threads and device (one
/// thread inside a run for each of the per-core sessions).
fn open_session(card: &ModelCard, model_path: &Path, config: &OnnxConfig) -> Result<Session> {
    let env = runtime::runtime()?;
    let ort_err = |e: &dyn std::fmt::Display| Error::InvalidConfig {
        model: card.name.clone(),
        reason: format!("ONNX Runtime cannot open {}: {e}", model_path.display()),
    };
    let mut builder = Session::builder(env).map_err(|e| ort_err(&e))?;
    let intra = match (config.device, config.threads) {
        (_, Some(n)) => Some(n),
        (Device::Cpu, None) => Some(1),
        _ => None,
    };
    if let Some(n) = intra {
        builder = builder.with_intra_threads(n).map_err(|e| ort_err(&e))?;
    }
    // Without memory patterns (planned per input shape and kept), peak memory follows one
    // batch, not the history of batch shapes; the arena stays (without it runs took 13%
    // longer on basic-pitch).
    builder = builder
        .with_memory_pattern(false)
        .map_err(|e| ort_err(&e))?;
    builder = with_device(builder, config.device, &card.name)?;
    builder
        .commit_from_file(model_path)
        .map_err(|e| ort_err(&e))
}

/// The tensors the card names must exist, with the card's fixed sizes.
fn check_tensors(
    card: &ModelCard,
    card_path: &Path,
    session: &Session,
    layers: &[usize],
) -> Result<()> {
    let err = |field: &str, reason: String| card_error(card_path, field, reason);
    let input = session
        .inputs()
        .iter()
        .find(|i| i.name() == card.input.name)
        .ok_or_else(|| {
            let known: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
            let name = &card.input.name;
            err(
                "input.name",
                format!("the model has no input `{name}`; it has {known:?}"),
            )
        })?;
    if let Some(shape) = input.dtype().tensor_shape() {
        let want = card_shape(card, 1, card.input.window_samples);
        let fits =
            shape.len() == want.len() && shape.iter().zip(&want).all(|(&m, &w)| m < 0 || m == w);
        if !fits {
            return Err(err(
                "input.shape",
                format!(
                    "the card's shape gives {want:?} for one window; the model's input is {:?} \
                     (-1: any size)",
                    &shape[..]
                ),
            ));
        }
    }
    let known = || {
        session
            .inputs()
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
    };
    for (k, c) in card.input.constants.iter().enumerate() {
        if !session.inputs().iter().any(|i| i.name() == c.name) {
            return Err(err(
                &format!("input.constants[{k}].name"),
                format!("the model has no input `{}`; it has {:?}", c.name, known()),
            ));
        }
    }
    let given =
        |name: &str| name == card.input.name || card.input.constants.iter().any(|c| c.name == name);
    if let Some(other) = session.inputs().iter().find(|i| !given(i.name())) {
        return Err(err(
            "input.constants",
            format!(
                "the model also takes input `{}` ({:?}); give it a value under \
                 `input.constants`",
                other.name(),
                other.dtype()
            ),
        ));
    }
    for &l in layers {
        let o = &card.outputs[l];
        if !session.outputs().iter().any(|s| s.name() == o.name) {
            let known: Vec<&str> = session.outputs().iter().map(|s| s.name()).collect();
            return Err(err(
                &format!("outputs[{l}].name"),
                format!("the model has no output `{}`; it has {known:?}", o.name),
            ));
        }
    }
    Ok(())
}

/// The card's front end: the log-mel it computes before the network (and its log scale),
/// or `None` for a waveform input.
fn front_end(card: &ModelCard, card_path: &Path) -> Result<Option<(LogMel, LogScale)>> {
    let FrontEnd::Logmel {
        n_fft,
        hop_length,
        n_mels,
        fmin,
        fmax,
        log,
    } = &card.input.front_end
    else {
        return Ok(None);
    };
    let logmel = LogMel::new(LogMelConfig {
        sample_rate_hz: card.input.sample_rate_hz,
        n_fft: *n_fft,
        hop_length: *hop_length,
        n_mels: *n_mels,
        fmin: *fmin,
        fmax: *fmax,
        top_db: None,
        window_s: None,
        hop_s: None,
    })
    .map_err(|e| card_error(card_path, "input.front_end", e.to_string()))?;
    Ok(Some((logmel, *log)))
}

/// Input values per run that the automatic batch size aims at.
const BATCH_VALUES: usize = 1 << 19;
/// The largest automatic batch.
const MAX_AUTO_BATCH: usize = 64;

/// The batch size of a model whose single-window input has `shape` (batch first): the windows
/// that make about 2^19 input values (2 MiB of f32), from 1 to 64.
/// Larger runs amortise ONNX Runtime's per-run cost; beyond this they stop gaining and cost
/// activation memory in every session.
pub fn auto_batch_size(shape: &[i64]) -> usize {
    let values: i64 = shape.iter().skip(1).map(|&d| d.max(1)).product();
    (BATCH_VALUES / usize::try_from(values).unwrap_or(usize::MAX).max(1)).clamp(1, MAX_AUTO_BATCH)
}

/// The input shape for `batch` windows of `samples` samples.
fn card_shape(card: &ModelCard, batch: usize, samples: usize) -> Vec<i64> {
    let i = &card.input;
    i.shape
        .iter()
        .map(|d| axis_size(card, *d, batch, samples))
        .collect()
}

/// The size of axis `d` for `batch` windows of `samples` samples.
fn axis_size(card: &ModelCard, d: Dim, batch: usize, samples: usize) -> i64 {
    let (frames, mels) = match &card.input.front_end {
        FrontEnd::Waveform => (0, 0),
        FrontEnd::Logmel {
            hop_length, n_mels, ..
        } => (1 + samples / hop_length, *n_mels),
    };
    match d {
        Dim::Fixed(n) => n,
        Dim::Named(DimName::Batch) => batch as i64,
        Dim::Named(DimName::Samples) => samples as i64,
        Dim::Named(DimName::Frames) => frames as i64,
        Dim::Named(DimName::Mels) => mels as i64,
    }
}

/// The session builder with the execution provider of `device`. A CUDA device the runtime
/// cannot use (a CPU-only build, no such device, no CUDA libraries) is an error naming it:
/// never a silent run on the CPU.
fn with_device(
    builder: ort::session::builder::SessionBuilder,
    device: Device,
    model: &str,
) -> Result<ort::session::builder::SessionBuilder> {
    let Device::Cuda(id) = device else {
        return Ok(builder);
    };
    let cuda = ort::ep::CUDA::default()
        .with_device_id(i32::try_from(id).unwrap_or(i32::MAX))
        .build()
        .error_on_failure();
    builder
        .with_execution_providers([cuda])
        .map_err(|e| Error::InvalidConfig {
            model: model.into(),
            reason: format!(
                "device `{device}`: ONNX Runtime's CUDA execution provider is not available \
                 ({e}); it needs an NVIDIA GPU with that index, its CUDA 12 and cuDNN 9 \
                 libraries, and a runtime built for CUDA (`mir-ref setup-ort --gpu`, then \
                 ORT_DYLIB_PATH as it prints)"
            ),
        })
}

/// Whether `path` is a model card (a YAML file).
pub fn is_card(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

#[cfg(test)]
mod tests {
    use super::auto_batch_size;

    #[test]
    fn the_automatic_batch_holds_about_half_a_million_input_values() {
        // basic-pitch: 43,844 samples by 1 channel.
        assert_eq!(auto_batch_size(&[1, 43_844, 1]), 11);
        // One second at 16 kHz; 96 frames by 64 mel bands (VGGish-like).
        assert_eq!(auto_batch_size(&[1, 16_000]), 32);
        assert_eq!(auto_batch_size(&[1, 1, 96, 64]), 64);
        // Ten seconds at 48 kHz, stereo: one window per run.
        assert_eq!(auto_batch_size(&[1, 2, 480_000]), 1);
    }
}
