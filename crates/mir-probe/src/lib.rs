//! Downstream probes for mir-ref: train a classifier on embeddings, predict every held-out track.
//!
//! Reads `tracks` (labels, splits, vocabulary) and `embeddings` (clean, and each deformation of
//! the test audio); writes `predictions` and `training_log`. It knows nothing about audio, files
//! or metrics beyond the early-stopping accuracy.
//!
//! Windows become track predictions by `embedding_mean` (average the window embeddings, then
//! classify) or `prediction_mean` (classify every window, then average the scores).
//!
//! The key design decision is that every source of randomness is the probe's own seed: weights
//! are initialised from a ChaCha generator rather than the backend's global seed, and batches are
//! shuffled from the same generator, so the same seed gives the same predictions on the same
//! backend even when many probes train at once. Inputs are standardised with statistics of the
//! training split only, and every validation and test track is predicted (no partial batch is
//! dropped).
//!
//! On plain rows and labels ([`fit_classifier`]); on the pipeline's tables, [`run`]:
//!
//! ```
//! // Two classes: points around (-1, -1) and around (1, 1), 2-dimensional embeddings.
//! let (mut x, mut y) = (Vec::new(), Vec::new());
//! for i in 0..100 {
//!     let class = i % 2;
//!     let centre = if class == 0 { -1.0 } else { 1.0 };
//!     let jitter = ((i * 37 % 11) as f32 - 5.0) / 10.0;
//!     x.extend([centre + jitter, centre - jitter / 2.0]);
//!     y.push(class);
//! }
//! let config = mir_probe::ProbeConfig { epochs: 30, ..Default::default() };
//! let probe = mir_probe::fit_classifier(&config, 0, &x, 2, &y, 2).unwrap();
//! let scores = probe.predict(&[-1.2, -0.9, 0.8, 1.1]).unwrap();
//! assert!(scores[0][0] > 0.5 && scores[1][1] > 0.5); // class probabilities per row
//! ```

mod chance;
mod neighbors;
mod subset;
mod train;

pub use chance::{Chance, chance};
pub use neighbors::{Distance, Voting};

use std::collections::{BTreeMap, HashMap};

use arrow::datatypes::SchemaRef;
use mir_table::{
    CLEAN, Epoch, Metadata, Prediction, Split, Table, TableKind, TaskType, Track,
    embeddings_may_hold, keys, read_embeddings, read_tracks,
};
use serde::{Deserialize, Serialize};

/// Errors of probe training. All of them end the probe; other probes may go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("probe config: {0}")]
    InvalidConfig(String),
    /// No training track has an embedding.
    #[error("no training track has an embedding")]
    NoTrainingData,
    /// A track has a label outside the vocabulary, or not exactly one label.
    #[error("track `{track_id}`: {reason}")]
    BadLabel {
        /// The track.
        track_id: String,
        /// What is wrong.
        reason: String,
    },
    /// The tensor backend failed.
    #[error("tensor backend: {0}")]
    Backend(String),
    /// An input table is invalid.
    #[error(transparent)]
    Table(#[from] mir_table::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The burn backend probes train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn-ndarray (CPU).
    Ndarray,
    /// burn's pure-Rust flex backend (CPU), the default: the fastest on the CPU (`cargo
    /// xtask bench probe`).
    #[default]
    Flex,
    /// burn-wgpu: a GPU through Vulkan, Metal, DirectX or OpenGL; a machine with no GPU (only a
    /// CPU rasterizer such as Mesa's lavapipe) is an error. Needs this crate's `gpu` feature
    /// (`cargo run -p xtask --features gpu` builds the pipeline with it).
    Wgpu,
}

/// Why `backend: wgpu` is refused in a build without the `gpu` feature.
pub(crate) const NO_GPU: &str = "`backend: wgpu` needs mir-probe's `gpu` cargo feature: run \
    `cargo run -p xtask --features gpu -- experiment CONFIG`";

/// The probe architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// No hidden layer.
    #[default]
    Linear,
    /// Hidden layers (sizes from `hidden` or from an `adaptive` rule), ReLU between them.
    Mlp,
    /// No training: the `k` nearest training tracks vote (`distance`, `weights`).
    Knn,
    /// No training: the nearest class mean of the training tracks (multiclass; `distance`).
    Centroid,
}

impl ProbeKind {
    /// Whether it is a network trained by gradient descent (else it remembers its rows).
    pub fn trains(self) -> bool {
        matches!(self, ProbeKind::Linear | ProbeKind::Mlp)
    }
}

/// Hidden sizes computed from each embedding's dimension `d` and class count `C`
/// (the Python mir_ref's rules), for `hidden_layers` layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adaptive {
    /// Layer `i` of `n`: `C + (n - i) (d - C) / (n + 1)`: a linear taper from `d` to `C`.
    Infer,
    /// Layer `i`: `alpha (i + 1)^2 + C` with `alpha = (d - C) / (n + 1)`.
    PowerInfer,
}

/// How a track's window embeddings become one prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Average the window embeddings, then classify the track.
    #[default]
    EmbeddingMean,
    /// Train and classify each window (with its track's label), then average the scores.
    PredictionMean,
}

