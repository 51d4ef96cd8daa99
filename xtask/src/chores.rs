//! Project chores that need the mir-ref checkout: CI, benchmarks, generated docs, the tidy
//! check. The checkout is the one this binary was built from.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::models;

/// The mir-ref checkout this binary was built from (for chores only: no operation on a config
/// depends on it).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// Regenerates `docs/tables.md` from the table contract; returns its path.
pub fn docs() -> Result<PathBuf> {
    let path = project_root().join("docs/tables.md");
    std::fs::write(&path, mir_table::docs::markdown())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Runs the criterion benchmarks (optimised build); `args` go to criterion.
pub fn bench(args: &[String]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(project_root())
        .args(["bench", "--workspace", "--bench", "*", "--"])
        .args(args)
        .status()?;
    if !status.success() {
        bail!("`cargo bench` failed");
    }
    Ok(())
}

/// Whether the report's browser tests have a chromium: already there, or installed now with
/// `apt-get` (Debian's package). Where it cannot be installed (no apt, not root, no mirror) the
/// reason is printed and the browser tests skip; where it is there they must pass.
fn ensure_chromium() -> bool {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    let found = || {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .any(|b| on_path(b))
    };
    if std::env::var_os("MIRREF_CHROMIUM").is_some() || found() {
        return true;
    }
    eprintln!("$ apt-get install chromium (for the report's browser tests)");
    for args in [
        &["update", "-qq"][..],
        &[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
        ],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                eprintln!(
                    "warning: `apt-get {}` failed ({other:?}): the browser tests will be skipped; \
                     install chromium (or set MIRREF_CHROMIUM) to run them",
                    args.join(" ")
                );
                return false;
            }
        }
    }
    found()
}

/// What CI runs: formatting, lints, tests, after provisioning ONNX Runtime and basic-pitch
/// (which the tests then require) and chromium (for the browser tests).
pub fn ci() -> Result<()> {
    let steps: [&[&str]; 3] = [
        &["fmt", "--all", "--", "--check"],
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &["test", "--workspace"], // tidy: not a split
    ];
    // The ONNX tests run on a real pretrained network: provision ONNX Runtime and basic-pitch
    // from their PyPI wheels (cached), and make the tests fail rather than skip without them.
    models::setup_ort(mir_embed::onnx::runtime::ORT_VERSION, false)
        .context("provisioning ONNX Runtime for the tests")?;
    let card = project_root().join(models::CARDS).join("basic-pitch.yml");
    models::fetch(&card.to_string_lossy()).context("fetching basic-pitch for the tests")?;
    // The report's browser test runs Debian's chromium.
    let browser = ensure_chromium();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in steps {
        eprintln!("$ cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .current_dir(project_root())
            .args(args)
            .env("MIRREF_REQUIRE_MODELS", "1")
            .env("MIRREF_REQUIRE_BROWSER", if browser { "1" } else { "0" })
            .status()
            .with_context(|| format!("running cargo {}", args[0]))?;
        if !status.success() {
            bail!("`cargo {}` failed", args.join(" "));
        }
    }
    Ok(())
}
