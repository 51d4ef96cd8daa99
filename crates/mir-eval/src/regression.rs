//! Regression metrics per target dimension and averaged, as scikit-learn and SciPy define them.

use crate::{Named, Scores};

/// Average ranks (ties share their mean rank), as `scipy.stats.rankdata`.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        let avg = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            r[i] = avg;
        }
        start = end;
    }
    r
}

/// Pearson correlation (`scipy.stats.pearsonr`); NaN when either side is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        (sab / (saa.sqrt() * sbb.sqrt())).clamp(-1.0, 1.0)
    }
}

/// Spearman correlation (`scipy.stats.spearmanr`): Pearson of average ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// Coefficient of determination (`sklearn.metrics.r2_score`, `force_finite=True`: a constant
/// truth gives 1 for a perfect prediction, else 0).
pub fn r2(truth: &[f64], pred: &[f64]) -> f64 {
    let n = truth.len() as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let ss_res: f64 = truth.iter().zip(pred).map(|(t, p)| (t - p) * (t - p)).sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// The metrics, per dimension and averaged over dimensions.
const METRICS: [&str; 5] = ["r2", "mae", "rmse", "pearson", "spearman"];

/// A regression test set with its metrics' names, computed once for many resamples
/// ([`Prepared::metrics`]).
pub struct Prepared<'a> {
    targets: &'a [f64],
    scores: &'a Scores,
    /// Per dimension, the names `<metric>/<dimension>` of [`METRICS`].
    dimension_metrics: Vec<[String; METRICS.len()]>,
}

impl<'a> Prepared<'a> {
    /// `targets[i * d + k]` is item `i`'s target `k`, named `dimensions[k]`.
    pub fn new(targets: &'a [f64], scores: &'a Scores, dimensions: &[String]) -> Self {
        let dimension_metrics = (dimensions.iter().take(scores.c))
            .map(|name| METRICS.map(|metric| format!("{metric}/{name}")))
            .collect();
        Self {
            targets,
            scores,
            dimension_metrics,
        }
    }

    /// Every regression metric over the items `idx` (which may repeat). Per-dimension values
    /// are named `<metric>/<dimension>`; the plain names average over dimensions
    /// (scikit-learn's `multioutput="uniform_average"`).
    pub fn metrics(&self, idx: &[usize]) -> Named<&str> {
        let d = self.scores.c;
        let mut out: Named<&str> = Vec::with_capacity(METRICS.len() * (d + 1));
        let mut sums = [0.0; METRICS.len()];
        for (k, names) in self.dimension_metrics.iter().enumerate() {
            let t: Vec<f64> = idx.iter().map(|&i| self.targets[i * d + k]).collect();
            let p: Vec<f64> = (idx.iter())
                .map(|&i| f64::from(self.scores.row(i)[k]))
                .collect();
            let n = t.len() as f64;
            let mae = t.iter().zip(&p).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
            let mse = t
                .iter()
                .zip(&p)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n;
            let values = [
                r2(&t, &p),
                mae,
                mse.sqrt(),
                pearson(&t, &p),
                spearman(&t, &p),
            ];
            for ((name, v), s) in names.iter().zip(values).zip(&mut sums) {
                out.push((name, v));
                *s += v;
            }
        }
        for (metric, s) in METRICS.into_iter().zip(sums) {
            out.push((metric, s / d as f64));
        }
        out
    }
}

/// Every regression metric over the items `idx`; `targets[i * d + k]` is item `i`'s target
/// `k`. See [`Prepared::metrics`].
pub fn metrics(targets: &[f64], scores: &Scores, dimensions: &[String], idx: &[usize]) -> Named {
    crate::owned(Prepared::new(targets, scores, dimensions).metrics(idx))
}
