//! The experiment config: YAML through figment, `MIR_` environment overrides, name checks.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use figment::Figment;
use figment::providers::{Env, Format, Yaml};
use mir_datasets::DatasetConfig;
use mir_deform::Scenario;
use mir_embed::ModelConfig;
use mir_probe::ProbeConfig;
use serde::{Deserialize, Serialize};

/// A whole experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Experiment name; the run directory defaults to `runs/<name>`.
    pub name: String,
    /// Seed of splits and deformations.
    #[serde(default)]
    pub seed: u64,
    /// Run directory (a path relative to the config, a `file://` or `memory://` URL); default
    /// `runs/<name>` of the current folder.
    #[serde(default)]
    pub output: Option<String>,
    /// Datasets by name.
    pub datasets: BTreeMap<String, DatasetConfig>,
    /// Deformation scenarios by name, applied to test audio (and to training audio of the
    /// probes that name them in `augment`).
    #[serde(default)]
    pub deformations: BTreeMap<String, Scenario>,
    /// Write the deformed audio under `audio/` of the run directory, for listening and for
    /// the report's players (default false: audio is deformed in memory only).
    #[serde(default)]
    pub keep_audio: bool,
    /// Stop at the first track that cannot be decoded, deformed or embedded (naming its file),
    /// instead of recording it in `failures.parquet` and going on (default false).
    #[serde(default)]
    pub fail_fast: bool,
    /// Tracks per saved chunk of an extraction: a run cut off mid-extraction resumes at the
    /// chunk it was in (default 128).
    #[serde(default = "default_checkpoint_tracks")]
    pub checkpoint_tracks: usize,
    /// Tracks longer than this (seconds, from the file header) that no deformation applies to
    /// are decoded and embedded block by block, in memory that does not grow with their length
    /// (default 120).
    #[serde(default = "default_stream_s")]
    pub stream_tracks_longer_than_s: f64,
    /// Embedding models by name.
    pub models: BTreeMap<String, ModelConfig>,
    /// Probes by name.
    pub probes: BTreeMap<String, ProbeConfig>,
    /// Probe seeds; each probe trains once per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Which combinations to run; every list defaults to everything defined.
    #[serde(default)]
    pub grid: Grid,
    /// Metric settings (bootstrap intervals, multilabel threshold).
    #[serde(default)]
    pub evaluation: mir_eval::EvalConfig,
    /// What the report shows.
    #[serde(default)]
    pub report: ReportConfig,
    /// Split hygiene: look for exact and near-duplicate tracks within and across splits
    /// (`hygiene: {near_cosine: 0.99, max_s: 30}`; off when absent).
    #[serde(default)]
    pub hygiene: Option<crate::pipeline::hygiene::HygieneConfig>,
    /// Each model's layer names, learnt when [`load`] builds the models.
    #[serde(skip)]
    pub model_layers: BTreeMap<String, Vec<String>>,
}

/// The report's settings (`report:` in a config).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Table presets, in order: `overview`, `robustness`, `probes`, `layers`, `regression`, `tags`, `significance`, `duplicates` (default all).
    #[serde(default = "default_presets")]
    pub tables: Vec<String>,
    /// The metric of the tables and plots, where a task has it (default: each task's
    /// primary metric: MIREX score for keys, accuracy, ROC-AUC for tags, R² for regression).
    #[serde(default)]
    pub metric: Option<String>,
    /// Tracks per dataset whose spectrograms the confusion pages show (default 500; 0: none),
    /// the tracks some run got wrong first.
    #[serde(default = "default_media_tracks")]
    pub spectrogram_tracks: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            tables: default_presets(),
            metric: None,
            spectrogram_tracks: default_media_tracks(),
        }
    }
}

fn default_presets() -> Vec<String> {
    mir_table::Preset::ALL
        .iter()
        .map(|p| p.name().to_owned())
        .collect()
}

fn default_media_tracks() -> usize {
    500
}

fn default_stream_s() -> f64 {
    120.0
}

