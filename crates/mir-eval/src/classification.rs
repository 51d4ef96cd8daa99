//! Single-label (multiclass) metrics, defined as scikit-learn defines them.

use crate::key;
use crate::ranking::{Ranking, multiplicities};
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

/// The metrics [`Prepared::metrics`] gives per class: precision, recall and F1.
const METRICS_PER_CLASS: usize = 3;

/// Per-class counts over a resample (items with their multiplicities).
struct Counts {
    tp: Vec<f64>,
    fp: Vec<f64>,
    fn_: Vec<f64>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Accuracy, balanced accuracy, the macro, weighted and micro averages of precision, recall
/// and F1 from a resample's counts (`n` items, `present` the classes of its truth or
/// predictions), pushed to `out`; returns the per-class precision, recall and F1.
fn count_metrics(k: &Counts, present: &[usize], n: f64, out: &mut Named<&str>) -> [Vec<f64>; 3] {
    let c = k.tp.len();
    let correct: f64 = k.tp.iter().sum();
    out.push(("accuracy", ratio(correct, n)));
    let support: Vec<f64> = (0..c).map(|j| k.tp[j] + k.fn_[j]).collect();
    let precision: Vec<f64> = (0..c).map(|j| ratio(k.tp[j], k.tp[j] + k.fp[j])).collect();
    let recall: Vec<f64> = (0..c).map(|j| ratio(k.tp[j], support[j])).collect();
    let f1: Vec<f64> = (0..c)
        .map(|j| ratio(2.0 * k.tp[j], 2.0 * k.tp[j] + k.fp[j] + k.fn_[j]))
        .collect();
    let true_classes: Vec<usize> = (0..c).filter(|&j| support[j] > 0.0).collect();
    out.push((
        "balanced_accuracy",
        true_classes.iter().map(|&j| recall[j]).sum::<f64>() / true_classes.len().max(1) as f64,
    ));
    let averaged = [
        (["precision_macro", "precision_weighted"], &precision),
        (["recall_macro", "recall_weighted"], &recall),
        (["f1_macro", "f1_weighted"], &f1),
    ];
    for ([macro_name, weighted_name], values) in averaged {
        let macro_ = present.iter().map(|&j| values[j]).sum::<f64>() / present.len().max(1) as f64;
        let weighted = present.iter().map(|&j| values[j] * support[j]).sum::<f64>() / n.max(1.0);
        out.push((macro_name, macro_));
        out.push((weighted_name, weighted));
    }
    let (tp, fp, fn_): (f64, f64, f64) = (k.tp.iter().sum(), k.fp.iter().sum(), k.fn_.iter().sum());
    out.push(("precision_micro", ratio(tp, tp + fp)));
    out.push(("recall_micro", ratio(tp, tp + fn_)));
    out.push(("f1_micro", ratio(2.0 * tp, 2.0 * tp + fp + fn_)));
    [precision, recall, f1]
}

/// The MIREX summary of `n` items: their mean score (`total / n`), the mean over reference
/// keys of each key's mean (`per_key`: score sum and count), and the share of each relation
/// (`counts`, in [`key::Relation::ALL`] order).
fn mirex_summary(
    total: f64,
    per_key: &[(f64, u64)],
    counts: [u64; 5],
    n: f64,
    out: &mut Named<&str>,
) {
    out.push(("mirex_weighted", total / n));
    let seen: Vec<f64> = (per_key.iter())
        .filter(|k| k.1 > 0)
        .map(|k| k.0 / k.1 as f64)
        .collect();
    out.push((
        "mirex_weighted_by_key",
        seen.iter().sum::<f64>() / seen.len() as f64,
    ));
    for (r, count) in key::Relation::ALL.iter().zip(counts) {
        out.push((r.metric(), count as f64 / n));
    }
}

/// The macro ROC-AUC and PR-AUC over the classes that define them, and how many of the `c`
/// classes ROC-AUC skipped.
fn ranking_macros(aucs: &[f64], aps: &[f64], c: usize, out: &mut Named<&str>) {
    if !aucs.is_empty() {
        out.push((
            "roc_auc_macro",
            aucs.iter().sum::<f64>() / aucs.len() as f64,
        ));
    }
    if !aps.is_empty() {
        out.push(("pr_auc_macro", aps.iter().sum::<f64>() / aps.len() as f64));
    }
    out.push(("roc_auc_classes_skipped", (c - aucs.len()) as f64));
}

/// A multiclass test set made ready for many resamples: predictions, top-k hits, each
/// class's ranking of the scores and the key and pitch-class relations are computed once, so
/// a resample costs one pass over its multiplicities ([`Prepared::metrics`]).
pub struct Prepared<'a> {
    y: &'a [usize],
    vocabulary: &'a [String],
    pred: Vec<usize>,
    /// `(top_<k>_accuracy, whether each item's truth is in its top k)`, for k < the class
    /// count.
    top: Vec<(String, Vec<bool>)>,
    /// Per class: its ranking of the scores against which items are of the class.
    ranked: Vec<Ranking>,
    /// Per item, the MIREX relation of its prediction, when every class is a key.
    relations: Option<Vec<key::Relation>>,
    /// Per item, whether the prediction has the truth's pitch class, when every class is a
    /// note with an octave.
    same_pitch_class: Option<Vec<bool>>,
    /// Per class, its metrics' names: `precision/<class>`, `recall/<class>`, `f1/<class>`.
    class_metrics: Vec<[String; METRICS_PER_CLASS]>,
}

