//! Probes without training: `knn` (the `k` nearest training rows vote) and `centroid` (the
//! nearest class mean), on the standardised rows [`crate::run`] prepares.
//!
//! Their scores follow scikit-learn: a kNN score is the (distance-weighted) mean of the
//! neighbours' one-hot classes, tag flags or target values, as `KNeighborsClassifier`'s
//! `predict_proba` and `KNeighborsRegressor`'s `predict`; a centroid's class is
//! `NearestCentroid`'s `predict`, and its scores are the softmax of the negative distances to
//! the class means, so the nearest has the highest.

use serde::{Deserialize, Serialize};

use crate::train::{Dataset, Targets};
use crate::{Error, Result};

/// How far apart two embeddings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// `‖a - b‖`.
    #[default]
    Euclidean,
    /// `1 - a·b / (‖a‖ ‖b‖)`, with a zero vector at distance 1 from everything (scikit-learn's
    /// `cosine_distances`).
    Cosine,
}

/// How a kNN probe's neighbours vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Voting {
    /// One vote each.
    #[default]
    Uniform,
    /// Votes weighted by `1 / distance`; neighbours at distance 0, when there are any, share
    /// every vote (scikit-learn's `weights="distance"`).
    Distance,
}

/// A fitted probe without training: the rows it remembers and how it scores a query.
#[derive(Debug, Clone)]
pub(crate) enum Memory {
    /// The training rows and their targets as `width` values a row.
    Knn {
        x: Rows,
        targets: Vec<f64>,
        k: usize,
        distance: Distance,
        voting: Voting,
    },
    /// One mean per class, `dim` values each.
    Centroid { centroids: Rows, distance: Distance },
}

/// Row-major vectors with each one's length, computed once rather than per query.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    values: Vec<f64>,
    norms: Vec<f64>,
}

