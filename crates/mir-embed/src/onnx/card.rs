//! Model cards: the YAML file that tells mir-ref how to run an ONNX model as an embedding.
//!
//! ```yaml
//! name: basic-pitch
//! version: 0.4.0
//! license: Apache-2.0
//! file:
//!   path: ../../models/basic-pitch-0.4.0/nmp.onnx   # relative to the card
//!   sha256: 2c3c1d14...
//!   pip: {requirement: basic-pitch==0.4.0, member: basic_pitch/saved_models/icassp_2022/nmp.onnx}
//! input:
//!   name: serving_default_input_2:0
//!   sample_rate_hz: 22050
//!   window_samples: 43844
//!   hop_samples: 36164
//!   shape: [batch, samples, 1]
//! outputs:
//!   - {layer: note, name: "StatefulPartitionedCall:1", time_axis: 1, pooling: mean}
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A model card (see the module docs for an example).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Licence of the weights.
    pub license: String,
    /// What the model is, where it comes from, and the paper to cite.
    #[serde(default)]
    pub description: String,
    /// The ONNX file.
    pub file: ModelFile,
    /// The input tensor and how audio becomes it.
    pub input: InputSpec,
    /// The outputs that are embeddings, one layer each, in layer order.
    pub outputs: Vec<OutputSpec>,
    /// Layers embedded when the experiment config names none; default all.
    #[serde(default)]
    pub default_layers: Vec<String>,
    /// Windows per `Session::run` call; by default chosen from the input's size
    /// ([`crate::onnx::auto_batch_size`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
}

/// Where the ONNX file is and how to get it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// The file, relative to the card's folder unless absolute.
    pub path: PathBuf,
    /// SHA-256 of the file (hex). Absent: the card is unpinned (an export recipe's card before
    /// the user's own export); it runs with a warning, embeddings record the file's SHA-256,
    /// and `cargo xtask models pin CARD` writes it here.
    #[serde(default)]
    pub sha256: Option<String>,
    /// A URL the file can be downloaded from.
    #[serde(default)]
    pub url: Option<String>,
    /// A PyPI package that carries the file.
    #[serde(default)]
    pub pip: Option<PipSource>,
    /// The script that exports the file from the original framework (relative to the card).
    #[serde(default)]
    pub export: Option<PathBuf>,
}

/// A file inside a PyPI wheel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipSource {
    /// What `pip download` gets, e.g. `basic-pitch==0.4.0`.
    pub requirement: String,
    /// The file's path inside the wheel.
    pub member: String,
}

/// The input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Tensor name.
    pub name: String,
    /// Sample rate the model consumes.
    pub sample_rate_hz: u32,
    /// Audio samples per window.
    pub window_samples: usize,
    /// Samples between window starts.
    pub hop_samples: usize,
    /// Tensor shape: `batch` first, then `samples` (waveform) or `frames` and `mels` (log-mel)
    /// and fixed sizes of 1.
    pub shape: Vec<Dim>,
    /// How a window of audio becomes the tensor.
    #[serde(default)]
    pub front_end: FrontEnd,
    /// Standardisation of the tensor, after the front end: constants, or per window.
    #[serde(default)]
    pub normalize: Option<Normalize>,
    /// The samples (or frames) axis takes any length: the experiment's `window_s` and `hop_s`
    /// may choose the windows, up to one per track, and the last window is not padded.
    /// `window_samples` and `hop_samples` are then the defaults.
    #[serde(default)]
    pub dynamic: Option<Dynamic>,
    /// Further inputs the model needs, filled with a constant (a sample-rate scalar, a mask
    /// of ones).
    #[serde(default)]
    pub constants: Vec<ConstantInput>,
}

/// Limits of a dynamic time axis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dynamic {
    /// The longest window the model takes, in seconds: a longer `window_s`, or a whole track,
    /// is cut into windows of this length.
    pub max_window_s: f64,
    /// The shortest window, in samples: a shorter last window is zero-padded to it.
    #[serde(default = "d_min_samples")]
    pub min_samples: usize,
}

fn d_min_samples() -> usize {
    1
}

