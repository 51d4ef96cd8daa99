//! The `significance` preset: for each (dataset, task, deformation, seed), every system
//! against every other on one metric, from the `significance` table.
//!
//! A cell is its row's system minus its column's, with the paired bootstrap interval and the
//! Holm-adjusted p-value; a difference with an adjusted p below [`ALPHA`] is marked.

use std::collections::{BTreeMap, BTreeSet};

use mir_table::{SignificanceRow, System};

use crate::pivot::{Cell, Column, PivotTable, Preset, Stat};

/// The level below which an adjusted p-value marks a difference.
pub const ALPHA: f64 = 0.05;

/// One matrix per (dataset, task, deformation, seed, metric) of `rows`.
pub fn tables(rows: &[SignificanceRow]) -> Vec<PivotTable> {
    let mut groups: BTreeMap<(&str, &str, &str, i64, &str), Vec<&SignificanceRow>> =
        BTreeMap::new();
    for r in rows {
        let key = (&*r.dataset, &*r.task, &*r.deformation, r.seed, &*r.metric);
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((dataset, task, deformation, seed, metric), rows)| {
            let title = format!(
                "Significance: dataset {dataset}, task {task}, deformation {deformation}, seed \
                 {seed}, metric {metric} (row minus column; bold: Holm-adjusted p < {ALPHA})"
            );
            matrix(title, metric, &rows)
        })
        .collect()
}

/// Marks, in each column of the `overview` tables, a best value that `rows` do not show to
/// be significantly better (Holm-adjusted p at least [`ALPHA`], on clean audio, the column's
/// metric, the lowest seed compared) than the runner-up: the next best value of the column.
pub fn mark_unproven(tables: &mut [PivotTable], rows: &[SignificanceRow]) {
    let overview = tables.iter_mut().filter(|t| t.preset == Preset::Overview);
    for table in overview {
        for (c, column) in table.columns.iter().enumerate() {
            let mut ranked: Vec<&mut Cell> = (table.cells.iter_mut())
                .filter_map(|row| row[c].as_mut())
                .collect();
            let higher = crate::pivot::higher_is_better(&column.metric);
            ranked.sort_by(|a, b| match higher {
                true => b.stat.mean.total_cmp(&a.stat.mean),
                false => a.stat.mean.total_cmp(&b.stat.mean),
            });
            let Some(next) = ranked.iter().position(|x| !x.best) else {
                continue;
            };
            let runner_up = ranked[next].system.clone();
            for best in ranked.iter_mut().take(next) {
                let p = compared(
                    rows,
                    &column.metric,
                    best.system.as_ref(),
                    runner_up.as_ref(),
                );
                best.unproven = p.is_some_and(|p| p >= ALPHA);
            }
        }
    }
}

/// Writes into each cell of the `robustness` tables the drift ratio of its system's model
/// layer under its column's deformation, where `rows` have it.
pub fn add_drift(tables: &mut [PivotTable], rows: &[mir_table::DriftRow]) {
    let robustness = tables.iter_mut().filter(|t| t.preset == Preset::Robustness);
    for table in robustness {
        for row in &mut table.cells {
            for (cell, column) in row.iter_mut().zip(&table.columns) {
                let Some(cell) = cell.as_mut() else { continue };
                let Some((dataset, _, system)) = &cell.system else {
                    continue;
                };
                let found = rows.iter().find(|r| {
                    (&r.dataset, &r.model, r.layer, &r.deformation)
                        == (dataset, &system.model, system.layer, &column.label)
                });
                cell.drift = found.map(|r| r.ratio);
            }
        }
    }
}

/// The Holm-adjusted p-value of the clean-audio comparison of two cells' systems, at the
/// lowest seed compared.
fn compared(
    rows: &[SignificanceRow],
    metric: &str,
    x: Option<&(String, String, System)>,
    y: Option<&(String, String, System)>,
) -> Option<f64> {
    let ((dataset, task, x), (_, _, y)) = (x?, y?);
    (rows.iter())
        .filter(|r| {
            (&r.dataset, &r.task, &*r.deformation, &*r.metric)
                == (dataset, task, mir_table::CLEAN, metric)
                && ((&r.a, &r.b) == (x, y) || (&r.a, &r.b) == (y, x))
        })
        .min_by_key(|r| r.seed)
        .map(|r| r.p_holm)
}

