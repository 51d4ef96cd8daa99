//! The download manager: resumable HTTP(S) downloads, retries with backoff, size and checksum
//! verification, archive extraction, and files that are never fetched twice.
//!
//! A file is fetched into `<name>.part` (resumed with a `Range` request when a previous run was
//! cut off), verified (size, MD5, SHA-256), and only then renamed to `<name>`. A verified file
//! gets a `<name>.verified` stamp (size and modification time) so later runs skip both the
//! download and the hashing. A file that fails verification is moved to `<name>.corrupt` and is
//! never used. Every error names the URL and the local path and says what the user can do.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ChecksumMismatch, Error, Result};

/// One remote file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    /// Where to fetch it (`http://`, `https://`).
    pub url: String,
    /// File name in the dataset folder.
    pub filename: String,
    /// Size in bytes, when known.
    #[serde(default)]
    pub size: Option<u64>,
    /// MD5 as lowercase hex, when known.
    #[serde(default)]
    pub md5: Option<String>,
    /// SHA-256 as lowercase hex, when known.
    #[serde(default)]
    pub sha256: Option<String>,
    /// SHA-1 as lowercase hex, when known (what FMA publishes).
    #[serde(default)]
    pub sha1: Option<String>,
    /// Unpack into the dataset folder after download (zip, tar, tar.gz, tar.bz2).
    #[serde(default)]
    pub extract: bool,
}

/// Retry and progress settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Attempts per file (connection errors, server errors, cut transfers).
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Give up on a connection that sends nothing for this long.
    pub timeout: Duration,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
            progress: true,
        }
    }
}

/// Makes `remote` present and verified in `dir` (and extracted there, if it is an archive),
/// fetching only what is missing. Returns the local path.
pub fn fetch(remote: &Remote, dir: &Path, options: &Options) -> Result<PathBuf> {
    let path = dir.join(&remote.filename);
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if !is_stamped(&path) {
        if !path.is_file() {
            download(remote, &path, options)?;
        }
        verify(remote, &path)?;
        stamp(&path)?;
    }
    if remote.extract {
        extract_once(&path, dir)?;
    }
    Ok(path)
}

/// The marker that says `archive` was unpacked into `dir`.
fn extracted_marker(archive: &Path, dir: &Path) -> PathBuf {
    let name = archive.file_name().unwrap_or_default().to_string_lossy();
    dir.join(format!(".{name}.extracted"))
}

/// Whether `archive` was unpacked into `dir` completely (by [`extract_once`]).
pub fn is_extracted(archive: &Path, dir: &Path) -> bool {
    extracted_marker(archive, dir).is_file()
}

/// Unpacks `archive` into `dir` unless it was, then marks it unpacked: an unpacking cut short
/// is redone on the next call.
pub fn extract_once(archive: &Path, dir: &Path) -> Result<()> {
    if is_extracted(archive, dir) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    extract(archive, dir)?;
    let marker = extracted_marker(archive, dir);
    std::fs::write(&marker, b"").map_err(|source| Error::Io {
        path: marker,
        source,
    })
}

/// Concatenates `parts` in order into `into` (a split archive's `.001`, `.002`, ...), all or
/// nothing: written under a temporary name and renamed.
pub fn join_parts(parts: &[PathBuf], into: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let part = part_path(into);
    let mut out = File::create(&part).map_err(io(&part))?;
    for p in parts {
        let mut input = File::open(p).map_err(io(p))?;
        std::io::copy(&mut input, &mut out).map_err(io(p))?;
    }
    out.sync_all().map_err(io(&part))?;
    std::fs::rename(&part, into).map_err(io(into))
}

