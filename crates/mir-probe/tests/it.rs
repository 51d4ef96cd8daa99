//! Integration tests: probes trained on tables built from separable synthetic embeddings.

use mir_probe::{
    Activation, Adaptive, Backend, ClassWeight, Optimizer, Plateau, ProbeConfig, ProbeKind, Search,
    Selection, hidden_sizes, run,
};
use mir_table::{
    EmbeddingRow, Metadata, Split, Table, TableKind, Track, embeddings_batch, keys, tracks_batch,
    vocabulary_json,
};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const CLASSES: [&str; 3] = ["a", "b", "c"];
const DIM: usize = 8;

/// 30 tracks per class around well-separated centres, split 18/6/6, two windows per track, and
/// a "shifted" deformation of the test tracks.
fn tables() -> (Table, Vec<Table>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut tracks = Vec::new();
    let mut clean = Vec::new();
    let mut shifted = Vec::new();
    for (c, class) in CLASSES.iter().enumerate() {
        for i in 0..30 {
            let track_id = format!("{class}{i:02}");
            let split = match i {
                0..18 => "train",
                18..24 => "validation",
                _ => "test",
            };
            tracks.push(Track {
                track_id: track_id.clone(),
                audio_uri: format!("{track_id}.wav"),
                split: split.parse().unwrap(),
                labels: vec![class.to_string()],
                targets: None,
                duration_s: 1.0,
                fold: None,
            });
            for window in 0..2 {
                let embedding: Vec<f32> = (0..DIM)
                    .map(|d| if d == c { 3.0 } else { 0.0 } + rng.random_range(-1.0..1.0))
                    .collect();
                let row = |deformation: &str, embedding: Vec<f32>| EmbeddingRow {
                    track_id: track_id.clone(),
                    deformation: deformation.into(),
                    layer: 0,
                    window,
                    start_s: window as f32,
                    embedding,
                };
                if split == "test" {
                    shifted.push(row("shifted", embedding.iter().map(|v| v + 0.5).collect()));
                }
                clean.push(row("clean", embedding));
            }
        }
    }
    let vocab: Vec<String> = CLASSES.iter().map(|s| s.to_string()).collect();
    let meta = Metadata::new()
        .with(keys::DATASET, "blobs")
        .with(keys::TASK, "class")
        .with(keys::TASK_TYPE, "multiclass")
        .with(keys::LABEL_VOCABULARY, vocabulary_json(&vocab));
    let schema = TableKind::Tracks.schema(0, &meta).unwrap();
    let tracks = Table {
        schema: schema.clone(),
        batches: vec![tracks_batch(&schema, &tracks).unwrap()],
    };
    let emeta = [
        keys::DATASET,
        keys::MODEL,
        keys::SAMPLE_RATE_HZ,
        keys::WINDOW_S,
        keys::HOP_S,
        keys::MODEL_SHA256,
    ]
    .iter()
    .fold(Metadata::new().with(keys::DIM, DIM), |m, k| m.with(k, "0"));
    let eschema = TableKind::Embeddings.schema(DIM as i32, &emeta).unwrap();
    let emb = |rows: &[EmbeddingRow]| Table {
        schema: eschema.clone(),
        batches: vec![embeddings_batch(&eschema, rows).unwrap()],
    };
    (tracks, vec![emb(&clean), emb(&shifted)])
}

fn config() -> ProbeConfig {
    ProbeConfig {
        epochs: 60,
        learning_rate: 0.01,
        batch_size: 7,
        ..ProbeConfig::default()
    }
}

/// A 16-unit MLP on `backend`, otherwise [`config`].
fn mlp_on(backend: Backend) -> ProbeConfig {
    ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![16],
        backend,
        ..config()
    }
}

/// Prediction rows: (validation clean, test clean, test shifted).
fn row_counts(out: &mir_probe::ProbeOutput) -> (usize, usize, usize) {
    let count = |split: &str, d: &str| {
        out.predictions
            .iter()
            .filter(|p| p.split.name() == split && p.deformation == d)
            .count()
    };
    (
        count("validation", "clean"),
        count("test", "clean"),
        count("test", "shifted"),
    )
}

