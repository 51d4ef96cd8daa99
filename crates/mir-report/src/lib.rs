//! Reports for mir-ref: turn the long `metrics` table into tables people read.
//!
//! Reads `metrics` rows only ([`mir_table::read_metrics`]); writes text (Markdown). It never
//! computes a metric: every number it shows is a row of the `metrics` table, or the mean and
//! standard deviation of such rows over seeds.
//!
//! The key design decision is that a report is a pivot of the long table, so a report can be
//! rebuilt from the tables alone, without rerunning anything.
//!
//! ```
//! use mir_table::MetricRow;
//! let row = |deformation: &str, metric: &str, value| MetricRow {
//!     task: "instrument".into(), dataset: "synth".into(), model: "logmel".into(), layer: 0,
//!     probe: "linear".into(), seed: 0, deformation: deformation.into(), metric: metric.into(),
//!     value, ci_low: None, ci_high: None, n: 10,
//! };
//! let md = mir_report::summary_markdown(&[row("clean", "accuracy", 0.9)], &["accuracy"]);
//! assert!(md.contains("| instrument | synth | logmel | 0 | linear | clean | 0.900 | 10 |"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use mir_table::{CLEAN, MetricRow};

/// Mean and sample standard deviation (`None` for a single value).
fn mean_std(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, Some(var.sqrt()))
}

/// The metrics [`summary_markdown`] shows by default, in column order, when present.
pub const SUMMARY_METRICS: [&str; 7] = [
    "accuracy",
    "f1_macro",
    "roc_auc_macro",
    "pr_auc_macro",
    "mirex_weighted",
    "r2",
    "pearson",
];

/// One Markdown table: a row per (task, dataset, model, layer, probe, deformation), a column
/// per metric of `metrics` present in `rows`, clean audio first. Cells hold the value with its
/// confidence interval (`0.792 [0.667, 0.896]`), or `mean ± std` over several seeds.
pub fn summary_markdown(rows: &[MetricRow], metrics: &[&str]) -> String {
    type Key = (String, String, String, i32, String, (bool, String));
    let present: BTreeSet<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    let metrics: Vec<&str> = metrics
        .iter()
        .copied()
        .filter(|m| present.contains(m))
        .collect();
    let rows: Vec<&MetricRow> = rows
        .iter()
        .filter(|r| metrics.contains(&r.metric.as_str()))
        .collect();
    let mut cells: BTreeMap<Key, (BTreeMap<&str, Vec<&MetricRow>>, i64)> = BTreeMap::new();
    for r in rows {
        let key = (
            r.task.clone(),
            r.dataset.clone(),
            r.model.clone(),
            r.layer,
            r.probe.clone(),
            (r.deformation != CLEAN, r.deformation.clone()),
        );
        let cell = cells.entry(key).or_default();
        cell.0.entry(r.metric.as_str()).or_default().push(r);
        cell.1 = cell.1.max(r.n);
    }
    let mut out = String::new();
    let header: Vec<&str> = ["task", "dataset", "model", "layer", "probe", "deformation"]
        .into_iter()
        .chain(metrics.iter().copied())
        .chain(["n"])
        .collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(
        out,
        "|{}",
        header.iter().map(|_| "---|").collect::<String>()
    );
    for ((task, dataset, model, layer, probe, (_, deformation)), (values, n)) in &cells {
        let mut line =
            format!("| {task} | {dataset} | {model} | {layer} | {probe} | {deformation} |");
        for m in &metrics {
            let cell = match values.get(m).map(Vec::as_slice) {
                Some([one]) => match (one.ci_low, one.ci_high) {
                    (Some(lo), Some(hi)) => format!("{:.3} [{lo:.3}, {hi:.3}]", one.value),
                    _ => format!("{:.3}", one.value),
                },
                Some(several) => {
                    let v: Vec<f64> = several.iter().map(|r| r.value).collect();
                    match mean_std(&v) {
                        (mean, Some(sd)) => format!("{mean:.3} ± {sd:.3}"),
                        (mean, None) => format!("{mean:.3}"),
                    }
                }
                None => "-".into(),
            };
            let _ = write!(line, " {cell} |");
        }
        let _ = writeln!(out, "{line} {n} |");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(deformation: &str, metric: &str, seed: i64, value: f64) -> MetricRow {
        MetricRow {
            task: "instrument".into(),
            dataset: "synth".into(),
            model: "logmel".into(),
            layer: 0,
            probe: "linear".into(),
            seed,
            deformation: deformation.into(),
            metric: metric.into(),
            value,
            ci_low: None,
            ci_high: None,
            n: 36,
        }
    }

    #[test]
    fn pivots_metrics_with_clean_first_and_seed_spread() {
        let rows = vec![
            row("white_noise_10db", "accuracy", 0, 0.5),
            row("clean", "accuracy", 0, 0.9),
            row("clean", "accuracy", 1, 0.8),
            row("clean", "f1_macro", 0, 0.85),
            row("clean", "f1_macro", 1, 0.75),
            row("white_noise_10db", "f1_macro", 0, 0.4),
            row("clean", "f1/brass", 0, 0.4),
            MetricRow {
                ci_low: Some(0.2),
                ci_high: Some(0.6),
                ..row("white_noise_10db", "roc_auc_macro", 0, 0.45)
            },
        ];
        let expected = "\
| task | dataset | model | layer | probe | deformation | accuracy | f1_macro | roc_auc_macro | n |
|---|---|---|---|---|---|---|---|---|---|
| instrument | synth | logmel | 0 | linear | clean | 0.850 ± 0.071 | 0.800 ± 0.071 | - | 36 |
| instrument | synth | logmel | 0 | linear | white_noise_10db | 0.500 | 0.400 | 0.450 [0.200, 0.600] | 36 |
";
        assert_eq!(summary_markdown(&rows, &SUMMARY_METRICS), expected);
    }
}
