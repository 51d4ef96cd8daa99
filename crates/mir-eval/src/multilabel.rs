//! Multi-label (tagging) metrics, defined as scikit-learn defines them.

use crate::ranking::roc_auc_and_ap;
use crate::{Named, Scores};

/// Every multilabel metric over the items `idx`.
///
/// `truth[i * tags + t]` says whether item `i` has tag `t`. ROC-AUC and average precision are
/// computed per tag, macro-averaged over the tags defined on `idx` (a tag with no positive or no
/// negative is skipped and counted in `tags_skipped`: it never turns the average into NaN), and
/// micro-averaged over every (item, tag) pair. F1 uses `score >= threshold` as the decision,
/// macro over every tag (0 for a zero division) and micro.
pub fn metrics(
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
