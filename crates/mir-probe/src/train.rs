//! The training loop: seeded initialisation and shuffling, Adam, early stopping, best weights.

use std::time::Instant;

use burn::module::{Module, Param};
use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, SgdConfig, decay::WeightDecayConfig};
use burn::prelude::{Device, Int, Tensor, TensorData};
use burn::tensor::activation::{gelu, relu, sigmoid, softmax, tanh};
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::{Backend, Error, Optimizer, ProbeConfig, Result};

/// A stack of dense layers with an activation between them; no hidden layer is a linear probe.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    /// Batch normalisation after each hidden layer (before its activation), or none.
    norms: Vec<BatchNorm>,
    #[module(skip)]
    activation: crate::Activation,
}

impl Mlp {
    /// Layers `sizes[0] -> sizes[1] -> ...`, initialised as PyTorch's `nn.Linear`
    /// (uniform in `±1/sqrt(fan_in)`) from `rng`, so initialisation does not depend on any
    /// global backend seed.
    pub fn new(
        sizes: &[usize],
        activation: crate::Activation,
        batch_norm: bool,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let layers = sizes
            .windows(2)
            .map(|w| {
                let (d_in, d_out) = (w[0], w[1]);
                let k = 1.0 / (d_in as f32).sqrt();
                let weight: Vec<f32> = (0..d_in * d_out).map(|_| rng.random_range(-k..k)).collect();
                let bias: Vec<f32> = (0..d_out).map(|_| rng.random_range(-k..k)).collect();
                Linear {
                    weight: Param::from_data(TensorData::new(weight, [d_in, d_out]), device),
                    bias: Some(Param::from_data(TensorData::new(bias, [d_out]), device)),
                }
            })
            .collect();
        let norms = if batch_norm {
            sizes[1..sizes.len().saturating_sub(1)]
                .iter()
                .map(|&h| BatchNormConfig::new(h).init(device))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            layers,
            norms,
            activation,
        }
    }

    /// Logits for a batch.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_dropout(x, 0.0, None)
    }

    /// Logits for a training batch: after each hidden activation, each unit is zeroed with
    /// probability `p` and the rest scaled by `1 / (1 - p)` (inverted dropout), the masks
    /// drawn from `rng`.
    pub fn forward_dropout(
        &self,
        mut x: Tensor<2>,
        p: f64,
        mut rng: Option<&mut ChaCha8Rng>,
    ) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                if let Some(norm) = self.norms.get(i) {
                    x = norm.forward(x);
                }
                x = match self.activation {
                    crate::Activation::Relu => relu(x),
                    crate::Activation::Gelu => gelu(x),
                    crate::Activation::Tanh => tanh(x),
                    crate::Activation::Sigmoid => sigmoid(x),
                };
                if p > 0.0
                    && let Some(rng) = rng.as_deref_mut()
                {
                    let [n, h] = x.dims();
                    let keep = (1.0 / (1.0 - p)) as f32;
                    let mask: Vec<f32> = (0..n * h)
                        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
                        .collect();
                    let mask = Tensor::from_data(TensorData::new(mask, [n, h]), &x.device());
                    x = x * mask;
                }
            }
        }
        x
    }
}

/// What a probe learns to output.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// One class index per row (softmax, cross-entropy).
    Classes(Vec<i64>),
    /// `width` 0/1 flags per row, row-major (sigmoid, binary cross-entropy).
    Tags(Vec<i64>),
    /// `width` real values per row, row-major (linear, mean squared error).
    Values(Vec<f32>),
}

/// Standardised inputs and targets of one split.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Row-major `n x dim` features.
    pub x: Vec<f32>,
    /// Targets of each row.
    pub y: Targets,
    /// Feature dimension.
    pub dim: usize,
    /// Output width (classes, tags or target dimensions).
    pub width: usize,
}

