//! Probe training speed: a 512-256-128-10 MLP, 20 epochs on 10,000 x 512 embeddings, batch 64
//! (the shape of the design's reference measurement with scikit-learn's MLPClassifier).

use criterion::{Criterion, criterion_group, criterion_main};
use mir_probe::train::{Dataset, Targets, train};
use mir_probe::{Backend, ProbeConfig, ProbeKind};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

// The allocator `cargo xtask experiment` uses (see xtask/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn data(n: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let y: Vec<i64> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let x = y
        .iter()
        .flat_map(|&c| {
            (0..512)
                .map(move |j| if j % 10 == c as usize { 1.0 } else { 0.0 })
                .collect::<Vec<f32>>()
        })
        .map(|v| v + rng.random_range(-1.0..1.0))
        .collect();
    Dataset {
        x,
        y: Targets::Classes(y),
        dim: 512,
        width: 10,
    }
}

fn bench(c: &mut Criterion) {
    let train_set = data(10_000);
    let validation = Dataset::empty(512, 10, &train_set.y);
    let mut group = c.benchmark_group("probe_mlp_512_256_128_10_20_epochs_10k");
    group.sample_size(10);
    for backend in [Backend::Ndarray, Backend::Flex] {
        let config = ProbeConfig {
            kind: ProbeKind::Mlp,
            hidden: vec![256, 128],
            epochs: 20,
            batch_size: 64,
            backend,
            ..ProbeConfig::default()
        };
        group.bench_function(format!("{backend:?}"), |b| {
            b.iter(|| train(&config, &train_set, &validation, 0).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
