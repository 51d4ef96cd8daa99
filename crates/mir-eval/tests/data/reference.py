"""Reference values for crates/mir-eval/tests/it.rs (kept out of the repo; numbers are committed)."""
import json, numpy as np, sklearn, scipy, mir_eval
from sklearn import metrics as M
from scipy import stats

rng = np.random.default_rng(0)
cases = []

def f32(a):
    return np.asarray(a, dtype=np.float32)

def multiclass(name, vocab, y, S):
    S = f32(S); C = len(vocab); y = np.asarray(y)
    p = S.argmax(axis=1)
    e = {"accuracy": M.accuracy_score(y, p), "balanced_accuracy": M.balanced_accuracy_score(y, p)}
    for avg in ["macro", "micro", "weighted"]:
        e[f"precision_{avg}"] = M.precision_score(y, p, average=avg, zero_division=0)
        e[f"recall_{avg}"] = M.recall_score(y, p, average=avg, zero_division=0)
        e[f"f1_{avg}"] = M.f1_score(y, p, average=avg, zero_division=0)
    pr, rc, f1, _ = M.precision_recall_fscore_support(y, p, labels=list(range(C)), zero_division=0)
    for j, c in enumerate(vocab):
        e[f"precision/{c}"], e[f"recall/{c}"], e[f"f1/{c}"] = pr[j], rc[j], f1[j]
    for k in [3, 5]:
        if k < C:
            e[f"top_{k}_accuracy"] = M.top_k_accuracy_score(y, S, k=k, labels=list(range(C)))
    aucs = [M.roc_auc_score(y == j, S[:, j]) for j in range(C) if 0 < (y == j).sum() < len(y)]
    aps = [M.average_precision_score(y == j, S[:, j]) for j in range(C) if (y == j).sum() > 0]
    if aucs:
        e["roc_auc_macro"] = float(np.mean(aucs))
    if aps:
        e["pr_auc_macro"] = float(np.mean(aps))
    e["roc_auc_classes_skipped"] = C - len(aucs)
    if len(set(y)) == C and C > 2 and np.allclose(S.sum(axis=1), 1, atol=1e-6):
        # sklearn's own one-vs-rest average agrees with the per-class mean above.
        assert abs(M.roc_auc_score(y, S, multi_class="ovr") - e["roc_auc_macro"]) < 1e-12
    try:
        scores = [mir_eval.key.weighted_score(vocab[t], vocab[q]) for t, q in zip(y, p)]
        e["mirex_weighted"] = float(np.mean(scores))
        by_key = {}
        for t, s in zip(y, scores):
            by_key.setdefault(t, []).append(s)
        e["mirex_weighted_by_key"] = float(np.mean([np.mean(v) for v in by_key.values()]))
        for rel, w in [("correct", 1.0), ("fifth", 0.5), ("relative", 0.3), ("parallel", 0.2), ("other", 0.0)]:
            e[f"mirex_{rel}"] = float(np.mean([s == w for s in scores]))
    except Exception:
        pass
    cases.append({"name": name, "task_type": "multiclass", "vocabulary": vocab,
                  "labels": [[vocab[t]] for t in y], "scores": S.tolist(), "expected": {k: float(v) for k, v in e.items()}})

def probs(n, C, y, signal, decimals=None):
    logits = rng.normal(size=(n, C)); logits[np.arange(n), y] += signal
    S = np.exp(logits); S /= S.sum(axis=1, keepdims=True)
    return np.round(S, decimals) if decimals else S

V4 = ["brass", "flute", "mallet", "reed"]
y = np.arange(40) % 4; rng.shuffle(y)
multiclass("four_classes", V4, y, probs(40, 4, y, 1.0))
y = np.arange(30) % 4; rng.shuffle(y)
multiclass("four_classes_tied_scores", V4, y, probs(30, 4, y, 1.0, decimals=1))
y = np.arange(25) % 2; rng.shuffle(y)
multiclass("two_classes", ["no", "yes"], y, probs(25, 2, y, 0.8))
y = np.arange(12) % 6
multiclass("all_tied", [f"c{i}" for i in range(6)], y, np.full((12, 6), 1 / 6))
y = np.arange(16) % 4
S = np.full((16, 4), 0.1); S[np.arange(16), y] = 0.7
multiclass("perfect", V4, y, S)
multiclass("single_track", V4, np.array([2]), [[0.1, 0.2, 0.6, 0.1]])
keys = ["C major", "G major", "A minor", "E minor", "F major", "D minor", "Ab major", "C# minor"]
y = np.arange(48) % 8; rng.shuffle(y)
multiclass("keys", keys, y, probs(48, 8, y, 1.5))

