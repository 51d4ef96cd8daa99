//! Embeddings for mir-ref: built-in DSP baselines behind one [`Embedder`] trait.
//!
//! Reads mono `f32` audio (decoded by the caller); writes `embeddings` rows
//! ([`mir_table::EmbeddingRow`]) with the schema from [`embeddings_schema`]. It knows nothing
//! about datasets, labels or probes, and never decodes or downloads files.
//!
//! The key design decision is that an embedding model describes itself ([`ModelInfo`]: sample
//! rate, window, hop, layers and their widths, checksum) and everything downstream reads those facts
//! from the `embeddings` table's metadata rather than from code, so adding a model never touches
//! another crate.
//!
//! ```
//! use mir_embed::{Embedder, logmel::{LogMel, LogMelConfig}};
//!
//! let model = LogMel::new(LogMelConfig::default()).unwrap();
//! let windows = model.embed(&vec![0.0; 22_050]).unwrap();
//! assert_eq!(windows[0].embedding.len(), model.info().dims[0]);
//! ```

/// The [`features::Framing`] of a config that has `sample_rate_hz`, `hop_length`, `window_s`
/// and `hop_s` (every built-in embedding's config).
macro_rules! framing_of {
    ($config:expr) => {
        crate::features::Framing {
            sample_rate_hz: $config.sample_rate_hz,
            hop_length: $config.hop_length,
            window_s: $config.window_s,
            hop_s: $config.hop_s,
        }
    };
}

pub mod features;
pub mod logmel;
#[cfg(feature = "onnx")]
pub mod onnx;
pub mod pooling;
pub mod precomputed;
pub mod python;

use arrow::datatypes::SchemaRef;
use mir_audio::sha256_hex;
use mir_table::{EmbeddingRow, Metadata, TableKind, keys};
use serde::{Deserialize, Serialize};

