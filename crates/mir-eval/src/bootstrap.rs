//! Seeded percentile bootstrap over test items, single and paired.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

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
///
/// Every run, deformation and comparison of one test set asks for the same lists, so the
/// last few drawn are kept and shared (drawing them cost as much as scoring a run).
pub fn resamples(config: &Bootstrap, n: usize) -> Arc<[Vec<usize>]> {
    /// How many distinct (seed, count, size) lists are kept.
    const KEPT: usize = 4;
    type Drawn = Vec<((u64, usize, usize), Arc<[Vec<usize>]>)>;
    static DRAWN: Mutex<Drawn> = Mutex::new(Vec::new());
    let key = (config.seed, config.resamples, n);
    // A poisoned lock only means another thread panicked; the lists it holds are whole.
    let mut drawn = DRAWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, lists)) = drawn.iter().find(|(k, _)| *k == key) {
        return lists.clone();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let lists: Arc<[Vec<usize>]> = (0..config.resamples)
        .map(|_| (0..n).map(|_| rng.random_range(0..n.max(1))).collect())
        .collect();
    if drawn.len() == KEPT {
        drawn.remove(0);
    }
    drawn.push((key, lists.clone()));
    lists
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

/// Every metric's value on each resample: one column per metric, in resample order, NaN where
/// the resample leaves the metric undefined or does not compute it. Computed once, it serves
/// [`intervals_of`] and [`paired_intervals_of`] alike.
#[derive(Debug, Clone, Default)]
pub struct Distribution<'a> {
    names: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
    columns: Vec<Vec<f64>>,
    resamples: usize,
}

impl<'a> Distribution<'a> {
    /// `metric`'s value on each resample, NaN where undefined; `None` for a metric never
    /// computed.
    pub fn column(&self, metric: &str) -> Option<&[f64]> {
        self.index.get(metric).map(|&k| &self.columns[k][..])
    }

    /// Adds one resample's metrics. Resamples list their metrics in the same order under the
    /// same borrowed names, so a metric is found at its position first (the same string, or
    /// an equal one) and by name only when it is not there.
    fn push(&mut self, named: &Named<&'a str>) {
        for (pos, &(name, v)) in named.iter().enumerate() {
            let k = match self.names.get(pos) {
                Some(n) if same(n, name) => pos,
                _ => self.column_of(name),
            };
            let column = &mut self.columns[k];
            column.resize(self.resamples, f64::NAN);
            column.push(v);
        }
        self.resamples += 1;
    }

    /// The column of `name`, added (NaN on the resamples so far) when new.
    fn column_of(&mut self, name: &'a str) -> usize {
        if let Some(&k) = self.index.get(name) {
            return k;
        }
        self.names.push(name);
        self.columns.push(Vec::new());
        self.index.insert(name, self.names.len() - 1);
        self.names.len() - 1
    }

    /// Appends `other`'s resamples after this one's.
    fn append(&mut self, other: Distribution<'a>) {
        for (name, values) in other.names.into_iter().zip(other.columns) {
            let k = self.column_of(name);
            let column = &mut self.columns[k];
            column.resize(self.resamples, f64::NAN);
            column.extend(values);
        }
        self.resamples += other.resamples;
        self.pad();
    }

    /// Every column NaN-padded to the resample count.
    fn pad(&mut self) {
        for column in &mut self.columns {
            column.resize(self.resamples, f64::NAN);
        }
    }

    /// Per metric, its defined values (NaN left out), for metrics defined on some resample.
    fn defined(&self) -> BTreeMap<&'a str, Vec<f64>> {
        (self.names.iter().zip(&self.columns))
            .filter_map(|(&name, c)| {
                let v: Vec<f64> = c.iter().copied().filter(|v| !v.is_nan()).collect();
                (!v.is_empty()).then_some((name, v))
            })
            .collect()
    }
}

/// Whether two names are equal, comparing the pointers first: resamples of one prepared set
/// borrow the very same strings.
fn same(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Every metric `metrics` computes on each resample, spread over the cores: each worker
/// gathers the values of a run of resamples into its own columns, so a resample's metric list
/// is dropped as soon as it is read (its memory reused by the next one) and the names are
/// borrowed (from a [`crate::Prepared`], say), never allocated.
pub fn distribution<'a>(
    samples: &[Vec<usize>],
    metrics: impl Fn(&[usize]) -> Named<&'a str> + Sync,
) -> Distribution<'a> {
    use rayon::prelude::*;
    let per_worker = samples
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    let parts: Vec<Distribution<'a>> = samples
        .par_chunks(per_worker)
        .map(|chunk| {
            let mut part = Distribution::default();
            for idx in chunk {
                part.push(&metrics(idx));
            }
            part.pad();
            part
        })
        .collect();
    let mut all = Distribution::default();
    for part in parts {
        all.append(part);
    }
    all
}

