//! Plots, drawn with plotters as SVG and PNG from the same description.
//!
//! A [`Figure`] is data only (panels of line series, or bars with intervals); [`Figure::svg`]
//! and [`Figure::png`] draw it. The builders below turn tables into figures: robustness curves
//! ([`robustness`]), bars with interval error bars ([`bars`]), training curves
//! ([`training_curves`]) and metric per layer ([`per_layer`]).

use std::collections::{BTreeMap, BTreeSet};

use mir_table::{CLEAN, Epoch, MetricRow};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

use crate::pivot::{Stat, task_metrics};
use crate::{Error, Result, RunKey};

/// Series colours (Tableau 10): the n-th series of every figure has the n-th colour.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A point of a line series, with an optional interval drawn as an error bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Horizontal position.
    pub x: f64,
    /// Value.
    pub y: f64,
    /// Interval around the value.
    pub interval: Option<(f64, f64)>,
}

/// A named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, in drawing order.
    pub points: Vec<Point>,
    /// A horizontal dashed line in the series' colour (for example the clean-audio value).
    pub reference: Option<f64>,
    /// Colour index into [`PALETTE`]; series that belong together share one.
    pub colour: usize,
    /// Drawn dashed (for example validation loss beside training loss).
    pub dashed: bool,
}

impl Series {
    /// A solid line without reference, in colour `colour`.
    pub fn line(name: impl Into<String>, points: Vec<Point>, colour: usize) -> Self {
        Series {
            name: name.into(),
            points,
            reference: None,
            colour,
            dashed: false,
        }
    }
}

/// One chart of line series.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Caption.
    pub title: String,
    /// Horizontal axis description.
    pub x_label: String,
    /// Vertical axis description.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Integer ticks on the horizontal axis (epochs, layers).
    pub integer_x: bool,
}

/// One scatter plot: points `(x, y)` and the diagonal.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPanel {
    /// Caption.
    pub title: String,
    /// Horizontal axis description.
    pub x_label: String,
    /// Vertical axis description.
    pub y_label: String,
    /// The points.
    pub points: Vec<(f64, f64)>,
}

/// A bar with an interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Label under the bar.
    pub label: String,
    /// Height.
    pub value: f64,
    /// Error bar, where there is an interval.
    pub interval: Option<(f64, f64)>,
}

/// What a figure shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// Line charts side by side.
    Lines(Vec<Panel>),
    /// Scatter plots side by side under one title, each with the diagonal `y = x` (predicted
    /// against true).
    Scatter {
        /// Caption above the panels.
        title: String,
        /// The panels, left to right.
        panels: Vec<ScatterPanel>,
    },
    /// A bar chart with error bars.
    Bars {
        /// Caption.
        title: String,
        /// Vertical axis description.
        y_label: String,
        /// The bars, left to right.
        bars: Vec<Bar>,
    },
}

/// Size of every figure, in pixels (SVG user units).
pub const SIZE: (u32, u32) = (900, 480);

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Plot(e.to_string())
}

/// Range of `values` padded by 5%, or `[0, 1]` when they all lie in it (scores, accuracies).
fn range(values: impl Iterator<Item = f64>, unit: bool) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if unit && lo >= 0.0 && hi <= 1.0 {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * hi.abs().max(1.0));
    (lo - pad, hi + pad)
}

impl Figure {
    /// The figure as an SVG document.
    pub fn svg(&self) -> Result<String> {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        Ok(out)
    }

