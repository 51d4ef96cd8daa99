//! ONNX models through model cards: basic-pitch (a real pretrained network) against Python
//! onnxruntime, the log-mel front end against librosa, and card errors.
//!
//! These need ONNX Runtime (`cargo xtask setup-ort`) and basic-pitch's file (`cargo xtask models
//! fetch basic-pitch`); `cargo xtask ci` provides both and sets `MIRREF_REQUIRE_MODELS=1`, which
//! turns a missing one into a failure. Without it the tests say what is missing and pass.

use std::path::{Path, PathBuf};

use mir_embed::Embedder;
use mir_embed::onnx::{OnnxConfig, OnnxEmbedder};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Whether ONNX Runtime (and, for basic-pitch, its file) is here; panics under
/// `MIRREF_REQUIRE_MODELS` when not.
pub(crate) fn available(basic_pitch: bool) -> bool {
    let mut missing = Vec::new();
    if let Err(e) = mir_embed::onnx::runtime::runtime() {
        missing.push(format!("{e}"));
    }
    let model = root().join("models/basic-pitch-0.4.0/nmp.onnx");
    if basic_pitch && !model.is_file() {
        missing.push(format!(
            "{} is missing: run `cargo xtask models fetch basic-pitch`",
            model.display()
        ));
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("MIRREF_REQUIRE_MODELS").is_none(),
        "MIRREF_REQUIRE_MODELS is set but: {}",
        missing.join("; ")
    );
    eprintln!("skipped: {}", missing.join("; "));
    false
}

fn basic_pitch(layers: &[&str]) -> OnnxEmbedder {
    OnnxEmbedder::new(&OnnxConfig {
        layers: layers.iter().map(|&s| s.into()).collect(),
        threads: Some(1),
        ..OnnxConfig::new(root().join("configs/models/basic-pitch.yml"))
    })
    .unwrap()
}

// The signals of tests/data/basic_pitch_reference.py.
const SR: f64 = 22_050.0;

fn tone(midi: i32, n: usize) -> Vec<f64> {
    let f0 = 440.0 * 2f64.powf(f64::from(midi - 69) / 12.0);
    (0..n)
        .map(|i| {
            let t = i as f64 / SR;
            let x: f64 = (1..=8)
                .filter(|&k| f64::from(k) * f0 < SR / 2.0)
                .map(|k| (2.0 * std::f64::consts::PI * f64::from(k) * f0 * t).sin() / f64::from(k))
                .sum();
            let env = (t / 0.01).min(1.0) * (-t / 0.8).exp();
            0.3 * x * env
        })
        .collect()
}

fn note(midi: i32) -> Vec<f32> {
    tone(midi, SR as usize)
        .into_iter()
        .map(|x| x as f32)
        .collect()
}