impl Aggregation {
    /// The metadata value.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::EmbeddingMean => "embedding_mean",
            Aggregation::PredictionMean => "prediction_mean",
        }
    }
}

/// The activation between hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// Gaussian error linear unit (exact, with erf).
    Gelu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
}

/// Per-class weights of the training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every example counts the same.
    #[default]
    None,
    /// Classes weighted inversely to their frequency in the training split.
    Balanced,
}

/// The validation metric a probe is selected on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Accuracy (ties broken by the lower loss); the loss for non-multiclass tasks.
    #[default]
    Accuracy,
    /// Macro F1 over the classes in the truth or the predictions (scikit-learn's
    /// `f1_score(average="macro")`); the loss for non-multiclass tasks.
    F1Macro,
    /// The validation loss (lower is better).
    Loss,
}

/// A hyperparameter search space: every combination of the listed values (a list left empty
/// keeps the probe's own value), or `random` of them drawn with the probe's seed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Learning rates.
    #[serde(default)]
    pub learning_rate: Vec<f64>,
    /// Hidden layer sizes (MLP only).
    #[serde(default)]
    pub hidden: Vec<Vec<usize>>,
    /// Dropout probabilities (MLP only).
    #[serde(default)]
    pub dropout: Vec<f64>,
    /// Weight decays.
    #[serde(default)]
    pub weight_decay: Vec<f64>,
    /// Train only this many combinations, drawn without replacement.
    #[serde(default)]
    pub random: Option<usize>,
}

impl Search {
    /// The candidate configs, each with the JSON of the values it sets.
    pub fn candidates(
        &self,
        base: &ProbeConfig,
        seed: u64,
    ) -> Vec<(ProbeConfig, serde_json::Value)> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let or = |v: &Vec<f64>, x: f64| if v.is_empty() { vec![x] } else { v.clone() };
        let hidden = if self.hidden.is_empty() {
            vec![base.hidden.clone()]
        } else {
            self.hidden.clone()
        };
        let mut out = Vec::new();
        for &learning_rate in &or(&self.learning_rate, base.learning_rate) {
            for h in &hidden {
                for &dropout in &or(&self.dropout, base.dropout) {
                    for &weight_decay in &or(&self.weight_decay, base.weight_decay) {
                        let mut c = base.clone();
                        c.search = None;
                        c.learning_rate = learning_rate;
                        c.hidden = h.clone();
                        // Searched explicit sizes replace an adaptive rule.
                        c.adaptive = c.adaptive.filter(|_| self.hidden.is_empty());
                        c.dropout = dropout;
                        c.weight_decay = weight_decay;
                        let chosen = serde_json::json!({
                            "learning_rate": learning_rate,
                            "hidden": h,
                            "dropout": dropout,
                            "weight_decay": weight_decay,
                        });
                        out.push((c, chosen));
                    }
                }
            }
        }
        if let Some(k) = self.random
            && k < out.len()
        {
            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed ^ 0x5ea4_c4ed);
            out.shuffle(&mut rng);
            out.truncate(k);
        }
        out
    }
}

/// A reduce-on-plateau learning-rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    /// Multiplies the learning rate.
    #[serde(default = "d_factor")]
    pub factor: f64,
    /// Epochs without improvement before reducing.
    #[serde(default = "d_plateau_patience")]
    pub patience: usize,
    /// The learning rate never goes below this.
    #[serde(default)]
    pub min_lr: f64,
}

fn d_factor() -> f64 {
    0.1
}
fn d_plateau_patience() -> usize {
    5
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam, with L2 weight decay added to the gradient.
    #[default]
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
    /// SGD, with `momentum` when positive.
    Sgd,
}

/// Rounds down, then up to an even number (at least 2).
fn even(x: f64) -> usize {
    let n = x.floor().max(2.0) as usize;
    n + n % 2
}

/// The hidden layer sizes of `config` for input dimension `d` and output width `c`.
pub fn hidden_sizes(config: &ProbeConfig, d: usize, c: usize) -> Vec<usize> {
    let n = config.hidden_layers;
    let (d, c) = (d as f64, c as f64);
    match (config.kind, config.adaptive) {
        (ProbeKind::Linear | ProbeKind::Knn | ProbeKind::Centroid, _) => vec![],
        (ProbeKind::Mlp, None) => config.hidden.clone(),
        (ProbeKind::Mlp, Some(Adaptive::Infer)) => (0..n)
            .map(|i| even(c + (n - i) as f64 * (d - c) / (n + 1) as f64))
            .collect(),
        (ProbeKind::Mlp, Some(Adaptive::PowerInfer)) => {
            let alpha = (d - c) / (n + 1) as f64;
            (0..n)
                .map(|i| even(alpha * ((i + 1) as f64).powi(2) + c))
                .collect()
        }
    }
}