fn accuracy(out: &mir_probe::ProbeOutput, deformation: &str) -> f64 {
    let test: Vec<_> = out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Test && p.deformation == deformation)
        .collect();
    let correct = test
        .iter()
        .filter(|p| {
            let best = p
                .scores
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            p.track_id.starts_with(CLASSES[best])
        })
        .count();
    correct as f64 / test.len() as f64
}

#[test]
fn linear_probe_learns_and_predicts_every_held_out_track() {
    let (tracks, emb) = tables();
    let out = run(&config(), 0, 0, &tracks, &emb).unwrap();
    // 18 validation (clean) + 18 test clean + 18 test shifted; batch size 7 leaves partial
    // batches everywhere, and none is dropped.
    assert_eq!(row_counts(&out), (18, 18, 18));
    assert_eq!(
        accuracy(&out, "clean"),
        1.0,
        "the blobs are linearly separable"
    );
    for p in &out.predictions {
        let sum: f32 = p.scores.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "scores are probabilities: {:?}",
            p.scores
        );
    }
    assert!(out.best_epoch >= 1 && out.best_epoch <= out.epochs.len());
    let best = &out.epochs[out.best_epoch - 1];
    let best_metric = best.validation_metric.unwrap();
    assert!(
        out.epochs
            .iter()
            .all(|e| e.validation_metric.unwrap() <= best_metric),
        "best epoch is the best"
    );
}

#[test]
fn same_seed_same_predictions_other_seed_other_weights() {
    let (tracks, emb) = tables();
    assert_eq!(config().backend, Backend::Flex, "flex is the default");
    for backend in [Backend::Flex, Backend::Ndarray] {
        let linear = ProbeConfig {
            backend,
            ..config()
        };
        for probe in [linear, mlp_on(backend)] {
            let a = run(&probe, 3, 0, &tracks, &emb).unwrap();
            let b = run(&probe, 3, 0, &tracks, &emb).unwrap();
            assert_eq!(a.predictions, b.predictions, "{backend:?}");
            let c = run(&probe, 4, 0, &tracks, &emb).unwrap();
            assert_ne!(a.predictions, c.predictions, "{backend:?}");
        }
    }
}

#[test]
fn mlp_on_either_cpu_backend_trains() {
    let (tracks, emb) = tables();
    for backend in [Backend::Flex, Backend::Ndarray] {
        let out = run(&mlp_on(backend), 0, 0, &tracks, &emb).unwrap();
        assert!(accuracy(&out, "clean") >= 0.9, "{backend:?}");
    }
}

#[test]
fn invalid_configs_are_refused() {
    let (tracks, emb) = tables();
    let bad = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![],
        ..config()
    };
    assert!(
        run(&bad, 0, 0, &tracks, &emb)
            .unwrap_err()
            .to_string()
            .contains("hidden")
    );
}

#[test]
fn adaptive_sizes_follow_the_formulas() {
    let mlp = |adaptive, hidden_layers| ProbeConfig {
        kind: ProbeKind::Mlp,
        adaptive: Some(adaptive),
        hidden_layers,
        ..ProbeConfig::default()
    };
    // infer: C + (n - i)(d - C)/(n + 1), floored, then up to even.
    // d=512, C=10, n=2: 10 + 2*502/3 = 344.67 -> 344; 10 + 502/3 = 177.33 -> 177 -> 178.
    assert_eq!(
        hidden_sizes(&mlp(Adaptive::Infer, 2), 512, 10),
        vec![344, 178]
    );
    // d=256, C=4, n=1: 4 + 252/2 = 130.
    assert_eq!(hidden_sizes(&mlp(Adaptive::Infer, 1), 256, 4), vec![130]);
    // d=1024, C=50, n=3: 50 + 3*974/4 = 780.5 -> 780; 50 + 487 = 537 -> 538; 50 + 243.5 -> 293 -> 294.
    assert_eq!(
        hidden_sizes(&mlp(Adaptive::Infer, 3), 1024, 50),
        vec![780, 538, 294]
    );
    // power_infer: alpha (i+1)^2 + C, alpha = (d - C)/(n + 1).
    // d=512, C=10, n=2: alpha = 167.33: 177.33 -> 178; 679.33 -> 680.
    assert_eq!(
        hidden_sizes(&mlp(Adaptive::PowerInfer, 2), 512, 10),
        vec![178, 680]
    );
    // d=130, C=10, n=1: alpha = 60: 70.
    assert_eq!(
        hidden_sizes(&mlp(Adaptive::PowerInfer, 1), 130, 10),
        vec![70]
    );
}

