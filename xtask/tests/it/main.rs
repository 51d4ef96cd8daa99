//! Tests of the pipeline: most call the library (`xtask::config::load`, `xtask::experiment_in`
//! on a temporary or `memory://` store, `xtask::plan_in`, `xtask::deform_file`); a handful drive
//! the `mir-ref` binary (the quickstart, environment overrides, a run killed mid-way, an
//! installed copy run from another folder, `models list`).
#![allow(
    clippy::too_many_lines,
    clippy::excessive_nesting,
    reason = "the function budget is for library and binary code; an end-to-end test reads as \
              one scenario, top to bottom"
)]

mod analysis;
mod bridge;
mod cluster;
mod export;
mod inventory;
mod layers;
mod precomputed;
mod shards;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mir_table::{FailureStage, Metadata, Split, TableKind, TableStore, keys, read_metrics};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mir-ref"));
    cmd.args(args).env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `yaml` to a temporary config file.
fn config(dir: &Path, yaml: &str) -> String {
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    path.to_string_lossy().into_owned()
}

const VALID: &str = "
name: t
datasets:
  synth:
    type: custom
    root: ROOT
    generate: synth_instruments
    tasks:
      instrument: {type: multiclass, label_column: instrument}
deformations:
  noise: {steps: [{type: white_noise, snr_db: 20}]}
models:
  logmel: {type: logmel}
probes:
  linear: {type: linear}
";

/// `yaml` (with `ROOT` a temporary folder) loaded by the library.
fn load(dir: &Path, yaml: &str) -> anyhow::Result<xtask::ExperimentConfig> {
    let yaml = yaml.replace("ROOT", &dir.join("synth").to_string_lossy());
    xtask::config::load(Path::new(&config(dir, &yaml)))
}

/// `yaml` is refused with an error naming the file and holding every `expected` part.
fn check_error(yaml: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let err = match load(dir.path(), yaml) {
        Ok(_) => panic!("should fail: {yaml}"),
        Err(e) => format!("{e:#}"),
    };
    check_message(
        &err,
        &dir.path().join("config.yml").to_string_lossy(),
        expected,
    );
}

/// As [`check_error`], through the binary with `env` set.
fn check_error_bin(yaml: &str, env: &[(&str, &str)], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = yaml.replace("ROOT", &dir.path().join("synth").to_string_lossy());
    let path = config(dir.path(), &yaml);
    let out = xtask(&["experiment", &path, "--dry-run"], env);
    assert!(!out.status.success(), "should fail: {yaml}");
    check_message(&stderr(&out), &path, expected);
}

fn check_message(err: &str, path: &str, expected: &[&str]) {
    for e in expected {
        assert!(err.contains(e), "expected `{e}` in:\n{err}");
    }
    assert!(err.contains(path), "the error should name the file:\n{err}");
}

/// A valid config in `dir`, run by the library into `store`.
fn run_in(config: &xtask::ExperimentConfig, store: &TableStore) -> xtask::RunSummary {
    xtask::experiment_in(config, store, &xtask::RunOptions::default())
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// A table of `store`, read on a fresh runtime.
fn read(store: &TableStore, rel: &str, kind: TableKind) -> mir_table::Table {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.read(rel, kind))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn exists(store: &TableStore, rel: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.exists(rel)).unwrap()
}

#[test]
fn misspelt_key_names_the_key_path_and_file() {
    check_error(
        &VALID.replace("label_column: instrument", "label_colum: instrument"),
        &["datasets.synth.tasks.instrument", "label_colum"],
    );
    check_error(
        &VALID.replace("snr_db: 20", "snr: 20"),
        &["deformations.noise.steps.0", "snr"],
    );
}

#[test]
fn unknown_or_invalid_deformations_name_the_key_path_and_the_valid_names() {
    check_error(
        &VALID.replace("type: white_noise, snr_db: 20", "type: reverb, rt60_s: 1"),
        &[
            "deformations.noise.steps.0",
            "deformations.noise.steps.0.type",
            "found `reverb`",
            "white_noise",
            "room_reverb",
            "mp3",
        ],
    );
    check_error(
        &VALID.replace("type: white_noise, snr_db: 20", "type: mp3, bitrate: 100"),
        &["deformations.noise.steps.0", "valid: 8, 16, 24"],
    );
    check_error(
        &VALID.replace(
            "type: white_noise, snr_db: 20",
            "type: low_pass, cutoff: 100",
        ),
        &[
            "key `deformations.noise.steps.0`: unknown field: found `cutoff`",
            "`cutoff_frequency` or `rolloff`",
        ],
    );
    check_error(
        &VALID.replace(
            "linear: {type: linear}",
            "linear: {type: linear, augment: [mp3]}",
        ),
        &["probes.linear.augment.0", "`mp3` is not defined", "noise"],
    );
}

#[test]
fn wrong_type_names_the_key_path() {
    check_error(
        &VALID.replace(
            "probes:\n  linear: {type: linear}",
            "probes:\n  linear: {type: linear, epochs: many}",
        ),
        &["probes.linear.epochs"],
    );
}