fn default_checkpoint_tracks() -> usize {
    128
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// The combinations to run, by name. `tasks` are written `dataset/task`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Tasks as `dataset/task`.
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
    /// Deformation scenarios.
    #[serde(default)]
    pub deformations: Option<Vec<String>>,
    /// Models.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Probes.
    #[serde(default)]
    pub probes: Option<Vec<String>>,
}

/// The resolved grid: every list explicit.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `(dataset, task)` pairs.
    pub tasks: Vec<(String, String)>,
    /// Deformation names evaluated (not including clean).
    pub deformations: Vec<String>,
    /// Deformation names the planned probes train on (augmentation).
    pub augmentations: Vec<String>,
    /// Model names.
    pub models: Vec<String>,
    /// Probe names.
    pub probes: Vec<String>,
}

/// Reads `path` with `MIR_`-prefixed environment overrides (`MIR_SEED=7`,
/// `MIR_PROBES__LINEAR__EPOCHS=10`), then checks every cross-reference.
pub fn load(path: &Path) -> Result<ExperimentConfig> {
    if !path.is_file() {
        bail!("config file `{}` does not exist", path.display());
    }
    let figment = Figment::new()
        .merge(Yaml::file_exact(path))
        .merge(Env::prefixed("MIR_").split("__"));
    let mut config: ExperimentConfig = figment
        .extract()
        .map_err(|e| describe(refine(&figment, e), path))?;
    resolve_paths(&mut config, path)?;
    let mut skipped = Vec::new();
    config
        .models
        .retain(|name, model| match model.skipped_because() {
            None => true,
            Some(why) => {
                tracing::warn!("optional model `{name}` left out: {why}");
                skipped.push(name.clone());
                false
            }
        });
    if let Some(models) = &mut config.grid.models {
        models.retain(|m| !skipped.contains(m));
    }
    config.check(path)?;
    Ok(config)
}

/// Makes the paths a config names relative to the config file's folder, as Cargo resolves
/// paths in `Cargo.toml`: dataset roots, noise and impulse-response folders, model cards, and
/// a plain-path `output`. A model card that is not there is also looked for in the folder
/// `$MIRREF_MODELS` names (by the path as written, then by its file name).
fn resolve_paths(config: &mut ExperimentConfig, file: &Path) -> Result<()> {
    let folder =
        std::path::absolute(file).with_context(|| format!("locating `{}`", file.display()))?;
    let base = lexical(folder.parent().unwrap_or(Path::new("/")));
    let datasets = config
        .datasets
        .values_mut()
        .flat_map(DatasetConfig::paths_mut);
    let scenarios = config
        .deformations
        .values_mut()
        .flat_map(Scenario::paths_mut);
    // A URL (a dataset on a bucket) is no path.
    for p in datasets
        .chain(scenarios)
        .filter(|p| !p.to_string_lossy().contains("://"))
    {
        *p = relative_to(&base, p);
    }
    for card in config.models.values_mut().flat_map(ModelConfig::paths_mut) {
        *card = find_card(&base, card);
    }
    if let Some(output) = &mut config.output
        && !output.contains("://")
    {
        *output = relative_to(&base, Path::new(output)).display().to_string();
    }
    Ok(())
}

/// `path` joined to `base` unless it is absolute, with `.` and `..` resolved lexically.
pub fn relative_to(base: &Path, path: &Path) -> PathBuf {
    lexical(&base.join(path))
}

/// `path` with `.` and `..` components resolved lexically (`a/./b/../c` is `a/c`).
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A model card: relative to the config's folder, else in `$MIRREF_MODELS`.
fn find_card(base: &Path, card: &Path) -> PathBuf {
    let here = relative_to(base, card);
    if here.is_file() || card.is_absolute() {
        return here;
    }
    let Some(models) = std::env::var_os(crate::models::MODELS_ENV).map(PathBuf::from) else {
        return here;
    };
    let by_name = card.file_name().map(|n| models.join(n));
    [Some(models.join(card)), by_name]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .unwrap_or(here)
}

