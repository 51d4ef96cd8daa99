//! The Python of the bridge tests and the reference checks: an interpreter with numpy and
//! pyarrow (`MIRREF_BRIDGE_PYTHON`, which `xtask ci` points at its venv, else `python3` when
//! it has both), and a way to run a snippet on it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `python` can import every module of `modules`.
fn imports(python: &Path, modules: &[&str]) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    Command::new(python)
        .args(["-c", &code])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The interpreter, when one with `modules` (besides numpy and pyarrow) is here; `None` (the
/// caller skips, saying so) unless `MIRREF_REQUIRE_BRIDGE=1`, which makes it a failure.
pub fn required_python(modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var_os("MIRREF_BRIDGE_PYTHON")
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let wanted: Vec<&str> = ["numpy", "pyarrow"]
        .iter()
        .chain(modules)
        .copied()
        .collect();
    if imports(&python, &wanted) {
        return Some(python);
    }
    assert!(
        std::env::var("MIRREF_REQUIRE_BRIDGE").as_deref() != Ok("1"),
        "MIRREF_REQUIRE_BRIDGE=1 but {} cannot import {wanted:?}",
        python.display()
    );
    eprintln!(
        "skipped: {} cannot import {wanted:?} (set MIRREF_BRIDGE_PYTHON)",
        python.display()
    );
    None
}

/// Runs `code` on `python` with `args` (`sys.argv[1:]`); its stdout, or a panic with its stderr.
pub fn run(python: &Path, code: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A HEAR module's (a `.py` file or an importable name) own output for `layer` (`scene`, or `timestamp` pooled by its mean over
/// time) on each clip of `clips` (handed over as float32 files, as a torch tensor where torch
/// is installed, as the HEAR API has it), computed in Python.
pub fn hear_reference(
    python: &Path,
    module: &Path,
    clips: &[Vec<f32>],
    layer: &str,
) -> Vec<Vec<f32>> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![module.display().to_string(), layer.to_string()];
    for (i, clip) in clips.iter().enumerate() {
        let path = dir.path().join(format!("{i}.f32"));
        std::fs::write(
            &path,
            clip.iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        args.push(path.display().to_string());
    }
    let code = r#"
import importlib, importlib.util, json, sys
import numpy as np
if sys.argv[1].endswith(".py"):
    spec = importlib.util.spec_from_file_location("m", sys.argv[1])
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
else:
    m = importlib.import_module(sys.argv[1])
model = m.load_model()
out = []
try:
    import torch
    tensor, array = torch.from_numpy, lambda x: x.detach().cpu().numpy()
except ImportError:
    tensor, array = (lambda x: x), np.asarray
for path in sys.argv[3:]:
    audio = tensor(np.fromfile(path, dtype="<f4")[None, :])
    if sys.argv[2] == "scene":
        e = array(m.get_scene_embeddings(audio, model))[0]
    else:
        e = array(m.get_timestamp_embeddings(audio, model)[0])[0].mean(axis=0)
    out.append([float(x) for x in e])
print(json.dumps(out))
"#;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&run(python, code, &args)).unwrap()
}