# Multilabel: 6 tags, tag "silence" never positive, tag "all" always positive.
T = ["rock", "piano", "voice", "drums", "silence", "all"]
n = 30
Y = rng.random((n, 6)) < 0.35; Y[:, 4] = False; Y[:, 5] = True
Y[0, :4] = True  # every other tag has a positive
S = f32(np.clip(Y * 0.3 + rng.random((n, 6)) * 0.7, 0, 1).round(2))
e = {}
defined = [j for j in range(6) if 0 < Y[:, j].sum() < n]
for j in defined:
    e[f"roc_auc/{T[j]}"] = M.roc_auc_score(Y[:, j], S[:, j])
    e[f"average_precision/{T[j]}"] = M.average_precision_score(Y[:, j], S[:, j])
e["roc_auc_macro"] = float(np.mean([e[f"roc_auc/{T[j]}"] for j in defined]))
e["pr_auc_macro"] = float(np.mean([e[f"average_precision/{T[j]}"] for j in defined]))
e["roc_auc_micro"] = M.roc_auc_score(Y, S, average="micro")
e["pr_auc_micro"] = M.average_precision_score(Y, S, average="micro")
P = S >= 0.5
e["f1_macro"] = M.f1_score(Y, P, average="macro", zero_division=0)
e["f1_micro"] = M.f1_score(Y, P, average="micro", zero_division=0)
e["tags_skipped"] = 6 - len(defined)
cases.append({"name": "multilabel_with_empty_and_full_tags", "task_type": "multilabel", "vocabulary": T,
              "labels": [[T[j] for j in range(6) if Y[i, j]] for i in range(n)], "scores": S.tolist(),
              "expected": {k: float(v) for k, v in e.items()}})

# Regression: 2 targets, with ties in one.
n = 20
Yt = f32(np.c_[rng.normal(size=n), np.round(rng.normal(size=n), 0)])
Yp = f32(Yt + rng.normal(scale=0.5, size=(n, 2)))
e = {}
for k, name in enumerate(["arousal", "valence"]):
    t, p = Yt[:, k].astype(np.float64), Yp[:, k].astype(np.float64)
    e[f"r2/{name}"] = M.r2_score(t, p); e[f"mae/{name}"] = M.mean_absolute_error(t, p)
    e[f"rmse/{name}"] = np.sqrt(M.mean_squared_error(t, p))
    e[f"pearson/{name}"] = stats.pearsonr(t, p)[0]; e[f"spearman/{name}"] = stats.spearmanr(t, p)[0]
for m in ["r2", "mae", "rmse", "pearson", "spearman"]:
    e[m] = float(np.mean([e[f"{m}/arousal"], e[f"{m}/valence"]]))
assert abs(e["r2"] - M.r2_score(Yt.astype(np.float64), Yp.astype(np.float64))) < 1e-12
cases.append({"name": "regression_two_targets", "task_type": "regression", "vocabulary": ["arousal", "valence"],
              "targets": Yt.tolist(), "scores": Yp.tolist(), "expected": {k: float(v) for k, v in e.items()}})

out = {"_source": f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, mir_eval {mir_eval.__version__}, numpy {np.__version__}: "
       "accuracy_score, balanced_accuracy_score, precision/recall/f1_score(zero_division=0), precision_recall_fscore_support, "
       "top_k_accuracy_score, roc_auc_score, average_precision_score, r2_score, mean_absolute_error, mean_squared_error, "
       "scipy.stats.pearsonr/spearmanr, mir_eval.key.weighted_score; y_pred = argmax(scores), multilabel decision scores >= 0.5",
       "cases": cases}
json.dump(out, open("crates/mir-eval/tests/data/reference.json", "w"))
print(len(cases), "cases")
