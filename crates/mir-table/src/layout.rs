//! The run directory's layout: every path under a run, relative to its root, from one place.
//!
//! ```text
//! config.resolved.yml
//! run.log
//! tracks/<dataset>/<task>.parquet
//! embeddings/<dataset>/<model>/<layer>/<condition>.parquet, failures.parquet
//! embeddings/<dataset>/<model>/parts/<hash>/shard-<k>-of-<n>/<chunk>.<layer>.parquet,
//!     <chunk>.failures.parquet, done.parquet
//! probes/<dataset>/<task>/<model>/<layer>/<probe>/seed-<s>/{predictions, training_log,
//!     metrics, confusion}.parquet, model.{json,bpk}
//! metrics.parquet, confusion.parquet, failures.parquet
//! audio/<dataset>/<deformation>/<track_id>.wav
//! shards/<stage>/shard-<k>-of-<n>.json
//! logs/<stage>-shard-<k>-of-<n>.jsonl
//! report/index.html, tables.md, summary.md, tables/<preset>.<ext>, plots/<stem>.<ext>,
//!     confusion/<page>.html, media/<dataset>/[<deformation>/]<track>_<hash>.png
//! ```
//!
//! The paths are the same for a local folder and an object-store prefix: a [`crate::TableStore`]
//! opened at the run's location joins them to it.

use std::collections::BTreeMap;

use crate::{RunKey, Shard, Stage};

/// Where each part of a run lives, relative to the run directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLayout;

impl RunLayout {
    /// The experiment config after defaults, with its hash.
    pub const CONFIG: &'static str = "config.resolved.yml";
    /// Tracing events as JSON lines.
    pub const RUN_LOG: &'static str = "run.log";
    /// The `metrics` table of every probe run.
    pub const METRICS: &'static str = "metrics.parquet";
    /// The `confusion` table of every probe run.
    pub const CONFUSION: &'static str = "confusion.parquet";
    /// The tracks left out of the run, and why.
    pub const FAILURES: &'static str = "failures.parquet";
    /// The paired comparisons of the systems scored on the same test tracks.
    pub const SIGNIFICANCE: &'static str = "significance.parquet";
    /// The pairs of tracks whose audio is the same or nearly so (split hygiene).
    pub const DUPLICATES: &'static str = "duplicates.parquet";
    /// How far each deformation moves each model layer's embeddings.
    pub const DRIFT: &'static str = "drift.parquet";
    /// The folder of the `tracks` tables.
    pub const TRACKS: &'static str = "tracks";

    /// Whether a file listed in a run directory is a table (Parquet).
    pub fn is_table(path: &str) -> bool {
        path.ends_with(".parquet")
    }

    /// The `tracks` table of one task.
    pub fn tracks(dataset: &str, task: &str) -> String {
        format!("{}/{dataset}/{task}.parquet", Self::TRACKS)
    }

    /// The embeddings of one model on one dataset.
    pub fn embeddings(dataset: &str, model: &str) -> EmbeddingsDir {
        EmbeddingsDir {
            dir: format!("embeddings/{dataset}/{model}"),
        }
    }

    /// One probe run's files: every identifier is in the path, so two datasets with a task of
    /// the same name (Beatport and GiantSteps `key`) keep their own results.
    pub fn probe(key: &RunKey) -> ProbeDir {
        let RunKey {
            dataset,
            task,
            model,
            layer,
            probe,
            seed,
        } = key;
        ProbeDir {
            dir: format!("probes/{dataset}/{task}/{model}/{layer}/{probe}/seed-{seed}"),
        }
    }

    /// A track's deformed audio, kept for listening (`keep_audio`).
    pub fn kept_audio(dataset: &str, deformation: &str, track_id: &str) -> String {
        format!("audio/{dataset}/{deformation}/{track_id}.wav")
    }

    /// The folder of the workers' done markers.
    pub const SHARDS: &'static str = "shards";
    /// The folder of the workers' logs.
    pub const LOGS: &'static str = "logs";

    /// The marker a worker writes once it has done `shard` of `stage` (JSON).
    pub fn shard_done(stage: Stage, shard: Shard) -> String {
        format!("{}/{stage}/{}.json", Self::SHARDS, shard.slug())
    }

