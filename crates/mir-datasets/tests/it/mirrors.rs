//! NSynth's, emoMusic's and FMA's downloads through a mirror on the local server. The archives are
//! the fixtures packed as the real ones are (NSynth: one `nsynth-<split>/` per archive;
//! emoMusic: the six CSVs at the root of one, `clips_45seconds/` in the other). Fetched with
//! their own checksums they unpack into what the handler parses; through the handler's
//! `prepare`, the published checksums refuse them, naming the file and the checksum.

use std::path::Path;

use md5::{Digest, Md5};
use mir_datasets::audio::{hex, sha256_hex};
use mir_datasets::download::{Remote, fetch};
use mir_datasets::{DatasetConfig, emomusic, fixtures, nsynth};

use crate::handlers::{by_task, config, options, split_sizes};
use crate::server::Server;

/// A `.tar.gz` of `members` (files or folders) of `root`, under the same names.
fn tar_gz(root: &Path, members: &[&str]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for m in members {
        let path = root.join(m);
        if path.is_dir() {
            tar.append_dir_all(m, &path).unwrap();
        } else {
            tar.append_path_with_name(&path, m).unwrap();
        }
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// Serves each remote's archive from `archives` (by file name) under `/mirror`, then fetches
/// them into `into` with the archives' own checksums. Returns the mirror's URL.
fn fetch_from_mirror(
    server: &Server,
    remotes: impl Fn(&str) -> Vec<Remote>,
    archives: &[(String, Vec<u8>)],
    into: &Path,
) -> String {
    for (name, bytes) in archives {
        server.add(&format!("/mirror/{name}"), bytes.clone());
    }
    let mirror = server.url("/mirror");
    for mut remote in remotes(&mirror) {
        let (_, bytes) = archives
            .iter()
            .find(|(n, _)| *n == remote.filename)
            .unwrap();
        remote.md5 = remote.md5.map(|_| hex(&Md5::digest(bytes)));
        remote.sha256 = remote.sha256.map(|_| sha256_hex(bytes));
        remote.sha1 = remote.sha1.map(|_| hex(&sha1::Sha1::digest(bytes)));
        fetch(&remote, into, &options()).unwrap();
    }
    mirror
}

#[test]
fn nsynth_unpacks_from_its_three_archives_and_checks_their_md5s() {
    let made = tempfile::tempdir().unwrap();
    fixtures::nsynth(made.path(), 6).unwrap();
    let archives: Vec<(String, Vec<u8>)> = ["train", "valid", "test"]
        .iter()
        .map(|s| {
            let folder = format!("nsynth-{s}");
            (
                format!("{folder}.jsonwav.tar.gz"),
                tar_gz(made.path(), &[&folder]),
            )
        })
        .collect();
    let server = Server::start();
    let fetched = tempfile::tempdir().unwrap();
    let mirror = fetch_from_mirror(
        &server,
        |m| nsynth::remotes(Some(m)),
        &archives,
        fetched.path(),
    );
    let cfg: nsynth::NsynthConfig = config("{root: ROOT}", fetched.path());
    let tasks = by_task(nsynth::load(&cfg).unwrap());
    assert_eq!(split_sizes(&tasks["instrument_family"]), (6, 6, 6));

    let fresh = tempfile::tempdir().unwrap();
    let yaml = format!("{{type: nsynth, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains("nsynth-train.jsonwav.tar.gz"), "{err}");
    assert!(err.contains("fde6665a93865503ba598b9fac388660"), "{err}");
}

#[test]
fn emomusic_unpacks_its_csvs_and_clips_and_checks_their_sha256s() {
    let made = tempfile::tempdir().unwrap();
    let songs = fixtures::emomusic(made.path(), 40).unwrap();
    let csvs: Vec<String> = std::fs::read_dir(made.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    assert_eq!(csvs.len(), 6, "{csvs:?}");
    let csvs: Vec<&str> = csvs.iter().map(String::as_str).collect();
    let archives = vec![
        ("annotations.tar.gz".to_string(), tar_gz(made.path(), &csvs)),
        (
            "clips_45sec.tar.gz".to_string(),
            tar_gz(made.path(), &["clips_45seconds"]),
        ),
    ];
    let server = Server::start();
    let fetched = tempfile::tempdir().unwrap();
    let mirror = fetch_from_mirror(
        &server,
        |m| emomusic::remotes(Some(m)),
        &archives,
        fetched.path(),
    );
    let cfg: emomusic::EmoMusicConfig = config("{root: ROOT}", fetched.path());
    let tasks = by_task(emomusic::load(&cfg).unwrap());
    let (train, validation, test) = split_sizes(&tasks["arousal_valence"]);
    assert_eq!(train + validation + test, songs);

    let fresh = tempfile::tempdir().unwrap();
    let yaml = format!("{{type: emomusic, root: ROOT, download: true, mirror: '{mirror}'}}");
    let cfg: DatasetConfig = config(&yaml, fresh.path());
    let err = cfg.prepare(&options()).unwrap_err().to_string();
    assert!(err.contains("clips_45sec.tar.gz"), "{err}");
    assert!(err.contains("3994a5d5"), "{err}");
}

/// A zip of `members` (folders) of `root`, under the same names.
fn zip_of(root: &Path, members: &[&str]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for m in members {
        let mut stack = vec![root.join(m)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                zip.start_file(name, options).unwrap();
                zip.write_all(&std::fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn fma_unpacks_from_its_two_zips_and_checks_their_sha1s() {
    let made = tempfile::tempdir().unwrap();
    fixtures::fma(made.path(), 4, 0.1).unwrap();
    let archives = vec![
        (
            "fma_metadata.zip".to_string(),
            zip_of(made.path(), &["fma_metadata"]),
        ),
        (
            "fma_small.zip".to_string(),
            zip_of(made.path(), &["fma_small"]),
        ),
    ];
    let server = Server::start();
    let fetched = tempfile::tempdir().unwrap();
    fetch_from_mirror(
        &server,
        |m| mir_datasets::fma::remotes(Some(m), mir_datasets::fma::Subset::Small),
        &archives,
        fetched.path(),
    );
    let load = |root: &Path| {
        let cfg: mir_datasets::fma::FmaConfig = config("{root: ROOT}", root);
        split_sizes(&mir_datasets::fma::load(&cfg).unwrap()[0])
    };
    assert_eq!(load(fetched.path()), load(made.path()));
}
