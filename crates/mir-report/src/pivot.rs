//! Metric tables: pivots of the long `metrics` table, one per preset.
//!
//! Every preset is the same operation with different dimensions: split the rows into tables,
//! put some identifiers on the rows and others on the columns, and aggregate the seeds of a
//! cell (one seed: the value and its confidence interval; several: mean ± standard deviation).
//! Identifiers that do not vary within a table move to its title, so a quickstart table shows
//! a `probe` column only when there are several probes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use mir_table::{CLEAN, MetricRow, System};

use crate::{Error, Result, html_escape};

/// The metrics tried, in order, as a task's primary metric: the MIREX score for keys,
/// accuracy for other single-label tasks, ROC-AUC for tags, R² for regression.
pub const PRIMARY_METRICS: [&str; 4] = ["mirex_weighted", "accuracy", "roc_auc_macro", "r2"];

pub use mir_table::Preset;

/// The identifiers `preset` puts in its tables' titles, rows and columns.
fn spec(preset: Preset) -> Option<Spec> {
    use Dim::*;
    Some(match preset {
        Preset::Overview => Spec {
            tables: &[],
            rows: &[Model, Layer, Probe],
            cols: &[Dataset, Task],
            clean_only: true,
        },
        Preset::Robustness => Spec {
            tables: &[Dataset, Task],
            rows: &[Model, Layer, Probe],
            cols: &[Deformation],
            clean_only: false,
        },
        Preset::Probes => Spec {
            tables: &[Dataset, Task],
            rows: &[Model, Layer],
            cols: &[Probe],
            clean_only: true,
        },
        Preset::Layers => Spec {
            tables: &[Model, Probe],
            rows: &[Layer],
            cols: &[Dataset, Task],
            clean_only: true,
        },
        Preset::Regression => Spec {
            tables: &[Dataset, Task],
            rows: &[Model, Layer, Probe],
            cols: &[Metric],
            clean_only: true,
        },
        Preset::Tags => Spec {
            tables: &[Dataset, Task],
            rows: &[Tag],
            cols: &[Model, Layer, Probe, TagMetric],
            clean_only: true,
        },
        // From the `significance` table: `crate::significance::tables`.
        Preset::Significance | Preset::Duplicates => return None,
    })
}

struct Spec {
    tables: &'static [Dim],
    rows: &'static [Dim],
    cols: &'static [Dim],
    clean_only: bool,
}

/// An identifier column of `metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    Dataset,
    Task,
    Model,
    Layer,
    Probe,
    Deformation,
    Metric,
    /// The tag of a per-tag metric (`macro` for the averages).
    Tag,
    /// ROC-AUC or PR-AUC, per tag or macro.
    TagMetric,
}

/// A tagging metric's kind (0: ROC-AUC, 1: PR-AUC, as `roc_auc`, `pr_auc`) and its tag
/// (`None` for the macro average): `None` for other metrics.
fn tag_metric(metric: &str) -> Option<(i32, &'static str, Option<&str>)> {
    match metric {
        "roc_auc_macro" => Some((0, "roc_auc", None)),
        "pr_auc_macro" => Some((1, "pr_auc", None)),
        m => match m.split_once('/')? {
            ("roc_auc", tag) => Some((0, "roc_auc", Some(tag))),
            ("average_precision", tag) => Some((1, "pr_auc", Some(tag))),
            _ => None,
        },
    }
}

/// The regression preset's metrics, in column order; each also per target (`r2/arousal`).
pub const REGRESSION_METRICS: [&str; 3] = ["r2", "pearson", "spearman"];

/// Where `metric` goes among the regression preset's columns: `None` for other metrics.
fn regression_order(metric: &str) -> Option<(i32, i64)> {
    let (base, per_target) = match metric.split_once('/') {
        Some((base, _)) => (base, 1),
        None => (metric, 0),
    };
    let at = REGRESSION_METRICS.iter().position(|m| *m == base)?;
    Some((at as i32, per_target))
}

