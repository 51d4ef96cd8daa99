//! Multi-label (tagging) metrics, defined as scikit-learn defines them.

use crate::ranking::{Ranking, multiplicities};
use crate::{Named, Scores};

/// A tagging test set made ready for many resamples: each tag's ranking of the scores and
/// thresholded decisions, and the ranking of every (item, tag) pair, computed once
/// ([`Prepared::metrics`]).
pub struct Prepared {
    /// Per tag: its ranking, which items have it, which items score at least the threshold.
    tags: Vec<(Ranking, Vec<bool>, Vec<bool>)>,
    /// Per tag, its metrics' names: `roc_auc/<tag>` and `average_precision/<tag>`.
    tag_metrics: Vec<[String; 2]>,
    /// The ranking of every (item, tag) pair.
    pairs: Ranking,
    items: usize,
}

impl Prepared {
    /// Prepares `truth` (`truth[i * tags + t]`: item `i` has tag `t`) and `scores`.
    pub fn new(truth: &[bool], scores: &Scores, vocabulary: &[String], threshold: f32) -> Self {
        let t = vocabulary.len();
        let tags = (0..t)
            .map(|j| {
                let column = scores.column(j);
                let positive: Vec<bool> = (0..scores.n).map(|i| truth[i * t + j]).collect();
                let decided = column.iter().map(|&v| v >= threshold).collect();
                (Ranking::new(column, &positive), positive, decided)
            })
            .collect();
        let flat: Vec<f32> = (0..scores.n).flat_map(|i| scores.row(i).to_vec()).collect();
        let pairs = Ranking::of_items(&flat, &truth[..scores.n * t], t);
        let tag_metrics = (vocabulary.iter())
            .map(|tag| ["roc_auc", "average_precision"].map(|m| format!("{m}/{tag}")))
            .collect();
        Self {
            tags,
            tag_metrics,
            pairs,
            items: scores.n,
        }
    }

    /// Every multilabel metric over the items `idx` (which may repeat).
    ///
    /// ROC-AUC and average precision are computed per tag, macro-averaged over the tags
    /// defined on `idx` (a tag with no positive or no negative is skipped and counted in
    /// `tags_skipped`: it never turns the average into NaN), and micro-averaged over every
    /// (item, tag) pair. F1 uses `score >= threshold` as the decision, macro over every tag (0
    /// for a zero division) and micro.
    pub fn metrics(&self, idx: &[usize]) -> Named<&str> {
        let w = multiplicities(self.items, idx);
        let mut out: Named<&str> = Vec::with_capacity(2 * self.tags.len() + 7);
        let (mut aucs, mut aps, mut f1s) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tp_all, mut fp_all, mut fn_all) = (0.0, 0.0, 0.0);
        let mut skipped = 0;
        for ([auc_name, ap_name], (ranking, positive, decided)) in
            self.tag_metrics.iter().zip(&self.tags)
        {
            match ranking.roc_auc_and_ap(&w) {
                (Some(auc), Some(ap)) => {
                    aucs.push(auc);
                    aps.push(ap);
                    out.push((auc_name, auc));
                    out.push((ap_name, ap));
                }
                _ => skipped += 1,
            }
            let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
            for (i, &m) in w.iter().enumerate().filter(|(_, m)| **m > 0) {
                let m = f64::from(m);
                match (positive[i], decided[i]) {
                    (true, true) => tp += m,
                    (false, true) => fp += m,
                    (true, false) => fn_ += m,
                    (false, false) => {}
                }
            }
            f1s.push(f1(tp, fp, fn_));
            tp_all += tp;
            fp_all += fp;
            fn_all += fn_;
        }
        if !aucs.is_empty() {
            out.push(("roc_auc_macro", mean(&aucs)));
            out.push(("pr_auc_macro", mean(&aps)));
        }
        // Micro: every (item, tag) pair as one binary problem, taken as often as its item.
        let (auc, ap) = self.pairs.roc_auc_and_ap(&w);
        if let Some(a) = auc {
            out.push(("roc_auc_micro", a));
        }
        if let Some(a) = ap {
            out.push(("pr_auc_micro", a));
        }
        out.push(("f1_macro", mean(&f1s)));
        out.push(("f1_micro", f1(tp_all, fp_all, fn_all)));
        out.push(("tags_skipped", skipped as f64));
        out
    }
}

/// Every multilabel metric over the items `idx`; see [`Prepared::metrics`], which a bootstrap
/// calls once per resample on one [`Prepared`].
pub fn metrics(
    truth: &[bool],
    scores: &Scores,
    vocabulary: &[String],
    idx: &[usize],
    threshold: f32,
) -> Named {
    crate::owned(Prepared::new(truth, scores, vocabulary, threshold).metrics(idx))
}

/// F1 from counts, 0 for a zero division.
fn f1(tp: f64, fp: f64, fn_: f64) -> f64 {
    let denom = 2.0 * tp + fp + fn_;
    if denom == 0.0 { 0.0 } else { 2.0 * tp / denom }
}