/// serde reads a `type`-tagged enum through a buffer, so an error inside one carries only the
/// path of the enum (`datasets.synth`). This re-reads such a node as its variant's own struct,
/// which gives the full path (`datasets.synth.tasks.instrument`).
fn refine(figment: &Figment, errors: figment::Error) -> figment::Error {
    let refined: Vec<figment::Error> = errors
        .into_iter()
        .map(|e| {
            let path = e.path.join(".");
            let parts: Vec<&str> = e.path.iter().map(String::as_str).collect();
            let better = match parts.as_slice() {
                ["datasets", _] => variant(figment, &path, |tag, f| match tag {
                    "custom" => f.extract::<mir_datasets::custom::CustomConfig>().err(),
                    "tinysol" => f.extract::<mir_datasets::tinysol::TinySolConfig>().err(),
                    "vocalset" => f.extract::<mir_datasets::vocalset::VocalSetConfig>().err(),
                    "beatport_key" => f.extract::<mir_datasets::keys::BeatportConfig>().err(),
                    "giantsteps_key" => f.extract::<mir_datasets::keys::GiantStepsConfig>().err(),
                    _ => None,
                }),
                ["models", _] => variant(figment, &path, |tag, f| match tag {
                    "logmel" => f.extract::<mir_embed::logmel::LogMelConfig>().err(),
                    "mfcc" => f.extract::<mir_embed::features::MfccConfig>().err(),
                    "chroma" => f.extract::<mir_embed::features::ChromaConfig>().err(),
                    "spectral" => f.extract::<mir_embed::features::SpectralConfig>().err(),
                    "onnx" => f.extract::<mir_embed::onnx::OnnxConfig>().err(),
                    _ => None,
                }),
                ["deformations", _, "steps", _] => variant(figment, &path, |tag, f| {
                    mir_deform::Step::read_variant(tag, FigmentReader(f)).flatten()
                }),
                _ => None,
            };
            match better {
                Some(mut b) => {
                    b.metadata = e.metadata.clone();
                    b.path = e.path.iter().chain(&b.path).cloned().collect();
                    b
                }
                None => e,
            }
        })
        .collect();
    let mut iter = refined.into_iter();
    let mut first = iter.next().expect("figment reports at least one error");
    for e in iter {
        first = first.chain(e);
    }
    first
}

/// Extracts the node at `path` without its `type` key, as `read` decides from the tag; error
/// paths are relative to the node.
fn variant(
    figment: &Figment,
    path: &str,
    read: impl Fn(&str, &Figment) -> Option<figment::Error>,
) -> Option<figment::Error> {
    let mut dict = figment.find_value(path).ok()?.into_dict()?;
    let tag = dict.remove("type")?.into_string()?;
    let alone = Figment::from(figment::providers::Serialized::defaults(dict));
    read(&tag, &alone)
}

/// Reads a figment node as a deformation step's own struct.
struct FigmentReader<'a>(&'a Figment);

impl mir_deform::VariantReader for FigmentReader<'_> {
    type Output = Option<figment::Error>;

    fn read<T: serde::de::DeserializeOwned>(self) -> Self::Output {
        self.0.extract::<T>().err()
    }
}

/// One line per figment error: key path, what is wrong, where the value came from.
fn describe(errors: figment::Error, path: &Path) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                "(top level)".to_string()
            } else {
                e.path.join(".")
            };
            let source = match &e.metadata {
                Some(m) => match &m.source {
                    Some(figment::Source::File(f)) => format!("in `{}`", f.display()),
                    Some(other) => format!("from {other}"),
                    None => format!("from {}", m.name),
                },
                None => format!("in `{}`", path.display()),
            };
            format!("key `{key}`: {} ({source})", e.kind)
        })
        .collect();
    anyhow::anyhow!(
        "invalid config `{}`:\n  {}",
        path.display(),
        lines.join("\n  ")
    )
}

/// Builds the error for a key of the config file: `invalid config FILE: key KEY: REASON`.
type Invalid<'a> = dyn Fn(&str, String) -> anyhow::Error + 'a;

/// `name` (at `key`) is not among the names `section` defines.
fn undefined<'n>(
    invalid: &Invalid,
    key: &str,
    name: &str,
    section: &str,
    defined: impl IntoIterator<Item = &'n String>,
) -> anyhow::Error {
    let defined: Vec<&str> = defined.into_iter().map(String::as_str).collect();
    let defined = if defined.is_empty() {
        "none".to_string()
    } else {
        defined.join(", ")
    };
    invalid(
        key,
        format!("`{name}` is not defined in `{section}` (defined: {defined})"),
    )
}