/// Errors of embedding extraction.
///
/// [`Error::InvalidConfig`] ends the run (the model cannot be built); [`Error::Extraction`]
/// concerns one track and may be recorded and skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model's parameters are invalid.
    #[error("model `{model}`: {reason}")]
    InvalidConfig {
        /// Model name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// Extraction failed on one input.
    #[error("model `{model}`: {reason}")]
    Extraction {
        /// Model name.
        model: String,
        /// What is wrong.
        reason: String,
    },
    /// A model card is invalid, or does not match its model file.
    #[error("model card {card}{}: {reason}", if field.is_empty() { String::new() } else { format!(", field `{field}`") })]
    Card {
        /// The card's path.
        card: std::path::PathBuf,
        /// The field at fault (`""`: the card as a whole).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// No usable ONNX Runtime library.
    #[error("{0}")]
    Runtime(String),
    /// The embeddings table cannot be built.
    #[error(transparent)]
    Table(#[from] mir_table::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a model is, as recorded in the `embeddings` table's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Licence of the model (weights or code).
    pub license: String,
    /// SHA-256 of the model file, or of a built-in model's full definition.
    pub sha256: String,
    /// Sample rate the model consumes.
    pub sample_rate_hz: u32,
    /// Window length in seconds; 0 when one window covers the whole track.
    pub window_s: f64,
    /// Hop between windows in seconds.
    pub hop_s: f64,
    /// The names of the layers the model outputs; layer `i` of the `layer` column is `layers[i]`.
    pub layers: Vec<String>,
    /// Each layer's embedding width, in `layers` order: layers may differ.
    pub dims: Vec<usize>,
    /// Where embeddings computed elsewhere were read from; `None` for a model that computes.
    pub source: Option<String>,
}

/// One window's embedding from one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEmbedding {
    /// Layer index.
    pub layer: i32,
    /// Window index.
    pub window: i32,
    /// Window start in seconds.
    pub start_s: f32,
    /// The embedding, `dim` values.
    pub embedding: Vec<f32>,
}

/// An embedding model: turns mono audio at [`ModelInfo::sample_rate_hz`] into window embeddings.
///
/// Implementations must be deterministic (same audio, same embeddings) and usable from several
/// threads at once.
pub trait Embedder: Send + Sync {
    /// Describes the model.
    fn info(&self) -> ModelInfo;
    /// Embeds one track, every window of every layer.
    fn embed(&self, samples: &[f32]) -> Result<Vec<WindowEmbedding>>;
    /// Embeds several tracks at once, one result per track; models that batch (ONNX) pack the
    /// windows of all of them into full batches.
    fn embed_batch(&self, tracks: &[&[f32]]) -> Vec<Result<Vec<WindowEmbedding>>> {
        tracks.iter().map(|t| self.embed(t)).collect()
    }
    /// Embeds audio that arrives in chunks. The default collects the chunks and calls
    /// [`Embedder::embed`]; windowed models (ONNX) override it to hold only the current window
    /// and one batch, so memory does not grow with the track's length.
    fn embed_stream(
        &self,
        chunks: &mut dyn Iterator<Item = Result<Vec<f32>>>,
    ) -> Result<Vec<WindowEmbedding>> {
        let mut samples = Vec::new();
        for chunk in chunks {
            samples.extend_from_slice(&chunk?);
        }
        self.embed(&samples)
    }
    /// SHA-256 of everything that determines the output (the model and how it is run); caches
    /// key on it. Default: [`ModelInfo::sha256`].
    fn fingerprint(&self) -> String {
        self.info().sha256
    }
    /// Whether the model reads embeddings stored by track ([`Embedder::stored`]) instead of
    /// computing them from audio ([`precomputed`]).
    fn reads_stored(&self) -> bool {
        false
    }
    /// For a model that [`reads_stored`](Embedder::reads_stored): the windows of a track under
    /// `condition` (`clean` or a deformation); `None` when the condition has none stored; an
    /// [`Error::Extraction`] naming the file when it is missing or malformed.
    fn stored(&self, _track_id: &str, _condition: &str) -> Result<Option<Vec<WindowEmbedding>>> {
        Ok(None)
    }
}

/// An embedding model as written in the experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelConfig {
    /// Log-mel band means and standard deviations ([`logmel`]).
    Logmel(logmel::LogMelConfig),
    /// MFCC with deltas ([`features::Mfcc`]).
    Mfcc(features::MfccConfig),
    /// Chroma from the STFT ([`features::Chroma`]).
    Chroma(features::ChromaConfig),
    /// Spectral statistics ([`features::Spectral`]).
    Spectral(features::SpectralConfig),
    /// An ONNX model described by a model card ([`onnx`]).
    #[cfg(feature = "onnx")]
    Onnx(onnx::OnnxConfig),
    /// A Python module with the HEAR API, in a worker process ([`python`]).
    Hear(python::PythonConfig),
    /// A Python module with an `embed` function, in a worker process ([`python`]).
    Python(python::PythonConfig),
    /// Embeddings computed elsewhere: `.npy` files or Parquet tables ([`precomputed`]).
    Precomputed(precomputed::PrecomputedConfig),
}

impl ModelConfig {
    /// The files the config names (a model card), for a caller that resolves relative paths
    /// against the config they were written in.
    pub fn paths_mut(&mut self) -> Vec<&mut std::path::PathBuf> {
        match self {
            #[cfg(feature = "onnx")]
            ModelConfig::Onnx(c) => vec![&mut c.card],
            ModelConfig::Hear(c) | ModelConfig::Python(c) => c.paths_mut(),
            ModelConfig::Precomputed(c) => c.paths_mut(),
            _ => Vec::new(),
        }
    }

    /// The layer names the config gives without building the model, where it does (a Python
    /// model's worker is then started once, by the extraction, not also by the config check).
    pub fn declared_layers(&self) -> Option<Vec<String>> {
        match self {
            ModelConfig::Hear(c) => c.declared_layers(python::Kind::Hear),
            ModelConfig::Python(c) => c.declared_layers(python::Kind::Python),
            _ => None,
        }
    }

    /// For a model marked `optional` whose file or runtime is not there: why. Such a model is
    /// left out of the run with a notice.
    pub fn skipped_because(&self) -> Option<String> {
        match self {
            #[cfg(feature = "onnx")]
            ModelConfig::Onnx(c) if c.optional => c.missing(),
            _ => None,
        }
    }
}

