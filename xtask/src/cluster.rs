//! `mir-ref cluster`: an experiment as jobs of an existing engine, one job per stage, the
//! sharded stages as arrays: Slurm batch scripts chained by `afterok`, or Kubernetes Indexed
//! Jobs whose later stages wait for the earlier ones' done markers (`--wait`). mir-ref
//! schedules nothing itself; every job is `mir-ref experiment CONFIG --stage S [--shard K/N]`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use mir_table::Stage;

use crate::ExperimentConfig;

/// What every generated job runs: the binary, the config and the run directory, absolute.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// The `mir-ref` binary the jobs run.
    pub binary: String,
    /// The config file.
    pub config: String,
    /// The run directory every job writes to.
    pub output: String,
    /// The experiment's name (job names start with it).
    pub name: String,
    /// Shards of the extraction and training stages.
    pub shards: usize,
}

impl Jobs {
    /// The jobs of the config at `config_path` in `shards` shards, run by `binary` (default:
    /// this executable); a relative run directory is made absolute against the current folder.
    pub fn new(
        config_path: &Path,
        config: &ExperimentConfig,
        shards: usize,
        binary: Option<String>,
    ) -> Result<Self> {
        if shards == 0 {
            bail!("--shards must be at least 1");
        }
        let absolute = |p: &Path| -> Result<String> {
            Ok(std::path::absolute(p)
                .with_context(|| format!("resolving {}", p.display()))?
                .display()
                .to_string())
        };
        let output = config.output();
        let output = match crate::runlog::local_dir(&output) {
            Some(dir) => absolute(dir)?,
            None => output,
        };
        let binary = match binary {
            Some(b) => b,
            None => absolute(&std::env::current_exe()?)?,
        };
        Ok(Self {
            binary,
            config: absolute(config_path)?,
            output,
            name: config.name.clone(),
            shards,
        })
    }

    /// Whether `stage` is split in shards.
    fn sharded(stage: Stage) -> bool {
        matches!(stage, Stage::Extract | Stage::Train)
    }

    /// The command of `stage`, with `shard` the shell expression of the shard index.
    fn command(&self, stage: Stage, shard: &str, wait_s: Option<u64>) -> String {
        let mut cmd = format!(
            "{} experiment {} --output {} --stage {stage}",
            quote(&self.binary),
            quote(&self.config),
            quote(&self.output)
        );
        if Self::sharded(stage) {
            let _ = write!(cmd, " --shard {shard}/{}", self.shards);
        }
        if let Some(w) = wait_s {
            let _ = write!(cmd, " --wait {w}");
        }
        cmd
    }
}

/// Settings of the Slurm jobs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SlurmOptions {
    /// Partition of every job (default: the cluster's default partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// GPUs per extraction task (`--gpus-per-task`).
    #[arg(long)]
    pub gpus_per_task: Option<u32>,
    /// CPUs per task (`--cpus-per-task`).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Wall-time limit of every job (`--time`, for example `4:00:00`).
    #[arg(long)]
    pub time: Option<String>,
}

/// The generated files, in the order they are used.
pub struct Generated {
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// The file to run or apply (`submit.sh`, `jobs.yaml`).
    pub entry: PathBuf,
}

/// Writes `datasets.sbatch`, `extract.sbatch` (an array of `shards` tasks), `train.sbatch`
/// (likewise), `evaluate.sbatch` and `submit.sh`, which submits them chained by `afterok`.
pub fn slurm(jobs: &Jobs, options: &SlurmOptions, dir: &Path) -> Result<Generated> {
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let dir = &std::path::absolute(dir)?;
    let mut files = Vec::new();
    for stage in Stage::ALL {
        let path = dir.join(format!("{stage}.sbatch"));
        write_script(&path, &sbatch(jobs, options, *stage, dir))?;
        files.push(path);
    }
    let entry = dir.join("submit.sh");
    write_script(&entry, &submit_script(dir))?;
    files.push(entry.clone());
    Ok(Generated { files, entry })
}

