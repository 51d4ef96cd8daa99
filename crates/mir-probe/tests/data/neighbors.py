"""Reference scores for crates/mir-probe/tests/it.rs's kNN, centroid and chance tests.

Run in a venv with numpy and scikit-learn; writes neighbors.json beside this file.
Embeddings are float32 (as in an embeddings table), standardised with StandardScaler fitted on
the training rows, as mir-probe does.
"""
import json, pathlib
import numpy as np, sklearn
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestCentroid
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(22)
classes, dim, n_train, n_test = 3, 6, 60, 30
centres = rng.normal(scale=0.7, size=(classes, dim))
y_train = np.arange(n_train) % classes
y_test = rng.integers(0, classes, size=n_test)
x_train = (centres[y_train] + rng.normal(size=(n_train, dim)) * [1, 2, 0.5, 1, 3, 1]).astype(np.float32)
x_test = (centres[y_test] + rng.normal(size=(n_test, dim)) * [1, 2, 0.5, 1, 3, 1]).astype(np.float32)
# Two tags per row drawn from the class, and a regression target.
tags_train = (rng.random((n_train, 4)) < 0.3 + 0.4 * (y_train[:, None] == [0, 1, 2, 0])).astype(int)
values_train = (x_train[:, :2].sum(axis=1) + rng.normal(size=n_train)).astype(np.float32)

scaler = StandardScaler().fit(x_train.astype(np.float64))
a, b = scaler.transform(x_train.astype(np.float64)), scaler.transform(x_test.astype(np.float64))

def knn(k, weights, metric):
    m = KNeighborsClassifier(n_neighbors=k, weights=weights, metric=metric, algorithm="brute")
    return m.fit(a, y_train).predict_proba(b).tolist()

multilabel = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(a, tags_train)
tag_scores = np.stack([p[:, 1] for p in multilabel.predict_proba(b)], axis=1)
regressor = KNeighborsRegressor(n_neighbors=4, weights="distance", algorithm="brute")
out = {
    "generator": f"neighbors.py, scikit-learn {sklearn.__version__}, numpy {np.__version__}",
    "x_train": x_train.tolist(), "y_train": y_train.tolist(),
    "x_test": x_test.tolist(), "y_test": y_test.tolist(),
    "tags_train": tags_train.tolist(), "values_train": values_train.tolist(),
    "knn_5_uniform_euclidean": knn(5, "uniform", "euclidean"),
    "knn_7_distance_cosine": knn(7, "distance", "cosine"),
    "knn_1_uniform_euclidean": knn(1, "uniform", "euclidean"),
    "centroid_euclidean": NearestCentroid().fit(a, y_train).predict(b).tolist(),
    "knn_5_tags": tag_scores.tolist(),
    "knn_4_distance_values": regressor.fit(a, values_train).predict(b).tolist(),
}
# The majority baseline: DummyClassifier(strategy="prior") and DummyRegressor(strategy="mean").
prior = DummyClassifier(strategy="prior").fit(a, y_train)
out["prior"] = prior.predict_proba(b)[0].tolist()
out["prior_class"] = int(prior.predict(b)[0])
tag_prior = DummyClassifier(strategy="prior").fit(a, tags_train).predict_proba(b)
out["prior_tags"] = [float(p[0, 1]) for p in tag_prior]
out["prior_mean"] = float(DummyRegressor(strategy="mean").fit(a, values_train).predict(b)[0])
# Cosine nearest centroid has no scikit-learn estimator: the class mean with the largest cosine.
means = np.stack([a[y_train == c].mean(axis=0) for c in range(classes)])
cos = (b @ means.T) / np.linalg.norm(b, axis=1, keepdims=True) / np.linalg.norm(means, axis=1)
out["centroid_cosine"] = cos.argmax(axis=1).tolist()
path = pathlib.Path(__file__).with_name("neighbors.json")
path.write_text(json.dumps(out, indent=None) + "\n")
print("wrote", path)
