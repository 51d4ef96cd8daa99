//! Integration tests: the built-in embeddings against reference values from librosa.

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
        serde_json::from_str(include_str!("data/librosa_logmel.json")).unwrap();
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
    assert_eq!(model.info().dim, reference.embedding.len());
}