/// One stage's batch script.
fn sbatch(jobs: &Jobs, options: &SlurmOptions, stage: Stage, dir: &Path) -> String {
    let logs = dir.join("logs").display().to_string();
    let mut s = String::from("#!/bin/bash\n");
    let mut directive = |line: String| {
        let _ = writeln!(s, "#SBATCH {line}");
    };
    directive(format!("--job-name={}-{stage}", jobs.name));
    let array = Jobs::sharded(stage);
    if array {
        directive(format!("--array=0-{}", jobs.shards - 1));
        directive(format!("--output={logs}/%x-%A_%a.out"));
    } else {
        directive(format!("--output={logs}/%x-%j.out"));
    }
    directive("--ntasks=1".into());
    if let Some(p) = &options.partition {
        directive(format!("--partition={p}"));
    }
    if let Some(c) = options.cpus_per_task {
        directive(format!("--cpus-per-task={c}"));
    }
    if let (Some(g), Stage::Extract) = (options.gpus_per_task, stage) {
        directive(format!("--gpus-per-task={g}"));
    }
    if let Some(t) = &options.time {
        directive(format!("--time={t}"));
    }
    let shard = "${SLURM_ARRAY_TASK_ID}";
    let _ = writeln!(
        s,
        "set -euo pipefail\nexec {}",
        jobs.command(stage, shard, None)
    );
    s
}

/// `submit.sh`: submits the four scripts, each after the previous one succeeded, and prints
/// the job ids.
fn submit_script(dir: &Path) -> String {
    let d = quote(&dir.display().to_string());
    let mut s = format!(
        "#!/bin/bash\n# Submits the stages in order, each after the previous one succeeded.\nset -euo pipefail\ncd {d}\n"
    );
    let mut previous: Option<String> = None;
    for stage in Stage::ALL {
        let var = format!("{}_JOB", stage.name().to_uppercase());
        let after = previous
            .as_ref()
            .map(|p| format!("--dependency=afterok:${p} "))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{var}=$(sbatch --parsable --kill-on-invalid-dep=yes {after}{stage}.sbatch)"
        );
        let _ = writeln!(s, "echo \"{stage}: job ${var}\"");
        previous = Some(var);
    }
    s
}

