//! The `report/` folder of a run, built from the run's tables alone: `metrics.parquet`, the
//! `predictions` and `training_log` of the probe runs it lists, `tracks/**.parquet`, and the
//! audio files the tracks name (for the players and spectrograms of the confusion pages).
//!
//! ```text
//! report/index.html          links everything: config, run log, tables, plots, pages
//! report/tables.md           every preset's tables (also printed by `experiment`)
//! report/tables/<preset>.{md,csv,html}
//! report/plots/<name>.{svg,png}
//! report/confusion/<dataset>_<task>_<model>_L<layer>_<probe>.html
//! report/media/<dataset>/[<deformation>/]<track>_<hash>.png   spectrograms
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use mir_report::confusion::TrackMedia;
use mir_report::page::{Index, PageLink, PlotLink};
use mir_report::pivot::pivot;
use mir_report::plot::{self, Figure};
use mir_report::{RunKey, Slug};
use mir_table::Preset;
use mir_table::layout::{ReportFile, run_file_from_index};
use mir_table::{
    DriftRow, DuplicateRow, Epoch, Metadata, MetricRow, Prediction, RunLayout, SignificanceRow,
    Split, TableKind, TableStore, TaskType, Track, keys, read_failures, read_predictions,
    read_tracks, read_training_log,
};
use serde_json::Value;
use tracing::{info, warn};

use crate::config::ReportConfig;
use crate::media::MediaMaker;

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// Table presets, in order.
    pub presets: Vec<Preset>,
    /// Metric replacing each task's primary one where the task has it.
    pub metric: Option<String>,
    /// Tracks per dataset with spectrograms.
    pub spectrogram_tracks: usize,
}

impl Options {
    /// The options of a config's `report:` section.
    pub fn from_config(c: &ReportConfig) -> Result<Self> {
        Ok(Self {
            presets: c
                .tables
                .iter()
                .map(|p| p.parse::<Preset>())
                .collect::<Result<_, _>>()?,
            metric: c.metric.clone(),
            spectrogram_tracks: c.spectrogram_tracks,
        })
    }
}

/// What [`build`] made.
pub struct Built {
    /// Every preset's tables as Markdown.
    pub markdown: String,
    /// Plots drawn (each as SVG and PNG).
    pub plots: usize,
    /// Confusion-matrix pages.
    pub pages: usize,
    /// Spectrograms rendered now (not reused).
    pub spectrograms: usize,
}

/// The experiment's name and report settings, from the config a finished run in `run_dir`
/// ran with (`config.resolved.yml`); the folder's name and the defaults when it is not there.
pub fn run_settings(run_dir: &Path) -> Result<(String, ReportConfig)> {
    let resolved = run_dir.join(RunLayout::CONFIG);
    let folder_name = || {
        run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let Ok(text) = std::fs::read_to_string(&resolved) else {
        return Ok((folder_name(), ReportConfig::default()));
    };
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("reading {}", resolved.display()))?;
    let settings = match value.get("report") {
        Some(r) => serde_yaml::from_value(r.clone())
            .with_context(|| format!("key `report` of {}", resolved.display()))?,
        None => ReportConfig::default(),
    };
    let name = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned);
    Ok((name.unwrap_or_else(folder_name), settings))
}

/// One probe run's predictions, with what its metadata says.
struct ProbeRun {
    id: RunKey,
    vocabulary: Vec<String>,
    task_type: TaskType,
    predictions: Vec<Prediction>,
}