/// Two classes on an XOR pattern: the sign of x times the sign of y.
fn xor_tables() -> (Table, Vec<Table>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let points: Vec<(Vec<f32>, usize, &str)> = (0..400)
        .map(|i| {
            let (x, y): (f32, f32) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            let split = match i % 5 {
                0 => "validation",
                1 => "test",
                _ => "train",
            };
            (vec![x, y], usize::from(x * y > 0.0), split)
        })
        .collect();
    point_tables(&["neg", "pos"], &points)
}

/// Tables of one-window tracks `p000`, `p001`, ... from (embedding, class, split) points.
fn point_tables(vocab: &[&str], points: &[(Vec<f32>, usize, &str)]) -> (Table, Vec<Table>) {
    let vocab: Vec<String> = vocab.iter().map(|v| v.to_string()).collect();
    let dim = points[0].0.len();
    let (mut tracks, mut rows) = (Vec::new(), Vec::new());
    for (i, (embedding, class, split)) in points.iter().enumerate() {
        let track_id = format!("p{i:03}");
        tracks.push(Track {
            track_id: track_id.clone(),
            audio_uri: String::new(),
            split: split.parse().unwrap(),
            labels: vec![vocab[*class].clone()],
            targets: None,
            duration_s: 1.0,
            fold: None,
        });
        rows.push(EmbeddingRow {
            track_id,
            deformation: "clean".into(),
            layer: 0,
            window: 0,
            start_s: 0.0,
            embedding: embedding.clone(),
        });
    }
    let meta = Metadata::new()
        .with(keys::DATASET, "points")
        .with(keys::TASK, "points")
        .with(keys::TASK_TYPE, "multiclass")
        .with(keys::LABEL_VOCABULARY, vocabulary_json(&vocab));
    let schema = TableKind::Tracks.schema(0, &meta).unwrap();
    let emeta = TableKind::Embeddings
        .required_metadata()
        .into_iter()
        .fold(Metadata::new(), |m, k| m.with(k, dim));
    let eschema = TableKind::Embeddings.schema(dim as i32, &emeta).unwrap();
    (
        Table {
            schema: schema.clone(),
            batches: vec![tracks_batch(&schema, &tracks).unwrap()],
        },
        vec![Table {
            schema: eschema.clone(),
            batches: vec![embeddings_batch(&eschema, &rows).unwrap()],
        }],
    )
}

/// The class (1: `pos`) of each track of an XOR `tracks` table.
fn xor_truth(tracks: &Table) -> std::collections::HashMap<String, usize> {
    mir_table::read_tracks(tracks)
        .unwrap()
        .into_iter()
        .map(|t| (t.track_id, usize::from(t.labels[0] == "pos")))
        .collect()
}

fn xor_accuracy(out: &mir_probe::ProbeOutput) -> f64 {
    let test: Vec<_> = out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Test)
        .collect();
    let truth = xor_truth(&xor_tables().0);
    let correct = test
        .iter()
        .filter(|p| usize::from(p.scores[1] > p.scores[0]) == truth[&p.track_id])
        .count();
    correct as f64 / test.len() as f64
}

