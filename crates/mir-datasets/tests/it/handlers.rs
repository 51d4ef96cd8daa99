//! Each dataset handler on its fixture: counts, vocabularies, split sizes, exact labels.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use mir_datasets::TaskTracks;
use mir_datasets::download::{Options, hash_file};
use mir_datasets::tinysol::TinySolConfig;
use mir_datasets::{DatasetConfig, Error, fixtures};
use mir_table::Split;

use crate::server::Server;

pub fn options() -> Options {
    Options {
        attempts: 2,
        backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        progress: false,
    }
}

pub fn config<T: serde::de::DeserializeOwned>(yaml: &str, root: &Path) -> T {
    let yaml = yaml.replace("ROOT", &root.to_string_lossy());
    serde_yaml::from_str(&yaml).unwrap()
}

/// What `python3 -c script root` prints (the reference implementations of the tests run in
/// plain CPython); fails the test with Python's stderr when it does not run.
pub fn python(script: &str, root: &Path) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(root)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("Python prints UTF-8")
}

pub fn by_task(tasks: Vec<TaskTracks>) -> BTreeMap<String, TaskTracks> {
    tasks.into_iter().map(|t| (t.task.clone(), t)).collect()
}

pub fn split_sizes(t: &TaskTracks) -> (usize, usize, usize) {
    let n = |s: Split| t.tracks.iter().filter(|x| x.split == s).count();
    (n(Split::Train), n(Split::Validation), n(Split::Test))
}

pub fn label<'a>(t: &'a TaskTracks, track_id: &str) -> &'a str {
    &t.tracks
        .iter()
        .find(|x| x.track_id == track_id)
        .unwrap_or_else(|| panic!("no track {track_id}"))
        .labels[0]
}

#[test]
fn a_large_tinysol_fixture_has_distinct_notes_and_a_repeated_track_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::tinysol(dir.path(), 108).unwrap(), 14 * 108);
    let cfg: DatasetConfig = config(
        "{type: tinysol, root: ROOT, tasks: [instrument]}",
        dir.path(),
    );
    let tasks = cfg.load("tinysol", 0).unwrap();
    let ids: BTreeSet<&str> = tasks[0]
        .tracks
        .iter()
        .map(|t| t.track_id.as_str())
        .collect();
    assert_eq!(ids.len(), 14 * 108, "every note its own file");
    mir_datasets::tracks_table("tinysol", &tasks[0]).unwrap();

    // The metadata listing one note twice.
    let csv = dir.path().join(mir_datasets::tinysol::METADATA);
    let text = std::fs::read_to_string(&csv).unwrap();
    let first = text.lines().nth(1).unwrap().to_string();
    std::fs::write(&csv, format!("{text}{first}\r\n")).unwrap();
    let tasks = cfg.load("tinysol", 0).unwrap();
    let err = mir_datasets::tracks_table("tinysol", &tasks[0]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DuplicateTrack {
                times: 2,
                others: 0,
                ..
            }
        ),
        "{err}"
    );
    let id = first.split(',').next().unwrap().trim_end_matches(".wav");
    assert!(err.to_string().contains(id), "{err}");
    assert!(fixtures::tinysol(dir.path(), 109).is_err());
}

