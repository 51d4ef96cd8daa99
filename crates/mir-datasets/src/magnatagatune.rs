//! MagnaTagATune (Law et al. 2009): 25,863 clips of about 29 s, 188 tags from the TagATune
//! game, in `annotations_final.csv` beside the 16 folders `0`..`f` that the split archive
//! `mp3.zip.001`-`003` unpacks into (MP3, 16 kHz mono, 32 kbit/s).
//!
//! `annotations_final.csv` is TAB-separated despite its name, every field quoted, with CRLF
//! line endings: `"clip_id"`, the 188 tags (`"0"`/`"1"`), `"mp3_path"`. The task `tags` is the
//! top 50 tags of musicnn, Won et al. (2020) and MARBLE (the list, not a sort by count: three
//! pairs of tags tie), or all 188 with `tags: all`. Splits follow Dieleman & Schrauwen's
//! folder rule (folders `0`-`b` train, `c` validation, `d`-`f` test) without the three clips
//! known to be missing or corrupt: `split: folders` keeps every other clip (18,706 / 1,825 /
//! 5,329, as musicnn and JukeMIR), `split: won2020` only those with a top-50 tag (15,247 /
//! 1,529 / 4,332, as Won et al.).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mir_table::{Split, TaskType, Track};
use serde::{Deserialize, Serialize};

use crate::custom::TaskTracks;
use crate::download::{Options, Remote, extract_once, fetch, is_extracted, join_parts};
use crate::{Error, Result, uri};

/// The top 50 tags, in the order musicnn (`output_labels_mtt.txt`), Won et al. (`tags.npy`)
/// and MARBLE (`LABEL2IDX`) share.
pub const TOP50: [&str; 50] = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
];

/// The clips left out by every protocol, with why (musicnn's `partition_gt.py`, jukemir).
pub const BAD_CLIPS: [(&str, &str); 3] = [
    ("35644", "no file"),
    ("55753", "corrupt MP3"),
    ("57881", "corrupt MP3"),
];

/// The annotations file.
pub const ANNOTATIONS: &str = "annotations_final.csv";
/// The three parts of the split audio archive, in order.
pub const PARTS: [&str; 3] = ["mp3.zip.001", "mp3.zip.002", "mp3.zip.003"];

/// Which clips make up the splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MttSplit {
    /// The folder rule without the three bad clips (18,706 / 1,825 / 5,329).
    #[default]
    Folders,
    /// The folder rule, only clips with a top-50 tag (15,247 / 1,529 / 4,332).
    Won2020,
}

/// The tag vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MttTags {
    /// The standard top 50.
    #[default]
    Top50,
    /// All 188 tags of the annotations.
    All,
}

/// MagnaTagATune in an experiment config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MagnaTagATuneConfig {
    /// Folder holding `annotations_final.csv` and the folders `0`..`f` (or `mp3/0`..`mp3/f`).
    pub root: PathBuf,
    /// Fetch the three archive parts and the annotations (from `mirror`, else City, University
    /// of London's MIRG), check their SHA-256, join and unpack the parts.
    #[serde(default)]
    pub download: bool,
    /// Base URL replacing MIRG's folder.
    #[serde(default)]
    pub mirror: Option<String>,
    /// `folders` (the default) or `won2020`.
    #[serde(default)]
    pub split: MttSplit,
    /// `top50` (the default) or `all`.
    #[serde(default)]
    pub tags: MttTags,
    /// Leave out clips whose audio is missing (other than the three known bad ones, always
    /// left out), instead of failing.
    #[serde(default)]
    pub skip_missing_audio: bool,
    /// At most this many tracks per split, the same on every machine, keeping every tag of
    /// the split present where the number allows: a quick run on a large dataset.
    #[serde(default)]
    pub max_tracks: Option<usize>,
}