    /// The folder of the done markers of `stage`.
    pub fn shards_of(stage: Stage) -> String {
        format!("{}/{stage}", Self::SHARDS)
    }

    /// The log (JSON lines) of the worker of `shard` of `stage`.
    pub fn worker_log(stage: Stage, shard: Shard) -> String {
        format!("{}/{stage}-{}.jsonl", Self::LOGS, shard.slug())
    }

    /// The stage and shard of a path under [`LOGS`](Self::LOGS) or [`SHARDS`](Self::SHARDS).
    pub fn worker_of(path: &str) -> Option<(Stage, Shard)> {
        let (stage, shard) = match path.split_once('/')? {
            (Self::LOGS, file) => file.strip_suffix(".jsonl")?.split_once('-')?,
            (Self::SHARDS, rest) => {
                let (stage, file) = rest.split_once('/')?;
                (stage, file.strip_suffix(".json")?)
            }
            _ => return None,
        };
        Some((stage.parse().ok()?, Shard::from_slug(shard)?))
    }

    /// The report's files.
    pub fn report() -> ReportDir {
        ReportDir
    }
}

/// `embeddings/<dataset>/<model>/`: one table per layer (by index, as in probe paths) and
/// condition, each with the layer's own width, the extraction's failures, and the parts an
/// unfinished extraction saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingsDir {
    dir: String,
}

impl EmbeddingsDir {
    /// The folder itself.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The `embeddings` table of one layer (its index among the model's selected layers) and
    /// one condition (`clean` or a deformation).
    pub fn table(&self, layer: i32, condition: &str) -> String {
        format!("{}/{layer}/{condition}.parquet", self.dir)
    }

    /// The extraction's own `failures` table, written last: it marks the extraction complete.
    pub fn failures(&self) -> String {
        format!("{}/failures.parquet", self.dir)
    }

    /// The folder of every saved part, removed once the extraction is complete.
    pub fn all_parts(&self) -> String {
        format!("{}/parts", self.dir)
    }

    /// The parts of the extraction with `input_hash` (its first 16 digits name the folder).
    pub fn parts(&self, input_hash: &str) -> PartsDir {
        let short = input_hash.get(..16).unwrap_or(input_hash);
        PartsDir {
            dir: format!("{}/{short}", self.all_parts()),
        }
    }
}

/// The saved parts of one extraction, shard by shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsDir {
    dir: String,
}

impl PartsDir {
    /// The folder itself.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The parts of one shard of the extraction's tracks.
    pub fn shard(&self, shard: Shard) -> ShardParts {
        ShardParts {
            dir: format!("{}/{}", self.dir, shard.slug()),
        }
    }

    /// The shards of the files `listed` under [`dir`](Self::dir), each with whether it is
    /// done (its [`ShardParts::done`] is among them).
    pub fn shards_in(&self, listed: &[String]) -> BTreeMap<Shard, bool> {
        let mut shards = BTreeMap::new();
        for path in listed {
            let Some(rest) = path
                .strip_prefix(&self.dir)
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let Some((slug, file)) = rest.split_once('/') else {
                continue;
            };
            if let Some(shard) = Shard::from_slug(slug) {
                *shards.entry(shard).or_insert(false) |= file == ShardParts::DONE;
            }
        }
        shards
    }
}

/// `parts/<hash>/shard-K-of-N/`: the chunks one worker saved, and its done marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardParts {
    dir: String,
}

impl ShardParts {
    const DONE: &'static str = "done.parquet";

    /// Chunk `index`'s `embeddings` table of `layer`.
    pub fn embeddings(&self, index: usize, layer: i32) -> String {
        format!("{}/{index}.{layer}.parquet", self.dir)
    }

    /// Chunk `index`'s `failures` table, written after its embeddings: it marks the chunk done.
    pub fn failures(&self, index: usize) -> String {
        format!("{}/{index}.failures.parquet", self.dir)
    }

    /// The shard's `failures` table (every chunk's), written after its last chunk: it marks
    /// the shard done.
    pub fn done(&self) -> String {
        format!("{}/{}", self.dir, Self::DONE)
    }
}

