//! The confusion pages' spectrogram images: one PNG of a 2 s note (TinySOL's length) and of
//! 30 s (the most of a track a report shows), and the mel analysis alone. Criterion's
//! `elem/s` is seconds of audio per second (the real-time factor).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_report::spectrogram::Renderer;

const SR: u32 = 22_050;

fn bench(c: &mut Criterion) {
    let renderer = Renderer::new(SR).expect("renderer");
    let mut group = c.benchmark_group("spectrogram");
    for seconds in [2, 30] {
        let samples = mir_audio::chord(seconds * SR as usize, SR, 0.15, 1.0);
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
