//! Integration tests: probes trained on tables built from separable synthetic embeddings.

use mir_probe::{Backend, ProbeConfig, ProbeKind, run};
use mir_table::{
    EmbeddingRow, Metadata, Table, TableKind, Track, embeddings_batch, keys, tracks_batch,
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
                split: split.into(),
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

fn accuracy(out: &mir_probe::ProbeOutput, deformation: &str) -> f64 {
    let test: Vec<_> = out
        .predictions
        .iter()
        .filter(|p| p.split == "test" && p.deformation == deformation)
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
    let count = |split: &str, d: &str| {
        out.predictions
            .iter()
            .filter(|p| p.split == split && p.deformation == d)
            .count()
    };
    assert_eq!(
        (
            count("validation", "clean"),
            count("test", "clean"),
            count("test", "shifted")
        ),
        (18, 18, 18)
    );
    assert!(
        accuracy(&out, "clean") >= 0.9,
        "{}",
        accuracy(&out, "clean")
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
    let a = run(&config(), 3, 0, &tracks, &emb).unwrap();
    let b = run(&config(), 3, 0, &tracks, &emb).unwrap();
    assert_eq!(a.predictions, b.predictions);
    let c = run(&config(), 4, 0, &tracks, &emb).unwrap();
    assert_ne!(a.predictions, c.predictions);
}

#[test]
fn mlp_and_flex_backend_train() {
    let (tracks, emb) = tables();
    let mlp = ProbeConfig {
        kind: ProbeKind::Mlp,
        hidden: vec![16],
        backend: Backend::Flex,
        ..config()
    };
    let out = run(&mlp, 0, 0, &tracks, &emb).unwrap();
    assert!(accuracy(&out, "clean") >= 0.9);
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