/// The mean, NaN for none.
fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::roc_auc_and_ap;

    // The row-by-row implementation this module had before `Prepared`, kept as the reference.
    /// Every multilabel metric over the items `idx`.
    ///
    /// `truth[i * tags + t]` says whether item `i` has tag `t`. ROC-AUC and average precision are
    /// computed per tag, macro-averaged over the tags defined on `idx` (a tag with no positive or no
    /// negative is skipped and counted in `tags_skipped`: it never turns the average into NaN), and
    /// micro-averaged over every (item, tag) pair. F1 uses `score >= threshold` as the decision,
    /// macro over every tag (0 for a zero division) and micro.
    fn reference_metrics(
        truth: &[bool],
        scores: &Scores,
        vocabulary: &[String],
        idx: &[usize],
        threshold: f32,
    ) -> Named {
        let t = vocabulary.len();
        let mut out: Named = Vec::new();
        let (mut aucs, mut aps, mut f1s) = (Vec::new(), Vec::new(), Vec::new());
        let (mut tp_all, mut fp_all, mut fn_all) = (0.0, 0.0, 0.0);
        let mut skipped = 0;
        for (j, tag) in vocabulary.iter().enumerate() {
            let positive: Vec<bool> = (0..scores.n).map(|i| truth[i * t + j]).collect();
            let column = scores.column(j);
            match roc_auc_and_ap(&positive, column, idx) {
                (Some(auc), Some(ap)) => {
                    aucs.push(auc);
                    aps.push(ap);
                    out.push((format!("roc_auc/{tag}"), auc));
                    out.push((format!("average_precision/{tag}"), ap));
                }
                _ => skipped += 1,
            }
            let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
            for &i in idx {
                match (positive[i], column[i] >= threshold) {
                    (true, true) => tp += 1.0,
                    (false, true) => fp += 1.0,
                    (true, false) => fn_ += 1.0,
                    (false, false) => {}
                }
            }
            let denom: f64 = 2.0 * tp + fp + fn_;
            f1s.push(if denom == 0.0 { 0.0 } else { 2.0 * tp / denom });
            tp_all += tp;
            fp_all += fp;
            fn_all += fn_;
        }
        let mean = |v: &[f64]| {
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        if !aucs.is_empty() {
            out.push(("roc_auc_macro".into(), mean(&aucs)));
            out.push(("pr_auc_macro".into(), mean(&aps)));
        }
        // Micro: every (item, tag) pair as one binary problem.
        let mut flat_positive = Vec::with_capacity(idx.len() * t);
        let mut flat_scores = Vec::with_capacity(idx.len() * t);
        for &i in idx {
            flat_positive.extend_from_slice(&truth[i * t..(i + 1) * t]);
            flat_scores.extend_from_slice(scores.row(i));
        }
        let all: Vec<usize> = (0..flat_positive.len()).collect();
        let (auc, ap) = roc_auc_and_ap(&flat_positive, &flat_scores, &all);
        if let Some(a) = auc {
            out.push(("roc_auc_micro".into(), a));
        }
        if let Some(a) = ap {
            out.push(("pr_auc_micro".into(), a));
        }
        out.push(("f1_macro".into(), mean(&f1s)));
        let denom = 2.0 * tp_all + fp_all + fn_all;
        out.push((
            "f1_micro".into(),
            if denom == 0.0 {
                0.0
            } else {
                2.0 * tp_all / denom
            },
        ));
        out.push(("tags_skipped".into(), skipped as f64));
        out
    }

    /// The prepared metrics equal the row-by-row reference on fixed data, to 1e-12.
    #[test]
    fn prepared_metrics_equal_the_row_by_row_reference() {
        let mut next = crate::testing::numbers(0x9e37_79b9_7f4a_7c15);
        let vocab: Vec<String> = (0..6).map(|k| format!("tag {k}")).collect();
        let (n, t) = (71, vocab.len());
        // Tag 5 is never present, so it is skipped.
        let truth: Vec<bool> = (0..n * t)
            .map(|k| k % t != 5 && next().is_multiple_of(3))
            .collect();
        let rows: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..t).map(|_| (next() % 6) as f32 / 5.0).collect())
            .collect();
        let scores = Scores::new(&rows, t);
        let prepared = Prepared::new(&truth, &scores, &vocab, 0.5);
        let boot = crate::bootstrap::Bootstrap {
            resamples: 40,
            confidence: 0.95,
            seed: 3,
        };
        let mut samples = crate::bootstrap::resamples(&boot, n).to_vec();
        samples.push((0..n).collect());
        samples.push(vec![2, 2]);
        for idx in &samples {
            let (got, want) = (
                prepared.metrics(idx),
                reference_metrics(&truth, &scores, &vocab, idx, 0.5),
            );
            crate::testing::assert_same(&got, &want, "tags");
        }
    }
}
