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
    Ranking::new(scores, positive).roc_auc_and_ap(&multiplicities(scores.len(), idx))
}

/// ROC-AUC alone; see [`roc_auc_and_ap`].
pub fn roc_auc(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    roc_auc_and_ap(positive, scores, idx).0
}

/// Average precision alone; see [`roc_auc_and_ap`].
pub fn average_precision(positive: &[bool], scores: &[f32], idx: &[usize]) -> Option<f64> {
    roc_auc_and_ap(positive, scores, idx).1
}

/// Scores sorted once, descending, in groups of tied scores: the ROC-AUC and average precision
/// of any resample then come from the items' multiplicities ([`Ranking::roc_auc_and_ap`])
/// without sorting again. Only the groups that hold a positive change either value, so the
/// groups of negatives alone between two of them are kept as one run of items, whose weights
/// are summed, and the negatives below the last positive are not kept at all.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// The items of the negative entries above each group that holds a positive, in rank order.
    negatives: Vec<u32>,
    /// The entries (item, truth) of the groups that hold a positive, in rank order.
    tied: Vec<(u32, bool)>,
    /// Per group that holds a positive: the end of the negatives above it and of its entries.
    groups: Vec<(u32, u32)>,
    /// The item of each positive entry: the resample's positive total.
    positives: Vec<u32>,
    entries_per_item: u32,
}

impl Ranking {
    /// One column: item `i` scores `scores[i]` and is `positive[i]`.
    pub fn new(scores: &[f32], positive: &[bool]) -> Self {
        Self::of_items(scores, positive, 1)
    }

    /// Every (item, label) pair of `per_item` labels, item-major (`scores[i * per_item + j]`),
    /// as one binary problem where a pair is taken as often as its item: the micro average.
    pub fn of_items(scores: &[f32], positive: &[bool], per_item: usize) -> Self {
        let per_item = per_item.max(1);
        let item = |e: usize| (e / per_item) as u32;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut ranking = Self {
            negatives: Vec::new(),
            tied: Vec::new(),
            groups: Vec::new(),
            positives: (0..positive.len())
                .filter(|&e| positive[e])
                .map(item)
                .collect(),
            entries_per_item: per_item as u32,
        };
        let mut start = 0;
        for k in 1..=order.len() {
            if k < order.len() && scores[order[k]] == scores[order[k - 1]] {
                continue;
            }
            let group = &order[start..k];
            if group.iter().any(|&e| positive[e]) {
                ranking
                    .tied
                    .extend(group.iter().map(|&e| (item(e), positive[e])));
                let ends = (ranking.negatives.len(), ranking.tied.len());
                ranking.groups.push((ends.0 as u32, ends.1 as u32));
            } else {
                ranking.negatives.extend(group.iter().map(|&e| item(e)));
            }
            start = k;
        }
        ranking
    }

    /// [`roc_auc_and_ap`] of the items taken `weights[i]` times each: the same walk down the
    /// thresholds, each group of ties counting its entries' multiplicities (groups absent from
    /// the resample are skipped, as they are absent from its sort).
    pub fn roc_auc_and_ap(&self, weights: &Multiplicities) -> (Option<f64>, Option<f64>) {
        let weight = |&i: &u32| u64::from(weights.counts[i as usize]);
        let n_pos: u64 = self.positives.iter().map(weight).sum();
        let n_neg = weights.total * u64::from(self.entries_per_item) - n_pos;
        if n_pos == 0 {
            return (None, None);
        }
        let (mut tp, mut fp) = (0u64, 0u64);
        let (mut wins, mut ap, mut prev_recall) = (0.0, 0.0, 0.0);
        let (mut negatives, mut tied) = (0, 0);
        for &(negatives_end, tied_end) in &self.groups {
            let above = &self.negatives[negatives..negatives_end as usize];
            fp += above.iter().map(weight).sum::<u64>();
            let (mut p, mut q) = (0u64, 0u64);
            for &(item, positive) in &self.tied[tied..tied_end as usize] {
                let w = weight(&item);
                let hit = w * u64::from(positive);
                p += hit;
                q += w - hit;
            }
            (negatives, tied) = (negatives_end as usize, tied_end as usize);
            if p == 0 {
                // Negatives alone add nothing to the wins nor to the precision sum (their
                // recall step is 0): exactly the full update's result.
                fp += q;
                continue;
            }
            let neg_below = n_neg - fp - q;
            wins += p as f64 * neg_below as f64 + 0.5 * p as f64 * q as f64;
            tp += p;
            fp += q;
            let recall = tp as f64 / n_pos as f64;
            ap += (recall - prev_recall) * (tp as f64 / (tp + fp) as f64);
            prev_recall = recall;
        }
        let auc = (n_neg > 0).then(|| wins / (n_pos as f64 * n_neg as f64));
        (auc, Some(ap))
    }
}

