//! MagnaTagATune on its fixture: the quoted TAB-separated CRLF annotations, the folder rule,
//! the three bad clips, Won et al.'s subset, all 188 tags, the split archive and the download.

use std::collections::BTreeMap;
use std::path::Path;

use mir_datasets::magnatagatune::{self, MagnaTagATuneConfig, TOP50};
use mir_datasets::{DatasetConfig, fixtures};
use mir_table::Split;

use crate::handlers::{by_task, config, options, split_sizes};
use crate::server::Server;

/// The fixture's rows parsed plainly (quotes and CR stripped, TABs split): (clip id, tags,
/// mp3_path), to check the handler against.
fn plain_rows(root: &Path) -> Vec<(String, Vec<String>, String)> {
    let text = std::fs::read_to_string(root.join("annotations_final.csv")).unwrap();
    assert!(text.ends_with("\"\r\n") && text.matches("\r\n").count() == text.lines().count());
    let mut lines = text.lines().map(|l| {
        l.split('\t')
            .map(|f| f.trim_matches(|c| c == '"' || c == '\r').to_string())
            .collect::<Vec<_>>()
    });
    let header = lines.next().unwrap();
    assert_eq!(header.len(), 190);
    lines
        .map(|f| {
            let tags = (1..189)
                .filter(|&i| f[i] == "1")
                .map(|i| header[i].clone())
                .collect();
            (f[0].clone(), tags, f[189].clone())
        })
        .collect()
}

#[test]
fn the_folder_rule_without_the_bad_clips_and_the_top_50() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::magnatagatune(dir.path(), 12, 0.2).unwrap(), 196);
    let rows = plain_rows(dir.path());
    let cfg: MagnaTagATuneConfig = config("{root: ROOT}", dir.path());
    let tags = by_task(magnatagatune::load(&cfg).unwrap())
        .remove("tags")
        .unwrap();
    assert_eq!(tags.vocabulary, TOP50, "the standard order");
    // 192 generated clips, 12 per folder, and clip 2 in folder f; the three bad clips left out.
    assert_eq!(split_sizes(&tags), (144, 12, 37));
    let left_out: Vec<(&str, usize)> = tags
        .left_out
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        left_out,
        [
            ("known bad clip (corrupt MP3)", 2),
            ("known bad clip (no file)", 1)
        ]
    );
    let clip = |id: &str| tags.tracks.iter().find(|t| t.track_id == id).unwrap();
    assert_eq!(
        clip("2").labels,
        ["classical", "strings", "opera", "violin"]
    );
    assert_eq!(clip("2").split, Split::Test);
    for (id, on, path) in rows
        .iter()
        .filter(|(id, _, _)| !["35644", "55753", "57881"].contains(&id.as_str()))
    {
        let track = clip(id);
        let top: Vec<&String> = on.iter().filter(|t| TOP50.contains(&t.as_str())).collect();
        assert_eq!(track.labels.iter().collect::<Vec<_>>(), top, "clip {id}");
        let folder = u32::from_str_radix(&path[..1], 16).unwrap();
        let want = match folder {
            0..=11 => Split::Train,
            12 => Split::Validation,
            _ => Split::Test,
        };
        assert_eq!(track.split, want, "clip {id}");
        assert!(track.audio_uri.ends_with(path.as_str()));
    }
    // 0.2 s of audio, plus the MP3 encoder's delay and padding (at 16 kHz, 1,408 samples).
    let duration = clip("2").duration_s;
    assert!((0.2..0.3).contains(&duration), "{duration}");
}

#[test]
fn won2020_keeps_clips_with_a_top_50_tag_and_all_has_188() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::magnatagatune(dir.path(), 12, 0.1).unwrap();
    let rows = plain_rows(dir.path());
    let bad = ["35644", "55753", "57881"];
    let mut want: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, on, path) in &rows {
        if bad.contains(&id.as_str()) || !on.iter().any(|t| TOP50.contains(&t.as_str())) {
            continue;
        }
        let split = match u32::from_str_radix(&path[..1], 16).unwrap() {
            0..=11 => "train",
            12 => "validation",
            _ => "test",
        };
        *want.entry(split).or_default() += 1;
    }
    let cfg: MagnaTagATuneConfig = config("{root: ROOT, split: won2020}", dir.path());
    let tags = by_task(magnatagatune::load(&cfg).unwrap())
        .remove("tags")
        .unwrap();
    assert_eq!(
        split_sizes(&tags),
        (want["train"], want["validation"], want["test"])
    );
    assert!(split_sizes(&tags).0 < 144);
    assert!(tags.tracks.iter().all(|t| !t.labels.is_empty()));
    assert_eq!(
        tags.left_out["no top-50 tag (split won2020)"],
        196 - 3 - tags.tracks.len()
    );

    let cfg: MagnaTagATuneConfig = config("{root: ROOT, tags: all}", dir.path());
    let all = by_task(magnatagatune::load(&cfg).unwrap())
        .remove("tags")
        .unwrap();
    assert_eq!(all.vocabulary.len(), 188);
    assert_eq!(
        all.vocabulary[..4],
        ["no voice", "singer", "duet", "plucking"]
    );
    let hard_rock = all
        .tracks
        .iter()
        .filter(|t| t.labels.contains(&"hard rock".to_string()));
    assert!(hard_rock.count() > 0);
}