#[test]
fn mlp_solves_xor_where_the_linear_probe_stays_near_chance() {
    let (tracks, emb) = xor_tables();
    let base = ProbeConfig {
        epochs: 150,
        learning_rate: 0.01,
        batch_size: 16,
        patience: 150,
        ..ProbeConfig::default()
    };
    let linear = xor_accuracy(&run(&base, 0, 0, &tracks, &emb).unwrap());
    let mlp = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![32, 16],
        ..base.clone()
    };
    let mlp = xor_accuracy(&run(&mlp, 0, 0, &tracks, &emb).unwrap());
    assert!(linear < 0.65, "linear probe on XOR: {linear}");
    assert!(mlp > 0.9, "MLP on XOR: {mlp}");
}

#[test]
fn optimizers_train() {
    let (tracks, emb) = tables();
    for (optimizer, momentum) in [(Optimizer::Adamw, 0.0), (Optimizer::Sgd, 0.9)] {
        let config = ProbeConfig {
            optimizer,
            momentum,
            weight_decay: 1e-4,
            ..config()
        };
        let out = run(&config, 0, 0, &tracks, &emb).unwrap();
        assert!(
            accuracy(&out, "clean") >= 0.9,
            "{optimizer:?}: {}",
            accuracy(&out, "clean")
        );
    }
}

/// Retypes the blobs as a multilabel task (each track has its class as its only tag) and as a
/// regression on the class index.
fn retyped(task_type: &str) -> (Table, Vec<Table>) {
    let (tracks, emb) = tables();
    let mut rows = mir_table::read_tracks(&tracks).unwrap();
    let meta = Metadata::of(&tracks.schema).with(keys::TASK_TYPE, task_type);
    let meta = if task_type == "regression" {
        for t in &mut rows {
            t.targets = Some(vec![
                CLASSES.iter().position(|c| t.labels[0] == *c).unwrap() as f32,
            ]);
            t.labels.clear();
        }
        meta.with(keys::LABEL_VOCABULARY, "[\"class_index\"]")
    } else {
        meta
    };
    let schema = TableKind::Tracks.schema(0, &meta).unwrap();
    (
        Table {
            schema: schema.clone(),
            batches: vec![tracks_batch(&schema, &rows).unwrap()],
        },
        emb,
    )
}

#[test]
fn multilabel_and_regression_heads_train() {
    let (tracks, emb) = retyped("multilabel");
    let out = run(&config(), 0, 0, &tracks, &emb).unwrap();
    assert_eq!(out.width, 3);
    for p in out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Test && p.deformation == "clean")
    {
        let own = CLASSES
            .iter()
            .position(|c| p.track_id.starts_with(c))
            .unwrap();
        assert!(
            p.scores[own] > 0.5,
            "sigmoid score of the true tag: {:?}",
            p.scores
        );
        assert!(p.scores.iter().all(|s| (0.0..=1.0).contains(s)));
    }
    let (tracks, emb) = retyped("regression");
    let out = run(
        &ProbeConfig {
            epochs: 150,
            ..config()
        },
        0,
        0,
        &tracks,
        &emb,
    )
    .unwrap();
    assert_eq!(out.width, 1);
    let errors: Vec<f32> = out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Test && p.deformation == "clean")
        .map(|p| {
            (p.scores[0]
                - CLASSES
                    .iter()
                    .position(|c| p.track_id.starts_with(c))
                    .unwrap() as f32)
                .abs()
        })
        .collect();
    let mae = errors.iter().sum::<f32>() / errors.len() as f32;
    assert!(mae < 0.3, "regression MAE {mae}");
}

