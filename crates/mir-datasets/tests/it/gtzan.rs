//! GTZAN on its fixture: all 1,000 file names, the fault-filtered split, `.au` copies, Kaggle's
//! layout, and the download through a local mirror.

use std::collections::BTreeMap;

use mir_datasets::gtzan::{self, GENRES, GtzanConfig};
use mir_datasets::{DatasetConfig, fixtures};
use mir_table::Split;

use crate::handlers::{by_task, config, label, options, split_sizes};
use crate::server::Server;

#[test]
fn the_filtered_split_is_443_197_290_with_its_published_labels() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::gtzan(dir.path(), 0.05, false).unwrap(), 1000);
    let cfg: GtzanConfig = config("{root: ROOT}", dir.path());
    let tasks = by_task(gtzan::load(&cfg).unwrap());
    let genre = &tasks["genre"];
    assert_eq!(split_sizes(genre), (443, 197, 290));
    assert_eq!(genre.vocabulary, GENRES);
    // Per-genre training counts of the published list (DATASETS.md).
    let mut train: BTreeMap<&str, usize> = BTreeMap::new();
    for t in genre.tracks.iter().filter(|t| t.split == Split::Train) {
        *train.entry(t.labels[0].as_str()).or_default() += 1;
    }
    let counts: Vec<usize> = GENRES.iter().map(|g| train[g]).collect();
    assert_eq!(counts, [46, 48, 45, 42, 47, 43, 44, 41, 43, 44]);
    for (id, genre_of, split) in [
        ("blues.00029", "blues", Split::Train),
        ("blues.00000", "blues", Split::Validation),
        ("rock.00090", "rock", Split::Test),
        ("jazz.00054", "jazz", Split::Train),
    ] {
        assert_eq!(label(genre, id), genre_of);
        let track = genre.tracks.iter().find(|t| t.track_id == id).unwrap();
        assert_eq!(track.split, split, "{id}");
        assert!(
            (track.duration_s - 0.05).abs() < 1e-3,
            "{id}: {}",
            track.duration_s
        );
    }
    // A duplicate the filter drops (disco.00098 = disco.00099: only 99 is listed).
    assert!(!genre.tracks.iter().any(|t| t.track_id == "disco.00098"));
    assert!(genre.tracks.iter().any(|t| t.track_id == "disco.00099"));
}

/// HEAR's protocol: all 1,000 files, fold 3 tests and fold 4 validates; the folds of named
/// files are hearpreprocess's (see `split::hear_kfold`'s reference test).
#[test]
fn hears_folds_take_all_1000_files() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::gtzan(dir.path(), 0.05, false).unwrap();
    let cfg: GtzanConfig = config("{root: ROOT, split: {folds: 10, test_fold: 3}}", dir.path());
    let genre = by_task(gtzan::load(&cfg).unwrap()).remove("genre").unwrap();
    assert_eq!(split_sizes(&genre), (800, 100, 100));
    let track = |id: &str| genre.tracks.iter().find(|t| t.track_id == id).unwrap();
    assert_eq!(track("blues.00004").split, Split::Test);
    assert_eq!(track("blues.00004").fold, Some(3));
    assert_eq!(track("metal.00058").split, Split::Validation);
    assert_eq!(track("blues.00000").split, Split::Train);
    assert_eq!(track("blues.00000").fold, Some(0));
    for fold in 0..10 {
        let genres: std::collections::BTreeSet<&str> = genre
            .tracks
            .iter()
            .filter(|t| t.fold == Some(fold))
            .map(|t| t.labels[0].as_str())
            .collect();
        assert_eq!(genres.len(), 10, "fold {fold}");
    }
    // The fixture, like the archive, holds the 14 known pairs of identical files.
    let twins = gtzan::twins(&dir.path().join("genres"));
    assert_eq!(twins.len(), 14);
    assert_eq!(
        twins[10],
        ("rock.00016".to_string(), "metal.00058".to_string())
    );
}

