//! `type: precomputed`: a folder of `<track_id>.npy` files, as the Python mir_ref writes them,
//! evaluated without extracting anything.

use std::path::Path;

use mir_table::{FailureStage, RunLayout, TableKind, TableStore};

/// The synth config without deformations, for a model `models`.
fn config_with(dir: &Path, models: &str) -> xtask::ExperimentConfig {
    let yaml = crate::VALID
        .replace(
            "deformations:\n  noise: {steps: [{type: white_noise, snr_db: 20}]}\n",
            "",
        )
        .replace("  logmel: {type: logmel}\n", models)
        .replace(
            "linear: {type: linear}",
            "linear: {type: linear, epochs: 5}",
        );
    crate::load(dir, &yaml).unwrap()
}

/// A `.npy` file (version 1.0, float32, C order) of `vectors`, as `[dim]` when `flat`.
fn npy(vectors: &[Vec<f32>], flat: bool) -> Vec<u8> {
    let dim = vectors[0].len();
    let shape = if flat {
        format!("({dim},)")
    } else {
        format!("({}, {dim})", vectors.len())
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while !(11 + header.len()).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    for v in vectors.iter().flatten() {
        out.extend(v.to_le_bytes());
    }
    out
}

/// Every metric row of `model`: all but the model's name, sorted.
fn metric_rows(store: &TableStore, model: &str) -> Vec<String> {
    let table = crate::read(store, RunLayout::METRICS, TableKind::Metrics);
    let mut rows: Vec<String> = (mir_table::read_metrics(&table).unwrap().into_iter())
        .filter(|m| m.model == model)
        .map(|m| {
            format!(
                "{} {} {} {} {} {} {:?} {:?} {}",
                m.task,
                m.layer,
                m.probe,
                m.deformation,
                m.metric,
                m.value,
                m.ci_low,
                m.ci_high,
                m.n
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The log-mel embeddings of a run, written as one `.npy` per track (alternately `[dim]` and
/// `[1, dim]`) with one file left out and one malformed, evaluate to the same metrics as the
/// run whose audio failed on the same two tracks; both are in `failures.parquet`, named.
#[test]
fn a_precomputed_folder_evaluates_to_the_metrics_of_direct_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    let (missing, malformed) = ("audio/flute/flute-C4", "audio/brass/brass-E4");
    for id in [missing, malformed] {
        std::fs::write(data.join(format!("{id}.wav")), b"RIFF....WAVEnot really").unwrap();
    }
    let direct = config_with(dir.path(), "  logmel: {type: logmel}\n");
    let direct_store = TableStore::open(dir.path().join("direct").to_str().unwrap()).unwrap();
    assert_eq!(crate::run_in(&direct, &direct_store).skipped_tracks, 2);

    let clean = RunLayout::embeddings("synth", "logmel").table(0, "clean");
    let rows =
        mir_table::read_embeddings(&crate::read(&direct_store, &clean, TableKind::Embeddings))
            .unwrap();
    let mut by_track: std::collections::BTreeMap<String, Vec<Vec<f32>>> = Default::default();
    for r in rows {
        by_track.entry(r.track_id).or_default().push(r.embedding);
    }
    let folder = dir.path().join("npy");
    for (k, (id, vectors)) in by_track.iter().enumerate() {
        let file = folder.join(format!("{id}.npy"));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, npy(vectors, k % 2 == 0 && vectors.len() == 1)).unwrap();
    }
    std::fs::write(folder.join(format!("{malformed}.npy")), b"not numpy").unwrap();

    let model = format!(
        "  theirs: {{type: precomputed, path: {}, layer: summary}}\n",
        folder.display()
    );
    let stored = config_with(dir.path(), &model);
    let store = TableStore::open(dir.path().join("stored").to_str().unwrap()).unwrap();
    let summary = crate::run_in(&stored, &store);
    assert_eq!(summary.skipped_tracks, 2, "{}", summary.stages);
    let failures = crate::read(&store, RunLayout::FAILURES, TableKind::Failures);
    let failures = mir_table::read_failures(&failures).unwrap();
    let named = |id: &str, what: &str| {
        failures.iter().any(|f| {
            f.track_id == id
                && f.model == "theirs"
                && f.stage == FailureStage::Decode
                && f.error.contains(&format!("{id}.npy"))
                && f.error.contains(what)
        })
    };
    assert!(named(missing, "cannot read"), "{failures:#?}");
    assert!(named(malformed, "not a .npy file"), "{failures:#?}");
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let table = RunLayout::embeddings("synth", "theirs").table(0, "clean");
    let meta = crate::read(&store, &table, TableKind::Embeddings)
        .schema
        .metadata()
        .clone();
    let source = folder.display().to_string();
    assert_eq!(meta.get("source"), Some(&source), "where they came from");
    let ours = metric_rows(&store, "theirs");
    assert!(!ours.is_empty());
    assert_eq!(ours, metric_rows(&direct_store, "logmel"));

    // A rerun reads nothing again; a changed file is read again.
    let again = crate::run_in(&stored, &store);
    assert!(
        again.stages.contains("embed synth/theirs (cached)"),
        "{}",
        again.stages
    );
}
