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

/// Runs the criterion benchmarks (optimised build); `args` go to criterion. `bench bridge`
/// instead times the Python bridge against the built-in log-mel ([`crate::overhead`]).
pub fn bench(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("bridge") => return bench_bridge(),
        Some("e2e") => {
            let rounds: usize = args.get(1).map_or(Ok(1), |r| r.parse()).context("rounds")?;
            if crate::bench::in_release(args)? {
                crate::bench::e2e::run(rounds)?;
            }
            return Ok(());
        }
        Some("scale") => {
            let (rounds, sizes) = match &args[1..] {
                [flag, r, rest @ ..] if flag == "--rounds" => (r.parse().context("rounds")?, rest),
                rest => (5, rest),
            };
            let sizes: Vec<usize> = match sizes {
                [] => vec![1_000, 4_000, 16_000],
                given => given
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()
                    .context("sizes")?,
            };
            if crate::bench::in_release(args)? {
                crate::bench::scale::run(&sizes, rounds)?;
            }
            return Ok(());
        }
        Some("decode_resample") => {
            if crate::bench::in_release(args)? {
                crate::bench::decode::run()?;
            }
            return Ok(());
        }
        _ => {}
    }
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

/// `bench bridge`: the quickstart, cold, with a HEAR module returning zeros and with log-mel;
/// the Python is `MIRREF_BRIDGE_PYTHON`, else `python3`.
fn bench_bridge() -> Result<()> {
    let python = std::env::var_os("MIRREF_BRIDGE_PYTHON")
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let o = crate::overhead::measure(&python, 3)?;
    println!(
        "quickstart, cold, median of 3: log-mel {:.2} s, HEAR zeros module {:.2} s: the \
         bridge costs {:+.1}%",
        o.logmel_s,
        o.bridge_s,
        100.0 * (o.bridge_s / o.logmel_s - 1.0)
    );
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

/// The Python tools of the tests, from a venv in mir-ref's cache: `moto_server` (a local S3
/// server, `moto[server]`), `kubernetes-validate` (the Kubernetes schemas),
/// `azure-storage-blob` (to create Azurite's container), numpy, pyarrow and scikit-learn (the
/// Python bridge, tables written from Python); and Azurite (npm), a local Azure Blob
/// Storage. Each is installed the first time; where that fails the reason is printed and its
/// tests skip, where it is there they must pass.
struct VenvTools {
    moto: Option<PathBuf>,
    kubernetes_validate: Option<PathBuf>,
    /// `azurite-blob` and the venv's Python.
    azure: Option<(PathBuf, PathBuf)>,
    /// The venv's Python, with numpy, pyarrow and scikit-learn: the Python bridge's worker and
    /// the tests of tables written from Python.
    bridge: Option<PathBuf>,
}

fn ensure_venv_tools() -> VenvTools {
    let cache = mir_embed::onnx::runtime::cache_dir();
    let venv = cache.join("venv");
    let bin = |name: &str| venv.join("bin").join(name);
    let python = bin("python");
    let has_module = |m: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {m}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut missing = Vec::new();
    for (binary, package) in [
        ("moto_server", "moto[server]"),
        ("kubernetes-validate", "kubernetes-validate"),
    ] {
        if !bin(binary).is_file() {
            missing.push(package);
        }
    }
    for (module, package) in [
        ("azure.storage.blob", "azure-storage-blob"),
        ("numpy", "numpy"),
        ("pyarrow", "pyarrow"),
        ("sklearn", "scikit-learn"),
    ] {
        if !has_module(module) {
            missing.push(package);
        }
    }
    if !missing.is_empty() {
        pip_install(&venv, &missing);
    }
    let found = |name: &str| bin(name).is_file().then(|| bin(name));
    let azurite = ensure_azurite(&cache.join("npm"));
    VenvTools {
        moto: std::env::var_os("MIRREF_MOTO_SERVER")
            .map(PathBuf::from)
            .or_else(|| found("moto_server")),
        kubernetes_validate: found("kubernetes-validate"),
        azure: azurite
            .filter(|_| has_module("azure.storage.blob"))
            .map(|a| (a, python.clone())),
        bridge: ["numpy", "pyarrow", "sklearn"]
            .iter()
            .all(|m| has_module(m))
            .then_some(python),
    }
}

/// Azurite's `azurite-blob`, `npm install`ed under `prefix` the first time.
fn ensure_azurite(prefix: &Path) -> Option<PathBuf> {
    let exe = prefix.join("node_modules/.bin/azurite-blob");
    if !exe.is_file() {
        eprintln!("$ npm install --prefix {} azurite@3", prefix.display());
        let status = Command::new("npm")
            .args(["install", "--silent", "--prefix"])
            .arg(prefix)
            .arg("azurite@3")
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("warning: installing Azurite failed: the Azure tests will be skipped");
        }
    }
    exe.is_file().then_some(exe)
}

