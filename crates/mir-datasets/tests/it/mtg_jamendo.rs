//! MTG-Jamendo on its fixture: the ragged CRLF split files, the five tasks, the splits, the
//! audio-low naming and the download's checksum.

use std::collections::BTreeSet;
use std::path::Path;

use mir_datasets::mtg_jamendo::{self, MtgJamendoConfig};
use mir_datasets::{DatasetConfig, fixtures};

use crate::handlers::{by_task, config, options, split_sizes};
use crate::server::Server;

/// A split file's rows parsed plainly: (track id, tags).
fn plain(root: &Path, split: u8, file: &str) -> Vec<(String, Vec<String>)> {
    let path = root.join(format!("data/splits/split-{split}/{file}"));
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[5..].iter().map(|t| t.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn five_tasks_from_the_ragged_split_files() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::mtg_jamendo(dir.path(), 120, 0.2).unwrap(), 120);
    let yaml = "{root: ROOT, tasks: [moodtheme, instrument, genre, top50tags, all]}";
    let cfg: MtgJamendoConfig = config(yaml, dir.path());
    let tasks = by_task(mtg_jamendo::load(&cfg).unwrap());
    assert_eq!(tasks.len(), 5);
    let parts = ["train", "validation", "test"];
    for (task, file) in [
        ("moodtheme", "autotagging_moodtheme"),
        ("all", "autotagging"),
    ] {
        let rows: Vec<Vec<(String, Vec<String>)>> = parts
            .iter()
            .map(|p| plain(dir.path(), 0, &format!("{file}-{p}.tsv")))
            .collect();
        let sizes = (rows[0].len(), rows[1].len(), rows[2].len());
        assert_eq!(split_sizes(&tasks[task]), sizes, "{task}");
        let vocabulary: BTreeSet<String> = rows
            .iter()
            .flatten()
            .flat_map(|(_, tags)| tags.iter())
            .map(|t| match task {
                "moodtheme" => t.trim_start_matches("mood/theme---").to_string(),
                _ => t.clone(),
            })
            .collect();
        assert_eq!(
            tasks[task].vocabulary,
            vocabulary.into_iter().collect::<Vec<_>>()
        );
    }
    // Track 7 (number 948 + 7 * 97 = 1627) carries 33 tags, the last one before a CRLF.
    let all = &tasks["all"];
    let many = all
        .tracks
        .iter()
        .find(|t| t.track_id == "track_0001627")
        .unwrap();
    assert_eq!(many.labels.len(), 33);
    assert!(
        many.labels
            .iter()
            .all(|t| !t.ends_with('\r') && t.contains("---"))
    );
    assert!(many.audio_uri.ends_with("audio/27/1627.mp3"));
    let first = &tasks["genre"]
        .tracks
        .iter()
        .find(|t| t.track_id == "track_0000948");
    let genres = first.unwrap().labels.clone();
    assert!(
        !genres.is_empty() && genres.iter().all(|g| !g.contains("---")),
        "{genres:?}"
    );
    // Artist-disjoint parts.
    let artists = |split| -> BTreeSet<String> {
        let t = all.tracks.iter().filter(|t| t.split == split);
        t.map(|t| t.track_id[6..].parse::<u64>().unwrap() / 3)
            .map(|a| a.to_string())
            .collect()
    };
    let (train, test) = (
        artists(mir_table::Split::Train),
        artists(mir_table::Split::Test),
    );
    assert!(train.is_disjoint(&test));
}

#[test]
fn splits_audio_low_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::mtg_jamendo(dir.path(), 60, 0.1).unwrap();
    let load = |yaml: &str| {
        let cfg: MtgJamendoConfig = config(yaml, dir.path());
        mtg_jamendo::load(&cfg)
    };
    let zero = load("{root: ROOT}").unwrap().remove(0);
    let one = load("{root: ROOT, split: 1}").unwrap().remove(0);
    assert_ne!(split_sizes(&zero), split_sizes(&one));
    let err = load("{root: ROOT, split: 5}").unwrap_err().to_string();
    assert!(err.contains("split 5 does not exist"), "{err}");
    let err = load("{root: ROOT, audio: audio_low}")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(".low.mp3") && err.contains("skip_missing_audio"),
        "{err}"
    );

    let file = dir
        .path()
        .join("data/splits/split-0/autotagging_moodtheme-train.tsv");
    std::fs::write(&file, "TRACK_ID,PATH,TAGS\r\n").unwrap();
    let err = load("{root: ROOT}").unwrap_err().to_string();
    assert!(
        err.contains("autotagging_moodtheme-train.tsv") && err.contains("line 1"),
        "{err}"
    );

    let server = Server::start();
    server.add("/jamendo/data.zip", b"not the metadata".to_vec());
    let fresh = tempfile::tempdir().unwrap();
    let mirror = server.url("/jamendo");
    let yaml = format!("{{type: mtg_jamendo, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(
        err.contains("data.zip") && err.contains("039ce10f"),
        "{err}"
    );
}