impl Dataset {
    /// An empty split of the same kind.
    pub fn empty(dim: usize, width: usize, like: &Targets) -> Self {
        let y = match like {
            Targets::Classes(_) => Targets::Classes(vec![]),
            Targets::Tags(_) => Targets::Tags(vec![]),
            Targets::Values(_) => Targets::Values(vec![]),
        };
        Self {
            x: vec![],
            y,
            dim,
            width,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len() / self.dim.max(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One epoch's record.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStats {
    /// Epoch from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub validation_loss: Option<f64>,
    /// Validation metric (the probe's `selection`; the negated loss where that is the loss).
    pub validation_metric: Option<f64>,
    /// Learning rate during the epoch.
    pub learning_rate: f64,
    /// Wall time.
    pub seconds: f64,
}

/// A trained probe with its history.
#[derive(Debug)]
pub struct Trained {
    /// The weights of the best validation epoch (the last epoch without validation data).
    pub model: Mlp,
    /// The epoch the weights come from.
    pub best_epoch: usize,
    /// Every epoch.
    pub history: Vec<EpochStats>,
    device: Device,
    targets: Targets,
}

// burn 0.22 deprecates burn-ndarray in favour of flex, the default; ndarray stays selectable
// as `backend: ndarray`.
#[allow(deprecated)]
fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Ndarray => Ok(Device::ndarray()),
        Backend::Flex => Ok(Device::flex()),
        #[cfg(feature = "gpu")]
        Backend::Wgpu => match gpu() {
            Ok(_) => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            Err(reason) => Err(Error::InvalidConfig(reason.clone())),
        },
        #[cfg(not(feature = "gpu"))]
        Backend::Wgpu => Err(Error::InvalidConfig(crate::NO_GPU.into())),
    }
}

/// The GPU wgpu finds (its name and graphics API), looked for once; the error when it finds
/// only CPU adapters (Mesa's lavapipe or llvmpipe) or none: `backend: wgpu` asks for a GPU and
/// never trains on a CPU rasterizer instead.
#[cfg(feature = "gpu")]
fn gpu() -> &'static std::result::Result<String, String> {
    static FOUND: std::sync::OnceLock<std::result::Result<String, String>> =
        std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        let backends = wgpu::Backends::all();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapters: Vec<wgpu::AdapterInfo> =
            futures::executor::block_on(instance.enumerate_adapters(backends))
                .iter()
                .map(wgpu::Adapter::get_info)
                .collect();
        let describe =
            |a: &wgpu::AdapterInfo| format!("{} ({:?}, {:?})", a.name, a.backend, a.device_type);
        match adapters
            .iter()
            .find(|a| a.device_type != wgpu::DeviceType::Cpu)
        {
            Some(gpu) => Ok(describe(gpu)),
            None => {
                let found = match adapters.is_empty() {
                    true => "no adapter at all".to_string(),
                    false => format!(
                        "only {}",
                        adapters.iter().map(describe).collect::<Vec<_>>().join(", ")
                    ),
                };
                Err(format!(
                    "`backend: wgpu` asks for a GPU, and wgpu finds {found}: there is no GPU to \
                     train on (train on the CPU with `backend: ndarray` or `flex`)"
                ))
            }
        }
    })
}

fn to_vec(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("{e:?}")))
}

fn scalar(t: Tensor<1>) -> Result<f64> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    Ok(f64::from(v[0]))
}

fn features(data: &Dataset, idx: &[usize], device: &Device) -> Tensor<2> {
    let mut x = Vec::with_capacity(idx.len() * data.dim);
    for &i in idx {
        x.extend_from_slice(&data.x[i * data.dim..(i + 1) * data.dim]);
    }
    Tensor::from_data(TensorData::new(x, [idx.len(), data.dim]), device)
}

fn rows<T: Copy>(values: &[T], width: usize, idx: &[usize]) -> Vec<T> {
    idx.iter()
        .flat_map(|&i| values[i * width..(i + 1) * width].iter().copied())
        .collect()
}

/// The mean loss of `logits` against the rows `idx` of `data`, with optional class weights.
fn loss(
    logits: Tensor<2>,
    data: &Dataset,
    idx: &[usize],
    weights: Option<&[f32]>,
    device: &Device,
) -> Tensor<1> {
    let (n, w) = (idx.len(), data.width);
    let weights = weights.map(<[f32]>::to_vec);
    match &data.y {
        Targets::Classes(y) => {
            let y: Vec<i64> = idx.iter().map(|&i| y[i]).collect();
            CrossEntropyLossConfig::new()
                .with_weights(weights)
                .init(device)
                .forward(logits, Tensor::from_data(TensorData::new(y, [n]), device))
        }
        Targets::Tags(y) => BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .with_weights(weights)
            .init(device)
            .forward(
                logits,
                Tensor::<2, Int>::from_data(TensorData::new(rows(y, w, idx), [n, w]), device),
            ),
        Targets::Values(y) => MseLoss::new().forward(
            logits,
            Tensor::from_data(TensorData::new(rows(y, w, idx), [n, w]), device),
            Reduction::Mean,
        ),
    }
}

fn optimizer(config: &ProbeConfig) -> burn::optim::ModuleOptimizer {
    let decay =
        (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32));
    match config.optimizer {
        Optimizer::Adam => AdamConfig::new().with_weight_decay(decay).init(),
        Optimizer::Adamw => AdamWConfig::new()
            .with_weight_decay(config.weight_decay as f32)
            .init(),
        Optimizer::Sgd => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum((config.momentum > 0.0).then(|| {
                // PyTorch's SGD: no dampening.
                MomentumConfig::new()
                    .with_momentum(config.momentum)
                    .with_dampening(0.0)
            }))
            .init(),
    }
}