impl ExperimentConfig {
    /// Checks names referenced by the grid and the things that must exist before a run starts;
    /// builds each model once to learn its layers.
    pub fn check(&mut self, path: &Path) -> Result<()> {
        let file = path.display().to_string();
        let invalid = |key: &str, reason: String| {
            anyhow::anyhow!("invalid config `{file}`:\n  key `{key}`: {reason}")
        };
        self.check_grid(&invalid)?;
        self.check_probes(&file, &invalid)?;
        self.expand_parts();
        self.check_deformations(&invalid)?;
        for (name, model) in &self.models {
            let layers = match model.declared_layers() {
                Some(layers) => layers,
                None => {
                    mir_embed::build(model)
                        .with_context(|| format!("invalid config `{file}`: key `models.{name}`"))?
                        .info()
                        .layers
                }
            };
            self.model_layers.insert(name.clone(), layers);
        }
        self.check_rest(&invalid)
    }

    /// The names `grid` uses are defined.
    fn check_grid(&self, invalid: &Invalid) -> Result<()> {
        for (i, t) in self.grid.tasks.iter().flatten().enumerate() {
            let key = format!("grid.tasks.{i}");
            let Some((d, task)) = t.split_once('/') else {
                return Err(invalid(
                    &key,
                    format!("`{t}` should be written `dataset/task`"),
                ));
            };
            let Some(dataset) = self.datasets.get(d) else {
                return Err(undefined(
                    invalid,
                    &key,
                    d,
                    "datasets",
                    self.datasets.keys(),
                ));
            };
            if !dataset.tasks().iter().any(|x| x == task) {
                let section = format!("datasets.{d}.tasks");
                return Err(undefined(invalid, &key, task, &section, &dataset.tasks()));
            }
        }
        let lists = [
            (
                "deformations",
                &self.grid.deformations,
                self.deformations.keys().collect::<Vec<_>>(),
            ),
            ("models", &self.grid.models, self.models.keys().collect()),
            ("probes", &self.grid.probes, self.probes.keys().collect()),
        ];
        for (section, list, defined) in lists {
            for (i, name) in list.iter().flatten().enumerate() {
                if !defined.contains(&name) {
                    let key = format!("grid.{section}.{i}");
                    return Err(undefined(invalid, &key, name, section, defined));
                }
            }
        }
        Ok(())
    }

