//! Stages split in shards: workers as separate processes against a local S3 server, a worker
//! killed mid-shard, the finishing run, bad `--shard` values, `status`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mir_table::{MetricRow, TableKind, TableStore, read_metrics};

use super::{VALID, config, stderr, xtask};

/// The sorted `metrics` rows of the run at `location` (with `options` for S3).
fn metrics_at(store: &TableStore) -> Vec<MetricRow> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let table = rt.block_on(store.read("metrics.parquet", TableKind::Metrics));
    let mut rows = read_metrics(&table.unwrap()).unwrap();
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}

/// Every object under the store, with its bytes.
fn objects(store: &TableStore) -> Vec<(String, Vec<u8>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        for path in store.list("").await.unwrap() {
            let bytes = store.get(&path).await.unwrap().to_vec();
            out.push((path, bytes));
        }
        out
    })
}

/// The paths under the store.
fn listing(store: &TableStore) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.list("")).unwrap()
}

/// A worker process of the binary, with the S3 environment.
fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(String, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mir-ref"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child, what: &str) -> String {
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{what}: {err}");
    err
}

fn run_bin<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    env: &[(String, String)],
) -> std::process::Output {
    spawn(args, env).wait_with_output().unwrap()
}

/// `experiment CONFIG` and `args`.
fn experiment(config: &str, args: &[&str]) -> Vec<String> {
    ["experiment", config]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn three_workers_on_s3_then_the_finishing_run_equal_one_process() {
    let Some(s3) = mir_testkit::s3::S3::start("runs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    // Notes of 4 s, so a shard's extraction lasts long enough to be cut off.
    let synth = mir_datasets::synth::SynthConfig {
        duration_s: 4.0,
        ..Default::default()
    };
    mir_datasets::synth::render(&data, &synth).unwrap();
    // Two unreadable tracks: the failures of every worker end up in one table.
    for broken in ["audio/flute/flute-C4.wav", "audio/reed/reed-G3.wav"] {
        std::fs::write(data.join(broken), b"RIFF....WAVEnot really").unwrap();
    }
    let yaml = VALID.replace("ROOT", &data.to_string_lossy()).replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 20}\n  mlp: {type: mlp, hidden: [16], epochs: 20}",
    );
    let path = config(dir.path(), &format!("{yaml}checkpoint_tracks: 8\n"));

    let local = dir.path().join("local");
    let out = xtask(
        &["experiment", &path],
        &[("MIR_OUTPUT", local.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = metrics_at(&TableStore::open(local.to_str().unwrap()).unwrap());

    let url = s3.url("runs/sharded");
    let mut env = s3.env();
    env.push(("MIR_OUTPUT".into(), url.clone()));
    let store = TableStore::open_remote(&url, s3.options()).unwrap();
    let stage = |args: &[&str]| experiment(&path, args);

    // A later stage before the datasets are prepared says what to run.
    let early = run_bin(&stage(&["--stage", "extract", "--shard", "0/3"]), &env);
    assert!(!early.status.success());
    assert!(
        stderr(&early).contains("--stage datasets"),
        "{}",
        stderr(&early)
    );
    finish(spawn(&stage(&["--stage", "datasets"]), &env), "datasets");

    // Shards 0 and 2 at once, shard 0 twice by mistake; shard 1 killed once its first chunk is
    // saved.
    let started_shards = ["0/3", "0/3", "2/3"];
    let workers: Vec<Child> = started_shards
        .iter()
        .map(|s| spawn(&stage(&["--stage", "extract", "--shard", s]), &env))
        .collect();
    let started = Instant::now();
    let mut killed = spawn(&stage(&["--stage", "extract", "--shard", "1/3"]), &env);
    // Polled by listing alone (no downloads), so the kill follows the first chunk closely.
    let first_chunk = || {
        listing(&store)
            .iter()
            .any(|p| p.contains("shard-1-of-3/0.failures.parquet"))
    };
    while !first_chunk() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "shard 1 saved no chunk"
        );
        assert!(
            killed.try_wait().unwrap().is_none(),
            "shard 1 ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    for (w, shard) in workers.into_iter().zip(started_shards) {
        finish(w, shard);
    }

    // No partial object: every table is whole Parquet, and shard 1 is not marked done.
    let listed = objects(&store);
    for (path, bytes) in &listed {
        if path.ends_with(".parquet") {
            let whole = bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1");
            assert!(whole, "{path} is not whole Parquet");
        }
    }
    assert!(!listed.iter().any(|(p, _)| p.contains("shard-1-of-3/done")));
    assert!(
        listed
            .iter()
            .any(|(p, _)| p.contains("shard-0-of-3/done.parquet"))
    );

    // Training needs every extraction shard: the error names the missing one and its tracks.
    let blocked = run_bin(&stage(&["--stage", "train", "--shard", "0/3"]), &env);
    assert!(!blocked.status.success());
    let message = stderr(&blocked);
    assert!(message.contains("shard 1/3 is not done"), "{message}");
    assert!(message.contains("tracks: audio/"), "{message}");
    let status = run_bin(&["status", &url], &s3_env_only(&env));
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("extract: 3 shard(s): 2 done, 1 running, 0 failed"),
        "{status}"
    );
    assert!(status.contains("datasets: 1 shard(s): 1 done"), "{status}");

    // The killed shard, run again, resumes from its saved chunks.
    let rerun = finish(
        spawn(&stage(&["--stage", "extract", "--shard", "1/3"]), &env),
        "1/3 again",
    );
    assert!(rerun.contains("resuming: tracks of chunk"), "{rerun}");

    let trainers: Vec<Child> = ["0/3", "1/3", "2/3"]
        .iter()
        .map(|s| spawn(&stage(&["--stage", "train", "--shard", s]), &env))
        .collect();
    for (w, shard) in trainers.into_iter().zip(["0/3", "1/3", "2/3"]) {
        finish(w, shard);
    }
    let last = run_bin(&stage(&[]), &env);
    assert!(last.status.success(), "{}", stderr(&last));
    let printed = String::from_utf8_lossy(&last.stdout);
    // The first training worker wrote the tables from the shards.
    assert!(
        printed.contains("| embed synth/logmel (cached) |"),
        "{printed}"
    );
    assert!(
        printed.contains("| train 0 probes (2 cached) |"),
        "{printed}"
    );
    assert!(
        metrics_at(&store) == expected,
        "sharded metrics differ from one process's"
    );
    let failures = super::read(&store, "failures.parquet", TableKind::Failures);
    let failed: Vec<String> = mir_table::read_failures(&failures)
        .unwrap()
        .into_iter()
        .map(|f| f.track_id)
        .collect();
    assert_eq!(failed, ["audio/flute/flute-C4", "audio/reed/reed-G3"]);
    assert!(
        !objects(&store).iter().any(|(p, _)| p.contains("/parts/")),
        "parts are removed"
    );
    let status = run_bin(&["status", &url], &s3_env_only(&env));
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("train: 3 shard(s): 3 done"), "{status}");
    assert!(status.contains("2 failures in"), "{status}");
}

