//! Decode + mono mix-down + resample to 22.05 kHz, one thread, 60 s of 44.1 kHz stereo music-like
//! audio as 16-bit WAV and as 192 kbps MP3. Criterion's `elem/s` is seconds of audio per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_datasets::audio::load;
use mir_datasets::fixtures::stereo_music;

const SECONDS: u64 = 60;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let [wav, mp3] = stereo_music(dir.path(), SECONDS as u32).expect("music files");
    let mut group = c.benchmark_group("decode_resample_60s_44k_stereo_to_22k_mono");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SECONDS));
    for (name, path) in [("wav", &wav), ("mp3", &mp3)] {
        group.bench_function(name, |b| b.iter(|| load(path, Some(22_050)).expect("load")));
        group.bench_function(format!("{name}_native_rate"), |b| {
            b.iter(|| load(path, None).expect("load"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
