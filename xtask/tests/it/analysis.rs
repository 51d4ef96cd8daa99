//! The analyses beyond one number per system: data-efficiency curves, probes without
//! training, significance between systems.

use mir_table::{TableKind, TableStore, read_metrics};

use super::{read, run_in};

/// The TinySOL fixture (rendered into `dir`) with the built-in log-mel and `probes`.
fn tinysol(dir: &std::path::Path, probes: &str) -> xtask::ExperimentConfig {
    let yaml = format!(
        "name: analysis
seed: 42
datasets:
  tinysol: {{type: tinysol, root: {root}, fixture: true, tasks: [pitch_class]}}
models:
  logmel: {{type: logmel}}
probes:
{probes}
",
        root = dir.join("tinysol").display()
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    xtask::config::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `train_fraction: [...]` is one probe per part; the accuracy on the TinySOL fixture rises
/// with the training tracks each part says it used, and the report draws the curve.
#[test]
fn a_data_efficiency_curve_rises_with_training_size() {
    let dir = tempfile::tempdir().unwrap();
    let probes = "  linear: {type: linear, epochs: 200, learning_rate: 0.003, batch_size: 16, \
                  patience: 30, train_fraction: [0.1, 0.3, 1.0]}";
    let config = tinysol(dir.path(), probes);
    let names: Vec<&String> = config.probes.keys().collect();
    assert_eq!(names, ["linear@0.1", "linear@0.3", "linear@1"]);
    let out = dir.path().join("run");
    let store = TableStore::open(out.to_str().unwrap()).unwrap();
    run_in(&config, &store);
    let metrics = read_metrics(&read(&store, "metrics.parquet", TableKind::Metrics)).unwrap();
    let value = |probe: &str, metric: &str| {
        let row = metrics
            .iter()
            .find(|m| m.probe == probe && m.metric == metric && m.deformation == "clean");
        row.unwrap_or_else(|| panic!("{probe} {metric}")).value
    };
    let sizes: Vec<f64> = names.iter().map(|p| value(p, "train_tracks")).collect();
    let accuracy: Vec<f64> = names.iter().map(|p| value(p, "accuracy")).collect();
    // Each class's share rounded up: 23 and 55 of the 168 training notes.
    assert_eq!(sizes, [23.0, 55.0, 168.0]);
    assert!(
        accuracy.windows(2).all(|w| w[0] < w[1]),
        "accuracy against training size: {accuracy:?}"
    );
    assert!(
        out.join("report/plots/efficiency_tinysol_pitch_class.svg")
            .is_file()
    );
    // Every pair of the three probes and the two chance baselines is compared on the same
    // test notes, and reported; each probe beats chance.
    let table = read(&store, "significance.parquet", TableKind::Significance);
    let pairs = mir_table::read_significance(&table).unwrap();
    assert_eq!(pairs.len(), 10, "{pairs:?}");
    for probe in &names {
        let against_chance = pairs
            .iter()
            .filter(|r| r.a.model == "chance" && &r.b.probe == *probe);
        assert_eq!(against_chance.clone().count(), 2);
        assert!(
            against_chance
                .into_iter()
                .all(|r| r.delta > 0.0 && r.p_holm < 0.05)
        );
    }
    let full = pairs
        .iter()
        .find(|r| r.a.probe == "linear@0.1" && r.b.probe == "linear@1")
        .unwrap();
    let gain = accuracy[2] - accuracy[0];
    assert!((full.delta - gain).abs() < 1e-12 && full.metric == "accuracy");
    assert!(
        full.ci_low.unwrap() > 0.0 && full.p_value < 0.01,
        "{full:?}"
    );
    let tables = std::fs::read_to_string(out.join("report/tables.md")).unwrap();
    assert!(
        tables.contains("### Significance: dataset tinysol, task pitch_class, deformation clean"),
        "{tables}"
    );
}

/// The split-hygiene check finds nothing in the TinySOL fixture, then, with one test note
/// copied over a training note and a quieter copy over another, exactly those pairs: the
/// copy as `exact`, the quieter one as `near`, both across splits.
#[test]
fn split_hygiene_finds_planted_duplicates_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let probes = "  linear: {type: linear, epochs: 5}\nhygiene: {near_cosine: 0.99}";
    let config = tinysol(dir.path(), probes);
    let out = dir.path().join("run");
    let store = TableStore::open(out.to_str().unwrap()).unwrap();
    let first = run_in(&config, &store);
    assert!(
        first
            .stages
            .contains("| split hygiene (0 duplicate pairs) |"),
        "{}",
        first.stages
    );
    let tracks = read(
        &store,
        "tracks/tinysol/pitch_class.parquet",
        TableKind::Tracks,
    );
    let tracks = mir_table::read_tracks(&tracks).unwrap();
    let of = |split| tracks.iter().filter(move |t| t.split == split);
    let original = of(mir_table::Split::Test).next().unwrap();
    let mut train = of(mir_table::Split::Train).filter(|t| t.labels != original.labels);
    let (copy, quieter) = (train.next().unwrap(), train.next().unwrap());
    std::fs::copy(&original.audio_uri, &copy.audio_uri).unwrap();
    let audio = mir_audio::load(std::path::Path::new(&original.audio_uri), None).unwrap();
    let softer = mir_audio::Audio {
        samples: audio.samples.iter().map(|s| s * 0.9).collect(),
        sample_rate_hz: audio.sample_rate_hz,
    };
    std::fs::write(&quieter.audio_uri, mir_audio::wav_bytes(&softer).unwrap()).unwrap();

    let second = run_in(&config, &store);
    assert!(
        second
            .stages
            .contains("| split hygiene (3 duplicate pairs) |"),
        "{}",
        second.stages
    );
    let table = read(&store, "duplicates.parquet", TableKind::Duplicates);
    let pairs = mir_table::read_duplicates(&table).unwrap();
    let find = |a: &str, b: &str| {
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let pair = pairs.iter().find(|r| r.a.0 == a && r.b.0 == b);
        pair.unwrap_or_else(|| panic!("{a} {b} in {pairs:?}"))
    };
    let exact = find(&original.track_id, &copy.track_id);
    assert_eq!(exact.kind, "exact");
    assert_ne!(exact.a.1, exact.b.1, "across splits");
    assert_eq!(find(&original.track_id, &quieter.track_id).kind, "near");
    let tables = std::fs::read_to_string(out.join("report/tables.md")).unwrap();
    assert!(
        tables.contains("### Duplicates: dataset tinysol, task pitch_class, 3 pairs"),
        "{tables}"
    );
}

/// Louder noise moves the log-mel embeddings further: the drift ratio rises as the SNR falls,
/// and the robustness table shows it beside each drop.
#[test]
fn embeddings_drift_further_under_louder_noise() {
    let dir = tempfile::tempdir().unwrap();
    let probes = "  linear: {type: linear, epochs: 5}
deformations:
  noise_30db: {steps: [{type: white_noise, snr_db: 30}]}
  noise_10db: {steps: [{type: white_noise, snr_db: 10}]}";
    let config = tinysol(dir.path(), probes);
    let out = dir.path().join("run");
    let store = TableStore::open(out.to_str().unwrap()).unwrap();
    run_in(&config, &store);
    let rows = mir_table::read_drift(&read(&store, "drift.parquet", TableKind::Drift)).unwrap();
    let ratio = |d: &str| rows.iter().find(|r| r.deformation == d).unwrap().ratio;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        0.0 < ratio("noise_30db") && ratio("noise_30db") < ratio("noise_10db"),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r.n == 56 && r.model == "logmel"),
        "the 56 test notes"
    );
    let tables = std::fs::read_to_string(out.join("report/tables.md")).unwrap();
    let drift = format!("drift {:.2})", ratio("noise_10db"));
    assert!(tables.contains(&drift), "{drift} in {tables}");
}
