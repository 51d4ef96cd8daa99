//! Built-in embedding throughput: 60 s of music-like audio at 22.05 kHz, one thread, whole
//! track summarised. Criterion's `elem/s` is seconds of audio per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_embed::{ModelConfig, build};

const SR: usize = 22_050;
const SECONDS: u64 = 60;

fn music() -> Vec<f32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..SECONDS as usize * SR)
        .map(|i| {
            let t = i as f32 / SR as f32;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let noise = (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            [220.0, 277.2, 329.6, 440.0]
                .iter()
                .map(|f| (std::f32::consts::TAU * f * t + (5.0 * t).sin()).sin() * 0.15)
                .sum::<f32>()
                + 0.01 * noise
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let audio = music();
    let mut group = c.benchmark_group("embed_60s_22khz");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SECONDS));
    for (name, yaml) in [
        ("logmel", "{type: logmel}"),
        ("mfcc", "{type: mfcc}"),
        ("chroma", "{type: chroma}"),
        ("spectral", "{type: spectral}"),
    ] {
        let config: ModelConfig = serde_yaml::from_str(yaml).expect("model config");
        let model = build(&config).expect("model");
        group.bench_function(name, |b| b.iter(|| model.embed(&audio).expect("embed")));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
