//! The training loop: seeded initialisation and shuffling, Adam, early stopping, best weights.

use std::time::Instant;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, decay::WeightDecayConfig};
use burn::prelude::{Device, Int, Tensor, TensorData};
use burn::tensor::activation::{relu, softmax};
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::{Backend, Error, ProbeConfig, Result};

/// A stack of dense layers with ReLU between them; no hidden layer is a linear probe.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Layers `sizes[0] -> sizes[1] -> ...`, initialised as PyTorch's `nn.Linear`
    /// (uniform in `±1/sqrt(fan_in)`) from `rng`, so initialisation does not depend on any
    /// global backend seed.
    pub fn new(sizes: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Self {
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
        Self { layers }
    }

    /// Logits for a batch.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

/// Standardised inputs and class indices of one split.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Row-major `n x dim` features.
    pub x: Vec<f32>,
    /// Class index per row.
    pub y: Vec<i64>,
    /// Feature dimension.
    pub dim: usize,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
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
    /// Validation accuracy.
    pub validation_accuracy: Option<f64>,
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
}

// The design card names burn-ndarray as the default CPU backend; burn 0.22 deprecates it in
// favour of flex, which is offered as `backend: flex`.
#[allow(deprecated)]
fn device(backend: Backend) -> Device {
    match backend {
        Backend::Ndarray => Device::ndarray(),
        Backend::Flex => Device::flex(),
    }
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

fn batch_tensors(data: &Dataset, idx: &[usize], device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    let mut x = Vec::with_capacity(idx.len() * data.dim);
    for &i in idx {
        x.extend_from_slice(&data.x[i * data.dim..(i + 1) * data.dim]);
    }
    let y: Vec<i64> = idx.iter().map(|&i| data.y[i]).collect();
    (
        Tensor::from_data(TensorData::new(x, [idx.len(), data.dim]), device),
        Tensor::from_data(TensorData::new(y, [idx.len()]), device),
    )
}

/// Trains a classifier on `train`, early-stopping on `validation` accuracy (ties broken by
/// lower validation loss) with the config's patience, and returns the best epoch's weights.
pub fn train(
    config: &ProbeConfig,
    classes: usize,
    train: &Dataset,
    validation: &Dataset,
    seed: u64,
) -> Result<Trained> {
    if train.is_empty() {
        return Err(Error::NoTrainingData);
    }
    let device = device(config.backend);
    let ad = device.clone().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sizes = vec![train.dim];
    sizes.extend(&config.hidden);
    sizes.push(classes);
    let mut model = Mlp::new(&sizes, &mut rng, &ad);
    let mut optim = AdamConfig::new()
        .with_weight_decay(
            (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32)),
        )
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::new();
    let mut best: Option<(f64, f64, usize, Mlp)> = None;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(config.batch_size.max(1)) {
            let (x, y) = batch_tensors(train, chunk, &ad);
            let loss = loss_fn.forward(model.forward(x), y);
            total += scalar(loss.clone().detach())? * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
        }
        let (validation_loss, validation_accuracy) = if validation.is_empty() {
            (None, None)
        } else {
            let (loss, acc) = evaluate(&model.valid(), validation, &device)?;
            (Some(loss), Some(acc))
        };
        history.push(EpochStats {
            epoch,
            train_loss: total / train.len() as f64,
            validation_loss,
            validation_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        });
        if let (Some(loss), Some(acc)) = (validation_loss, validation_accuracy) {
            let improved = match &best {
                None => true,
                Some((best_acc, best_loss, _, _)) => {
                    acc > *best_acc || (acc == *best_acc && loss < *best_loss)
                }
            };
            if improved {
                best = Some((acc, loss, epoch, model.clone()));
            } else if best
                .as_ref()
                .is_some_and(|b| epoch - b.2 >= config.patience)
            {
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
    })
}

fn evaluate(model: &Mlp, data: &Dataset, device: &Device) -> Result<(f64, f64)> {
    let idx: Vec<usize> = (0..data.len()).collect();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut loss = 0.0;
    let mut correct = 0usize;
    for chunk in idx.chunks(4096) {
        let (x, y) = batch_tensors(data, chunk, device);
        let logits = model.forward(x);
        loss += scalar(loss_fn.forward(logits.clone(), y))? * chunk.len() as f64;
        let probs = to_vec(logits)?;
        let classes = probs.len() / chunk.len();
        for (row, &i) in probs.chunks(classes).zip(chunk) {
            correct += usize::from(argmax(row) as i64 == data.y[i]);
        }
    }
    Ok((loss / data.len() as f64, correct as f64 / data.len() as f64))
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
}

impl Trained {
    /// Class probabilities for each row of `x` (`n x dim`, standardised), every row kept.
    pub fn predict(&self, x: &[f32], dim: usize) -> Result<Vec<Vec<f32>>> {
        let n = x.len() / dim.max(1);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(4096) {
            let end = (start + 4096).min(n);
            let t = Tensor::<2>::from_data(
                TensorData::new(x[start * dim..end * dim].to_vec(), [end - start, dim]),
                &self.device,
            );
            let probs = to_vec(softmax(self.model.forward(t), 1))?;
            let classes = probs.len() / (end - start);
            out.extend(probs.chunks(classes).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}