/// The four files, with the SHA-256s jukemir pins (`assets/magnatagatune.json`).
pub fn remotes(mirror: Option<&str>) -> Vec<Remote> {
    let base = mirror.unwrap_or("https://mirg.city.ac.uk/datasets/magnatagatune");
    [
        (
            PARTS[0],
            "f857fe185968773058cc71662c2ef5d8f2d4b7338e3c122cfd52f82dcb9760b9",
        ),
        (
            PARTS[1],
            "fc2e1ec441755556ed1398b1808f1b08b6034372f8bc27394510c0c58cdb52ce",
        ),
        (
            PARTS[2],
            "83a689824c17e82f6eb81cdbc4e4ca239a4cfc1fb41f1a5c80b861caec90450f",
        ),
        (
            ANNOTATIONS,
            "99b94e95825d4fa576386a5367b9c96e0ec636e9f9c240aceb492f4728f68c3c",
        ),
    ]
    .into_iter()
    .map(|(name, sha256)| Remote {
        url: format!("{base}/{name}"),
        filename: name.into(),
        size: None,
        md5: None,
        sha256: Some(sha256.into()),
        sha1: None,
        extract: false,
    })
    .collect()
}

/// The folder holding `0`..`f`: the root, or its `mp3/`.
fn audio_dir(root: &Path) -> Option<PathBuf> {
    [root.to_path_buf(), root.join("mp3")]
        .into_iter()
        .find(|d| {
            "0123456789abcdef"
                .chars()
                .any(|c| d.join(c.to_string()).is_dir())
        })
}

/// Makes sure the annotations and the audio are on disk, downloading them when allowed.
pub fn prepare(config: &MagnaTagATuneConfig, options: &Options) -> Result<()> {
    let root = &config.root;
    if root.join(ANNOTATIONS).is_file() && audio_dir(root).is_some() {
        return Ok(());
    }
    if !config.download {
        return Err(Error::Missing {
            path: root.join(ANNOTATIONS),
            hint: "set `download: true`, or download mp3.zip.001-003 and annotations_final.csv \
                   from https://mirg.city.ac.uk/codeapps/the-magnatagatune-dataset, join the \
                   parts (`cat mp3.zip.* > mp3.zip`) and unzip it there"
                .into(),
        });
    }
    for remote in remotes(config.mirror.as_deref()) {
        fetch(&remote, root, options)?;
    }
    unpack(root)
}

/// Joins `mp3.zip.001`-`003` in `root` into `mp3.zip` and unpacks it there (once; the joined
/// archive is removed after, the checked parts kept).
pub fn unpack(root: &Path) -> Result<()> {
    let joined = root.join("mp3.zip");
    if is_extracted(&joined, root) {
        return Ok(());
    }
    let parts: Vec<PathBuf> = PARTS.iter().map(|p| root.join(p)).collect();
    join_parts(&parts, &joined)?;
    extract_once(&joined, root)?;
    std::fs::remove_file(&joined).map_err(|source| Error::Io {
        path: joined,
        source,
    })
}

/// The `tags` task on the configured split and vocabulary.
pub fn load(config: &MagnaTagATuneConfig) -> Result<Vec<TaskTracks>> {
    let csv_path = config.root.join(ANNOTATIONS);
    let audio = audio_dir(&config.root).ok_or_else(|| Error::MissingAudioDir {
        path: config.root.join("0"),
    })?;
    let (header_tags, clips) = read_annotations(&csv_path)?;
    let top50 = |tags: &[String]| tags.iter().any(|t| TOP50.contains(&t.as_str()));
    let mut left_out: BTreeMap<String, usize> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut tracks = Vec::new();
    for clip in clips {
        if let Some((_, why)) = BAD_CLIPS.iter().find(|(id, _)| *id == clip.id) {
            *left_out
                .entry(format!("known bad clip ({why})"))
                .or_default() += 1;
            continue;
        }
        if config.split == MttSplit::Won2020 && !top50(&clip.tags) {
            *left_out
                .entry("no top-50 tag (split won2020)".into())
                .or_default() += 1;
            continue;
        }
        let path = audio.join(&clip.mp3_path);
        if !path.is_file() {
            missing.push(path);
            continue;
        }
        let labels = match config.tags {
            MttTags::Top50 => clip
                .tags
                .into_iter()
                .filter(|t| TOP50.contains(&t.as_str()))
                .collect(),
            MttTags::All => clip.tags,
        };
        let uri = path.to_string_lossy().into_owned();
        tracks.push(Track {
            track_id: clip.id,
            duration_s: uri::track_duration_s(&uri),
            audio_uri: uri,
            split: clip.split,
            labels,
            targets: None,
            fold: None,
        });
    }
    if !missing.is_empty() {
        if !config.skip_missing_audio {
            return Err(crate::missing_error(
                &missing,
                &format!("unpack mp3.zip beside {ANNOTATIONS}"),
            ));
        }
        left_out.insert("audio file missing".into(), missing.len());
    }
    let vocabulary = match config.tags {
        MttTags::Top50 => TOP50.iter().map(|t| t.to_string()).collect(),
        MttTags::All => header_tags,
    };
    let mut task = crate::task_tracks("tags", TaskType::Multilabel, tracks);
    // The standard order, not sorted: a probe's output k is tag k of musicnn's and MARBLE's.
    task.vocabulary = vocabulary;
    task.left_out = left_out;
    Ok(vec![task])
}