/// A further model input, filled with one value.
///
/// ```yaml
/// constants:
///   - {name: sample_rate, type: int64, value: 16000}                        # a scalar
///   - {name: attention_mask, type: int64, value: 1, shape: [batch, samples]}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantInput {
    /// Tensor name.
    pub name: String,
    /// Element type.
    #[serde(rename = "type")]
    pub dtype: ConstantType,
    /// The value of every element.
    pub value: f64,
    /// Shape, as the main input's: `batch`, `samples`, `frames`, `mels` follow the batch and
    /// its windows; empty for a scalar.
    #[serde(default)]
    pub shape: Vec<Dim>,
}

/// Element types of a [`ConstantInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstantType {
    /// 32-bit float.
    Float32,
    /// 64-bit integer.
    Int64,
    /// 32-bit integer.
    Int32,
    /// Boolean (`value` non-zero is true).
    Bool,
}

/// One axis of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A size that comes from the audio.
    Named(DimName),
}

/// The named axes of an input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimName {
    /// Windows in the batch.
    Batch,
    /// Audio samples (waveform front end).
    Samples,
    /// Spectrogram frames (log-mel front end).
    Frames,
    /// Mel bands (log-mel front end).
    Mels,
}

/// How a window of audio becomes the input tensor.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FrontEnd {
    /// The samples themselves.
    #[default]
    Waveform,
    /// A log-mel spectrogram we compute (Slaney mel scale and normalisation, centred STFT with a
    /// periodic Hann window, as librosa's defaults).
    Logmel {
        /// FFT size.
        n_fft: usize,
        /// Hop between frames in samples.
        hop_length: usize,
        /// Mel bands.
        n_mels: usize,
        /// Lowest band edge in Hz.
        #[serde(default)]
        fmin: f64,
        /// Highest band edge in Hz; default Nyquist.
        #[serde(default)]
        fmax: Option<f64>,
        /// The logarithm.
        log: LogScale,
    },
}

/// The logarithm of a log-mel front end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogScale {
    /// `10 log10(max(x, 1e-10))` (librosa's `power_to_db` without `top_db`).
    Db,
    /// `ln(x + offset)` (VGGish uses 0.01).
    Ln {
        /// Added before the logarithm.
        offset: f32,
    },
    /// `log10(1 + scale x)` (MusiCNN uses 10000).
    Log10OnePlus {
        /// Multiplies the power first.
        scale: f32,
        /// Round the power to IEEE half precision first, as MusiCNN's numpy front end does.
        #[serde(default)]
        float16: bool,
    },
}

/// How the input tensor is standardised, after the front end.
///
/// ```yaml
/// normalize: {mean: -4.5, std: 2.0}              # (x - mean) / std, constants
/// normalize: per_window                          # each window: (x - m) / sqrt(v + 1e-7)
/// normalize: {per_window: {ddof: 1, floor: 1e-10}}  # CREPE: (x - m) / max(s, 1e-10)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Normalize {
    /// `(x - mean) / std` with constants.
    Constant {
        /// Subtracted.
        mean: f32,
        /// Divides.
        std: f32,
    },
    /// `per_window`: [`PerWindow`]'s defaults (wav2vec 2.0's feature extractor).
    Named(NormalizeName),
    /// `{per_window: {...}}`.
    PerWindow {
        /// How each window is standardised.
        per_window: PerWindow,
    },
}

/// The named standardisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeName {
    /// [`PerWindow::default`].
    PerWindow,
}

/// Each window's tensor to zero mean and unit variance: `(x - m) / max(sqrt(v + epsilon),
/// floor)`, `m` the window's mean, `v` its variance with `ddof` (the sum of squared deviations
/// over `n - ddof`), all in float64.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerWindow {
    /// Delta degrees of freedom: 0 is the population variance (numpy's `var`), 1 the sample
    /// variance (torch's `std`).
    pub ddof: u8,
    /// Added to the variance under the square root.
    pub epsilon: f64,
    /// The least divisor.
    pub floor: f64,
}

impl Default for PerWindow {
    /// wav2vec 2.0's feature extractor (`do_normalize`): population variance plus 1e-7.
    fn default() -> Self {
        Self {
            ddof: 0,
            epsilon: 1e-7,
            floor: 0.0,
        }
    }
}

impl Normalize {
    /// Standardises one window's values in place.
    pub fn apply(&self, x: &mut [f32]) {
        let (mean, std) = match *self {
            Self::Constant { mean, std } => (f64::from(mean), f64::from(std)),
            Self::Named(NormalizeName::PerWindow) => PerWindow::default().stats(x),
            Self::PerWindow { per_window } => per_window.stats(x),
        };
        x.iter_mut()
            .for_each(|v| *v = ((f64::from(*v) - mean) / std) as f32);
    }

