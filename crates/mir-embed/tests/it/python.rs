//! The Python bridge on `fixtures/hear/bands.py`, a numpy-only HEAR module: our embeddings
//! equal the module's own output on the same audio; a module that raises, fails to load or
//! dies is an error naming it, with the traceback or how it died, for its tracks alone.
//!
//! They need an interpreter with numpy and pyarrow (`MIRREF_BRIDGE_PYTHON`, else `python3`);
//! `cargo xtask ci` provides one and sets `MIRREF_REQUIRE_BRIDGE=1`.

use std::path::{Path, PathBuf};

use mir_embed::python::{Kind, PythonConfig, PythonEmbedder};
use mir_embed::{Embedder, Error, WindowEmbedding};

const SR: usize = 16_000;

/// A copy of the fixture module in a folder of its own (where a test may put `trouble.json`).
fn module_copy(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hear/bands.py");
    let copy = dir.join("bands.py");
    std::fs::copy(fixture, &copy).unwrap();
    copy
}

fn hear(
    python: &Path,
    module: &Path,
    edit: impl FnOnce(&mut PythonConfig),
) -> mir_embed::Result<PythonEmbedder> {
    let mut config = PythonConfig {
        python: python.to_path_buf(),
        ..PythonConfig::new(module)
    };
    edit(&mut config);
    PythonEmbedder::new(Kind::Hear, &config)
}

/// A chirp with some noise, `n` samples.
fn signal(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(1);
    (0..n)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let t = i as f32 / SR as f32;
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            (2.0 * std::f32::consts::PI * (220.0 + 400.0 * t) * t).sin() * 0.5 + 0.05 * noise
        })
        .collect()
}

fn assert_close(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "{what}: max |ours - module's| = {worst}");
}

fn layer(rows: &[WindowEmbedding], layer: i32) -> Vec<&WindowEmbedding> {
    rows.iter().filter(|r| r.layer == layer).collect()
}

#[test]
fn hear_layers_equal_the_modules_own_output() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module = module_copy(dir.path());
    // Whole tracks of three lengths (two alike, so one call holds both), both layers.
    let model = hear(&python, &module, |c| {
        c.layers = vec!["scene".into(), "timestamp".into()];
        c.batch_size = 4;
    })
    .unwrap();
    let info = model.info();
    assert_eq!(
        (info.sample_rate_hz, info.dims.as_slice(), info.window_s),
        (16_000, [32, 32].as_slice(), 0.0)
    );
    assert_eq!(info.layers, ["scene", "timestamp"]);
    let tracks = [signal(12_000, 1), signal(20_000, 2), signal(12_000, 3)];
    let refs: Vec<&[f32]> = tracks.iter().map(Vec::as_slice).collect();
    let results = model.embed_batch(&refs);
    let scene = mir_testkit::python::hear_reference(&python, &module, &tracks, "scene");
    let timestamp = mir_testkit::python::hear_reference(&python, &module, &tracks, "timestamp");
    for (t, result) in results.iter().enumerate() {
        let rows = result.as_ref().unwrap();
        assert_eq!(rows.len(), 2, "one clip, two layers");
        assert_close(
            &layer(rows, 0)[0].embedding,
            &scene[t],
            &format!("track {t}, scene"),
        );
        assert_close(
            &layer(rows, 1)[0].embedding,
            &timestamp[t],
            &format!("track {t}, timestamp"),
        );
    }

    // Windows of 0.5 s every 0.25 s; the last one zero-padded.
    let windowed = hear(&python, &module, |c| {
        c.window_s = 0.5;
        c.hop_s = Some(0.25);
    })
    .unwrap();
    let rows = windowed.embed(&tracks[1]).unwrap();
    let starts: Vec<f32> = rows.iter().map(|r| r.start_s).collect();
    assert_eq!(starts, [0.0, 0.25, 0.5, 0.75]);
    let clips: Vec<Vec<f32>> = [0, 4000, 8000, 12_000]
        .iter()
        .map(|&s| {
            let mut c = tracks[1][s..(s + 8000).min(20_000)].to_vec();
            c.resize(8000, 0.0);
            c
        })
        .collect();
    for (row, expected) in rows.iter().zip(mir_testkit::python::hear_reference(
        &python, &module, &clips, "scene",
    )) {
        assert_close(&row.embedding, &expected, &format!("window {}", row.window));
    }
}