#[test]
fn tinysol_parses_its_metadata_with_the_official_folds() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::tinysol(dir.path(), 5).unwrap(), 70);
    let cfg: DatasetConfig = config("{type: tinysol, root: ROOT}", dir.path());
    assert_eq!(cfg.tasks(), ["instrument", "pitch_class", "register"]);
    cfg.prepare(&options()).unwrap();
    let tasks = by_task(cfg.load("tinysol", 0).unwrap());
    let inst = &tasks["instrument"];
    assert_eq!(inst.tracks.len(), 70);
    assert_eq!(inst.vocabulary.len(), 14);
    assert!(inst.vocabulary.contains(&"Cello".to_string()));
    assert!(inst.vocabulary.contains(&"Clarinet in Bb".to_string()));
    assert_eq!(split_sizes(inst), (42, 14, 14));
    let id = "Brass/Bass_Tuba/ordinario/BTb-ord-F#1-pp-N-N";
    assert_eq!(label(inst, id), "Bass Tuba");
    assert_eq!(label(&tasks["pitch_class"], id), "F#");
    assert_eq!(label(&tasks["register"], id), "1");
    assert_eq!(tasks["pitch_class"].vocabulary.len(), 12);
    // Fold 0 is the test fold by default, fold 1 validation.
    for t in &inst.tracks {
        let fold = t.fold.unwrap();
        let want = match fold {
            0 => Split::Test,
            1 => Split::Validation,
            _ => Split::Train,
        };
        assert_eq!(t.split, want, "{}", t.track_id);
    }
    let other: DatasetConfig = config("{type: tinysol, root: ROOT, test_fold: 3}", dir.path());
    let tasks = by_task(other.load("tinysol", 0).unwrap());
    assert!(
        tasks["instrument"]
            .tracks
            .iter()
            .all(|t| (t.fold == Some(3)) == (t.split == Split::Test))
    );
}

#[test]
fn vocalset_splits_the_technique_task_by_singer() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::vocalset(dir.path()).unwrap(), 220);
    let cfg: DatasetConfig = config("{type: vocalset, root: ROOT}", dir.path());
    let tasks = by_task(cfg.load("vocalset", 7).unwrap());
    let singer = &tasks["singer"];
    assert_eq!(
        singer.tracks.len(),
        220,
        "resource forks are not recordings"
    );
    assert_eq!(singer.vocabulary.len(), 20);
    assert!(singer.vocabulary.contains(&"male1".to_string()));
    assert!(singer.vocabulary.contains(&"male11".to_string()));
    assert_eq!(
        label(singer, "male11/arpeggios/belt/m11_arpeggios_belt_a"),
        "male11"
    );
    assert_eq!(
        label(singer, "male1/arpeggios/belt/m1_arpeggios_belt_a"),
        "male1"
    );
    let technique = &tasks["technique"];
    assert_eq!(technique.tracks.len(), 200);
    assert_eq!(technique.vocabulary.len(), 10);
    assert!(!technique.vocabulary.contains(&"fast_forte".to_string()));
    assert_eq!(
        label(
            technique,
            "female3/arpeggios/lip_trill/f3_arpeggios_lip_trill_a"
        ),
        "lip_trill"
    );
    // No singer in two splits, and the official test singers are the test split.
    let mut singer_splits: BTreeMap<String, BTreeSet<Split>> = BTreeMap::new();
    for t in &technique.tracks {
        let s = t.track_id.split('/').next().unwrap().to_string();
        singer_splits.entry(s).or_default().insert(t.split);
    }
    assert!(
        singer_splits.values().all(|s| s.len() == 1),
        "{singer_splits:?}"
    );
    let test: BTreeSet<&str> = singer_splits
        .iter()
        .filter(|(_, s)| s.contains(&Split::Test))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        test,
        BTreeSet::from(["female2", "female8", "male10", "male3", "male5"])
    );
    assert_eq!(split_sizes(technique), (120, 30, 50));
    // The singer task splits each singer's recordings.
    assert_eq!(
        split_sizes(singer).0 + split_sizes(singer).1 + split_sizes(singer).2,
        220
    );
    assert!(
        singer
            .tracks
            .iter()
            .filter(|t| t.labels[0] == "male11")
            .any(|t| t.split == Split::Test)
    );
}

#[test]
fn beatport_keeps_single_keys_spelled_with_sharps() {
    let dir = tempfile::tempdir().unwrap();
    let (files, usable) = fixtures::beatport(dir.path()).unwrap();
    assert_eq!((files, usable), (78, 73));
    let cfg: DatasetConfig = config("{type: beatport_key, root: ROOT}", dir.path());
    let task = cfg.load("beatport", 0).unwrap().remove(0);
    assert_eq!(task.task, "key");
    assert_eq!(task.tracks.len(), 73);
    assert_eq!(task.vocabulary, mir_datasets::keys::vocabulary());
    // 26 is the flat copy of C# major (`Db major`), 50 the lower-case `c# major`, 77 is
    // `D minor ` with a trailing space.
    assert_eq!(
        label(&task, "100026 Artist 26 - Title 26 (Original Mix)"),
        "C# major"
    );
    assert_eq!(
        label(&task, "100050 Artist 50 - Title 50 (Original Mix)"),
        "C# major"
    );
    assert_eq!(
        label(&task, "100077 Artist 77 - Title 77 (Original Mix)"),
        "D minor"
    );
    // Stratified by key: one of each key per split, D minor's fourth copy in training.
    assert_eq!(split_sizes(&task), (25, 24, 24));
}

