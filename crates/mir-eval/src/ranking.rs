//! Ranking metrics of one binary problem: ROC-AUC and average precision, ties handled as
//! scikit-learn does.

/// ROC-AUC of `scores` against `positive`, over the items `idx`.
///
/// Equals `sklearn.metrics.roc_auc_score`: the Mann-Whitney statistic with tied scores counted
/// as half, which is the trapezoidal area under the ROC curve built on distinct thresholds.
/// `None` when the items hold no positive or no negative (the AUC is undefined).
pub fn roc_auc(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    let mut order: Vec<usize> = idx.to_vec();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = order.iter().filter(|&&i| positive[i]).count();
    let n_neg = order.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Sum of the (average, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let avg_rank = (start + 1 + end) as f64 / 2.0;
        let pos_in_group = order[start..end].iter().filter(|&&i| positive[i]).count();
        rank_sum += avg_rank * pos_in_group as f64;
        start = end;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Average precision of `scores` against `positive`, over the items `idx`.
///
/// Equals `sklearn.metrics.average_precision_score`: `sum_n (R_n - R_{n-1}) P_n` over the
/// distinct score thresholds in decreasing order, tied items entering together. `None` when the
/// items hold no positive.
pub fn average_precision(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    let mut order: Vec<usize> = idx.to_vec();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n_pos = order.iter().filter(|&&i| positive[i]).count();
    if n_pos == 0 {
        return None;
    }
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        for &i in &order[start..end] {
            if positive[i] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        start = end;
    }
    Some(ap)
}
