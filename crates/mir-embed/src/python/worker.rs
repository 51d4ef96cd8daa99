//! The worker process: starting it, the framed Arrow IPC protocol (see `worker.py`), and
//! telling a Python exception from a worker that died.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, Float32Array, ListArray, RecordBatch};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Float32Type, Metadata, Schema};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

/// The script every worker runs.
const SCRIPT: &str = include_str!("worker.py");
/// Lines of the worker's stderr kept for error messages.
const TAIL_LINES: usize = 40;

/// Why a call to the worker gave no embeddings.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The module raised: its traceback.
    Raised(String),
    /// The worker is gone (killed, crashed, exited): how it ended and its last stderr lines.
    Died(String),
}

/// One layer of a reply: the shape of each clip's output and the clips' values, concatenated.
pub(crate) struct Output {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A running worker.
pub(crate) struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    stderr: Arc<Mutex<VecDeque<String>>>,
    pub hello: serde_json::Value,
}

impl Worker {
    /// Starts `python` on the worker script with `spec` and waits for its hello: the module's
    /// info, or the traceback of loading it.
    pub fn start(python: &Path, spec: &serde_json::Value) -> Result<Self, Failure> {
        let mut child = Command::new(python)
            .arg("-u")
            .arg("-c")
            .arg(SCRIPT)
            .arg(spec.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Failure::Died(format!(
                    "cannot start `{}`: {e}; set `python:` to the interpreter of the \
                     environment the module is installed in",
                    python.display()
                ))
            })?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            drain(pipe, Arc::clone(&stderr));
        }
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Failure::Died("the worker's pipes are missing".into()));
        };
        let mut worker = Self {
            child,
            stdin: Some(stdin),
            stdout,
            stderr,
            hello: serde_json::Value::Null,
        };
        let (meta, _) = worker.reply()?;
        worker.hello = meta
            .get("info")
            .and_then(|i| serde_json::from_str(i).ok())
            .ok_or_else(|| Failure::Died("the worker's hello has no info".into()))?;
        Ok(worker)
    }

    /// Embeds `clips` (all of one length): one [`Output`] per layer (`layers`; empty: every
    /// layer the module has).
    pub fn embed(&mut self, clips: &[&[f32]], layers: &[String]) -> Result<Vec<Output>, Failure> {
        let request = request(clips, layers).map_err(|e| Failure::Died(e.to_string()))?;
        let sent = self
            .stdin
            .as_mut()
            .map(|s| s.write_all(&request).and_then(|()| s.flush()));
        if !matches!(sent, Some(Ok(()))) {
            return Err(self.died("it stopped reading its input"));
        }
        let (_, batch) = self.reply()?;
        let batch = batch.ok_or_else(|| Failure::Died("a reply without embeddings".into()))?;
        outputs(&batch, clips.len()).map_err(Failure::Died)
    }

    /// Reads one reply: its metadata and batch, or the module's traceback.
    fn reply(&mut self) -> Result<(Metadata, Option<RecordBatch>), Failure> {
        let mut head = [0u8; 8];
        if self.stdout.read_exact(&mut head).is_err() {
            return Err(self.died("it closed its output"));
        }
        let mut data = vec![0u8; u64::from_le_bytes(head) as usize];
        if self.stdout.read_exact(&mut data).is_err() {
            return Err(self.died("its reply was cut short"));
        }
        let mut reader = StreamReader::try_new(std::io::Cursor::new(data), None)
            .map_err(|e| Failure::Died(format!("an unreadable reply: {e}")))?;
        let meta = reader.schema().metadata().clone();
        if meta.get("status").map(String::as_str) == Some("error") {
            let traceback = meta.get("traceback").cloned().unwrap_or_default();
            return Err(Failure::Raised(traceback.trim_end().to_string()));
        }
        let batch = reader
            .next()
            .transpose()
            .map_err(|e| Failure::Died(format!("an unreadable reply: {e}")))?;
        Ok((meta, batch))
    }

    /// The failure of a worker that stopped answering: its exit status and stderr's last lines.
    fn died(&mut self, what: &str) -> Failure {
        let status = wait_briefly(&mut self.child);
        // The stderr thread may still be reading the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let tail = self
            .stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        let tail = if tail.is_empty() {
            String::new()
        } else {
            format!("; its last output:\n{tail}")
        };
        Failure::Died(format!("the worker died ({what}; {status}){tail}"))
    }
}

impl Drop for Worker {
    /// Closes the worker's input (it exits), then kills it if it has not within two seconds.
    fn drop(&mut self) {
        self.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How `child` ended, waiting up to a second for it to.
fn wait_briefly(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return describe(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                return child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| format!("killed, {}", describe(s)));
            }
            Err(e) => return e.to_string(),
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// Keeps the last [`TAIL_LINES`] lines of the worker's stderr (the module's prints and
/// warnings), and logs each at debug level.
fn drain(pipe: std::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            tracing::debug!(target: "mir_embed::python", "{line}");
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
}

/// One framed request: the clips as an `audio` list column, the layers in the metadata.
fn request(clips: &[&[f32]], layers: &[String]) -> arrow::error::Result<Vec<u8>> {
    let values = Float32Array::from_iter_values(clips.iter().flat_map(|c| c.iter().copied()));
    let offsets = OffsetBuffer::from_lengths(clips.iter().map(|c| c.len()));
    let item = Arc::new(Field::new_list_field(DataType::Float32, false));
    let audio: ArrayRef = Arc::new(ListArray::try_new(item, offsets, Arc::new(values), None)?);
    let meta = std::collections::BTreeMap::from([(
        "layers".to_string(),
        serde_json::to_string(layers).unwrap_or_default(),
    )]);
    let schema = Schema::new(vec![Field::new("audio", audio.data_type().clone(), false)])
        .with_metadata(Metadata::from(meta));
    let batch = RecordBatch::try_new(Arc::new(schema), vec![audio])?;
    let mut body = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut body, &batch.schema())?;
        writer.write(&batch)?;
        writer.finish()?;
    }
    let mut framed = (body.len() as u64).to_le_bytes().to_vec();
    framed.extend_from_slice(&body);
    Ok(framed)
}

/// The layers of a reply for `clips` clips.
fn outputs(batch: &RecordBatch, clips: usize) -> Result<Vec<Output>, String> {
    if batch.num_rows() != clips {
        return Err(format!(
            "{} rows in a reply for {clips} clips",
            batch.num_rows()
        ));
    }
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(field, column)| {
            let shape = field
                .metadata()
                .get("shape")
                .and_then(|s| serde_json::from_str(s).ok())
                .ok_or_else(|| format!("reply column `{}` has no shape", field.name()))?;
            let list = column
                .as_list_opt::<i32>()
                .ok_or_else(|| format!("reply column `{}` is no list", field.name()))?;
            let values = list
                .values()
                .as_primitive_opt::<Float32Type>()
                .ok_or_else(|| format!("reply column `{}` holds no float32", field.name()))?;
            let (start, end) = (list.value_offsets()[0], list.value_offsets()[clips]);
            Ok(Output {
                name: field.name().clone(),
                shape,
                values: values.values()[start as usize..end as usize].to_vec(),
            })
        })
        .collect()
}