#[derive(serde::Deserialize)]
struct NoteRef {
    midi: i32,
    note: Vec<f32>,
    onset: Vec<f32>,
    contour: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct MelodyRef {
    midi: Vec<i32>,
    windows: usize,
    note: Vec<Vec<f32>>,
    onset: Vec<Vec<f32>>,
    contour: Vec<Vec<f32>>,
    note_raw_window1_every37: Vec<f32>,
}

#[derive(serde::Deserialize)]
struct Reference {
    notes: Vec<NoteRef>,
    melody: MelodyRef,
}

fn reference() -> Reference {
    serde_json::from_str(&std::fs::read_to_string(data("basic_pitch_reference.json")).unwrap())
        .unwrap()
}

fn melody(midi: &[i32]) -> Vec<f32> {
    midi.iter()
        .flat_map(|&m| tone(m, SR as usize))
        .map(|x| x as f32)
        .collect()
}

/// Outputs may differ from Python onnxruntime's by this much (the bound).
const TOLERANCE: f32 = 1e-4;

fn assert_close(what: &str, ours: &[f32], reference: &[f32]) {
    assert_eq!(ours.len(), reference.len(), "{what}: length");
    let (worst, at) = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold(
            (0f32, 0),
            |(w, at), (i, d)| if d > w { (d, i) } else { (w, at) },
        );
    assert!(
        worst <= TOLERANCE,
        "{what}: differs by {worst} at {at} ({} vs {})",
        ours[at],
        reference[at]
    );
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(
            (0, f32::MIN),
            |(b, m), (i, &x)| if x > m { (i, x) } else { (b, m) },
        )
        .0
}

#[test]
fn basic_pitch_names_every_test_note_and_matches_onnxruntime() {
    if !available(true) {
        return;
    }
    let reference = reference();
    // All three outputs, of two widths, from one model entry: one run per window.
    let model = basic_pitch(&["note", "onset", "contour"]);
    assert_eq!(model.info().layers, ["note", "onset", "contour"]);
    assert_eq!(model.info().dims, [88, 88, 264]);
    for r in &reference.notes {
        let audio = note(r.midi);
        let rows = model.embed(&audio).unwrap();
        assert_eq!(rows.len(), 3, "one window, three layers");
        // Bin 0 is A0, MIDI 21.
        assert_eq!(
            argmax(&rows[0].embedding) as i32 + 21,
            r.midi,
            "note output"
        );
        assert_close(&format!("note {}", r.midi), &rows[0].embedding, &r.note);
        assert_close(&format!("onset {}", r.midi), &rows[1].embedding, &r.onset);
        assert_close(
            &format!("contour {}", r.midi),
            &rows[2].embedding,
            &r.contour,
        );
    }
}

#[test]
fn basic_pitch_windows_and_raw_outputs_match_onnxruntime() {
    if !available(true) {
        return;
    }
    let r = reference().melody;
    let audio = melody(&r.midi);
    let model = basic_pitch(&["note", "onset"]);
    let rows = model.embed(&audio).unwrap();
    assert_eq!(rows.len(), 2 * r.windows);
    for w in 0..r.windows {
        let (n, o) = (&rows[w], &rows[r.windows + w]);
        assert_eq!(
            (n.layer, n.window, o.layer, o.window),
            (0, w as i32, 1, w as i32)
        );
        assert!((n.start_s - (w * 36_164) as f32 / 22_050.0).abs() < 1e-6);
        assert_close(&format!("note window {w}"), &n.embedding, &r.note[w]);
        assert_close(&format!("onset window {w}"), &o.embedding, &r.onset[w]);
    }
    let c = basic_pitch(&["contour"]).embed(&audio).unwrap();
    assert_eq!(c.len(), r.windows);
    for (w, c) in c.iter().enumerate() {
        assert_close(&format!("contour window {w}"), &c.embedding, &r.contour[w]);
    }

    // The raw note output of window 1, through a card without pooling.
    let dir = tempfile::tempdir().unwrap();
    let card = std::fs::read_to_string(root().join("configs/models/basic-pitch.yml"))
        .unwrap()
        .replace(
            "../../models/",
            &format!("{}/models/", root().canonicalize().unwrap().display()),
        )
        .replace(
            "{layer: note, name: \"StatefulPartitionedCall:1\", time_axis: 1, pooling: mean}",
            "{layer: note, name: \"StatefulPartitionedCall:1\"}",
        );
    let raw_card = dir.path().join("raw.yml");
    std::fs::write(&raw_card, card).unwrap();
    let raw = OnnxEmbedder::new(&OnnxConfig {
        layers: vec!["note".into()],
        ..OnnxConfig::new(raw_card)
    })
    .unwrap();
    assert_eq!(raw.info().dims, [172 * 88]);
    let rows = raw.embed(&audio).unwrap();
    let every37: Vec<f32> = rows[1].embedding.iter().step_by(37).copied().collect();
    assert_close("raw note output", &every37, &r.note_raw_window1_every37);
}

#[test]
fn windows_of_many_tracks_share_batches_with_the_same_results() {
    if !available(true) {
        return;
    }
    let model = basic_pitch(&["note", "onset"]);
    let tracks: Vec<Vec<f32>> = [40, 60, 84]
        .iter()
        .map(|&m| note(m))
        .chain([melody(&[60, 64, 67, 72, 69]), Vec::new()])
        .collect();
    let refs: Vec<&[f32]> = tracks.iter().map(Vec::as_slice).collect();
    let batched = model.embed_batch(&refs);
    assert_eq!(batched.len(), tracks.len());
    for (t, b) in tracks.iter().zip(&batched) {
        let alone = model.embed(t).unwrap();
        let b = b.as_ref().unwrap();
        assert_eq!(b.len(), alone.len());
        for (x, y) in b.iter().zip(&alone) {
            assert_eq!((x.layer, x.window), (y.layer, y.window));
            assert_close("batched vs alone", &x.embedding, &y.embedding);
        }
    }
}

#[test]
fn logmel_front_end_matches_librosa() {
    if !available(false) {
        return;
    }
    #[derive(serde::Deserialize)]
    struct FrontEndRef {
        frames: usize,
        frame_5: Vec<f32>,
        band_means: Vec<f32>,
    }
    let r: FrontEndRef =
        serde_json::from_str(&std::fs::read_to_string(data("logmel_frontend.json")).unwrap())
            .unwrap();
    // The signal of tests/data/logmel_frontend_reference.py.
    let signal: Vec<f32> = (0..16_000)
        .map(|i| {
            if i >= 8_000 {
                return 0.0;
            }
            let t = f64::from(i);
            let y = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * t / 16_000.0).sin()
                + 0.25 * (2.0 * std::f64::consts::PI * 1000.0 * t / 16_000.0 + 0.3).sin();
            y as f32
        })
        .collect();
    let model = |layer: &str| {
        OnnxEmbedder::new(&OnnxConfig {
            layers: vec![layer.into()],
            threads: Some(1),
            ..OnnxConfig::new(data("tiny_logmel.yml"))
        })
        .unwrap()
    };
    // Values are log10(1 + 10000 x) of magnitudes up to about 7: compare relative to 1e-3.
    let close = |what: &str, ours: &[f32], reference: &[f32]| {
        for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
            assert!(
                (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs librosa {b}"
            );
        }
    };
    let frames = model("frames").embed(&signal).unwrap();
    assert_eq!(frames[0].embedding.len(), r.frames * 96);
    close("frame 5", &frames[0].embedding[5 * 96..6 * 96], &r.frame_5);
    let means = model("band_means").embed(&signal).unwrap();
    close("band means", &means[0].embedding, &r.band_means);
    let pooled = model("pooled").embed(&signal).unwrap();
    close("pooled frames", &pooled[0].embedding, &r.band_means);
}