#[test]
fn environment_overrides_apply_and_are_checked() {
    check_error_bin(
        VALID,
        &[("MIR_PROBES__LINEAR__EPOCHS", "many")],
        &["probes.linear.epochs"],
    );
    let dir = tempfile::tempdir().unwrap();
    let yaml = VALID.replace("ROOT", &dir.path().join("synth").to_string_lossy());
    let path = config(dir.path(), &yaml);
    let out = xtask(
        &["experiment", &path, "--dry-run"],
        &[("MIR_NAME", "renamed")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("experiment `renamed`"));
}

#[test]
fn undefined_names_are_errors() {
    let grid = |g: &str| format!("{VALID}grid:\n  {g}\n");
    check_error(
        &grid("models: [openl3]"),
        &[
            "grid.models.0",
            "`openl3` is not defined in `models`",
            "logmel",
        ],
    );
    check_error(&grid("probes: [mlp]"), &["grid.probes.0", "`mlp`"]);
    check_error(
        &grid("deformations: [mp3]"),
        &["grid.deformations.0", "`mp3`"],
    );
    check_error(&grid("tasks: [synth/genre]"), &["grid.tasks.0", "`genre`"]);
    check_error(
        &format!("{VALID}report:\n  tables: [overview, robust]\n"),
        &[
            "report.tables[1]",
            "unknown table preset `robust` (known: overview, robustness, probes, layers, regression, tags, significance, duplicates)",
        ],
    );
}

#[test]
fn missing_audio_folder_is_named() {
    let yaml = VALID.replace("    generate: synth_instruments\n", "");
    check_error(&yaml, &["datasets.synth.root", "synth` does not exist"]);
}

#[test]
fn dry_run_prints_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let config = load(dir.path(), &format!("{VALID}seeds: [0, 1, 2]\n")).unwrap();
    let store = TableStore::open("memory://dry").unwrap();
    let plan = xtask::plan_in(&config, &store).unwrap();
    assert!(
        plan.contains("plan: 2 embedding extractions, 3 probe trainings, 6 evaluations"),
        "{plan}"
    );
    assert!(
        plan.contains("dataset `synth` is not ready"),
        "says that everything will run: {plan}"
    );
    assert!(
        !dir.path().join("synth").exists(),
        "a dry run renders nothing"
    );
}