/// Percentile intervals of every metric `metrics` computes, over the given resamples. Metrics
/// undefined on a resample (NaN) are left out of that metric's distribution.
pub fn intervals<'a>(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    metrics: impl Fn(&[usize]) -> Named<&'a str> + Sync,
) -> BTreeMap<&'a str, (f64, f64)> {
    intervals_of(config, &distribution(samples, metrics))
}

/// [`intervals`] from a [`distribution`].
pub fn intervals_of<'a>(
    config: &Bootstrap,
    resampled: &Distribution<'a>,
) -> BTreeMap<&'a str, (f64, f64)> {
    summarise(config, resampled.defined())
}

/// Percentile intervals of `b - a` for every metric both compute, resampling the same items
/// for both (the paired bootstrap).
pub fn paired_intervals<'a>(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named<&'a str> + Sync,
    b: impl Fn(&[usize]) -> Named<&'a str> + Sync,
) -> BTreeMap<&'a str, (f64, f64)> {
    let (a, b) = (distribution(samples, a), distribution(samples, b));
    paired_intervals_of(config, &a, &b)
}

/// [`paired_intervals`] from the [`distribution`]s of `a` and `b` on the same resamples.
pub fn paired_intervals_of<'a>(
    config: &Bootstrap,
    a: &Distribution<'a>,
    b: &Distribution<'a>,
) -> BTreeMap<&'a str, (f64, f64)> {
    summarise(config, differences(a, b))
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
pub fn paired_tests<'a>(
    config: &Bootstrap,
    samples: &[Vec<usize>],
    a: impl Fn(&[usize]) -> Named<&'a str> + Sync,
    b: impl Fn(&[usize]) -> Named<&'a str> + Sync,
) -> BTreeMap<&'a str, PairedTest> {
    let dist = differences(&distribution(samples, a), &distribution(samples, b));
    let p: BTreeMap<&str, f64> = dist.iter().map(|(m, d)| (*m, p_value(d))).collect();
    summarise(config, dist)
        .into_iter()
        .map(|(m, (low, high))| (m, PairedTest { low, high, p: p[m] }))
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

/// Per metric both compute, `b - a` on each resample where both define it, for the metrics
/// with at least one such resample.
fn differences<'a>(a: &Distribution<'a>, b: &Distribution<'a>) -> BTreeMap<&'a str, Vec<f64>> {
    (b.names.iter().zip(&b.columns))
        .filter_map(|(&name, vb)| {
            let va = a.column(name)?;
            let d: Vec<f64> = (va.iter().zip(vb))
                .map(|(va, vb)| vb - va)
                .filter(|d| !d.is_nan())
                .collect();
            (!d.is_empty()).then_some((name, d))
        })
        .collect()
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

fn summarise<'a>(
    config: &Bootstrap,
    dist: BTreeMap<&'a str, Vec<f64>>,
) -> BTreeMap<&'a str, (f64, f64)> {
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

    /// A metric a resample does not compute, or leaves NaN, is left out of that metric's
    /// values, whatever the order the resamples list their metrics in and however the
    /// resamples are split among workers.
    #[test]
    fn metrics_absent_from_a_resample_are_left_out() {
        let samples: Vec<Vec<usize>> = (0..37).map(|r| vec![r]).collect();
        let metrics = |idx: &[usize]| -> Named<&'static str> {
            let r = idx[0];
            let mut out = vec![("a", r as f64)];
            if r.is_multiple_of(3) {
                out.insert(0, ("b", 2.0 * r as f64));
            }
            out.push(("c", if r.is_multiple_of(2) { f64::NAN } else { 1.0 }));
            out
        };
        let dist = distribution(&samples, metrics);
        let a: Vec<f64> = (0..37).map(|r| r as f64).collect();
        assert_eq!(dist.column("a"), Some(&a[..]));
        let b = dist.column("b").expect("b is computed");
        for (r, v) in b.iter().enumerate() {
            assert!(if r.is_multiple_of(3) {
                *v == 2.0 * r as f64
            } else {
                v.is_nan()
            });
        }
        let defined = dist.defined();
        assert_eq!(defined["b"].len(), 13);
        assert_eq!(defined["c"], vec![1.0; 18]);
        // Against a distribution of `a` alone: the differences exist where both do.
        let only_a = distribution(&samples, |idx| vec![("a", 0.5 * idx[0] as f64)]);
        let d = differences(&only_a, &dist);
        assert_eq!(d.keys().copied().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(d["a"][36], 18.0);
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
