//! Integration tests of mir-report: exact tables per preset, parsed plots, and a real
//! headless browser on a generated confusion-matrix page.
#![allow(
    clippy::too_many_lines,
    clippy::excessive_nesting,
    reason = "the function budget is for library and binary code; an end-to-end test reads as \
              one scenario, top to bottom"
)]

mod browser;
mod plots;
mod tables;

use mir_table::MetricRow;

/// A `metrics` row of dataset `ds`, seed 0, for `(model, layer, probe)`.
pub fn row(
    task: &str,
    (model, layer, probe): (&str, i32, &str),
    deformation: &str,
    metric: &str,
    value: f64,
) -> MetricRow {
    MetricRow {
        task: task.into(),
        dataset: "ds".into(),
        model: model.into(),
        layer,
        probe: probe.into(),
        seed: 0,
        deformation: deformation.into(),
        metric: metric.into(),
        value,
        ci_low: None,
        ci_high: None,
        n: 40,
    }
}

/// A fixed `metrics` table: tasks `genre` (accuracy) and `key` (MIREX score and accuracy);
/// model `a` (one layer) and `b` (layers 0 and 1); probes `linear` and `mlp`; clean audio and
/// white noise at 10 and 20 dB with paired deltas; `a`/`linear` on `genre` has two seeds.
pub fn fixture() -> Vec<MetricRow> {
    let mut rows = Vec::new();
    let systems = [("a", 0), ("b", 0), ("b", 1)];
    for (t, task) in ["genre", "key"].into_iter().enumerate() {
        for (s, &(model, layer)) in systems.iter().enumerate() {
            for (p, probe) in ["linear", "mlp"].into_iter().enumerate() {
                // Clean values: distinct per system, mlp above linear, key below genre.
                let clean = 0.5 + 0.1 * s as f64 + 0.05 * p as f64 - 0.2 * t as f64;
                for (deformation, drop) in
                    [("clean", 0.0), ("noise_20db", 0.1), ("noise_10db", 0.25)]
                {
                    let metrics: &[&str] = if task == "key" {
                        &["mirex_weighted", "accuracy"]
                    } else {
                        &["accuracy"]
                    };
                    for (m, metric) in metrics.iter().enumerate() {
                        let value = clean - drop - 0.03 * m as f64;
                        let mut r = row(task, (model, layer, probe), deformation, metric, value);
                        r.ci_low = Some(value - 0.1);
                        r.ci_high = Some(value + 0.1);
                        rows.push(r.clone());
                        if deformation != "clean" {
                            rows.push(MetricRow {
                                metric: format!("delta/{metric}"),
                                value: -drop,
                                ci_low: Some(-drop - 0.05),
                                ci_high: Some(-drop + 0.05),
                                ..r.clone()
                            });
                        }
                        if (task, model, probe) == ("genre", "a", "linear") {
                            rows.push(MetricRow {
                                seed: 1,
                                value: value + 0.02,
                                ..r.clone()
                            });
                            if deformation != "clean" {
                                rows.push(MetricRow {
                                    seed: 1,
                                    metric: format!("delta/{metric}"),
                                    value: -drop + 0.02,
                                    ..r
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    rows
}