/// The quickstart config, redirected into a temporary folder, runs end to end and leaves
/// valid tables whose instrument accuracy is far above chance (1/14).
#[test]
fn quickstart_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let data = dir.path().join("tinysol");
    let config = root().join("configs/quickstart.yml");
    let out = xtask(
        &["experiment", config.to_str().unwrap()],
        &[
            ("MIR_OUTPUT", out_dir.to_str().unwrap()),
            ("MIR_DATASETS__TINYSOL__ROOT", data.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The report's tables, printed at the end.
    for line in [
        "### Overview: dataset tinysol, metric accuracy",
        "### Robustness: dataset tinysol, task instrument, metric accuracy",
        "| clean | gain_-20db | mp3_64kbps | white_noise_10db | white_noise_20db | white_noise_30db |",
        "### Probes: dataset tinysol, task pitch_class, metric accuracy",
    ] {
        assert!(stdout.contains(line), "{line} missing from:\n{stdout}");
    }
    for rel in [
        "report/index.html",
        "report/tables.md",
        "report/tables/robustness.csv",
        "report/plots/robustness_tinysol_instrument_white_noise.svg",
        "report/plots/robustness_tinysol_instrument_white_noise.png",
        "report/confusion/tinysol_instrument_logmel_L0_linear.html",
        "audio/tinysol/white_noise_20db",
    ] {
        assert!(out_dir.join(rel).exists(), "{rel} missing");
    }
    assert!(
        data.join("TinySOL_metadata.csv").is_file(),
        "the fixture is rendered in TinySOL's layout"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = TableStore::open(out_dir.to_str().unwrap()).unwrap();
    // Row counts: 280 notes; one whole-track embedding per note clean, and per test note (fold
    // 0: 56) under each deformation; predictions for 56 validation notes (clean) and 56 test
    // notes under 6 conditions.
    let probe = "probes/tinysol/instrument/logmel/0/linear/seed-0";
    for (rel, kind, rows) in [
        (
            "tracks/tinysol/instrument.parquet".to_string(),
            TableKind::Tracks,
            280,
        ),
        (
            "embeddings/tinysol/logmel/0/clean.parquet".into(),
            TableKind::Embeddings,
            280,
        ),
        (
            "embeddings/tinysol/logmel/0/white_noise_20db.parquet".into(),
            TableKind::Embeddings,
            56,
        ),
        (
            format!("{probe}/predictions.parquet"),
            TableKind::Predictions,
            56 + 6 * 56,
        ),
    ] {
        let table = rt
            .block_on(store.read(&rel, kind))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(table.num_rows(), rows, "{rel}");
    }
    // Early stopping with patience 30 keeps training at least 31 epochs, at most 200.
    let log = rt
        .block_on(store.read(
            &format!("{probe}/training_log.parquet"),
            TableKind::TrainingLog,
        ))
        .unwrap();
    assert!(
        (31..=200).contains(&log.num_rows()),
        "{} epochs",
        log.num_rows()
    );
    for rel in ["metrics.parquet", "confusion.parquet"] {
        let kind = if rel.starts_with("metrics") {
            TableKind::Metrics
        } else {
            TableKind::Confusion
        };
        rt.block_on(store.read(rel, kind))
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    // The saved probe scores the test tracks as its predictions say.
    let dir = "probes/tinysol/instrument/logmel/0/linear/seed-0";
    let saved: mir_probe::SavedProbe = serde_json::from_slice(
        &rt.block_on(store.get(&format!("{dir}/model.json")))
            .unwrap(),
    )
    .unwrap();
    let weights = rt.block_on(store.get(&format!("{dir}/model.bpk"))).unwrap();
    let predictions = mir_table::read_predictions(
        &rt.block_on(store.read(
            &format!("{dir}/predictions.parquet"),
            TableKind::Predictions,
        ))
        .unwrap(),
    )
    .unwrap();
    let clean = mir_table::read_embeddings(
        &rt.block_on(store.read(
            "embeddings/tinysol/logmel/0/clean.parquet",
            TableKind::Embeddings,
        ))
        .unwrap(),
    )
    .unwrap();
    let test: Vec<_> = predictions
        .iter()
        .filter(|p| p.split == Split::Test && p.deformation == "clean")
        .collect();
    let x: Vec<f32> = test
        .iter()
        .flat_map(|p| {
            clean
                .iter()
                .find(|r| r.track_id == p.track_id)
                .unwrap()
                .embedding
                .clone()
        })
        .collect();
    let scores = saved.predict(&weights, &x).unwrap();
    for (s, p) in scores.iter().zip(&test) {
        for (a, b) in s.iter().zip(&p.scores) {
            assert!((a - b).abs() < 1e-5, "{}", p.track_id);
        }
    }
    let tracks = rt
        .block_on(store.read("tracks/tinysol/instrument.parquet", TableKind::Tracks))
        .unwrap();
    assert_eq!(tracks.num_rows(), 280);
    let meta = Metadata::of(&tracks.schema);
    let vocabulary = meta.get(TableKind::Tracks, keys::LABEL_VOCABULARY).unwrap();
    assert!(
        vocabulary.starts_with(r#"["Accordion","Alto Saxophone","Bass Tuba","Bassoon","Cello""#),
        "{vocabulary}"
    );
    let metrics = read_metrics(
        &rt.block_on(store.read("metrics.parquet", TableKind::Metrics))
            .unwrap(),
    )
    .unwrap();
    let clean_accuracy = metrics
        .iter()
        .find(|m| {
            m.model == "logmel"
                && m.task == "instrument"
                && m.deformation == "clean"
                && m.metric == "accuracy"
        })
        .unwrap();
    assert_eq!(clean_accuracy.n, 56, "fold 0 of 5 is the test split");
    // The clean log-mel rows, to the digit: a refactoring of the pipeline must not move them.
    assert_eq!(
        clean_rows(&metrics, "logmel", &["accuracy", "f1_macro"]),
        QUICKSTART_CLEAN_LOGMEL.trim_start(),
        "the quickstart's clean log-mel metrics changed"
    );
    report_opens_in_a_browser(&out_dir);
    // basic-pitch, where it has been fetched, knows pitch: pitch class from its `note` layer.
    if let Some(m) = metrics.iter().find(|m| {
        m.model == "basic_pitch"
            && m.layer == 0
            && m.task == "pitch_class"
            && m.deformation == "clean"
            && m.metric == "accuracy"
    }) {
        assert!(
            m.value > 0.7,
            "basic-pitch pitch class accuracy {}",
            m.value
        );
    } else {
        assert!(
            std::env::var_os("MIRREF_REQUIRE_MODELS").is_none(),
            "MIRREF_REQUIRE_MODELS is set but the quickstart ran without basic-pitch"
        );
    }
}

/// The quickstart's clean log-mel metrics, as [`clean_rows`] prints them (computed by the
/// pipeline before it became a library, commit 5fbce85, and unchanged since).
const QUICKSTART_CLEAN_LOGMEL: &str = "
instrument linear L0 accuracy 0.4286 [0.3036, 0.5714] n=56
instrument linear L0 f1_macro 0.4041 [0.2644, 0.5000] n=56
instrument mlp L0 accuracy 0.4821 [0.3571, 0.6250] n=56
instrument mlp L0 f1_macro 0.4436 [0.3022, 0.5414] n=56
pitch_class linear L0 accuracy 0.8750 [0.7857, 0.9464] n=56
pitch_class linear L0 f1_macro 0.8783 [0.7561, 0.9502] n=56
pitch_class mlp L0 accuracy 0.8393 [0.7321, 0.9286] n=56
pitch_class mlp L0 f1_macro 0.8417 [0.7043, 0.9178] n=56
";

/// `task probe metric value [ci_low, ci_high] n` per clean row of `model`, one per line, sorted.
fn clean_rows(metrics: &[mir_table::MetricRow], model: &str, names: &[&str]) -> String {
    let mut lines: Vec<String> = metrics
        .iter()
        .filter(|m| m.model == model && m.deformation == "clean")
        .filter(|m| names.contains(&m.metric.as_str()))
        .map(|m| {
            let ci = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
            format!(
                "{} {} L{} {} {:.4} [{}, {}] n={}",
                m.task,
                m.probe,
                m.layer,
                m.metric,
                m.value,
                ci(m.ci_low),
                ci(m.ci_high),
                m.n
            )
        })
        .collect();
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

use mir_testkit::browser as cdp;

/// The quickstart's report in a real browser (see `crates/mir-report/tests/it/cdp.rs`): the
/// index shows the tables and loads every plot, a robustness curve among them; the confusion
/// page of the linear log-mel probe under white noise at 20 dB lists, for its largest
/// off-diagonal cell, exactly the tracks the predictions table puts there, each with the
/// original and the kept deformed audio loading; the console stays clean. Screenshots go to
/// `CARGO_TARGET_TMPDIR`.
fn report_opens_in_a_browser(run: &Path) {
    use serde_json::json;
    let Some(binary) = cdp::required_browser() else {
        return;
    };
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut browser = cdp::Browser::start(&binary);
    let s = browser.open(&format!(
        "file://{}",
        run.join("report/index.html").display()
    ));
    let captions = browser.eval(
        &s,
        "[...document.querySelectorAll('table.metrics caption')].map(c => c.textContent)",
    );
    for want in [
        "Overview: dataset tinysol, metric accuracy",
        "Robustness: dataset tinysol, task instrument, metric accuracy",
    ] {
        assert!(
            captions.as_array().unwrap().contains(&json!(want)),
            "{captions}"
        );
    }
    let images = browser.eval(
        &s,
        "Promise.all([...document.images].map(i => i.decode().then(() => [i.getAttribute('src'), i.naturalWidth], () => [i.getAttribute('src'), 0])))",
    );
    let images = images.as_array().unwrap();
    assert!(images.len() >= 8, "{images:?}");
    for i in images {
        assert!(i[1].as_u64().unwrap() > 0, "plot did not load: {i}");
    }
    assert!(
        images
            .iter()
            .any(|i| i[0] == json!("plots/robustness_tinysol_instrument_white_noise.svg")),
        "{images:?}"
    );
    browser.screenshot(&s, &shots.join("quickstart_index.png"));

    let page = run.join("report/confusion/tinysol_instrument_logmel_L0_linear.html");
    let s = browser.open(&format!(
        "file://{}#deformation=white_noise_20db&seed=0",
        page.display()
    ));
    let cell = browser.eval(
        &s,
        "(() => { let best = null; for (const td of document.querySelectorAll('#matrix td')) {            const n = Number(td.textContent || 0);            if (td.dataset.true !== td.dataset.pred && n > 0 && (!best || n > Number(best.textContent))) best = td; }            best.click(); return [Number(best.dataset.true), Number(best.dataset.pred)]; })()",
    );
    let (t, p) = (
        cell[0].as_u64().unwrap() as usize,
        cell[1].as_u64().unwrap() as usize,
    );
    // The same cell from the tables.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = TableStore::open(run.to_str().unwrap()).unwrap();
    let ptable = rt
        .block_on(store.read(
            "probes/tinysol/instrument/logmel/0/linear/seed-0/predictions.parquet",
            TableKind::Predictions,
        ))
        .unwrap();
    let vocabulary = Metadata::of(&ptable.schema)
        .label_vocabulary(TableKind::Predictions)
        .unwrap();
    let tracks = mir_table::read_tracks(
        &rt.block_on(store.read("tracks/tinysol/instrument.parquet", TableKind::Tracks))
            .unwrap(),
    )
    .unwrap();
    let mut want: Vec<String> = mir_table::read_predictions(&ptable)
        .unwrap()
        .into_iter()
        .filter(|pr| pr.split == Split::Test && pr.deformation == "white_noise_20db")
        .filter(|pr| {
            let truth = &tracks
                .iter()
                .find(|x| x.track_id == pr.track_id)
                .unwrap()
                .labels[0];
            let best = (0..pr.scores.len())
                .fold(0, |b, i| if pr.scores[i] > pr.scores[b] { i } else { b });
            vocabulary[t] == *truth && best == p
        })
        .map(|pr| pr.track_id)
        .collect();
    let listed = browser.eval(
        &s,
        "[...document.querySelectorAll('#tracks li.track')].map(li => li.dataset.track)",
    );
    let mut listed: Vec<String> = serde_json::from_value(listed).unwrap();
    want.sort();
    listed.sort();
    assert!(!want.is_empty());
    assert_eq!(listed, want, "cell ({t}, {p})");
    let audio = browser.eval(
        &s,
        "Promise.all([...document.querySelectorAll('#tracks audio')].map(a => new Promise(done => {            const report = () => done([a.getAttribute('src'), a.readyState, a.duration, a.error ? a.error.code : null]);            if (a.readyState >= 1) report();            else { a.addEventListener('loadedmetadata', report); a.addEventListener('error', report); a.load(); } })))",
    );
    let audio = audio.as_array().unwrap();
    assert_eq!(
        audio.len(),
        2 * want.len(),
        "original and kept deformed audio: {audio:?}"
    );
    for a in audio {
        assert!(a[3].is_null() && a[1].as_u64().unwrap() >= 1, "{a}");
        assert!(a[2].as_f64().unwrap() > 0.1, "{a}");
    }
    assert!(
        audio.iter().any(|a| a[0]
            .as_str()
            .unwrap()
            .contains("audio/tinysol/white_noise_20db/")),
        "{audio:?}"
    );
    let spectrograms = browser.eval(
        &s,
        "Promise.all([...document.querySelectorAll('#tracks img')].map(i => i.decode().then(() => i.naturalHeight)))",
    );
    assert_eq!(spectrograms.as_array().unwrap().len(), 2 * want.len());
    browser.screenshot(&s, &shots.join("quickstart_confusion.png"));
    assert!(
        browser.errors().is_empty(),
        "console: {:#?}",
        browser.errors()
    );
}

/// Two datasets with a task of the same name (Beatport's and GiantSteps' `key`) keep their own
/// probe results and report pages, so a second run finds every probe cached.
#[test]
fn datasets_sharing_a_task_name_keep_their_own_results() {
    let dir = tempfile::tempdir().unwrap();
    let other = "  other:\n    type: custom\n    root: ROOT2\n    generate: synth_instruments\n    \
                 tasks:\n      instrument: {type: multiclass, label_column: instrument}\n";
    let yaml = VALID
        .replace("datasets:\n", &format!("datasets:\n{other}"))
        .replace("ROOT2", &dir.path().join("other").to_string_lossy())
        .replace(
            "linear: {type: linear}",
            "linear: {type: linear, epochs: 5}",
        );
    let config = load(dir.path(), &yaml).unwrap();
    let store = TableStore::open("memory://shared-task").unwrap();
    run_in(&config, &store);
    for dataset in ["synth", "other"] {
        let rel = format!("probes/{dataset}/instrument/logmel/0/linear/seed-0/predictions.parquet");
        let table = read(&store, &rel, TableKind::Predictions);
        let meta = Metadata::of(&table.schema);
        assert_eq!(
            meta.get(TableKind::Predictions, keys::DATASET).unwrap(),
            dataset
        );
        let page = format!("report/confusion/{dataset}_instrument_logmel_L0_linear.html");
        assert!(exists(&store, &page), "{page}");
    }
    let again = run_in(&config, &store);
    assert!(
        again.stages.contains("train 0 probes (2 cached)"),
        "{}",
        again.stages
    );
}

/// Augmentation deforms the training tracks too, and `keep_audio` writes what the model heard.
#[test]
fn augmented_probe_and_kept_audio() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = VALID.replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 5}\n  augmented: {type: linear, epochs: 5, augment: [noise]}",
    );
    let mut config = load(dir.path(), &yaml).unwrap();
    config.keep_audio = true;
    let store = TableStore::open("memory://augmented").unwrap();
    let summary = run_in(&config, &store);
    assert!(
        summary.table.contains("| probe | clean | noise |"),
        "{}",
        summary.table
    );
    assert!(
        summary.table.contains("| augmented | "),
        "{}",
        summary.table
    );
    let tracks = mir_table::read_tracks(&read(
        &store,
        "tracks/synth/instrument.parquet",
        TableKind::Tracks,
    ))
    .unwrap();
    let noisy = mir_table::read_embeddings(&read(
        &store,
        "embeddings/synth/logmel/0/noise.parquet",
        TableKind::Embeddings,
    ))
    .unwrap();
    for t in &tracks {
        let deformed = t.split != Split::Validation;
        assert_eq!(
            noisy.iter().any(|r| r.track_id == t.track_id),
            deformed,
            "{} ({})",
            t.track_id,
            t.split
        );
        let wav = format!("audio/synth/noise/{}.wav", t.track_id);
        assert_eq!(exists(&store, &wav), deformed, "{wav}");
    }
}

#[test]
fn deform_writes_what_a_scenario_does() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tone.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 22_050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&input, spec).unwrap();
    for i in 0..22_050 {
        let v = ((i as f32 * 0.1).sin() * 16_000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v / 2).unwrap();
    }
    w.finalize().unwrap();
    let output = dir.path().join("out.wav");
    let deform = |scenario: &str| {
        xtask::deform_file(&xtask::DeformRequest {
            input: input.clone(),
            scenario: scenario.into(),
            output: output.clone(),
            config: None,
            seed: 0,
            track_id: None,
        })
    };
    let done = deform("gain gain_db=-6 | time_stretch rate=1.25").unwrap();
    assert_eq!((done.sample_rate_hz, done.channels), (22_050, 2));
    assert!((done.duration_s - 0.8).abs() < 1e-9, "{}", done.duration_s);
    assert!((done.level_db + 6.0).abs() < 0.5, "{}", done.level_db);
    let reader = hound::WavReader::open(&output).unwrap();
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.duration(), 17_640);

    let err = format!("{:#}", deform("gain db=-6").err().unwrap());
    assert!(
        err.contains("unknown field `db`, expected `gain_db`"),
        "{err}"
    );
}

