//! Reports for mir-ref: the tables, plots and confusion-matrix pages of a run.
//!
//! Reads tables only (`metrics`, `predictions`, `training_log`, `tracks`) and never computes a
//! metric: every number it shows is a row of the `metrics` table, or the mean and standard
//! deviation of such rows over seeds. The one thing it derives itself is which test tracks
//! fall in which cell of a confusion matrix, from the predictions' highest scores (the same
//! rule mir-eval's `confusion` table uses).
//!
//! - [`pivot`]: the table presets (overview, robustness, probes, layers, regression, tags) as Markdown, CSV, HTML; [`significance`]: the significance matrices;
//! - [`plot`]: robustness curves, bars with intervals, training curves, metric per layer, as
//!   SVG and PNG;
//! - [`confusion`]: the interactive confusion-matrix page that lists and plays the tracks of a
//!   cell, offline (no server, no CDN);
//! - [`spectrogram`]: the mel spectrogram images those pages show;
//! - [`page`]: the report's `index.html`.
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
//! let rows = [row("clean", "accuracy", 0.9), row("noise", "accuracy", 0.6)];
//! let tables = mir_report::pivot::pivot(&rows, mir_report::pivot::Preset::Robustness, None);
//! assert!(tables[0].markdown().contains("| logmel | **0.900** | **0.600 (Δ -0.300)** |"));
//! ```

pub mod confusion;
pub mod duplicates;
pub mod page;
pub mod pivot;
pub mod plot;
pub mod significance;
pub mod spectrogram;
pub mod tags;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use mir_table::{CLEAN, MetricRow};

/// Errors of report building.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Plotting failed.
    #[error("drawing a plot: {0}")]
    Plot(String),
    /// PNG encoding failed.
    #[error("encoding a PNG image: {0}")]
    Png(String),
    /// CSV writing failed.
    #[error("writing CSV: {0}")]
    Csv(String),
    /// Data that cannot make the page asked for.
    #[error("{0}")]
    Input(String),
}

/// Result of report building.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use mir_table::RunKey;

/// File stems naming a run (`RunKey` is the contract's; these are the report's names).
pub trait Slug {
    /// `tinysol_instrument_logmel_L0_linear_seed-0`.
    fn slug(&self) -> String;
    /// The same without the seed (one confusion page covers all seeds).
    fn slug_without_seed(&self) -> String;
}

impl Slug for RunKey {
    fn slug(&self) -> String {
        format!("{}_seed-{}", self.slug_without_seed(), self.seed)
    }

    fn slug_without_seed(&self) -> String {
        plot::slug(&format!(
            "{}_{}_{}_L{}_{}",
            self.dataset, self.task, self.model, self.layer, self.probe
        ))
    }
}

/// `s` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attributes.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Encodes 8-bit pixels as a PNG image: RGB triples, or with a `palette` of RGB colours, one
/// index into it per pixel.
fn encode_png(
    pixels: &[u8],
    width: u32,
    height: u32,
    palette: Option<&[[u8; 3]]>,
) -> Result<Vec<u8>> {
    let png_error = |e: png::EncodingError| Error::Png(e.to_string());
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        match palette {
            Some(colours) => {
                encoder.set_color(png::ColorType::Indexed);
                encoder.set_palette(colours.as_flattened().to_vec());
            }
            None => encoder.set_color(png::ColorType::Rgb),
        }
        encoder.set_depth(png::BitDepth::Eight);
        // fdeflate's PNG-tuned mode: the report's hundreds of spectrograms spent a fifth of a
        // 16,000-track run's report stage in `Balanced` deflate, for files a little smaller.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(out)
}

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