/// Builds `report/` in `store` from its tables. `name` is the experiment's name.
pub async fn build(store: &TableStore, name: &str, options: &Options) -> Result<Built> {
    let (metrics, deformations) = read_metrics(store).await?;
    let metric = options.metric.as_deref();
    // A rebuild replaces what an earlier report wrote (spectrograms are kept: they are named
    // by their audio's hash and reused).
    for folder in RunLayout::report().rebuilt_folders() {
        store.delete_prefix(&folder).await?;
    }
    let mut out = Writer { store, written: 0 };
    let mut index = Index {
        name: name.to_owned(),
        ..Index::default()
    };
    let significance = optional(
        store,
        (RunLayout::SIGNIFICANCE, TableKind::Significance),
        mir_table::read_significance,
    );
    let significance = significance.await?;
    let duplicates = optional(
        store,
        (RunLayout::DUPLICATES, TableKind::Duplicates),
        mir_table::read_duplicates,
    )
    .await?;
    let drift = optional(
        store,
        (RunLayout::DRIFT, TableKind::Drift),
        mir_table::read_drift,
    )
    .await?;
    let rows = (&metrics[..], &significance[..], &duplicates[..], &drift[..]);
    let markdown = write_tables(&mut out, &mut index, name, rows, options).await?;
    let (runs, logs) = read_runs(store, &metrics).await?;
    let tracks = read_tracks_tables(store).await?;
    let mut sections = figures(&metrics, &deformations, metric, &logs);
    sections.push((
        "Regression: predicted against true",
        scatters(&runs, &tracks),
    ));
    let chosen = spectrogram_tracks(&runs, &tracks, options.spectrogram_tracks);
    let mut media = MediaMaker::new(store, chosen).await?;
    let planned = plan_pages(&runs, &tracks, &deformations, &mut media);
    let jobs = media.take_jobs();
    let (drawn, pngs) = draw(&sections, &jobs)?;
    let failed = media.write(&jobs, pngs).await?;
    let plots = write_plots(&mut out, &mut index, sections, drawn).await?;
    let pages = write_pages(&mut out, &mut index, planned, &failed).await?;
    link_run_files(store, &mut index).await?;
    out.put(&RunLayout::report().index(), index.html().into_bytes())
        .await?;
    info!(
        files = out.written,
        plots,
        pages,
        spectrograms = media.rendered,
        "report written"
    );
    Ok(Built {
        markdown,
        plots,
        pages,
        spectrograms: media.rendered,
    })
}

/// Writes the report's files, counting them.
struct Writer<'a> {
    store: &'a TableStore,
    written: usize,
}

impl Writer<'_> {
    async fn put(&mut self, file: &ReportFile, bytes: Vec<u8>) -> Result<()> {
        self.written += 1;
        self.store.put(&file.in_run(), bytes.into()).await?;
        Ok(())
    }
}

/// The run's metric rows, and the deformation scenarios its metadata carries.
async fn read_metrics(store: &TableStore) -> Result<(Vec<MetricRow>, BTreeMap<String, Value>)> {
    let table = store
        .read(RunLayout::METRICS, TableKind::Metrics)
        .await
        .with_context(|| {
            format!(
                "no metrics table to report on at {}: run `mir-ref experiment` first",
                store.display(RunLayout::METRICS)
            )
        })?;
    let metrics = mir_table::read_metrics(&table)?;
    let deformations = match Metadata::of(&table.schema).0.get(keys::DEFORMATIONS) {
        Some(json) => serde_json::from_str(json).with_context(|| {
            format!(
                "{}: metadata `{}` is not a JSON object",
                store.display(RunLayout::METRICS),
                keys::DEFORMATIONS
            )
        })?,
        None => BTreeMap::new(),
    };
    Ok((metrics, deformations))
}

/// The rows of the table at `rel`, none when the run has none (it predates the table, or
/// its config did not ask for it).
async fn optional<T>(
    store: &TableStore,
    (rel, kind): (&str, TableKind),
    read: fn(&mir_table::Table) -> mir_table::Result<Vec<T>>,
) -> Result<Vec<T>> {
    if !store.exists(rel).await? {
        return Ok(vec![]);
    }
    let table = store
        .read(rel, kind)
        .await
        .with_context(|| store.display(rel))?;
    Ok(read(&table)?)
}

