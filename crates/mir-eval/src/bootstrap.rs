//! Seeded percentile bootstrap over test items, single and paired.

use std::collections::BTreeMap;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::Named;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Number of resamples; 0 disables intervals.
    pub resamples: usize,
    /// Two-sided coverage, for example 0.95.
    pub confidence: f64,
    /// Seed of the resampling.
    pub seed: u64,
}

/// numpy's default (linear) percentile of sorted values, `q` in `[0, 1]`.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The resamples: `resamples` lists of `n` indices drawn with replacement. The same seed and `n`
/// give the same lists, so two systems scored on the same items are resampled together.
pub fn resamples(config: &Bootstrap, n: usize) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    (0..config.resamples)
        .map(|_| (0..n).map(|_| rng.random_range(0..n.max(1))).collect())
        .collect()
}

/// Runs `f` on every resample, spread over the cores by rayon's pool (whose threads, and
/// their allocator caches, last: a pool of fresh threads per call spent a fifth of the
/// evaluation faulting in new pages); results in resample order.
fn map_parallel<T: Send>(samples: &[Vec<usize>], f: impl Fn(&[usize]) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    samples.par_iter().map(|idx| f(idx)).collect()
}

/// `metric`'s value on every resample (NaN where undefined), in resample order.
pub fn values(samples: &[Vec<usize>], metric: impl Fn(&[usize]) -> f64 + Sync) -> Vec<f64> {
    map_parallel(samples, metric)
}

/// The paired test of two systems' values on the same resamples ([`values`]): the percentile
/// interval of `b - a` and its p-value, `None` when no resample defines both.
pub fn paired_test(config: &Bootstrap, a: &[f64], b: &[f64]) -> Option<PairedTest> {
    let mut d: Vec<f64> = (a.iter().zip(b))
        .map(|(a, b)| b - a)
        .filter(|d| !d.is_nan())
        .collect();
    if d.is_empty() {
        return None;
    }
    let p = p_value(&d);
    d.sort_by(f64::total_cmp);
    let alpha = (1.0 - config.confidence) / 2.0;
    let (low, high) = (percentile(&d, alpha), percentile(&d, 1.0 - alpha));
    Some(PairedTest { low, high, p })
}

/// Every metric `metrics` computes, on each resample (spread over the cores), in resample
/// order: computed once, it serves [`intervals_of`] and [`paired_intervals_of`] alike.
pub fn distribution(
    samples: &[Vec<usize>],
    metrics: impl Fn(&[usize]) -> Named + Sync,
) -> Vec<Named> {
    map_parallel(samples, metrics)
}

