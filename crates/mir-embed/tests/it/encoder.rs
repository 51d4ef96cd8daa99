//! The card vocabulary of encoders, on tests/data/tiny_encoder.onnx (see tiny_encoder.py): a
//! dynamic time axis with the experiment's windows, a stacked hidden-state output and numbered
//! outputs as layers, constant inputs. The expected embeddings are computed here, in f64, from
//! the weights in tiny_encoder.json.

use std::path::Path;

use mir_embed::Embedder;
use mir_embed::onnx::{LayerRef, OnnxConfig, OnnxEmbedder, WholeTrack, WindowLength};

use crate::onnx::{available, data, edited_card};

/// tiny_encoder.py's weights.
struct Weights {
    w0: Vec<Vec<f64>>,
    b0: Vec<f64>,
    w1: Vec<Vec<f64>>,
    b1: Vec<f64>,
    w2: Vec<Vec<f64>>,
    b2: Vec<f64>,
}

fn weights() -> Weights {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("tiny_encoder.json")).unwrap()).unwrap();
    let vector = |x: &serde_json::Value| -> Vec<f64> {
        x.as_array()
            .unwrap()
            .iter()
            .map(|y| y.as_f64().unwrap())
            .collect()
    };
    let matrix = |x: &serde_json::Value| -> Vec<Vec<f64>> {
        x.as_array().unwrap().iter().map(vector).collect()
    };
    Weights {
        // [8, 1, 4] -> [8][4]
        w0: v["w0"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| vector(&c[0]))
            .collect(),
        b0: vector(&v["b0"]),
        w1: matrix(&v["w1"]),
        b1: vector(&v["b1"]),
        w2: matrix(&v["w2"]),
        b2: vector(&v["b2"]),
    }
}

/// The three hidden states of one window, each averaged over its frames.
fn expected(w: &Weights, window: &[f32]) -> [Vec<f64>; 3] {
    let dense = |h: &[f64], m: &[Vec<f64>], b: &[f64]| -> Vec<f64> {
        (0..b.len())
            .map(|j| (b[j] + (0..h.len()).map(|i| h[i] * m[i][j]).sum::<f64>()).tanh())
            .collect()
    };
    let mut sums = [vec![0.0; 8], vec![0.0; 8], vec![0.0; 8]];
    let frames = (window.len() - 4) / 4 + 1;
    for f in 0..frames {
        let x = &window[4 * f..4 * f + 4];
        let h0: Vec<f64> = (0..8)
            .map(|c| w.b0[c] + (0..4).map(|k| w.w0[c][k] * f64::from(x[k])).sum::<f64>())
            .collect();
        let h1 = dense(&h0, &w.w1, &w.b1);
        let h2 = dense(&h1, &w.w2, &w.b2);
        for (sum, h) in sums.iter_mut().zip([h0, h1, h2]) {
            sum.iter_mut().zip(h).for_each(|(s, v)| *s += v);
        }
    }
    sums.map(|s| s.into_iter().map(|v| v / frames as f64).collect())
}

fn signal(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let t = i as f64 / 16_000.0;
            let f = 180.0 + 70.0 * f64::from(seed);
            (0.4 * (std::f64::consts::TAU * f * t).sin() + 0.1 * (t * 37.0).cos()) as f32
        })
        .collect()
}

fn encoder(card: &Path, edit: impl FnOnce(&mut OnnxConfig)) -> mir_embed::Result<OnnxEmbedder> {
    let mut config = OnnxConfig {
        layers: vec!["all".into()],
        threads: Some(1),
        ..OnnxConfig::new(card)
    };
    edit(&mut config);
    OnnxEmbedder::new(&config)
}

/// Checks `rows` (every layer of `model`) against the expected hidden states of the windows
/// `(start, length)` of `samples`: the stacked layers and the numbered outputs alike.
fn check(model: &OnnxEmbedder, samples: &[f32], windows: &[(usize, usize)]) {
    let w = weights();
    let rows = model.embed(samples).unwrap();
    let layers = model.info().layers;
    assert_eq!(rows.len(), layers.len() * windows.len(), "{windows:?}");
    for r in &rows {
        let (start, len) = windows[r.window as usize];
        let name = &layers[r.layer as usize];
        let i: usize = name.rsplit('_').next().unwrap().parse().unwrap();
        let want = &expected(&w, &samples[start..start + len])[i];
        assert!((f64::from(r.start_s) - start as f64 / 16_000.0).abs() < 1e-6);
        for (a, b) in r.embedding.iter().zip(want) {
            assert!(
                (f64::from(*a) - b).abs() < 1e-5,
                "{name} window {}: {a} vs {b}",
                r.window
            );
        }
    }
}

