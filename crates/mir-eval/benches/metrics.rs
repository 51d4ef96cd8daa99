//! Metric computation at scale: 100,000 tracks by 50 tags or classes (point estimates).

use criterion::{Criterion, criterion_group, criterion_main};
use mir_eval::{EvalConfig, Scores, Truth, compute};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const TRACKS: usize = 100_000;
const COLUMNS: usize = 50;

fn data() -> (Vec<bool>, Vec<usize>, Scores, Vec<String>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let tags: Vec<bool> = (0..TRACKS * COLUMNS)
        .map(|_| rng.random_bool(0.1))
        .collect();
    let classes: Vec<usize> = (0..TRACKS).map(|_| rng.random_range(0..COLUMNS)).collect();
    let rows: Vec<Vec<f32>> = (0..TRACKS)
        .map(|i| {
            (0..COLUMNS)
                .map(|j| rng.random::<f32>() + if tags[i * COLUMNS + j] { 0.3 } else { 0.0 })
                .collect()
        })
        .collect();
    let names = (0..COLUMNS).map(|j| format!("tag{j}")).collect();
    (tags, classes, Scores::new(&rows, COLUMNS), names)
}

fn bench(c: &mut Criterion) {
    let (tags, classes, scores, names) = data();
    let idx: Vec<usize> = (0..TRACKS).collect();
    let config = EvalConfig::default();
    let mut group = c.benchmark_group("metrics_100k_x_50");
    group.sample_size(10);
    let multilabel = Truth::Tags(tags);
    group.bench_function("multilabel", |b| {
        b.iter(|| compute(&multilabel, &scores, &names, &idx, &config))
    });
    let multiclass = Truth::Classes(classes);
    group.bench_function("multiclass", |b| {
        b.iter(|| compute(&multiclass, &scores, &names, &idx, &config))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