/// The tables' rows the report's tables are made from.
type Rows<'a> = (
    &'a [MetricRow],
    &'a [SignificanceRow],
    &'a [DuplicateRow],
    &'a [DriftRow],
);

/// Every preset's tables (from the metrics rows, the significance preset from the
/// significance rows) as Markdown, CSV and HTML; returns them all as Markdown.
async fn write_tables(
    out: &mut Writer<'_>,
    index: &mut Index,
    name: &str,
    (metrics, significance, duplicates, drift): Rows<'_>,
    options: &Options,
) -> Result<String> {
    let report = RunLayout::report();
    let mut markdown = String::new();
    for preset in &options.presets {
        let mut tables = match preset {
            Preset::Significance => mir_report::significance::tables(significance),
            Preset::Duplicates => mir_report::duplicates::tables(duplicates),
            _ => pivot(metrics, *preset, options.metric.as_deref()),
        };
        mir_report::significance::mark_unproven(&mut tables, significance);
        mir_report::significance::add_drift(&mut tables, drift);
        if tables.is_empty() {
            continue;
        }
        let md = mir_report::pivot::tables_markdown(&tables);
        let file = |ext| report.table(preset.name(), ext);
        let csv = mir_report::pivot::tables_csv(&tables)?;
        let html = mir_report::page::tables_page(name, &tables);
        for (ext, text) in [("md", md.clone()), ("csv", csv), ("html", html)] {
            out.put(&file(ext), text.into_bytes()).await?;
            let label = format!("{} ({ext})", preset.name());
            index.table_files.push((label, file(ext).href().to_owned()));
        }
        markdown.push_str(&md);
        markdown.push('\n');
        index.tables.extend(tables);
    }
    out.put(&report.tables_markdown(), markdown.clone().into_bytes())
        .await?;
    Ok(markdown)
}

/// The probe runs the metrics table reports on (a run directory may hold others, left by
/// earlier configs), and their training logs.
async fn read_runs(
    store: &TableStore,
    metrics: &[MetricRow],
) -> Result<(Vec<ProbeRun>, Vec<(RunKey, Vec<Epoch>)>)> {
    let ids: BTreeSet<RunKey> = metrics
        .iter()
        .map(|r| RunKey {
            dataset: r.dataset.clone(),
            task: r.task.clone(),
            model: r.model.clone(),
            layer: r.layer,
            probe: r.probe.clone(),
            seed: r.seed,
        })
        .collect();
    let (mut runs, mut logs) = (Vec::new(), Vec::new());
    for id in &ids {
        let dir = RunLayout::probe(id);
        let file = dir.predictions();
        let t = store.read(&file, TableKind::Predictions).await?;
        let meta = Metadata::of(&t.schema);
        let k = TableKind::Predictions;
        runs.push(ProbeRun {
            id: RunKey::from_metadata(&meta, k).with_context(|| store.display(&file))?,
            vocabulary: meta.label_vocabulary(k)?,
            task_type: TaskType::parse(k, meta.get(k, keys::TASK_TYPE)?)?,
            predictions: read_predictions(&t)?,
        });
        let file = dir.training_log();
        if store.exists(&file).await? {
            let t = store.read(&file, TableKind::TrainingLog).await?;
            logs.push((id.clone(), read_training_log(&t)?));
        }
    }
    Ok((runs, logs))
}

/// The figures of each section of the index, by file stem.
fn figures(
    metrics: &[MetricRow],
    deformations: &BTreeMap<String, Value>,
    metric: Option<&str>,
    logs: &[(RunKey, Vec<Epoch>)],
) -> Vec<(&'static str, Vec<(String, Figure)>)> {
    // A knn or centroid probe trains nothing: no epochs, no curve.
    let training: Vec<(String, Figure)> = (logs.iter())
        .filter(|(_, epochs)| !epochs.is_empty())
        .map(|(id, epochs)| {
            let stem = format!("training_{}", id.slug());
            (stem, plot::training_curves(id, epochs))
        })
        .collect();
    vec![
        (
            "Robustness: metric against the deformation's parameter",
            plot::robustness(metrics, deformations, metric),
        ),
        ("Clean audio", plot::bars(metrics, metric)),
        ("Per layer", plot::per_layer(metrics, metric)),
        (
            "Data efficiency: metric against training tracks",
            plot::data_efficiency(metrics, metric),
        ),
        ("Training curves", training),
    ]
}