/// A corrupt audio file is skipped and recorded in `failures`; the run finishes without it.
#[test]
fn a_corrupt_track_is_skipped_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    let broken = data.join("audio/flute/flute-C4.wav");
    assert!(broken.is_file());
    std::fs::write(&broken, b"RIFF....WAVEnot really").unwrap();
    let yaml = VALID.replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 5}",
    );
    let mut config = load(dir.path(), &yaml).unwrap();
    let out_dir = dir.path().join("run");
    let store = TableStore::open(out_dir.to_str().unwrap()).unwrap();
    let summary = run_in(&config, &store);
    assert_eq!(summary.skipped_tracks, 1, "the summary says so");
    // The failures table, but its long columns (the file's path, the error).
    let failures = read(&store, "failures.parquet", TableKind::Failures);
    let short: Vec<_> = failures
        .batches
        .iter()
        .map(|b| b.project(&[0, 1, 2, 3, 4]).unwrap())
        .collect();
    mir_testkit::assert_table_text(
        &short,
        "
        +--------+---------+--------+-------------+----------------------+
        | stage  | dataset | model  | deformation | track_id             |
        +--------+---------+--------+-------------+----------------------+
        | decode | synth   | logmel | clean       | audio/flute/flute-C4 |
        +--------+---------+--------+-------------+----------------------+
        ",
    );
    let f = &mir_table::read_failures(&failures).unwrap()[0];
    assert_eq!(f.stage, FailureStage::Decode);
    assert!(f.error.contains("flute-C4.wav"), "{}", f.error);
    // The other 239 tracks ran; the skipped one is in no prediction.
    let predictions = mir_table::read_predictions(&read(
        &store,
        "probes/synth/instrument/logmel/0/linear/seed-0/predictions.parquet",
        TableKind::Predictions,
    ))
    .unwrap();
    assert!(
        !predictions
            .iter()
            .any(|p| p.track_id == "audio/flute/flute-C4")
    );
    assert!(!predictions.is_empty());

    // A rerun reuses the embeddings, and the failures recorded with them.
    let again = run_in(&config, &store);
    assert!(
        again.stages.contains("embed synth/logmel (cached)"),
        "{}",
        again.stages
    );
    assert_eq!(again.skipped_tracks, 1);

    // With fail_fast, the run stops and names the file: on a fresh extraction and on reused
    // failures alike.
    config.fail_fast = true;
    let fresh = TableStore::open(dir.path().join("fresh").to_str().unwrap()).unwrap();
    for (store, fresh) in [(&store, false), (&fresh, true)] {
        let err = match xtask::experiment_in(&config, store, &xtask::RunOptions::default()) {
            Ok(_) => panic!("fail_fast stops the run (fresh: {fresh})"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("flute-C4.wav") && err.contains("fail_fast"),
            "{err}"
        );
    }
}