/// `probes/<dataset>/<task>/<model>/<layer>/<probe>/seed-<s>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeDir {
    dir: String,
}

impl ProbeDir {
    /// The folder itself.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The `predictions` table, written last of the training's files: it marks the job done.
    pub fn predictions(&self) -> String {
        format!("{}/predictions.parquet", self.dir)
    }

    /// The `training_log` table.
    pub fn training_log(&self) -> String {
        format!("{}/training_log.parquet", self.dir)
    }

    /// The run's own `metrics` table (cached beside its predictions).
    pub fn metrics(&self) -> String {
        format!("{}/metrics.parquet", self.dir)
    }

    /// The run's own `confusion` table.
    pub fn confusion(&self) -> String {
        format!("{}/confusion.parquet", self.dir)
    }

    /// The trained probe's architecture and standardisation (JSON).
    pub fn model_json(&self) -> String {
        format!("{}/model.json", self.dir)
    }

    /// The trained probe's weights (burnpack).
    pub fn model_weights(&self) -> String {
        format!("{}/model.bpk", self.dir)
    }
}

/// `report/`: what people look at. Its files are [`ReportFile`]s, which know their path in
/// the run and their link from the report's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDir;

impl ReportDir {
    /// The folder, relative to the run directory.
    pub const DIR: &'static str = "report";

    /// The folders a rebuild replaces (spectrograms under `media/` are kept and reused).
    pub fn rebuilt_folders(&self) -> [String; 3] {
        [
            format!("{}/tables", Self::DIR),
            format!("{}/plots", Self::DIR),
            self.pages_folder(),
        ]
    }

    /// `index.html`.
    pub fn index(&self) -> ReportFile {
        ReportFile::new("index.html".into())
    }

    /// `tables.md`: every preset's tables.
    pub fn tables_markdown(&self) -> ReportFile {
        ReportFile::new("tables.md".into())
    }

    /// `tables/inputs.txt`: the input hash of the report a run built, written last; in a
    /// rebuilt folder, so that any other rebuild drops it.
    pub fn inputs(&self) -> ReportFile {
        ReportFile::new("tables/inputs.txt".into())
    }

    /// `summary.md`: the long table of every metric.
    pub fn summary(&self) -> ReportFile {
        ReportFile::new("summary.md".into())
    }

    /// One preset's tables as `ext` (`md`, `csv`, `html`).
    pub fn table(&self, preset: &str, ext: &str) -> ReportFile {
        ReportFile::new(format!("tables/{preset}.{ext}"))
    }

    /// A figure as `ext` (`svg`, `png`).
    pub fn plot(&self, stem: &str, ext: &str) -> ReportFile {
        ReportFile::new(format!("plots/{stem}.{ext}"))
    }

    /// The folder of the per-run pages (confusion matrices, tagging pages), relative to the
    /// run directory (links from a page to other files start there).
    pub fn pages_folder(&self) -> String {
        format!("{}/{CONFUSION_PAGES}", Self::DIR)
    }

    /// A confusion-matrix page.
    pub fn confusion_page(&self, stem: &str) -> ReportFile {
        ReportFile::new(format!("{}/{stem}.html", CONFUSION_PAGES))
    }

    /// A tagging page (a multilabel run's), beside the confusion pages.
    pub fn tags_page(&self, stem: &str) -> ReportFile {
        ReportFile::new(format!("{}/tags_{stem}.html", CONFUSION_PAGES))
    }

    /// The folder of the spectrograms, relative to the run directory.
    pub fn media_folder(&self) -> String {
        format!("{}/{MEDIA}", Self::DIR)
    }

    /// A track's spectrogram, of its original audio or of a deformation of it; `hash` names
    /// the audio's version so a rebuild reuses what is unchanged. Names are [`slug`]ged.
    pub fn spectrogram(
        &self,
        dataset: &str,
        deformation: Option<&str>,
        track_id: &str,
        hash: &str,
    ) -> ReportFile {
        let folder = match deformation {
            Some(d) => format!("{MEDIA}/{}/{}", slug(dataset), slug(d)),
            None => format!("{MEDIA}/{}", slug(dataset)),
        };
        ReportFile::new(format!("{folder}/{}_{hash}.png", slug(track_id)))
    }
}