#[test]
fn a_bad_split_is_refused_with_what_is_known() {
    let dir = tempfile::tempdir().unwrap();
    for (split, says) in [
        (
            "stratified",
            "unknown GTZAN split `stratified` (known: `filtered`",
        ),
        (
            "{folds: 10, test_fold: 10}",
            "test_fold from 0 to folds - 1",
        ),
        ("{folds: 2}", "needs at least 3 folds"),
    ] {
        let yaml = format!("{{root: ROOT, split: {split}}}");
        let yaml = yaml.replace("ROOT", &dir.path().to_string_lossy());
        let err = serde_yaml::from_str::<GtzanConfig>(&yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{split}: {err}");
    }
}

#[test]
fn au_copies_and_the_kaggle_layout_read_alike() {
    let wav = tempfile::tempdir().unwrap();
    let au = tempfile::tempdir().unwrap();
    fixtures::gtzan(wav.path(), 0.05, false).unwrap();
    fixtures::gtzan(au.path(), 0.05, true).unwrap();
    let load = |root: &std::path::Path| {
        let cfg: GtzanConfig = config("{root: ROOT}", root);
        by_task(gtzan::load(&cfg).unwrap()).remove("genre").unwrap()
    };
    let (a, b) = (load(wav.path()), load(au.path()));
    assert!(b.tracks.iter().all(|t| t.audio_uri.ends_with(".au")));
    for (x, y) in a.tracks.iter().zip(&b.tracks) {
        assert_eq!(
            (&x.track_id, x.split, &x.labels),
            (&y.track_id, y.split, &y.labels)
        );
        assert_eq!(x.duration_s, y.duration_s);
    }
    let one = |t: &mir_table::Track| mir_datasets::uri::load(&t.audio_uri, None).unwrap().samples;
    assert!(
        one(&a.tracks[0]) == one(&b.tracks[0]),
        "the AU copy decodes to the WAV's samples"
    );

    // Kaggle's mirror: `Data/genres_original/` under the root.
    let kaggle = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(kaggle.path().join("Data")).unwrap();
    std::fs::rename(
        wav.path().join("genres"),
        kaggle.path().join("Data/genres_original"),
    )
    .unwrap();
    assert_eq!(split_sizes(&load(kaggle.path())), (443, 197, 290));
}

#[test]
fn a_missing_listed_file_is_named_with_its_list_and_line() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::gtzan(dir.path(), 0.05, false).unwrap();
    std::fs::remove_file(dir.path().join("genres/blues/blues.00030.wav")).unwrap();
    let cfg: GtzanConfig = config("{root: ROOT}", dir.path());
    let err = gtzan::load(&cfg).unwrap_err().to_string();
    assert!(err.contains("blues/blues.00030.wav"), "{err}");
    assert!(
        err.contains("train_filtered.txt") && err.contains("line 2"),
        "{err}"
    );
}

/// `download: true` through a mirror: the archive is fetched, and one that is not the
/// published archive is refused by its checksum, naming it; without `download`, the error
/// says where GTZAN is found now.
#[test]
fn gtzan_downloads_are_checked_against_the_published_archive() {
    let server = Server::start();
    server.add("/gtzan/genres.tar.gz", b"not the GTZAN archive".to_vec());
    let mirror = server.url("/gtzan");
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("{{type: gtzan, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, dir.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains("genres.tar.gz"), "{err}");
    assert!(
        err.contains("5b3d6dddb579ab49814ab86dba69e7c7") || err.contains("24347e02"),
        "{err}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|(p, _)| p.contains("/gtzan/genres.tar.gz"))
    );
    let cfg: DatasetConfig = config("{type: gtzan, root: ROOT}", dir.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(
        err.contains("opihi.cs.uvic.ca") && err.contains("Kaggle"),
        "{err}"
    );
}
