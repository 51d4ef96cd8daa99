//! FMA on its fixture: `tracks.csv` with pandas' three header lines and quoted multi-line bios
//! read as Python's csv module reads it, the cumulative subsets, both tasks, the file known to
//! hold no audio, and the download's SHA-1.

use std::collections::BTreeMap;

use mir_datasets::fma::{self, FmaConfig};
use mir_datasets::{DatasetConfig, fixtures};
use mir_table::Split;

use crate::handlers::{by_task, config, options, python, split_sizes};
use crate::server::Server;

/// Python's csv module over `tracks.csv` (the columns found from the two header lines):
/// prints `id subset split genre_top` per track, and the bio of the first track that has one.
const PLAIN: &str = r#"
import csv, sys
rows = list(csv.reader(open(sys.argv[1] + "/fma_metadata/tracks.csv", newline="")))
col = {(a, b): i for i, (a, b) in enumerate(zip(rows[0], rows[1]))}
assert rows[2][0] == "track_id"
for r in rows[3:]:
    print(r[0], r[col["set", "subset"]], r[col["set", "split"]], r[col["track", "genre_top"]] or "-")
print("BIO", repr(next(r[col["artist", "bio"]] for r in rows[3:] if r[col["artist", "bio"]])))
"#;

/// `(id, subset, split, genre_top)` per track, and the first bio, as Python reads them.
fn python_rows(root: &std::path::Path) -> (Vec<[String; 4]>, String) {
    let text = python(PLAIN, root);
    let (rows, bio) = text.split_once("BIO ").unwrap();
    let rows = rows
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            [f[0], f[1], f[2], f[3]].map(String::from)
        })
        .collect();
    (rows, bio.trim().to_string())
}

#[test]
fn subsets_tasks_and_splits_equal_pythons_reading() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::fma(dir.path(), 10, 0.1).unwrap(), 131);
    let (rows, bio) = python_rows(dir.path());
    assert!(bio.contains(", France, ") && bio.contains("\\n"), "{bio}");
    let rank = |s: &str| {
        ["small", "medium", "large"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    for subset in ["small", "medium"] {
        let mut want: BTreeMap<&str, usize> = BTreeMap::new();
        for [id, s, split, _] in &rows {
            if rank(s) <= rank(subset) && id != "99134" {
                *want.entry(split.as_str()).or_default() += 1;
            }
        }
        let cfg: FmaConfig = config(&format!("{{root: ROOT, subset: {subset}}}"), dir.path());
        let top = by_task(fma::load(&cfg).unwrap())
            .remove("genre_top")
            .unwrap();
        let sizes = (want["training"], want["validation"], want["test"]);
        assert_eq!(split_sizes(&top), sizes, "{subset}");
        assert_eq!(top.vocabulary.len(), if subset == "small" { 8 } else { 16 });
        assert_eq!(top.left_out["known to hold no audio"], 1);
        for [id, _, split, genre] in rows.iter().filter(|r| rank(&r[1]) <= rank(subset)) {
            let Some(t) = top
                .tracks
                .iter()
                .find(|t| t.track_id == format!("{:0>6}", id))
            else {
                assert_eq!(id, "99134");
                continue;
            };
            assert_eq!(&t.labels[0], genre);
            let want = match split.as_str() {
                "training" => Split::Train,
                "validation" => Split::Validation,
                _ => Split::Test,
            };
            assert_eq!(t.split, want);
        }
    }
    let cfg: FmaConfig = config(
        "{root: ROOT, subset: large, tasks: [genre_top, genres]}",
        dir.path(),
    );
    let tasks = by_task(fma::load(&cfg).unwrap());
    assert_eq!(tasks["genre_top"].left_out["no single top-level genre"], 10);
    let genres = &tasks["genres"];
    assert_eq!(genres.tracks.len(), 130);
    assert!(genres.vocabulary.contains(&"Punk".to_string()));
    let two_roots = genres.tracks.iter().filter(|t| t.labels.len() == 2).count();
    assert!(two_roots >= 10, "{two_roots}");
}

#[test]
fn a_missing_file_and_a_bad_download_are_named() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::fma(dir.path(), 4, 0.1).unwrap();
    let gone = dir.path().join("fma_small/000/000002.mp3");
    std::fs::remove_file(&gone).unwrap();
    let cfg: FmaConfig = config("{root: ROOT}", dir.path());
    let err = fma::load(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("000/000002.mp3") && err.contains("fma_small.zip"),
        "{err}"
    );

    let server = Server::start();
    server.add("/fma/fma_metadata.zip", b"not the metadata".to_vec());
    let fresh = tempfile::tempdir().unwrap();
    let mirror = server.url("/fma");
    let yaml = format!("{{type: fma, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(
        err.contains("fma_metadata.zip") && err.contains("f0df49ff"),
        "{err}"
    );
    assert!(err.contains("SHA-1"), "{err}");
}
