//! Single-label (multiclass) metrics, defined as scikit-learn defines them.

use std::collections::BTreeSet;

use crate::key;
use crate::ranking::roc_auc_and_ap;
use crate::{Named, Scores};

/// Index of the largest score as `numpy.argmax` picks it ([`mir_audio::argmax`]; 0 for no scores).
pub fn argmax(row: &[f32]) -> usize {
    mir_audio::argmax(row).unwrap_or(0)
}

/// Whether the true class is among the `k` highest scores, ties ordered as
/// `sklearn.metrics.top_k_accuracy_score` orders them (a stable ascending sort, reversed: of
/// tied classes, the higher index ranks first).
pub fn in_top_k(row: &[f32], truth: usize, k: usize) -> bool {
    let above = row
        .iter()
        .enumerate()
        .filter(|&(i, &v)| v > row[truth] || (v == row[truth] && i > truth))
        .count();
    above < k
}

/// Per-class counts over the items `idx`.
struct Counts {
    tp: Vec<f64>,
    fp: Vec<f64>,
    fn_: Vec<f64>,
}

fn counts(y: &[usize], pred: &[usize], classes: usize, idx: &[usize]) -> Counts {
    let mut c = Counts {
        tp: vec![0.0; classes],
        fp: vec![0.0; classes],
        fn_: vec![0.0; classes],
    };
    for &i in idx {
        if y[i] == pred[i] {
            c.tp[y[i]] += 1.0;
        } else {
            c.fp[pred[i]] += 1.0;
            c.fn_[y[i]] += 1.0;
        }
    }
    c
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Every multiclass metric over the items `idx` (which may repeat, for the bootstrap).
///
/// Macro, micro and weighted averages run over the classes present in the truth or the
/// predictions of `idx`, with 0 for a zero division (scikit-learn's defaults with
/// `zero_division=0`); balanced accuracy averages recall over the classes present in the truth;
/// per-class values are reported for every vocabulary class. ROC-AUC and PR-AUC are
/// one-vs-rest, macro-averaged over the classes that are defined on `idx` (a class with no
/// positive, or for ROC-AUC no negative, is skipped and counted).
pub fn metrics(y: &[usize], scores: &Scores, vocabulary: &[String], idx: &[usize]) -> Named {
    let c = vocabulary.len();
    let pred: Vec<usize> = (0..scores.n).map(|i| argmax(scores.row(i))).collect();
    let k = counts(y, &pred, c, idx);
    let n = idx.len() as f64;
    let mut out: Named = Vec::new();
    let correct: f64 = k.tp.iter().sum();
    out.push(("accuracy".into(), ratio(correct, n)));

    let present: BTreeSet<usize> = idx.iter().flat_map(|&i| [y[i], pred[i]]).collect();
    let support: Vec<f64> = (0..c).map(|j| k.tp[j] + k.fn_[j]).collect();
    let precision: Vec<f64> = (0..c).map(|j| ratio(k.tp[j], k.tp[j] + k.fp[j])).collect();
    let recall: Vec<f64> = (0..c).map(|j| ratio(k.tp[j], support[j])).collect();
    let f1: Vec<f64> = (0..c)
        .map(|j| ratio(2.0 * k.tp[j], 2.0 * k.tp[j] + k.fp[j] + k.fn_[j]))
        .collect();
    let true_classes: Vec<usize> = (0..c).filter(|&j| support[j] > 0.0).collect();
    out.push((
        "balanced_accuracy".into(),
        true_classes.iter().map(|&j| recall[j]).sum::<f64>() / true_classes.len().max(1) as f64,
    ));
    for (name, values) in [("precision", &precision), ("recall", &recall), ("f1", &f1)] {
        let macro_ = present.iter().map(|&j| values[j]).sum::<f64>() / present.len().max(1) as f64;
        let weighted = present.iter().map(|&j| values[j] * support[j]).sum::<f64>() / n.max(1.0);
        out.push((format!("{name}_macro"), macro_));
        out.push((format!("{name}_weighted"), weighted));
    }
    let (tp, fp, fn_): (f64, f64, f64) = (k.tp.iter().sum(), k.fp.iter().sum(), k.fn_.iter().sum());
    out.push(("precision_micro".into(), ratio(tp, tp + fp)));
    out.push(("recall_micro".into(), ratio(tp, tp + fn_)));
    out.push(("f1_micro".into(), ratio(2.0 * tp, 2.0 * tp + fp + fn_)));
    for top in [3, 5] {
        if top < c {
            let hits = idx
                .iter()
                .filter(|&&i| in_top_k(scores.row(i), y[i], top))
                .count();
            out.push((format!("top_{top}_accuracy"), ratio(hits as f64, n)));
        }
    }

    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for (j, class) in vocabulary.iter().enumerate() {
        let positive: Vec<bool> = y.iter().map(|&t| t == j).collect();
        let (auc, ap) = roc_auc_and_ap(&positive, scores.column(j), idx);
        aucs.extend(auc);
        aps.extend(ap);
        out.push((format!("precision/{class}"), precision[j]));
        out.push((format!("recall/{class}"), recall[j]));
        out.push((format!("f1/{class}"), f1[j]));
    }
    if !aucs.is_empty() {
        out.push((
            "roc_auc_macro".into(),
            aucs.iter().sum::<f64>() / aucs.len() as f64,
        ));
    }
    if !aps.is_empty() {
        out.push((
            "pr_auc_macro".into(),
            aps.iter().sum::<f64>() / aps.len() as f64,
        ));
    }
    out.push(("roc_auc_classes_skipped".into(), (c - aucs.len()) as f64));

    key_metrics(y, &pred, vocabulary, idx, &mut out);
    pitch_class_metrics(y, &pred, vocabulary, idx, &mut out);
    out
}

/// The MIREX weighted score when every class is a key (`C# major`, `A minor`, ...): mean over
/// tracks, mean over reference keys, and the share of each relation.
fn key_metrics(y: &[usize], pred: &[usize], vocabulary: &[String], idx: &[usize], out: &mut Named) {
    let Some(keys) = vocabulary
        .iter()
        .map(|v| key::parse(v))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    if idx.is_empty() {
        return;
    }
    let mut per_key = vec![(0.0, 0usize); vocabulary.len()];
    let mut relations = [0usize; 5];
    let mut total = 0.0;
    for &i in idx {
        let r = key::relation(keys[y[i]], keys[pred[i]]);
        total += r.score();
        per_key[y[i]].0 += r.score();
        per_key[y[i]].1 += 1;
        relations[key::Relation::ALL
            .iter()
            .position(|x| *x == r)
            .expect("ALL lists every relation")] += 1;
    }
    let n = idx.len() as f64;
    out.push(("mirex_weighted".into(), total / n));
    let seen: Vec<f64> = per_key
        .iter()
        .filter(|k| k.1 > 0)
        .map(|k| k.0 / k.1 as f64)
        .collect();
    out.push((
        "mirex_weighted_by_key".into(),
        seen.iter().sum::<f64>() / seen.len() as f64,
    ));
    for (r, count) in key::Relation::ALL.iter().zip(relations) {
        out.push((format!("mirex_{}", r.name()), count as f64 / n));
    }
}

/// Accuracy modulo octave when every class is a note with an octave (`C#4`, `A3`).
fn pitch_class_metrics(
    y: &[usize],
    pred: &[usize],
    vocabulary: &[String],
    idx: &[usize],
    out: &mut Named,
) {
    let parse = |s: &str| {
        let name = s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        if name.len() == s.len() {
            return None;
        }
        key::pitch_class(name)
    };
    let Some(pcs) = vocabulary
        .iter()
        .map(|v| parse(v))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let hits = idx.iter().filter(|&&i| pcs[y[i]] == pcs[pred[i]]).count();
    out.push((
        "pitch_class_accuracy".into(),
        ratio(hits as f64, idx.len() as f64),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(out: &Named, metric: &str) -> Option<f64> {
        out.iter().find(|(m, _)| m == metric).map(|(_, v)| *v)
    }

    #[test]
    fn pitch_class_accuracy_ignores_the_octave() {
        let vocab: Vec<String> = ["C4", "C5", "D#3", "Eb4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Truth C4, C5, D#3; predictions C5 (same pitch class), C5, Eb4 (enharmonic, same class).
        let scores = Scores::new(
            &[
                vec![0.1, 0.9, 0.0, 0.0],
                vec![0.1, 0.9, 0.0, 0.0],
                vec![0.0, 0.0, 0.1, 0.9],
            ],
            4,
        );
        let out = metrics(&[0, 1, 2], &scores, &vocab, &[0, 1, 2]);
        assert_eq!(named(&out, "accuracy"), Some(1.0 / 3.0));
        assert_eq!(named(&out, "pitch_class_accuracy"), Some(1.0));
        assert_eq!(named(&out, "mirex_weighted"), None, "notes are not keys");
    }

    #[test]
    fn top_k_ties_rank_higher_indices_first_as_scikit_learn() {
        // sklearn.metrics.top_k_accuracy_score([0], [[0.5, 0.5, 0.5, 0.5]], k=3, labels=[0,1,2,3]) -> 0.0
        assert!(!in_top_k(&[0.5; 4], 0, 3));
        assert!(in_top_k(&[0.5; 4], 1, 3));
    }
}