/// Runs `submit.sh` and returns what it printed (the job ids).
pub fn submit(generated: &Generated) -> Result<String> {
    let out = Command::new("bash")
        .arg(&generated.entry)
        .output()
        .with_context(|| format!("running {}", generated.entry.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            generated.entry.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Settings of the Kubernetes Jobs.
#[derive(Debug, Clone, clap::Args)]
pub struct K8sOptions {
    /// The container image with `mir-ref` on its PATH (the repository's Dockerfile builds one).
    #[arg(long)]
    pub image: String,
    /// The namespace of the Jobs.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// How long a later stage waits for the earlier ones (seconds).
    #[arg(long, default_value_t = 86_400)]
    pub wait_s: u64,
    /// A Secret whose keys become the containers' environment (the `AWS_*` credentials of
    /// an `s3://` run directory).
    #[arg(long)]
    pub env_secret: Option<String>,
    /// GPUs per extraction pod (`nvidia.com/gpu`).
    #[arg(long)]
    pub gpus: Option<u32>,
    /// A PersistentVolumeClaim with the datasets, mounted at `--data-mount` in every pod (the
    /// config's dataset roots then point under it; audio on object storage needs none).
    #[arg(long)]
    pub data_pvc: Option<String>,
    /// Where `--data-pvc` is mounted.
    #[arg(long, default_value = "/data")]
    pub data_mount: String,
}

/// Writes `jobs.yaml`: a ConfigMap with the config, and one Job per stage; the sharded
/// stages are Indexed Jobs (`completionMode: Indexed`, the shard from
/// `JOB_COMPLETION_INDEX`), and the later stages wait for the earlier ones' done markers.
pub fn kubernetes(jobs: &Jobs, options: &K8sOptions, dir: &Path) -> Result<Generated> {
    let config_text = std::fs::read_to_string(&jobs.config)
        .with_context(|| format!("reading {}", jobs.config))?;
    let in_pod = Jobs {
        binary: "mir-ref".into(),
        config: format!("{K8S_CONFIG_DIR}/{}", config_file_name(jobs)),
        ..jobs.clone()
    };
    let mut docs = vec![config_map(jobs, options, &config_text)];
    for stage in Stage::ALL {
        docs.push(k8s_job(&in_pod, options, *stage));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let entry = dir.join("jobs.yaml");
    let text: Vec<String> = docs
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<_, _>>()?;
    std::fs::write(&entry, text.join("---\n"))
        .with_context(|| format!("writing {}", entry.display()))?;
    Ok(Generated {
        files: vec![entry.clone()],
        entry,
    })
}

/// Where the pods mount the config.
const K8S_CONFIG_DIR: &str = "/etc/mir-ref";

fn config_file_name(jobs: &Jobs) -> String {
    Path::new(&jobs.config)
        .file_name()
        .map_or("config.yml".into(), |f| f.to_string_lossy().into_owned())
}

fn config_map(jobs: &Jobs, options: &K8sOptions, text: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("{}-config", k8s_name(&jobs.name)), "namespace": options.namespace},
        "data": {config_file_name(jobs): text},
    })
}

/// One stage's Job.
fn k8s_job(jobs: &Jobs, options: &K8sOptions, stage: Stage) -> serde_json::Value {
    let name = k8s_name(&jobs.name);
    let wait = (stage != Stage::Datasets).then_some(options.wait_s);
    let command = jobs.command(stage, "${JOB_COMPLETION_INDEX}", wait);
    let mut container = serde_json::json!({
        "name": "mir-ref",
        "image": options.image,
        "command": ["sh", "-c", format!("exec {command}")],
        "volumeMounts": [{"name": "config", "mountPath": K8S_CONFIG_DIR}],
    });
    if let Some(secret) = &options.env_secret {
        container["envFrom"] = serde_json::json!([{"secretRef": {"name": secret}}]);
    }
    if let (Some(g), Stage::Extract) = (options.gpus, stage) {
        container["resources"] = serde_json::json!({"limits": {"nvidia.com/gpu": g}});
    }
    let mut volumes = vec![
        serde_json::json!({"name": "config", "configMap": {"name": format!("{name}-config")}}),
    ];
    if let Some(claim) = &options.data_pvc {
        volumes.push(
            serde_json::json!({"name": "data", "persistentVolumeClaim": {"claimName": claim}}),
        );
        let mount = serde_json::json!({"name": "data", "mountPath": options.data_mount});
        if let Some(mounts) = container["volumeMounts"].as_array_mut() {
            mounts.push(mount);
        }
    }
    let mut spec = serde_json::json!({
        "backoffLimit": 3,
        "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [container],
            "volumes": volumes,
        }},
    });
    if Jobs::sharded(stage) {
        spec["completionMode"] = "Indexed".into();
        spec["completions"] = jobs.shards.into();
        spec["parallelism"] = jobs.shards.into();
    }
    serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("{name}-{stage}"),
            "namespace": options.namespace,
            "labels": {"app.kubernetes.io/name": "mir-ref", "mir-ref/experiment": name, "mir-ref/stage": stage.name()},
        },
        "spec": spec,
    })
}

/// A Kubernetes object name: lower case, `-` for anything but letters and digits.
fn k8s_name(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    mapped.trim_matches('-').to_string()
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// `s` quoted for a POSIX shell when it needs it.
fn quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-:+=@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_names() {
        assert_eq!(quote("/a/b.yml"), "/a/b.yml");
        assert_eq!(quote("it's here"), "'it'\\''s here'");
        assert_eq!(k8s_name("Paper_Grid 2"), "paper-grid-2");
    }
}
