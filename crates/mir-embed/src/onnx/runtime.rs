//! Finding the ONNX Runtime shared library, which `ort` loads at run time (`load-dynamic`): the
//! build never downloads a binary.
//!
//! Looked for, in order: `ORT_DYLIB_PATH` (used alone when set); the Python `onnxruntime`
//! package of `$PYTHON` (default `python3`); the copy `cargo xtask setup-ort` extracts into
//! [`cache_dir`]`/onnxruntime/<version>/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::{Error, Result};

/// The ONNX Runtime release `cargo xtask setup-ort` provisions and the tests were checked with.
pub const ORT_VERSION: &str = "1.32.0";

/// mir-ref's cache: `$MIRREF_CACHE_DIR`, else `$XDG_CACHE_HOME/mir-ref`, else `~/.cache/mir-ref`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MIRREF_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("mir-ref");
    }
    std::env::var_os("HOME")
        .map_or_else(
            || PathBuf::from(".cache"),
            |h| PathBuf::from(h).join(".cache"),
        )
        .join("mir-ref")
}

/// Where `cargo xtask setup-ort` puts the library of `version`.
pub fn provisioned_dir(version: &str) -> PathBuf {
    cache_dir().join("onnxruntime").join(version)
}

/// The libraries to try, each with where it came from.
fn candidates() -> Vec<(String, PathBuf)> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return vec![("ORT_DYLIB_PATH".into(), PathBuf::from(p))];
    }
    let mut out = Vec::new();
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import glob, os, onnxruntime\n\
        d = os.path.join(os.path.dirname(onnxruntime.__file__), 'capi')\n\
        print('\\n'.join(sorted(glob.glob(os.path.join(d, 'libonnxruntime.so.*')) + glob.glob(os.path.join(d, 'libonnxruntime.*.dylib')) + glob.glob(os.path.join(d, 'onnxruntime.dll')))))";
    if let Ok(o) = Command::new(&python).args(["-c", script]).output()
        && o.status.success()
    {
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            out.push((format!("{python}'s onnxruntime"), PathBuf::from(line)));
        }
    }
    let root = cache_dir().join("onnxruntime");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    for dir in versions.iter().rev() {
        if let Some(lib) = library_in(dir) {
            out.push(("cargo xtask setup-ort".into(), lib));
        }
    }
    out
}

/// The ONNX Runtime library in `dir`, if there is one.
pub fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("libonnxruntime.so.")
                    || (n.starts_with("libonnxruntime.") && n.ends_with(".dylib"))
                    || n == "onnxruntime.dll"
            })
        })
        .collect();
    libs.sort();
    libs.pop()
}

static RUNTIME: OnceLock<std::result::Result<(Environment, PathBuf), String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loaded on first use; the error says what was tried
/// and how to get a runtime.
pub fn runtime() -> Result<&'static Environment> {
    runtime_with_path().map(|(env, _)| env)
}

/// Loads the runtime from `path` (no search); later [`runtime`] calls return it.
pub fn init_from(path: &Path) -> Result<&'static Environment> {
    let loaded = RUNTIME.get_or_init(|| load(path));
    match loaded {
        Ok((env, p)) if p == path => Ok(env),
        Ok((_, p)) => Err(Error::Runtime(format!(
            "ONNX Runtime is already loaded from {}",
            p.display()
        ))),
        Err(reason) => Err(Error::Runtime(reason.clone())),
    }
}

fn load(path: &Path) -> std::result::Result<(Environment, PathBuf), String> {
    ort::init_from(path)
        .map_err(|e| e.to_string())
        .and_then(|b| b.with_name("mir-ref").build().map_err(|e| e.to_string()))
        .map(|env| (env, path.to_path_buf()))
}

/// The runtime and the library it was loaded from.
pub fn runtime_with_path() -> Result<(&'static Environment, &'static Path)> {
    let loaded = RUNTIME.get_or_init(|| {
        let mut tried = Vec::new();
        for (source, path) in candidates() {
            match load(&path) {
                Ok(loaded) => {
                    tracing::debug!("ONNX Runtime from {} ({source})", path.display());
                    return Ok(loaded);
                }
                Err(e) => tried.push(format!("{} ({source}): {e}", path.display())),
            }
        }
        let tried = if tried.is_empty() {
            "nothing found: ORT_DYLIB_PATH is unset, Python has no onnxruntime package, and \
             `cargo xtask setup-ort` has not been run"
                .to_string()
        } else {
            format!("tried {}", tried.join("; "))
        };
        Err(format!(
            "no usable ONNX Runtime library ({tried}). Run `cargo xtask setup-ort` (it extracts \
             onnxruntime {ORT_VERSION} from the PyPI wheel into {}), or set ORT_DYLIB_PATH to a \
             libonnxruntime.so of version 1.31 or newer",
            provisioned_dir(ORT_VERSION).display()
        ))
    });
    match loaded {
        Ok((env, path)) => Ok((env, path.as_path())),
        Err(reason) => Err(Error::Runtime(reason.clone())),
    }
}