/// A probe as written in the experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Architecture.
    #[serde(rename = "type", default)]
    pub kind: ProbeKind,
    /// Hidden layer sizes (MLP only).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Compute hidden sizes from the embedding dimension and class count instead (MLP only).
    #[serde(default)]
    pub adaptive: Option<Adaptive>,
    /// Number of hidden layers of an `adaptive` MLP.
    #[serde(default = "d_hidden_layers")]
    pub hidden_layers: usize,
    /// Optimiser.
    #[serde(default)]
    pub optimizer: Optimizer,
    /// SGD momentum (PyTorch semantics, no dampening).
    #[serde(default)]
    pub momentum: f64,
    /// Window handling.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Maximum number of epochs.
    #[serde(default = "d_epochs")]
    pub epochs: usize,
    /// Adam learning rate.
    #[serde(default = "d_lr")]
    pub learning_rate: f64,
    /// Minibatch size; the last partial batch is kept.
    #[serde(default = "d_batch")]
    pub batch_size: usize,
    /// L2 weight decay.
    #[serde(default)]
    pub weight_decay: f64,
    /// Epochs in which the validation metric does not rise by more than `min_delta` before
    /// stopping (the weights kept are those of the best epoch, ties broken by the lower
    /// validation loss).
    #[serde(default = "d_patience")]
    pub patience: usize,
    /// The rise of the validation metric that counts as progress for `patience` and
    /// `reduce_on_plateau` (scikit-learn's `tol`, default 1e-4).
    #[serde(default = "d_min_delta")]
    pub min_delta: f64,
    /// Activation between layers (MLP only).
    #[serde(default)]
    pub activation: Activation,
    /// Dropout probability after each hidden activation during training (MLP only); masks
    /// come from the probe's seeded generator, so a seed gives the same training on any
    /// backend.
    #[serde(default)]
    pub dropout: f64,
    /// Batch normalisation after each hidden layer, before its activation (MLP only).
    #[serde(default)]
    pub batch_norm: bool,
    /// Class weights of the loss: `none`, or `balanced` (`n / (classes x count)` per class,
    /// scikit-learn's rule; for multilabel, per tag from its positives) for imbalanced data.
    #[serde(default)]
    pub class_weight: ClassWeight,
    /// The validation metric that early stopping, best-epoch selection and
    /// `reduce_on_plateau` watch (`accuracy` and `f1_macro` are for multiclass tasks; other
    /// tasks use the loss).
    #[serde(default)]
    pub selection: Selection,
    /// Multiply the learning rate by `factor` after `patience` epochs without improvement of
    /// the validation metric (PyTorch's `ReduceLROnPlateau`), not below `min_lr`.
    #[serde(default)]
    pub reduce_on_plateau: Option<Plateau>,
    /// Hyperparameter search: candidates trained with the same seed, the one with the best
    /// validation metric kept.
    #[serde(default)]
    pub search: Option<Search>,
    /// Tensor backend.
    #[serde(default)]
    pub backend: Backend,
    /// Deformations whose training-split embeddings are added to the training set
    /// (augmentation). Empty (the default, the paper's protocol): train on clean audio only.
    /// Validation stays clean, so early stopping selects on clean audio.
    #[serde(default)]
    pub augment: Vec<String>,
    /// Neighbours that vote (`knn` only).
    #[serde(default = "d_k")]
    pub k: usize,
    /// Distance between standardised embeddings (`knn` and `centroid`).
    #[serde(default)]
    pub distance: Distance,
    /// How neighbours vote (`knn` only): `uniform` or `distance`.
    #[serde(default)]
    pub weights: Voting,
    /// Few-shot: train on `shots` training tracks of each class (multiclass), chosen by the
    /// probe seed; a smaller `shots` takes a subset of a larger one's tracks.
    #[serde(default)]
    pub shots: Option<usize>,
    /// Data efficiency: train on this fraction (in (0, 1]) of each class's training tracks
    /// (of all training tracks for multilabel and regression tasks), rounded up, or, above 1,
    /// on that many tracks in the same proportions; chosen by the probe seed so that a smaller
    /// part takes a subset of a larger one's tracks. A list (`[0.01, 0.1, 1.0]`) is one probe
    /// per part ([`ProbeConfig::parts`]), for a curve of the metric against training size.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "one_or_many"
    )]
    pub train_fraction: Vec<f64>,
}

/// A number or a list of numbers.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(f64),
        Many(Vec<f64>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(x) => vec![x],
        OneOrMany::Many(v) => v,
    })
}

fn d_k() -> usize {
    5
}

fn d_hidden_layers() -> usize {
    1
}
fn d_epochs() -> usize {
    200
}
fn d_lr() -> f64 {
    1e-3
}
fn d_batch() -> usize {
    32
}
fn d_patience() -> usize {
    20
}

fn d_min_delta() -> f64 {
    1e-4
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            kind: ProbeKind::Linear,
            hidden: vec![],
            adaptive: None,
            hidden_layers: d_hidden_layers(),
            optimizer: Optimizer::default(),
            momentum: 0.0,
            aggregation: Aggregation::default(),
            epochs: d_epochs(),
            learning_rate: d_lr(),
            batch_size: d_batch(),
            weight_decay: 0.0,
            patience: d_patience(),
            min_delta: d_min_delta(),
            activation: Activation::default(),
            dropout: 0.0,
            batch_norm: false,
            class_weight: ClassWeight::default(),
            selection: Selection::default(),
            reduce_on_plateau: None,
            search: None,
            backend: Backend::default(),
            augment: vec![],
            k: d_k(),
            distance: Distance::default(),
            weights: Voting::default(),
            shots: None,
            train_fraction: vec![],
        }
    }
}