/// Creates `venv` if needed and pip installs `packages` into it (a warning when it fails).
pub(crate) fn pip_install(venv: &Path, packages: &[&str]) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    eprintln!(
        "$ {python} -m venv {} && pip install {}",
        venv.display(),
        packages.join(" ")
    );
    let pip = venv.join("bin").join("pip");
    let create = !pip.is_file();
    let steps = [
        create.then(|| {
            Command::new(&python)
                .arg("-m")
                .arg("venv")
                .arg(venv)
                .status()
        }),
        Some(
            Command::new(&pip)
                .arg("install")
                .arg("-q")
                .args(packages)
                .status(),
        ),
    ];
    for status in steps.into_iter().flatten() {
        match status {
            Ok(s) if s.success() => {}
            other => {
                eprintln!(
                    "warning: installing {packages:?} failed ({other:?}): their tests will be skipped"
                );
                return;
            }
        }
    }
}

/// A single-node Slurm cluster for the cluster tests (`scripts/slurm-up.sh`: Debian's
/// slurm-wlm and munge, installed once, their state in mir-ref's cache); the path of its
/// `slurm.conf`, or `None` (printed) where it cannot start.
fn ensure_slurm() -> Option<String> {
    let script = project_root().join("scripts/slurm-up.sh");
    eprintln!("$ {}", script.display());
    match Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
    {
        Ok(out) if out.status.success() => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            stdout.lines().last().map(|l| l.trim().to_string())
        }
        other => {
            eprintln!(
                "warning: Slurm did not start ({:?}): the Slurm test will be skipped",
                other.map(|o| o.status)
            );
            None
        }
    }
}