impl<'a> Prepared<'a> {
    /// Prepares truth `y` and `scores` over `vocabulary`.
    pub fn new(y: &'a [usize], scores: &Scores, vocabulary: &'a [String]) -> Self {
        let pred: Vec<usize> = (0..scores.n).map(|i| argmax(scores.row(i))).collect();
        let c = vocabulary.len();
        let top = [3, 5]
            .into_iter()
            .filter(|&k| k < c)
            .map(|k| {
                (
                    format!("top_{k}_accuracy"),
                    (0..scores.n)
                        .map(|i| in_top_k(scores.row(i), y[i], k))
                        .collect(),
                )
            })
            .collect();
        let ranked = (0..c)
            .map(|j| {
                let positive: Vec<bool> = y.iter().map(|&t| t == j).collect();
                Ranking::new(scores.column(j), &positive)
            })
            .collect();
        let keys: Option<Vec<key::Key>> = vocabulary.iter().map(|v| key::parse(v)).collect();
        let relations = keys.map(|k| {
            y.iter()
                .zip(&pred)
                .map(|(&t, &p)| key::relation(k[t], k[p]))
                .collect()
        });
        let pcs: Option<Vec<u8>> = vocabulary.iter().map(|v| note_pitch_class(v)).collect();
        let same_pitch_class =
            pcs.map(|pc| y.iter().zip(&pred).map(|(&t, &p)| pc[t] == pc[p]).collect());
        let class_metrics = (vocabulary.iter())
            .map(|class| ["precision", "recall", "f1"].map(|m| format!("{m}/{class}")))
            .collect();
        Self {
            y,
            vocabulary,
            pred,
            top,
            ranked,
            relations,
            same_pitch_class,
            class_metrics,
        }
    }

    /// The counts over `idx` (one item at a time, without a branch on its outcome), and
    /// which classes its truth or predictions hold.
    fn counts(&self, idx: &[usize]) -> (Counts, Vec<bool>) {
        let c = self.vocabulary.len();
        let mut k = Counts {
            tp: vec![0.0; c],
            fp: vec![0.0; c],
            fn_: vec![0.0; c],
        };
        let mut seen = vec![false; c];
        for &i in idx {
            let (t, p) = (self.y[i], self.pred[i]);
            let hit = f64::from(u8::from(t == p));
            k.tp[t] += hit;
            k.fp[p] += 1.0 - hit;
            k.fn_[t] += 1.0 - hit;
            seen[t] = true;
            seen[p] = true;
        }
        (k, seen)
    }