impl ProbeConfig {
    /// Checks the parameters against each other.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidConfig(m.into()));
        if !self.kind.trains() {
            return self.check_untrained();
        }
        match (self.kind, self.hidden.is_empty(), self.adaptive.is_some()) {
            (ProbeKind::Linear, false, _) | (ProbeKind::Linear, _, true) => {
                return bad("a linear probe has no `hidden` sizes or `adaptive` rule");
            }
            (ProbeKind::Mlp, true, false) => {
                return bad("an mlp probe needs `hidden` sizes or an `adaptive` rule");
            }
            (ProbeKind::Mlp, false, true) => {
                return bad("give either `hidden` sizes or an `adaptive` rule, not both");
            }
            (ProbeKind::Mlp, _, true) if self.hidden_layers == 0 => {
                return bad("`hidden_layers` must be at least 1");
            }
            _ => {}
        }
        if self.hidden.contains(&0) {
            return bad("hidden sizes must be positive");
        }
        if self.epochs == 0
            || self.batch_size == 0
            || self.learning_rate.is_nan()
            || self.learning_rate <= 0.0
        {
            return Err(Error::InvalidConfig(
                "epochs, batch_size and learning_rate must be positive".into(),
            ));
        }
        if let Some(p) = self.reduce_on_plateau
            && !(p.factor > 0.0 && p.factor < 1.0 && p.patience > 0)
        {
            return bad("`reduce_on_plateau` needs 0 < factor < 1 and patience >= 1");
        }
        if let Some(search) = &self.search {
            if search.random == Some(0) {
                return bad("`search.random` must be at least 1");
            }
            for (c, _) in search.candidates(self, 0) {
                c.check()
                    .map_err(|e| Error::InvalidConfig(format!("a `search` candidate: {e}")))?;
            }
        }
        if self.backend == Backend::Wgpu && cfg!(not(feature = "gpu")) {
            return Err(Error::InvalidConfig(NO_GPU.into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("`dropout` must be in [0, 1)");
        }
        if self.dropout > 0.0 && self.kind == ProbeKind::Linear {
            return bad("a linear probe has no hidden layer to drop out");
        }
        if self.batch_norm && self.kind == ProbeKind::Linear {
            return bad("a linear probe has no hidden layer to normalise");
        }
        self.check_shots()
    }

    /// The rules of `knn` and `centroid`, which train nothing.
    fn check_untrained(&self) -> Result<()> {
        let kind = if self.kind == ProbeKind::Knn {
            "knn"
        } else {
            "centroid"
        };
        let bad = |m: String| Err(Error::InvalidConfig(m));
        if !self.hidden.is_empty() || self.adaptive.is_some() {
            return bad(format!(
                "a {kind} probe has no `hidden` sizes or `adaptive` rule"
            ));
        }
        if self.search.is_some() || self.dropout > 0.0 || self.batch_norm {
            return bad(format!(
                "a {kind} probe trains nothing: `search`, `dropout` and `batch_norm` do not apply"
            ));
        }
        if self.k == 0 {
            return bad("`k` must be at least 1".into());
        }
        if self.kind == ProbeKind::Centroid && self.weights != Voting::Uniform {
            return bad("`weights` are the votes of a knn probe; a centroid has none".into());
        }
        self.check_shots()
    }

    fn check_shots(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidConfig(m.into()));
        if self.shots == Some(0) {
            return bad("`shots` must be at least 1");
        }
        for &f in &self.train_fraction {
            if !(f > 0.0 && (f <= 1.0 || f.fract() == 0.0)) {
                return bad("`train_fraction` values are fractions in (0, 1] or whole counts");
            }
        }
        if self.shots.is_some() && !self.train_fraction.is_empty() {
            return bad("give `shots` or `train_fraction`, not both");
        }
        Ok(())
    }

    /// One probe per `train_fraction` value of a list, each with that value alone (in list
    /// order); a probe with one value or none is itself.
    pub fn parts(&self) -> Vec<(f64, ProbeConfig)> {
        if self.train_fraction.len() < 2 {
            return vec![];
        }
        (self.train_fraction.iter())
            .map(|&f| {
                let one = ProbeConfig {
                    train_fraction: vec![f],
                    ..self.clone()
                };
                (f, one)
            })
            .collect()
    }
}