/// A scatter of predicted against true values per regression run, test tracks on clean audio;
/// a target is named as the task's vocabulary names it, else by its task when there is one,
/// else `task[k]`.
fn scatters(
    runs: &[ProbeRun],
    tracks: &BTreeMap<(String, String), Vec<Track>>,
) -> Vec<(String, Figure)> {
    let mut out = Vec::new();
    for run in runs.iter().filter(|r| r.task_type == TaskType::Regression) {
        let Some(tracks) = tracks.get(&(run.id.dataset.clone(), run.id.task.clone())) else {
            continue;
        };
        let truth: BTreeMap<&str, &Vec<f32>> = (tracks.iter())
            .filter_map(|t| Some((t.track_id.as_str(), t.targets.as_ref()?)))
            .collect();
        let width = truth.values().next().map_or(0, |t| t.len());
        let mut pairs = vec![Vec::new(); width];
        let test = run
            .predictions
            .iter()
            .filter(|p| p.split == Split::Test && p.deformation == mir_table::CLEAN);
        for p in test {
            let Some(t) = truth.get(p.track_id.as_str()) else {
                continue;
            };
            for (k, (y, yhat)) in t.iter().zip(&p.scores).enumerate().take(width) {
                pairs[k].push((f64::from(*y), f64::from(*yhat)));
            }
        }
        let names: Vec<String> = match width {
            _ if run.vocabulary.len() == width => run.vocabulary.clone(),
            1 => vec![run.id.task.clone()],
            _ => (0..width)
                .map(|k| format!("{}[{k}]", run.id.task))
                .collect(),
        };
        let stem = format!("regression_{}", run.id.slug());
        out.push((stem, plot::regression_scatter(&run.id, &names, &pairs)));
    }
    out
}

/// A figure's SVG text and PNG image.
type Drawn = (String, Vec<u8>);

/// A spectrogram's PNG image, or why its audio could not be read.
type Spectrogram = Result<Vec<u8>>;