impl Dim {
    fn name(self) -> &'static str {
        match self {
            Dim::Dataset => "dataset",
            Dim::Task => "task",
            Dim::Model => "model",
            Dim::Layer => "layer",
            Dim::Probe => "probe",
            Dim::Deformation => "deformation",
            Dim::Metric | Dim::TagMetric => "metric",
            Dim::Tag => "tag",
        }
    }

    /// The row's value, with a key that sorts layers by number and clean audio first.
    fn value(self, r: &MetricRow) -> Label {
        match self {
            Dim::Dataset => Label::text(&r.dataset),
            Dim::Task => Label::text(&r.task),
            Dim::Model => Label::text(&r.model),
            Dim::Layer => Label {
                order: (0, i64::from(r.layer)),
                text: r.layer.to_string(),
            },
            Dim::Probe => Label::text(&r.probe),
            Dim::Deformation => Label {
                order: (i32::from(r.deformation != CLEAN), 0),
                text: r.deformation.clone(),
            },
            Dim::Metric => Label {
                order: regression_order(&r.metric).unwrap_or((i32::MAX, 0)),
                text: r.metric.clone(),
            },
            Dim::Tag => match tag_metric(&r.metric) {
                Some((_, _, Some(tag))) => Label {
                    order: (1, 0),
                    text: tag.to_owned(),
                },
                _ => Label {
                    order: (0, 0),
                    text: "macro".into(),
                },
            },
            Dim::TagMetric => match tag_metric(&r.metric) {
                Some((kind, name, _)) => Label {
                    order: (kind, 0),
                    text: name.into(),
                },
                None => Label::text(&r.metric),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Label {
    order: (i32, i64),
    text: String,
}

impl Label {
    fn text(s: &str) -> Self {
        Label {
            order: (0, 0),
            text: s.to_owned(),
        }
    }
}

type Key = Vec<Label>;

fn key(dims: &[Dim], r: &MetricRow) -> Key {
    dims.iter().map(|d| d.value(r)).collect()
}

/// Whether larger values of `metric` are better (everything mir-eval writes, except errors
/// and losses).
pub fn higher_is_better(metric: &str) -> bool {
    let base = metric.rsplit('/').next().unwrap_or(metric);
    !["mae", "mse", "rmse", "loss", "error"]
        .iter()
        .any(|bad| base.contains(bad))
}

/// The primary metric of each (dataset, task) in `rows`: the first of [`PRIMARY_METRICS`]
/// present, or `metric` where the task has it.
pub fn task_metrics(
    rows: &[MetricRow],
    metric: Option<&str>,
) -> BTreeMap<(String, String), String> {
    let mut present: BTreeMap<(String, String), BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        present
            .entry((r.dataset.clone(), r.task.clone()))
            .or_default()
            .insert(&r.metric);
    }
    present
        .into_iter()
        .filter_map(|(task, names)| {
            metric
                .into_iter()
                .chain(PRIMARY_METRICS)
                .find(|m| names.contains(m))
                .map(|m| (task, m.to_owned()))
        })
        .collect()
}

/// Mean, interval and spread of one cell, over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// The value (one seed) or the mean over seeds.
    pub mean: f64,
    /// Lower bound of the confidence interval (one seed with an interval).
    pub low: Option<f64>,
    /// Upper bound of the confidence interval.
    pub high: Option<f64>,
    /// Sample standard deviation over seeds (several seeds).
    pub std: Option<f64>,
    /// Seeds aggregated.
    pub seeds: usize,
    /// Test items per seed (the largest).
    pub n: i64,
}

impl Stat {
    /// The statistics of one cell's rows (one per seed).
    pub fn of(rows: &[&MetricRow]) -> Option<Stat> {
        if rows.is_empty() {
            return None;
        }
        let n = rows.iter().map(|r| r.n).max().unwrap_or(0);
        if let [one] = rows {
            return Some(Stat {
                mean: one.value,
                low: one.ci_low,
                high: one.ci_high,
                std: None,
                seeds: 1,
                n,
            });
        }
        let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
        let (mean, std) = crate::mean_std(&values);
        Some(Stat {
            mean,
            low: None,
            high: None,
            std,
            seeds: rows.len(),
            n,
        })
    }

    /// As [`Stat::text`] with the sign: `+0.125 [+0.036, +0.214]`.
    pub fn text_signed(&self) -> String {
        match (self.low, self.high) {
            (Some(lo), Some(hi)) => format!("{:+.3} [{lo:+.3}, {hi:+.3}]", self.mean),
            _ => format!("{:+.3}", self.mean),
        }
    }

    /// `0.792 [0.667, 0.896]`, `0.850 ± 0.071` or `0.900`.
    pub fn text(&self) -> String {
        match (self.low, self.high, self.std) {
            (Some(lo), Some(hi), _) => format!("{:.3} [{lo:.3}, {hi:.3}]", self.mean),
            (_, _, Some(sd)) => format!("{:.3} ± {sd:.3}", self.mean),
            _ => format!("{:.3}", self.mean),
        }
    }
}

/// One cell of a [`PivotTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The metric.
    pub stat: Stat,
    /// The difference to clean audio (robustness tables): the paired `delta/<metric>` rows
    /// where mir-eval wrote them, else the difference of the values.
    pub delta: Option<Stat>,
    /// The best value of its column (a significance table: a difference with a
    /// Holm-adjusted p-value below 0.05).
    pub best: bool,
    /// The Holm-adjusted p-value of a difference (significance tables).
    pub p: Option<f64>,
    /// The (dataset, task, system) its rows share, where they share one.
    pub system: Option<(String, String, System)>,
    /// A best value that is not significantly better than the column's runner-up
    /// ([`crate::significance::mark_unproven`]).
    pub unproven: bool,
    /// How far the column's deformation moves the row's embeddings, as a fraction of the
    /// typical distance between tracks (robustness tables, [`crate::significance::add_drift`]).
    pub drift: Option<f64>,
}

