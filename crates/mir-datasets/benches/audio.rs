//! Decode + mono mix-down + resample to 22.05 kHz, one thread, 60 s of 44.1 kHz stereo music-like
//! audio as 16-bit WAV and as 192 kbps MP3. Criterion's `elem/s` is seconds of audio per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_datasets::audio::load;
use mp3lame_encoder::{Bitrate, Builder, DualPcm, FlushGap};

const SR: u32 = 44_100;
const SECONDS: u64 = 60;

fn music() -> [Vec<f32>; 2] {
    let n = SECONDS as usize * SR as usize;
    let channel = |detune: f32| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / SR as f32;
                [220.0, 277.2, 329.6, 440.0]
                    .iter()
                    .map(|f| (std::f32::consts::TAU * f * detune * t + (5.0 * t).sin()).sin() * 0.2)
                    .sum()
            })
            .collect()
    };
    [channel(1.0), channel(1.003)]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let [l, r] = music();
    let wav = dir.path().join("music.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: SR,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).expect("wav");
    for (a, b) in l.iter().zip(&r) {
        w.write_sample((a * 32767.0) as i16).expect("sample");
        w.write_sample((b * 32767.0) as i16).expect("sample");
    }
    w.finalize().expect("wav");
    let mp3 = dir.path().join("music.mp3");
    let mut builder = Builder::new().expect("LAME");
    builder.set_num_channels(2).expect("channels");
    builder.set_sample_rate(SR).expect("rate");
    builder.set_brate(Bitrate::Kbps192).expect("bitrate");
    let mut enc = builder.build().expect("LAME");
    let mut out = Vec::with_capacity(l.len() * 2);
    enc.encode_to_vec(
        DualPcm {
            left: &l,
            right: &r,
        },
        &mut out,
    )
    .expect("encode");
    enc.flush_to_vec::<FlushGap>(&mut out).expect("flush");
    std::fs::write(&mp3, out).expect("mp3");

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
