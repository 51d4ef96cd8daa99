//! NSynth on its fixture: the official splits, the four tasks, HEAR's pitch range, the
//! subsample, and `examples.json` as the dataset writes it.

use std::collections::BTreeSet;

use mir_datasets::fixtures;
use mir_datasets::nsynth::{self, NsynthConfig, QUALITIES};
use mir_table::Split;

use crate::handlers::{by_task, config, label, split_sizes};

#[test]
fn splits_tasks_and_labels_of_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::nsynth(dir.path(), 12).unwrap(), 36);
    let text = std::fs::read_to_string(dir.path().join("nsynth-test/examples.json")).unwrap();
    // Python 2's json.dump: a space before each line break after a comma, and the file's key
    // order (qualities first, instrument_family_str last).
    assert!(
        text.contains("\"qualities\": [\n            0, \n"),
        "{}",
        &text[..300]
    );
    assert!(text.contains("\"pitch\": 9, \n        \"note\": 200000, \n"));
    assert!(text.ends_with("    }\n}\n"));

    let cfg: NsynthConfig = config("{root: ROOT}", dir.path());
    let tasks = by_task(nsynth::load(&cfg).unwrap());
    let names: Vec<&String> = tasks.keys().collect();
    assert_eq!(
        names,
        [
            "instrument_family",
            "instrument_source",
            "pitch",
            "qualities"
        ]
    );
    assert_eq!(split_sizes(&tasks["instrument_family"]), (12, 12, 12));
    assert_eq!(
        tasks["instrument_family"].vocabulary,
        ["bass", "keyboard", "string", "vocal"]
    );
    assert_eq!(
        tasks["instrument_source"].vocabulary,
        ["acoustic", "electronic", "synthetic"]
    );
    // HEAR's range leaves out each split's note at MIDI 9.
    assert_eq!(split_sizes(&tasks["pitch"]), (11, 11, 11));
    let note = "keyboard_acoustic_201-034-050";
    assert_eq!(label(&tasks["instrument_family"], note), "keyboard");
    assert_eq!(label(&tasks["pitch"], note), "34");
    let qualities = &tasks["qualities"];
    let mut vocabulary: Vec<&str> = QUALITIES.to_vec();
    vocabulary.sort_unstable();
    assert_eq!(qualities.vocabulary, vocabulary);
    assert!(
        qualities.tracks.iter().any(|t| t.labels.is_empty()),
        "a note with no quality"
    );
    assert!(qualities.tracks.iter().any(|t| t.labels.len() > 1));
    let track = qualities
        .tracks
        .iter()
        .find(|t| t.track_id == note)
        .unwrap();
    assert_eq!(track.split, Split::Test);
    assert!((track.duration_s - 0.25).abs() < 1e-3);
    // The test split's instruments are not in the training split.
    let instruments = |split: Split| -> BTreeSet<String> {
        (qualities.tracks.iter())
            .filter(|t| t.split == split)
            .map(|t| t.track_id.rsplitn(3, '-').last().unwrap().to_string())
            .collect()
    };
    assert!(instruments(Split::Train).is_disjoint(&instruments(Split::Test)));

    let all: NsynthConfig = config("{root: ROOT, pitch_range: all, tasks: [pitch]}", dir.path());
    let pitch = by_task(nsynth::load(&all).unwrap())
        .remove("pitch")
        .unwrap();
    assert_eq!(split_sizes(&pitch), (12, 12, 12));
    assert!(pitch.vocabulary.contains(&"9".to_string()));
}

#[test]
fn max_tracks_keeps_the_same_notes_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::nsynth(dir.path(), 12).unwrap();
    let cfg: NsynthConfig = config(
        "{root: ROOT, max_tracks: 5, tasks: [instrument_family]}",
        dir.path(),
    );
    let ids = || -> Vec<String> {
        let t = by_task(nsynth::load(&cfg).unwrap())
            .remove("instrument_family")
            .unwrap();
        assert_eq!(split_sizes(&t), (5, 5, 5));
        t.tracks.into_iter().map(|t| t.track_id).collect()
    };
    let first = ids();
    // The same notes after examples.json is rewritten in another order.
    let path = dir.path().join("nsynth-train/examples.json");
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let reversed: serde_json::Map<String, serde_json::Value> = parsed.into_iter().rev().collect();
    std::fs::write(&path, serde_json::to_string(&reversed).unwrap()).unwrap();
    assert_eq!(ids(), first);
}

#[test]
fn a_missing_note_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::nsynth(dir.path(), 4).unwrap();
    let audio = dir.path().join("nsynth-valid/audio");
    let gone = std::fs::read_dir(&audio)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::remove_file(&gone).unwrap();
    let cfg: NsynthConfig = config("{root: ROOT}", dir.path());
    let err = nsynth::load(&cfg).unwrap_err().to_string();
    let name = gone.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.contains(&name) && err.contains("nsynth-valid/examples.json"),
        "{err}"
    );
    assert!(err.contains("line "), "{err}");
}