#[test]
fn prediction_mean_trains_on_windows_and_averages_their_scores() {
    let (tracks, emb) = tables();
    let config = ProbeConfig {
        aggregation: mir_probe::Aggregation::PredictionMean,
        ..config()
    };
    let out = run(&config, 0, 0, &tracks, &emb).unwrap();
    assert_eq!(row_counts(&out), (18, 18, 18));
    assert_eq!(accuracy(&out, "clean"), 1.0);
    for p in &out.predictions {
        assert!(
            (p.scores.iter().sum::<f32>() - 1.0).abs() < 1e-4,
            "a mean of probabilities sums to 1"
        );
    }
    let ids = mir_probe::RunIds {
        dataset: "d".into(),
        task: "t".into(),
        model: "m".into(),
        layer: 0,
        probe: "p".into(),
        seed: 0,
    };
    let (schema, _) = mir_probe::output_schemas(&ids, &out).unwrap();
    assert_eq!(
        Metadata::of(&schema)
            .get(TableKind::Predictions, keys::AGGREGATION)
            .unwrap(),
        "prediction_mean"
    );
}

/// The blobs plus a `moved` condition of every track, its class centre moved to another
/// dimension: a probe trained on clean rows has never seen it.
fn moved_tables() -> (Table, Vec<Table>) {
    let (tracks, emb) = tables();
    let clean = mir_table::read_embeddings(&emb[0]).unwrap();
    let moved: Vec<EmbeddingRow> = clean
        .iter()
        .map(|r| {
            let c = CLASSES
                .iter()
                .position(|c| r.track_id.starts_with(c))
                .unwrap();
            let mut embedding = r.embedding.clone();
            embedding.swap(c, c + CLASSES.len());
            EmbeddingRow {
                deformation: "moved".into(),
                embedding,
                ..r.clone()
            }
        })
        .collect();
    let schema = emb[0].schema.clone();
    let moved = Table {
        batches: vec![embeddings_batch(&schema, &moved).unwrap()],
        schema,
    };
    (tracks, vec![emb[0].clone(), moved])
}

#[test]
fn augmentation_trains_on_deformed_training_rows() {
    let (tracks, emb) = moved_tables();
    let plain = run(&config(), 0, 0, &tracks, &emb).unwrap();
    let augmented = ProbeConfig {
        augment: vec!["moved".into()],
        ..config()
    };
    let augmented = run(&augmented, 0, 0, &tracks, &emb).unwrap();
    let (p, a) = (accuracy(&plain, "moved"), accuracy(&augmented, "moved"));
    assert!(p < 0.7, "clean-trained probe on moved rows: {p}");
    assert!(a >= 0.95, "augmented probe on moved rows: {a}");
    assert!(accuracy(&augmented, "clean") >= 0.95);
    // Validation predictions stay clean only.
    assert!(
        augmented
            .predictions
            .iter()
            .all(|r| r.split == Split::Test || r.deformation == "clean")
    );
}

#[test]
fn activations_and_seeded_dropout_train_reproducibly() {
    let (tracks, emb) = xor_tables();
    let base = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![32, 16],
        epochs: 150,
        learning_rate: 0.01,
        batch_size: 16,
        patience: 150,
        ..ProbeConfig::default()
    };
    for activation in [Activation::Gelu, Activation::Tanh] {
        let config = ProbeConfig {
            activation,
            dropout: 0.1,
            ..base.clone()
        };
        let a = run(&config, 3, 0, &tracks, &emb).unwrap();
        let b = run(&config, 3, 0, &tracks, &emb).unwrap();
        assert_eq!(
            a.predictions, b.predictions,
            "{activation:?}: same seed, same masks"
        );
        let accuracy = xor_accuracy(&a);
        assert!(
            accuracy > 0.85,
            "{activation:?} with dropout on XOR: {accuracy}"
        );
        let plain = run(
            &ProbeConfig {
                dropout: 0.0,
                ..config.clone()
            },
            3,
            0,
            &tracks,
            &emb,
        )
        .unwrap();
        assert_ne!(a.predictions, plain.predictions, "dropout changes training");
    }
    let linear_dropout = ProbeConfig {
        dropout: 0.5,
        ..ProbeConfig::default()
    };
    assert!(linear_dropout.check().is_err());
}