/// Embeddings and predictions are reused while their inputs are unchanged, computed again
/// when a deformation or a probe changes, or with `force`.
#[test]
fn unchanged_inputs_reuse_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let store = TableStore::open("memory://reuse").unwrap();
    let config_with = |snr: &str, mlp_rate: &str| {
        let yaml = VALID.replace("snr_db: 20", &format!("snr_db: {snr}")).replace(
            "linear: {type: linear}",
            &format!(
                "linear: {{type: linear, epochs: 3}}\n  mlp: {{type: mlp, hidden: [16], epochs: 3, learning_rate: {mlp_rate}}}"
            ),
        );
        load(dir.path(), &yaml).unwrap()
    };
    let run = |config: &xtask::ExperimentConfig, force| {
        let options = xtask::RunOptions {
            force,
            ..Default::default()
        };
        xtask::experiment_in(config, &store, &options).unwrap_or_else(|e| panic!("{e:#}"))
    };
    let base = config_with("20", "0.001");
    let first = run(&base, None);
    assert!(
        first.stages.contains("| embed synth/logmel |"),
        "{}",
        first.stages
    );
    assert!(
        first.stages.contains("| train 2 probes (0 cached) |"),
        "{}",
        first.stages
    );
    let second = run(&base, None);
    assert_eq!(first.table, second.table, "the same results");
    // Two probe runs and the two chance baselines of the task.
    for stage in [
        "| embed synth/logmel (cached) |",
        "| train 0 probes (2 cached) |",
        "| evaluate 4 runs (4 cached) |",
        "| report (inputs unchanged: reused) |",
    ] {
        assert!(
            second.stages.contains(stage),
            "{stage} in:\n{}",
            second.stages
        );
    }
    // A dry run says what is cached, and what a changed probe would rerun.
    let dry = xtask::plan_in(&base, &store).unwrap();
    for line in [
        "embeddings synth/logmel: cached",
        "probe trainings: 2 cached, 0 will run",
        "evaluations: 2 cached, 0 will run",
    ] {
        assert!(dry.contains(line), "{line} in:\n{dry}");
    }
    let dry = xtask::plan_in(&config_with("20", "0.002"), &store).unwrap();
    assert!(
        dry.contains("probe trainings: 1 cached, 1 will run"),
        "{dry}"
    );
    // `force` recomputes that stage and the later ones.
    let forced = run(&base, Some(xtask::Stage::Evaluate));
    assert!(forced.stages.contains("| embed synth/logmel (cached) |"));
    assert!(
        forced.stages.contains("| train 0 probes (2 cached) |"),
        "{}",
        forced.stages
    );
    assert!(
        forced.stages.contains("| evaluate 4 runs (0 cached) |"),
        "{}",
        forced.stages
    );
    assert!(forced.stages.contains("| report (") && !forced.stages.contains("reused"));
    assert_eq!(first.table, forced.table, "the same report");
    // A report rebuilt by hand drops the stamp: the next run builds its own again.
    let options = xtask::report::Options::from_config(&base.report).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(xtask::report::build(&store, &base.name, &options))
        .unwrap();
    let after = run(&base, None);
    assert!(!after.stages.contains("reused"), "{}", after.stages);
    let forced = run(&base, Some(xtask::Stage::Train));
    assert!(
        forced.stages.contains("| train 2 probes (0 cached) |"),
        "{}",
        forced.stages
    );
    let forced = run(&base, Some(xtask::Stage::Extract));
    assert!(
        forced.stages.contains("| embed synth/logmel |"),
        "{}",
        forced.stages
    );
    // A changed deformation extracts again.
    let changed = run(&config_with("10", "0.001"), None);
    assert!(
        changed.stages.contains("| embed synth/logmel |"),
        "{}",
        changed.stages
    );
}

