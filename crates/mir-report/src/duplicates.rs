//! The `duplicates` preset: the pairs of tracks the split-hygiene check found, a table per
//! (dataset, task), pairs across splits (leaks from training into evaluation) first.

use std::collections::BTreeMap;

use mir_table::{DuplicateRow, Split};

use crate::pivot::{Cell, Column, PivotTable, Preset, Stat};

/// One table per (dataset, task) of `rows`: kind, both tracks with their splits, whether the
/// pair crosses splits, and the cosine.
pub fn tables(rows: &[DuplicateRow]) -> Vec<PivotTable> {
    let mut groups: BTreeMap<(&str, &str), Vec<&DuplicateRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((&r.dataset, &r.task)).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|((dataset, task), mut pairs)| {
            pairs.sort_by_key(|r| (r.a.1 == r.b.1, r.kind != "exact", r.a.0.clone()));
            let leaks = pairs.iter().filter(|r| r.a.1 != r.b.1).count();
            let label = |(id, split): &(String, Split)| format!("{id} ({split})");
            PivotTable {
                preset: Preset::Duplicates,
                title: format!(
                    "Duplicates: dataset {dataset}, task {task}, {} pairs, {leaks} across splits",
                    pairs.len()
                ),
                row_dims: vec!["kind", "track a", "track b", "across splits"],
                rows: (pairs.iter())
                    .map(|r| {
                        let across = if r.a.1 != r.b.1 { "yes" } else { "no" };
                        vec![r.kind.clone(), label(&r.a), label(&r.b), across.into()]
                    })
                    .collect(),
                columns: vec![Column {
                    label: "cosine".into(),
                    metric: "cosine".into(),
                }],
                cells: pairs.iter().map(|r| vec![Some(cosine(r))]).collect(),
            }
        })
        .collect()
}

fn cosine(r: &DuplicateRow) -> Cell {
    Cell {
        stat: Stat {
            mean: r.cosine,
            low: None,
            high: None,
            std: None,
            seeds: 1,
            n: 2,
        },
        delta: None,
        best: false,
        p: None,
        system: None,
        unproven: false,
        drift: None,
    }
}