#[test]
fn balanced_class_weights_help_the_minority() {
    // The weights themselves are pinned against scikit-learn in `train.rs`'s unit tests.
    // Two overlapping classes, 9 to 1 in training, balanced in the test split: weighting
    // the rare class makes the probe find more of it.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut points = Vec::new();
    for i in 0..600 {
        let test = i % 3 == 0;
        let class = if test {
            i % 2
        } else {
            usize::from(i % 10 == 1)
        };
        let centre = if class == 1 { 0.8 } else { -0.8 };
        let x = centre + rng.random_range(-1.5f32..1.5);
        // No validation split: the last epoch is kept, so early stopping on an imbalanced
        // validation accuracy does not undo the weighting.
        let split = if test { "test" } else { "train" };
        points.push((vec![x], class, split));
    }
    let (tracks, emb) = point_tables(&["common", "rare"], &points);
    let rare_recall = |class_weight| {
        let config = ProbeConfig {
            class_weight,
            epochs: 100,
            learning_rate: 0.01,
            patience: 100,
            ..ProbeConfig::default()
        };
        let out = run(&config, 0, 0, &tracks, &emb).unwrap();
        let (mut found, mut rare) = (0, 0);
        for p in out.predictions.iter().filter(|p| p.split == Split::Test) {
            let i: usize = p.track_id[1..].parse().unwrap();
            if points[i].1 == 1 {
                rare += 1;
                found += usize::from(p.scores[1] > p.scores[0]);
            }
        }
        found as f64 / rare as f64
    };
    let (plain, balanced) = (
        rare_recall(ClassWeight::None),
        rare_recall(ClassWeight::Balanced),
    );
    eprintln!("rare-class recall: {plain:.3} unweighted, {balanced:.3} balanced");
    assert!(
        balanced > plain + 0.2,
        "rare-class recall: {plain:.3} unweighted, {balanced:.3} balanced"
    );
}

#[test]
fn reduce_on_plateau_and_the_selection_metric() {
    let (tracks, emb) = xor_tables();
    let config = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![16],
        epochs: 80,
        learning_rate: 0.05,
        batch_size: 16,
        patience: 80,
        selection: Selection::F1Macro,
        reduce_on_plateau: Some(Plateau {
            factor: 0.5,
            patience: 3,
            min_lr: 0.01,
        }),
        ..ProbeConfig::default()
    };
    let out = run(&config, 0, 0, &tracks, &emb).unwrap();
    let rates: Vec<f64> = out.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(rates[0], 0.05);
    assert!(
        rates.windows(2).any(|w| w[1] < w[0]),
        "the rate was reduced"
    );
    let mut best = f64::MIN;
    let mut stale = 0;
    for (e, w) in out.epochs.iter().zip(rates.windows(2)) {
        let m = e.validation_metric.unwrap();
        if m > best {
            best = m;
            stale = 0;
        } else {
            stale += 1;
        }
        // A reduction follows `patience` epochs without improvement, and only that.
        if w[1] < w[0] {
            assert!(
                stale >= 3,
                "reduced after {stale} stale epochs at epoch {}",
                e.epoch
            );
            assert!((w[1] - (w[0] * 0.5).max(0.01)).abs() < 1e-12);
            stale = 0;
        }
    }
    assert!(rates.iter().all(|&r| r >= 0.01), "never below min_lr");

    // The logged metric is the validation macro F1 of the restored best epoch.
    let best_epoch = out
        .epochs
        .iter()
        .max_by(|a, b| {
            a.validation_metric
                .unwrap()
                .total_cmp(&b.validation_metric.unwrap())
                .then(b.epoch.cmp(&a.epoch))
        })
        .unwrap();
    let truth = xor_truth(&tracks);
    let mut counts = [(0, 0, 0); 2];
    for p in out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Validation)
    {
        let (predicted, actual) = (usize::from(p.scores[1] > p.scores[0]), truth[&p.track_id]);
        if predicted == actual {
            counts[actual].0 += 1;
        } else {
            counts[predicted].1 += 1;
            counts[actual].2 += 1;
        }
    }
    let f1 = counts
        .iter()
        .map(|&(tp, fp, fn_)| 2.0 * f64::from(tp) / f64::from(2 * tp + fp + fn_))
        .sum::<f64>()
        / 2.0;
    assert!(
        (f1 - best_epoch.validation_metric.unwrap()).abs() < 1e-9,
        "restored model's validation F1 {f1} vs best logged {:?}",
        best_epoch.validation_metric
    );
}

