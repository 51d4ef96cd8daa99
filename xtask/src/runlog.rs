//! Observability of a run: tracing as JSON lines into `<run dir>/run.log` (a worker's into
//! `logs/<stage>-shard-K-of-N.jsonl`), on a local disk or an object store, and peak memory.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mir_table::TableStore;

/// The open `run.log`, once the run directory is known.
static RUN_LOG: Mutex<Option<File>> = Mutex::new(None);

/// Appends the JSON lines of this process's tracing events to the file `path` from now on
/// (events before this call, such as config warnings, go to the terminal only).
pub fn open(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    *RUN_LOG.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    Ok(())
}

/// The log of one process at `rel` of a run directory: written in place when the run is
/// local, else staged in a local file (after what an earlier process logged there) and copied
/// to the store by [`sync`](Self::sync).
pub struct LogFile {
    local: PathBuf,
    remote: Option<(TableStore, String)>,
}

impl LogFile {
    /// Opens the log at `rel` of `store` (whose location is `output`) for this process's events.
    pub fn open(output: &str, store: &TableStore, rel: &str) -> anyhow::Result<Self> {
        let log = match local_dir(output) {
            Some(dir) => Self {
                local: dir.join(rel),
                remote: None,
            },
            None => {
                let local = std::env::temp_dir().join(format!(
                    "mir-ref-{}-{}",
                    std::process::id(),
                    rel.replace('/', "_")
                ));
                let earlier = block_on(store.get(rel))?.unwrap_or_default();
                std::fs::write(&local, &earlier)?;
                Self {
                    local,
                    remote: Some((store.clone(), rel.to_string())),
                }
            }
        };
        open(&log.local).map_err(|e| anyhow::anyhow!("opening {}: {e}", log.local.display()))?;
        Ok(log)
    }

    /// Copies the staged log to the store (nothing to do for a local run).
    pub fn sync(&self) -> anyhow::Result<()> {
        let Some((store, rel)) = &self.remote else {
            return Ok(());
        };
        let bytes = std::fs::read(&self.local)?;
        block_on(store.put(rel, bytes.into()))??;
        Ok(())
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        if self.remote.is_some() {
            *RUN_LOG.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let _ = std::fs::remove_file(&self.local);
        }
    }
}

/// Runs `f` to completion on a runtime of its own.
fn block_on<F: std::future::Future>(f: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(f))
}

/// The local folder of a run's output location (`runs/x`, `file:///abs/x`), if it has one.
pub fn local_dir(output: &str) -> Option<&Path> {
    match output.split_once("://") {
        None => Some(Path::new(output)),
        Some(("file", path)) => Some(Path::new(path)),
        Some(_) => None,
    }
}

/// A [`tracing_subscriber::fmt::MakeWriter`] for the `run.log` layer: writes nowhere until
/// [`open`] is called.
#[derive(Clone, Copy)]
pub struct RunLogWriter;

impl Write for RunLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match RUN_LOG.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match RUN_LOG.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RunLogWriter {
    type Writer = RunLogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// Peak resident memory of this process so far, in MB (Linux `VmHWM`; `None` elsewhere).
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Resets the process's peak memory mark (Linux: `5` into `/proc/self/clear_refs`), so the next
/// [`peak_memory_mb`] is the peak since now. Returns whether it could.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Wall time and peak memory of each stage of a run, in order.
pub struct Stages {
    rows: Vec<(String, f64, Option<f64>)>,
    since: std::time::Instant,
    resets: bool,
}

impl Stages {
    /// Starts timing the first stage.
    pub fn start() -> Self {
        Self {
            rows: Vec::new(),
            since: std::time::Instant::now(),
            resets: reset_peak_memory(),
        }
    }

    /// Ends the current stage (logged as `stage done`) and starts the next.
    pub fn done(&mut self, name: impl Into<String>) {
        let name = name.into();
        let seconds = self.since.elapsed().as_secs_f64();
        let peak = peak_memory_mb();
        tracing::info!(stage = name, seconds, peak_memory_mb = peak, "stage done");
        self.rows.push((name, seconds, peak));
        self.resets = reset_peak_memory();
        self.since = std::time::Instant::now();
    }

    /// A Markdown table of the stages, with the total.
    pub fn markdown(&self) -> String {
        let mb = |p: Option<f64>| p.map_or("-".into(), |p| format!("{p:.0}"));
        let peak_of = if self.resets {
            "peak memory (MB)"
        } else {
            "peak memory so far (MB)"
        };
        let mut out = format!("| stage | seconds | {peak_of} |\n|---|---|---|\n");
        for (name, seconds, peak) in &self.rows {
            out.push_str(&format!("| {name} | {seconds:.2} | {} |\n", mb(*peak)));
        }
        let total: f64 = self.rows.iter().map(|r| r.1).sum();
        let peak = self
            .rows
            .iter()
            .filter_map(|r| r.2)
            .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
        out.push_str(&format!("| total | {total:.2} | {} |\n", mb(peak)));
        out
    }
}

/// A progress bar on stderr for a stage of `len` items (hidden when stderr is not a terminal).
pub fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>24} [{bar:30}] {pos}/{len} {per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Seconds since the Unix epoch.
pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