fn matrix(title: String, metric: &str, rows: &[&SignificanceRow]) -> PivotTable {
    let systems: Vec<&System> = (rows.iter())
        .flat_map(|r| [&r.a, &r.b])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let layered = systems.iter().any(|s| s.layer != 0);
    let label = |s: &System| match layered {
        true => format!("{} L{} {}", s.model, s.layer, s.probe),
        false => format!("{} {}", s.model, s.probe),
    };
    let cell = |row: &System, col: &System| {
        rows.iter().find_map(|r| {
            let sign = match (&r.b == row && &r.a == col, &r.a == row && &r.b == col) {
                (true, _) => 1.0,
                (_, true) => -1.0,
                _ => return None,
            };
            let (lo, hi) = (r.ci_low.map(|v| sign * v), r.ci_high.map(|v| sign * v));
            Some(Cell {
                stat: Stat {
                    mean: sign * r.delta,
                    low: if sign > 0.0 { lo } else { hi },
                    high: if sign > 0.0 { hi } else { lo },
                    std: None,
                    seeds: 1,
                    n: r.n,
                },
                delta: None,
                best: r.p_holm < ALPHA,
                p: Some(r.p_holm),
                system: None,
                unproven: false,
                drift: None,
            })
        })
    };
    PivotTable {
        preset: Preset::Significance,
        title,
        row_dims: vec!["system"],
        rows: systems.iter().map(|s| vec![label(s)]).collect(),
        columns: (systems.iter())
            .map(|s| Column {
                label: label(s),
                metric: metric.to_owned(),
            })
            .collect(),
        cells: (systems.iter())
            .map(|r| systems.iter().map(|c| cell(r, c)).collect())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(a: &str, b: &str, delta: f64, p_holm: f64) -> SignificanceRow {
        let system = |model: &str| System {
            model: model.into(),
            layer: 0,
            probe: "linear".into(),
        };
        SignificanceRow {
            task: "t".into(),
            dataset: "d".into(),
            deformation: "clean".into(),
            seed: 0,
            metric: "accuracy".into(),
            a: system(a),
            b: system(b),
            delta,
            ci_low: Some(delta - 0.1),
            ci_high: Some(delta + 0.1),
            p_value: p_holm / 2.0,
            p_holm,
            n: 50,
        }
    }

    /// Row minus column, mirrored with its interval; significant differences marked.
    #[test]
    fn the_matrix_is_antisymmetric_and_marks_what_holm_keeps() {
        let rows = [
            row("a", "b", 0.3, 0.01),
            row("a", "c", 0.0, 1.0),
            row("b", "c", -0.3, 0.02),
        ];
        let table = &tables(&rows)[0];
        assert_eq!(table.rows, [["a linear"], ["b linear"], ["c linear"]]);
        let text = |r: usize, c: usize| table.cells[r][c].as_ref().map(|c| (c.text(), c.best));
        assert_eq!(text(0, 0), None);
        assert_eq!(
            text(1, 0),
            Some(("+0.300 [+0.200, +0.400] (p 0.010)".into(), true))
        );
        assert_eq!(
            text(0, 1),
            Some(("-0.300 [-0.400, -0.200] (p 0.010)".into(), true))
        );
        assert_eq!(
            text(2, 0),
            Some(("+0.000 [-0.100, +0.100] (p 1.000)".into(), false))
        );
        let markdown = table.markdown();
        assert!(
            markdown.contains("**+0.300 [+0.200, +0.400] (p 0.010)**"),
            "{markdown}"
        );
        assert!(markdown.starts_with("### Significance: dataset d, task t, deformation clean"));
    }

    fn metric(model: &str, value: f64) -> mir_table::MetricRow {
        mir_table::MetricRow {
            task: "t".into(),
            dataset: "d".into(),
            model: model.into(),
            layer: 0,
            probe: "linear".into(),
            seed: 0,
            deformation: "clean".into(),
            metric: "accuracy".into(),
            value,
            ci_low: None,
            ci_high: None,
            n: 50,
        }
    }

    /// The overview's best value carries the mark when the runner-up is within reach, and
    /// not when the difference is significant.
    #[test]
    fn a_best_value_within_reach_of_the_runner_up_is_marked() {
        let metrics = [metric("a", 0.5), metric("b", 0.8), metric("c", 0.7)];
        let overview = |rows: &[SignificanceRow]| {
            let mut tables = crate::pivot::pivot(&metrics, Preset::Overview, None);
            mark_unproven(&mut tables, rows);
            tables[0].markdown()
        };
        // b - c: 0.1, Holm p 0.3.
        let tied = overview(&[row("b", "c", -0.1, 0.3), row("a", "b", 0.3, 0.01)]);
        assert!(tied.contains("| b | **0.800 (≈ next)** |"), "{tied}");
        let apart = overview(&[row("b", "c", -0.1, 0.01)]);
        assert!(apart.contains("| b | **0.800** |"), "{apart}");
        assert!(!overview(&[]).contains("≈"), "no comparison, no mark");
    }
}
