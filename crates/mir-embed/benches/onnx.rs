//! The overhead of our ONNX extraction over bare `Session::run`, on basic-pitch: 32 tracks of
//! 3 s at 22.05 kHz (64 windows), one ONNX Runtime thread, batches of 16 windows.
//!
//! `bare_session_run`: the four prebuilt input batches through `Session::run`, outputs read
//! but not pooled. `embed_batch`: the same tracks through [`OnnxEmbedder::embed_batch`]
//! (windowing, tensor building, the same four runs, pooling of the note and onset layers, rows).
//! `batch_size/N`: `embed_batch` of the same tracks in runs of N windows, for the automatic
//! batch size's choice (`mir_embed::onnx::auto_batch_size`, 11 for basic-pitch).
//! Needs `cargo xtask setup-ort` and `cargo xtask models fetch basic-pitch`; says so otherwise.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mir_embed::Embedder;
use mir_embed::onnx::{OnnxConfig, OnnxEmbedder, runtime};
use ort::session::Session;
use ort::value::TensorRef;

const SR: usize = 22_050;
const TRACKS: usize = 32;

fn track(k: usize) -> Vec<f32> {
    let f = 110.0 * 2f32.powf(k as f32 / 12.0);
    (0..3 * SR)
        .map(|i| {
            let t = i as f32 / SR as f32;
            (1..=6)
                .map(|h| (std::f32::consts::TAU * f * h as f32 * t).sin() / h as f32)
                .sum::<f32>()
                * 0.2
                * (-t).exp()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/models/basic-pitch.yml");
    let config = OnnxConfig {
        threads: Some(1),
        ..OnnxConfig::new(&card)
    };
    if let Some(why) = config.missing() {
        eprintln!("onnx benchmark skipped: {why}");
        return;
    }
    let model = OnnxEmbedder::new(&OnnxConfig {
        batch_size: Some(16),
        ..config.clone()
    })
    .expect("basic-pitch");
    let tracks: Vec<Vec<f32>> = (0..TRACKS).map(track).collect();
    let refs: Vec<&[f32]> = tracks.iter().map(Vec::as_slice).collect();

    // The batches the embedder builds, built once for the bare runs.
    let windows: Vec<&[f32]> = refs
        .iter()
        .flat_map(|t| {
            model
                .window_starts(t.len())
                .into_iter()
                .map(move |s| &t[s..(s + 43_844).min(t.len())])
        })
        .collect();
    let batches: Vec<_> = windows
        .chunks(model.batch_size())
        .map(|w| model.input_batch(w))
        .collect();
    let mut session = Session::builder(runtime::runtime().expect("runtime"))
        .expect("builder")
        .with_intra_threads(1)
        .expect("threads")
        .commit_from_file(model.card().model_path(&card))
        .expect("session");
    let outputs = ["StatefulPartitionedCall:1", "StatefulPartitionedCall:2"];

    let mut group = c.benchmark_group("basic_pitch_64_windows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(windows.len() as u64));
    group.bench_function("bare_session_run", |b| {
        b.iter(|| {
            for batch in &batches {
                let input =
                    TensorRef::from_array_view((batch.shape.clone(), batch.data.as_slice()))
                        .expect("tensor");
                let out = session
                    .run(ort::inputs!["serving_default_input_2:0" => input])
                    .expect("run");
                for name in outputs {
                    let (_, values) = out[name].try_extract_tensor::<f32>().expect("f32");
                    std::hint::black_box(values[0]);
                }
            }
        })
    });
    group.bench_function("embed_batch", |b| {
        b.iter(|| {
            for r in model.embed_batch(&refs) {
                std::hint::black_box(r.expect("embed"));
            }
        })
    });
    for n in [1, 4, 11, 16, 32, 64] {
        let model = OnnxEmbedder::new(&OnnxConfig {
            batch_size: Some(n),
            ..config.clone()
        })
        .expect("basic-pitch");
        group.bench_function(format!("batch_size/{n}"), |b| {
            b.iter(|| {
                for r in model.embed_batch(&refs) {
                    std::hint::black_box(r.expect("embed"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