/// What one probe run produced.
#[derive(Debug, Clone)]
pub struct ProbeOutput {
    /// Scores for every validation track (clean) and every test track (clean and deformed).
    pub predictions: Vec<Prediction>,
    /// One row per epoch.
    pub epochs: Vec<Epoch>,
    /// With a `search`: JSON of the chosen values.
    pub hyperparameters: Option<String>,
    /// A trained network: its architecture and standardisation, to save as `model.json`, and
    /// its best weights as a burnpack file, to save as `model.bpk` (none for `knn` and
    /// `centroid`, which keep their training rows).
    pub saved: Option<(SavedProbe, Vec<u8>)>,
    /// The epoch whose weights made the predictions (0 when nothing was trained).
    pub best_epoch: usize,
    /// Class vocabulary, score column order.
    pub vocabulary: Vec<String>,
    /// Task type.
    pub task_type: TaskType,
    /// Scores per prediction (classes, tags or target dimensions).
    pub width: usize,
    /// How windows were combined.
    pub aggregation: Aggregation,
    /// Training tracks it learnt from (with embeddings, after `shots` or `train_fraction`).
    pub train_tracks: usize,
}

/// A (track_id, deformation) pair.
type TrackKey = (String, String);

/// The vectors each (track, deformation) contributes at `layer`: the mean of its windows
/// (`embedding_mean`), or every window in window order (`prediction_mean`).
/// Each (track, deformation)'s vectors: one mean, or one per window.
type TrackVectors = BTreeMap<TrackKey, Vec<Vec<f32>>>;

fn track_vectors(tables: &[Table], layer: i32, aggregation: Aggregation) -> Result<TrackVectors> {
    let mut windows: BTreeMap<TrackKey, Vec<(i32, Vec<f32>)>> = BTreeMap::new();
    for table in tables.iter().filter(|t| embeddings_may_hold(t, layer)) {
        for row in read_embeddings(table)? {
            if row.layer == layer {
                windows
                    .entry((row.track_id, row.deformation))
                    .or_default()
                    .push((row.window, row.embedding));
            }
        }
    }
    Ok(windows
        .into_iter()
        .map(|(key, mut w)| {
            w.sort_by_key(|(i, _)| *i);
            let vectors = match aggregation {
                Aggregation::PredictionMean => w.into_iter().map(|(_, v)| v).collect(),
                Aggregation::EmbeddingMean => {
                    let mut sum = vec![0f64; w[0].1.len()];
                    for (_, v) in &w {
                        sum.iter_mut().zip(v).for_each(|(s, &x)| *s += f64::from(x));
                    }
                    vec![
                        sum.into_iter()
                            .map(|s| (s / w.len() as f64) as f32)
                            .collect(),
                    ]
                }
            };
            (key, vectors)
        })
        .collect())
}

/// A classifier probe fit on plain rows by [`fit_classifier`], with the standardisation it
/// learnt from them.
pub struct Classifier {
    fitted: Fitted,
    scaler: Scaler,
    dim: usize,
    classes: usize,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("dim", &self.dim)
            .field("best_epoch", &self.fitted.best_epoch())
            .finish_non_exhaustive()
    }
}

impl Classifier {
    /// Class probabilities (softmax) of each row of `x` (row-major, `dim` values a row).
    pub fn predict(&self, x: &[f32]) -> Result<Vec<Vec<f32>>> {
        let mut x = x.to_vec();
        self.scaler.apply(&mut x);
        self.fitted.predict(&x, self.dim, self.classes)
    }
}

/// Fits a probe of `config` on plain data, without tables: `x` holds `y.len()` rows of `dim`
/// values (row-major), `y` each row's class in `0..classes`. Rows are standardised with their
/// own statistics, as [`run`] does with the training split's; with no validation split the
/// last epoch is kept. Seeded as [`run`] is: the same seed gives the same probe.
pub fn fit_classifier(
    config: &ProbeConfig,
    seed: u64,
    x: &[f32],
    dim: usize,
    y: &[usize],
    classes: usize,
) -> Result<Classifier> {
    config.check()?;
    if dim == 0 || x.len() != y.len() * dim {
        return Err(Error::InvalidConfig(format!(
            "{} values are not {} rows of {dim}",
            x.len(),
            y.len()
        )));
    }
    if let Some(i) = y.iter().position(|&c| c >= classes) {
        return Err(Error::BadLabel {
            track_id: format!("row {i}"),
            reason: format!("class {} is not below {classes}", y[i]),
        });
    }
    let targets = train::Targets::Classes(y.iter().map(|&c| c as i64).collect());
    let validation = train::Dataset::empty(dim, classes, &targets);
    let mut train_set = train::Dataset {
        x: x.to_vec(),
        y: targets,
        dim,
        width: classes,
    };
    let scaler = Scaler::fit(&train_set.x, dim);
    scaler.apply(&mut train_set.x);
    let (fitted, _, _) = fit(config, seed, &train_set, &validation)?;
    Ok(Classifier {
        fitted,
        scaler,
        dim,
        classes,
    })
}

