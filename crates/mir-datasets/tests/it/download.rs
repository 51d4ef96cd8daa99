//! The download manager against a local server: resume, verification, errors, extraction.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use mir_datasets::Error;
use mir_datasets::download::{Options, Remote, fetch, hash_file};

use crate::server::Server;

fn options() -> Options {
    Options {
        attempts: 3,
        backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
        progress: false,
    }
}

/// Deterministic incompressible bytes.
fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn remote(url: String, filename: &str, data: &[u8]) -> Remote {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, data).unwrap();
    let (md5, sha256) = hash_file(&p).unwrap();
    Remote {
        url,
        filename: filename.into(),
        size: Some(data.len() as u64),
        md5: Some(md5),
        sha256: Some(sha256),
        sha1: None,
        extract: false,
    }
}

#[test]
fn a_transfer_cut_mid_file_resumes_and_completes() {
    let server = Server::start();
    let data = bytes(300_000, 1);
    let url = server.add("/data/big.bin", data.clone());
    server.cut_once("/data/big.bin", 100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = fetch(&remote(url, "big.bin", &data), dir.path(), &options()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].1, None);
    assert_eq!(requests[1].1.as_deref(), Some("bytes=100000-"));
    assert!(!dir.path().join("big.bin.part").exists());
}

#[test]
fn a_verified_file_is_never_fetched_again() {
    let server = Server::start();
    let data = bytes(10_000, 2);
    let url = server.add("/a.bin", data.clone());
    let dir = tempfile::tempdir().unwrap();
    let r = remote(url, "a.bin", &data);
    fetch(&r, dir.path(), &options()).unwrap();
    fetch(&r, dir.path(), &options()).unwrap();
    assert_eq!(server.requests().len(), 1);
    // A file placed by hand is verified, not downloaded.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("a.bin"), &data).unwrap();
    fetch(&r, other.path(), &options()).unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_checksum_mismatch_names_file_and_hashes_and_the_file_is_not_used() {
    let server = Server::start();
    let data = bytes(5_000, 3);
    let url = server.add("/c.bin", data.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut r = remote(url.clone(), "c.bin", &data);
    r.md5 = Some("0123456789abcdef0123456789abcdef".into());
    let err = fetch(&r, dir.path(), &options()).unwrap_err();
    assert!(matches!(err, Error::Checksum(_)), "{err:?}");
    let text = err.to_string();
    for part in [
        "c.bin",
        url.as_str(),
        "MD5",
        "0123456789abcdef0123456789abcdef",
        &hash_file(&dir.path().join("c.bin.corrupt")).unwrap().0,
    ] {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
    assert!(
        !dir.path().join("c.bin").exists(),
        "the bad file is not used"
    );
    assert!(!dir.path().join("c.bin.verified").exists());
}

#[test]
fn a_404_and_an_unreachable_host_name_the_url_and_what_to_do() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/missing.zip");
    let err = fetch(
        &remote(url.clone(), "missing.zip", b"x"),
        dir.path(),
        &options(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Download { .. }), "{err:?}");
    assert!(text.contains(&url) && text.contains("HTTP 404"), "{text}");
    assert!(
        text.contains(&dir.path().join("missing.zip").display().to_string()),
        "{text}"
    );
    assert_eq!(server.requests().len(), 1, "a 404 is not retried");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/x.bin");
    let err = fetch(&remote(url.clone(), "x.bin", b"x"), dir.path(), &options()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&url) && text.contains("gave up after 3 attempts"),
        "{text}"
    );
    assert!(text.contains("place the file by hand"), "{text}");
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn zip_tar_gz_and_tar_bz2_archives_are_extracted_once() {
    let server = Server::start();
    let files: &[(&str, &[u8])] = &[("set/a.txt", b"alpha"), ("set/sub/b.txt", b"beta")];
    let tar = tar_of(files);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    bz.write_all(&tar).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    let archives = [
        ("a.tar.gz", gz.finish().unwrap()),
        ("a.tar.bz2", bz.finish().unwrap()),
        ("a.zip", zip.finish().unwrap().into_inner()),
    ];
    for (name, data) in archives {
        let url = server.add(&format!("/{name}"), data.clone());
        let dir = tempfile::tempdir().unwrap();
        let r = Remote {
            extract: true,
            ..remote(url, name, &data)
        };
        fetch(&r, dir.path(), &options()).unwrap();
        let read = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
        assert_eq!(read("set/a.txt"), b"alpha", "{name}");
        assert_eq!(read("set/sub/b.txt"), b"beta", "{name}");
        // Extracted once: a file removed after extraction is not restored by a rerun.
        std::fs::remove_file(dir.path().join("set/a.txt")).unwrap();
        fetch(&r, dir.path(), &options()).unwrap();
        assert!(!Path::new(&dir.path().join("set/a.txt")).exists());
    }
}