/// The S3 variables of `env` (not MIR_OUTPUT).
fn s3_env_only(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| k.starts_with("AWS_"))
        .cloned()
        .collect()
}

#[test]
fn bad_shards_and_stages_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &VALID.replace("ROOT", &dir.path().join("synth").to_string_lossy()),
    );
    for (args, expected) in [
        (
            &["--stage", "extract", "--shard", "4/3"][..],
            "shard `4/3`: K must be below N",
        ),
        (
            &["--stage", "extract", "--shard", "0/0"],
            "shard `0/0`: N must be at least 1",
        ),
        (&["--stage", "extract", "--shard", "x"], "shard `x`: no `/`"),
        (
            &["--shard", "0/2"],
            "--shard 0/2 needs --stage extract or --stage train",
        ),
        (
            &["--stage", "evaluate", "--shard", "0/2"],
            "needs --stage extract",
        ),
        (&["--stage", "fit"], "invalid value 'fit' for '--stage"),
        (
            &["--stage", "train", "--force", "extract"],
            "--force extract with --stage train",
        ),
    ] {
        let out = xtask(&[&["experiment", path.as_str()], args].concat(), &[]);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = xtask(
        &["experiment", &path, "--stage", "train"],
        &[("MIR_OUTPUT", dir.path().join("r").to_str().unwrap())],
    );
    assert!(
        stderr(&out).contains("the datasets are not prepared yet"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_waiting_stage_starts_once_the_earlier_one_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    let yaml = VALID.replace("ROOT", &data.to_string_lossy()).replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 3}",
    );
    let path = config(dir.path(), &yaml);
    let out = dir.path().join("run");
    let env = vec![("MIR_OUTPUT".to_string(), out.display().to_string())];
    let stage = |args: &[&str]| experiment(&path, args);
    // Evaluation waits for training, which waits for extraction, which waits for datasets.
    let evaluate = spawn(&stage(&["--stage", "evaluate", "--wait", "300"]), &env);
    let train = spawn(&stage(&["--stage", "train", "--wait", "300"]), &env);
    let extract = spawn(&stage(&["--stage", "extract", "--wait", "300"]), &env);
    std::thread::sleep(Duration::from_secs(1));
    finish(spawn(&stage(&["--stage", "datasets"]), &env), "datasets");
    finish(extract, "extract");
    finish(train, "train");
    let log = finish(evaluate, "evaluate");
    assert!(log.contains("waiting for the earlier stages"), "{log}");
    assert!(Path::new(&out).join("report/index.html").is_file());
    assert!(
        Path::new(&out)
            .join("logs/evaluate-shard-0-of-1.jsonl")
            .is_file()
    );
    // Without --wait, a stage whose earlier stage is incomplete fails at once.
    let out2 = dir.path().join("run2");
    let quick = run_bin(
        &stage(&["--stage", "evaluate"]),
        &[("MIR_OUTPUT".into(), out2.display().to_string())],
    );
    assert!(!quick.status.success());
}