#[test]
fn a_missing_clip_is_named_and_a_bad_header_explained() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::magnatagatune(dir.path(), 4, 0.1).unwrap();
    let (_, _, path) = plain_rows(dir.path()).into_iter().nth(5).unwrap();
    std::fs::remove_file(dir.path().join(&path)).unwrap();
    let cfg: MagnaTagATuneConfig = config("{root: ROOT}", dir.path());
    let err = magnatagatune::load(&cfg).unwrap_err().to_string();
    assert!(
        err.contains(&path) && err.contains("skip_missing_audio"),
        "{err}"
    );
    let cfg: MagnaTagATuneConfig = config("{root: ROOT, skip_missing_audio: true}", dir.path());
    let tags = magnatagatune::load(&cfg).unwrap().remove(0);
    assert_eq!(tags.left_out["audio file missing"], 1);

    let csv = dir.path().join("annotations_final.csv");
    std::fs::write(&csv, "clip_id,guitar,mp3_path\r\n2,1,0/a.mp3\r\n").unwrap();
    let err = magnatagatune::load(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("annotations_final.csv") && err.contains("TAB-separated"),
        "{err}"
    );
}

#[test]
fn the_split_archive_joins_and_unpacks_and_downloads_are_checked() {
    let made = tempfile::tempdir().unwrap();
    fixtures::magnatagatune(made.path(), 3, 0.1).unwrap();
    let unpacked = tempfile::tempdir().unwrap();
    fixtures::magnatagatune_parts(made.path(), unpacked.path()).unwrap();
    magnatagatune::unpack(unpacked.path()).unwrap();
    let (_, _, path) = plain_rows(made.path()).into_iter().nth(7).unwrap();
    assert_eq!(
        std::fs::read(unpacked.path().join(&path)).unwrap(),
        std::fs::read(made.path().join(&path)).unwrap()
    );
    assert!(!unpacked.path().join("mp3.zip").exists());
    // Done once: a second call finds the marker and joins nothing.
    std::fs::remove_file(unpacked.path().join("mp3.zip.001")).unwrap();
    magnatagatune::unpack(unpacked.path()).unwrap();

    let server = Server::start();
    for part in magnatagatune::PARTS {
        server.add(
            &format!("/mtt/{part}"),
            b"a part of another archive".to_vec(),
        );
    }
    let fresh = tempfile::tempdir().unwrap();
    let mirror = server.url("/mtt");
    let yaml = format!("{{type: magnatagatune, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(
        err.contains("mp3.zip.001") && err.contains("f857fe18"),
        "{err}"
    );
    let cfg: DatasetConfig = config("{type: magnatagatune, root: ROOT}", fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains("cat mp3.zip.*"), "{err}");
}

/// The folders may sit under `mp3/`, as MARBLE unzips them.
#[test]
fn the_folders_may_be_under_mp3() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::magnatagatune(dir.path(), 2, 0.1).unwrap();
    let cfg: MagnaTagATuneConfig = config("{root: ROOT}", dir.path());
    let flat = split_sizes(&magnatagatune::load(&cfg).unwrap()[0]);
    std::fs::create_dir(dir.path().join("mp3")).unwrap();
    for c in "0123456789abcdef".chars().map(String::from) {
        std::fs::rename(dir.path().join(&c), dir.path().join("mp3").join(&c)).unwrap();
    }
    let nested = magnatagatune::load(&cfg).unwrap().remove(0);
    assert_eq!(split_sizes(&nested), flat);
    assert!(nested.tracks[0].audio_uri.contains("/mp3/"));
}
