//! `mir-ref cluster`: Slurm scripts run on a real single-node Slurm (`scripts/slurm-up.sh`,
//! started by `cargo xtask ci`), Kubernetes manifests checked field by field and against the
//! Kubernetes schemas.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mir_table::{MetricRow, TableKind, TableStore, read_metrics};

use super::{root, stderr, xtask};

/// The quickstart with its fixture and model card at absolute paths, its data under `dir`.
fn quickstart_in(dir: &Path) -> String {
    let text = std::fs::read_to_string(root().join("configs/quickstart.yml")).unwrap();
    let card = root().join("configs/models/basic-pitch.yml");
    let text = text
        .replace(
            "../fixtures/generated/tinysol",
            &dir.join("tinysol").to_string_lossy(),
        )
        .replace(
            "card: models/basic-pitch.yml",
            &format!("card: {}", card.display()),
        );
    let path = dir.join("quickstart.yml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn metrics_of(run: &Path) -> Vec<MetricRow> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = TableStore::open(run.to_str().unwrap()).unwrap();
    let table = rt.block_on(store.read("metrics.parquet", TableKind::Metrics));
    let mut rows = read_metrics(&table.unwrap_or_else(|e| panic!("{e}"))).unwrap();
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    rows
}

/// Whether a Slurm cluster answers (`SLURM_CONF` set, `sinfo` succeeds); with
/// `MIRREF_REQUIRE_SLURM=1`, its absence fails the test.
fn slurm_is_up() -> bool {
    let up = std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success());
    if !up && std::env::var("MIRREF_REQUIRE_SLURM").as_deref() == Ok("1") {
        panic!(
            "MIRREF_REQUIRE_SLURM is set but no Slurm answers: run scripts/slurm-up.sh and set SLURM_CONF"
        );
    }
    if !up {
        eprintln!("skipped: no Slurm (scripts/slurm-up.sh starts one)");
    }
    up
}