#[test]
fn a_dynamic_encoder_gives_every_hidden_state_of_the_configured_windows() {
    if !available(false) {
        return;
    }
    let card = data("tiny_encoder.yml");
    let model = encoder(&card, |_| {}).unwrap();
    let names = [
        "layer_0",
        "layer_1",
        "layer_2",
        "hidden_state_0",
        "hidden_state_1",
        "hidden_state_2",
    ];
    assert_eq!(model.info().layers, names);
    assert_eq!(model.info().dims, [8; 6]);
    let track = signal(20_800, 1);
    // The card's windows: 0.5 s every 0.5 s, the last one 0.3 s, not padded.
    check(&model, &track, &[(0, 8000), (8000, 8000), (16_000, 4800)]);
    // The experiment's: 0.5 s every 0.25 s.
    let overlapping = encoder(&card, |c| {
        c.window_s = Some(WindowLength::Seconds(0.5));
        c.hop_s = Some(0.25);
    })
    .unwrap();
    let starts = [0, 4000, 8000, 12_000, 16_000];
    let windows: Vec<_> = starts.iter().map(|&s| (s, 8000.min(20_800 - s))).collect();
    check(&overlapping, &track, &windows);
    // One window per track, up to max_window_s (1 s).
    let whole = encoder(&card, |c| {
        c.window_s = Some(WindowLength::Whole(WholeTrack::Track));
    })
    .unwrap();
    assert_eq!(whole.info().window_s, 1.0);
    check(&whole, &signal(11_200, 2), &[(0, 11_200)]);
    check(&whole, &track, &[(0, 16_000), (16_000, 4800)]);
    // Tracks of several lengths in one call: windows of equal length share batches, and
    // each track gets what it gets alone.
    let tracks = [
        signal(11_200, 2),
        track.clone(),
        signal(11_200, 3),
        signal(3000, 4),
    ];
    let refs: Vec<&[f32]> = tracks.iter().map(Vec::as_slice).collect();
    for (t, result) in whole.embed_batch(&refs).into_iter().enumerate() {
        assert_eq!(
            result.unwrap(),
            whole.embed(&tracks[t]).unwrap(),
            "track {t}"
        );
    }
    // Layers by index.
    let picked = encoder(&card, |c| {
        c.layers = vec![LayerRef::Index(0), LayerRef::Index(5)]
    });
    assert_eq!(picked.unwrap().info().layers, ["layer_0", "hidden_state_2"]);
}

#[test]
fn encoder_card_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let error = |edit: &dyn Fn(String) -> String, config: &dyn Fn(&mut OnnxConfig)| {
        let card = edited_card(dir.path(), "tiny_encoder", edit);
        encoder(&card, config).unwrap_err().to_string()
    };
    let keep = |c: String| c;
    let err = error(
        &|c| c.replace(", count: 3, time_axis: 2", ", time_axis: 2"),
        &|_| {},
    );
    assert!(err.contains("field `outputs[0].count`"), "{err}");
    let err = error(&|c| c.replace("layer_axis: 0, ", ""), &|_| {});
    assert!(err.contains("field `outputs[0].layer_axis`"), "{err}");
    let err = error(&|c| c.replace("time_axis: 2", "time_axis: 0"), &|_| {});
    assert!(err.contains("layer axis"), "{err}");
    let err = error(
        &|c| c.replace("max_window_s: 1.0", "max_window_s: 0"),
        &|_| {},
    );
    assert!(err.contains("field `input.dynamic.max_window_s`"), "{err}");
    let err = error(&keep, &|c| c.layers = vec![LayerRef::Index(6)]);
    assert!(
        err.contains("no layer 6") && err.contains("0 to 5"),
        "{err}"
    );
    let err = error(
        &|c| c.replace("  dynamic: {max_window_s: 1.0, min_samples: 4}\n", ""),
        &|c| c.window_s = Some(WindowLength::Seconds(0.5)),
    );
    assert!(err.contains("fixed windows of 8000 samples"), "{err}");
    if !available(false) {
        return;
    }
    let without_mask = |c: String| {
        let line = "    - {name: mask, type: int64, value: 1, shape: [batch, samples]}\n";
        c.replace(line, "")
    };
    let err = error(&without_mask, &|_| {});
    assert!(
        err.contains("field `input.constants`") && err.contains("input `mask`"),
        "{err}"
    );
    let err = error(&|c| c.replace("name: sample_rate,", "name: rate,"), &|_| {});
    assert!(
        err.contains("field `input.constants[0].name`") && err.contains("`rate`"),
        "{err}"
    );
}

#[test]
fn layers_and_windows_parse_from_the_experiment_config() {
    let parse = |yaml: &str| serde_yaml::from_str::<OnnxConfig>(yaml).unwrap();
    let c = parse("card: x.yml\nlayers: all\nwindow_s: track\n");
    assert_eq!(c.layers, [LayerRef::from("all")]);
    assert_eq!(c.window_s, Some(WindowLength::Whole(WholeTrack::Track)));
    let c = parse("card: x.yml\nlayers: [0, 6, hidden_state_12]\nwindow_s: 2.5\nhop_s: 1\n");
    assert_eq!(
        c.layers,
        [
            LayerRef::Index(0),
            LayerRef::Index(6),
            LayerRef::from("hidden_state_12")
        ]
    );
    assert_eq!(
        (c.window_s, c.hop_s),
        (Some(WindowLength::Seconds(2.5)), Some(1.0))
    );
    assert!(serde_yaml::from_str::<OnnxConfig>("card: x.yml\nwindow_s: whole\n").is_err());
}