/// Trains one probe at `layer` with `seed` and predicts every validation and test track.
///
/// `tracks` gives labels and splits; `embeddings` are the model's tables (clean and deformed).
/// Training and validation use clean embeddings of the train and validation splits; test
/// predictions are made for every deformation present among the test tracks' embeddings.
pub fn run(
    config: &ProbeConfig,
    seed: u64,
    layer: i32,
    tracks: &Table,
    embeddings: &[Table],
) -> Result<ProbeOutput> {
    config.check()?;
    if config.train_fraction.len() > 1 {
        return Err(Error::InvalidConfig(
            "a list of `train_fraction` values is one probe per value: see ProbeConfig::parts"
                .into(),
        ));
    }
    let task = Task::of(tracks)?;
    let tracks = subset::training(config, seed, &task, read_tracks(tracks)?)?;
    let means = track_vectors(embeddings, layer, config.aggregation)?;
    let dim = means
        .values()
        .next()
        .and_then(|v| v.first())
        .map_or(0, Vec::len);
    let width = task.width(&tracks);
    let (mut train_set, mut validation) =
        split_datasets(config, &task, &tracks, &means, dim, width)?;
    let scaler = Scaler::fit(&train_set.x, dim);
    scaler.apply(&mut train_set.x);
    scaler.apply(&mut validation.x);
    let (fitted, hyperparameters, effective) = fit(config, seed, &train_set, &validation)?;
    let predictions = predict_tracks(&fitted, &tracks, &means, &scaler, dim, width)?;
    let train_tracks = (tracks.iter())
        .filter(|t| {
            t.split == Split::Train && means.contains_key(&(t.track_id.clone(), CLEAN.into()))
        })
        .count();
    let saved = match &fitted {
        Fitted::Network(trained) => {
            let probe = SavedProbe::of(&effective, &task, &scaler, dim, width);
            Some((probe, trained.weights()?))
        }
        Fitted::Memory(_) => None,
    };
    Ok(ProbeOutput {
        predictions,
        epochs: epochs_of(&fitted),
        best_epoch: fitted.best_epoch(),
        vocabulary: task.vocabulary,
        task_type: task.task_type,
        width,
        aggregation: config.aggregation,
        hyperparameters,
        saved,
        train_tracks,
    })
}

/// A fitted probe: a trained network, or the rows a `knn` or `centroid` probe remembers.
enum Fitted {
    Network(train::Trained),
    Memory(neighbors::Memory),
}

impl Fitted {
    /// Scores of each standardised row of `x`, `width` a row.
    fn predict(&self, x: &[f32], dim: usize, width: usize) -> Result<Vec<Vec<f32>>> {
        match self {
            Fitted::Network(trained) => trained.predict(x, dim),
            Fitted::Memory(memory) => Ok(memory.predict(x, dim, width)),
        }
    }

    fn best_epoch(&self) -> usize {
        match self {
            Fitted::Network(trained) => trained.best_epoch,
            Fitted::Memory(_) => 0,
        }
    }
}

/// What a `tracks` table's metadata says of its task.
struct Task {
    task_type: TaskType,
    vocabulary: Vec<String>,
    class_of: HashMap<String, usize>,
}

impl Task {
    fn of(tracks: &Table) -> Result<Self> {
        let meta = Metadata::of(&tracks.schema);
        let task_type = TaskType::parse(
            TableKind::Tracks,
            meta.get(TableKind::Tracks, keys::TASK_TYPE)?,
        )?;
        let vocabulary = meta.label_vocabulary(TableKind::Tracks)?;
        let class_of = vocabulary
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        Ok(Self {
            task_type,
            vocabulary,
            class_of,
        })
    }

    /// Scores per track: one per class, or per regression target.
    fn width(&self, tracks: &[Track]) -> usize {
        match self.task_type {
            TaskType::Regression => tracks
                .iter()
                .find_map(|t| t.targets.as_ref().map(Vec::len))
                .unwrap_or(0),
            _ => self.vocabulary.len(),
        }
    }

    fn class(&self, t: &Track, label: &str) -> Result<usize> {
        self.class_of
            .get(label)
            .copied()
            .ok_or_else(|| bad_label(t, format!("label `{label}` is not in the vocabulary")))
    }

    /// Appends the targets of one training row of `t` to `y`.
    fn push_targets(&self, y: &mut train::Targets, t: &Track, width: usize) -> Result<()> {
        match y {
            train::Targets::Classes(y) => match t.labels.as_slice() {
                [label] => y.push(self.class(t, label)? as i64),
                other => {
                    let reason = format!("{} labels for a multiclass task", other.len());
                    return Err(bad_label(t, reason));
                }
            },
            train::Targets::Tags(y) => {
                let start = y.len();
                y.resize(start + width, 0);
                for label in &t.labels {
                    y[start + self.class(t, label)?] = 1;
                }
            }
            train::Targets::Values(y) => match &t.targets {
                Some(v) if v.len() == width => y.extend_from_slice(v),
                other => {
                    let n = other.as_ref().map_or(0, Vec::len);
                    return Err(bad_label(t, format!("{n} targets, expected {width}")));
                }
            },
        }
        Ok(())
    }
}

fn bad_label(t: &Track, reason: String) -> Error {
    Error::BadLabel {
        track_id: t.track_id.clone(),
        reason,
    }
}