    /// The figure as a PNG image.
    pub fn png(&self) -> Result<Vec<u8>> {
        let (w, h) = SIZE;
        let mut rgb = vec![0u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        crate::encode_png(&rgb, w, h, None)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(draw_error)?;
        match self {
            Figure::Lines(panels) => {
                let areas = root.split_evenly((1, panels.len().max(1)));
                for (panel, area) in panels.iter().zip(&areas) {
                    draw_panel(panel, area)?;
                }
            }
            Figure::Scatter { title, panels } => {
                let below = root.titled(title, ("sans-serif", 18)).map_err(draw_error)?;
                let areas = below.split_evenly((1, panels.len().max(1)));
                for (panel, area) in panels.iter().zip(&areas) {
                    draw_scatter(panel, area)?;
                }
            }
            Figure::Bars {
                title,
                y_label,
                bars,
            } => draw_bars(title, y_label, bars, root)?,
        }
        Ok(())
    }
}

fn draw_panel<DB: DrawingBackend>(panel: &Panel, area: &DrawingArea<DB, Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let points = || panel.series.iter().flat_map(|s| &s.points);
    let (x0, x1) = range(points().map(|p| p.x), false);
    let ys = points()
        .flat_map(|p| [Some(p.y), p.interval.map(|i| i.0), p.interval.map(|i| i.1)])
        .chain(panel.series.iter().map(|s| s.reference))
        .flatten();
    let unit = !panel.y_label.contains("loss");
    let (y0, y1) = range(ys, unit);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_error)?;
    let integer = panel.integer_x;
    let formatter = move |x: &f64| {
        if integer {
            format!("{}", x.round())
        } else {
            // Three decimals at most, trailing zeros dropped (`12.5`, not `12.500000000001`).
            let text = format!("{x:.3}");
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .x_label_formatter(&formatter)
        .light_line_style(WHITE);
    if integer {
        let span = (x1 - x0).round() as usize;
        mesh.x_labels(span.clamp(2, 12));
    }
    mesh.draw().map_err(draw_error)?;
    for s in &panel.series {
        let c = colour(s.colour);
        let style = ShapeStyle::from(&c).stroke_width(2);
        let xy: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.y)).collect();
        let drawn = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(xy.clone(), 6, 4, style))
                .map_err(draw_error)?
        } else {
            chart
                .draw_series(LineSeries::new(xy.clone(), style))
                .map_err(draw_error)?
        };
        drawn.label(&s.name).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 20, y)],
                ShapeStyle::from(&c).stroke_width(2),
            )
        });
        chart
            .draw_series(xy.iter().map(|&p| Circle::new(p, 3, c.filled())))
            .map_err(draw_error)?;
        chart
            .draw_series(s.points.iter().filter_map(|p| {
                p.interval
                    .map(|(lo, hi)| ErrorBar::new_vertical(p.x, lo, p.y, hi, c, 8))
            }))
            .map_err(draw_error)?;
        if let Some(r) = s.reference {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x0, r), (x1, r)],
                    4,
                    4,
                    ShapeStyle::from(&c.mix(0.7)).stroke_width(1),
                ))
                .map_err(draw_error)?;
        }
    }
    chart
        .configure_series_labels()
        // Losses fall and scores rise to the right: keep the legend off the lines' ends.
        .position(if unit {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        })
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    panel: &ScatterPanel,
    area: &DrawingArea<DB, Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    // One range for both axes, so the diagonal is the line of perfect predictions.
    let (lo, hi) = range(panel.points.iter().flat_map(|(x, y)| [*x, *y]), false);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(lo..hi, lo..hi)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .light_line_style(WHITE)
        .draw()
        .map_err(draw_error)?;
    let grey = ShapeStyle::from(&BLACK.mix(0.5)).stroke_width(1);
    chart
        .draw_series(DashedLineSeries::new([(lo, lo), (hi, hi)], 4, 4, grey))
        .map_err(draw_error)?;
    let c = colour(0);
    chart
        .draw_series(
            panel
                .points
                .iter()
                .map(|&p| Circle::new(p, 3, c.mix(0.7).filled())),
        )
        .map_err(draw_error)?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    title: &str,
    y_label: &str,
    bars: &[Bar],
    area: &DrawingArea<DB, Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ys = bars
        .iter()
        .flat_map(|b| {
            [
                Some(b.value),
                b.interval.map(|i| i.0),
                b.interval.map(|i| i.1),
            ]
        })
        .flatten()
        .chain([0.0]);
    let (y0, y1) = range(ys, true);
    let n = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.5..n - 0.5, y0..y1)
        .map_err(draw_error)?;
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let formatter = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bars.len() * 2 + 1)
        .x_label_formatter(&formatter)
        .x_label_style(("sans-serif", 11))
        .y_desc(y_label)
        .light_line_style(WHITE)
        .draw()
        .map_err(draw_error)?;
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64;
        let c = colour(i);
        chart
            .draw_series([Rectangle::new(
                [(x - 0.35, 0.0_f64.max(y0)), (x + 0.35, b.value)],
                c.filled(),
            )])
            .map_err(draw_error)?;
        if let Some((lo, hi)) = b.interval {
            chart
                .draw_series([ErrorBar::new_vertical(x, lo, b.value, hi, BLACK, 12)])
                .map_err(draw_error)?;
        }
    }
    Ok(())
}