/// Builds the model a config describes.
pub fn build(config: &ModelConfig) -> Result<Box<dyn Embedder>> {
    match config {
        ModelConfig::Logmel(c) => Ok(Box::new(logmel::LogMel::new(c.clone())?)),
        ModelConfig::Mfcc(c) => Ok(Box::new(features::Mfcc::new(c.clone())?)),
        ModelConfig::Chroma(c) => Ok(Box::new(features::Chroma::new(c.clone())?)),
        ModelConfig::Spectral(c) => Ok(Box::new(features::Spectral::new(c.clone())?)),
        #[cfg(feature = "onnx")]
        ModelConfig::Onnx(c) => Ok(Box::new(onnx::OnnxEmbedder::new(c)?)),
        ModelConfig::Hear(c) => Ok(Box::new(python::PythonEmbedder::new(
            python::Kind::Hear,
            c,
        )?)),
        ModelConfig::Python(c) => Ok(Box::new(python::PythonEmbedder::new(
            python::Kind::Python,
            c,
        )?)),
        ModelConfig::Precomputed(c) => Ok(Box::new(precomputed::Precomputed::open(c)?)),
    }
}

/// The `embeddings` schema of layer `layer` (an index into [`ModelInfo::layers`]) of `model`
/// (a config name) on `dataset`: one layer per table, so each has its own width.
pub fn embeddings_schema(
    info: &ModelInfo,
    layer: usize,
    model: &str,
    dataset: &str,
) -> Result<SchemaRef> {
    let (Some(name), Some(&dim)) = (info.layers.get(layer), info.dims.get(layer)) else {
        return Err(Error::InvalidConfig {
            model: model.into(),
            reason: format!(
                "no layer {layer}: the model has {} names and {} widths",
                info.layers.len(),
                info.dims.len()
            ),
        });
    };
    let mut meta = Metadata::new()
        .with(keys::DATASET, dataset)
        .with(keys::MODEL, model)
        .with(keys::LAYER, layer)
        .with(keys::LAYER_NAME, name)
        .with(keys::DIM, dim)
        .with(keys::SAMPLE_RATE_HZ, info.sample_rate_hz)
        .with(keys::WINDOW_S, info.window_s)
        .with(keys::HOP_S, info.hop_s)
        .with(keys::MODEL_SHA256, &info.sha256)
        .with(
            keys::LAYERS,
            serde_json::to_string(&info.layers).expect("strings serialise"),
        );
    if let Some(source) = &info.source {
        meta = meta.with(keys::SOURCE, source);
    }
    Ok(TableKind::Embeddings.schema(dim as i32, &meta)?)
}

/// Embeds one track and labels the rows with the track and the deformation.
pub fn embed_track(
    model: &dyn Embedder,
    track_id: &str,
    deformation: &str,
    samples: &[f32],
) -> Result<Vec<EmbeddingRow>> {
    Ok(model
        .embed(samples)?
        .into_iter()
        .map(|w| EmbeddingRow {
            track_id: track_id.to_string(),
            deformation: deformation.to_string(),
            layer: w.layer,
            window: w.window,
            start_s: w.start_s,
            embedding: w.embedding,
        })
        .collect())
}

/// Summarises frame features (`frames x dims`) per window by mean and standard deviation:
/// the whole track as one window when `window_s` is `None`, else windows of `window_s` every
/// `hop_s` (default `window_s`) seconds.
pub(crate) fn summarize(
    frames: &[Vec<f32>],
    dims: usize,
    sample_rate_hz: f64,
    hop_length: usize,
    window_s: Option<f64>,
    hop_s: Option<f64>,
) -> Vec<WindowEmbedding> {
    let hop = hop_length as f64;
    let (win, step) = match window_s {
        None => (frames.len().max(1), frames.len().max(1)),
        Some(w) => {
            let win = ((w * sample_rate_hz / hop).round() as usize).max(1);
            let step = ((hop_s.unwrap_or(w) * sample_rate_hz / hop).round() as usize).max(1);
            (win, step)
        }
    };
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + win).min(frames.len());
        out.push(WindowEmbedding {
            layer: 0,
            window: out.len() as i32,
            start_s: (start as f64 * hop / sample_rate_hz) as f32,
            embedding: logmel::mean_std(&frames[start.min(end)..end], dims),
        });
        if end >= frames.len() {
            break;
        }
        start += step;
    }
    out
}
