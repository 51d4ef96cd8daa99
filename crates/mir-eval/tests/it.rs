//! Integration tests: every metric against scikit-learn, SciPy and mir_eval, and the
//! table-level evaluation with bootstrap intervals.

use std::collections::BTreeMap;
use std::sync::Arc;

use mir_eval::{EvalConfig, Scores, Truth, compute, evaluate};
use mir_table::{
    Metadata, Prediction, Split, Table, TableKind, TaskType, Track, keys, predictions_batch,
    tracks_batch, vocabulary_json,
};

/// Agreement required with the reference implementations.
const TOLERANCE: f64 = 1e-9;

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    task_type: String,
    vocabulary: Vec<String>,
    #[serde(default)]
    labels: Vec<Vec<String>>,
    #[serde(default)]
    targets: Vec<Vec<f32>>,
    scores: Vec<Vec<f32>>,
    expected: BTreeMap<String, f64>,
}

#[derive(serde::Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

fn truth(case: &Case) -> Truth {
    let index = |l: &String| case.vocabulary.iter().position(|v| v == l).unwrap();
    match case.task_type.as_str() {
        "multiclass" => Truth::Classes(case.labels.iter().map(|l| index(&l[0])).collect()),
        "multilabel" => {
            let t = case.vocabulary.len();
            let mut flags = vec![false; case.labels.len() * t];
            for (i, labels) in case.labels.iter().enumerate() {
                for l in labels {
                    flags[i * t + index(l)] = true;
                }
            }
            Truth::Tags(flags)
        }
        _ => Truth::Targets(
            case.targets
                .iter()
                .flatten()
                .map(|&v| f64::from(v))
                .collect(),
        ),
    }
}

/// Reference values: `tests/data/reference.json`, written by `tests/data/reference.py`
/// (scikit-learn 1.9.1, SciPy, mir_eval 0.8.2; versions in the file's `_source`).
#[test]
fn every_metric_matches_the_reference_implementations() {
    let reference: Reference = serde_json::from_str(include_str!("data/reference.json")).unwrap();
    assert_eq!(reference.cases.len(), 9);
    let mut compared = 0;
    for case in &reference.cases {
        let scores = Scores::new(&case.scores, case.scores[0].len());
        let idx: Vec<usize> = (0..scores.n).collect();
        let ours: BTreeMap<String, f64> = compute(
            &truth(case),
            &scores,
            &case.vocabulary,
            &idx,
            &EvalConfig::default(),
        )
        .into_iter()
        .collect();
        for (metric, expected) in &case.expected {
            let got = ours
                .get(metric)
                .unwrap_or_else(|| panic!("{}: no `{metric}` (have {:?})", case.name, ours.keys()));
            assert!(
                (got - expected).abs() <= TOLERANCE,
                "{}: {metric} = {got}, reference {expected}",
                case.name
            );
            compared += 1;
        }
        for (metric, value) in &ours {
            assert!(!value.is_nan(), "{}: {metric} is NaN", case.name);
        }
    }
    assert_eq!(compared, 238, "every reference value is compared");
}

#[test]
fn edge_cases_are_explicit() {
    let reference: Reference = serde_json::from_str(include_str!("data/reference.json")).unwrap();
    let get = |name: &str, metric: &str| {
        reference
            .cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .expected[metric]
    };
    assert_eq!(get("perfect", "roc_auc_macro"), 1.0);
    assert_eq!(get("all_tied", "roc_auc_macro"), 0.5);
    assert_eq!(get("single_track", "roc_auc_classes_skipped"), 4.0);
    assert_eq!(
        get("multilabel_with_empty_and_full_tags", "tags_skipped"),
        2.0
    );
}

/// A multiclass test set of `n` tracks whose predictions are right with probability about
/// `skill`, for the clean audio and a worse `noisy` deformation.
fn tables(n: usize, skill: f64) -> (Table, Table) {
    tables_named(n, skill, "noisy")
}

