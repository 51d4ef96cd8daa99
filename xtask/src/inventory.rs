//! `mir-ref datasets CONFIG`: every dataset of a config prepared (rendered, downloaded or
//! explained) and parsed, its tasks' `tracks` tables written to the run directory (what
//! `--stage datasets` writes), and per task what a researcher checks before hours of
//! extraction: split sizes, vocabulary, labels per track, what the protocol left out and why.
//! A dataset that fails is reported with its error and the others still checked.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::Result;
use mir_datasets::TaskTracks;
use mir_table::{Split, TableStore};

use crate::config::ExperimentConfig;
use crate::pipeline::datasets;

/// One task's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    /// The dataset's name in the config.
    pub dataset: String,
    /// The task.
    pub task: String,
    /// Tracks per split: train, validation, test.
    pub splits: [usize; 3],
    /// Classes (or regression targets).
    pub vocabulary: usize,
    /// Labels per track: fewest, mean, most.
    pub labels: (usize, f64, usize),
    /// Tracks the protocol left out, by reason.
    pub left_out: BTreeMap<String, usize>,
}

impl TaskSummary {
    fn of(dataset: &str, task: &TaskTracks) -> Self {
        let count = |s: Split| task.tracks.iter().filter(|t| t.split == s).count();
        let per_track: Vec<usize> = task.tracks.iter().map(|t| t.labels.len()).collect();
        let mean = per_track.iter().sum::<usize>() as f64 / per_track.len().max(1) as f64;
        Self {
            dataset: dataset.to_owned(),
            task: task.task.clone(),
            splits: [
                count(Split::Train),
                count(Split::Validation),
                count(Split::Test),
            ],
            vocabulary: task.vocabulary.len(),
            labels: (
                per_track.iter().copied().min().unwrap_or(0),
                mean,
                per_track.iter().copied().max().unwrap_or(0),
            ),
            left_out: task.left_out.clone(),
        }
    }
}

/// What `datasets` found: the tasks of the datasets that loaded, and the errors of the others.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Every task of every dataset that loaded.
    pub tasks: Vec<TaskSummary>,
    /// `(dataset, error)` of the datasets that did not.
    pub failed: Vec<(String, String)>,
}

impl Inventory {
    /// The summary as a Markdown table, then the left-out tracks and the errors.
    pub fn text(&self) -> String {
        let mut out = String::from(
            "| dataset | task | train | validation | test | vocabulary | labels per track (min / mean / max) |\n|---|---|---|---|---|---|---|\n",
        );
        for t in &self.tasks {
            let [train, val, test] = t.splits;
            let (lo, mean, hi) = t.labels;
            let _ = writeln!(
                out,
                "| {} | {} | {train} | {val} | {test} | {} | {lo} / {mean:.2} / {hi} |",
                t.dataset, t.task, t.vocabulary
            );
        }
        for t in self.tasks.iter().filter(|t| !t.left_out.is_empty()) {
            let why: Vec<String> = t.left_out.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = writeln!(out, "{}/{}: left out {}", t.dataset, t.task, why.join(", "));
        }
        for (dataset, error) in &self.failed {
            let _ = writeln!(out, "{dataset}: FAILED: {error}");
        }
        out
    }
}

/// Prepares and parses every dataset of `config`, writes the planned tasks' `tracks` tables to
/// its run directory (as the datasets stage does) and summarises them; a dataset that fails is
/// recorded with its error and the others still checked.
pub fn check(config: &ExperimentConfig) -> Result<Inventory> {
    let store = TableStore::open(&config.output())?;
    let plan = config.plan();
    let runtime = tokio::runtime::Runtime::new()?;
    let mut inventory = Inventory::default();
    for (name, dataset) in &config.datasets {
        let loaded = dataset
            .prepare(&Default::default())
            .map_err(anyhow::Error::from)
            .and_then(|()| datasets::load_one(config, &plan, name));
        let tasks = match loaded {
            Ok(tasks) => tasks,
            Err(e) => {
                inventory.failed.push((name.clone(), e.to_string()));
                continue;
            }
        };
        runtime.block_on(datasets::write(&store, &tasks))?;
        let summaries = tasks.values().map(|(_, task)| TaskSummary::of(name, task));
        inventory.tasks.extend(summaries);
    }
    Ok(inventory)
}
