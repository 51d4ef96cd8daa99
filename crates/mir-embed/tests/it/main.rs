//! Integration tests: the built-in embeddings against reference values from librosa; ONNX
//! models in [`onnx`].

#[cfg(feature = "onnx")]
mod encoder;
mod onnx;
mod python;

use mir_embed::Embedder;
use mir_embed::logmel::{LogMel, LogMelConfig};

/// Largest allowed difference from librosa, in dB. librosa computes the STFT in float32 too;
/// the remaining differences come from FFT rounding and summation order.
const MAX_DB_DELTA: f32 = 0.01;

#[derive(serde::Deserialize)]
struct Reference {
    frames: usize,
    embedding: Vec<f32>,
    spectrogram_frame_10: Vec<f32>,
}

/// The signal described in `tests/data/librosa_logmel.json`.
fn signal() -> Vec<f32> {
    let sr = 22_050.0;
    let n = 33_075;
    (0..n)
        .map(|i| {
            if i >= 26_460 {
                return 0.0;
            }
            let t = i as f64;
            let y = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * t / sr).sin()
                + 0.25
                    * (2.0 * std::f64::consts::PI * 1234.5 * t / sr + 0.3).sin()
                    * (t / n as f64);
            y as f32
        })
        .collect()
}

fn check(name: &str, ours: &[f32], reference: &[f32]) {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    let (worst, at) = ours
        .iter()
        .zip(reference)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0f32, 0), |m, x| if x.0 > m.0 { x } else { m });
    assert!(
        worst <= MAX_DB_DELTA,
        "{name}: differs from librosa by {worst} dB at index {at} (ours {}, librosa {})",
        ours[at],
        reference[at]
    );
}

#[test]
fn logmel_matches_librosa_defaults() {
    let reference: Reference =
        serde_json::from_str(include_str!("../data/librosa_logmel.json")).unwrap();
    let model = LogMel::new(LogMelConfig::default()).unwrap();
    let y = signal();
    let spec = model.spectrogram(&y);
    assert_eq!(spec.len(), reference.frames);
    check(
        "spectrogram frame 10",
        &spec[10],
        &reference.spectrogram_frame_10,
    );
    let windows = model.embed(&y).unwrap();
    assert_eq!(windows.len(), 1);
    check("embedding", &windows[0].embedding, &reference.embedding);
    assert_eq!(model.info().dims, [reference.embedding.len()]);
}

#[derive(serde::Deserialize)]
struct FeatureReference {
    frames: usize,
    frame_values: std::collections::BTreeMap<String, Vec<f64>>,
    embedding: Vec<f64>,
}

fn features_reference(name: &str) -> FeatureReference {
    let all: serde_json::Value =
        serde_json::from_str(include_str!("../data/librosa_features.json")).unwrap();
    serde_json::from_value(all[name].clone()).unwrap()
}

/// Largest difference over `ours` vs `reference`, allowing `abs + rel * |reference|`.
fn check_close(name: &str, ours: &[f32], reference: &[f64], abs: f64, rel: f64) {
    assert_eq!(ours.len(), reference.len(), "{name}: length");
    for (i, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        let diff = (f64::from(a) - b).abs();
        assert!(
            diff <= abs + rel * b.abs(),
            "{name}[{i}]: ours {a}, librosa {b} (difference {diff})"
        );
    }
}

/// Frame `t` of frame features (`frames x dims`) against the reference's (`dims`).
fn check_frames(name: &str, frames: &[Vec<f32>], reference: &FeatureReference, abs: f64, rel: f64) {
    assert_eq!(frames.len(), reference.frames, "{name}: frame count");
    for (t, values) in &reference.frame_values {
        let t: usize = t.parse().unwrap();
        check_close(&format!("{name} frame {t}"), &frames[t], values, abs, rel);
    }
}

#[test]
fn mfcc_and_deltas_match_librosa_defaults() {
    use mir_embed::features::{Mfcc, MfccConfig};
    let reference = features_reference("mfcc");
    let model = Mfcc::new(MfccConfig {
        sample_rate_hz: 22_050,
        n_fft: 2048,
        hop_length: 512,
        n_mels: 128,
        n_mfcc: 20,
        deltas: true,
        window_s: None,
        hop_s: None,
    })
    .unwrap();
    let y = signal();
    // The log-mel bands agree within 0.01 dB; an orthonormal DCT of 128 of them within 0.05.
    check_frames("mfcc", &model.features(&y), &reference, 0.05, 0.0);
    let windows = model.embed(&y).unwrap();
    check_close(
        "mfcc embedding",
        &windows[0].embedding,
        &reference.embedding,
        0.05,
        0.0,
    );
    assert_eq!(model.info().dims, [120]);
}

#[test]
fn chroma_matches_librosa_with_a440_tuning() {
    use mir_embed::features::{Chroma, ChromaConfig};
    let reference = features_reference("chroma");
    let model = Chroma::new(ChromaConfig {
        sample_rate_hz: 22_050,
        n_fft: 2048,
        hop_length: 512,
        n_chroma: 12,
        tuning: 0.0,
        window_s: None,
        hop_s: None,
    })
    .unwrap();
    let y = signal();
    let frames = model.features(&y);
    check_frames("chroma", &frames, &reference, 1e-4, 0.0);
    // 440 Hz is A: the strongest chroma of a sounding frame.
    let a = frames[10]
        .iter()
        .enumerate()
        .max_by(|x, y| x.1.total_cmp(y.1))
        .unwrap()
        .0;
    assert_eq!(a, 9);
    check_close(
        "chroma embedding",
        &model.embed(&y).unwrap()[0].embedding,
        &reference.embedding,
        1e-4,
        0.0,
    );
}

#[test]
fn spectral_statistics_match_librosa() {
    use mir_embed::features::{Spectral, SpectralConfig};
    let reference = features_reference("spectral");
    let model = Spectral::new(SpectralConfig {
        sample_rate_hz: 22_050,
        n_fft: 2048,
        hop_length: 512,
        roll_percent: 0.85,
        window_s: None,
        hop_s: None,
    })
    .unwrap();
    // The signal with a noise floor (see `librosa_features.py`): pure tones leave only FFT
    // rounding noise in the floor, which bandwidth and flatness weigh heavily.
    let y: Vec<f32> = signal()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let lcg = (1_103_515_245u64 * i as u64 + 12_345) % (1 << 31);
            (f64::from(v) + 2e-3 * (lcg as f64 / f64::from(1u32 << 31) - 0.5)) as f32
        })
        .collect();
    check_frames("spectral", &model.features(&y), &reference, 1e-6, 1e-4);
    let embedding = &model.embed(&y).unwrap()[0].embedding;
    check_close(
        "spectral embedding",
        embedding,
        &reference.embedding,
        1e-6,
        1e-4,
    );
}