    /// Every multiclass metric over the items `idx` (which may repeat, for the bootstrap).
    ///
    /// Macro, micro and weighted averages run over the classes present in the truth or the
    /// predictions of `idx`, with 0 for a zero division (scikit-learn's defaults with
    /// `zero_division=0`); balanced accuracy averages recall over the classes present in the
    /// truth; per-class values are reported for every vocabulary class. ROC-AUC and PR-AUC
    /// are one-vs-rest, macro-averaged over the classes that are defined on `idx` (a class with
    /// no positive, or for ROC-AUC no negative, is skipped and counted).
    pub fn metrics(&self, idx: &[usize]) -> Named<&str> {
        let w = multiplicities(self.y.len(), idx);
        let c = self.vocabulary.len();
        let (k, seen) = self.counts(idx);
        let n = idx.len() as f64;
        let mut out: Named<&str> = Vec::with_capacity(METRICS_PER_CLASS * c + 32);
        // The classes of the resample's truth or predictions, ascending.
        let present: Vec<usize> = (0..c).filter(|&j| seen[j]).collect();
        let [precision, recall, f1] = count_metrics(&k, &present, n, &mut out);
        let hits = |hit: &[bool]| idx.iter().map(|&i| u64::from(hit[i])).sum::<u64>() as f64;
        for (name, hit) in &self.top {
            out.push((name, ratio(hits(hit), n)));
        }
        let (mut aucs, mut aps) = (Vec::new(), Vec::new());
        for (j, [p, r, f]) in self.class_metrics.iter().enumerate() {
            let (auc, ap) = self.ranked[j].roc_auc_and_ap(&w);
            aucs.extend(auc);
            aps.extend(ap);
            out.push((p, precision[j]));
            out.push((r, recall[j]));
            out.push((f, f1[j]));
        }
        ranking_macros(&aucs, &aps, c, &mut out);
        self.key_metrics(&w, n, &mut out);
        if let Some(same) = &self.same_pitch_class {
            out.push(("pitch_class_accuracy", ratio(hits(same), n)));
        }
        out
    }

    /// The accuracy over `idx` alone: the value [`metrics`](Self::metrics) gives.
    pub fn accuracy(&self, idx: &[usize]) -> f64 {
        let hits = idx.iter().filter(|&&i| self.y[i] == self.pred[i]).count();
        ratio(hits as f64, idx.len() as f64)
    }

    /// The MIREX weighted score when every class is a key (`C# major`, `A minor`, ...): mean
    /// over tracks, mean over reference keys, and the share of each relation.
    fn key_metrics(&self, w: &[u32], n: f64, out: &mut Named<&str>) {
        let Some(relations) = &self.relations else {
            return;
        };
        if n == 0.0 {
            return;
        }
        let mut per_key = vec![(0.0, 0u64); self.vocabulary.len()];
        let mut counts = [0u64; 5];
        let mut total = 0.0;
        for (i, &m) in w.iter().enumerate().filter(|(_, m)| **m > 0) {
            let r = relations[i];
            total += f64::from(m) * r.score();
            per_key[self.y[i]].0 += f64::from(m) * r.score();
            per_key[self.y[i]].1 += u64::from(m);
            let at = key::Relation::ALL.iter().position(|x| *x == r).unwrap_or(0);
            counts[at] += u64::from(m);
        }
        mirex_summary(total, &per_key, counts, n, out);
    }
}

/// Every multiclass metric over the items `idx`; see [`Prepared::metrics`], which a bootstrap
/// calls once per resample on one [`Prepared`].
pub fn metrics(y: &[usize], scores: &Scores, vocabulary: &[String], idx: &[usize]) -> Named {
    crate::owned(Prepared::new(y, scores, vocabulary).metrics(idx))
}