/// [`tables`] with the deformation named `noisy`.
fn tables_named(n: usize, skill: f64, noisy: &str) -> (Table, Table) {
    let vocab: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let meta = Metadata::new()
        .with(keys::DATASET, "d")
        .with(keys::TASK, "t")
        .with(keys::TASK_TYPE, TaskType::Multiclass)
        .with(keys::LABEL_VOCABULARY, vocabulary_json(&vocab));
    let tschema = TableKind::Tracks.schema(0, &meta).unwrap();
    let mut tracks = Vec::new();
    let mut preds = Vec::new();
    for i in 0..n {
        let class = i % 3;
        let track_id = format!("t{i:05}");
        tracks.push(Track {
            track_id: track_id.clone(),
            audio_uri: String::new(),
            split: Split::Test,
            labels: vec![vocab[class].clone()],
            targets: None,
            duration_s: 1.0,
            fold: None,
        });
        // A deterministic pseudo-random draw per track.
        let u = ((i as f64 * 0.618_033_988_7).fract() * 1000.0).fract();
        for (deformation, p) in [("clean", skill), (noisy, skill * 0.6)] {
            let predicted = if u < p {
                class
            } else {
                (class + 1 + i % 2) % 3
            };
            let mut scores = vec![0.1f32; 3];
            scores[predicted] = 0.8;
            preds.push(Prediction {
                track_id: track_id.clone(),
                split: Split::Test,
                deformation: deformation.into(),
                scores,
            });
        }
    }
    let pmeta = [
        keys::DATASET,
        keys::TASK,
        keys::MODEL,
        keys::PROBE,
        keys::AGGREGATION,
    ]
    .iter()
    .fold(Metadata::new(), |m, k| m.with(k, "x"))
    .with(keys::LAYER, 0)
    .with(keys::SEED, 1)
    .with(keys::TASK_TYPE, TaskType::Multiclass)
    .with(keys::LABEL_VOCABULARY, vocabulary_json(&vocab));
    let pschema = TableKind::Predictions.schema(3, &pmeta).unwrap();
    (
        Table {
            schema: tschema.clone(),
            batches: vec![tracks_batch(&tschema, &tracks).unwrap()],
        },
        Table {
            schema: pschema.clone(),
            batches: vec![predictions_batch(&pschema, &preds).unwrap()],
        },
    )
}

fn find<'a>(
    rows: &'a [mir_table::MetricRow],
    deformation: &str,
    metric: &str,
) -> &'a mir_table::MetricRow {
    rows.iter()
        .find(|r| r.deformation == deformation && r.metric == metric)
        .unwrap()
}

#[test]
fn bootstrap_intervals_contain_the_estimate_narrow_with_n_and_repeat_with_the_seed() {
    let config = EvalConfig {
        bootstrap: 300,
        ..EvalConfig::default()
    };
    let width = |n| {
        let (tracks, preds) = tables(n, 0.8);
        let rows = evaluate(&config, 7, &tracks, &preds).unwrap();
        let r = find(&rows, "clean", "accuracy");
        let (lo, hi) = (r.ci_low.unwrap(), r.ci_high.unwrap());
        assert!(
            lo <= r.value && r.value <= hi,
            "{lo} <= {} <= {hi}",
            r.value
        );
        hi - lo
    };
    let (small, large) = (width(60), width(1500));
    assert!(
        large < small / 3.0,
        "interval width {small} at n=60, {large} at n=1500"
    );

    let (tracks, preds) = tables(90, 0.8);
    let a = evaluate(&config, 7, &tracks, &preds).unwrap();
    assert_eq!(a, evaluate(&config, 7, &tracks, &preds).unwrap());
    assert_ne!(a, evaluate(&config, 8, &tracks, &preds).unwrap());
}

#[test]
fn deformations_get_a_paired_difference_to_clean() {
    // `am_radio` sorts before `clean`: its delta needs the clean values all the same.
    for name in ["noisy", "am_radio"] {
        let (tracks, preds) = tables_named(300, 0.9, name);
        let rows = evaluate(
            &EvalConfig {
                bootstrap: 200,
                ..EvalConfig::default()
            },
            1,
            &tracks,
            &preds,
        )
        .unwrap();
        let clean = find(&rows, "clean", "accuracy").value;
        let noisy = find(&rows, name, "accuracy").value;
        let delta = find(&rows, name, "delta/accuracy");
        assert!((delta.value - (noisy - clean)).abs() < 1e-12);
        assert!(
            delta.ci_high.unwrap() < 0.0,
            "a clear drop has an interval below zero: {delta:?}"
        );
        assert!(
            rows.iter()
                .all(|r| r.n == 300 && r.layer == 0 && r.seed == 1)
        );
        assert!(
            !rows
                .iter()
                .any(|r| r.deformation == "clean" && r.metric.starts_with("delta/"))
        );
    }
}

#[test]
fn a_missing_clean_prediction_is_an_error() {
    let (tracks, preds) = tables(30, 0.8);
    let batch = preds.batches[0].slice(2, 58);
    let preds = Table {
        schema: Arc::clone(&preds.schema),
        batches: vec![batch],
    };
    let err = evaluate(&EvalConfig::default(), 0, &tracks, &preds)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t00000") && err.contains("no clean prediction"),
        "{err}"
    );
}

