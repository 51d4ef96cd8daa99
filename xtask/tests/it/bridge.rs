//! A HEAR module (`fixtures/hear/bands.py`, numpy only) through `type: hear` in a full run:
//! its embeddings in our tables equal the module's own output on the same decoded audio; a
//! clip it refuses is a failure row with the traceback; a worker killed mid-run is started
//! again and the run completes to the same embeddings.

use std::path::Path;

use mir_table::{RunLayout, TableKind, TableStore};

use crate::{load, read, run_in};

/// The config for a copy of the fixture module in `dir`.
fn config(dir: &Path, python: &Path) -> xtask::ExperimentConfig {
    let fixture = crate::root().join("fixtures/hear/bands.py");
    let module = dir.join("bands.py");
    std::fs::copy(fixture, &module).unwrap();
    // The tests' standard config (a synth dataset, a linear probe), clean audio only, with the
    // module as the model.
    let model = format!(
        "bands: {{type: hear, module: {}, python: {}, layers: [scene, timestamp]}}",
        module.display(),
        python.display()
    );
    let yaml = crate::VALID
        .replace("logmel: {type: logmel}", &model)
        .replace(
            "linear: {type: linear}",
            "linear: {type: linear, epochs: 5}",
        );
    load(dir, &yaml).unwrap()
}

fn embeddings(store: &TableStore) -> Vec<mir_table::EmbeddingRow> {
    clean_rows(store, "synth", "bands", 1)
}

/// The clean embeddings of `layers` layers of `model` on `dataset`, layer by layer.
fn clean_rows(
    store: &TableStore,
    dataset: &str,
    model: &str,
    layers: i32,
) -> Vec<mir_table::EmbeddingRow> {
    let dir = RunLayout::embeddings(dataset, model);
    (0..layers)
        .flat_map(|layer| {
            let table = read(store, &dir.table(layer, "clean"), TableKind::Embeddings);
            mir_table::read_embeddings(&table).unwrap()
        })
        .collect()
}

/// For every `step`-th track of `dataset`'s `task`: each layer's largest |ours - module's|
/// (the module's own output on the track decoded at `rate_hz`, as the pipeline decodes it),
/// and the largest |module's| value.
struct Agreement<'a> {
    store: &'a TableStore,
    dataset: &'a str,
    model: &'a str,
    python: &'a Path,
    module: &'a Path,
    rate_hz: u32,
}

impl Agreement<'_> {
    fn worst(&self, task: &str, layers: &[&str], step: usize) -> Vec<(String, f32, f32)> {
        let rows = clean_rows(self.store, self.dataset, self.model, layers.len() as i32);
        let tracks_rel = RunLayout::tracks(self.dataset, task);
        let tracks =
            mir_table::read_tracks(&read(self.store, &tracks_rel, TableKind::Tracks)).unwrap();
        let picked: Vec<_> = tracks.iter().step_by(step).collect();
        let audio: Vec<Vec<f32>> = picked
            .iter()
            .map(|t| {
                mir_audio::load(Path::new(&t.audio_uri), Some(self.rate_hz))
                    .unwrap()
                    .samples
            })
            .collect();
        let mut out = Vec::new();
        for (layer, name) in layers.iter().enumerate() {
            let expected =
                mir_testkit::python::hear_reference(self.python, self.module, &audio, name);
            for (track, want) in picked.iter().zip(expected) {
                let row = rows
                    .iter()
                    .find(|r| r.track_id == track.track_id && r.layer == layer as i32)
                    .unwrap();
                let worst = row
                    .embedding
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                let scale = want.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
                out.push((format!("{} {name}", track.track_id), worst, scale));
            }
        }
        out
    }
}

#[test]
fn a_hear_module_runs_through_the_pipeline() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &python);
    let store = TableStore::open(dir.path().join("run").to_str().unwrap()).unwrap();
    run_in(&config, &store);
    let rows = embeddings(&store);

    // Three tracks, decoded as the pipeline does (resampled to the module's 16 kHz), against
    // the module's own scene and timestamp output.
    let module = dir.path().join("bands.py");
    let agreement = Agreement {
        store: &store,
        dataset: "synth",
        model: "bands",
        python: &python,
        module: &module,
        rate_hz: 16_000,
    };
    for (what, worst, _) in agreement.worst("instrument", &["scene", "timestamp"], 97) {
        assert!(worst <= 1e-5, "{what}: {worst}");
    }

    // Killed on its 3rd call, once: a restarted worker finishes the run, to the same table.
    let died = dir.path().join("died");
    let trouble = format!(r#"{{"die_on_call": 3, "once": "{}"}}"#, died.display());
    std::fs::write(dir.path().join("trouble.json"), trouble).unwrap();
    let again = TableStore::open("memory://bridge-killed").unwrap();
    run_in(&config, &again);
    assert!(died.exists(), "the worker was killed");
    assert_eq!(embeddings(&again), rows);
}