/// What CI runs: formatting, lints, tests, docs, after provisioning ONNX Runtime and basic-pitch
/// (which the tests then require) and chromium (for the browser tests).
pub fn ci() -> Result<()> {
    let steps: [&[&str]; 4] = [
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
        // Every intra-doc link resolves (`RUSTDOCFLAGS=-D warnings`, set below).
        &["doc", "--workspace", "--no-deps"],
    ];
    // The ONNX tests run on a real pretrained network: provision ONNX Runtime and basic-pitch
    // from their PyPI wheels (cached), and make the tests fail rather than skip without them.
    models::setup_ort(mir_embed::onnx::runtime::ORT_VERSION, false, false)
        .context("provisioning ONNX Runtime for the tests")?;
    let card = project_root().join(models::CARDS).join("basic-pitch.yml");
    models::fetch(&card.to_string_lossy()).context("fetching basic-pitch for the tests")?;
    // The report's browser test runs Debian's chromium.
    let browser = ensure_chromium();
    // The object-store tests run against moto, a local S3 server, from a venv of the cache.
    let tools = ensure_venv_tools();
    let moto = tools.moto;
    let azure = tools.azure;
    // The cluster tests submit to a real single-node Slurm.
    let slurm = ensure_slurm();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in steps {
        eprintln!("$ cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .current_dir(project_root())
            .args(args)
            .env("MIRREF_REQUIRE_MODELS", "1")
            .envs((args[0] == "doc").then_some(("RUSTDOCFLAGS", "-D warnings")))
            .env("MIRREF_REQUIRE_BROWSER", if browser { "1" } else { "0" })
            .env("MIRREF_REQUIRE_S3", if moto.is_some() { "1" } else { "0" })
            .envs(moto.iter().map(|m| ("MIRREF_MOTO_SERVER", m)))
            .env(
                "MIRREF_REQUIRE_SLURM",
                if slurm.is_some() { "1" } else { "0" },
            )
            .envs(slurm.iter().map(|c| ("SLURM_CONF", c)))
            .envs(
                tools
                    .kubernetes_validate
                    .iter()
                    .map(|k| ("MIRREF_K8S_VALIDATE", k)),
            )
            .env(
                "MIRREF_REQUIRE_AZURE",
                if azure.is_some() { "1" } else { "0" },
            )
            .envs(
                azure
                    .iter()
                    .flat_map(|(a, p)| [("MIRREF_AZURITE", a), ("MIRREF_AZURE_PYTHON", p)]),
            )
            .env(
                "MIRREF_REQUIRE_BRIDGE",
                if tools.bridge.is_some() { "1" } else { "0" },
            )
            .envs(tools.bridge.iter().map(|p| ("MIRREF_BRIDGE_PYTHON", p)))
            .status()
            .with_context(|| format!("running cargo {}", args[0]))?;
        if !status.success() {
            bail!("`cargo {}` failed", args.join(" "));
        }
    }
    install_check(&cargo)
}

/// `cargo install --path xtask` into a temporary root, then the installed `mir-ref` runs a copy
/// of the quickstart kept in a folder of its own, from another folder: what a user outside the
/// checkout does. Builds in the workspace's target directory (the binary `cargo xtask` itself
/// was built from), so it costs a link, not a build.
fn install_check(cargo: &str) -> Result<()> {
    let root = tempfile::tempdir()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| project_root().join("target"), PathBuf::from);
    let args = [
        "install",
        "--debug",
        "--locked",
        "--offline",
        "--path",
        "xtask",
    ];
    eprintln!(
        "$ cargo {} --root {}",
        args.join(" "),
        root.path().display()
    );
    let status = Command::new(cargo)
        .current_dir(project_root())
        .args(args)
        .arg("--root")
        .arg(root.path())
        .arg("--target-dir")
        .arg(&target)
        .status()
        .context("running cargo install")?;
    if !status.success() {
        bail!("`cargo install --path xtask` failed");
    }
    let exe = root.path().join("bin").join("mir-ref");
    let help = Command::new(&exe).arg("--help").output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    if !help.contains("experiment") {
        bail!("`mir-ref --help` lists no `experiment`:\n{help}");
    }
    let (project, elsewhere) = (root.path().join("project"), root.path().join("elsewhere"));
    std::fs::create_dir_all(&project)?;
    std::fs::create_dir_all(&elsewhere)?;
    let quickstart = std::fs::read_to_string(project_root().join("configs/quickstart.yml"))?
        .replace("root: ../fixtures/generated/tinysol", "root: data/tinysol")
        .replace("epochs: 200", "epochs: 20");
    std::fs::write(project.join("quickstart.yml"), quickstart)?;
    eprintln!("$ {} experiment ../project/quickstart.yml", exe.display());
    let status = Command::new(&exe)
        .args(["experiment", "../project/quickstart.yml"])
        .current_dir(&elsewhere)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .status()?;
    let metrics = elsewhere
        .join("runs/quickstart")
        .join(mir_table::RunLayout::METRICS);
    if !status.success() || !metrics.is_file() {
        bail!(
            "the installed mir-ref did not run the quickstart into {}",
            metrics.display()
        );
    }
    eprintln!(
        "installed mir-ref ran the quickstart: {}",
        metrics.display()
    );
    Ok(())
}