#[test]
fn hyperparameter_search_keeps_the_best_candidate_and_says_which() {
    let (tracks, emb) = xor_tables();
    let base = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![8],
        epochs: 150,
        batch_size: 16,
        patience: 150,
        ..ProbeConfig::default()
    };
    let config = ProbeConfig {
        search: Some(Search {
            learning_rate: vec![1e-5, 0.01],
            hidden: vec![vec![2], vec![32, 16]],
            ..Search::default()
        }),
        ..base.clone()
    };
    let out = run(&config, 0, 0, &tracks, &emb).unwrap();
    let chosen: serde_json::Value =
        serde_json::from_str(out.hyperparameters.as_deref().unwrap()).unwrap();
    assert_eq!(chosen["learning_rate"], 0.01, "{chosen}");
    assert_eq!(chosen["hidden"], serde_json::json!([32, 16]), "{chosen}");
    // The kept predictions are those of the chosen candidate trained alone.
    let alone = run(
        &ProbeConfig {
            learning_rate: 0.01,
            hidden: vec![32, 16],
            ..base.clone()
        },
        0,
        0,
        &tracks,
        &emb,
    )
    .unwrap();
    assert_eq!(out.predictions, alone.predictions);
    let accuracy = xor_accuracy(&out);
    assert!(accuracy > 0.8, "XOR accuracy {accuracy}");
    // The choice is written into both tables' metadata.
    let ids = mir_probe::RunIds {
        dataset: "points".into(),
        task: "xor".into(),
        model: "m".into(),
        layer: 0,
        probe: "searched".into(),
        seed: 0,
    };
    let (p, l) = mir_probe::output_schemas(&ids, &out).unwrap();
    for schema in [p, l] {
        assert_eq!(
            Metadata::of(&schema)
                .0
                .get(keys::HYPERPARAMETERS)
                .map(String::as_str),
            out.hyperparameters.as_deref()
        );
    }

    // A seeded random sample of the grid: 2 of its 8 combinations, the same for the same seed.
    let sampled = Search {
        learning_rate: vec![1e-3, 1e-2],
        dropout: vec![0.0, 0.2],
        weight_decay: vec![0.0, 1e-4],
        random: Some(2),
        ..Search::default()
    };
    let a = sampled.candidates(&base, 7);
    assert_eq!(a.len(), 2);
    assert_eq!(
        a.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        sampled
            .candidates(&base, 7)
            .iter()
            .map(|c| c.1.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        Search {
            random: None,
            ..sampled
        }
        .candidates(&base, 7)
        .len(),
        8
    );
}

#[test]
fn a_saved_probe_reloads_to_the_same_scores() {
    let (tracks, emb) = xor_tables();
    for batch_norm in [false, true] {
        saved_probe_reloads(&tracks, &emb, batch_norm);
    }
}

#[test]
fn batch_norm_mlp_learns_xor_reproducibly() {
    let (tracks, emb) = xor_tables();
    let config = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![32, 16],
        batch_norm: true,
        epochs: 150,
        learning_rate: 0.01,
        batch_size: 16,
        patience: 150,
        ..ProbeConfig::default()
    };
    let a = run(&config, 2, 0, &tracks, &emb).unwrap();
    let b = run(&config, 2, 0, &tracks, &emb).unwrap();
    assert_eq!(a.predictions, b.predictions);
    let accuracy = xor_accuracy(&a);
    assert!(accuracy > 0.85, "batch-norm MLP on XOR: {accuracy}");
    assert!(
        ProbeConfig {
            batch_norm: true,
            ..ProbeConfig::default()
        }
        .check()
        .is_err()
    );
}

