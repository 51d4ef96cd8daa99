//! Layers of different widths from one model entry, through the pipeline: one table per layer
//! and condition, each of its layer's width, and an extraction split in shards (saved per
//! layer) that a finishing run completes to the metrics of one uninterrupted run.

use mir_table::{RunLayout, TableKind, TableStore, read_metrics};

use crate::{VALID, config, read, root, stderr, xtask};

#[test]
fn layers_of_two_widths_are_saved_per_layer_and_resume() {
    if mir_embed::onnx::runtime::runtime().is_err()
        && std::env::var_os("MIRREF_REQUIRE_MODELS").is_none()
    {
        eprintln!("skipped: no ONNX Runtime");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("crates/mir-embed/tests/data");
    for f in ["tiny_logmel.onnx", "tiny_logmel.yml"] {
        std::fs::copy(data.join(f), dir.path().join(f)).unwrap();
    }
    let card = dir.path().join("tiny_logmel.yml");
    let model = format!(
        "tiny: {{type: onnx, card: {}, layers: [frames, pooled]}}",
        card.display()
    );
    let yaml = format!("checkpoint_tracks: 32\n{VALID}")
        .replace("logmel: {type: logmel}", &model)
        .replace(
            "linear: {type: linear}",
            "linear: {type: linear, epochs: 5}",
        )
        .replace("ROOT", &dir.path().join("synth").to_string_lossy());
    let path = config(dir.path(), &yaml);
    let run = |out: &str, args: &[&str]| {
        let target = dir.path().join(out);
        let mut all = vec!["experiment", &path, "--output", target.to_str().unwrap()];
        all.extend(args);
        let o = xtask(&all, &[]);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stderr(&o)
    };
    run("whole", &[]);
    run("sharded", &["--stage", "datasets"]);
    run("sharded", &["--stage", "extract", "--shard", "0/2"]);
    // The finishing run reads shard 0's saved parts, layer by layer, and does shard 1.
    let finishing = run("sharded", &[]);
    assert!(
        finishing.contains("shard 1/2 was not done by a worker"),
        "{finishing}"
    );

    let store = |out: &str| TableStore::open(dir.path().join(out).to_str().unwrap()).unwrap();
    let metrics = |out: &str| {
        let table = read(&store(out), RunLayout::METRICS, TableKind::Metrics);
        let mut rows: Vec<String> = (read_metrics(&table).unwrap().iter())
            .map(|m| format!("{m:?}"))
            .collect();
        rows.sort();
        rows
    };
    let whole = metrics("whole");
    assert!(
        whole.iter().any(|m| m.contains("layer: 1")),
        "both layers are probed"
    );
    assert_eq!(whole, metrics("sharded"));
    let dir_of = RunLayout::embeddings("synth", "tiny");
    for (layer, width) in [(0, 63 * 96), (1, 96)] {
        for condition in ["clean", "noise"] {
            let table = read(
                &store("whole"),
                &dir_of.table(layer, condition),
                TableKind::Embeddings,
            );
            let rows = mir_table::read_embeddings(&table).unwrap();
            assert!(!rows.is_empty(), "{layer}/{condition}");
            assert!(
                rows.iter()
                    .all(|r| r.layer == layer && r.embedding.len() == width)
            );
            let meta = table.schema.metadata();
            let name = if layer == 0 { "frames" } else { "pooled" };
            assert_eq!(meta.get("layer_name").map(String::as_str), Some(name));
            assert_eq!(meta.get("dim"), Some(&width.to_string()));
        }
    }
}