pub use mir_table::layout::slug;

/// A deformation swept over one parameter: the deformations of one kind that differ only
/// in a number (white noise at several SNRs, MP3 at several bitrates).
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// The deformation kind (`white_noise`).
    pub kind: String,
    /// The parameter (`snr_db`).
    pub parameter: String,
    /// (deformation name, parameter value), in increasing value.
    pub levels: Vec<(String, f64)>,
}

/// Parameters preferred as a sweep's axis, before any other number of the step.
const SWEEP_PARAMETERS: [&str; 6] = [
    "snr_db",
    "gain_db",
    "bitrate",
    "semitones",
    "rate",
    "rt60_s",
];

/// The sweeps among `deformations` (name to scenario, as the metrics table's `deformations`
/// metadata holds them: `{"white_noise_20db": {"steps": [{"type": "white_noise",
/// "snr_db": 20}]}}`). Scenarios of one step with a numeric parameter count.
pub fn sweeps(deformations: &BTreeMap<String, Value>) -> Vec<Sweep> {
    let mut by_kind: BTreeMap<(String, String), Vec<(String, f64)>> = BTreeMap::new();
    for (name, scenario) in deformations {
        let Some([step]) = scenario
            .get("steps")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        else {
            continue;
        };
        let (Some(kind), Some(fields)) =
            (step.get("type").and_then(Value::as_str), step.as_object())
        else {
            continue;
        };
        let numeric = |k: &str| fields.get(k).and_then(Value::as_f64);
        let parameter = SWEEP_PARAMETERS
            .iter()
            .copied()
            .find(|k| numeric(k).is_some())
            .or_else(|| {
                fields
                    .keys()
                    .map(String::as_str)
                    .find(|k| *k != "type" && numeric(k).is_some())
            });
        if let Some(p) = parameter
            && let Some(v) = numeric(p)
        {
            by_kind
                .entry((kind.to_owned(), p.to_owned()))
                .or_default()
                .push((name.clone(), v));
        }
    }
    by_kind
        .into_iter()
        .map(|((kind, parameter), mut levels)| {
            levels.sort_by(|a, b| a.1.total_cmp(&b.1));
            Sweep {
                kind,
                parameter,
                levels,
            }
        })
        .collect()
}

fn interval(s: &Stat) -> Option<(f64, f64)> {
    match (s.low, s.high, s.std) {
        (Some(lo), Some(hi), _) => Some((lo, hi)),
        (_, _, Some(sd)) => Some((s.mean - sd, s.mean + sd)),
        _ => None,
    }
}

/// Rows of `rows` grouped by (dataset, task), keeping the task's primary metric (or
/// `metric`), averaged over seeds per (model, layer, probe, deformation).
type Cells = BTreeMap<(String, String), BTreeMap<(String, i32, String, String), Stat>>;

fn cells(rows: &[MetricRow], metric: Option<&str>) -> (Cells, BTreeMap<(String, String), String>) {
    let metrics = task_metrics(rows, metric);
    let mut grouped: BTreeMap<_, BTreeMap<_, Vec<&MetricRow>>> = BTreeMap::new();
    for r in rows {
        let task = (r.dataset.clone(), r.task.clone());
        if metrics.get(&task) != Some(&r.metric) {
            continue;
        }
        grouped
            .entry(task)
            .or_default()
            .entry((
                r.model.clone(),
                r.layer,
                r.probe.clone(),
                r.deformation.clone(),
            ))
            .or_default()
            .push(r);
    }
    let cells = grouped
        .into_iter()
        .map(|(task, by)| {
            let stats = by
                .into_iter()
                .filter_map(|(k, v)| Stat::of(&v).map(|s| (k, s)))
                .collect();
            (task, stats)
        })
        .collect();
    (cells, metrics)
}

fn system(model: &str, layer: i32, probe: &str, layers: &BTreeSet<i32>) -> String {
    if layers.len() > 1 || layer != 0 {
        format!("{model} L{layer} {probe}")
    } else {
        format!("{model} {probe}")
    }
}