/// Killed with SIGKILL at one of six points of a run, then run to the end, an experiment gives
/// the metrics of an uninterrupted run, and no file it reads back is partial.
#[test]
fn a_run_killed_at_any_point_resumes_to_the_same_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    let yaml = VALID.replace("ROOT", &data.to_string_lossy()).replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 150, patience: 1000}\n  mlp: {type: mlp, hidden: [64], epochs: 150, patience: 1000}",
    )
    .replace(
        "  noise: {steps: [{type: white_noise, snr_db: 20}]}",
        "  noise: {steps: [{type: white_noise, snr_db: 20}]}\n  mp3: {steps: [{type: mp3, bitrate: 64}]}",
    );
    // Extraction saves a chunk every 16 tracks, so cuts land between saved chunks.
    let path = config(dir.path(), &format!("{yaml}checkpoint_tracks: 16\n"));
    let metrics_of = |out: &Path| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = TableStore::open(out.to_str().unwrap()).unwrap();
        let mut rows = read_metrics(
            &rt.block_on(store.read("metrics.parquet", TableKind::Metrics))
                .unwrap(),
        )
        .unwrap();
        rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        rows
    };

    let whole = dir.path().join("whole");
    let started = std::time::Instant::now();
    let out = xtask(
        &["experiment", &path],
        &[("MIR_OUTPUT", whole.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let t = started.elapsed();

    // Each cut-off run starts afresh, so the six points fall in different stages.
    let (mut killed, mut resumed) = (0, 0);
    for (k, fraction) in [0.05, 0.2, 0.35, 0.5, 0.65, 0.8].into_iter().enumerate() {
        let cut = dir.path().join(format!("cut-{k}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mir-ref"))
            .args(["experiment", &path])
            .env("MIR_OUTPUT", &cut)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(t.mul_f64(fraction));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let done = |sub: &str| cut.join(sub).exists();
        eprintln!(
            "cut at {fraction} of {t:?}: tracks {}, embeddings {}, probes {}, metrics {}",
            done("tracks"),
            done("embeddings/synth/logmel/failures.parquet"),
            done("probes"),
            done("metrics.parquet")
        );
        let out = xtask(
            &["experiment", &path],
            &[("MIR_OUTPUT", cut.to_str().unwrap()), ("RUST_LOG", "info")],
        );
        assert!(out.status.success(), "cut at {fraction}: {}", stderr(&out));
        resumed += usize::from(stderr(&out).contains("resuming: tracks of chunk"));
        assert!(
            metrics_of(&cut) == metrics_of(&whole),
            "cut at {fraction}: different metrics"
        );
    }
    assert!(killed >= 5, "only {killed} runs were cut off");
    eprintln!("{resumed} of the reruns resumed inside an extraction");
}

/// Every model card under configs/models parses and passes its checks; `models list` names
/// each one.
#[test]
fn every_model_card_is_valid() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("configs/models")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            mir_embed::onnx::card::ModelCard::from_file(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 3, "{n} cards");
    // From the checkout, as the README says (`configs/models` of the current folder).
    let out = Command::new(env!("CARGO_BIN_EXE_mir-ref"))
        .args(["models", "list"])
        .current_dir(root())
        .env_remove("MIRREF_MODELS")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in ["basic-pitch", "musicnn-mtt", "musicnn-msd"] {
        assert!(listed.contains(name), "{listed}");
    }
    assert!(!listed.contains("invalid card"), "{listed}");
}

/// Tracks streamed block by block (as long ones are) give the embeddings, hence the results,
/// of tracks decoded whole.
#[test]
fn streamed_tracks_give_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = load(dir.path(), VALID).unwrap();
    let whole = run_in(&config, &TableStore::open("memory://whole").unwrap());
    assert_eq!(whole.streamed_tracks, 0);
    config.stream_tracks_longer_than_s = 0.0;
    let streamed = run_in(&config, &TableStore::open("memory://streamed").unwrap());
    // The training and validation tracks (no deformation applies to them) were streamed.
    assert_eq!(streamed.streamed_tracks, 192);
    assert_eq!(streamed.table, whole.table);
}