/// One row of the annotations.
struct Clip {
    id: String,
    tags: Vec<String>,
    mp3_path: String,
    split: Split,
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(path)
        .map_err(|e| bad(path, 1, e.to_string()))
}

fn bad(path: &Path, line: usize, reason: String) -> Error {
    Error::Metadata {
        path: path.to_path_buf(),
        reason: format!("line {line}: {reason}"),
    }
}

/// The header's tags and the `mp3_path` column: `clip_id`, tags, `mp3_path`, every top-50
/// tag among them.
fn header(reader: &mut csv::Reader<std::fs::File>, path: &Path) -> Result<(Vec<String>, usize)> {
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(path, 1, e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let n = header.len();
    if n < 3 || header[0] != "clip_id" || header[n - 1] != "mp3_path" {
        return Err(bad(
            path,
            1,
            format!(
                "expected a TAB-separated header `clip_id`, the tags, `mp3_path`; found {} \
                 field(s) starting `{}`",
                n,
                header.first().map_or("", String::as_str)
            ),
        ));
    }
    let tags = header[1..n - 1].to_vec();
    if let Some(absent) = TOP50.iter().find(|t| !tags.iter().any(|h| h == *t)) {
        return Err(bad(
            path,
            1,
            format!("no column for the top-50 tag `{absent}`"),
        ));
    }
    Ok((tags, n - 1))
}

/// The header's tags, in their order, and every clip of the annotations, with its tags and its
/// split by folder.
fn read_annotations(path: &Path) -> Result<(Vec<String>, Vec<Clip>)> {
    let mut reader = reader(path)?;
    let (tags, path_col) = header(&mut reader, path)?;
    let mut clips = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| bad(path, line, e.to_string()))?;
        if record.len() != path_col + 1 {
            let reason = format!("{} fields, the header has {}", record.len(), path_col + 1);
            return Err(bad(path, line, reason));
        }
        let mut on = Vec::new();
        for (tag, value) in tags.iter().zip(record.iter().skip(1)) {
            match value {
                "1" => on.push(tag.clone()),
                "0" => {}
                other => {
                    let reason = format!("tag `{tag}`: `{other}` is neither \"0\" nor \"1\"");
                    return Err(bad(path, line, reason));
                }
            }
        }
        let mp3_path = record[path_col].to_string();
        let split = folder_split(&mp3_path).ok_or_else(|| {
            bad(
                path,
                line,
                format!("mp3_path `{mp3_path}` is not in a folder 0..f"),
            )
        })?;
        clips.push(Clip {
            id: record[0].to_string(),
            tags: on,
            mp3_path,
            split,
        });
    }
    Ok((tags, clips))
}

/// The folder rule: `0`-`b` train, `c` validation, `d`-`f` test.
fn folder_split(mp3_path: &str) -> Option<Split> {
    let (folder, _) = mp3_path.split_once('/')?;
    match u32::from_str_radix(folder, 16).ok()? {
        0..=11 if folder.len() == 1 => Some(Split::Train),
        12 if folder.len() == 1 => Some(Split::Validation),
        13..=15 if folder.len() == 1 => Some(Split::Test),
        _ => None,
    }
}