/// The training rows (clean, plus each augmentation's deformed copy of the track) and the
/// validation rows (clean) of the tracks that have embeddings.
fn split_datasets(
    config: &ProbeConfig,
    task: &Task,
    tracks: &[Track],
    means: &TrackVectors,
    dim: usize,
    width: usize,
) -> Result<(train::Dataset, train::Dataset)> {
    let kind = match task.task_type {
        TaskType::Multiclass => train::Targets::Classes(vec![]),
        TaskType::Multilabel => train::Targets::Tags(vec![]),
        TaskType::Regression => train::Targets::Values(vec![]),
    };
    let mut split_data: HashMap<Split, train::Dataset> = HashMap::new();
    let training_conditions: Vec<&str> = std::iter::once(CLEAN)
        .chain(config.augment.iter().map(String::as_str))
        .collect();
    for t in tracks {
        let conditions = match t.split {
            Split::Train => &training_conditions[..],
            _ => &training_conditions[..1],
        };
        let vectors: Vec<&Vec<f32>> = conditions
            .iter()
            .filter_map(|c| means.get(&(t.track_id.clone(), c.to_string())))
            .flatten()
            .collect();
        if vectors.is_empty() {
            continue;
        }
        let d = split_data
            .entry(t.split)
            .or_insert_with(|| train::Dataset::empty(dim, width, &kind));
        for x in vectors {
            task.push_targets(&mut d.y, t, width)?;
            d.x.extend_from_slice(x);
        }
    }
    let train_set = split_data
        .remove(&Split::Train)
        .ok_or(Error::NoTrainingData)?;
    let validation = split_data
        .remove(&Split::Validation)
        .unwrap_or_else(|| train::Dataset::empty(dim, width, &kind));
    Ok((train_set, validation))
}

/// Trains the probe, or with a `search` every candidate, keeping the best on validation;
/// returns it with the chosen hyperparameters (JSON) and the config it was trained with.
fn fit(
    config: &ProbeConfig,
    seed: u64,
    train_set: &train::Dataset,
    validation: &train::Dataset,
) -> Result<(Fitted, Option<String>, ProbeConfig)> {
    let memory = match config.kind {
        ProbeKind::Linear | ProbeKind::Mlp => None,
        ProbeKind::Knn => Some(neighbors::Memory::knn(
            train_set,
            config.k,
            config.distance,
            config.weights,
        )),
        ProbeKind::Centroid => Some(neighbors::Memory::centroid(train_set, config.distance)?),
    };
    if let Some(memory) = memory {
        return Ok((Fitted::Memory(memory), None, config.clone()));
    }
    let Some(search) = &config.search else {
        let trained = train::train(config, train_set, validation, seed)?;
        return Ok((Fitted::Network(trained), None, config.clone()));
    };
    if validation.is_empty() {
        return Err(Error::InvalidConfig(
            "a hyperparameter `search` needs a validation split".into(),
        ));
    }
    // The best epoch's validation metric, ties broken by its loss.
    let score = |t: &train::Trained| {
        let e = &t.history[t.best_epoch - 1];
        (
            e.validation_metric.unwrap_or(f64::MIN),
            -e.validation_loss.unwrap_or(f64::MAX),
        )
    };
    let mut best: Option<(train::Trained, serde_json::Value, ProbeConfig)> = None;
    for (candidate, chosen) in search.candidates(config, seed) {
        let t = train::train(&candidate, train_set, validation, seed)?;
        if best.as_ref().is_none_or(|(b, _, _)| score(&t) > score(b)) {
            best = Some((t, chosen, candidate));
        }
    }
    let (t, chosen, candidate) =
        best.ok_or_else(|| Error::InvalidConfig("the `search` space has no candidate".into()))?;
    Ok((Fitted::Network(t), Some(chosen.to_string()), candidate))
}

/// Predicts every validation (clean) and test (every deformation) track that has an
/// embedding: the mean of its window scores (a single row under `embedding_mean`).
fn predict_tracks(
    fitted: &Fitted,
    tracks: &[Track],
    means: &TrackVectors,
    scaler: &Scaler,
    dim: usize,
    width: usize,
) -> Result<Vec<Prediction>> {
    let mut keys_out = Vec::new();
    let mut x = Vec::new();
    for t in tracks {
        let wanted: Vec<&(String, String)> = match t.split {
            Split::Validation => means
                .keys()
                .filter(|k| k.0 == t.track_id && k.1 == CLEAN)
                .collect(),
            Split::Test => means.keys().filter(|k| k.0 == t.track_id).collect(),
            Split::Train => vec![],
        };
        for key in wanted {
            for v in &means[key] {
                let mut v = v.clone();
                scaler.apply(&mut v);
                x.extend(v);
            }
            keys_out.push((t.track_id.clone(), t.split, key.1.clone(), means[key].len()));
        }
    }
    let mut scores = fitted.predict(&x, dim, width)?.into_iter();
    Ok(keys_out
        .into_iter()
        .map(|(track_id, split, deformation, windows)| {
            let mut mean = vec![0f32; width];
            for row in scores.by_ref().take(windows) {
                mean.iter_mut()
                    .zip(&row)
                    .for_each(|(m, v)| *m += v / windows as f32);
            }
            Prediction {
                track_id,
                split,
                deformation,
                scores: mean,
            }
        })
        .collect())
}