#[test]
fn giantsteps_trains_on_mtg_and_tests_on_giantsteps_key() {
    let dir = tempfile::tempdir().unwrap();
    let (test, usable) = fixtures::giantsteps(dir.path()).unwrap();
    let cfg: DatasetConfig = config("{type: giantsteps_key, root: ROOT}", dir.path());
    cfg.prepare(&options()).unwrap();
    let task = cfg.load("giantsteps", 0).unwrap().remove(0);
    let (tr, val, te) = split_sizes(&task);
    assert_eq!(te, test);
    assert_eq!(tr + val, usable);
    assert!(
        task.tracks
            .iter()
            .filter(|t| t.split == Split::Test)
            .all(|t| t.track_id.starts_with("gs/"))
    );
    assert_eq!(label(&task, "gs/1000000"), "C# major");
    assert_eq!(label(&task, "mtg/5003"), "B major");
    assert!(
        !task.tracks.iter().any(|t| t.track_id == "mtg/5002"),
        "confidence 1 is left out"
    );
    // Audio missing: an error that says how to get it, unless skipped.
    std::fs::remove_file(
        dir.path()
            .join("giantsteps-key-dataset/audio/1000003.LOFI.mp3"),
    )
    .unwrap();
    let err = cfg.load("giantsteps", 0).unwrap_err().to_string();
    assert!(
        err.contains("1000003.LOFI.mp3") && err.contains("audio_dl.sh"),
        "{err}"
    );
    let skip: DatasetConfig = config(
        "{type: giantsteps_key, root: ROOT, skip_missing_audio: true}",
        dir.path(),
    );
    assert_eq!(
        split_sizes(&skip.load("giantsteps", 0).unwrap()[0]).2,
        test - 1
    );
}

#[test]
fn a_missing_dataset_says_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    for (yaml, wanted) in [
        ("{type: tinysol, root: ROOT}", "zenodo.org/record/3685367"),
        ("{type: vocalset, root: ROOT}", "zenodo.org/record/1442513"),
        (
            "{type: beatport_key, root: ROOT}",
            "zenodo.org/record/1101082",
        ),
        (
            "{type: giantsteps_key, root: ROOT}",
            "github.com/GiantSteps/giantsteps-key-dataset",
        ),
    ] {
        let cfg: DatasetConfig = config(yaml, dir.path());
        let err = cfg.prepare(&options()).unwrap_err();
        assert!(matches!(err, Error::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains(wanted), "{err}");
    }
}

