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

/// Runs `f` on every resample, spread over the available cores; results in resample order.
fn map_parallel<T: Send>(samples: &[Vec<usize>], f: impl Fn(&[usize]) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = samples.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = samples
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(|idx| f(idx)).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a metric computation panicked"))
            .collect()
    })
}

/// Percentile intervals of every metric `metrics` computes, over the given resamples. Metrics
/// undefined on a resample (NaN) are left out of that metric's distribution.
pub fn intervals(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    metrics: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, (f64, f64)> {
    let mut dist: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for named in map_parallel(samples, metrics) {
        for (name, v) in named {
            if !v.is_nan() {
                dist.entry(name).or_default().push(v);
            }
        }
    }
    summarise(config, dist)
}

/// Percentile intervals of `b - a` for every metric both compute, resampling the same items
/// for both (the paired bootstrap).
pub fn paired_intervals(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named + Sync,
    b: impl Fn(&[usize]) -> Named + Sync,
) -> BTreeMap<String, (f64, f64)> {
    let mut dist: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (a, b) in map_parallel(samples, |idx| (a(idx), b(idx))) {
        let a: BTreeMap<String, f64> = a.into_iter().collect();
        for (name, vb) in b {
            if let Some(va) = a.get(&name) {
                let d = vb - va;
                if !d.is_nan() {
                    dist.entry(name).or_default().push(d);
                }
            }
        }
    }
    summarise(config, dist)
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

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [2.5, 50, 97.5]) -> [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        for (q, e) in [(0.025, 1.075), (0.5, 2.5), (0.975, 3.925)] {
            assert!((percentile(&v, q) - e).abs() < 1e-12);
        }
    }
}
