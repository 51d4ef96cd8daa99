//! `mir-ref datasets`: every dataset of a config parsed, its tracks tables written, the summary
//! per task, and a dataset whose file is gone named with the file while the others still load.

use std::path::Path;

use mir_datasets::fixtures;
use mir_table::{RunLayout, TableStore};

const TAGGING: &str = "
name: inventory
output: OUT
datasets:
  mtt: {type: magnatagatune, root: MTT}
  jamendo: {type: mtg_jamendo, root: JAMENDO, tasks: [moodtheme, all]}
models:
  logmel: {type: logmel}
probes:
  linear: {type: linear}
";

fn load(dir: &Path) -> xtask::ExperimentConfig {
    let yaml = TAGGING
        .replace("OUT", &dir.join("run").to_string_lossy())
        .replace("MTT", &dir.join("mtt").to_string_lossy())
        .replace("JAMENDO", &dir.join("jamendo").to_string_lossy());
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    xtask::config::load(&path).unwrap()
}

#[test]
fn datasets_summarises_each_task_and_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::magnatagatune(&dir.path().join("mtt"), 4, 0.1).unwrap();
    fixtures::mtg_jamendo(&dir.path().join("jamendo"), 30, 0.1).unwrap();
    let config = load(dir.path());
    let inventory = xtask::inventory::check(&config).unwrap();
    let text = inventory.text();
    // 64 generated MagnaTagATune clips, 4 per folder, and clip 2 in folder f.
    assert!(text.contains("| mtt | tags | 48 | 4 | 13 | 50 |"), "{text}");
    assert!(
        text.contains(
            "mtt/tags: left out 2 known bad clip (corrupt MP3), 1 known bad clip (no file)"
        ),
        "{text}"
    );
    let all = inventory.tasks.iter().find(|t| t.task == "all").unwrap();
    assert_eq!(all.splits.iter().sum::<usize>(), 30);
    assert_eq!(all.labels.2, 33);
    assert!(inventory.failed.is_empty());
    let store = TableStore::open(&dir.path().join("run").to_string_lossy()).unwrap();
    for (dataset, task) in [
        ("mtt", "tags"),
        ("jamendo", "moodtheme"),
        ("jamendo", "all"),
    ] {
        let rel = RunLayout::tracks(dataset, task);
        assert!(
            dir.path().join("run").join(&rel).is_file(),
            "{}",
            store.display(&rel)
        );
    }

    let gone = dir.path().join("jamendo/audio/48/948.mp3");
    std::fs::remove_file(&gone).unwrap();
    let inventory = xtask::inventory::check(&config).unwrap();
    assert_eq!(inventory.failed.len(), 1);
    let (dataset, error) = &inventory.failed[0];
    assert_eq!(dataset, "jamendo");
    assert!(
        error.contains(&gone.to_string_lossy().into_owned()),
        "{error}"
    );
    assert!(inventory.text().contains("jamendo: FAILED:"));
    assert!(inventory.tasks.iter().any(|t| t.dataset == "mtt"));
}