/// TinySOL served as its Zenodo files by a local server: download, checksum, extraction of the
/// tarball (entries under `./`, as the real one) and parsing, end to end.
#[test]
fn tinysol_downloads_from_a_mirror_end_to_end() {
    let source = tempfile::tempdir().unwrap();
    fixtures::tinysol(source.path(), 2).unwrap();
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for family in ["Brass", "Keyboards", "Strings", "Winds"] {
        tar.append_dir_all(format!("./{family}"), source.path().join(family))
            .unwrap();
    }
    let archive = tar.into_inner().unwrap().finish().unwrap();
    let csv = std::fs::read(source.path().join("TinySOL_metadata.csv")).unwrap();
    let server = Server::start();
    server.add("/zenodo/TinySOL.tar.gz", archive.clone());
    server.add("/zenodo/TinySOL_metadata.csv", csv.clone());
    // The fixture's own checksums stand in for Zenodo's.
    let md5 = |bytes: &[u8]| {
        let f = source.path().join("tmp");
        std::fs::write(&f, bytes).unwrap();
        hash_file(&f).unwrap().0
    };
    let mirror = server.url("/zenodo");
    let remotes = mir_datasets::tinysol::remotes(Some(&mirror));
    assert_eq!(
        remotes[0].md5.as_deref(),
        Some("36030a7fe389da86c3419e5ee48e3b7f")
    );
    let root = tempfile::tempdir().unwrap();
    for mut r in remotes {
        r.md5 = Some(md5(if r.extract { &archive } else { &csv }));
        mir_datasets::download::fetch(&r, root.path(), &options()).unwrap();
    }
    let cfg: TinySolConfig = config("{root: ROOT}", root.path());
    let tasks = by_task(mir_datasets::tinysol::load(&cfg).unwrap());
    assert_eq!(tasks["instrument"].tracks.len(), 28);
    assert_eq!(tasks["instrument"].vocabulary.len(), 14);

    // Through the config: `download: true` with the real checksums refuses the fixture.
    let fresh = tempfile::tempdir().unwrap();
    let cfg: DatasetConfig = config(
        &format!("{{type: tinysol, root: ROOT, download: true, mirror: '{mirror}'}}"),
        fresh.path(),
    );
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains("36030a7fe389da86c3419e5ee48e3b7f"), "{err}");
}

#[test]
fn custom_class_folders_with_k_folds() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["jazz", "rock", "techno"] {
        for i in 0..10 {
            let path = dir.path().join(class).join(format!("take{i}.wav"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            crate::encode::wav(&path, &[vec![0.1; 2205]], 22_050, 16, false);
        }
    }
    let cfg: DatasetConfig = config(
        "{type: custom, root: ROOT, layout: class_folders,
          tasks: {genre: {type: multiclass, label_column: class}},
          split: {folds: 5, test_fold: 2}}",
        dir.path(),
    );
    cfg.prepare(&options()).unwrap();
    let task = cfg.load("genres", 0).unwrap().remove(0);
    assert_eq!(task.vocabulary, ["jazz", "rock", "techno"]);
    assert_eq!(task.tracks.len(), 30);
    assert_eq!(label(&task, "rock/take3"), "rock");
    assert_eq!(split_sizes(&task), (18, 6, 6));
    for t in &task.tracks {
        let want = match t.fold.unwrap() {
            2 => Split::Test,
            3 => Split::Validation,
            _ => Split::Train,
        };
        assert_eq!(t.split, want);
    }
    // Each fold holds two tracks of each class.
    for f in 0..5 {
        for class in ["jazz", "rock", "techno"] {
            let n = task
                .tracks
                .iter()
                .filter(|t| t.fold == Some(f) && t.labels[0] == class)
                .count();
            assert_eq!(n, 2, "fold {f} {class}");
        }
    }
}

#[test]
fn custom_csv_multilabel_and_regression_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("path,tags,tempo,split\n");
    for i in 0..6 {
        let rel = format!("clips/{i}.wav");
        let path = dir.path().join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        crate::encode::wav(&path, &[vec![0.1; 2205]], 22_050, 16, false);
        let split = ["train", "train", "train", "validation", "test", "test"][i];
        csv.push_str(&format!("{rel},guitar; vocals,{}.5,{split}\n", 100 + i));
    }
    std::fs::write(dir.path().join("metadata.csv"), csv).unwrap();
    let cfg: DatasetConfig = config(
        "{type: custom, root: ROOT, tasks: {
           tags: {type: multilabel, label_column: tags},
           tempo: {type: regression, label_column: tempo}}}",
        dir.path(),
    );
    let tasks = by_task(cfg.load("clips", 0).unwrap());
    let tags = &tasks["tags"];
    assert_eq!(tags.vocabulary, ["guitar", "vocals"]);
    assert_eq!(tags.tracks[0].labels, ["guitar", "vocals"]);
    let tempo = &tasks["tempo"];
    assert_eq!(tempo.tracks[2].targets, Some(vec![102.5]));
    assert!(tempo.tracks[2].labels.is_empty());
    assert_eq!(split_sizes(tempo), (3, 1, 2));
    assert!((tempo.tracks[0].duration_s - 0.1).abs() < 1e-9);
}
