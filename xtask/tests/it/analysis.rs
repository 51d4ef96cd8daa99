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