    /// Why the standardisation cannot work, if it cannot.
    fn problem(&self) -> Option<String> {
        match *self {
            Self::Constant { std, .. } if !std.is_finite() || std == 0.0 => {
                Some(format!("std must be finite and non-zero, not {std}"))
            }
            Self::PerWindow { per_window: p }
                if !(p.epsilon.is_finite() && p.floor.is_finite())
                    || p.epsilon < 0.0
                    || p.floor < 0.0
                    || p.epsilon + p.floor == 0.0 =>
            {
                Some(format!(
                    "per_window needs epsilon >= 0 and floor >= 0, one of them positive (a \
                     silent window has variance 0), not epsilon {} and floor {}",
                    p.epsilon, p.floor
                ))
            }
            _ => None,
        }
    }
}

impl PerWindow {
    /// The window's mean and divisor.
    fn stats(&self, x: &[f32]) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1.0);
        let squares: f64 = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
        let var = squares / (n - f64::from(self.ddof)).max(1.0);
        (mean, (var + self.epsilon).sqrt().max(self.floor))
    }
}

/// An output tensor that is an embedding layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The layer's name in configs and reports.
    pub layer: String,
    /// Tensor name.
    pub name: String,
    /// Axis of the full output tensor (batch is axis 0) that is time, pooled by `pooling`;
    /// absent when the output has no time axis.
    #[serde(default)]
    pub time_axis: Option<usize>,
    /// How the time axis is pooled.
    #[serde(default)]
    pub pooling: Pooling,
    /// Axis of the full output tensor that indexes layers (a stack of hidden states, such as
    /// `[layers, batch, time, dim]`); the layer is the slice at `at`. Batch is then axis 1
    /// when this is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_axis: Option<usize>,
    /// The index along `layer_axis`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<usize>,
    /// A family of `count` layers written once: `{i}` in `layer` (and in `name`, for numbered
    /// outputs such as `hidden_state_{i}`; else the slices of `layer_axis`) becomes 0 to
    /// `count - 1`. Expanded when the card is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

impl OutputSpec {
    /// The batch axis of the full output tensor.
    pub fn batch_axis(&self) -> usize {
        usize::from(self.layer_axis == Some(0))
    }

    /// Why this output cannot be read, if so (before expansion).
    fn problem(&self) -> Option<(&'static str, String)> {
        let family = self.count.is_some();
        if family != self.layer.contains("{i}") {
            return Some((
                "count",
                "`count` and `{i}` in `layer` go together (a family of layers)".into(),
            ));
        }
        if family && self.at.is_some() {
            return Some(("at", "a family (`count`) takes every `at`".into()));
        }
        let sliced = if family {
            !self.name.contains("{i}")
        } else {
            self.at.is_some()
        };
        if sliced != self.layer_axis.is_some() {
            return Some((
                "layer_axis",
                "a slice of a stacked output needs `layer_axis` and `at` (or `count`), and \
                 `layer_axis` needs them"
                    .into(),
            ));
        }
        match self.time_axis {
            Some(t) if t == self.batch_axis() => {
                Some(("time_axis", "that is the batch axis".into()))
            }
            Some(t) if Some(t) == self.layer_axis => {
                Some(("time_axis", "that is the layer axis".into()))
            }
            _ => None,
        }
    }

    /// The outputs this entry stands for: itself, or its family expanded.
    fn expanded(&self) -> Vec<OutputSpec> {
        let Some(count) = self.count else {
            return vec![self.clone()];
        };
        (0..count)
            .map(|i| {
                let sliced = !self.name.contains("{i}");
                OutputSpec {
                    layer: self.layer.replace("{i}", &i.to_string()),
                    name: self.name.replace("{i}", &i.to_string()),
                    at: sliced.then_some(i),
                    count: None,
                    ..self.clone()
                }
            })
            .collect()
    }
}

pub use crate::pooling::Pooling;