/// Every figure of `sections` ([`Figure::svg`] and [`Figure::png`]) and the spectrogram of
/// every audio file of `jobs`, on every core at once: the figures, the longest items, go
/// first, and the spectrograms fill the cores after them. A spectrogram that fails is
/// returned as its error; a figure that fails ends the report.
fn draw(
    sections: &[(&'static str, Vec<(String, Figure)>)],
    jobs: &[(ReportFile, std::path::PathBuf)],
) -> Result<(Vec<Drawn>, Vec<Spectrogram>)> {
    enum Item<'a> {
        Figure(&'a Figure),
        Spectrogram(&'a Path),
    }
    enum Made {
        Figure(Drawn),
        Spectrogram(Spectrogram),
    }
    let figures = sections
        .iter()
        .flat_map(|(_, f)| f)
        .map(|(_, f)| Item::Figure(f));
    let spectrograms = jobs.iter().map(|(_, audio)| Item::Spectrogram(audio));
    let items: Vec<Item> = figures.chain(spectrograms).collect();
    let renderer = crate::media::renderer()?;
    let made = crate::work::map(&items, crate::work::cores(), |item| match item {
        Item::Figure(f) => Ok::<_, anyhow::Error>(Made::Figure((f.svg()?, f.png()?))),
        Item::Spectrogram(audio) => Ok(Made::Spectrogram(crate::media::render(&renderer, audio))),
    });
    let (mut drawn, mut pngs) = (Vec::new(), Vec::new());
    for made in made {
        match made.context("not drawn")?? {
            Made::Figure(d) => drawn.push(d),
            Made::Spectrogram(png) => pngs.push(png),
        }
    }
    Ok((drawn, pngs))
}

/// The `drawn` figures of `sections` as SVG and PNG files, linked from the index; returns
/// how many.
async fn write_plots(
    out: &mut Writer<'_>,
    index: &mut Index,
    sections: Vec<(&'static str, Vec<(String, Figure)>)>,
    drawn: Vec<Drawn>,
) -> Result<usize> {
    let report = RunLayout::report();
    let mut drawn = drawn.into_iter();
    let mut plots = 0;
    for (title, figures) in sections {
        let mut links = Vec::new();
        for (stem, figure) in figures {
            let (svg_text, png_bytes) = drawn.next().context("a figure was not drawn")?;
            let (svg, png) = (report.plot(&stem, "svg"), report.plot(&stem, "png"));
            out.put(&svg, svg_text.into_bytes()).await?;
            out.put(&png, png_bytes).await?;
            links.push(PlotLink {
                title: figure_title(&figure),
                svg: svg.href().to_owned(),
                png: png.href().to_owned(),
            });
            plots += 1;
        }
        if !links.is_empty() {
            index.plots.push((title.to_owned(), links));
        }
    }
    Ok(plots)
}

/// Every `tracks` table of the run, by (dataset, task).
async fn read_tracks_tables(store: &TableStore) -> Result<BTreeMap<(String, String), Vec<Track>>> {
    let mut tracks = BTreeMap::new();
    for file in store.list(RunLayout::TRACKS).await? {
        if !RunLayout::is_table(&file) {
            continue;
        }
        let t = store.read(&file, TableKind::Tracks).await?;
        let meta = Metadata::of(&t.schema);
        let k = TableKind::Tracks;
        let key = (
            meta.get(k, keys::DATASET)?.to_owned(),
            meta.get(k, keys::TASK)?.to_owned(),
        );
        tracks.insert(key, read_tracks(&t)?);
    }
    Ok(tracks)
}

/// A page planned: its runs (every seed), its task's tracks and their media.
type Planned<'r, 't> = (
    RunKey,
    Vec<&'r ProbeRun>,
    &'t [Track],
    BTreeMap<String, TrackMedia>,
);

/// A confusion-matrix page per (dataset, task, model, layer, probe) of a single-label task,
/// every seed on it, or a tagging page (its first seed) for a multilabel task, with the
/// media of its test tracks (spectrograms queued in `media`).
fn plan_pages<'r, 't>(
    runs: &'r [ProbeRun],
    tracks: &'t BTreeMap<(String, String), Vec<Track>>,
    deformations: &BTreeMap<String, Value>,
    media: &mut MediaMaker<'_>,
) -> Vec<Planned<'r, 't>> {
    let mut groups: BTreeMap<RunKey, Vec<&ProbeRun>> = BTreeMap::new();
    for run in runs.iter().filter(|r| paged(r.task_type)) {
        let key = RunKey {
            seed: 0,
            ..run.id.clone()
        };
        groups.entry(key).or_default().push(run);
    }
    let mut planned = Vec::new();
    for (key, group) in groups {
        let Some(task_tracks) = tracks.get(&(key.dataset.clone(), key.task.clone())) else {
            warn!(
                dataset = key.dataset,
                task = key.task,
                "no tracks table: no confusion page"
            );
            continue;
        };
        let track_media = (task_tracks.iter())
            .filter(|t| t.split == Split::Test)
            .map(|t| (t.track_id.clone(), media.of(&key.dataset, t, deformations)))
            .collect();
        planned.push((key, group, &task_tracks[..], track_media));
    }
    planned
}

/// Whether a task's runs get a page (a confusion matrix or a tagging page).
fn paged(task_type: TaskType) -> bool {
    matches!(task_type, TaskType::Multiclass | TaskType::Multilabel)
}

/// The test tracks of each dataset that get spectrograms: the first `limit` of its
/// [`spectrogram_order`].
fn spectrogram_tracks(
    runs: &[ProbeRun],
    tracks: &BTreeMap<(String, String), Vec<Track>>,
    limit: usize,
) -> BTreeMap<String, BTreeSet<String>> {
    (spectrogram_order(runs, tracks).into_iter())
        .map(|(dataset, ids)| {
            let ids = ids.into_iter().take(limit).map(str::to_owned).collect();
            (dataset.to_owned(), ids)
        })
        .collect()
}

/// The test tracks of each dataset's paged tasks, once each, in the order they get
/// spectrograms: first those that a model's run (not a chance baseline's: its errors say
/// nothing of the audio) got wrong under some condition, then the others, each part in
/// table order, task by task, so the tracks a researcher opens first have them. Wrong is a
/// top class other than the label, or for tags, a tag on the wrong side of
/// [`mir_report::tags::THRESHOLD`].
fn spectrogram_order<'t>(
    runs: &[ProbeRun],
    tracks: &'t BTreeMap<(String, String), Vec<Track>>,
) -> BTreeMap<&'t str, Vec<&'t str>> {
    // Per task: its test tracks in table order, by id, and those a model's run got wrong.
    type Missed<'t> = (
        Vec<&'t Track>,
        BTreeMap<&'t str, &'t Track>,
        BTreeSet<&'t str>,
    );
    let mut missed: BTreeMap<&(String, String), Missed> = BTreeMap::new();
    for run in runs.iter().filter(|r| paged(r.task_type)) {
        let task = (run.id.dataset.clone(), run.id.task.clone());
        let Some((task, task_tracks)) = tracks.get_key_value(&task) else {
            continue;
        };
        let (_, test, wrong) = missed.entry(task).or_insert_with(|| {
            let test: Vec<&Track> = (task_tracks.iter())
                .filter(|t| t.split == Split::Test)
                .collect();
            let by_id = test.iter().map(|t| (t.track_id.as_str(), *t)).collect();
            (test, by_id, BTreeSet::new())
        });
        if run.id.model != mir_table::CHANCE {
            wrong.extend(missed_by(run, test));
        }
    }
    let mut parts: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for ((dataset, _), (test, _, wrong)) in missed {
        let (first, rest) = parts.entry(dataset).or_default();
        for id in test.iter().map(|t| t.track_id.as_str()) {
            match wrong.contains(id) {
                true => first.push(id),
                false => rest.push(id),
            }
        }
    }
    (parts.into_iter())
        .map(|(dataset, (first, rest))| {
            let mut seen = BTreeSet::new();
            let ids = (first.into_iter().chain(rest)).filter(|id| seen.insert(*id));
            (dataset, ids.collect())
        })
        .collect()
}

/// The tracks of `test` (a task's test tracks by id) that `run` got wrong under some
/// condition.
fn missed_by<'t>(run: &ProbeRun, test: &BTreeMap<&str, &'t Track>) -> Vec<&'t str> {
    let wrong = |track: &Track, scores: &[f32]| {
        let has = |class: &String| track.labels.contains(class);
        match run.task_type {
            TaskType::Multilabel => (run.vocabulary.iter().zip(scores))
                .any(|(tag, &s)| (s >= mir_report::tags::THRESHOLD) != has(tag)),
            _ => mir_report::confusion::argmax(scores)
                .and_then(|c| run.vocabulary.get(c))
                .is_some_and(|top| !has(top)),
        }
    };
    (run.predictions.iter())
        .filter(|p| p.split == Split::Test)
        .filter_map(|p| {
            test.get(p.track_id.as_str())
                .filter(|t| wrong(t, &p.scores))
        })
        .map(|t| t.track_id.as_str())
        .collect()
}

