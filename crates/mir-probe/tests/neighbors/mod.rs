//! `knn` and `centroid` against scikit-learn 1.9.1 on the same standardised embeddings
//! (`tests/data/neighbors.py` wrote `neighbors.json`).

use mir_probe::{Distance, ProbeConfig, ProbeKind, Voting, run};
use mir_table::{
    EmbeddingRow, Metadata, Split, Table, TableKind, Track, embeddings_batch, keys, tracks_batch,
    vocabulary_json,
};
use serde_json::Value;

fn reference() -> Value {
    let text = include_str!("../data/neighbors.json");
    serde_json::from_str(text).unwrap()
}

fn rows(v: &Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// Training tracks `r000..` and test tracks `s000..` of the reference, labelled for `task_type`.
fn tables(task_type: &str) -> (Table, Vec<Table>) {
    let r = reference();
    let y: Vec<usize> = serde_json::from_value(r["y_train"].clone()).unwrap();
    let tags = rows(&r["tags_train"]);
    let values: Vec<f32> = serde_json::from_value(r["values_train"].clone()).unwrap();
    let (mut tracks, mut embeddings) = (Vec::new(), Vec::new());
    let splits = [(Split::Train, "x_train", "r"), (Split::Test, "x_test", "s")];
    for (split, key, prefix) in splits {
        for (i, x) in rows(&r[key]).into_iter().enumerate() {
            let track_id = format!("{prefix}{i:03}");
            let train = split == Split::Train;
            let (labels, targets) = match task_type {
                "multiclass" if train => (vec![format!("c{}", y[i])], None),
                "multilabel" if train => {
                    let on = tags[i].iter().enumerate().filter(|(_, t)| **t == 1.0);
                    (on.map(|(j, _)| format!("t{j}")).collect(), None)
                }
                "regression" => (vec![], Some(vec![if train { values[i] } else { 0.0 }])),
                // Test labels do not matter to the scores.
                "multiclass" => (vec!["c0".into()], None),
                _ => (vec![], None),
            };
            tracks.push(Track {
                track_id: track_id.clone(),
                audio_uri: String::new(),
                split,
                labels,
                targets,
                duration_s: 1.0,
                fold: None,
            });
            embeddings.push(EmbeddingRow {
                track_id,
                deformation: "clean".into(),
                layer: 0,
                window: 0,
                start_s: 0.0,
                embedding: x.into_iter().map(|v| v as f32).collect(),
            });
        }
    }
    let vocabulary: Vec<String> = match task_type {
        "multiclass" => (0..3).map(|c| format!("c{c}")).collect(),
        "multilabel" => (0..4).map(|c| format!("t{c}")).collect(),
        _ => vec!["value".into()],
    };
    let meta = Metadata::new()
        .with(keys::DATASET, "reference")
        .with(keys::TASK, "reference")
        .with(keys::TASK_TYPE, task_type)
        .with(keys::LABEL_VOCABULARY, vocabulary_json(&vocabulary));
    let schema = TableKind::Tracks.schema(0, &meta).unwrap();
    let dim = embeddings[0].embedding.len();
    let emeta = TableKind::Embeddings
        .required_metadata()
        .into_iter()
        .fold(Metadata::new(), |m, k| m.with(k, dim));
    let eschema = TableKind::Embeddings.schema(dim as i32, &emeta).unwrap();
    let tracks = Table {
        schema: schema.clone(),
        batches: vec![tracks_batch(&schema, &tracks).unwrap()],
    };
    let embeddings = Table {
        schema: eschema.clone(),
        batches: vec![embeddings_batch(&eschema, &embeddings).unwrap()],
    };
    (tracks, vec![embeddings])
}

/// The test tracks' scores, in track order.
fn scores(config: &ProbeConfig, task_type: &str) -> Vec<Vec<f32>> {
    let (tracks, embeddings) = tables(task_type);
    let out = run(config, 0, 0, &tracks, &embeddings).unwrap();
    assert!(
        out.saved.is_none() && out.epochs.is_empty(),
        "nothing is trained"
    );
    let mut test: Vec<_> = out
        .predictions
        .into_iter()
        .filter(|p| p.split == Split::Test)
        .collect();
    test.sort_by(|a, b| a.track_id.cmp(&b.track_id));
    test.into_iter().map(|p| p.scores).collect()
}

fn assert_close(ours: &[Vec<f32>], theirs: &[Vec<f64>], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (f64::from(*x) - y).abs() < 1e-5,
                "{what}, test row {i}: {a:?} vs {b:?}"
            );
        }
    }
}

fn knn(k: usize, distance: Distance, weights: Voting) -> ProbeConfig {
    ProbeConfig {
        kind: ProbeKind::Knn,
        k,
        distance,
        weights,
        ..ProbeConfig::default()
    }
}

#[test]
fn knn_scores_equal_scikit_learn_predict_proba() {
    let r = reference();
    let cases = [
        (
            5,
            Distance::Euclidean,
            Voting::Uniform,
            "knn_5_uniform_euclidean",
        ),
        (
            7,
            Distance::Cosine,
            Voting::Distance,
            "knn_7_distance_cosine",
        ),
        (
            1,
            Distance::Euclidean,
            Voting::Uniform,
            "knn_1_uniform_euclidean",
        ),
    ];
    for (k, distance, weights, name) in cases {
        let ours = scores(&knn(k, distance, weights), "multiclass");
        assert_close(&ours, &rows(&r[name]), name);
    }
}

