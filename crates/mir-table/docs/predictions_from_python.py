# A probe trained outside mir-ref (scikit-learn here), written as a `predictions` table that
# `mir-eval` scores:
#   python predictions_from_python.py TRACKS.parquet FEATURES.npz OUT.parquet
# FEATURES.npz holds `track_id` (one per row) and `X` (one feature row per track).
# pyarrow's defaults are fine: nullable fields, any column order, `double` scores in plain
# lists (mir-ref reads them as its float32 fixed-size lists).
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.linear_model import LogisticRegression

tracks = pq.read_table(sys.argv[1])
meta = tracks.schema.metadata
vocabulary = json.loads(meta[b"label_vocabulary"])
features = np.load(sys.argv[2])
row = {t: i for i, t in enumerate(features["track_id"])}
ids = tracks["track_id"].to_pylist()
X = features["X"][[row[t] for t in ids]]
y = np.array([vocabulary.index(labels[0]) for labels in tracks["labels"].to_pylist()])
split = np.array(tracks["split"].to_pylist())

probe = LogisticRegression(max_iter=1000).fit(X[split == "train"], y[split == "train"])
keep = split != "train"
scores = np.zeros((keep.sum(), len(vocabulary)))
scores[:, probe.classes_] = probe.predict_proba(X[keep])

predictions = pa.table(
    {
        "scores": list(scores),
        "track_id": np.array(ids)[keep],
        "split": split[keep],
        "deformation": ["clean"] * int(keep.sum()),
    }
).replace_schema_metadata(
    {
        "mir.table": "predictions",
        "mir.schema_version": "1",
        "dataset": meta[b"dataset"],
        "task": meta[b"task"],
        "task_type": meta[b"task_type"],
        "label_vocabulary": meta[b"label_vocabulary"],
        "model": "my_features",
        "layer": "0",
        "probe": "sklearn_logistic",
        "seed": "0",
        "aggregation": "embedding_mean",
    }
)
pq.write_table(predictions, sys.argv[3])