/// The `planned` pages, without the spectrograms that `failed`; returns how many.
async fn write_pages(
    out: &mut Writer<'_>,
    index: &mut Index,
    planned: Vec<Planned<'_, '_>>,
    failed: &BTreeSet<String>,
) -> Result<usize> {
    let pages = planned.len();
    for (id, group, task_tracks, mut track_media) in planned {
        drop_failed_spectrograms(&mut track_media, failed);
        let page = write_page(out, &id, &group, task_tracks, &track_media).await?;
        index.pages.push(page);
    }
    Ok(pages)
}

/// Leaves out of the pages the spectrograms that could not be rendered.
fn drop_failed_spectrograms(media: &mut BTreeMap<String, TrackMedia>, failed: &BTreeSet<String>) {
    let renditions = media
        .values_mut()
        .flat_map(|m| std::iter::once(&mut m.original).chain(m.deformed.values_mut()));
    for rendition in renditions {
        if rendition
            .spectrogram
            .as_ref()
            .is_some_and(|h| failed.contains(h))
        {
            rendition.spectrogram = None;
        }
    }
}

/// One confusion page; returns its link for the index.
async fn write_page(
    out: &mut Writer<'_>,
    id: &RunKey,
    group: &[&ProbeRun],
    tracks: &[Track],
    media: &BTreeMap<String, TrackMedia>,
) -> Result<PageLink> {
    let predictions: Vec<(i64, Vec<Prediction>)> = group
        .iter()
        .map(|r| (r.id.seed, r.predictions.clone()))
        .collect();
    let (html, page) = match group[0].task_type {
        // The first seed's: a tagging page shows one run.
        TaskType::Multilabel => (
            mir_report::tags::page(
                &group[0].id,
                &group[0].vocabulary,
                tracks,
                &predictions[0].1,
                media,
            )
            .with_context(|| format!("tagging page of {}", group[0].id.label()))?,
            RunLayout::report().tags_page(&id.slug_without_seed()),
        ),
        _ => (
            mir_report::confusion::page(id, &group[0].vocabulary, tracks, &predictions, media)
                .with_context(|| format!("confusion page of {}", id.label()))?,
            RunLayout::report().confusion_page(&id.slug_without_seed()),
        ),
    };
    out.put(&page, html.into_bytes()).await?;
    let mut conditions: BTreeSet<&str> = BTreeSet::new();
    for r in group {
        conditions.extend(r.predictions.iter().map(|p| p.deformation.as_str()));
    }
    let mut conditions: Vec<String> = conditions.into_iter().map(str::to_owned).collect();
    conditions.sort_by_key(|d| (d != mir_table::CLEAN, d.clone()));
    Ok(PageLink {
        label: format!(
            "{} ({}): {} layer {}, {}",
            id.task, id.dataset, id.model, id.layer, id.probe
        ),
        href: page.href().to_owned(),
        deformations: conditions,
    })
}

