//! emoMusic on its fixture: the JukeMIR/MARBLE split by artist and the z-scoring, checked
//! against the same protocol computed by Python from the fixture's CSVs.

use std::collections::BTreeMap;

use mir_datasets::emomusic::{self, EmoMusicConfig};
use mir_datasets::fixtures;
use mir_table::Split;

use crate::handlers::{by_task, config, python};

/// JukeMIR's protocol in Python (csv, re, hashlib, statistics), printed as `id split a v`.
const PROTOCOL: &str = r#"
import csv, hashlib, re, statistics, sys
root = sys.argv[1]
songs = [{k.strip(): v.strip() for k, v in r.items()} for r in csv.DictReader(open(root + "/songs_info.csv"))]
ratings = {r["song_id"]: r for r in csv.DictReader(open(root + "/static_annotations.csv"))}
def split(artist):
    a = " ".join(re.sub(r"[^a-z\s]", "", artist.lower()).split())
    return (["train"] * 8 + ["validation"] * 2)[int(hashlib.sha1(a.encode()).hexdigest(), 16) % 10]
dev = [s for s in songs if s["Mediaeval 2013 set"] != "evaluation"]
scale = [(statistics.mean(v), statistics.pstdev(v)) for v in
         ([float(ratings[s["song_id"]][k]) for s in dev] for k in ("mean_arousal", "mean_valence"))]
for s in songs:
    r = ratings[s["song_id"]]
    sp = "test" if s["Mediaeval 2013 set"] == "evaluation" else split(s["Artist"])
    z = [(float(r[k]) - m) / d for k, (m, d) in zip(("mean_arousal", "mean_valence"), scale)]
    print(s["song_id"], sp, repr(z[0]), repr(z[1]))
"#;

#[test]
fn the_split_by_artist_and_the_z_scores_equal_the_protocol_in_python() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(fixtures::emomusic(dir.path(), 60).unwrap(), 60);
    let info = std::fs::read_to_string(dir.path().join("songs_info.csv")).unwrap();
    assert!(
        info.contains(",\"\t2.mp3\",\"The Blue Band0\t\","),
        "TABs inside the quotes"
    );
    let cfg: EmoMusicConfig = config(
        "{root: ROOT, tasks: [arousal_valence, arousal]}",
        dir.path(),
    );
    let tasks = by_task(emomusic::load(&cfg).unwrap());
    let both = &tasks["arousal_valence"];
    assert_eq!(
        both.vocabulary,
        ["arousal", "valence"],
        "the targets' names, in order"
    );
    let expected: BTreeMap<String, (String, f64, f64)> = python(PROTOCOL, dir.path())
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                (
                    f[1].to_string(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(expected.len(), 60);
    let mut sizes = BTreeMap::new();
    for t in &both.tracks {
        let (split, a, v) = &expected[&t.track_id];
        assert_eq!(t.split.to_string(), *split, "song {}", t.track_id);
        let z = t.targets.as_ref().unwrap();
        assert!(
            (f64::from(z[0]) - a).abs() < 1e-5 && (f64::from(z[1]) - v).abs() < 1e-5,
            "song {}",
            t.track_id
        );
        *sizes.entry(t.split).or_insert(0) += 1;
    }
    // Every fourth artist is in the evaluation set; both development splits are used.
    assert_eq!(sizes[&Split::Test], 15);
    assert!(
        sizes[&Split::Train] > 0 && sizes[&Split::Validation] > 0,
        "{sizes:?}"
    );
    // No artist in two splits.
    let mut artist_split: BTreeMap<String, Split> = BTreeMap::new();
    for t in &both.tracks {
        let k: usize = (t.track_id.parse::<usize>().unwrap() - 2) / 3;
        assert_eq!(
            *artist_split.entry((k / 3).to_string()).or_insert(t.split),
            t.split
        );
    }
    let arousal = &tasks["arousal"];
    assert_eq!(arousal.tracks[0].targets.as_ref().unwrap().len(), 1);
    // An MP3 header counts whole frames: a little over the second encoded.
    assert!(
        (arousal.tracks[0].duration_s - 1.0).abs() < 0.1,
        "{}",
        arousal.tracks[0].duration_s
    );
    let [(ma, sa), _] = emomusic::standardisation(&cfg).unwrap();
    assert!(ma > 2.0 && sa > 0.5);
}

#[test]
fn a_song_without_its_clip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::emomusic(dir.path(), 6).unwrap();
    std::fs::remove_file(dir.path().join("clips_45seconds/5.mp3")).unwrap();
    let cfg: EmoMusicConfig = config("{root: ROOT}", dir.path());
    let err = emomusic::load(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("clips_45seconds/5.mp3")
            && err.contains("songs_info.csv")
            && err.contains("line 3"),
        "{err}"
    );
}