/// `max_tracks`: at most N per split, every tag of the split still there, the same tracks on
/// every load, the rest counted as left out.
#[test]
fn max_tracks_keeps_every_tag_of_each_split() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::mtg_jamendo(dir.path(), 120, 0.1).unwrap();
    let load = |yaml: &str| {
        let cfg: DatasetConfig = config(yaml, dir.path());
        cfg.load("jamendo", 3).unwrap().remove(0)
    };
    let full = load("{type: mtg_jamendo, root: ROOT}");
    let small = load("{type: mtg_jamendo, root: ROOT, max_tracks: 20}");
    assert_eq!(
        small,
        load("{type: mtg_jamendo, root: ROOT, max_tracks: 20}")
    );
    for split in [
        mir_table::Split::Train,
        mir_table::Split::Validation,
        mir_table::Split::Test,
    ] {
        let tags = |t: &mir_datasets::TaskTracks| -> BTreeSet<String> {
            let of = t.tracks.iter().filter(|x| x.split == split);
            of.flat_map(|x| x.labels.iter().cloned()).collect()
        };
        let n = small.tracks.iter().filter(|t| t.split == split).count();
        let all = full.tracks.iter().filter(|t| t.split == split).count();
        assert_eq!(n, all.min(20), "{split:?}");
        assert_eq!(tags(&small), tags(&full), "{split:?}");
    }
    let left = small.left_out["beyond max_tracks 20 per split"];
    assert_eq!(left, full.tracks.len() - small.tracks.len());
}

/// The audio tars from a mirror: each checked against the metadata's SHA-256 list, unpacked
/// into `audio/` (a tar's first member is its two-digit folder), and a tar whose bytes are not
/// the listed ones refused by name.
#[test]
fn audio_tars_download_checked_and_unpack() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::mtg_jamendo(dir.path(), 30, 0.1).unwrap();
    let cfg: MtgJamendoConfig = config("{root: ROOT}", dir.path());
    let before = split_sizes(&mtg_jamendo::load(&cfg).unwrap()[0]);
    let audio = dir.path().join("audio");
    let server = Server::start();
    let mut list = String::new();
    let mut folders: Vec<String> = std::fs::read_dir(&audio)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    for folder in &folders {
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_dir_all(folder, audio.join(folder)).unwrap();
        let bytes = tar.into_inner().unwrap();
        let name = format!("autotagging_moodtheme_audio-{folder}.tar");
        list.push_str(&format!(
            "{} {name}\n",
            mir_datasets::audio::sha256_hex(&bytes)
        ));
        server.add(&format!("/j/autotagging_moodtheme/audio/{name}"), bytes);
    }
    let lists = dir.path().join("data/download");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(
        lists.join("autotagging_moodtheme_audio_sha256_tars.txt"),
        &list,
    )
    .unwrap();
    std::fs::remove_dir_all(&audio).unwrap();
    let mirror = server.url("/j");
    let yaml = format!("{{type: mtg_jamendo, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, dir.path());
    cfg.prepare(&options()).unwrap();
    assert!(
        !server
            .requests()
            .iter()
            .any(|(p, _)| p.ends_with("data.zip"))
    );
    let after = cfg.load("jamendo", 0).unwrap().remove(0);
    assert_eq!(split_sizes(&after), before);

    // A tar whose bytes are not the listed ones.
    std::fs::remove_dir_all(&audio).unwrap();
    std::fs::remove_dir_all(dir.path().join("tars")).unwrap();
    let first = format!("autotagging_moodtheme_audio-{}.tar", folders[0]);
    server.add(
        &format!("/j/autotagging_moodtheme/audio/{first}"),
        b"another tar".to_vec(),
    );
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains(&first) && err.contains("SHA-256"), "{err}");
}