#[test]
fn confusion_cells_sum_to_the_test_set_and_agree_with_accuracy() {
    let (tracks, preds) = tables(60, 0.7);
    let cells = mir_eval::confusion(&tracks, &preds).unwrap();
    let rows = evaluate(
        &EvalConfig {
            bootstrap: 0,
            ..EvalConfig::default()
        },
        0,
        &tracks,
        &preds,
    )
    .unwrap();
    for deformation in ["clean", "noisy"] {
        let mine: Vec<_> = cells
            .iter()
            .filter(|c| c.deformation == deformation)
            .collect();
        assert_eq!(mine.iter().map(|c| c.count).sum::<i64>(), 60);
        let diagonal: i64 = mine
            .iter()
            .filter(|c| c.true_label == c.predicted_label)
            .map(|c| c.count)
            .sum();
        assert!(
            (diagonal as f64 / 60.0 - find(&rows, deformation, "accuracy").value).abs() < 1e-12
        );
        assert!(
            mine.iter().all(|c| c.count > 0),
            "only non-empty cells are listed"
        );
    }
    assert!(
        rows.iter().all(|r| r.ci_low.is_none()),
        "bootstrap 0 gives no intervals"
    );
}

#[test]
fn two_systems_compare_with_a_paired_interval() {
    let (tracks, strong) = tables(300, 0.9);
    let (_, weak) = tables(300, 0.5);
    let config = EvalConfig {
        bootstrap: 200,
        ..EvalConfig::default()
    };
    let rows = mir_eval::compare(&config, 3, &tracks, &strong, &weak, "clean").unwrap();
    let d = rows
        .iter()
        .find(|r| r.metric == "delta_vs/x/x/accuracy")
        .unwrap();
    let point = |t| {
        find(
            &evaluate(&config, 3, &tracks, t).unwrap(),
            "clean",
            "accuracy",
        )
        .value
    };
    assert!((d.value - (point(&weak) - point(&strong))).abs() < 1e-12);
    assert!(d.ci_low.unwrap() <= d.value && d.value <= d.ci_high.unwrap());
    assert!(d.ci_high.unwrap() < 0.0, "{d:?}");
    // Every one of the 200 paired resamples is below 0: p = 2 / 201.
    let p = |rows: &[mir_table::MetricRow]| {
        rows.iter()
            .find(|r| r.metric == "p_vs/x/x/accuracy")
            .unwrap()
            .value
    };
    assert!((p(&rows) - 2.0 / 201.0).abs() < 1e-12, "{}", p(&rows));
    let same = mir_eval::compare(&config, 3, &tracks, &strong, &strong, "clean").unwrap();
    assert_eq!(p(&same), 1.0);
    assert!(mir_eval::compare(&config, 3, &tracks, &strong, &weak, "reverb").is_err());
}