/// Trains a probe on `train` and returns the weights of its best validation epoch.
///
/// The validation metric is accuracy for classes (ties broken by lower loss) and the negated
/// loss otherwise; training stops after `patience` epochs without improvement.
pub fn train(
    config: &ProbeConfig,
    train: &Dataset,
    validation: &Dataset,
    seed: u64,
) -> Result<Trained> {
    if train.is_empty() {
        return Err(Error::NoTrainingData);
    }
    let device = device(config.backend)?;
    let ad = device.clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sizes = vec![train.dim];
    sizes.extend(crate::hidden_sizes(config, train.dim, train.width));
    sizes.push(train.width);
    let mut model = Mlp::new(&sizes, config.activation, config.batch_norm, &mut rng, &ad);
    let weights = match config.class_weight {
        crate::ClassWeight::None => None,
        crate::ClassWeight::Balanced => Some(balanced_weights(train)),
    };
    let mut optim = optimizer(config);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, Mlp)> = None;
    let mut learning_rate = config.learning_rate;
    // Epochs since the validation metric last improved (for reduce-on-plateau), and the
    // metric and epoch of that improvement.
    let mut stale = 0;
    let mut gain: Option<(f64, usize)> = None;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(config.batch_size.max(1)) {
            let logits =
                model.forward_dropout(features(train, chunk, &ad), config.dropout, Some(&mut rng));
            let loss = loss(logits, train, chunk, weights.as_deref(), &ad);
            total += scalar(loss.clone().detach())? * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(learning_rate, model, grads);
        }
        let (validation_loss, validation_metric) = if validation.is_empty() {
            (None, None)
        } else {
            let (loss, metric) = evaluate(&model.valid(), validation, config.selection, &device)?;
            (Some(loss), Some(metric))
        };
        history.push(EpochStats {
            epoch,
            train_loss: total / train.len() as f64,
            validation_loss,
            validation_metric,
            learning_rate,
            seconds: started.elapsed().as_secs_f64(),
        });
        if let (Some(loss), Some(metric)) = (validation_loss, validation_metric) {
            // The weights kept: the best metric, ties broken by the lower loss.
            let better = best
                .as_ref()
                .is_none_or(|(m, l, _, _)| metric > *m || (metric == *m && loss < *l));
            if better {
                best = Some((metric, loss, epoch, model.clone()));
            }
            // Progress, which patience and the plateau watch: the metric rising by more than
            // `min_delta` (a loss still falling at an equal metric does not hold off the stop).
            if gain.is_none_or(|(g, _)| metric > g + config.min_delta) {
                gain = Some((metric, epoch));
                stale = 0;
            } else if let Some(p) = config.reduce_on_plateau {
                stale += 1;
                if stale >= p.patience {
                    learning_rate = (learning_rate * p.factor).max(p.min_lr);
                    stale = 0;
                }
            }
            if gain.is_some_and(|(_, e)| epoch - e >= config.patience) {
                break;
            }
        }
    }
    let last_epoch = history.len();
    let (model, best_epoch) = match best {
        Some((_, _, epoch, m)) => (m.valid(), epoch),
        None => (model.valid(), last_epoch),
    };
    Ok(Trained {
        model,
        best_epoch,
        history,
        device,
        targets: train.y.clone(),
    })
}

/// scikit-learn's `class_weight="balanced"`: `n / (classes x count)` for each class (a class
/// absent from the split gets 1); for tags, the same from each tag's positives.
pub fn balanced_weights(data: &Dataset) -> Vec<f32> {
    let n = data.len() as f64;
    let w = data.width;
    let mut counts = vec![0usize; w];
    match &data.y {
        Targets::Classes(y) => y.iter().for_each(|&c| counts[c as usize] += 1),
        Targets::Tags(y) => y.chunks(w).for_each(|row| {
            row.iter()
                .zip(&mut counts)
                .for_each(|(&t, c)| *c += t as usize)
        }),
        Targets::Values(_) => return vec![1.0; w],
    }
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                1.0
            } else {
                (n / (w as f64 * c as f64)) as f32
            }
        })
        .collect()
}