#[test]
fn a_dataset_on_s3_is_read_in_place_with_the_metrics_of_a_local_copy() {
    let Some(s3) = mir_testkit::s3::S3::start("data") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    std::fs::write(
        data.join("audio/flute/flute-C4.wav"),
        b"RIFF....WAVEnot really",
    )
    .unwrap();
    // The dataset's files, copied to the bucket under the same relative paths.
    let bucket = TableStore::open_remote(&s3.url("synth"), s3.options()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for entry in walk(&data) {
        let rel = entry
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        rt.block_on(bucket.put(&rel, std::fs::read(&entry).unwrap().into()))
            .unwrap();
    }
    let yaml = VALID
        .replace("    generate: synth_instruments\n", "")
        .replace(
            "linear: {type: linear}",
            "linear: {type: linear, epochs: 20}",
        );
    let local_config = config(dir.path(), &yaml.replace("ROOT", &data.to_string_lossy()));
    let local = dir.path().join("local");
    let out = xtask(
        &[
            "experiment",
            &local_config,
            "--output",
            local.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let remote_dir = dir.path().join("remote");
    std::fs::create_dir_all(&remote_dir).unwrap();
    let remote_config = config(&remote_dir, &yaml.replace("ROOT", &s3.url("synth")));
    let run = dir.path().join("run");
    let out = run_bin(
        &experiment(&remote_config, &["--output", run.to_str().unwrap()]),
        &s3.env(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let store = |p: &Path| TableStore::open(p.to_str().unwrap()).unwrap();
    assert!(
        metrics_at(&store(&run)) == metrics_at(&store(&local)),
        "metrics differ from the local copy's"
    );
    let tracks = super::read(
        &store(&run),
        "tracks/synth/instrument.parquet",
        TableKind::Tracks,
    );
    let tracks = mir_table::read_tracks(&tracks).unwrap();
    assert!(
        tracks
            .iter()
            .all(|t| t.audio_uri.starts_with("s3://data/synth/audio/")),
        "{:?}",
        tracks[0]
    );
    assert!(
        tracks
            .iter()
            .all(|t| t.duration_s > 0.9 || t.track_id == "audio/flute/flute-C4")
    );
    let failures = super::read(&store(&run), "failures.parquet", TableKind::Failures);
    let failures = mir_table::read_failures(&failures).unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0]
            .error
            .contains("s3://data/synth/audio/flute/flute-C4.wav"),
        "{}",
        failures[0].error
    );
    // A listed object that is not on the bucket is named with its line.
    rt.block_on(bucket.delete_prefix("audio/reed")).unwrap();
    let out = run_bin(
        &experiment(
            &remote_config,
            &["--output", dir.path().join("run2").to_str().unwrap()],
        ),
        &s3.env(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("s3://data/synth/audio/reed/"),
        "{}",
        stderr(&out)
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A whole experiment into a run directory on Azure Blob Storage (a local Azurite), then a
/// rerun that reuses everything.
#[test]
fn a_run_directory_on_azure() {
    let Some(azure) = mir_testkit::azure::Azurite::start("runs") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let yaml = VALID.replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 5}",
    );
    let config = super::load(dir.path(), &yaml).unwrap();
    let store = TableStore::open_remote(&azure.url("runs/t"), azure.options()).unwrap();
    let first = super::run_in(&config, &store);
    assert!(!metrics_at(&store).is_empty());
    let again = super::run_in(&config, &store);
    assert!(
        again.stages.contains("| embed synth/logmel (cached) |"),
        "{}",
        again.stages
    );
    assert!(
        again.stages.contains("| train 0 probes (1 cached) |"),
        "{}",
        again.stages
    );
    assert_eq!(first.table, again.table);
}

/// A plain run after some workers finishes the shard none did, saying which and its tracks,
/// with the metrics of one process.
#[test]
fn a_finishing_run_names_the_shard_no_worker_did() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    mir_datasets::synth::render(&data, &mir_datasets::synth::SynthConfig::default()).unwrap();
    let yaml = VALID.replace("ROOT", &data.to_string_lossy()).replace(
        "linear: {type: linear}",
        "linear: {type: linear, epochs: 10}",
    );
    let path = config(dir.path(), &yaml);
    let whole = dir.path().join("whole");
    let out = xtask(
        &["experiment", &path, "--output", whole.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let run = dir.path().join("run");
    let env = vec![("MIR_OUTPUT".to_string(), run.display().to_string())];
    finish(
        spawn(&experiment(&path, &["--stage", "datasets"]), &env),
        "datasets",
    );
    finish(
        spawn(
            &experiment(&path, &["--stage", "extract", "--shard", "0/2"]),
            &env,
        ),
        "0/2",
    );
    let log = finish(spawn(&experiment(&path, &[]), &env), "finishing run");
    assert!(
        log.contains("shard 1/2 was not done by a worker; extracting its"),
        "{log}"
    );
    assert!(log.contains("tracks here (audio/"), "{log}");
    let store = |p: &Path| TableStore::open(p.to_str().unwrap()).unwrap();
    assert!(metrics_at(&store(&run)) == metrics_at(&store(&whole)));
}