#[test]
fn a_clip_the_module_refuses_is_a_failure_row_with_the_traceback() {
    let Some(python) = mir_testkit::python::required_python(&[]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    // One note cut to 0.3 s: 4800 samples at the module's 16 kHz, which it refuses.
    let short = data.join("audio/flute/flute-C4.wav");
    let mut audio = mir_audio::load(&short, None).unwrap();
    audio.samples.truncate(6615);
    std::fs::write(&short, mir_audio::wav_bytes(&audio).unwrap()).unwrap();
    let config = config(dir.path(), &python);
    std::fs::write(
        dir.path().join("trouble.json"),
        r#"{"raise_on_samples": 4800}"#,
    )
    .unwrap();
    let store = TableStore::open("memory://bridge-raises").unwrap();
    let summary = run_in(&config, &store);
    assert_eq!(summary.skipped_tracks, 1);
    let failures =
        mir_table::read_failures(&read(&store, "failures.parquet", TableKind::Failures)).unwrap();
    let f = &failures[0];
    assert_eq!(
        (f.track_id.as_str(), f.model.as_str()),
        ("audio/flute/flute-C4", "bands")
    );
    assert!(
        f.error.contains("Traceback") && f.error.contains("refused on purpose"),
        "{}",
        f.error
    );
}

/// hearbaseline (HEAR 2021's naive baseline) with CPU torch through the quickstart, where
/// `MIRREF_TORCH_PYTHON` names an interpreter with both (too heavy for CI): its scene
/// embeddings equal the module's own output on the decoded audio, and a linear probe on them
/// beats chance.
#[test]
fn hearbaseline_runs_through_the_quickstart() {
    let Some(python) = std::env::var_os("MIRREF_TORCH_PYTHON").map(std::path::PathBuf::from) else {
        eprintln!("skipped: set MIRREF_TORCH_PYTHON to a Python with torch and hearbaseline");
        return;
    };
    let mut config = xtask::config::load(&crate::root().join("configs/quickstart.yml")).unwrap();
    let model = mir_embed::python::PythonConfig {
        python: python.clone(),
        ..mir_embed::python::PythonConfig::new("hearbaseline")
    };
    config.models = [(
        "hearbaseline".to_string(),
        mir_embed::ModelConfig::Hear(model),
    )]
    .into();
    config.model_layers = [("hearbaseline".to_string(), vec!["scene".to_string()])].into();
    config
        .deformations
        .retain(|name, _| name == "white_noise_20db");
    config.keep_audio = false;
    let store = TableStore::open("memory://hearbaseline").unwrap();
    let started = std::time::Instant::now();
    run_in(&config, &store);
    eprintln!(
        "quickstart with hearbaseline: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let agreement = Agreement {
        store: &store,
        dataset: "tinysol",
        model: "hearbaseline",
        python: &python,
        module: Path::new("hearbaseline"),
        rate_hz: 44_100,
    };
    for (what, worst, scale) in agreement.worst("instrument", &["scene"], 101) {
        eprintln!("{what}: max |ours - hearbaseline's| = {worst:e} (values up to {scale})");
        assert!(worst <= 1e-4 * scale.max(1.0), "{what}: {worst}");
    }
    let metrics =
        mir_table::read_metrics(&read(&store, "metrics.parquet", TableKind::Metrics)).unwrap();
    for task in ["instrument", "pitch_class"] {
        let accuracy = |model: &str, probe: &str| {
            metrics
                .iter()
                .find(|m| {
                    m.task == task
                        && m.model == model
                        && m.probe == probe
                        && m.deformation == "clean"
                        && m.metric == "accuracy"
                })
                .unwrap()
                .value
        };
        let (ours, chance) = (
            accuracy("hearbaseline", "linear"),
            accuracy("chance", "majority"),
        );
        eprintln!("{task}: hearbaseline linear {ours:.3}, majority {chance:.3}");
        assert!(ours > chance, "{task}: {ours} vs chance {chance}");
    }
}
