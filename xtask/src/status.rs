//! `mir-ref status RUN`: what the workers of a run directory did, from their logs under
//! `logs/` and their done markers under `shards/`.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::Result;
use mir_table::{RunLayout, Shard, Stage, TableKind, TableStore};

use crate::pipeline::markers;

/// The state of one worker (a stage's shard).
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Its done marker is there.
    Done { host: String, seconds: f64 },
    /// It logged, and neither finished nor failed (or was killed).
    Running { last_event: String },
    /// Its last event is its failure.
    Failed { error: String },
}

/// The summary `mir-ref status` prints for the run directory `run` (a path or URL).
pub fn of_run(run: &str) -> Result<String> {
    let store = TableStore::open(run)?;
    tokio::runtime::Runtime::new()?.block_on(summarise(&store))
}

async fn summarise(store: &TableStore) -> Result<String> {
    let mut workers: BTreeMap<(Stage, Shard), State> = BTreeMap::new();
    for path in store.list(RunLayout::LOGS).await? {
        if let Some(worker) = RunLayout::worker_of(&path) {
            let log = store.get(&path).await?;
            workers.insert(worker, from_log(&String::from_utf8_lossy(&log)));
        }
    }
    for stage in Stage::ALL {
        for (shard, m) in markers::of_stage(store, *stage).await? {
            let done = State::Done {
                host: m.host,
                seconds: m.seconds,
            };
            workers.insert((*stage, shard), done);
        }
    }
    let mut out = String::new();
    if workers.is_empty() {
        writeln!(
            out,
            "{}: no worker has logged or finished anything yet",
            store.url()
        )?;
    }
    for stage in Stage::ALL {
        describe_stage(&mut out, *stage, &workers)?;
    }
    if let Ok(table) = store.read(RunLayout::FAILURES, TableKind::Failures).await {
        let failures = mir_table::read_failures(&table)?;
        writeln!(
            out,
            "{} failures in {}",
            failures.len(),
            store.display(RunLayout::FAILURES)
        )?;
    }
    Ok(out)
}

/// One stage's lines: counts, then each shard (those of its shard count that never logged
/// are "not started").
fn describe_stage(
    out: &mut String,
    stage: Stage,
    workers: &BTreeMap<(Stage, Shard), State>,
) -> Result<()> {
    let mine: BTreeMap<Shard, &State> = (workers.iter())
        .filter(|((s, _), _)| *s == stage)
        .map(|((_, shard), state)| (*shard, state))
        .collect();
    let Some(count) = mine.keys().map(|s| s.count).max() else {
        return Ok(());
    };
    let count_of = |f: fn(&State) -> bool| mine.values().filter(|s| f(s)).count();
    let done = count_of(|s| matches!(s, State::Done { .. }));
    let running = count_of(|s| matches!(s, State::Running { .. }));
    let failed = count_of(|s| matches!(s, State::Failed { .. }));
    let missing = count - Shard::all(count).filter(|s| mine.contains_key(s)).count();
    writeln!(
        out,
        "{stage}: {count} shard(s): {done} done, {running} running, {failed} failed, {missing} not started"
    )?;
    for shard in Shard::all(count) {
        let line = match mine.get(&shard) {
            Some(State::Done { host, seconds }) => format!("done on {host} in {seconds:.1} s"),
            Some(State::Running { last_event }) => {
                format!("running (or killed): last event at {last_event}")
            }
            Some(State::Failed { error }) => format!("failed: {error}"),
            None => "not started".into(),
        };
        writeln!(out, "  shard {shard}: {line}")?;
    }
    Ok(())
}

/// A worker's state from its JSON-lines log: failed if its last event is `worker failed`,
/// else running since its last event.
fn from_log(log: &str) -> State {
    let last = log
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let Some(last) = last else {
        return State::Running {
            last_event: "(none)".into(),
        };
    };
    let field = |name: &str| {
        last["fields"][name]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    match field("message").as_str() {
        "worker failed" => State::Failed {
            error: field("error"),
        },
        _ => State::Running {
            last_event: last["timestamp"].as_str().unwrap_or("?").to_string(),
        },
    }
}