impl ModelCard {
    /// Reads and checks a card; errors name the card and the field.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| card_error(path, "", e))?;
        let mut card: Self = serde_yaml::from_str(&text).map_err(|e| card_error(path, "", e))?;
        for (k, o) in card.outputs.iter().enumerate() {
            if let Some((field, reason)) = o.problem() {
                return Err(card_error(path, &format!("outputs[{k}].{field}"), reason));
            }
        }
        card.outputs = card.outputs.iter().flat_map(OutputSpec::expanded).collect();
        card.check(path)?;
        Ok(card)
    }

    /// Checks what can be checked without the model file.
    pub fn check(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, reason: String| Err(card_error(path, field, reason));
        if let Some(sha) = &self.file.sha256
            && (sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad("file.sha256", format!("`{sha}` is not 64 hex digits"));
        }
        let i = &self.input;
        if i.sample_rate_hz == 0 || i.window_samples == 0 || i.hop_samples == 0 {
            return bad(
                "input",
                "sample_rate_hz, window_samples and hop_samples must be positive".into(),
            );
        }
        if let Some(reason) = i.normalize.as_ref().and_then(Normalize::problem) {
            return bad("input.normalize", reason);
        }
        if let Some((field, reason)) = self.input_problem() {
            return bad(&format!("input.{field}"), reason);
        }
        if self.batch_size == Some(0) {
            return bad("batch_size", "must be at least 1".into());
        }
        let named = |n| i.shape.iter().filter(|d| **d == Dim::Named(n)).count();
        if i.shape.first() != Some(&Dim::Named(DimName::Batch)) || named(DimName::Batch) != 1 {
            return bad(
                "input.shape",
                "the first axis, and only it, must be `batch`".into(),
            );
        }
        if let Some(d) = i
            .shape
            .iter()
            .find(|d| matches!(d, Dim::Fixed(n) if *n < 1))
        {
            return bad(
                "input.shape",
                format!("fixed sizes must be positive: {d:?}"),
            );
        }
        let wanted: &[DimName] = match &i.front_end {
            FrontEnd::Waveform => &[DimName::Samples],
            FrontEnd::Logmel {
                n_fft,
                hop_length,
                n_mels,
                fmin,
                fmax,
                ..
            } => {
                let nyquist = f64::from(i.sample_rate_hz) / 2.0;
                if *n_fft < 2 || *hop_length == 0 || *n_mels == 0 {
                    return bad(
                        "input.front_end",
                        "n_fft must be >= 2, hop_length and n_mels > 0".into(),
                    );
                }
                if !(0.0..fmax.unwrap_or(nyquist)).contains(fmin)
                    || fmax.unwrap_or(nyquist) > nyquist
                {
                    return bad(
                        "input.front_end",
                        format!("need 0 <= fmin < fmax <= {nyquist} Hz"),
                    );
                }
                &[DimName::Frames, DimName::Mels]
            }
        };
        for n in [DimName::Samples, DimName::Frames, DimName::Mels] {
            let want = usize::from(wanted.contains(&n));
            if named(n) != want {
                return bad(
                    "input.shape",
                    format!(
                        "this front end needs {} `{}` axis",
                        if want == 1 { "one" } else { "no" },
                        serde_yaml::to_string(&n).unwrap_or_default().trim()
                    ),
                );
            }
        }
        if self.outputs.is_empty() {
            return bad("outputs", "list at least one output".into());
        }
        for (k, o) in self.outputs.iter().enumerate() {
            if let Some((field, reason)) = o.problem() {
                return bad(&format!("outputs[{k}].{field}"), reason);
            }
            if self.outputs[..k].iter().any(|p| p.layer == o.layer) {
                return bad(
                    &format!("outputs[{k}].layer"),
                    format!("layer `{}` is listed twice", o.layer),
                );
            }
        }
        for l in &self.default_layers {
            self.layer_index(l)
                .map_err(|reason| card_error(path, "default_layers", reason))?;
        }
        Ok(())
    }

    /// Why the dynamic axis or a constant input cannot work, if so: the field and the reason.
    fn input_problem(&self) -> Option<(String, String)> {
        let i = &self.input;
        if let Some(d) = i.dynamic {
            let max = d.max_window_s * f64::from(i.sample_rate_hz);
            if !(max.is_finite() && max >= d.min_samples.max(1) as f64) {
                return Some((
                    "dynamic.max_window_s".into(),
                    format!(
                        "must be positive and at least min_samples ({}) samples, not {}",
                        d.min_samples, d.max_window_s
                    ),
                ));
            }
        }
        for (k, c) in i.constants.iter().enumerate() {
            let field = format!("constants[{k}]");
            let taken = c.name == i.name || i.constants[..k].iter().any(|p| p.name == c.name);
            if taken {
                return Some((field, format!("input `{}` is given twice", c.name)));
            }
            let absent = c.shape.iter().find(|d| match d {
                Dim::Named(n) => !i.shape.contains(&Dim::Named(*n)),
                Dim::Fixed(n) => *n < 1,
            });
            if let Some(d) = absent {
                return Some((
                    format!("{field}.shape"),
                    format!("{d:?}: named axes must be the main input's, fixed sizes positive"),
                ));
            }
        }
        None
    }

    /// Index in [`ModelCard::outputs`] of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> std::result::Result<usize, String> {
        self.outputs
            .iter()
            .position(|o| o.layer == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.outputs.iter().map(|o| o.layer.as_str()).collect();
                format!("no layer `{name}`; the card has {known:?}")
            })
    }

    /// The model file's path: [`ModelFile::path`] resolved against the card's folder.
    pub fn model_path(&self, card_path: &Path) -> PathBuf {
        let joined = card_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.file.path);
        // `configs/models/../../models/x` reads better as `models/x`.
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                std::path::Component::ParentDir
                    if matches!(
                        out.components().next_back(),
                        Some(std::path::Component::Normal(_))
                    ) =>
                {
                    out.pop();
                }
                c => out.push(c),
            }
        }
        if out.as_os_str().is_empty() {
            out.push(".");
        }
        out
    }

    /// Whether `sha256` (of the model file) is the card's, or the card is unpinned.
    pub fn accepts_sha256(&self, sha256: &str) -> bool {
        self.file
            .sha256
            .as_ref()
            .is_none_or(|want| want.eq_ignore_ascii_case(sha256))
    }

    /// How a user gets the model file, for error messages.
    pub fn how_to_fetch(&self, card_path: &Path) -> String {
        let name = card_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if self.file.pip.is_some() || self.file.url.is_some() {
            format!("run `cargo xtask models fetch {name}`")
        } else if let Some(script) = &self.file.export {
            let pin = if self.file.sha256.is_none() {
                format!(", then run `cargo xtask models pin {name}`")
            } else {
                String::new()
            };
            format!(
                "export it with {} (see its header) and put it there{pin}",
                card_path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(script)
                    .display()
            )
        } else {
            "put the exported model there".into()
        }
    }
}

