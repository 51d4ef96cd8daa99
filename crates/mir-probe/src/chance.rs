//! Baselines that hear nothing: what every probe has to beat, scored like any probe run.
//!
//! `majority` predicts the training split's label distribution for every track (scikit-learn's
//! `DummyClassifier(strategy="prior")`: its class is the most frequent training class, and tags
//! or targets get their training frequency or mean, as `DummyRegressor`); `uniform` draws
//! every score at random from the seed (its class is a uniformly random one, tags are
//! independent coin flips, targets uniform between the training minimum and maximum). Both
//! give a track the same scores under every deformation: they ignore the audio.

use std::collections::BTreeMap;

use mir_table::{CLEAN, Prediction, Split, Table, TaskType, Track, read_tracks};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{Aggregation, Error, ProbeOutput, Result, Task};

/// A chance baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chance {
    /// The training split's label distribution for every track.
    Majority,
    /// Random scores.
    Uniform,
}

impl Chance {
    /// Both, in report order.
    pub const ALL: [Chance; 2] = [Chance::Majority, Chance::Uniform];

    /// Its probe name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Chance::Majority => "majority",
            Chance::Uniform => "uniform",
        }
    }
}

/// The predictions of `chance` for every validation track (clean) and every test track under
/// clean audio and each of `deformations`, from the training tracks of `tracks`.
pub fn chance(
    chance: Chance,
    seed: u64,
    tracks: &Table,
    deformations: &[String],
) -> Result<ProbeOutput> {
    let task = Task::of(tracks)?;
    let tracks = read_tracks(tracks)?;
    let train: Vec<&Track> = tracks.iter().filter(|t| t.split == Split::Train).collect();
    if train.is_empty() {
        return Err(Error::NoTrainingData);
    }
    let width = task.width(&tracks);
    let prior = prior(&task, &train, width)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xc4a2_ce00);
    let mut held_out: Vec<&Track> = tracks.iter().filter(|t| t.split != Split::Train).collect();
    held_out.sort_by(|a, b| a.track_id.cmp(&b.track_id));
    let mut predictions = Vec::new();
    for t in held_out {
        let scores = match chance {
            Chance::Majority => prior.clone(),
            Chance::Uniform => uniform(&task, &train, width, &mut rng),
        };
        let conditions = match t.split {
            Split::Test => deformations.iter().map(String::as_str).collect(),
            _ => vec![CLEAN],
        };
        for deformation in std::iter::once(CLEAN)
            .chain(conditions)
            .collect::<std::collections::BTreeSet<_>>()
        {
            predictions.push(Prediction {
                track_id: t.track_id.clone(),
                split: t.split,
                deformation: deformation.to_owned(),
                scores: scores.clone(),
            });
        }
    }
    Ok(ProbeOutput {
        predictions,
        epochs: Vec::new(),
        hyperparameters: None,
        saved: None,
        best_epoch: 0,
        vocabulary: task.vocabulary,
        task_type: task.task_type,
        width,
        aggregation: Aggregation::EmbeddingMean,
        train_tracks: train.len(),
    })
}

/// The training split's class frequencies, tag frequencies or mean targets.
fn prior(task: &Task, train: &[&Track], width: usize) -> Result<Vec<f32>> {
    let mut sum = vec![0f64; width];
    for t in train {
        match task.task_type {
            TaskType::Regression => {
                let values = t.targets.as_deref().unwrap_or_default();
                sum.iter_mut()
                    .zip(values)
                    .for_each(|(s, v)| *s += f64::from(*v));
            }
            _ => {
                for label in &t.labels {
                    sum[task.class(t, label)?] += 1.0;
                }
            }
        }
    }
    Ok(sum
        .into_iter()
        .map(|s| (s / train.len() as f64) as f32)
        .collect())
}

/// Random scores: a random distribution over the classes, a coin per tag, or a value between
/// each target's training extremes.
fn uniform(task: &Task, train: &[&Track], width: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    match task.task_type {
        TaskType::Multiclass => {
            let draws: Vec<f32> = (0..width).map(|_| rng.random_range(0.0..1.0)).collect();
            let total: f32 = draws.iter().sum();
            draws
                .into_iter()
                .map(|d| d / total.max(f32::MIN_POSITIVE))
                .collect()
        }
        TaskType::Multilabel => (0..width).map(|_| rng.random_range(0.0..1.0)).collect(),
        TaskType::Regression => {
            let mut range: BTreeMap<usize, (f32, f32)> = BTreeMap::new();
            for v in train.iter().filter_map(|t| t.targets.as_ref()) {
                for (k, &x) in v.iter().enumerate() {
                    let r = range.entry(k).or_insert((x, x));
                    *r = (r.0.min(x), r.1.max(x));
                }
            }
            (0..width)
                .map(|k| {
                    let (lo, hi) = range.get(&k).copied().unwrap_or((0.0, 0.0));
                    if hi > lo {
                        rng.random_range(lo..hi)
                    } else {
                        lo
                    }
                })
                .collect()
        }
    }
}
