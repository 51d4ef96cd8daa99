//! Probe training speed: a 512-256-128-10 MLP, 20 epochs on 10,000 x 512 embeddings, batch 64
//! (the shape of the design's reference measurement with scikit-learn's MLPClassifier).

use criterion::{Criterion, criterion_group, criterion_main};
use mir_probe::{Backend, ProbeConfig, ProbeKind, fit_classifier};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

// The allocator `cargo xtask experiment` uses (see xtask/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `n` rows of 512 values and their classes (0 to 9).
fn data(n: usize) -> (Vec<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let y: Vec<usize> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let x = y
        .iter()
        .flat_map(|&c| {
            (0..512)
                .map(move |j| if j % 10 == c { 1.0 } else { 0.0 })
                .collect::<Vec<f32>>()
        })
        .map(|v| v + rng.random_range(-1.0..1.0))
        .collect();
    (x, y)
}

fn bench(c: &mut Criterion) {
    let (x, y) = data(10_000);
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
            b.iter(|| fit_classifier(&config, 0, &x, 512, &y, 10).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