/// The training log's rows.
fn epochs_of(fitted: &Fitted) -> Vec<Epoch> {
    let Fitted::Network(trained) = fitted else {
        return Vec::new();
    };
    trained
        .history
        .iter()
        .map(|e| Epoch {
            epoch: e.epoch as i32,
            train_loss: e.train_loss,
            validation_loss: e.validation_loss,
            validation_metric: e.validation_metric,
            learning_rate: e.learning_rate,
            seconds: e.seconds,
        })
        .collect()
}

/// A trained probe as saved beside its predictions: `model.json` (this) and the burnpack
/// weights `model.bpk` ([`ProbeOutput::saved`]). [`SavedProbe::predict`] scores new
/// embeddings with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedProbe {
    /// Layer widths, input first, output last.
    pub sizes: Vec<usize>,
    /// Activation between layers.
    pub activation: Activation,
    /// Batch normalisation after each hidden layer.
    #[serde(default)]
    pub batch_norm: bool,
    /// Backend it runs on.
    pub backend: Backend,
    /// The head (softmax, sigmoid or linear).
    pub task_type: TaskType,
    /// Class or tag names of the outputs (empty for regression).
    pub vocabulary: Vec<String>,
    /// How a track's windows were combined.
    pub aggregation: Aggregation,
    /// Standardisation fitted on the training split: mean per input dimension.
    pub mean: Vec<f32>,
    /// Standard deviation per input dimension.
    pub scale: Vec<f32>,
}

impl SavedProbe {
    /// The saved form of a network trained with `config`.
    fn of(config: &ProbeConfig, task: &Task, scaler: &Scaler, dim: usize, width: usize) -> Self {
        let vocabulary = match task.task_type {
            TaskType::Regression => Vec::new(),
            _ => task.vocabulary.clone(),
        };
        SavedProbe {
            sizes: std::iter::once(dim)
                .chain(hidden_sizes(config, dim, width))
                .chain(std::iter::once(width))
                .collect(),
            activation: config.activation,
            batch_norm: config.batch_norm,
            backend: config.backend,
            task_type: task.task_type,
            vocabulary,
            aggregation: config.aggregation,
            mean: scaler.mean.clone(),
            scale: scaler.scale.clone(),
        }
    }

    /// Scores (probabilities, or values for regression) of each embedding in `x`
    /// (`n x sizes[0]`, raw, as in the `embeddings` table) with `weights`.
    pub fn predict(&self, weights: &[u8], x: &[f32]) -> Result<Vec<Vec<f32>>> {
        let dim = self.sizes[0];
        let (model, device) = train::load(
            &self.sizes,
            self.activation,
            self.batch_norm,
            self.backend,
            weights,
        )?;
        let mut x = x.to_vec();
        Scaler {
            mean: self.mean.clone(),
            scale: self.scale.clone(),
        }
        .apply(&mut x);
        let head = match self.task_type {
            TaskType::Multiclass => train::Targets::Classes(vec![]),
            TaskType::Multilabel => train::Targets::Tags(vec![]),
            TaskType::Regression => train::Targets::Values(vec![]),
        };
        train::scores(&model, &device, &head, &x, dim)
    }
}

/// Per-feature standardisation fitted on training rows.
#[derive(Debug, Clone)]
struct Scaler {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    fn fit(x: &[f32], dim: usize) -> Self {
        let n = (x.len() / dim.max(1)).max(1) as f64;
        let mut mean = vec![0f64; dim];
        let mut sq = vec![0f64; dim];
        for row in x.chunks(dim.max(1)) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += f64::from(v);
                sq[j] += f64::from(v) * f64::from(v);
            }
        }
        let mean: Vec<f64> = mean.into_iter().map(|m| m / n).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sd = (s / n - m * m).max(0.0).sqrt();
                if sd > 1e-12 { sd as f32 } else { 1.0 }
            })
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            scale,
        }
    }

    fn apply(&self, x: &mut [f32]) {
        let dim = self.mean.len().max(1);
        for row in x.chunks_mut(dim) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.scale) {
                *v = (*v - m) / s;
            }
        }
    }
}

/// Identifiers of one probe run, written into its tables' metadata (the contract's
/// [`mir_table::RunKey`]).
pub type RunIds = mir_table::RunKey;

/// The `predictions` and `training_log` schemas of one probe run.
pub fn output_schemas(ids: &RunIds, out: &ProbeOutput) -> Result<(SchemaRef, SchemaRef)> {
    let predictions = ids
        .metadata()
        .with(
            keys::LABEL_VOCABULARY,
            mir_table::vocabulary_json(&out.vocabulary),
        )
        .with(keys::TASK_TYPE, out.task_type)
        .with(keys::AGGREGATION, out.aggregation.name())
        .with(keys::TRAIN_TRACKS, out.train_tracks);
    let mut log = ids.metadata();
    let mut predictions = predictions;
    if let Some(h) = &out.hyperparameters {
        log = log.with(keys::HYPERPARAMETERS, h);
        predictions = predictions.with(keys::HYPERPARAMETERS, h);
    }
    Ok((
        TableKind::Predictions.schema(out.width as i32, &predictions)?,
        TableKind::TrainingLog.schema(0, &log)?,
    ))
}