#[test]
fn the_quickstart_on_slurm_equals_one_machine() {
    if !slurm_is_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = quickstart_in(dir.path());
    let local = dir.path().join("local");
    let out = xtask(
        &["experiment", &config, "--output", local.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let run = dir.path().join("slurm-run");
    let jobs = dir.path().join("jobs");
    let args = [
        "cluster",
        "slurm",
        &config,
        "--shards",
        "3",
        "--output",
        run.to_str().unwrap(),
        "--out",
        jobs.to_str().unwrap(),
        "--submit",
    ];
    let out = xtask(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let ids: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.split_once(": job ").map(|(_, id)| id.trim()))
        .collect();
    assert_eq!(ids.len(), 4, "{printed}");
    wait_for_jobs(&ids, &jobs);
    assert!(
        run.join("shards/evaluate/shard-0-of-1.json").is_file(),
        "the evaluation job did not finish; logs:\n{}",
        job_logs(&jobs)
    );
    for shard in 0..3 {
        let marker = run.join(format!("shards/extract/shard-{shard}-of-3.json"));
        assert!(marker.is_file(), "{}", marker.display());
    }
    assert!(
        metrics_of(&run) == metrics_of(&local),
        "Slurm metrics differ from one machine's"
    );
}

/// Waits until none of the jobs `ids` is queued or running (10 minutes at most).
fn wait_for_jobs(ids: &[&str], jobs: &Path) {
    let started = Instant::now();
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-o", "%i %T %r", "-j", &ids.join(",")])
            .output()
            .unwrap();
        let queue = String::from_utf8_lossy(&out.stdout).into_owned();
        if queue.trim().is_empty() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "jobs still queued after 10 minutes:\n{queue}\nlogs:\n{}",
            job_logs(jobs)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The tails of every job's output.
fn job_logs(jobs: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(jobs.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        out.push_str(&format!("--- {}\n", entry.path().display()));
        for line in tail.into_iter().rev() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `kubernetes-validate` (PyPI), from `MIRREF_K8S_VALIDATE`, the cache's venv or PATH.
fn kubernetes_validate() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os("MIRREF_K8S_VALIDATE") {
        return Some(PathBuf::from(given));
    }
    let venv = mir_embed::onnx::runtime::cache_dir().join("venv/bin/kubernetes-validate");
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("kubernetes-validate"))
            .find(|c| c.is_file())
    });
    let found = venv.is_file().then_some(venv).or(on_path);
    if found.is_none() && std::env::var("MIRREF_REQUIRE_K8S_VALIDATE").as_deref() == Ok("1") {
        panic!("MIRREF_REQUIRE_K8S_VALIDATE is set but kubernetes-validate is not installed");
    }
    found
}

#[test]
fn kubernetes_jobs_are_indexed_and_later_stages_wait() {
    let dir = tempfile::tempdir().unwrap();
    let config = quickstart_in(dir.path());
    let out_dir = dir.path().join("k8s");
    let args = [
        "cluster",
        "k8s",
        &config,
        "--shards",
        "3",
        "--image",
        "registry.example/mir-ref:1",
        "--output",
        "s3://lab/runs/quickstart",
        "--env-secret",
        "s3-credentials",
        "--data-pvc",
        "datasets",
        "--gpus",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let out = xtask(&args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = out_dir.join("jobs.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "Job", "Job", "Job", "Job"]);
    assert!(
        docs[0]["data"]["quickstart.yml"]
            .as_str()
            .unwrap()
            .contains("name: quickstart")
    );
    for (doc, stage) in docs[1..]
        .iter()
        .zip(["datasets", "extract", "train", "evaluate"])
    {
        assert_eq!(
            doc["metadata"]["name"].as_str(),
            Some(format!("quickstart-{stage}").as_str())
        );
        let spec = &doc["spec"];
        let pod = &spec["template"]["spec"];
        let container = &pod["containers"][0];
        let command = container["command"][2].as_str().unwrap();
        assert!(command.contains(&format!("--stage {stage}")), "{command}");
        assert!(
            command.contains("--output s3://lab/runs/quickstart"),
            "{command}"
        );
        let sharded = matches!(stage, "extract" | "train");
        assert_eq!(
            spec["completionMode"].as_str(),
            sharded.then_some("Indexed"),
            "{stage}"
        );
        if sharded {
            assert_eq!(spec["completions"].as_u64(), Some(3));
            assert_eq!(spec["parallelism"].as_u64(), Some(3));
            assert!(
                command.contains("--shard ${JOB_COMPLETION_INDEX}/3"),
                "{command}"
            );
        }
        // Kubernetes has no dependencies between Jobs: every later stage waits for markers.
        assert_eq!(
            command.contains("--wait "),
            stage != "datasets",
            "{command}"
        );
        assert_eq!(
            container["envFrom"][0]["secretRef"]["name"].as_str(),
            Some("s3-credentials")
        );
        assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
        assert_eq!(
            pod["volumes"][1]["persistentVolumeClaim"]["claimName"].as_str(),
            Some("datasets")
        );
        let gpus = container["resources"]["limits"]["nvidia.com/gpu"].as_u64();
        assert_eq!(gpus, (stage == "extract").then_some(1), "{stage}");
    }
    if let Some(validate) = kubernetes_validate() {
        let out = Command::new(&validate)
            .args(["--strict", path.to_str().unwrap()])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned() + &stderr(&out);
        assert!(out.status.success(), "{said}");
        assert_eq!(said.matches(" passed for resource ").count(), 5, "{said}");
    }
    let cluster = Command::new("kubectl").arg("cluster-info").output();
    if cluster.is_ok_and(|o| o.status.success()) {
        let out = Command::new("kubectl")
            .args(["apply", "--dry-run=client", "-f", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// Every shipped config loads and plans (the paper's grid: 6 tasks, 4 deformations and 5
/// probes), and its Slurm scripts are generated.
#[test]
fn every_shipped_config_loads_and_its_jobs_generate() {
    let dir = tempfile::tempdir().unwrap();
    let configs = std::fs::read_dir(root().join("configs")).unwrap().flatten();
    let mut seen = Vec::new();
    for entry in configs.filter(|e| e.path().extension().is_some_and(|x| x == "yml")) {
        let path = entry.path();
        let config =
            xtask::config::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let plan = config.plan();
        let jobs = xtask::cluster::Jobs::new(&path, &config, 4, Some("mir-ref".into())).unwrap();
        let out = dir.path().join(&config.name);
        let generated = xtask::cluster::slurm(&jobs, &Default::default(), &out).unwrap();
        assert_eq!(generated.files.len(), 5);
        if config.name == "paper" {
            assert_eq!(plan.tasks.len(), 6);
            assert_eq!(plan.deformations.len(), 4);
            assert_eq!(plan.probes.len(), 5);
        }
        seen.push(config.name);
    }
    seen.sort();
    assert!(
        seen.contains(&"paper".to_string()) && seen.contains(&"quickstart".to_string()),
        "{seen:?}"
    );
}