/// Links from the index to the run's own files that are there, and a note on failed tracks.
async fn link_run_files(store: &TableStore, index: &mut Index) -> Result<()> {
    let summary = RunLayout::report().summary().in_run();
    for (label, rel) in [
        ("experiment config", RunLayout::CONFIG),
        ("run log (JSON lines)", RunLayout::RUN_LOG),
        ("metrics table", RunLayout::METRICS),
        ("confusion table", RunLayout::CONFUSION),
        ("failed tracks", RunLayout::FAILURES),
        ("all metrics (Markdown)", summary.as_str()),
    ] {
        if store.exists(rel).await? {
            index
                .files
                .push((label.to_owned(), run_file_from_index(rel)));
        }
    }
    if !store.exists(RunLayout::FAILURES).await? {
        return Ok(());
    }
    let failures = read_failures(&store.read(RunLayout::FAILURES, TableKind::Failures).await?)?;
    let skipped: BTreeSet<(&str, &str)> = failures
        .iter()
        .map(|f| (f.dataset.as_str(), f.track_id.as_str()))
        .collect();
    if !skipped.is_empty() {
        index.notes.push(format!(
            "{} track(s) could not be processed and were left out: see {}.",
            skipped.len(),
            RunLayout::FAILURES
        ));
    }
    Ok(())
}