impl Cell {
    /// The cell as text: the metric, and the difference to clean where there is one.
    pub fn text(&self) -> String {
        let text = self.value_text();
        match self.unproven {
            true => format!("{text} {UNPROVEN}"),
            false => text,
        }
    }

    fn value_text(&self) -> String {
        match (&self.delta, self.p) {
            (_, Some(p)) => format!("{} (p {})", self.stat.text_signed(), p_text(p)),
            (Some(d), None) => match self.drift {
                Some(r) => format!("{} (Δ {:+.3}, drift {r:.2})", self.stat.text(), d.mean),
                None => format!("{} (Δ {:+.3})", self.stat.text(), d.mean),
            },
            (None, None) => self.stat.text(),
        }
    }
}

/// A column of a [`PivotTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The varying identifiers, joined with ` / `.
    pub label: String,
    /// The metric its cells hold.
    pub metric: String,
}

/// One table of a preset.
#[derive(Debug, Clone, PartialEq)]
pub struct PivotTable {
    /// The preset it belongs to.
    pub preset: Preset,
    /// The title: the preset, the identifiers the table is split by and those constant in it.
    pub title: String,
    /// Names of the row label columns.
    pub row_dims: Vec<&'static str>,
    /// Row labels, one per row dimension.
    pub rows: Vec<Vec<String>>,
    /// Columns.
    pub columns: Vec<Column>,
    /// `cells[row][column]`; `None` where the metrics table has no value.
    pub cells: Vec<Vec<Option<Cell>>>,
}

