//! Ranking metrics of one binary problem: ROC-AUC and average precision, ties handled as
//! scikit-learn does, both from one sort.

/// ROC-AUC and average precision of `scores` against `positive`, over the items `idx`.
///
/// ROC-AUC equals `sklearn.metrics.roc_auc_score`: the Mann-Whitney statistic with tied scores
/// counted as half, which is the trapezoidal area under the ROC curve built on distinct
/// thresholds; `None` without a positive or without a negative. Average precision equals
/// `sklearn.metrics.average_precision_score`: `sum_n (R_n - R_{n-1}) P_n` over the distinct
/// thresholds in decreasing order, tied items entering together; `None` without a positive.
pub fn roc_auc_and_ap(
    positive: &[bool],
    scores: &[f32],
    idx: &[usize],
) -> (Option<f64>, Option<f64>) {
    let mut items: Vec<(f32, bool)> = idx.iter().map(|&i| (scores[i], positive[i])).collect();
    items.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let n_pos = items.iter().filter(|x| x.1).count();
    let n_neg = items.len() - n_pos;
    if n_pos == 0 {
        return (None, None);
    }
    // Walking down the thresholds: `neg_above` negatives score higher than the current group.
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut wins = 0.0; // positive-negative pairs ordered correctly, ties counting one half
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && items[end].0 == items[start].0 {
            end += 1;
        }
        let p = items[start..end].iter().filter(|x| x.1).count();
        let q = end - start - p;
        let neg_below = n_neg - fp - q;
        wins += p as f64 * neg_below as f64 + 0.5 * p as f64 * q as f64;
        tp += p;
        fp += q;
        let recall = tp as f64 / n_pos as f64;
        ap += (recall - prev_recall) * (tp as f64 / (tp + fp) as f64);
        prev_recall = recall;
        start = end;
    }
    let auc = (n_neg > 0).then(|| wins / (n_pos as f64 * n_neg as f64));
    (auc, Some(ap))
}

/// ROC-AUC alone; see [`roc_auc_and_ap`].
pub fn roc_auc(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    roc_auc_and_ap(positive, scores, idx).0
}

/// Average precision alone; see [`roc_auc_and_ap`].
pub fn average_precision(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    roc_auc_and_ap(positive, scores, idx).1
}
