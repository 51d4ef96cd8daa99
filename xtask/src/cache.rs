//! Input hashes: what each stage's outputs depend on, written into their `input_hash`
//! metadata, and the lookup that reuses an output whose hash matches.
//!
//! Every hash is built by [`InputHash`], which length-prefixes each part so that no two lists
//! of parts give the same bytes.

use arrow::datatypes::SchemaRef;
use mir_table::{Metadata, Split, Table, TableKind, TableStore, Track, keys};
use sha2::{Digest, Sha256};

use crate::config::ExperimentConfig;

/// A SHA-256 over a versioned list of parts.
pub struct InputHash(Sha256);

impl InputHash {
    /// Starts a hash of one kind of output; bump `version` when what it covers changes.
    pub fn new(version: &str) -> Self {
        let mut h = Self(Sha256::new());
        h.part(version);
        h
    }

    /// Adds one part.
    pub fn part(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    /// Adds a part as its JSON.
    pub fn json(&mut self, value: &impl serde::Serialize) -> &mut Self {
        self.part(&serde_json::to_string(value).unwrap_or_default())
    }

    /// The hash as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        mir_audio::hex(&self.0.finalize())
    }
}

/// What identifies a track's audio (a file's size and modification time, an object's size
/// and ETag; `unreadable` when neither can be had), so a replaced audio file changes the hash
/// of what was computed from it.
pub fn file_stamp(uri: &str) -> String {
    mir_datasets::uri::version(uri)
}

/// Everything an extraction depends on: the model's definition, the dataset, the experiment
/// seed, each deformation's steps and the splits it deforms, and every track's id, split, file,
/// size and modification time.
pub fn extraction(
    config: &ExperimentConfig,
    model_fingerprint: &str,
    dataset: &str,
    deformations: &[(&str, Vec<Split>)],
    tracks: &[Track],
) -> String {
    let mut h = InputHash::new("extraction v1");
    h.part(model_fingerprint)
        .part(dataset)
        .part(&config.seed.to_string());
    for (name, splits) in deformations {
        h.part(name).json(&config.deformations[*name]).part(
            &splits
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    for t in tracks {
        h.part(&t.track_id)
            .part(t.split.name())
            .part(&t.audio_uri)
            .part(&file_stamp(&t.audio_uri));
    }
    h.finish()
}

/// Everything a probe's predictions depend on: its config, seed and layer, the task's
/// vocabulary and tracks (ids, splits, labels, targets), and the input hashes of the
/// embeddings it reads.
pub fn probe(
    probe_config: &mir_probe::ProbeConfig,
    key: &mir_table::RunKey,
    task: &mir_datasets::TaskTracks,
    embeddings: &[Table],
) -> String {
    let mut h = InputHash::new("probe v1");
    h.json(probe_config)
        .part(&format!("{} {} {}", key.seed, key.layer, key.task))
        .json(&task.vocabulary);
    labelled_tracks(&mut h, task);
    let layer_tables = embeddings.iter();
    for table in layer_tables.filter(|t| mir_table::embeddings_may_hold(t, key.layer)) {
        let meta = Metadata::of(&table.schema);
        h.part(
            meta.get(TableKind::Embeddings, keys::INPUT_HASH)
                .unwrap_or("none"),
        );
    }
    h.finish()
}

/// What a probe's metrics depend on: its predictions (the job's hash), the evaluation settings
/// and the seed of the bootstrap.
pub fn evaluation(config: &ExperimentConfig, job_hash: &str) -> String {
    let mut h = InputHash::new("metrics v2");
    h.part(job_hash)
        .part(&config.seed.to_string())
        .json(&config.evaluation);
    h.finish()
}

/// What a chance baseline's predictions depend on: its identity, the experiment seed, the
/// task's tracks and the conditions it is scored under.
pub fn chance(
    config: &ExperimentConfig,
    key: &mir_table::RunKey,
    task: &mir_datasets::TaskTracks,
    deformations: &[String],
) -> String {
    let mut h = InputHash::new("chance v1");
    h.part(&format!("{} {} {}", key.probe, key.task, config.seed))
        .json(&task.vocabulary)
        .json(&deformations);
    labelled_tracks(&mut h, task);
    h.finish()
}

/// Each track's id, split, labels and targets: what a probe learns from and is scored on.
fn labelled_tracks(h: &mut InputHash, task: &mir_datasets::TaskTracks) {
    for t in &task.tracks {
        h.part(&format!(
            "{} {} {:?} {:?}",
            t.track_id, t.split, t.labels, t.targets
        ));
    }
}

/// What the significance table depends on: every run's predictions (the jobs' hashes, in
/// grid order), the evaluation settings, the seed and the metrics compared.
pub fn significance(config: &ExperimentConfig, job_hashes: &[&str], metrics: &[&str]) -> String {
    let mut h = InputHash::new("significance v1");
    for job in job_hashes {
        h.part(job);
    }
    h.part(&config.seed.to_string())
        .json(&config.evaluation)
        .json(&metrics);
    h.finish()
}

/// What a run's report depends on: this build of mir-ref, the config (with the report's
/// settings) and every run's evaluation inputs, which cover the tables the report reads.
pub fn report(config: &ExperimentConfig, evaluation_hashes: &[String]) -> String {
    let mut h = InputHash::new("report v1");
    h.part(env!("CARGO_PKG_VERSION")).part(&config.hash());
    for e in evaluation_hashes {
        h.part(e);
    }
    h.finish()
}

/// The table at `rel` if it is there, valid, and carries `input_hash`: what a rerun reuses.
pub async fn read_with_hash(
    store: &TableStore,
    rel: &str,
    kind: TableKind,
    input_hash: &str,
) -> Option<Table> {
    let table = store
        .read(rel, kind)
        .await
        .map_err(|e| tracing::debug!("not reusing {rel}: {e}"))
        .ok()?;
    let hash = Metadata::of(&table.schema)
        .get(kind, keys::INPUT_HASH)
        .ok()?
        .to_string();
    (hash == input_hash).then_some(table)
}

/// `schema` with `input_hash` added to its metadata.
pub fn with_input_hash(schema: SchemaRef, input_hash: &str) -> SchemaRef {
    with_metadata(schema, keys::INPUT_HASH, input_hash)
}

/// `schema` with `key: value` added to its metadata.
pub fn with_metadata(schema: SchemaRef, key: &str, value: &str) -> SchemaRef {
    let mut metadata = schema.metadata().clone();
    metadata.insert(key.to_string(), value.to_string());
    std::sync::Arc::new(schema.as_ref().clone().with_metadata(metadata))
}