/// Builds the tables of `preset` from `rows`. `metric` replaces each task's primary metric
/// where the task has it. A preset that does not apply (layers without a multi-layer model)
/// gives no table.
pub fn pivot(rows: &[MetricRow], preset: Preset, metric: Option<&str>) -> Vec<PivotTable> {
    let Some(spec) = spec(preset) else {
        return vec![];
    };
    let metrics = task_metrics(rows, metric);
    let chosen = |r: &MetricRow| metrics.get(&(r.dataset.clone(), r.task.clone()));
    // The regression preset takes every regression metric of the tasks whose primary metric
    // is R² (per target only where there are several); the others one metric per task.
    let mut targets: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for r in rows {
        if let Some(target) = r.metric.strip_prefix("r2/") {
            targets
                .entry((&r.dataset, &r.task))
                .or_default()
                .insert(target);
        }
    }
    let several = |r: &MetricRow| {
        targets
            .get(&(&*r.dataset, &*r.task))
            .is_some_and(|t| t.len() > 1)
    };
    let wanted = |r: &MetricRow| match preset {
        Preset::Regression => {
            chosen(r).is_some_and(|m| m == "r2")
                && regression_order(&r.metric)
                    .is_some_and(|(_, per_target)| per_target == 0 || several(r))
        }
        Preset::Tags => {
            chosen(r).is_some_and(|m| m == "roc_auc_macro") && tag_metric(&r.metric).is_some()
        }
        _ => chosen(r) == Some(&r.metric),
    };
    let selected: Vec<&MetricRow> = rows
        .iter()
        .filter(|r| wanted(r))
        .filter(|r| !spec.clean_only || r.deformation == CLEAN)
        .collect();
    let mut layers: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for r in &selected {
        layers.entry(&r.model).or_default().insert(r.layer);
    }
    let mut split: BTreeMap<Key, Vec<&MetricRow>> = BTreeMap::new();
    for r in selected {
        if preset == Preset::Layers && layers[r.model.as_str()].len() < 2 {
            continue;
        }
        split.entry(key(spec.tables, r)).or_default().push(r);
    }
    split
        .into_iter()
        .map(|(table_key, rows_in)| {
            let deltas: Vec<&MetricRow> = if preset == Preset::Robustness {
                rows.iter()
                    .filter(|r| {
                        key(spec.tables, r) == table_key
                            && chosen(r).is_some_and(|m| r.metric == format!("delta/{m}"))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            one_table(preset, &spec, &table_key, &rows_in, &deltas)
        })
        .collect()
}

/// The row and column identifiers a table keeps: those that vary over its rows (the others go
/// to its title), and at least one of each: the first of the rows (the model) and the last of
/// the columns (the task rather than the dataset).
fn kept_dims(spec: &Spec, rows: &[&MetricRow]) -> (Vec<Dim>, Vec<Dim>) {
    let varies = |d: Dim| {
        rows.iter()
            .map(|r| d.value(r))
            .collect::<BTreeSet<_>>()
            .len()
            > 1
    };
    let keep = |dims: &[Dim], fallback: Option<&Dim>| -> Vec<Dim> {
        let kept: Vec<Dim> = dims.iter().copied().filter(|&d| varies(d)).collect();
        if kept.is_empty() {
            fallback.copied().into_iter().collect()
        } else {
            kept
        }
    };
    (
        keep(spec.rows, spec.rows.first()),
        keep(spec.cols, spec.cols.last()),
    )
}

/// One cell: its seeds' statistics, and against the clean cell of its row (robustness
/// tables) the paired `delta` rows where there are some, else the difference of the means.
fn cell(
    rows: &[&MetricRow],
    clean: Option<&Stat>,
    is_clean: bool,
    deltas: Option<&Vec<&MetricRow>>,
) -> Option<Cell> {
    let stat = Stat::of(rows)?;
    let delta = match (clean, is_clean) {
        (_, true) | (None, _) => None,
        (Some(c), false) => deltas.and_then(|v| Stat::of(v)).or(Some(Stat {
            mean: stat.mean - c.mean,
            low: None,
            high: None,
            std: None,
            seeds: stat.seeds,
            n: stat.n,
        })),
    };
    let first = rows[0];
    let same = |r: &&MetricRow| {
        (&r.dataset, &r.task, &r.model, r.layer, &r.probe)
            == (
                &first.dataset,
                &first.task,
                &first.model,
                first.layer,
                &first.probe,
            )
    };
    let system = rows.iter().all(same).then(|| {
        let system = System {
            model: first.model.clone(),
            layer: first.layer,
            probe: first.probe.clone(),
        };
        (first.dataset.clone(), first.task.clone(), system)
    });
    Some(Cell {
        stat,
        delta,
        p: None,
        best: false,
        system,
        unproven: false,
        drift: None,
    })
}

fn one_table(
    preset: Preset,
    spec: &Spec,
    table_key: &[Label],
    rows: &[&MetricRow],
    deltas: &[&MetricRow],
) -> PivotTable {
    let (row_dims, col_dims) = kept_dims(spec, rows);
    let metrics: BTreeSet<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    let title = title(preset, spec, table_key, rows, [&row_dims, &col_dims]);

    let mut grid: BTreeMap<Key, BTreeMap<Key, Vec<&MetricRow>>> = BTreeMap::new();
    let mut col_keys: BTreeMap<Key, String> = BTreeMap::new();
    for r in rows {
        let (rk, ck) = (key(&row_dims, r), key(&col_dims, r));
        col_keys.insert(ck.clone(), r.metric.clone());
        grid.entry(rk).or_default().entry(ck).or_default().push(r);
    }
    let mut delta_grid: BTreeMap<(Key, Key), Vec<&MetricRow>> = BTreeMap::new();
    for r in deltas {
        delta_grid
            .entry((key(&row_dims, r), key(&col_dims, r)))
            .or_default()
            .push(r);
    }
    let columns: Vec<Column> = col_keys
        .iter()
        .map(|(k, metric)| {
            Column::of(
                k,
                metric,
                metrics.len() > 1
                    && !col_dims
                        .iter()
                        .any(|d| matches!(d, Dim::Metric | Dim::TagMetric)),
            )
        })
        .collect();
    let clean_key: Option<Key> = col_keys
        .keys()
        .find(|k| col_dims == [Dim::Deformation] && k[0].text == CLEAN)
        .cloned();
    let mut cells: Vec<Vec<Option<Cell>>> = Vec::new();
    let mut labels = Vec::new();
    for (rk, by_col) in &grid {
        labels.push(rk.iter().map(|l| l.text.clone()).collect());
        let clean = clean_key
            .as_ref()
            .and_then(|k| by_col.get(k))
            .and_then(|v| Stat::of(v));
        cells.push(
            col_keys
                .keys()
                .map(|ck| {
                    let is_clean = Some(ck) == clean_key.as_ref();
                    let paired = delta_grid.get(&(rk.clone(), ck.clone()));
                    cell(by_col.get(ck)?, clean.as_ref(), is_clean, paired)
                })
                .collect(),
        );
    }
    // A tags table's columns hold one system's tags: its best tag is no finding.
    if preset != Preset::Tags {
        mark_best(&mut cells, &columns);
    }
    PivotTable {
        preset,
        title,
        row_dims: row_dims.iter().map(|d| d.name()).collect(),
        rows: labels,
        columns,
        cells,
    }
}

/// The title: the preset, then the identifiers constant over the table (those of the table's
/// key, and row and column identifiers left out of `kept`), and the metric when there is one.
fn title(
    preset: Preset,
    spec: &Spec,
    table_key: &[Label],
    rows: &[&MetricRow],
    kept: [&[Dim]; 2],
) -> String {
    let mut title = capitalised(preset.name());
    let mut context: Vec<String> = spec
        .tables
        .iter()
        .zip(table_key)
        .map(|(d, l)| format!("{} {}", d.name(), l.text))
        .collect();
    for &d in spec.rows.iter().chain(spec.cols) {
        if !kept.iter().any(|dims| dims.contains(&d)) {
            context.push(format!("{} {}", d.name(), d.value(rows[0]).text));
        }
    }
    let metrics: BTreeSet<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
    if metrics.len() == 1 {
        context.push(format!("metric {}", rows[0].metric));
    }
    if !context.is_empty() {
        let _ = write!(title, ": {}", context.join(", "));
    }
    title
}

/// Marks the best value of each column (highest or lowest, as its metric goes), compared at
/// the printed precision, so ties that print alike are all marked.
fn mark_best(cells: &mut [Vec<Option<Cell>>], columns: &[Column]) {
    for (c, col) in columns.iter().enumerate() {
        let values = cells
            .iter()
            .filter_map(|row| row[c].as_ref().map(|x| x.stat.mean));
        let best = if higher_is_better(&col.metric) {
            values.fold(f64::NEG_INFINITY, f64::max)
        } else {
            values.fold(f64::INFINITY, f64::min)
        };
        for cell in cells.iter_mut().filter_map(|row| row[c].as_mut()) {
            cell.best = format!("{:.3}", cell.stat.mean) == format!("{best:.3}");
        }
    }
}

impl Column {
    /// The column of key `k`, labelled by its identifiers (and its metric, when the table
    /// mixes metrics).
    fn of(k: &[Label], metric: &str, with_metric: bool) -> Self {
        let label = k
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join(" / ");
        Column {
            label: if with_metric {
                format!("{label} ({metric})")
            } else {
                label
            },
            metric: metric.to_owned(),
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl PivotTable {
    /// The table as Markdown under a `###` title; best values of each column in bold.
    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.title);
        let header: Vec<&str> = self
            .row_dims
            .iter()
            .copied()
            .chain(self.columns.iter().map(|c| c.label.as_str()))
            .collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
        for (labels, row) in self.rows.iter().zip(&self.cells) {
            let cells = row.iter().map(|c| match c {
                Some(c) if c.best => format!("**{}**", c.text()),
                Some(c) => c.text(),
                None => "-".into(),
            });
            let line: Vec<String> = labels.iter().cloned().chain(cells).collect();
            let _ = writeln!(out, "| {} |", line.join(" | "));
        }
        out
    }

    /// The table as an HTML `<table>` (no page around it); best values carry class `best`.
    pub fn html(&self) -> String {
        let mut out = format!(
            "<table class=\"metrics\" data-preset=\"{}\">\n<caption>{}</caption>\n<thead><tr>",
            self.preset.name(),
            html_escape(&self.title)
        );
        for h in &self.row_dims {
            let _ = write!(out, "<th scope=\"col\">{}</th>", html_escape(h));
        }
        for c in &self.columns {
            let _ = write!(out, "<th scope=\"col\">{}</th>", html_escape(&c.label));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (labels, row) in self.rows.iter().zip(&self.cells) {
            out.push_str("<tr>");
            for l in labels {
                let _ = write!(out, "<th scope=\"row\">{}</th>", html_escape(l));
            }
            for c in row {
                match c {
                    Some(c) => {
                        let class = if c.best { " class=\"best\"" } else { "" };
                        let _ = write!(
                            out,
                            "<td{class} data-value=\"{}\">{}</td>",
                            c.stat.mean,
                            html_escape(&c.text())
                        );
                    }
                    None => out.push_str("<td class=\"missing\">-</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }

    /// Appends the table's cells to a CSV writer, a line per cell (see [`tables_csv`]).
    fn csv_rows<W: std::io::Write>(&self, w: &mut csv::Writer<W>) -> csv::Result<()> {
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for (labels, row) in self.rows.iter().zip(&self.cells) {
            for (col, cell) in self.columns.iter().zip(row) {
                let Some(c) = cell else { continue };
                let d = c.delta.as_ref();
                w.write_record([
                    self.preset.name().to_owned(),
                    self.title.clone(),
                    labels.join(" / "),
                    col.label.clone(),
                    col.metric.clone(),
                    c.stat.mean.to_string(),
                    opt(c.stat.low),
                    opt(c.stat.high),
                    opt(c.stat.std),
                    c.stat.seeds.to_string(),
                    c.stat.n.to_string(),
                    opt(d.map(|d| d.mean)),
                    opt(d.and_then(|d| d.low)),
                    opt(d.and_then(|d| d.high)),
                    c.best.to_string(),
                    opt(c.p),
                ])?;
            }
        }
        Ok(())
    }
}

/// After a best value not significantly better than the runner-up of its column.
pub const UNPROVEN: &str = "(≈ next)";

/// A p-value in three significant digits, small ones in scientific notation.
fn p_text(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// The tables as one Markdown document, a section per table.
pub fn tables_markdown(tables: &[PivotTable]) -> String {
    tables
        .iter()
        .map(PivotTable::markdown)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The tables as CSV, a line per cell: `preset, table, row, column, metric, mean, ci_low,
/// ci_high, std, seeds, n, delta, delta_low, delta_high, best, p_holm`.
pub fn tables_csv(tables: &[PivotTable]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::Csv(e.to_string());
    w.write_record([
        "preset",
        "table",
        "row",
        "column",
        "metric",
        "mean",
        "ci_low",
        "ci_high",
        "std",
        "seeds",
        "n",
        "delta",
        "delta_low",
        "delta_high",
        "best",
        "p_holm",
    ])
    .map_err(csv_error)?;
    for t in tables {
        t.csv_rows(&mut w).map_err(csv_error)?;
    }
    let bytes = w.into_inner().map_err(|e| Error::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::Csv(e.to_string()))
}