/// The test card `<stem>.yml` with `edit` applied, as `card.yml` beside a copy of its model
/// `<stem>.onnx` in `dir`.
pub(crate) fn edited_card(dir: &Path, stem: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let model = format!("{stem}.onnx");
    std::fs::copy(data(&model), dir.join(&model)).unwrap();
    let card = dir.join("card.yml");
    let text = std::fs::read_to_string(data(&format!("{stem}.yml"))).unwrap();
    std::fs::write(&card, edit(text)).unwrap();
    card
}

/// The tiny log-mel card with `edit` applied (see [`edited_card`]).
fn tiny_card(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    edited_card(dir, "tiny_logmel", edit)
}

/// `normalize: per_window` standardises each window's tensor. The tiny model returns its
/// log-mel input, so with it the card gives each window's frames minus their mean over their
/// standard deviation: computed here, in f64, from the same card's frames without it. A
/// silent window (all frames equal) gives zeros, not NaN.
#[test]
fn per_window_normalisation_standardises_each_window() {
    if !available(false) {
        return;
    }
    // A chirp for 1.5 s, then 1.5 s of silence: windows of 1 s every 1 s.
    let signal: Vec<f32> = (0..48_000)
        .map(|i| {
            let t = f64::from(i) / 16_000.0;
            let y = if t < 1.5 {
                0.3 * (2.0 * std::f64::consts::PI * (200.0 + 900.0 * t) * t).sin()
            } else {
                0.0
            };
            y as f32
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let frames = |normalize: Option<&str>| {
        let edit = |c: String| match normalize {
            None => c,
            Some(n) => c.replace(
                "  hop_samples: 16000\n",
                &format!("  hop_samples: 16000\n  normalize: {n}\n"),
            ),
        };
        let card = tiny_card(dir.path(), edit);
        let model = OnnxEmbedder::new(&OnnxConfig {
            layers: vec!["frames".into()],
            threads: Some(1),
            ..OnnxConfig::new(card)
        })
        .unwrap();
        let rows = model.embed(&signal).unwrap();
        rows.into_iter().map(|r| r.embedding).collect::<Vec<_>>()
    };
    let raw = frames(None);
    assert_eq!(raw.len(), 3);
    let cases = [
        ("per_window", 0.0, 1e-7, 0.0),
        (
            "{per_window: {ddof: 1, epsilon: 0, floor: 1e-10}}",
            1.0,
            0.0,
            1e-10,
        ),
    ];
    for (spec, ddof, epsilon, floor) in cases {
        let got = frames(Some(spec));
        for (w, (x, y)) in raw.iter().zip(&got).enumerate() {
            let n = x.len() as f64;
            let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let ss: f64 = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum();
            let std = (ss / (n - ddof) + epsilon).sqrt().max(floor);
            for (i, (a, b)) in x.iter().zip(y).enumerate() {
                let want = (f64::from(*a) - mean) / std;
                assert!(
                    (want - f64::from(*b)).abs() <= 1e-5,
                    "{spec}: window {w}[{i}]: {b} vs {want}"
                );
            }
        }
        assert!(
            got[2].iter().all(|&v| v == 0.0),
            "{spec}: the silent window"
        );
        let first: Vec<f64> = got[0].iter().map(|&v| f64::from(v)).collect();
        let var = first.iter().map(|v| v * v).sum::<f64>() / (first.len() as f64 - ddof);
        assert!((var - 1.0).abs() < 1e-3, "{spec}: variance {var}");
    }
}

/// The error of building a model from `card` (the tiny card with `edit` applied).
fn card_error(edit: impl Fn(String) -> String, layers: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let card = tiny_card(dir.path(), edit);
    let err = OnnxEmbedder::new(&OnnxConfig {
        layers: layers.iter().map(|&s| s.into()).collect(),
        threads: Some(1),
        ..OnnxConfig::new(card.clone())
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("card.yml"), "names the card: {err}");
    err
}

#[test]
fn card_errors_name_the_card_and_the_field() {
    // Checked before the runtime is needed.
    let err = card_error(|c| c.replace("ea3f9c3dd", "0000000dd"), &["band_means"]);
    assert!(
        err.contains("field `file.sha256`") && err.contains("ea3f9c3dd0298190"),
        "{err}"
    );
    let err = card_error(
        |c| c.replace("path: tiny_logmel.onnx", "path: absent.onnx"),
        &["band_means"],
    );
    assert!(
        err.contains("field `file.path`") && err.contains("absent.onnx"),
        "{err}"
    );
    let err = card_error(
        |c| c.replace("window_samples: 16000", "window_samples: 0"),
        &[],
    );
    assert!(err.contains("field `input`"), "{err}");
    let err = card_error(|c| c.replace("  hop_samples: 16000\n", ""), &[]);
    assert!(err.contains("hop_samples"), "{err}");
    let err = card_error(
        |c| c.replace("[batch, frames, mels]", "[frames, batch, mels]"),
        &[],
    );
    assert!(err.contains("field `input.shape`"), "{err}");
    let err = card_error(|c| c, &["nope"]);
    assert!(
        err.contains("no layer `nope`") && err.contains("band_means"),
        "{err}"
    );
    let normalize = |n: &str| {
        let with = format!("  hop_samples: 16000\n  normalize: {n}\n");
        move |c: String| c.replace("  hop_samples: 16000\n", &with)
    };
    let err = card_error(normalize("{per_window: {epsilon: 0}}"), &[]);
    assert!(
        err.contains("field `input.normalize`") && err.contains("silent window"),
        "{err}"
    );
    let err = card_error(normalize("{mean: 1, std: 0}"), &[]);
    assert!(
        err.contains("field `input.normalize`") && err.contains("non-zero"),
        "{err}"
    );
    if !available(false) {
        return;
    }
    let err = card_error(
        |c| c.replace("name: spec", "name: spectrogram"),
        &["band_means"],
    );
    assert!(
        err.contains("field `input.name`") && err.contains("spectrogram") && err.contains("spec"),
        "{err}"
    );
    let err = card_error(
        |c| c.replace("name: band_means", "name: means"),
        &["band_means"],
    );
    assert!(
        err.contains("field `outputs[1].name`") && err.contains("`means`"),
        "{err}"
    );
    let err = card_error(|c| c.replace("n_mels: 96", "n_mels: 64"), &["band_means"]);
    assert!(err.contains("field `input.shape`"), "{err}");
}

/// Layers of different widths come from one model: each window's rows, one per layer, each
/// of its layer's width, equal to the rows of a model of that layer alone.
#[test]
fn layers_of_different_widths_come_from_one_run() {
    if !available(false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let card = tiny_card(dir.path(), |c| c);
    let model = |layers: &[&str]| {
        OnnxEmbedder::new(&OnnxConfig {
            layers: layers.iter().map(|&s| s.into()).collect(),
            threads: Some(1),
            ..OnnxConfig::new(card.clone())
        })
        .unwrap()
    };
    let both = model(&["frames", "band_means"]);
    assert_eq!(both.info().dims, [63 * 96, 96]);
    let signal: Vec<f32> = (0..40_000)
        .map(|i| (f64::from(i) * 0.05).sin() as f32)
        .collect();
    let rows = both.embed(&signal).unwrap();
    for (layer, alone) in [model(&["frames"]), model(&["band_means"])]
        .iter()
        .enumerate()
    {
        let mine: Vec<_> = rows.iter().filter(|r| r.layer == layer as i32).collect();
        let theirs = alone.embed(&signal).unwrap();
        assert_eq!(mine.len(), theirs.len(), "layer {layer}");
        for (a, b) in mine.iter().zip(&theirs) {
            assert_eq!(a.embedding.len(), both.info().dims[layer]);
            assert_eq!((a.window, &a.embedding), (b.window, &b.embedding));
        }
    }
}

#[test]
fn streamed_audio_gives_the_embeddings_of_the_whole_track() {
    if !available(true) {
        return;
    }
    let model = basic_pitch(&["note", "onset"]);
    // 0.5 s (shorter than a window), exactly one window, and 5 s in odd-sized chunks.
    for audio in [
        note(60)[..11_025].to_vec(),
        vec![0.1; 43_844],
        melody(&[60, 64, 67, 72, 69]),
    ] {
        let whole = model.embed(&audio).unwrap();
        let mut chunks = audio.chunks(10_007).map(|c| Ok(c.to_vec()));
        let streamed = model.embed_stream(&mut chunks).unwrap();
        assert_eq!(streamed.len(), whole.len(), "{} samples", audio.len());
        for (s, w) in streamed.iter().zip(&whole) {
            assert_eq!(
                (s.layer, s.window, s.start_s),
                (w.layer, w.window, w.start_s)
            );
            assert_close("streamed", &s.embedding, &w.embedding);
        }
    }
    // A hop longer than the window skips samples between windows.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data("tiny_logmel.onnx"),
        dir.path().join("tiny_logmel.onnx"),
    )
    .unwrap();
    let card = dir.path().join("gappy.yml");
    std::fs::write(
        &card,
        std::fs::read_to_string(data("tiny_logmel.yml"))
            .unwrap()
            .replace("window_samples: 16000", "window_samples: 4000")
            .replace("hop_samples: 16000", "hop_samples: 6000"),
    )
    .unwrap();
    let gappy = OnnxEmbedder::new(&OnnxConfig {
        layers: vec!["band_means".into()],
        ..OnnxConfig::new(card)
    })
    .unwrap();
    let audio: Vec<f32> = (0..31_000).map(|i| ((i as f32) * 0.01).sin()).collect();
    let whole = gappy.embed(&audio).unwrap();
    assert_eq!(whole.len(), 6, "windows at 0, 6000, ..., 30000");
    let streamed = gappy
        .embed_stream(&mut audio.chunks(777).map(|c| Ok(c.to_vec())))
        .unwrap();
    assert_eq!(streamed, whole);
}

/// Peak resident memory of this process, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Not a test on its own: with `MIRREF_LONG_TRACK_MINUTES`, embeds a generated track of that
/// length chunk by chunk and prints the process's peak memory, for the test below, which runs
/// it in a fresh process per length.
#[test]
fn long_track_child() {
    let Some(minutes) = std::env::var("MIRREF_LONG_TRACK_MINUTES")
        .ok()
        .and_then(|m| m.parse::<usize>().ok())
    else {
        return;
    };
    let model = OnnxEmbedder::new(&OnnxConfig {
        layers: vec!["note".into(), "onset".into()],
        threads: Some(1),
        batch_size: std::env::var("MIRREF_LONG_TRACK_BATCH")
            .ok()
            .and_then(|b| b.parse().ok()),
        ..OnnxConfig::new(root().join("configs/models/basic-pitch.yml"))
    })
    .unwrap();
    let before = peak_rss_mb().unwrap();
    let mut seconds = (0..minutes * 60).map(|s| Ok(note(40 + (s % 40) as i32)));
    let rows = model.embed_stream(&mut seconds).unwrap();
    println!(
        "LONG_TRACK windows={} before_mb={before:.1} peak_mb={:.1}",
        rows.len() / 2,
        peak_rss_mb().unwrap()
    );
}

#[test]
fn a_ten_minute_track_is_embedded_in_memory_that_does_not_grow_with_its_length() {
    if !available(true) || peak_rss_mb().is_none() {
        return;
    }
    let run = |minutes: usize| -> (usize, f64) {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "onnx::long_track_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MIRREF_LONG_TRACK_MINUTES", minutes.to_string())
            // Batches of 4 windows; glibc's per-thread heaps capped, so the peak measures our
            // buffers and one run, not allocator luck.
            .env("MIRREF_LONG_TRACK_BATCH", "4")
            .env("MALLOC_ARENA_MAX", "2")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.split_once("LONG_TRACK").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("no report: {text}{}", String::from_utf8_lossy(&out.stderr)));
        let field = |k: &str| {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(k))
                .unwrap()
                .to_string()
        };
        (
            field("windows=").parse().unwrap(),
            field("peak_mb=").parse().unwrap(),
        )
    };
    let (w2, peak2) = run(2);
    let (w10, peak10) = run(10);
    eprintln!(
        "2 min: {w2} windows, peak {peak2:.1} MB; 10 min: {w10} windows, peak {peak10:.1} MB"
    );
    assert_eq!(w10, 600 * 22_050 / 36_164 + 1);
    // Measured here: 73 to 80 MB for both lengths (ONNX Runtime and one batch's
    // activations). The whole 10-minute track alone would add 53 MB (22,050 Hz, f32).
    assert!(
        peak10 - peak2 < 16.0,
        "peak memory grew by {:.1} MB from 2 to 10 minutes",
        peak10 - peak2
    );
    assert!(peak10 < 120.0, "peak memory {peak10:.1} MB");
}