/// A researcher's own project: the quickstart config copied into a folder of its own with a
/// relative dataset root, run by a copy of the binary outside the checkout from a third
/// folder. The run lands in `runs/quickstart` of that folder, the fixture and the tracks'
/// audio in the config's folder, and `MIRREF_MODELS` finds the model card the config names.
#[test]
fn a_config_in_its_own_folder_runs_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (project, elsewhere, bin) = (
        dir.path().join("project"),
        dir.path().join("elsewhere"),
        dir.path().join("bin"),
    );
    for d in [&project, &elsewhere, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    let exe = bin.join("mir-ref");
    std::fs::copy(env!("CARGO_BIN_EXE_mir-ref"), &exe).unwrap();
    let yaml = std::fs::read_to_string(root().join("configs/quickstart.yml"))
        .unwrap()
        .replace("root: ../fixtures/generated/tinysol", "root: data/tinysol")
        .replace("keep_audio: true", "keep_audio: false")
        .replace("epochs: 200", "epochs: 20");
    std::fs::write(project.join("quickstart.yml"), yaml).unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .current_dir(&elsewhere)
            .env("RUST_LOG", "warn");
        cmd.env_remove("MIRREF_MODELS");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    let help = run(&["--help"], &[]);
    let help = String::from_utf8_lossy(&help.stdout);
    for sub in [
        "experiment",
        "report",
        "deform",
        "fixtures",
        "models",
        "setup-ort",
    ] {
        assert!(help.contains(sub), "`mir-ref --help` lacks {sub}:\n{help}");
    }

    // The card `models/basic-pitch.yml` is not beside the config; MIRREF_MODELS names the
    // folder that has it. Where the model file is there, the plan includes basic-pitch.
    let cards = root().join("configs/models");
    let plan = run(
        &["experiment", "../project/quickstart.yml", "--dry-run"],
        &[("MIRREF_MODELS", cards.to_str().unwrap())],
    );
    assert!(plan.status.success(), "{}", stderr(&plan));
    let plan = String::from_utf8_lossy(&plan.stdout);
    let fetched = root().join("models/basic-pitch-0.4.0/nmp.onnx").is_file();
    assert_eq!(
        plan.contains("basic_pitch (layers note, contour)"),
        fetched,
        "model card found through MIRREF_MODELS: {plan}"
    );

    let out = run(&["experiment", "../project/quickstart.yml"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results = elsewhere.join("runs/quickstart");
    assert!(
        results.join("metrics.parquet").is_file(),
        "run not in the current folder"
    );
    assert!(project.join("data/tinysol/TinySOL_metadata.csv").is_file());
    assert!(!project.join("runs").exists() && !bin.join("runs").exists());

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = TableStore::open(results.to_str().unwrap()).unwrap();
    let tracks = mir_table::read_tracks(
        &rt.block_on(store.read("tracks/tinysol/instrument.parquet", TableKind::Tracks))
            .unwrap(),
    )
    .unwrap();
    let data = std::fs::canonicalize(project.join("data/tinysol")).unwrap();
    for t in &tracks {
        let audio = std::fs::canonicalize(&t.audio_uri).unwrap();
        assert!(
            audio.starts_with(&data),
            "{} is not in the config's folder",
            t.audio_uri
        );
    }

    // `--output` puts the run elsewhere, relative to the current folder.
    let out = run(
        &[
            "experiment",
            "../project/quickstart.yml",
            "--output",
            "other/run",
            "--dry-run",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("-> other/run"));
}

/// A run directory on S3 (a local moto server): the experiment writes every table, the kept
/// audio and the report there, and a rerun finds them and recomputes nothing.
#[test]
fn a_run_directory_on_s3() {
    let Some(s3) = mir_testkit::s3::S3::start("runs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let yaml = VALID.replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 5}",
    );
    let mut config = load(dir.path(), &yaml).unwrap();
    config.keep_audio = true;
    let store = TableStore::open_remote(&s3.url("runs/t"), s3.options()).unwrap();
    let first = run_in(&config, &store);
    assert!(
        first.stages.contains("| train 1 probes (0 cached) |"),
        "{}",
        first.stages
    );
    let metrics = read_metrics(&read(&store, "metrics.parquet", TableKind::Metrics)).unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.metric == "accuracy" && m.deformation == "noise")
    );
    let tracks = mir_table::read_tracks(&read(
        &store,
        "tracks/synth/instrument.parquet",
        TableKind::Tracks,
    ))
    .unwrap();
    let test_track = tracks.iter().find(|t| t.split == Split::Test).unwrap();
    for rel in [
        "report/index.html".to_string(),
        "report/confusion/synth_instrument_logmel_L0_linear.html".into(),
        format!("audio/synth/noise/{}.wav", test_track.track_id),
    ] {
        assert!(exists(&store, &rel), "{rel} on S3");
    }
    let again = run_in(&config, &store);
    for stage in [
        "| embed synth/logmel (cached) |",
        "| train 0 probes (1 cached) |",
        "| evaluate 3 runs (3 cached) |",
    ] {
        assert!(
            again.stages.contains(stage),
            "{stage} in:\n{}",
            again.stages
        );
    }
    assert_eq!(first.table, again.table);
}