#[test]
fn knn_tags_and_values_equal_scikit_learn() {
    let r = reference();
    let tags = scores(&knn(5, Distance::Euclidean, Voting::Uniform), "multilabel");
    assert_close(&tags, &rows(&r["knn_5_tags"]), "multilabel kNN");
    let values = scores(&knn(4, Distance::Euclidean, Voting::Distance), "regression");
    let theirs: Vec<Vec<f64>> = rows(&serde_json::json!([r["knn_4_distance_values"]]));
    let theirs: Vec<Vec<f64>> = theirs[0].iter().map(|v| vec![*v]).collect();
    assert_close(&values, &theirs, "KNeighborsRegressor");
}

#[test]
fn centroid_classes_equal_nearest_centroid() {
    let r = reference();
    for (distance, name) in [
        (Distance::Euclidean, "centroid_euclidean"),
        (Distance::Cosine, "centroid_cosine"),
    ] {
        let config = ProbeConfig {
            kind: ProbeKind::Centroid,
            distance,
            ..ProbeConfig::default()
        };
        let ours: Vec<usize> = scores(&config, "multiclass")
            .iter()
            .map(|s| mir_audio::argmax(s).unwrap())
            .collect();
        let theirs: Vec<usize> = serde_json::from_value(r[name].clone()).unwrap();
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn untrained_probes_refuse_what_does_not_apply() {
    let cases = [
        (
            ProbeConfig {
                hidden: vec![8],
                ..knn(5, Distance::Euclidean, Voting::Uniform)
            },
            "no `hidden`",
        ),
        (
            ProbeConfig {
                k: 0,
                ..knn(5, Distance::Euclidean, Voting::Uniform)
            },
            "`k` must be",
        ),
        (
            ProbeConfig {
                kind: ProbeKind::Centroid,
                weights: Voting::Distance,
                ..Default::default()
            },
            "a centroid has none",
        ),
        (
            ProbeConfig {
                shots: Some(0),
                ..Default::default()
            },
            "`shots` must be",
        ),
        (
            ProbeConfig {
                train_fraction: vec![1.5],
                ..Default::default()
            },
            "(0, 1] or whole counts",
        ),
    ];
    for (config, message) in cases {
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains(message), "{err}");
    }
    let (tracks, embeddings) = tables("multilabel");
    let centroid = ProbeConfig {
        kind: ProbeKind::Centroid,
        ..Default::default()
    };
    let err = run(&centroid, 0, 0, &tracks, &embeddings)
        .unwrap_err()
        .to_string();
    assert!(err.contains("for multiclass tasks"), "{err}");
}

/// Few-shot centroids: `shots` tracks per class train it, and one shot is worse than twenty.
#[test]
fn few_shot_centroids_use_their_shots() {
    let r = reference();
    let truth: Vec<usize> = serde_json::from_value(r["y_test"].clone()).unwrap();
    let accuracy = |shots| {
        let config = ProbeConfig {
            kind: ProbeKind::Centroid,
            shots: Some(shots),
            ..ProbeConfig::default()
        };
        let s = scores(&config, "multiclass");
        let right = s
            .iter()
            .zip(&truth)
            .filter(|(s, t)| mir_audio::argmax(s) == Some(**t))
            .count();
        right as f64 / truth.len() as f64
    };
    let all = accuracy(20);
    let full: Vec<usize> = serde_json::from_value(r["centroid_euclidean"].clone()).unwrap();
    let full = full.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / 30.0;
    assert_eq!(
        all, full,
        "20 shots of 20 tracks per class is the whole training split"
    );
    assert!(accuracy(1) < all, "one shot: {} vs {all}", accuracy(1));
}

/// The majority baseline's scores equal scikit-learn's `DummyClassifier(strategy="prior")`
/// and `DummyRegressor(strategy="mean")`; the uniform one is seeded, sums to one and gives a
/// track the same scores under every condition.
#[test]
fn chance_baselines_are_scikit_learns_dummies() {
    let r = reference();
    let deformations = vec!["noise".to_string()];
    let test_scores = |task_type: &str, chance| {
        let (tracks, _) = tables(task_type);
        let out = mir_probe::chance(chance, 3, &tracks, &deformations).unwrap();
        assert_eq!(out.train_tracks, 60);
        let test: Vec<_> = out
            .predictions
            .into_iter()
            .filter(|p| p.split == Split::Test)
            .collect();
        assert_eq!(test.len(), 60, "30 test tracks, clean and noise");
        test
    };
    let expect = |task_type: &str, key: &str| {
        let theirs: Vec<f64> = match &r[key] {
            Value::Array(_) => serde_json::from_value(r[key].clone()).unwrap(),
            v => vec![v.as_f64().unwrap()],
        };
        for p in test_scores(task_type, mir_probe::Chance::Majority) {
            assert_close(&[p.scores], std::slice::from_ref(&theirs), key);
        }
    };
    expect("multiclass", "prior");
    expect("multilabel", "prior_tags");
    expect("regression", "prior_mean");
    let uniform = test_scores("multiclass", mir_probe::Chance::Uniform);
    let again = test_scores("multiclass", mir_probe::Chance::Uniform);
    assert_eq!(uniform, again, "seeded");
    for p in &uniform {
        assert!((p.scores.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        let clean = uniform
            .iter()
            .find(|q| q.track_id == p.track_id && q.deformation == "clean");
        assert_eq!(clean.unwrap().scores, p.scores, "the audio does not matter");
    }
}