/// Mean loss and validation metric (`selection` for classes, negated loss otherwise).
fn evaluate(
    model: &Mlp,
    data: &Dataset,
    selection: crate::Selection,
    device: &Device,
) -> Result<(f64, f64)> {
    let idx: Vec<usize> = (0..data.len()).collect();
    let mut total = 0.0;
    let mut correct = 0usize;
    // (true positives, false positives, false negatives) per class.
    let mut counts = vec![(0usize, 0usize, 0usize); data.width];
    for chunk in idx.chunks(4096) {
        let logits = model.forward(features(data, chunk, device));
        total += scalar(loss(logits.clone(), data, chunk, None, device))? * chunk.len() as f64;
        if let Targets::Classes(y) = &data.y {
            let out = to_vec(logits)?;
            for (row, &i) in out.chunks(data.width).zip(chunk) {
                let (predicted, truth) = (argmax(row), y[i] as usize);
                if predicted == truth {
                    correct += 1;
                    counts[truth].0 += 1;
                } else {
                    counts[predicted].1 += 1;
                    counts[truth].2 += 1;
                }
            }
        }
    }
    let mean = total / data.len() as f64;
    let metric = match (&data.y, selection) {
        (Targets::Classes(_), crate::Selection::Accuracy) => correct as f64 / data.len() as f64,
        (Targets::Classes(_), crate::Selection::F1Macro) => {
            let f1: Vec<f64> = counts
                .iter()
                .filter(|(tp, fp, fn_)| tp + fp + fn_ > 0)
                .map(|&(tp, fp, fn_)| 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64)
                .collect();
            f1.iter().sum::<f64>() / f1.len().max(1) as f64
        }
        _ => -mean,
    };
    Ok((mean, metric))
}

/// Index of the largest value as `numpy.argmax` picks it ([`mir_audio::argmax`]).
pub fn argmax(row: &[f32]) -> usize {
    mir_audio::argmax(row).unwrap_or(0)
}

impl Trained {
    /// Scores for each row of `x` (`n x dim`, standardised), every row kept: class
    /// probabilities (softmax), tag probabilities (sigmoid) or predicted values.
    pub fn predict(&self, x: &[f32], dim: usize) -> Result<Vec<Vec<f32>>> {
        scores(&self.model, &self.device, &self.targets, x, dim)
    }

    /// The best weights as a burnpack file.
    pub fn weights(&self) -> Result<Vec<u8>> {
        let bytes = self
            .model
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| Error::Backend(format!("saving the probe: {e:?}")))?;
        Ok(bytes.to_vec())
    }
}

/// A probe of layer `sizes` with `activation` and the burnpack `weights` of
/// [`Trained::weights`], on `backend`.
pub fn load(
    sizes: &[usize],
    activation: crate::Activation,
    batch_norm: bool,
    backend: Backend,
    weights: &[u8],
) -> Result<(Mlp, Device)> {
    let device = device(backend)?;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let model = Mlp::new(sizes, activation, batch_norm, &mut rng, &device);
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(
        weights.to_vec(),
    ))
    .map_err(|e| Error::Backend(format!("reading probe weights: {e:?}")))?;
    let model = model
        .try_load_record(record)
        .map_err(|e| Error::Backend(format!("loading probe weights: {e:?}")))?;
    Ok((model, device))
}

/// Scores of `model` for each row of `x` (`n x dim`, standardised): softmax for `Classes`,
/// sigmoid for `Tags`, the values themselves for `Values` (only the variant matters).
pub fn scores(
    model: &Mlp,
    device: &Device,
    head: &Targets,
    x: &[f32],
    dim: usize,
) -> Result<Vec<Vec<f32>>> {
    {
        let n = x.len() / dim.max(1);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(4096) {
            let end = (start + 4096).min(n);
            let t = Tensor::<2>::from_data(
                TensorData::new(x[start * dim..end * dim].to_vec(), [end - start, dim]),
                device,
            );
            let logits = model.forward(t);
            let probs = to_vec(match head {
                Targets::Classes(_) => softmax(logits, 1),
                Targets::Tags(_) => sigmoid(logits),
                Targets::Values(_) => logits,
            })?;
            let classes = probs.len() / (end - start);
            out.extend(probs.chunks(classes).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod weight_tests {
    use super::*;

    #[test]
    fn balanced_class_weights_follow_scikit_learn() {
        // sklearn 1.9.1: compute_class_weight("balanced", classes=[0, 1, 2],
        // y=[0, 0, 0, 0, 1, 1, 2]) = [0.58333333, 1.16666667, 2.33333333].
        let data = Dataset {
            x: vec![0.0; 7],
            y: Targets::Classes(vec![0, 0, 0, 0, 1, 1, 2]),
            dim: 1,
            width: 3,
        };
        let w = balanced_weights(&data);
        for (a, b) in w.iter().zip([0.583_333_3, 1.166_666_7, 2.333_333_3]) {
            assert!((a - b).abs() < 1e-6, "{w:?}");
        }
    }
}