fn download_error(remote: &Remote, path: &Path, reason: impl Into<String>) -> Error {
    Error::Download {
        url: remote.url.clone(),
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Downloads into `<path>.part`, resuming and retrying, then renames it to `path`.
fn download(remote: &Remote, path: &Path, options: &Options) -> Result<()> {
    let part = part_path(path);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(options.timeout))
        .timeout_recv_response(Some(options.timeout))
        .timeout_recv_body(Some(options.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let bar = if options.progress {
        indicatif::ProgressBar::new(remote.size.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("the template is valid"),
    );
    bar.set_message(remote.filename.clone());
    let mut last = String::new();
    for attempt in 0..options.attempts.max(1) {
        if attempt > 0 {
            std::thread::sleep(options.backoff * 2u32.saturating_pow(attempt - 1));
        }
        match try_download(&agent, remote, &part, &bar) {
            Ok(()) => {
                bar.finish_and_clear();
                return std::fs::rename(&part, path).map_err(|source| Error::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(Attempt::Fatal(e)) => {
                bar.abandon();
                return Err(e);
            }
            Err(Attempt::Retry(reason)) => {
                tracing::warn!(
                    url = remote.url,
                    attempt = attempt + 1,
                    "{reason}; retrying"
                );
                last = reason;
            }
        }
    }
    bar.abandon();
    Err(download_error(
        remote,
        path,
        format!(
            "{last} (gave up after {} attempts; the partial file `{}` is kept and a rerun \
             resumes it, or place the file by hand at `{}`)",
            options.attempts,
            part.display(),
            path.display()
        ),
    ))
}

enum Attempt {
    Retry(String),
    Fatal(Error),
}

fn try_download(
    agent: &ureq::Agent,
    remote: &Remote,
    part: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<(), Attempt> {
    let io = |source| {
        Attempt::Fatal(Error::Io {
            path: part.to_path_buf(),
            source,
        })
    };
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(&remote.url);
    if have > 0 {
        request = request.header("Range", format!("bytes={have}-"));
    }
    let response = request
        .call()
        .map_err(|e| Attempt::Retry(format!("cannot connect: {e}")))?;
    let status = response.status().as_u16();
    let append = match status {
        206 => true,
        200 => false,
        // The part is already complete (a previous run was cut after the last byte).
        416 if have > 0 => return Ok(()),
        500..=599 | 408 | 429 => return Err(Attempt::Retry(format!("HTTP {status}"))),
        _ => {
            let hint = match status {
                401 | 403 => {
                    "the server refuses access: this dataset may need a login or a \
                              licence agreement; download it in a browser and place it"
                }
                404 | 410 => {
                    "the file is not at this URL (moved or removed); find it and \
                              place it"
                }
                _ => "download it by other means and place it",
            };
            return Err(Attempt::Fatal(download_error(
                remote,
                &part.with_extension(""),
                format!(
                    "HTTP {status}: {hint} at `{}`",
                    part.parent()
                        .unwrap_or(Path::new("."))
                        .join(&remote.filename)
                        .display()
                ),
            )));
        }
    };
    let start = if append { have } else { 0 };
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n + start);
    if let Some(t) = total.or(remote.size) {
        bar.set_length(t);
    }
    bar.set_position(start);
    let mut file = if append {
        OpenOptions::new().append(true).open(part).map_err(io)?
    } else {
        File::create(part).map_err(io)?
    };
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut written = start;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                file.flush().map_err(io)?;
                return Err(Attempt::Retry(format!(
                    "transfer cut at byte {written}: {e}"
                )));
            }
        };
        file.write_all(&buf[..n]).map_err(io)?;
        written += n as u64;
        bar.set_position(written);
    }
    file.flush().map_err(io)?;
    if let Some(t) = total
        && written < t
    {
        return Err(Attempt::Retry(format!(
            "transfer cut at byte {written} of {t}"
        )));
    }
    Ok(())
}

/// Checks size and checksums; a file that fails is moved to `<path>.corrupt`.
fn verify(remote: &Remote, path: &Path) -> Result<()> {
    let fail = |algorithm: &str, expected: String, found: String| {
        let corrupt = with_suffix(path, ".corrupt");
        let _ = std::fs::rename(path, &corrupt);
        Error::Checksum(Box::new(ChecksumMismatch {
            path: path.to_path_buf(),
            url: remote.url.clone(),
            algorithm: algorithm.into(),
            expected,
            found,
            moved_to: corrupt,
        }))
    };
    let size = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if let Some(expected) = remote.size
        && expected != size
    {
        return Err(fail(
            "size",
            format!("{expected} bytes"),
            format!("{size} bytes"),
        ));
    }
    if remote.md5.is_none() && remote.sha256.is_none() && remote.sha1.is_none() {
        return Ok(());
    }
    let [md5, sha1, sha256] = digests(path)?;
    if let Some(expected) = &remote.sha1
        && !expected.eq_ignore_ascii_case(&sha1)
    {
        return Err(fail("SHA-1", expected.clone(), sha1));
    }
    if let Some(expected) = &remote.md5
        && !expected.eq_ignore_ascii_case(&md5)
    {
        return Err(fail("MD5", expected.clone(), md5));
    }
    if let Some(expected) = &remote.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(fail("SHA-256", expected.clone(), sha256));
    }
    Ok(())
}

/// MD5 and SHA-256 of a file, as lowercase hex.
pub fn hash_file(path: &Path) -> Result<(String, String)> {
    let [md5, _, sha256] = digests(path)?;
    Ok((md5, sha256))
}

/// MD5, SHA-1 and SHA-256 of a file in one read, as lowercase hex.
fn digests(path: &Path) -> Result<[String; 3]> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let (mut md5, mut sha1, mut sha) = (Md5::new(), sha1::Sha1::new(), Sha256::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha1.update(&buf[..n]);
        sha.update(&buf[..n]);
    }
    Ok([
        hex(&md5.finalize()),
        hex(&sha1.finalize()),
        hex(&sha.finalize()),
    ])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn part_path(path: &Path) -> PathBuf {
    with_suffix(path, ".part")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The stamp records size and modification time of a verified file.
fn stamp_text(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", meta.len(), modified.as_nanos()))
}

fn is_stamped(path: &Path) -> bool {
    match (
        stamp_text(path),
        std::fs::read_to_string(with_suffix(path, ".verified")),
    ) {
        (Some(now), Ok(saved)) => now == saved,
        _ => false,
    }
}

fn stamp(path: &Path) -> Result<()> {
    let text = stamp_text(path).unwrap_or_default();
    let stamp = with_suffix(path, ".verified");
    std::fs::write(&stamp, text).map_err(|source| Error::Io {
        path: stamp,
        source,
    })
}

/// Unpacks a zip, tar.gz (.tgz) or tar.bz2 archive into `dir`, refusing entries that would
/// land outside it.
pub fn extract(archive: &Path, dir: &Path) -> Result<()> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bad = |reason: String| Error::Archive {
        path: archive.to_path_buf(),
        reason,
    };
    let file = File::open(archive).map_err(|source| Error::Io {
        path: archive.to_path_buf(),
        source,
    })?;
    if name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
        // `enclosed_name` rejects absolute paths and `..`; `extract` uses it.
        zip.extract(dir).map_err(|e| bad(e.to_string()))
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        untar(flate2::read::GzDecoder::new(file), dir, &bad)
    } else if name.ends_with(".tar.bz2") || name.ends_with(".tbz2") {
        untar(bzip2::read::BzDecoder::new(file), dir, &bad)
    } else if name.ends_with(".tar") {
        untar(file, dir, &bad)
    } else {
        Err(bad(
            "unknown archive type (expected .zip, .tar, .tar.gz, .tgz, .tar.bz2)".into(),
        ))
    }
}

fn untar(reader: impl Read, dir: &Path, bad: &dyn Fn(String) -> Error) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        // `unpack_in` refuses paths that escape `dir`.
        entry.unpack_in(dir).map_err(|e| bad(e.to_string()))?;
    }
    Ok(())
}