/// The folder of the confusion-matrix pages under `report/`.
const CONFUSION_PAGES: &str = "confusion";
/// The folder of the spectrograms under `report/`.
const MEDIA: &str = "media";

/// A file of the report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportFile {
    href: String,
}

impl ReportFile {
    fn new(href: String) -> Self {
        Self { href }
    }

    /// The link from `index.html` (relative to `report/`).
    pub fn href(&self) -> &str {
        &self.href
    }

    /// The path in the run directory.
    pub fn in_run(&self) -> String {
        format!("{}/{}", ReportDir::DIR, self.href)
    }

    /// The link from a page one folder down (`report/confusion/`).
    pub fn from_page(&self) -> String {
        format!("../{}", self.href)
    }
}

/// The link from a report page one folder down (`report/confusion/x.html`) to a file of the
/// run directory given by its run path (kept audio, tables).
pub fn run_file_from_page(run_path: &str) -> String {
    format!("../../{run_path}")
}

/// The link from `report/index.html` to a file of the run directory given by its run path.
pub fn run_file_from_index(run_path: &str) -> String {
    format!("../{run_path}")
}

/// A file-name-safe version of `s`: letters, digits, `-`, `_` and `.` kept, the rest `_`.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_every_identifier() {
        let key = RunKey {
            dataset: "beatport".into(),
            task: "key".into(),
            model: "logmel".into(),
            layer: 1,
            probe: "mlp".into(),
            seed: 3,
        };
        let probe = RunLayout::probe(&key);
        assert_eq!(
            probe.predictions(),
            "probes/beatport/key/logmel/1/mlp/seed-3/predictions.parquet"
        );
        assert_eq!(
            probe.model_weights(),
            "probes/beatport/key/logmel/1/mlp/seed-3/model.bpk"
        );
        let emb = RunLayout::embeddings("tinysol", "logmel");
        assert_eq!(
            emb.table(0, "clean"),
            "embeddings/tinysol/logmel/0/clean.parquet"
        );
        let parts = emb.parts("0123456789abcdef0123");
        let shard = Shard::new(1, 3).unwrap();
        assert_eq!(
            parts.shard(shard).failures(2),
            "embeddings/tinysol/logmel/parts/0123456789abcdef/shard-1-of-3/2.failures.parquet"
        );
        let listed = [
            parts.shard(shard).done(),
            parts.shard(Shard::WHOLE).embeddings(0, 1),
        ];
        let found: Vec<_> = parts.shards_in(&listed).into_iter().collect();
        assert_eq!(found, [(Shard::WHOLE, false), (shard, true)]);
        for stage in Stage::ALL {
            for path in [
                RunLayout::shard_done(*stage, shard),
                RunLayout::worker_log(*stage, shard),
            ] {
                assert_eq!(RunLayout::worker_of(&path), Some((*stage, shard)), "{path}");
            }
        }
        assert_eq!(
            RunLayout::worker_log(Stage::Train, shard),
            "logs/train-shard-1-of-3.jsonl"
        );
        assert_eq!(
            RunLayout::tracks("tinysol", "instrument"),
            "tracks/tinysol/instrument.parquet"
        );
    }

    #[test]
    fn report_files_link_from_index_and_pages() {
        let report = RunLayout::report();
        let png = report.spectrogram("tiny sol", Some("noise 10"), "Brass/Tp C4", "ab12");
        assert_eq!(png.href(), "media/tiny_sol/noise_10/Brass_Tp_C4_ab12.png");
        assert_eq!(
            png.in_run(),
            "report/media/tiny_sol/noise_10/Brass_Tp_C4_ab12.png"
        );
        assert!(png.in_run().starts_with(&report.media_folder()));
        assert_eq!(
            png.from_page(),
            "../media/tiny_sol/noise_10/Brass_Tp_C4_ab12.png"
        );
        let audio = RunLayout::kept_audio("d", "n", "t");
        assert_eq!(run_file_from_page(&audio), "../../audio/d/n/t.wav");
        assert_eq!(
            run_file_from_index(RunLayout::METRICS),
            "../metrics.parquet"
        );
    }
}