/// A CUDA device the runtime cannot use is an error naming the model and the device, never a
/// silent run on the CPU; device names parse as the config writes them.
#[test]
fn an_unusable_cuda_device_is_an_error_naming_it() {
    use mir_embed::onnx::Device;
    assert_eq!("cuda".parse::<Device>(), Ok(Device::Cuda(0)));
    assert_eq!("cuda:3".parse::<Device>(), Ok(Device::Cuda(3)));
    assert_eq!(
        "gpu".parse::<Device>().unwrap_err(),
        "unknown device `gpu` (known: cpu, cuda, cuda:N)"
    );
    let config: OnnxConfig = serde_yaml::from_str("{card: c.yml, device: 'cuda:1'}").unwrap();
    assert_eq!(config.device, Device::Cuda(1));
    if !available(true) {
        return;
    }
    let result = OnnxEmbedder::new(&OnnxConfig {
        device: Device::Cuda(7),
        ..OnnxConfig::new(root().join("configs/models/basic-pitch.yml"))
    });
    match result {
        // A CUDA runtime with an eighth GPU: nothing to check here.
        Ok(_) => eprintln!("this runtime has a usable cuda:7"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("device `cuda:7`"), "{e}");
            assert!(
                e.contains("CUDA execution provider is not available"),
                "{e}"
            );
            assert!(e.contains("basic"), "the model is named: {e}");
        }
    }
}