/// How many times each item is in a resample, and the resample's size; it derefs to the
/// counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Multiplicities {
    counts: Vec<u32>,
    total: u64,
}

impl std::ops::Deref for Multiplicities {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        &self.counts
    }
}

/// How many times each of `n` items is in `idx`.
pub fn multiplicities(n: usize, idx: &[usize]) -> Multiplicities {
    let mut counts = vec![0u32; n];
    for &i in idx {
        counts[i] += 1;
    }
    Multiplicities {
        counts,
        total: idx.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ROC-AUC by counting every positive-negative pair (ties one half) and average precision
    /// by scanning each distinct threshold, on the items of `idx` spelled out one by one.
    fn by_pairs(positive: &[bool], scores: &[f32], idx: &[usize]) -> (Option<f64>, Option<f64>) {
        let items: Vec<(f32, bool)> = idx.iter().map(|&i| (scores[i], positive[i])).collect();
        let pos: Vec<f32> = items.iter().filter(|x| x.1).map(|x| x.0).collect();
        let neg: Vec<f32> = items.iter().filter(|x| !x.1).map(|x| x.0).collect();
        if pos.is_empty() {
            return (None, None);
        }
        let mut wins = 0.0;
        for p in &pos {
            for q in &neg {
                wins += if p > q {
                    1.0
                } else if p == q {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let auc = (!neg.is_empty()).then(|| wins / (pos.len() * neg.len()) as f64);
        let mut thresholds: Vec<f32> = items.iter().map(|x| x.0).collect();
        thresholds.sort_by(|a, b| b.total_cmp(a));
        thresholds.dedup();
        let (mut ap, mut prev) = (0.0, 0.0);
        for t in thresholds {
            let above: Vec<&(f32, bool)> = items.iter().filter(|x| x.0 >= t).collect();
            let tp = above.iter().filter(|x| x.1).count() as f64;
            let recall = tp / pos.len() as f64;
            ap += (recall - prev) * tp / above.len() as f64;
            prev = recall;
        }
        (auc, Some(ap))
    }

    #[test]
    fn a_ranking_sorted_once_scores_any_resample_as_its_own_sort() {
        let mut next = crate::testing::numbers(0x2545_f491_4f6c_dd1d);
        let n = 60;
        let scores: Vec<f32> = (0..n).map(|_| (next() % 7) as f32 / 6.0).collect();
        let positive: Vec<bool> = (0..n).map(|_| next().is_multiple_of(3)).collect();
        let ranking = Ranking::new(&scores, &positive);
        for _ in 0..30 {
            let idx: Vec<usize> = (0..n).map(|_| (next() % n as u64) as usize).collect();
            let (auc, ap) = ranking.roc_auc_and_ap(&multiplicities(n, &idx));
            let (want_auc, want_ap) = by_pairs(&positive, &scores, &idx);
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-12,
                (a, b) => a == b,
            };
            assert!(close(auc, want_auc), "{auc:?} vs {want_auc:?}");
            assert!(close(ap, want_ap), "{ap:?} vs {want_ap:?}");
        }
        let none: Vec<bool> = vec![false; n];
        assert_eq!(
            Ranking::new(&scores, &none).roc_auc_and_ap(&multiplicities(n, &[1, 2])),
            (None, None)
        );
    }
}