    /// A probe with a list of `train_fraction` values becomes one probe per value,
    /// `name@value` ([`mir_table::probe_on_part`]), here and in the grid.
    fn expand_parts(&mut self) {
        let mut expanded = BTreeMap::new();
        let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, probe) in std::mem::take(&mut self.probes) {
            let parts = probe.parts();
            if parts.is_empty() {
                names.insert(name.clone(), vec![name.clone()]);
                expanded.insert(name, probe);
                continue;
            }
            for (part, one) in parts {
                let part_name = mir_table::probe_on_part(&name, part);
                names
                    .entry(name.clone())
                    .or_default()
                    .push(part_name.clone());
                expanded.insert(part_name, one);
            }
        }
        self.probes = expanded;
        if let Some(grid) = &mut self.grid.probes {
            *grid = grid.iter().flat_map(|p| names[p].clone()).collect();
        }
    }

    /// Each probe's own checks, and the scenarios it augments with are defined.
    fn check_probes(&self, file: &str, invalid: &Invalid) -> Result<()> {
        for (name, probe) in &self.probes {
            probe
                .check()
                .with_context(|| format!("invalid config `{file}`: key `probes.{name}`"))?;
            for (i, d) in probe.augment.iter().enumerate() {
                if !self.deformations.contains_key(d) {
                    let key = format!("probes.{name}.augment.{i}");
                    let defined = self.deformations.keys();
                    return Err(undefined(invalid, &key, d, "deformations", defined));
                }
            }
        }
        Ok(())
    }

    /// No scenario is called `clean`, and every step's parameters are valid.
    fn check_deformations(&self, invalid: &Invalid) -> Result<()> {
        if self.models.contains_key(mir_table::CHANCE) {
            let reason = "`chance` is reserved for the chance baselines".to_string();
            return Err(invalid("models.chance", reason));
        }
        if self.deformations.contains_key(mir_table::CLEAN) {
            let reason = "`clean` is reserved for undeformed audio".to_string();
            return Err(invalid("deformations.clean", reason));
        }
        for (name, scenario) in &self.deformations {
            if let Err((i, e)) = scenario.validate() {
                let key = format!("deformations.{name}.steps.{i}");
                return Err(invalid(&key, format!("{:#}", anyhow::Error::from(e))));
            }
        }
        Ok(())
    }

    /// A custom dataset's folder exists, seeds fit the tables, report presets are known.
    fn check_rest(&self, invalid: &Invalid) -> Result<()> {
        for (name, dataset) in &self.datasets {
            // Published datasets are checked (and fetched) by `prepare`, which says how to get
            // them; a custom one must be there.
            if let DatasetConfig::Custom(c) = dataset
                && c.generate.is_none()
                && !c.on_object_store()
                && !c.root.is_dir()
            {
                let reason = format!("audio folder `{}` does not exist", c.root.display());
                return Err(invalid(&format!("datasets.{name}.root"), reason));
            }
        }
        if self.seeds.is_empty() {
            return Err(invalid("seeds", "at least one seed is needed".into()));
        }
        if let Some(i) = self.seeds.iter().position(|&s| i64::try_from(s).is_err()) {
            let reason = "a seed must be below 2^63 (the tables store it as Int64)".to_string();
            return Err(invalid(&format!("seeds[{i}]"), reason));
        }
        for (i, name) in self.report.tables.iter().enumerate() {
            if let Err(e) = name.parse::<mir_table::Preset>() {
                return Err(invalid(&format!("report.tables[{i}]"), e.to_string()));
            }
        }
        Ok(())
    }

    /// The grid with every default filled in.
    pub fn plan(&self) -> Plan {
        let all_tasks = || {
            self.datasets
                .iter()
                .flat_map(|(d, c)| c.tasks().into_iter().map(move |t| (d.clone(), t)))
                .collect()
        };
        let probes = self
            .grid
            .probes
            .clone()
            .unwrap_or_else(|| self.probes.keys().cloned().collect());
        Plan {
            tasks: match &self.grid.tasks {
                Some(t) => t
                    .iter()
                    .filter_map(|s| {
                        s.split_once('/')
                            .map(|(d, t)| (d.to_string(), t.to_string()))
                    })
                    .collect(),
                None => all_tasks(),
            },
            deformations: self
                .grid
                .deformations
                .clone()
                .unwrap_or_else(|| self.deformations.keys().cloned().collect()),
            models: self
                .grid
                .models
                .clone()
                .unwrap_or_else(|| self.models.keys().cloned().collect()),
            probes: probes.clone(),
            augmentations: probes
                .iter()
                .filter_map(|p| self.probes.get(p))
                .flat_map(|p| p.augment.iter().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    /// Where the run's tables go.
    pub fn output(&self) -> String {
        self.output
            .clone()
            .unwrap_or_else(|| format!("runs/{}", self.name))
    }

    /// SHA-256 of the resolved config (as canonical JSON).
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("the config serialises");
        mir_audio::sha256_hex(&json)
    }
}

/// The datasets a plan touches.
pub fn planned_datasets(plan: &Plan) -> Vec<String> {
    let set: std::collections::BTreeSet<String> =
        plan.tasks.iter().map(|(d, _)| d.clone()).collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_lexically_against_the_config_folder() {
        let base = Path::new("/home/me/project/configs");
        let cases = [
            ("../data/tinysol", "/home/me/project/data/tinysol"),
            ("./noise", "/home/me/project/configs/noise"),
            ("/abs/x", "/abs/x"),
            ("../../../../../x", "/x"),
        ];
        for (written, expected) in cases {
            assert_eq!(
                relative_to(base, Path::new(written)),
                PathBuf::from(expected)
            );
        }
        assert_eq!(lexical(Path::new("../a/./b/../c")), PathBuf::from("../a/c"));
    }
}