/// Robustness curves: per (dataset, task) and sweep of at least two levels, the metric against
/// the swept parameter, a line per (model, layer, probe) with its clean value as a dashed line.
/// Returned with a file stem each (`robustness_<dataset>_<task>_<kind>`).
pub fn robustness(
    rows: &[MetricRow],
    deformations: &BTreeMap<String, Value>,
    metric: Option<&str>,
) -> Vec<(String, Figure)> {
    let (cells, metrics) = cells(rows, metric);
    let mut out = Vec::new();
    // One level is a table cell, not a curve.
    for sweep in sweeps(deformations)
        .into_iter()
        .filter(|s| s.levels.len() > 1)
    {
        for ((dataset, task), stats) in &cells {
            let systems: BTreeSet<(&str, i32, &str)> = stats
                .keys()
                .map(|(m, l, p, _)| (m.as_str(), *l, p.as_str()))
                .collect();
            let layers: BTreeSet<i32> = systems.iter().map(|s| s.1).collect();
            let series: Vec<Series> = systems
                .iter()
                .enumerate()
                .filter_map(|(i, &(m, l, p))| {
                    let at = |d: &str| stats.get(&(m.to_owned(), l, p.to_owned(), d.to_owned()));
                    let points: Vec<Point> = sweep
                        .levels
                        .iter()
                        .filter_map(|(name, x)| {
                            at(name).map(|s| Point {
                                x: *x,
                                y: s.mean,
                                interval: interval(s),
                            })
                        })
                        .collect();
                    (!points.is_empty()).then(|| Series {
                        reference: at(CLEAN).map(|s| s.mean),
                        ..Series::line(system(m, l, p, &layers), points, i)
                    })
                })
                .collect();
            if series.is_empty() {
                continue;
            }
            let metric = &metrics[&(dataset.clone(), task.clone())];
            out.push((
                format!(
                    "robustness_{}_{}_{}",
                    slug(dataset),
                    slug(task),
                    slug(&sweep.kind)
                ),
                Figure::Lines(vec![Panel {
                    title: format!(
                        "{task} ({dataset}): {metric} under {} (dashed: clean)",
                        sweep.kind
                    ),
                    x_label: sweep.parameter.clone(),
                    y_label: metric.clone(),
                    series,
                    integer_x: false,
                }]),
            ));
        }
    }
    out
}

/// Bar charts of the clean-audio metric per (dataset, task), a bar per (model, layer, probe)
/// with its confidence interval (one seed) or ± one standard deviation (several seeds).
pub fn bars(rows: &[MetricRow], metric: Option<&str>) -> Vec<(String, Figure)> {
    let (cells, metrics) = cells(rows, metric);
    cells
        .iter()
        .filter_map(|((dataset, task), stats)| {
            let layers: BTreeSet<i32> = stats.keys().map(|k| k.1).collect();
            let bars: Vec<Bar> = stats
                .iter()
                .filter(|((_, _, _, d), _)| d == CLEAN)
                .map(|((m, l, p, _), s)| Bar {
                    label: system(m, *l, p, &layers),
                    value: s.mean,
                    interval: interval(s),
                })
                .collect();
            let metric = &metrics[&(dataset.clone(), task.clone())];
            (!bars.is_empty()).then(|| {
                (
                    format!("bars_{}_{}", slug(dataset), slug(task)),
                    Figure::Bars {
                        title: format!("{task} ({dataset}): {metric}, clean audio"),
                        y_label: metric.clone(),
                        bars,
                    },
                )
            })
        })
        .collect()
}

/// Metric per layer, per (dataset, task), a line per (model, probe) of the models with
/// several layers.
pub fn per_layer(rows: &[MetricRow], metric: Option<&str>) -> Vec<(String, Figure)> {
    let (cells, metrics) = cells(rows, metric);
    let mut out = Vec::new();
    for ((dataset, task), stats) in &cells {
        let mut lines: BTreeMap<(&str, &str), Vec<Point>> = BTreeMap::new();
        for ((m, l, p, d), s) in stats {
            if d == CLEAN {
                lines.entry((m, p)).or_default().push(Point {
                    x: f64::from(*l),
                    y: s.mean,
                    interval: interval(s),
                });
            }
        }
        let series: Vec<Series> = lines
            .into_iter()
            .filter(|(_, points)| points.len() > 1)
            .enumerate()
            .map(|(i, ((m, p), points))| Series::line(format!("{m} {p}"), points, i))
            .collect();
        if series.is_empty() {
            continue;
        }
        let metric = &metrics[&(dataset.clone(), task.clone())];
        out.push((
            format!("layers_{}_{}", slug(dataset), slug(task)),
            Figure::Lines(vec![Panel {
                title: format!("{task} ({dataset}): {metric} per layer, clean audio"),
                x_label: "layer".into(),
                y_label: metric.clone(),
                series,
                integer_x: true,
            }]),
        ));
    }
    out
}