impl Rows {
    fn new(values: Vec<f64>, dim: usize) -> Self {
        let norms = values.chunks(dim.max(1)).map(norm).collect();
        Rows { values, norms }
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

impl Memory {
    /// A kNN memory of `train`'s rows.
    pub(crate) fn knn(train: &Dataset, k: usize, distance: Distance, voting: Voting) -> Self {
        let width = train.width;
        let targets = match &train.y {
            Targets::Classes(y) => y
                .iter()
                .flat_map(|&c| (0..width).map(move |j| f64::from(j as i64 == c)))
                .collect(),
            Targets::Tags(y) => y.iter().map(|&t| t as f64).collect(),
            Targets::Values(y) => y.iter().map(|&v| f64::from(v)).collect(),
        };
        Memory::Knn {
            x: Rows::new(train.x.iter().map(|&v| f64::from(v)).collect(), train.dim),
            targets,
            k,
            distance,
            voting,
        }
    }

    /// The class means of `train`'s rows (a multiclass task: every class needs a row).
    pub(crate) fn centroid(train: &Dataset, distance: Distance) -> Result<Self> {
        let Targets::Classes(y) = &train.y else {
            return Err(Error::InvalidConfig(
                "a `centroid` probe is for multiclass tasks".into(),
            ));
        };
        let dim = train.dim;
        let mut sums = vec![0f64; train.width * dim];
        let mut counts = vec![0usize; train.width];
        for (row, &c) in train.x.chunks(dim.max(1)).zip(y) {
            let c = c as usize;
            counts[c] += 1;
            let sum = &mut sums[c * dim..(c + 1) * dim];
            sum.iter_mut()
                .zip(row)
                .for_each(|(s, &v)| *s += f64::from(v));
        }
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            return Err(Error::InvalidConfig(format!(
                "a `centroid` probe needs a training track of every class; class {c} has none"
            )));
        }
        for (sum, &n) in sums.chunks_mut(dim.max(1)).zip(&counts) {
            sum.iter_mut().for_each(|s| *s /= n as f64);
        }
        Ok(Memory::Centroid {
            centroids: Rows::new(sums, dim),
            distance,
        })
    }

    /// Scores of each row of `x` (row-major, `dim` values a row), `width` a row.
    pub(crate) fn predict(&self, x: &[f32], dim: usize, width: usize) -> Vec<Vec<f32>> {
        x.chunks(dim.max(1))
            .map(|q| {
                let q: Vec<f64> = q.iter().map(|&v| f64::from(v)).collect();
                match self {
                    Memory::Knn {
                        x,
                        targets,
                        k,
                        distance,
                        voting,
                    } => vote(&q, x, targets, width, *k, *distance, *voting),
                    Memory::Centroid {
                        centroids,
                        distance,
                    } => softmax_nearest(&q, centroids, *distance),
                }
            })
            .collect()
    }
}

/// The distance from `q` to each `dim`-long row of `rows`.
fn distances(q: &[f64], rows: &Rows, distance: Distance) -> Vec<f64> {
    let dim = q.len().max(1);
    let qn = norm(q);
    (rows.values.chunks(dim).zip(&rows.norms))
        .map(|(r, rn)| match distance {
            Distance::Euclidean => q
                .iter()
                .zip(r)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt(),
            Distance::Cosine => {
                let dot: f64 = q.iter().zip(r).map(|(a, b)| a * b).sum();
                let denom = qn * rn;
                let similarity = if denom > 0.0 { dot / denom } else { 0.0 };
                // Rounding can take it a hair below zero, as scikit-learn clips.
                (1.0 - similarity).clamp(0.0, 2.0)
            }
        })
        .collect()
}

/// The weighted mean of the targets of the `k` rows nearest to `q` (ties by row order).
fn vote(
    q: &[f64],
    x: &Rows,
    targets: &[f64],
    width: usize,
    k: usize,
    distance: Distance,
    voting: Voting,
) -> Vec<f32> {
    let d = distances(q, x, distance);
    let mut order: Vec<usize> = (0..d.len()).collect();
    let k = k.min(order.len());
    let by_distance = |a: &usize, b: &usize| d[*a].total_cmp(&d[*b]).then(a.cmp(b));
    if k < order.len() {
        order.select_nth_unstable_by(k, by_distance);
    }
    order.truncate(k);
    let weights: Vec<f64> = match voting {
        Voting::Uniform => vec![1.0; k],
        Voting::Distance if order.iter().any(|&i| d[i] == 0.0) => {
            order.iter().map(|&i| f64::from(d[i] == 0.0)).collect()
        }
        Voting::Distance => order.iter().map(|&i| 1.0 / d[i]).collect(),
    };
    let total: f64 = weights.iter().sum();
    let mut score = vec![0f64; width];
    for (&i, w) in order.iter().zip(&weights) {
        let t = &targets[i * width..(i + 1) * width];
        score.iter_mut().zip(t).for_each(|(s, v)| *s += w * v);
    }
    score.into_iter().map(|s| (s / total) as f32).collect()
}

/// The softmax of the negative distances from `q` to each centroid.
fn softmax_nearest(q: &[f64], centroids: &Rows, distance: Distance) -> Vec<f32> {
    let d = distances(q, centroids, distance);
    let nearest = d.iter().copied().fold(f64::INFINITY, f64::min);
    let e: Vec<f64> = d.iter().map(|v| (nearest - v).exp()).collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|v| (v / total) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(x: Vec<f32>, y: Vec<i64>, dim: usize, width: usize) -> Dataset {
        Dataset {
            x,
            y: Targets::Classes(y),
            dim,
            width,
        }
    }

    #[test]
    fn distance_votes_go_to_an_exact_match() {
        let train = dataset(vec![0.0, 1.0, 2.0], vec![0, 1, 1], 1, 2);
        let knn = Memory::knn(&train, 3, Distance::Euclidean, Voting::Distance);
        assert_eq!(knn.predict(&[0.0], 1, 2), vec![vec![1.0, 0.0]]);
        // 1/0.5 for class 0, 1/0.5 + 1/1.5 for class 1.
        let s = &knn.predict(&[0.5], 1, 2)[0];
        assert!((s[0] - 2.0 / (4.0 + 2.0 / 3.0)).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn a_class_without_training_rows_has_no_centroid() {
        let train = dataset(vec![0.0, 1.0], vec![0, 0], 1, 2);
        let err = Memory::centroid(&train, Distance::Euclidean).unwrap_err();
        assert!(err.to_string().contains("class 1 has none"), "{err}");
    }

    #[test]
    fn a_zero_vector_is_at_cosine_distance_one() {
        let rows = Rows::new(vec![1.0, 0.0, -1.0, 0.0], 2);
        let d = distances(&[0.0, 0.0], &rows, Distance::Cosine);
        assert_eq!(d, vec![1.0, 1.0]);
    }
}