#[test]
fn cli_writes_a_metrics_table() {
    let dir = tempfile::tempdir().unwrap();
    let (tracks, preds) = tables(30, 0.8);
    let store = mir_table::TableStore::open(dir.path().to_str().unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.write(
        "tracks.parquet",
        TableKind::Tracks,
        &tracks.schema,
        &tracks.batches,
    ))
    .unwrap();
    rt.block_on(store.write(
        "predictions.parquet",
        TableKind::Predictions,
        &preds.schema,
        &preds.batches,
    ))
    .unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mir-eval"))
        .args([
            "--tracks",
            &path("tracks.parquet"),
            "--predictions",
            &path("predictions.parquet"),
        ])
        .args(["--output", &path("metrics.parquet"), "--bootstrap", "50"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = rt
        .block_on(store.read("metrics.parquet", TableKind::Metrics))
        .unwrap();
    let rows = mir_table::read_metrics(&metrics).unwrap();
    assert!(find(&rows, "clean", "accuracy").ci_low.is_some());
    // A wrong table is refused with both names.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mir-eval"))
        .args([
            "--tracks",
            &path("tracks.parquet"),
            "--predictions",
            &path("tracks.parquet"),
        ])
        .args(["--output", &path("m2.parquet")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("expected a `predictions` table but the file holds a `tracks` table"),
        "{err}"
    );
}

use arrow::array::RecordBatch;

/// `predictions` as if written by model `model`.
fn as_model(predictions: &Table, model: &str) -> Table {
    let meta = Metadata::of(&predictions.schema).with(keys::MODEL, model);
    let schema = TableKind::Predictions.schema(3, &meta).unwrap();
    let batches = (predictions.batches.iter())
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()).unwrap())
        .collect();
    Table { schema, batches }
}

/// A strong system, a weak one and its identical twin, and one a little better than the weak:
/// every pair on the same tracks, the wide margin with the smallest p-value 400 resamples
/// allow, the twins at p = 1, and Holm's adjustment equal to statsmodels 0.15.0's
/// `multipletests(p, method="holm")` on the same p-values.
#[test]
fn every_pair_of_systems_gets_a_paired_test_adjusted_by_holm() {
    let (tracks, strong) = tables(300, 0.9);
    let weak = tables(300, 0.5).1;
    let systems = [
        as_model(&strong, "strong"),
        as_model(&weak, "weak"),
        as_model(&weak, "twin"),
        as_model(&tables(300, 0.51).1, "medium"),
    ];
    let runs: Vec<(&Table, &Table)> = systems.iter().map(|p| (&tracks, p)).collect();
    let config = EvalConfig {
        bootstrap: 400,
        ..EvalConfig::default()
    };
    let rows = mir_eval::significance(&config, 3, &runs, &["mirex_weighted", "accuracy"]).unwrap();
    let clean: Vec<_> = rows.iter().filter(|r| r.deformation == "clean").collect();
    assert_eq!(clean.len(), 6, "4 systems make 6 pairs");
    assert!(clean.iter().all(|r| r.metric == "accuracy" && r.n == 300));
    let pair = |a: &str, b: &str| {
        let r = clean.iter().find(|r| r.a.model == a && r.b.model == b);
        *r.unwrap_or_else(|| panic!("{a} vs {b}"))
    };
    let (twins, wide) = (pair("twin", "weak"), pair("strong", "weak"));
    assert_eq!((twins.delta, twins.p_value, twins.p_holm), (0.0, 1.0, 1.0));
    assert!((wide.p_value - 2.0 / 401.0).abs() < 1e-12, "{wide:?}");
    assert!(wide.delta < -0.3 && wide.ci_high.unwrap() < 0.0, "{wide:?}");
    let p: Vec<f64> = clean.iter().map(|r| r.p_value).collect();
    let holm: Vec<f64> = clean.iter().map(|r| r.p_holm).collect();
    // The 6 p-values are 2/401 (three pairs with strong), 50/401 (medium against the twins)
    // and 1; statsmodels 0.15.0's multipletests(p, method="holm")[1] on them:
    let expected = [
        (2.0 / 401.0, 0.029925187032418952),
        (50.0 / 401.0, 0.3740648379052369),
        (1.0, 1.0),
    ];
    for (p, h) in p.iter().zip(&holm) {
        let (_, e) = expected
            .iter()
            .find(|(q, _)| (q - p).abs() < 1e-15)
            .unwrap();
        assert!((h - e).abs() < 1e-15, "p {p}: holm {h}, statsmodels {e}");
    }
    assert_eq!(
        p.iter()
            .filter(|p| (**p - 50.0 / 401.0).abs() < 1e-15)
            .count(),
        2
    );
}

/// Embeddings of 30 tracks: clean, an identical copy, a slightly moved copy, and each
/// track's embedding replaced by the next track's.
fn drift_tables() -> Vec<Table> {
    let dim = 8;
    let meta = TableKind::Embeddings
        .required_metadata()
        .into_iter()
        .fold(Metadata::new(), |m, k| m.with(k, dim))
        .with(keys::DATASET, "d")
        .with(keys::MODEL, "m");
    let schema = TableKind::Embeddings.schema(dim as i32, &meta).unwrap();
    let vector = |i: usize| -> Vec<f32> {
        (0..dim)
            .map(|k| ((i * 31 + k * 17) % 23) as f32 - 11.0)
            .collect()
    };
    let mut rows = Vec::new();
    for i in 0..30 {
        let conditions: [(&str, Vec<f32>); 4] = [
            ("clean", vector(i)),
            ("same", vector(i)),
            ("moved", vector(i).iter().map(|v| v + 0.1).collect()),
            ("swapped", vector((i + 1) % 30)),
        ];
        for (deformation, embedding) in conditions {
            rows.push(mir_table::EmbeddingRow {
                track_id: format!("t{i:02}"),
                deformation: deformation.into(),
                layer: 0,
                window: 0,
                start_s: 0.0,
                embedding,
            });
        }
    }
    vec![Table {
        schema: schema.clone(),
        batches: vec![mir_table::embeddings_batch(&schema, &rows).unwrap()],
    }]
}

/// An unchanged embedding has drift 0, a slightly moved one a small ratio, and a track
/// replaced by another one the typical distance between tracks (ratio near 1).
#[test]
fn drift_measures_how_far_a_deformation_moves_embeddings() {
    let rows = mir_eval::drift(&drift_tables()).unwrap();
    let ratio = |d: &str| rows.iter().find(|r| r.deformation == d).unwrap().ratio;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(ratio("same").abs() < 1e-12, "{rows:?}");
    assert!(ratio("moved") > 0.0 && ratio("moved") < 0.1, "{rows:?}");
    assert!((ratio("swapped") - 1.0).abs() < 0.35, "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r.n == 30 && r.dataset == "d" && r.model == "m")
    );
}

/// Tables written from Python with pyarrow's defaults (nullable fields, Python's column order,
/// `double` scores in plain lists, no `targets` or `fold` column): the documented example
/// (`mir-table/docs/predictions_from_python.py`) writes the predictions of a scikit-learn
/// probe, the CLI scores them, and the metrics equal scikit-learn's on the same rows.
#[test]
fn tables_written_with_pyarrow_score_as_scikit_learn_does() {
    let Some(python) = mir_testkit::python::required_python(&["sklearn"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let write_tracks = r#"
import json, sys
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
rng = np.random.default_rng(7)
classes = ["bass", "flute", "horn"]
y = rng.integers(0, 3, 150)
X = rng.normal(size=(150, 8)) + 1.2 * np.eye(3, 8)[y]
ids = [f"t{i:03d}" for i in range(150)]
split = np.array(["train"] * 90 + ["validation"] * 20 + ["test"] * 40)
tracks = pa.table({
    "labels": [[classes[k]] for k in y],
    "split": split,
    "track_id": ids,
    "duration_s": [1.0] * 150,
    "audio_uri": [f"audio/{t}.wav" for t in ids],
}).replace_schema_metadata({
    "dataset": "mine", "task": "instrument", "task_type": "multiclass",
    "label_vocabulary": json.dumps(classes),
})
pq.write_table(tracks, sys.argv[1] + "/tracks.parquet")
np.savez(sys.argv[1] + "/features.npz", track_id=np.array(ids), X=X)
"#;
    mir_testkit::python::run(&python, write_tracks, &[&path("")]);
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../mir-table/docs/predictions_from_python.py"
    );
    let tracks = path("tracks.parquet");
    let predictions = path("predictions.parquet");
    mir_testkit::python::run(
        &python,
        &std::fs::read_to_string(example).unwrap(),
        &[&tracks, &path("features.npz"), &predictions],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mir-eval"))
        .args(["--tracks", &tracks, "--predictions", &predictions])
        .args(["--output", &path("metrics.parquet"), "--bootstrap", "0"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sklearn = r#"
import json, sys
import numpy as np, pyarrow.parquet as pq
from sklearn import metrics as m
t = pq.read_table(sys.argv[1]); p = pq.read_table(sys.argv[2])
vocab = json.loads(t.schema.metadata[b"label_vocabulary"])
label = {i: l[0] for i, l in zip(t["track_id"].to_pylist(), t["labels"].to_pylist())}
test = [k for k, s in enumerate(p["split"].to_pylist()) if s == "test"]
ids = [p["track_id"][k].as_py() for k in test]
y = np.array([vocab.index(label[i]) for i in ids])
scores = np.array(p["scores"].to_pylist(), dtype=np.float32)[test]
pred = scores.argmax(axis=1)
print(json.dumps({
    "accuracy": m.accuracy_score(y, pred),
    "balanced_accuracy": m.balanced_accuracy_score(y, pred),
    "f1_macro": m.f1_score(y, pred, average="macro"),
    "roc_auc_macro": m.roc_auc_score(y, scores, multi_class="ovr", average="macro"),
}))
"#;
    let expected: BTreeMap<String, f64> = serde_json::from_str(&mir_testkit::python::run(
        &python,
        sklearn,
        &[&tracks, &predictions],
    ))
    .unwrap();
    let (store, name) = mir_table::TableStore::open_file(&path("metrics.parquet")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let rows =
        mir_table::read_metrics(&rt.block_on(store.read(&name, TableKind::Metrics)).unwrap())
            .unwrap();
    for (metric, value) in &expected {
        let ours = find(&rows, "clean", metric).value;
        assert!(
            (ours - value).abs() < TOLERANCE,
            "{metric}: ours {ours}, scikit-learn {value}"
        );
    }
    assert!(
        expected["accuracy"] > 0.5 && expected["accuracy"] < 1.0,
        "{expected:?}"
    );
}