#[test]
fn a_raising_module_fails_its_track_alone_with_the_traceback() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module = module_copy(dir.path());
    std::fs::write(
        dir.path().join("trouble.json"),
        r#"{"raise_on_samples": 7000}"#,
    )
    .unwrap();
    let model = hear(&python, &module, |_| {}).unwrap();
    let tracks = [signal(7000, 1), signal(7000, 2)];
    // Both tracks share a call; the module refuses their length, so each fails on its own.
    for result in model.embed_batch(&[&tracks[0], &tracks[1]]) {
        let err = result.unwrap_err().to_string();
        for part in [
            "bands.py",
            "Traceback",
            "ValueError: a clip of 7000 samples, refused on purpose",
        ] {
            assert!(err.contains(part), "`{part}` in: {err}");
        }
    }
    assert!(
        model.embed(&signal(7001, 3)).is_ok(),
        "other lengths still work"
    );

    // A module whose `load_model` raises is a config error with the traceback.
    std::fs::write(
        dir.path().join("trouble.json"),
        r#"{"raise_on_load": true}"#,
    )
    .unwrap();
    let err = hear(&python, &module, |_| {}).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("loading the module raised")
            && err.contains("RuntimeError: cannot load on purpose"),
        "{err}"
    );
}

#[test]
fn a_worker_that_dies_is_restarted_once_then_its_tracks_fail() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module = module_copy(dir.path());
    let trouble = dir.path().join("trouble.json");
    let model = hear(&python, &module, |_| {}).unwrap();
    let expected = model.embed(&signal(9000, 1)).unwrap();

    // Killed once, mid-run: started again, the same embeddings.
    let once = dir.path().join("died");
    std::fs::write(
        &trouble,
        format!(
            r#"{{"die_on_samples": 9000, "once": "{}"}}"#,
            once.display()
        ),
    )
    .unwrap();
    assert_eq!(model.embed(&signal(9000, 1)).unwrap(), expected);
    assert!(once.exists(), "the worker did die");

    // Killed on every try: that track fails, naming how; the next one runs.
    std::fs::write(&trouble, r#"{"die_on_samples": 9000}"#).unwrap();
    let err = model.embed(&signal(9000, 1)).unwrap_err().to_string();
    // SIGKILL: "killed by signal 9", or 137 through a shell wrapper such as pyenv's shim.
    let how = err.contains("killed by signal 9") || err.contains("exit status 137");
    assert!(
        how && err.contains("the worker died") && err.contains("after one restart"),
        "{err}"
    );
    assert!(model.embed(&signal(9100, 1)).is_ok());
}

#[test]
fn a_plain_python_module_gives_its_dict_as_layers() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("plain.py");
    std::fs::write(
        &module,
        "import numpy as np\nSAMPLE_RATE = 8000\n\
         def embed(audio, sample_rate):\n\
         \x20   assert sample_rate == 8000\n\
         \x20   frames = audio[:, : audio.shape[1] // 100 * 100].reshape(audio.shape[0], -1, 100)\n\
         \x20   return {'rms': np.sqrt((frames ** 2).mean(axis=2, keepdims=True)).repeat(3, axis=2),\n\
         \x20           'peak': np.abs(audio).max(axis=1, keepdims=True).repeat(3, axis=1)}\n",
    )
    .unwrap();
    let config = PythonConfig {
        python: python.clone(),
        ..PythonConfig::new(&module)
    };
    let model = PythonEmbedder::new(Kind::Python, &config).unwrap();
    assert_eq!(
        model.info().layers,
        ["rms", "peak"],
        "the dict's keys, in its order"
    );
    assert_eq!(model.info().sample_rate_hz, 8000);
    let audio: Vec<f32> = (0..400).map(|i| if i < 200 { 0.5 } else { -1.0 }).collect();
    let rows = model.embed(&audio).unwrap();
    // rms per frame of 100: 0.5, 0.5, 1, 1; pooled by its mean over time: 0.75.
    assert_eq!(rows[0].embedding, vec![0.75; 3]);
    assert_eq!(rows[1].embedding, vec![1.0; 3]);

    // A layer the module does not return, and a bad interpreter, are named.
    let err = PythonEmbedder::new(
        Kind::Python,
        &PythonConfig {
            layers: vec!["mfcc".into()],
            ..config.clone()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("embed returned no ['mfcc'] (it returned ['peak', 'rms'])"),
        "{err}"
    );
    let err = PythonEmbedder::new(
        Kind::Python,
        &PythonConfig {
            python: "/no/such/python".into(),
            ..config
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot start `/no/such/python`"),
        "{err}"
    );
}