/// Data-efficiency curves: per (dataset, task), the clean-audio metric against the number of
/// training tracks, a line per (model, layer, probe) trained on several parts of the training
/// split (probes named by [`mir_table::probe_on_part`], sizes from their `train_tracks`
/// metric). Returned with a file stem each (`efficiency_<dataset>_<task>`).
pub fn data_efficiency(rows: &[MetricRow], metric: Option<&str>) -> Vec<(String, Figure)> {
    let (cells, metrics) = cells(rows, metric);
    let (sizes, _) = self::cells(rows, Some(mir_table::keys::TRAIN_TRACKS));
    let mut out = Vec::new();
    for ((dataset, task), stats) in &cells {
        let task_key = (dataset.clone(), task.clone());
        let mut lines: BTreeMap<(&str, i32, &str), Vec<Point>> = BTreeMap::new();
        for ((m, l, p, d), s) in stats {
            let Some((base, _)) = mir_table::probe_part(p) else {
                continue;
            };
            let size = sizes
                .get(&task_key)
                .and_then(|by| by.get(&(m.clone(), *l, p.clone(), d.clone())));
            if let (true, Some(size)) = (d == CLEAN, size) {
                lines.entry((m, *l, base)).or_default().push(Point {
                    x: size.mean,
                    y: s.mean,
                    interval: interval(s),
                });
            }
        }
        let layers: BTreeSet<i32> = lines.keys().map(|k| k.1).collect();
        let series: Vec<Series> = lines
            .into_iter()
            .filter(|(_, points)| points.len() > 1)
            .enumerate()
            .map(|(i, ((m, l, p), mut points))| {
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                Series::line(system(m, l, p, &layers), points, i)
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let metric = &metrics[&task_key];
        out.push((
            format!("efficiency_{}_{}", slug(dataset), slug(task)),
            Figure::Lines(vec![Panel {
                title: format!("{task} ({dataset}): {metric} against training tracks, clean audio"),
                x_label: "training tracks".into(),
                y_label: metric.clone(),
                series,
                integer_x: true,
            }]),
        ));
    }
    out
}

/// Predicted against true values of a regression run's test tracks on clean audio, one panel
/// per target: `targets` names them, `pairs[k]` holds target k's `(true, predicted)` values.
pub fn regression_scatter(run: &RunKey, targets: &[String], pairs: &[Vec<(f64, f64)>]) -> Figure {
    let panels = targets
        .iter()
        .zip(pairs)
        .map(|(name, points)| ScatterPanel {
            title: name.clone(),
            x_label: format!("true {name}"),
            y_label: format!("predicted {name}"),
            points: points.clone(),
        })
        .collect();
    Figure::Scatter {
        title: format!("{}: predicted against true, test tracks", run.label()),
        panels,
    }
}

/// Training curves of one probe run: training and validation loss per epoch, and the
/// validation metric per epoch.
pub fn training_curves(run: &RunKey, epochs: &[Epoch]) -> Figure {
    let points = |f: &dyn Fn(&Epoch) -> Option<f64>| -> Vec<Point> {
        epochs
            .iter()
            .filter_map(|e| {
                f(e).map(|y| Point {
                    x: f64::from(e.epoch),
                    y,
                    interval: None,
                })
            })
            .collect()
    };
    let mut loss = vec![Series::line(
        "training loss",
        points(&|e| Some(e.train_loss)),
        0,
    )];
    let validation = points(&|e| e.validation_loss);
    if !validation.is_empty() {
        loss.push(Series {
            dashed: true,
            ..Series::line("validation loss", validation, 1)
        });
    }
    let mut panels = vec![Panel {
        title: format!("{}: loss", run.label()),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: loss,
        integer_x: true,
    }];
    let metric = points(&|e| e.validation_metric);
    if !metric.is_empty() {
        panels.push(Panel {
            title: "validation metric".into(),
            x_label: "epoch".into(),
            y_label: "validation metric".into(),
            series: vec![Series::line("validation metric", metric, 2)],
            integer_x: true,
        });
    }
    Figure::Lines(panels)
}
