//! Every pair of systems scored on the same test tracks, compared by the paired bootstrap.
//!
//! Runs are grouped by (dataset, task, seed, deformation, test tracks). Each system's metric is
//! computed once per resample (the resamples depend only on the seed and the test-set size,
//! so they are the same for every system of a group), and each pair's differences come from
//! those values: a group of `k` systems costs `k` bootstrap runs, not `k (k - 1)`. The
//! p-values of a group are adjusted together by Holm's method.

use std::collections::BTreeMap;

use mir_table::{SignificanceRow, System, Table};

use crate::bootstrap::{self, Bootstrap};
use crate::{EvalConfig, Group, Result, Run, compute, load};

/// (dataset, task, seed, deformation, test track ids): the systems comparable with each other.
type GroupKey<'a> = (&'a str, &'a str, i64, &'a str, &'a [String]);

/// One system's values in a group: on the whole test set and on each resample.
struct Scored {
    system: System,
    point: f64,
    resampled: Vec<f64>,
}

/// The rows of the `significance` table for `runs` (each a `tracks` and a `predictions`
/// table). Each group's metric is the first of `metrics` its first run computes (the task's
/// primary metric, say); a group whose runs compute none of them is skipped.
pub fn significance(
    config: &EvalConfig,
    seed: u64,
    runs: &[(&Table, &Table)],
    metrics: &[&str],
) -> Result<Vec<SignificanceRow>> {
    let loaded: Vec<Run> = (runs.iter())
        .map(|(tracks, predictions)| load(tracks, predictions))
        .collect::<Result<_>>()?;
    let mut groups: BTreeMap<GroupKey, Vec<(&Run, &Group)>> = BTreeMap::new();
    for run in &loaded {
        for (deformation, g) in &run.groups {
            let key = (
                &*run.dataset,
                &*run.task,
                run.seed,
                &**deformation,
                &g.ids[..],
            );
            groups.entry(key).or_default().push((run, g));
        }
    }
    let boot = Bootstrap {
        resamples: config.bootstrap,
        confidence: config.confidence,
        seed,
    };
    let mut out = Vec::new();
    for ((dataset, task, seed, deformation, ids), members) in groups {
        if members.len() < 2 {
            continue;
        }
        let all: Vec<usize> = (0..ids.len()).collect();
        let (first, g) = members[0];
        let point = compute(&g.truth, &g.scores, &first.vocabulary, &all, config);
        let Some(metric) = metrics.iter().find(|m| point.iter().any(|(n, _)| n == *m)) else {
            continue;
        };
        let samples = bootstrap::resamples(&boot, ids.len());
        let scored: Vec<Scored> = (members.iter())
            .map(|(run, g)| score(config, &samples, run, g, metric))
            .collect();
        let group = SignificanceRow {
            task: task.to_string(),
            dataset: dataset.to_string(),
            deformation: deformation.to_string(),
            seed,
            metric: metric.to_string(),
            a: scored[0].system.clone(),
            b: scored[0].system.clone(),
            delta: 0.0,
            ci_low: None,
            ci_high: None,
            p_value: 1.0,
            p_holm: 1.0,
            n: ids.len() as i64,
        };
        let mut rows = pairs(&boot, &scored, &group);
        let adjusted = bootstrap::holm(&rows.iter().map(|r| r.p_value).collect::<Vec<_>>());
        for (row, p_holm) in rows.iter_mut().zip(adjusted) {
            row.p_holm = p_holm;
        }
        out.extend(rows);
    }
    Ok(out)
}

/// `metric` of one system on the whole test set and on every resample.
fn score(
    config: &EvalConfig,
    samples: &[Vec<usize>],
    run: &Run,
    g: &Group,
    metric: &str,
) -> Scored {
    let prepared = crate::prepare(&g.truth, &g.scores, &run.vocabulary, config);
    let f = |idx: &[usize]| prepared.compute_one(idx, metric);
    let all: Vec<usize> = (0..g.ids.len()).collect();
    let point = f(&all);
    Scored {
        system: System {
            model: run.model.clone(),
            layer: run.layer,
            probe: run.probe.clone(),
        },
        point,
        resampled: bootstrap::values(samples, f),
    }
}

/// A row per pair `a < b` (by system), with `group`'s identifiers; `p_holm` is left for the
/// caller, who adjusts the group's p-values together.
fn pairs(boot: &Bootstrap, scored: &[Scored], group: &SignificanceRow) -> Vec<SignificanceRow> {
    let mut sorted: Vec<&Scored> = scored.iter().collect();
    sorted.sort_by(|x, y| x.system.cmp(&y.system));
    let mut rows = Vec::new();
    for (i, a) in sorted.iter().enumerate() {
        for b in &sorted[i + 1..] {
            let test = bootstrap::paired_test(boot, &a.resampled, &b.resampled);
            rows.push(SignificanceRow {
                a: a.system.clone(),
                b: b.system.clone(),
                delta: b.point - a.point,
                ci_low: test.map(|t| t.low),
                ci_high: test.map(|t| t.high),
                // Without resamples there is no test: nothing is shown to differ.
                p_value: test.map_or(1.0, |t| t.p),
                ..group.clone()
            });
        }
    }
    rows
}