fn saved_probe_reloads(tracks: &Table, emb: &[Table], batch_norm: bool) {
    let config = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![16, 8],
        activation: Activation::Tanh,
        batch_norm,
        epochs: 30,
        learning_rate: 0.01,
        ..ProbeConfig::default()
    };
    let out = run(&config, 1, 0, tracks, emb).unwrap();
    // Through JSON and bytes, as `model.json` and `model.bpk`.
    let (saved, weights) = out.saved.as_ref().unwrap();
    let json = serde_json::to_string(saved).unwrap();
    let saved: mir_probe::SavedProbe = serde_json::from_str(&json).unwrap();
    assert_eq!(saved.sizes, [2, 16, 8, 2]);
    let rows = mir_table::read_embeddings(&emb[0]).unwrap();
    let test: Vec<_> = out
        .predictions
        .iter()
        .filter(|p| p.split == Split::Test)
        .collect();
    let x: Vec<f32> = test
        .iter()
        .flat_map(|p| {
            rows.iter()
                .find(|r| r.track_id == p.track_id)
                .unwrap()
                .embedding
                .clone()
        })
        .collect();
    let scores = saved.predict(weights, &x).unwrap();
    assert_eq!(scores.len(), test.len());
    for (s, p) in scores.iter().zip(&test) {
        for (a, b) in s.iter().zip(&p.scores) {
            assert!(
                (a - b).abs() < 1e-6,
                "{}: {s:?} vs {:?}",
                p.track_id,
                p.scores
            );
        }
    }
    assert!(saved.predict(b"not a burnpack file", &x).is_err());
}

/// `backend: wgpu` trains on a GPU where the `gpu` feature is built, is an error naming what
/// wgpu found where there is no GPU, and is refused with the way to get it without the feature.
#[test]
fn wgpu_backend_trains_or_says_how_to_build_it() {
    let config = ProbeConfig {
        backend: Backend::Wgpu,
        epochs: 5,
        ..config()
    };
    if cfg!(feature = "gpu") {
        let (tracks, emb) = tables();
        // On a GPU it trains; on a machine with none (or only a CPU rasterizer) it is an error
        // saying so, never a silent run on the CPU.
        match run(&config, 0, 0, &tracks, &emb) {
            Ok(out) => assert_eq!(row_counts(&out), (18, 18, 18)),
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("asks for a GPU, and wgpu finds"), "{e}");
                eprintln!("no GPU here: {e}");
            }
        }
    } else {
        let err = config.check().unwrap_err().to_string();
        assert!(err.contains("--features gpu"), "{err}");
    }
}

/// The plain-data probe: the same seed gives the same scores, and rows that do not fit the
/// dimension or labels outside the classes are errors that say so.
#[test]
fn plain_rows_fit_and_predict() {
    let x: Vec<f32> = (0..60)
        .map(|i| (i % 6) as f32 + (i / 6) as f32 * 0.01)
        .collect();
    let y: Vec<usize> = (0..20).map(|i| i % 2).collect();
    let config = ProbeConfig {
        epochs: 5,
        ..ProbeConfig::default()
    };
    let a = mir_probe::fit_classifier(&config, 3, &x, 3, &y, 2).unwrap();
    let b = mir_probe::fit_classifier(&config, 3, &x, 3, &y, 2).unwrap();
    let (pa, pb) = (a.predict(&x).unwrap(), b.predict(&x).unwrap());
    assert_eq!(pa, pb);
    assert_eq!(pa.len(), 20);
    assert!(
        pa.iter()
            .all(|p| (p.iter().sum::<f32>() - 1.0).abs() < 1e-5)
    );
    let err = mir_probe::fit_classifier(&config, 3, &x[..59], 3, &y, 2).unwrap_err();
    assert!(
        err.to_string().contains("59 values are not 20 rows of 3"),
        "{err}"
    );
    let err = mir_probe::fit_classifier(&config, 3, &x, 3, &y, 1).unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
}

mod neighbors;
