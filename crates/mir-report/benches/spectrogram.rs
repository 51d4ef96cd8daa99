//! The confusion pages' spectrogram images: one PNG of a 2 s note (TinySOL's length) and of
//! 30 s (the most of a track a report shows), and the mel analysis alone. Criterion's
//! `elem/s` is seconds of audio per second (the real-time factor).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_report::spectrogram::Renderer;

const SR: u32 = 22_050;

/// A chord with vibrato: broadband, like music.
fn music(seconds: usize) -> Vec<f32> {
    (0..seconds * SR as usize)
        .map(|i| {
            let t = i as f32 / SR as f32;
            [220.0, 277.2, 329.6, 440.0]
                .iter()
                .map(|f| (std::f32::consts::TAU * f * t + (5.0 * t).sin()).sin() * 0.15)
                .sum()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let renderer = Renderer::new(SR).expect("renderer");
    let mut group = c.benchmark_group("spectrogram");
    for seconds in [2, 30] {
        let samples = music(seconds);
        group.throughput(Throughput::Elements(seconds as u64));
        group.bench_function(format!("png_{seconds}s"), |b| {
            b.iter(|| renderer.png(&samples).expect("png"))
        });
        group.bench_function(format!("mel_power_{seconds}s"), |b| {
            b.iter(|| renderer.mel_power(&samples))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