/// The pitch class of a note with an octave (`C#4`, `A3`), if the class is one.
fn note_pitch_class(s: &str) -> Option<u8> {
    let name = s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
    if name.len() == s.len() {
        return None;
    }
    key::pitch_class(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranking::roc_auc_and_ap;

    // The row-by-row implementation this module had before `Prepared` (one pass over the
    // items of each resample, sorting each class's scores again), kept as the reference the
    // prepared one is checked against.
    fn counts_of(y: &[usize], pred: &[usize], classes: usize, idx: &[usize]) -> Counts {
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

    /// Every multiclass metric over the items `idx` (which may repeat, for the bootstrap).
    ///
    /// Macro, micro and weighted averages run over the classes present in the truth or the
    /// predictions of `idx`, with 0 for a zero division (scikit-learn's defaults with
    /// `zero_division=0`); balanced accuracy averages recall over the classes present in the truth;
    /// per-class values are reported for every vocabulary class. ROC-AUC and PR-AUC are
    /// one-vs-rest, macro-averaged over the classes that are defined on `idx` (a class with no
    /// positive, or for ROC-AUC no negative, is skipped and counted).
    pub fn reference_metrics(
        y: &[usize],
        scores: &Scores,
        vocabulary: &[String],
        idx: &[usize],
    ) -> Named {
        let c = vocabulary.len();
        let pred: Vec<usize> = (0..scores.n).map(|i| argmax(scores.row(i))).collect();
        let k = counts_of(y, &pred, c, idx);
        let n = idx.len() as f64;
        let tops = [3, 5].map(|top| (top, format!("top_{top}_accuracy")));
        let class_names: Vec<[String; 3]> = (vocabulary.iter())
            .map(|class| ["precision", "recall", "f1"].map(|m| format!("{m}/{class}")))
            .collect();
        let mut out: Named<&str> = Vec::new();
        let present: std::collections::BTreeSet<usize> =
            idx.iter().flat_map(|&i| [y[i], pred[i]]).collect();
        let present: Vec<usize> = present.into_iter().collect();
        let [precision, recall, f1] = count_metrics(&k, &present, n, &mut out);
        for (top, name) in &tops {
            let top = *top;
            if top < c {
                let hits = idx
                    .iter()
                    .filter(|&&i| in_top_k(scores.row(i), y[i], top))
                    .count();
                out.push((name, ratio(hits as f64, n)));
            }
        }

        let (mut aucs, mut aps) = (Vec::new(), Vec::new());
        for (j, [p, r, f]) in class_names.iter().enumerate() {
            let positive: Vec<bool> = y.iter().map(|&t| t == j).collect();
            let (auc, ap) = roc_auc_and_ap(&positive, scores.column(j), idx);
            aucs.extend(auc);
            aps.extend(ap);
            out.push((p, precision[j]));
            out.push((r, recall[j]));
            out.push((f, f1[j]));
        }
        ranking_macros(&aucs, &aps, c, &mut out);

        key_metrics(y, &pred, vocabulary, idx, &mut out);
        pitch_class_metrics(y, &pred, vocabulary, idx, &mut out);
        crate::owned(out)
    }

    /// The MIREX weighted score when every class is a key (`C# major`, `A minor`, ...): mean over
    /// tracks, mean over reference keys, and the share of each relation.
    fn key_metrics(
        y: &[usize],
        pred: &[usize],
        vocabulary: &[String],
        idx: &[usize],
        out: &mut Named<&str>,
    ) {
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
        let per_key: Vec<(f64, u64)> = per_key.iter().map(|&(t, k)| (t, k as u64)).collect();
        mirex_summary(total, &per_key, relations.map(|r| r as u64), n, out);
    }

    /// Accuracy modulo octave when every class is a note with an octave (`C#4`, `A3`).
    fn pitch_class_metrics(
        y: &[usize],
        pred: &[usize],
        vocabulary: &[String],
        idx: &[usize],
        out: &mut Named<&str>,
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
        out.push(("pitch_class_accuracy", ratio(hits as f64, idx.len() as f64)));
    }

    fn named(out: &Named, metric: &str) -> Option<f64> {
        out.iter().find(|(m, _)| m == metric).map(|(_, v)| *v)
    }

    /// The prepared metrics equal the row-by-row reference on fixed data, to 1e-12, for the
    /// full test set and for bootstrap resamples: plain classes with tied scores, keys and
    /// notes with octaves.
    #[test]
    fn prepared_metrics_equal_the_row_by_row_reference() {
        let mut next = crate::testing::numbers(0x9e37_79b9_7f4a_7c15);
        let vocabularies: [Vec<String>; 3] = [
            (0..7).map(|k| format!("class {k}")).collect(),
            [
                "C major", "A minor", "G major", "E minor", "F# major", "D minor",
            ]
            .map(String::from)
            .to_vec(),
            ["C4", "C5", "D#3", "Eb4", "G2"].map(String::from).to_vec(),
        ];
        for vocab in &vocabularies {
            let (n, c) = (83, vocab.len());
            let y: Vec<usize> = (0..n).map(|_| (next() % c as u64) as usize).collect();
            // Scores on a coarse grid, so many tie within a class.
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|_| (0..c).map(|_| (next() % 5) as f32 / 4.0).collect())
                .collect();
            let scores = Scores::new(&rows, c);
            let prepared = Prepared::new(&y, &scores, vocab);
            let boot = crate::bootstrap::Bootstrap {
                resamples: 40,
                confidence: 0.95,
                seed: 7,
            };
            let mut samples = crate::bootstrap::resamples(&boot, n).to_vec();
            samples.push((0..n).collect());
            samples.push(vec![3, 3, 3]);
            for idx in &samples {
                let (got, want) = (
                    prepared.metrics(idx),
                    reference_metrics(&y, &scores, vocab, idx),
                );
                crate::testing::assert_same(&got, &want, &format!("{vocab:?}"));
                let accuracy = got.iter().find(|(m, _)| *m == "accuracy").map(|(_, v)| *v);
                assert_eq!(
                    Some(prepared.accuracy(idx)),
                    accuracy,
                    "the shortcut is exact"
                );
            }
        }
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
