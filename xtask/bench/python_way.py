"""The evaluation of `cargo xtask bench e2e`, done the Python way.

The same TinySOL-layout files and folds as mir-ref's run (fold 0 tests, fold 1 validates, the
rest trains), the same features (log-mel, 128 bands, n_fft 2048, hop 512, 80 dB floor,
each band's mean and standard deviation), the same test deformations (white noise at each
SNR) and the same two probes, written as a researcher writes it with the usual libraries:
librosa's `load(sr=22050)`, audiomentations' `AddGaussianSNR`, scikit-learn's
`LogisticRegression` (its lbfgs default) and `MLPClassifier` (with the MLP settings of
mir-ref's run) on standardised features, and per test set accuracy
and macro F1 with a 1,000-resample percentile interval of the accuracy (numpy, vectorised).

Usage: python python_way.py ROOT OUT.json SNR_DB [SNR_DB ...]
Prints nothing; writes each stage's seconds and every accuracy to OUT.json.
"""

import csv
import json
import sys
import time

T0 = time.perf_counter()

import librosa  # noqa: E402
import numpy as np  # noqa: E402
from audiomentations import AddGaussianSNR  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

SR = 22050


def features(y):
    """Each mel band's mean and standard deviation over frames, in dB."""
    s = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=80.0)
    return np.concatenate([s.mean(axis=1), s.std(axis=1)])


def pitch_class(pitch):
    return pitch.rstrip("0123456789")


def even(x):
    """mir-ref's adaptive `infer` size: rounded down, then up to even, at least 2."""
    n = max(int(np.floor(x)), 2)
    return n + n % 2


def interval(truth, predicted, rng, resamples=1000, confidence=0.95):
    idx = rng.integers(0, len(truth), size=(resamples, len(truth)))
    hits = (truth == predicted)[idx].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return [float(np.percentile(hits, tail)), float(np.percentile(hits, 100 - tail))]


def main():
    root, out, snrs = sys.argv[1], sys.argv[2], [float(s) for s in sys.argv[3:]]
    times = {"imports": time.perf_counter() - T0}
    with open(f"{root}/TinySOL_metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    fold = np.array([int(r["Fold"]) for r in rows])
    labels = {
        "instrument": [r["Instrument (in full)"] for r in rows],
        "pitch_class": [pitch_class(r["Pitch"]) for r in rows],
    }

    t = time.perf_counter()
    audio = [librosa.load(f"{root}/{r['Path']}", sr=SR)[0] for r in rows]
    times["load"] = time.perf_counter() - t

    t = time.perf_counter()
    x = {"clean": np.stack([features(y) for y in audio])}
    test = np.flatnonzero(fold == 0)
    for snr in snrs:
        noise = AddGaussianSNR(min_snr_db=snr, max_snr_db=snr, p=1.0)
        deformed = x["clean"].copy()
        for i in test:
            deformed[i] = features(noise(samples=audio[i], sample_rate=SR))
        x[f"white_noise_{snr:g}db"] = deformed
    times["deform_and_features"] = time.perf_counter() - t

    t = time.perf_counter()
    train = fold >= 2
    scaler = StandardScaler().fit(x["clean"][train])
    results, fit_s = [], 0.0
    rng = np.random.default_rng(0)
    for task, names in labels.items():
        y = np.array(names)
        classes = len(set(names))
        d = x["clean"].shape[1]
        probes = {
            "linear": LogisticRegression(max_iter=1000),
            # mir-ref's MLP settings: batch 16, Adam at 1e-3, at most 200 epochs, stopping
            # after 30 without improvement (scikit-learn holds out 10% of the training
            # split for it, mir-ref validates on fold 1).
            "mlp": MLPClassifier(
                hidden_layer_sizes=(even(classes + (d - classes) / 2),),
                batch_size=16,
                learning_rate_init=0.001,
                max_iter=200,
                early_stopping=True,
                n_iter_no_change=30,
                random_state=0,
            ),
        }
        for probe, model in probes.items():
            f = time.perf_counter()
            model.fit(scaler.transform(x["clean"][train]), y[train])
            fit_s += time.perf_counter() - f
            for condition, xs in x.items():
                predicted = model.predict(scaler.transform(xs[test]))
                results.append({
                    "task": task,
                    "probe": probe,
                    "condition": condition,
                    "accuracy": float(accuracy_score(y[test], predicted)),
                    "f1_macro": float(f1_score(y[test], predicted, average="macro")),
                    "accuracy_interval": interval(y[test], predicted, rng),
                })
    times["train"] = fit_s
    times["train_and_evaluate"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - T0
    with open(out, "w") as f:
        json.dump({"seconds": times, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