/// Percentile intervals of every metric `metrics` computes, over the given resamples. Metrics
/// undefined on a resample (NaN) are left out of that metric's distribution.
pub fn intervals(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    metrics: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, (f64, f64)> {
    intervals_of(config, &distribution(samples, metrics))
}

/// [`intervals`] from a [`distribution`].
pub fn intervals_of(config: &Bootstrap, resampled: &[Named]) -> BTreeMap<String, (f64, f64)> {
    let mut dist = Columns::default();
    for named in resampled {
        for (pos, (name, v)) in named.iter().enumerate() {
            if !v.is_nan() {
                dist.push(pos, name, *v);
            }
        }
    }
    summarise(config, dist.into_map())
}

/// Each metric's values over the resamples. Resamples list their metrics in the same order,
/// so a metric is found at its position first and by name only when it is not there.
#[derive(Default)]
struct Columns {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
    index: std::collections::HashMap<String, usize>,
}

impl Columns {
    fn push(&mut self, pos: usize, name: &str, v: f64) {
        let column = match self.names.get(pos) {
            Some(n) if n == name => pos,
            _ => match self.index.get(name) {
                Some(&k) => k,
                None => {
                    let k = self.names.len();
                    self.names.push(name.to_owned());
                    self.values.push(Vec::new());
                    self.index.insert(name.to_owned(), k);
                    k
                }
            },
        };
        self.values[column].push(v);
    }

    fn into_map(self) -> BTreeMap<String, Vec<f64>> {
        self.names.into_iter().zip(self.values).collect()
    }
}

/// Percentile intervals of `b - a` for every metric both compute, resampling the same items
/// for both (the paired bootstrap).
pub fn paired_intervals(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named + Sync,
    b: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, (f64, f64)> {
    summarise(config, paired_differences(samples, a, b))
}

/// [`paired_intervals`] from the [`distribution`]s of `a` and `b` on the same resamples.
pub fn paired_intervals_of(
    config: &Bootstrap,
    a: &[Named],
    b: &[Named],
) -> BTreeMap<String, (f64, f64)> {
    summarise(config, differences(a.iter().zip(b)))
}

/// A paired bootstrap test of `b - a` on one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTest {
    /// Lower bound of the difference's percentile interval.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Two-sided bootstrap p-value of "no difference" ([`p_value`]).
    pub p: f64,
}

/// [`paired_intervals`] with each metric's two-sided p-value.
pub fn paired_tests(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named + Sync,
    b: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, PairedTest> {
    let dist = paired_differences(samples, a, b);
    let p: BTreeMap<String, f64> = dist.iter().map(|(m, d)| (m.clone(), p_value(d))).collect();
    summarise(config, dist)
        .into_iter()
        .map(|(m, (low, high))| {
            (
                m.clone(),
                PairedTest {
                    low,
                    high,
                    p: p[&m],
                },
            )
        })
        .collect()
}

/// The two-sided p-value of "no difference" from the bootstrap distribution of a difference:
/// twice the smaller share of resamples on either side of 0 (a tie counts on both), each share
/// with the usual +1 in numerator and denominator, at most 1. Identical systems give 1; a
/// difference of one sign in every one of B resamples gives 2 / (B + 1).
pub fn p_value(differences: &[f64]) -> f64 {
    let b = differences.len() as f64;
    let below = differences.iter().filter(|d| **d <= 0.0).count() as f64;
    let above = differences.iter().filter(|d| **d >= 0.0).count() as f64;
    (2.0 * (below.min(above) + 1.0) / (b + 1.0)).min(1.0)
}

/// The bootstrap distribution of `b - a` per metric both compute (NaN differences left out).
fn paired_differences(
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named + Sync,
    b: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, Vec<f64>> {
    let pairs = map_parallel(samples, |idx| (a(idx), b(idx)));
    differences(pairs.iter().map(|(a, b)| (a, b)))
}

/// Per metric, `b - a` on each resample where both define it.
fn differences<'a>(
    pairs: impl Iterator<Item = (&'a Named, &'a Named)>,
) -> BTreeMap<String, Vec<f64>> {
    let mut dist = Columns::default();
    for (a, b) in pairs {
        let mut by_name: Option<BTreeMap<&str, f64>> = None;
        for (pos, (name, vb)) in b.iter().enumerate() {
            // Both list their metrics in the same order, but for a metric one of them lacks.
            let va = match a.get(pos) {
                Some((m, va)) if m == name => Some(*va),
                _ => by_name
                    .get_or_insert_with(|| a.iter().map(|(m, v)| (m.as_str(), *v)).collect())
                    .get(name.as_str())
                    .copied(),
            };
            if let Some(va) = va {
                let d = vb - va;
                if !d.is_nan() {
                    dist.push(pos, name, d);
                }
            }
        }
    }
    dist.into_map()
}

/// Holm's step-down adjustment of p-values for testing them together (statsmodels'
/// `multipletests(method="holm")`): the k-th smallest becomes the running maximum of
/// `(m - j) p_(j)` over `j <= k`, at most 1, returned in the input's order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

fn summarise(config: &Bootstrap, dist: BTreeMap<String, Vec<f64>>) -> BTreeMap<String, (f64, f64)> {
    let alpha = (1.0 - config.confidence) / 2.0;
    dist.into_iter()
        .map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            (name, (percentile(&v, alpha), percentile(&v, 1.0 - alpha)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// statsmodels 0.15.0: `multipletests(p, method="holm")[1]`, ties included.
    #[test]
    fn holm_is_statsmodels() {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        let p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04];
        assert!(
            close(&holm(&p), &[0.05, 0.12, 0.12, 0.03, 0.2, 0.12]),
            "{:?}",
            holm(&p)
        );
        let p = [0.5, 0.0001, 0.9, 0.02];
        assert!(
            close(&holm(&p), &[1.0, 0.0004, 1.0, 0.06]),
            "{:?}",
            holm(&p)
        );
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn p_values_of_identical_and_dominated_systems() {
        assert_eq!(p_value(&[0.0; 999]), 1.0);
        assert!((p_value(&[0.1; 999]) - 2.0 / 1000.0).abs() < 1e-15);
        assert!((p_value(&[-0.1; 999]) - 2.0 / 1000.0).abs() < 1e-15);
        // 30 of 99 resamples at or below 0: p = 2 * 31 / 100.
        let mixed: Vec<f64> = (0..99).map(|i| if i < 30 { -1.0 } else { 1.0 }).collect();
        assert!((p_value(&mixed) - 0.62).abs() < 1e-12);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) -> [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        for (q, e) in [(0.025, 1.075), (0.5, 2.5), (0.975, 3.925)] {
            assert!((percentile(&v, q) - e).abs() < 1e-12);
        }
    }
}