/// An error about a model card's field (`""`: the card as a whole).
pub(crate) fn card_error(card: &Path, field: &str, reason: impl std::fmt::Display) -> Error {
    Error::Card {
        card: card.to_path_buf(),
        field: field.to_string(),
        reason: reason.to_string(),
    }
}

/// `x` rounded to the nearest IEEE 754 half-precision value (ties to even), as numpy's
/// `astype(np.float16)`; beyond the half range, infinity.
pub fn round_to_f16(x: f32) -> f32 {
    let a = x.abs();
    if a.is_nan() || a >= 65_520.0 {
        return if a.is_nan() {
            x
        } else {
            f32::INFINITY.copysign(x)
        };
    }
    if a < 6.103_515_6e-5 {
        // Subnormal halves: multiples of 2^-24.
        let q = 5.960_464_5e-8_f32;
        return ((a / q).round_ties_even() * q).copysign(x);
    }
    let bits = x.to_bits();
    let lsb = (bits >> 13) & 1;
    f32::from_bits((bits + 0x0FFF + lsb) & !0x1FFF)
}

#[cfg(test)]
mod tests {
    use super::round_to_f16;

    #[test]
    fn half_precision_rounding_matches_numpy() {
        // numpy 2.4: np.float32(np.float16(x)) for each x.
        for (x, want) in [
            (1.0f32, 1.0f32),
            (0.1, 0.099_975_586),
            (std::f32::consts::PI, 3.140_625),
            (65_504.0, 65_504.0),
            (70_000.0, f32::INFINITY),
            (1e-6, 1.013_279e-6),
            (1e-9, 0.0),
            (-2.000_976_6, -2.0),
            (1.000_732_4, 1.000_976_6),
        ] {
            assert_eq!(round_to_f16(x), want, "{x}");
        }
    }
}