fn figure_title(figure: &Figure) -> String {
    match figure {
        Figure::Lines(panels) => panels.first().map(|p| p.title.clone()).unwrap_or_default(),
        Figure::Bars { title, .. } => title.clone(),
        Figure::Scatter { title, .. } => title.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: &str, labels: &[&str]) -> Track {
        Track {
            track_id: id.into(),
            audio_uri: format!("{id}.wav"),
            split: Split::Test,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            targets: None,
            duration_s: 1.0,
            fold: None,
        }
    }

    fn scored(id: &str, deformation: &str, scores: &[f32]) -> Prediction {
        Prediction {
            track_id: id.into(),
            split: Split::Test,
            deformation: deformation.into(),
            scores: scores.to_vec(),
        }
    }

    fn run(task: &str, model: &str, task_type: TaskType, predictions: &[Prediction]) -> ProbeRun {
        ProbeRun {
            id: RunKey {
                dataset: "d".into(),
                task: task.into(),
                model: model.into(),
                layer: 0,
                probe: "linear".into(),
                seed: 0,
            },
            vocabulary: vec!["a".into(), "b".into()],
            task_type,
            predictions: predictions.to_vec(),
        }
    }

    #[test]
    fn tracks_a_model_got_wrong_get_spectrograms_first_in_table_order() {
        let mut tracks = vec![
            track("t0", &["a"]),
            track("t1", &["a"]),
            track("t2", &["b"]),
        ];
        tracks.push(Track {
            split: Split::Train,
            ..track("t3", &["a"])
        });
        tracks.push(track("t4", &["b"]));
        // t2 is wrong under noise only, t4 by the second run only, t1 by the chance baseline
        // only; t3 is not a test track.
        let first = [
            scored("t0", "clean", &[0.9, 0.1]),
            scored("t2", "clean", &[0.2, 0.8]),
            scored("t2", "noise", &[0.7, 0.3]),
            scored("t3", "clean", &[0.1, 0.9]),
        ];
        let second = [scored("t4", "clean", &[0.6, 0.4])];
        let chance = [scored("t1", "clean", &[0.4, 0.6])];
        // Tags of another task of the same dataset: a tag scored on the wrong side of the
        // threshold, present or absent; its tracks t0 and t4 are listed once.
        let tags = vec![
            track("s0", &["a"]),
            track("s1", &["a", "b"]),
            track("s2", &[]),
            track("t0", &["a"]),
            track("t4", &["b"]),
        ];
        let tagged = [
            scored("s0", "clean", &[0.9, 0.1]),
            scored("s1", "clean", &[0.9, 0.2]),
            scored("s2", "clean", &[0.1, 0.6]),
        ];
        let (class, tag) = (TaskType::Multiclass, TaskType::Multilabel);
        let runs = [
            run("class", "m", class, &first),
            run("class", "n", class, &second),
            run("class", mir_table::CHANCE, class, &chance),
            run("tags", "m", tag, &tagged),
        ];
        let tables = BTreeMap::from([
            (("d".to_string(), "class".to_string()), tracks),
            (("d".to_string(), "tags".to_string()), tags),
        ]);
        let order = spectrogram_order(&runs, &tables);
        let errors = ["t2", "t4", "s1", "s2"];
        let rest = ["t0", "t1", "s0"];
        let all: Vec<&str> = errors.iter().chain(&rest).copied().collect();
        assert_eq!(order, BTreeMap::from([("d", all)]));
        let chosen = spectrogram_tracks(&runs, &tables, 3);
        assert_eq!(
            chosen["d"],
            BTreeSet::from(["t2", "t4", "s1"].map(String::from))
        );
    }
}
