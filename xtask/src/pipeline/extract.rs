//! The extraction stage: audio -> deformations -> `embeddings`, once per (dataset, model).
//!
//! Each track is decoded once, embedded clean, and embedded under each deformation that
//! applies to its split ([`deformation_splits`]). Tracks go to the workers in groups, so a
//! model that batches (ONNX) fills its batches with the windows of several tracks; long tracks
//! that nothing deforms are streamed block by block. The work is saved in chunks under
//! `parts/`, so a run cut off mid-extraction resumes at the chunk it was in; the tracks are
//! split in shards ([`Sharding`]) that separate workers can extract.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use arrow::array::{AsArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::{Int32Type, SchemaRef};
use mir_embed::{Embedder, WindowEmbedding};
use mir_table::layout::{EmbeddingsDir, PartsDir, ShardParts};
use mir_table::{
    CLEAN, EmbeddingRow, FailureRow, FailureStage, Metadata, RunLayout, Shard, Split, Stage, Table,
    TableKind, TableStore, Track,
};
use tracing::info;

use crate::cache::{self, read_with_hash, with_input_hash};
use crate::config::{ExperimentConfig, Plan};
use crate::work;

/// Tracks a worker takes at a time; memory holds one group's audio per worker.
const GROUP: usize = 8;

/// An extraction's tables (one per layer and condition, layer by layer, clean first) and the
/// tracks it left out.
pub struct Extraction {
    /// The `embeddings` tables.
    pub tables: Vec<Table>,
    /// The tracks that could not be decoded, deformed or embedded.
    pub failures: Vec<FailureRow>,
    /// Tracks decoded block by block (0 when the extraction was reused).
    pub streamed: usize,
}

/// The deformations of one dataset's extraction, and the splits each one deforms: test
/// tracks when it is evaluated, training tracks when a probe augments with it.
pub fn deformation_splits(plan: &Plan) -> Vec<(&str, Vec<Split>)> {
    let mut names: Vec<&str> = plan
        .deformations
        .iter()
        .chain(&plan.augmentations)
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    names.dedup();
    let has = |list: &[String], name: &str| list.iter().any(|d| d == name);
    names
        .into_iter()
        .map(|name| {
            let mut splits = Vec::new();
            if has(&plan.deformations, name) {
                splits.push(Split::Test);
            }
            if has(&plan.augmentations, name) {
                splits.push(Split::Train);
            }
            (name, splits)
        })
        .collect()
}

/// A track stopped: skipped and recorded (`Skip`: stage, condition, error), or the run itself
/// failed (`Fatal`: writing kept audio).
enum Stop {
    Skip(FailureStage, String, anyhow::Error),
    Fatal(anyhow::Error),
}

/// The audio of one track under every condition it is embedded in.
type ConditionAudio<'a> = Vec<(&'a str, Vec<f32>)>;

/// The rows one track contributes, per condition.
type TrackRows<'a> = Vec<(&'a str, Vec<EmbeddingRow>)>;

/// What a group of tracks gave: its items per key, and the tracks skipped.
struct Collected<K, V> {
    items: BTreeMap<K, Vec<V>>,
    failures: Vec<FailureRow>,
}

impl<K, V> Default for Collected<K, V> {
    fn default() -> Self {
        Self {
            items: BTreeMap::new(),
            failures: Vec::new(),
        }
    }
}

impl<K: Ord, V> Collected<K, V> {
    fn extend(&mut self, other: Self) {
        for (key, items) in other.items {
            self.items.entry(key).or_default().extend(items);
        }
        self.failures.extend(other.failures);
    }
}

/// Embedded tracks: rows per condition.
type Embedded<'a> = Collected<&'a str, EmbeddingRow>;

/// What saved chunks hold: each (layer, condition)'s record batches, chunk after chunk. Only
/// Arrow batches are kept, so the rows of a chunk are dropped as soon as it is saved.
type Parts<'a> = Collected<(i32, &'a str), RecordBatch>;

/// One (dataset, model) extraction: its inputs, model and output locations.
pub struct Job<'a> {
    config: &'a ExperimentConfig,
    store: &'a TableStore,
    dataset: &'a str,
    model_name: &'a str,
    model: Box<dyn Embedder>,
    sample_rate_hz: u32,
    deformations: Vec<(&'a str, Vec<Split>)>,
    conditions: Vec<&'a str>,
    input_hash: String,
    dir: EmbeddingsDir,
    /// One `embeddings` schema per layer, each with that layer's width.
    schemas: Vec<SchemaRef>,
    failures_schema: SchemaRef,
    runtime: tokio::runtime::Handle,
    streamed: AtomicUsize,
}

impl<'a> Job<'a> {
    /// Builds the model and hashes the extraction's inputs.
    pub fn new(
        config: &'a ExperimentConfig,
        plan: &'a Plan,
        store: &'a TableStore,
        dataset: &'a str,
        model_name: &'a str,
        tracks: &[Track],
    ) -> Result<Self> {
        let model = mir_embed::build(&config.models[model_name])?;
        let info = model.info();
        let deformations = deformation_splits(plan);
        let conditions = std::iter::once(CLEAN)
            .chain(deformations.iter().map(|(d, _)| *d))
            .collect();
        let input_hash =
            cache::extraction(config, &model.fingerprint(), dataset, &deformations, tracks);
        let schemas = (0..info.layers.len())
            .map(|layer| {
                let schema = mir_embed::embeddings_schema(&info, layer, model_name, dataset)?;
                Ok(with_input_hash(schema, &input_hash))
            })
            .collect::<Result<_>>()?;
        let failures_schema = with_input_hash(
            TableKind::Failures.schema(0, &Metadata::new())?,
            &input_hash,
        );
        Ok(Self {
            config,
            store,
            dataset,
            model_name,
            model,
            sample_rate_hz: info.sample_rate_hz,
            deformations,
            conditions,
            input_hash,
            dir: RunLayout::embeddings(dataset, model_name),
            schemas,
            failures_schema,
            runtime: tokio::runtime::Handle::current(),
            streamed: AtomicUsize::new(0),
        })
    }

    /// The tables of an earlier extraction with the same input hash, if all are there (and,
    /// when the run keeps audio, every kept file too).
    pub async fn cached(&self, tracks: &[Track]) -> Option<Extraction> {
        let failures = read_with_hash(
            self.store,
            &self.dir.failures(),
            TableKind::Failures,
            &self.input_hash,
        )
        .await?;
        let failures = mir_table::read_failures(&failures).ok()?;
        let mut tables = Vec::new();
        for layer in self.layers() {
            for condition in &self.conditions {
                let rel = self.dir.table(layer, condition);
                let kind = TableKind::Embeddings;
                tables.push(read_with_hash(self.store, &rel, kind, &self.input_hash).await?);
            }
        }
        if self.keeps_audio() && !self.kept_audio_complete(tracks, &failures).await {
            return None;
        }
        info!(
            dataset = self.dataset,
            model = self.model_name,
            "reusing embeddings: inputs unchanged ({})",
            self.dir.dir()
        );
        Some(Extraction {
            tables,
            failures,
            streamed: 0,
        })
    }

    /// Whether the kept audio of every track and deformation applied to its split is there,
    /// but for the tracks that failed.
    async fn kept_audio_complete(&self, tracks: &[Track], failures: &[FailureRow]) -> bool {
        let failed: BTreeSet<&str> = failures.iter().map(|f| f.track_id.as_str()).collect();
        for (name, splits) in &self.deformations {
            for t in tracks {
                if !splits.contains(&t.split) || failed.contains(t.track_id.as_str()) {
                    continue;
                }
                let rel = RunLayout::kept_audio(self.dataset, name, &t.track_id);
                if !self.store.exists(&rel).await.unwrap_or(false) {
                    return false;
                }
            }
        }
        true
    }

    /// Extracts the tracks as `sharding` says, shard by shard and chunk by chunk (reusing what
    /// an interrupted run or another worker saved), then, unless this process does one shard
    /// only, writes one table per condition and the extraction's failures, which mark it
    /// complete.
    pub async fn compute(
        &self,
        tracks: &[Track],
        sharding: Sharding,
    ) -> Result<Option<Extraction>> {
        let _purge = mir_alloc::PurgeSoon::new();
        let parts = self.dir.parts(&self.input_hash);
        if let Sharding::Only(shard) = sharding {
            self.shard(&parts, shard, &owned(shard, tracks)).await?;
            return Ok(None);
        }
        let count = self.shard_count(&parts).await?;
        let (mut all, mut missing) = (Parts::default(), Vec::new());
        for shard in Shard::all(count) {
            let mine = owned(shard, tracks);
            match self.done_shard(&parts, shard, &mine).await {
                Some(done) => all.extend(done),
                None if sharding == Sharding::Require => missing.push(shard),
                None => {
                    if count > 1 {
                        self.warn_undone(shard, &mine);
                    }
                    all.extend(self.shard(&parts, shard, &mine).await?);
                }
            }
        }
        if !missing.is_empty() {
            return Err(super::Incomplete(self.missing_shards(&missing, tracks)).into());
        }
        let tables = self.write_tables(all.items).await?;
        let mut failures = all.failures;
        failures.sort_by(|a, b| a.track_id.cmp(&b.track_id));
        // Written last, so a run cut off before this point extracts again (from its parts).
        self.write_failures(&self.dir.failures(), &failures).await?;
        self.log_streamed();
        Ok(Some(Extraction {
            tables,
            failures,
            streamed: self.streamed.load(Ordering::Relaxed),
        }))
    }

    /// The shard count of the workers that saved parts of this extraction (the count most
    /// of whose shards are done), else 1.
    async fn shard_count(&self, parts: &PartsDir) -> Result<usize> {
        let listed = self.store.list(parts.dir()).await?;
        let mut counts: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
        for (shard, done) in parts.shards_in(&listed) {
            let (d, seen) = counts.entry(shard.count).or_default();
            *d += usize::from(done);
            *seen += 1;
        }
        let best = counts.into_iter().max_by_key(|(_, tally)| *tally);
        Ok(best.map_or(1, |(count, _)| count))
    }

    /// Extracts `owned`, the tracks of `shard`, chunk by chunk, then writes its failures,
    /// which mark it done.
    async fn shard(&self, parts: &PartsDir, shard: Shard, owned: &[Track]) -> Result<Parts<'a>> {
        let mut label = format!("{}/{}", self.dataset, self.model_name);
        if shard != Shard::WHOLE {
            label.push_str(&format!(" shard {shard}"));
            info!(dataset = self.dataset, model = self.model_name, %shard, tracks = owned.len(), "extracting a shard");
        }
        let bar = crate::runlog::progress(owned.len(), &label);
        let dir = parts.shard(shard);
        let mut all = Parts::default();
        for (c, chunk) in owned.chunks(self.chunk_tracks()).enumerate() {
            let done = self.chunk(&dir, c, chunk, &bar).await;
            all.extend(done.inspect_err(|_| bar.finish_and_clear())?);
        }
        bar.finish_and_clear();
        all.failures.sort_by(|a, b| a.track_id.cmp(&b.track_id));
        self.write_failures(&dir.done(), &all.failures).await?;
        Ok(all)
    }

    /// A shard a worker finished (its done marker and every chunk carry the input hash, and
    /// the kept audio of `owned`, its tracks, is there), read back.
    async fn done_shard(
        &self,
        parts: &PartsDir,
        shard: Shard,
        owned: &[Track],
    ) -> Option<Parts<'a>> {
        let dir = parts.shard(shard);
        let hash = &self.input_hash;
        let done = read_with_hash(self.store, &dir.done(), TableKind::Failures, hash).await?;
        let failures = mir_table::read_failures(&done).ok()?;
        if self.keeps_audio() && !self.kept_audio_complete(owned, &failures).await {
            return None;
        }
        let mut all = Parts::default();
        for c in 0..owned.len().div_ceil(self.chunk_tracks()) {
            all.extend(self.read_part(&dir, c).await?);
        }
        Some(all)
    }

    /// Whether the extraction writes the deformed audio (`keep_audio`, and a model that
    /// reads audio).
    fn keeps_audio(&self) -> bool {
        self.config.keep_audio && !self.model.reads_stored()
    }

    /// The selected layers' indices (the `layer` column's values).
    fn layers(&self) -> std::ops::Range<i32> {
        0..self.schemas.len() as i32
    }

    /// Tracks per saved chunk.
    fn chunk_tracks(&self) -> usize {
        self.config.checkpoint_tracks.max(1)
    }

    /// A finishing run says which shard no worker finished, and its tracks (`owned`), before
    /// doing it.
    fn warn_undone(&self, shard: Shard, owned: &[Track]) {
        let ids: Vec<&str> = owned.iter().take(5).map(|t| t.track_id.as_str()).collect();
        let more = if owned.len() > 5 { ", ..." } else { "" };
        tracing::warn!(
            "embeddings of dataset `{}` by model `{}`: shard {shard} was not done by a worker; \
             extracting its {} tracks here ({}{more})",
            self.dataset,
            self.model_name,
            owned.len(),
            ids.join(", ")
        );
    }

    /// Which shards are not done, and their tracks.
    fn missing_shards(&self, missing: &[Shard], tracks: &[Track]) -> String {
        let mut text = format!(
            "the embeddings of dataset `{}` by model `{}` are not complete:",
            self.dataset, self.model_name
        );
        for shard in missing {
            let owned = owned(*shard, tracks);
            let ids: Vec<&str> = owned.iter().map(|t| t.track_id.as_str()).collect();
            let shown = ids.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            let more = if ids.len() > 5 { ", ..." } else { "" };
            text.push_str(&format!(
                "\n  shard {shard} is not done ({} tracks: {shown}{more})",
                ids.len()
            ));
        }
        text.push_str(&format!(
            "\nrun `mir-ref experiment CONFIG --stage {} --shard K/N` for each, or the experiment \
             without --stage to finish them in one process",
            Stage::Extract
        ));
        text
    }

    /// Chunk `c`: read back from `parts` when an interrupted run saved it, else embedded and
    /// saved (its embeddings, then its failures, which mark the part complete).
    async fn chunk(
        &self,
        parts: &ShardParts,
        c: usize,
        tracks: &[Track],
        bar: &indicatif::ProgressBar,
    ) -> Result<Parts<'a>> {
        if !self.keeps_audio()
            && let Some(saved) = self.read_part(parts, c).await
        {
            bar.inc(tracks.len() as u64);
            info!(
                dataset = self.dataset,
                model = self.model_name,
                "resuming: tracks of chunk {c} were extracted by an interrupted run ({})",
                parts.failures(c)
            );
            return Ok(saved);
        }
        let embedded = self.embed_tracks(tracks, bar).with_context(|| {
            format!(
                "extracting `{}` embeddings of dataset `{}`",
                self.model_name, self.dataset
            )
        })?;
        let saved = self.batches(embedded)?;
        for (layer, schema) in self.layers().zip(&self.schemas) {
            // One batch per condition: each condition's rows of the layer.
            let mut batches: Vec<RecordBatch> = (saved.items.range((layer, "")..))
                .take_while(|((l, _), _)| *l == layer)
                .flat_map(|(_, b)| b.iter().cloned())
                .collect();
            if batches.is_empty() {
                batches.push(mir_table::embeddings_batch(schema, &[])?);
            }
            let (rel, kind) = (parts.embeddings(c, layer), TableKind::Embeddings);
            self.store.write(&rel, kind, schema, &batches).await?;
        }
        self.write_failures(&parts.failures(c), &saved.failures)
            .await?;
        Ok(saved)
    }

    /// A chunk's rows as one batch per (layer, condition) that has rows; the rows are dropped.
    fn batches(&self, embedded: Embedded<'a>) -> Result<Parts<'a>> {
        let mut out = Parts {
            failures: embedded.failures,
            ..Parts::default()
        };
        for (condition, mut rows) in embedded.items {
            rows.sort_by_key(|r| r.layer);
            for (layer, schema) in self.layers().zip(&self.schemas) {
                let rows = of_layer(&rows, layer);
                if !rows.is_empty() {
                    let batch = mir_table::embeddings_batch(schema, rows)?;
                    out.items.insert((layer, condition), vec![batch]);
                }
            }
        }
        Ok(out)
    }

    /// Saved chunk `c` of an interrupted extraction, if its failures and every layer's
    /// embeddings carry the hash.
    async fn read_part(&self, parts: &ShardParts, c: usize) -> Option<Parts<'a>> {
        let hash = &self.input_hash;
        let f = read_with_hash(self.store, &parts.failures(c), TableKind::Failures, hash).await?;
        let mut out = Embedded {
            failures: mir_table::read_failures(&f).ok()?,
            ..Embedded::default()
        };
        for layer in self.layers() {
            let rel = parts.embeddings(c, layer);
            let e = read_with_hash(self.store, &rel, TableKind::Embeddings, hash).await?;
            for row in mir_table::read_embeddings(&e).ok()? {
                if let Some(condition) = self.conditions.iter().find(|c| **c == row.deformation) {
                    out.items.entry(*condition).or_default().push(row);
                }
            }
        }
        self.batches(out).ok()
    }

    /// Embeds `tracks` group by group on every core; the first error of the run (or, with
    /// `fail_fast`, of a track) stops the workers.
    fn embed_tracks(&self, tracks: &[Track], bar: &indicatif::ProgressBar) -> Result<Embedded<'a>> {
        let groups: Vec<&[Track]> = tracks.chunks(GROUP).collect();
        let mut all = Embedded::default();
        let results = work::map(&groups, work::cores(), |g| {
            let out = self.embed_group(g);
            bar.inc(g.len() as u64);
            out
        });
        // The groups the workers did not take come after an error, which is returned first.
        for group in results.into_iter().flatten() {
            all.extend(group?);
        }
        Ok(all)
    }

    /// Embeds one group: long clean-only tracks streamed, the others decoded, deformed and
    /// embedded together per condition. A track that failed anywhere contributes no row.
    fn embed_group(&self, group: &[Track]) -> Result<Embedded<'a>> {
        let mut outcomes: Vec<Result<TrackRows<'a>, Stop>> = Vec::with_capacity(group.len());
        let mut audio: Vec<Option<ConditionAudio<'a>>> = Vec::with_capacity(group.len());
        for track in group {
            if self.model.reads_stored() {
                outcomes.push(self.stored(track));
                audio.push(None);
                continue;
            }
            let (outcome, prepared) = match self.stream(track) {
                Some(Ok(windows)) => (Ok(vec![(CLEAN, rows_of(track, CLEAN, windows))]), None),
                Some(Err(stop)) => (Err(stop), None),
                None => match self.prepare(track) {
                    Ok(conditions) => (Ok(Vec::new()), Some(conditions)),
                    Err(stop) => (Err(stop), None),
                },
            };
            outcomes.push(outcome);
            audio.push(prepared);
        }
        for condition in self.conditions.iter().copied() {
            self.embed_condition(group, condition, &audio, &mut outcomes);
        }
        self.collect(group, outcomes)
    }

    /// A track's stored embeddings under every condition it is embedded in that has them; a
    /// missing or malformed file stops the track.
    fn stored(&self, track: &Track) -> Result<TrackRows<'a>, Stop> {
        let deformed = (self.deformations.iter())
            .filter(|(_, splits)| splits.contains(&track.split))
            .map(|(name, _)| *name);
        let mut rows = Vec::new();
        for condition in std::iter::once(CLEAN).chain(deformed) {
            match self.model.stored(&track.track_id, condition) {
                Ok(Some(windows)) => rows.push((condition, rows_of(track, condition, windows))),
                Ok(None) => {}
                Err(e) => {
                    let stage = FailureStage::Decode;
                    return Err(Stop::Skip(stage, condition.into(), e.into()));
                }
            }
        }
        Ok(rows)
    }

    /// Embeds the prepared audio of `condition` of every track still in, in one batch.
    fn embed_condition(
        &self,
        group: &[Track],
        condition: &'a str,
        audio: &[Option<ConditionAudio<'a>>],
        outcomes: &mut [Result<TrackRows<'a>, Stop>],
    ) {
        let items: Vec<(usize, &[f32])> = audio
            .iter()
            .enumerate()
            .filter(|(k, _)| outcomes[*k].is_ok())
            .filter_map(|(k, a)| {
                let (_, samples) = a.as_ref()?.iter().find(|(c, _)| *c == condition)?;
                Some((k, samples.as_slice()))
            })
            .collect();
        if items.is_empty() {
            return;
        }
        let batch: Vec<&[f32]> = items.iter().map(|(_, s)| *s).collect();
        for ((k, _), result) in items.iter().zip(self.model.embed_batch(&batch)) {
            let outcome = &mut outcomes[*k];
            match (result, outcome.as_mut()) {
                (Ok(windows), Ok(rows)) => {
                    rows.push((condition, rows_of(&group[*k], condition, windows)))
                }
                (Err(e), _) => {
                    *outcome = Err(Stop::Skip(FailureStage::Embed, condition.into(), e.into()))
                }
                (Ok(_), Err(_)) => {}
            }
        }
    }

    /// The group's rows and failure rows; an error for a fatal stop or, with `fail_fast`, a
    /// skipped track.
    fn collect(
        &self,
        group: &[Track],
        outcomes: Vec<Result<TrackRows<'a>, Stop>>,
    ) -> Result<Embedded<'a>> {
        let mut out = Embedded::default();
        for (track, outcome) in group.iter().zip(outcomes) {
            match outcome {
                Ok(rows) => {
                    for (condition, r) in rows {
                        out.items.entry(condition).or_default().extend(r);
                    }
                }
                Err(Stop::Skip(stage, condition, e)) if self.config.fail_fast => {
                    return Err(e.context(format!(
                        "track `{}` ({}), stage {stage}, condition `{condition}` (fail_fast is set)",
                        track.track_id, track.audio_uri
                    )));
                }
                Err(Stop::Skip(stage, condition, e)) => {
                    tracing::warn!(track = track.track_id, %stage, "skipped: {e:#}");
                    out.failures.push(self.failure(track, stage, condition, &e));
                }
                Err(Stop::Fatal(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    fn failure(
        &self,
        track: &Track,
        stage: FailureStage,
        condition: String,
        e: &anyhow::Error,
    ) -> FailureRow {
        FailureRow {
            stage,
            dataset: self.dataset.into(),
            model: self.model_name.into(),
            deformation: condition,
            track_id: track.track_id.clone(),
            audio_uri: track.audio_uri.clone(),
            error: format!("{e:#}"),
        }
    }

    /// The audio of one track under every condition it is embedded in (clean first); with
    /// `keep_audio`, the deformed audio is written too.
    fn prepare(&self, track: &Track) -> Result<ConditionAudio<'a>, Stop> {
        let skip = |stage, condition: &str| {
            let condition = condition.to_string();
            move |e: anyhow::Error| Stop::Skip(stage, condition, e)
        };
        let audio = mir_datasets::uri::load(&track.audio_uri, Some(self.sample_rate_hz))
            .map_err(|e| skip(FailureStage::Decode, CLEAN)(e.into()))?;
        let mut out = Vec::new();
        for (condition, splits) in &self.deformations {
            if !splits.contains(&track.split) {
                continue;
            }
            let mut deformed = mir_deform::Audio::mono(audio.samples.clone(), audio.sample_rate_hz);
            mir_deform::apply(
                &self.config.deformations[*condition],
                condition,
                self.config.seed,
                &track.track_id,
                &mut deformed,
            )
            .map_err(|e| skip(FailureStage::Deform, condition)(e.into()))?;
            let samples = deformed.into_mono();
            if self.config.keep_audio {
                self.keep(track, condition, &samples, audio.sample_rate_hz)
                    .map_err(Stop::Fatal)?;
            }
            out.push((*condition, samples));
        }
        out.insert(0, (CLEAN, audio.samples));
        Ok(out)
    }

    /// Writes a track's deformed audio under `audio/` (`keep_audio`).
    fn keep(&self, track: &Track, condition: &str, samples: &[f32], rate: u32) -> Result<()> {
        let rel = RunLayout::kept_audio(self.dataset, condition, &track.track_id);
        let bytes = mir_audio::wav_bytes(&mir_audio::Audio {
            samples: samples.to_vec(),
            sample_rate_hz: rate,
        })?;
        self.runtime
            .block_on(self.store.put(&rel, bytes.into()))
            .with_context(|| format!("writing {rel}"))
    }

    /// A track longer than `stream_tracks_longer_than_s` that no deformation applies to,
    /// decoded block by block into `embed_stream`: memory does not grow with its length.
    /// `None` for the other tracks.
    fn stream(&self, track: &Track) -> Option<Result<Vec<WindowEmbedding>, Stop>> {
        let deformed = self
            .deformations
            .iter()
            .any(|(_, splits)| splits.contains(&track.split));
        if self.config.keep_audio || deformed {
            return None;
        }
        let mut reader =
            mir_datasets::uri::open(&track.audio_uri, Some(self.sample_rate_hz)).ok()?;
        let long = reader
            .header_duration_s()
            .is_some_and(|d| d > self.config.stream_tracks_longer_than_s);
        if !long {
            return None;
        }
        let mut decode_error = None;
        let mut chunks = std::iter::from_fn(|| match reader.read(1 << 16) {
            Ok(block) if block.is_empty() => None,
            Ok(block) => Some(Ok(block)),
            Err(e) => {
                let reason = e.to_string();
                decode_error = Some(anyhow::Error::from(e));
                Some(Err(mir_embed::Error::Extraction {
                    model: self.model_name.to_string(),
                    reason,
                }))
            }
        });
        let result = self.model.embed_stream(&mut chunks);
        self.streamed.fetch_add(1, Ordering::Relaxed);
        Some(match (result, decode_error) {
            (_, Some(e)) => Err(Stop::Skip(FailureStage::Decode, CLEAN.into(), e)),
            (Err(e), None) => Err(Stop::Skip(FailureStage::Embed, CLEAN.into(), e.into())),
            (Ok(windows), None) => Ok(windows),
        })
    }

    /// One `embeddings` table per layer and condition, layer by layer, rows sorted so the
    /// file is the same on every run.
    async fn write_tables(
        &self,
        mut batches: BTreeMap<(i32, &str), Vec<RecordBatch>>,
    ) -> Result<Vec<Table>> {
        let mut tables = Vec::new();
        for (layer, schema) in self.layers().zip(&self.schemas) {
            for condition in &self.conditions {
                let parts = batches.remove(&(layer, *condition)).unwrap_or_default();
                let mut table = Table {
                    schema: schema.clone(),
                    batches: sorted(schema, parts)?,
                };
                if table.batches.is_empty() {
                    table
                        .batches
                        .push(mir_table::embeddings_batch(schema, &[])?);
                }
                let rel = self.dir.table(layer, condition);
                let kind = TableKind::Embeddings;
                self.store.write(&rel, kind, schema, &table.batches).await?;
                info!(rows = table.num_rows(), "wrote {rel}");
                tables.push(table);
            }
        }
        Ok(tables)
    }

    async fn write_failures(&self, rel: &str, failures: &[FailureRow]) -> Result<()> {
        let batch = mir_table::failures_batch(&self.failures_schema, failures)?;
        let (kind, schema) = (TableKind::Failures, &self.failures_schema);
        self.store.write(rel, kind, schema, &[batch]).await?;
        Ok(())
    }

    /// Logs how many tracks were streamed.
    fn log_streamed(&self) {
        let streamed = self.streamed.load(Ordering::Relaxed);
        if streamed > 0 {
            info!(
                dataset = self.dataset,
                model = self.model_name,
                "streamed {streamed} tracks longer than {} s",
                self.config.stream_tracks_longer_than_s
            );
        }
    }

    /// Removes the saved parts (every shard's, of every input hash), once the tables are
    /// complete or a forced run starts over.
    pub async fn remove_parts(&self) {
        let parts = self.dir.all_parts();
        if let Err(e) = self.store.delete_prefix(&parts).await {
            tracing::warn!("could not remove {parts}: {e}");
        }
    }
}

/// How one process does an extraction's shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharding {
    /// Every shard not done yet is extracted here (with the shard count earlier workers used,
    /// else 1), then the tables are written.
    Finish,
    /// Only this shard is extracted; no table is written.
    Only(Shard),
    /// Nothing is extracted: every shard must be done (an error names those that are not and
    /// their tracks); the tables are written.
    Require,
}

/// The tracks of `shard`, in the order of `tracks`.
fn owned(shard: Shard, tracks: &[Track]) -> Vec<Track> {
    tracks
        .iter()
        .filter(|t| shard.owns_track(&t.track_id))
        .cloned()
        .collect()
}

/// One table's batches in (track_id, window) order: as they are when they already are (one
/// process extracts the tracks in order), else merged and sorted (the chunks of several shards).
fn sorted(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    if in_order(&batches) {
        return Ok(batches);
    }
    let all = concat_batches(schema, &batches)?;
    drop(batches);
    let column = |name: &str| -> Result<SortColumn> {
        let values = all
            .column_by_name(name)
            .with_context(|| format!("embeddings batch without a `{name}` column"))?;
        Ok(SortColumn {
            values: values.clone(),
            options: None,
        })
    };
    let indices = lexsort_to_indices(&[column("track_id")?, column("window")?], None)?;
    Ok(vec![take_record_batch(&all, &indices)?])
}

/// Whether the rows of `batches` are in (track_id, window) order, batch after batch.
fn in_order(batches: &[RecordBatch]) -> bool {
    let mut last: Option<(&str, i32)> = None;
    for b in batches {
        let ids = b
            .column_by_name("track_id")
            .and_then(|c| c.as_string_opt::<i32>());
        let windows = (b.column_by_name("window")).and_then(|c| c.as_primitive_opt::<Int32Type>());
        let (Some(ids), Some(windows)) = (ids, windows) else {
            return false;
        };
        for key in ids.iter().zip(windows.iter()) {
            let (Some(id), Some(window)) = key else {
                return false;
            };
            if last.is_some_and(|l| l > (id, window)) {
                return false;
            }
            last = Some((id, window));
        }
    }
    true
}

/// The rows of `layer` in `rows` sorted by layer.
fn of_layer(rows: &[EmbeddingRow], layer: i32) -> &[EmbeddingRow] {
    let start = rows.partition_point(|r| r.layer < layer);
    let end = rows.partition_point(|r| r.layer <= layer);
    &rows[start..end]
}

/// A track's windows as `embeddings` rows of `condition`.
fn rows_of(track: &Track, condition: &str, windows: Vec<WindowEmbedding>) -> Vec<EmbeddingRow> {
    windows
        .into_iter()
        .map(|w| EmbeddingRow {
            track_id: track.track_id.clone(),
            deformation: condition.to_string(),
            layer: w.layer,
            window: w.window,
            start_s: w.start_s,
            embedding: w.embedding,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(schema: &SchemaRef, keys: &[(&str, i32)]) -> RecordBatch {
        let rows: Vec<EmbeddingRow> = (keys.iter())
            .map(|(id, window)| EmbeddingRow {
                track_id: id.to_string(),
                deformation: CLEAN.into(),
                layer: 0,
                window: *window,
                start_s: *window as f32,
                embedding: vec![*window as f32, id.len() as f32],
            })
            .collect();
        mir_table::embeddings_batch(schema, &rows).unwrap()
    }

    fn keys(batches: &[RecordBatch]) -> Vec<(String, i32, f32)> {
        let table = Table {
            schema: batches[0].schema(),
            batches: batches.to_vec(),
        };
        (mir_table::read_embeddings(&table).unwrap().into_iter())
            .map(|r| (r.track_id, r.window, r.start_s))
            .collect()
    }

    #[test]
    fn chunks_of_shards_are_sorted_and_chunks_in_order_kept() {
        let kind = TableKind::Embeddings;
        let metadata =
            (kind.required_metadata().into_iter()).fold(Metadata::new(), |m, key| m.with(key, "0"));
        let schema = kind.schema(2, &metadata).unwrap();
        let shards = vec![
            batch(&schema, &[("a", 0), ("c", 0), ("c", 1)]),
            batch(&schema, &[("b", 1), ("b", 0), ("d", 0)]),
        ];
        let merged = sorted(&schema, shards).unwrap();
        assert_eq!(merged.len(), 1);
        let expected = [("a", 0), ("b", 0), ("b", 1), ("c", 0), ("c", 1), ("d", 0)];
        let expected: Vec<_> = (expected.iter())
            .map(|(id, w)| (id.to_string(), *w, *w as f32))
            .collect();
        assert_eq!(keys(&merged), expected);

        let in_order = vec![
            batch(&schema, &[("a", 0), ("a", 1)]),
            batch(&schema, &[("b", 0)]),
        ];
        let kept = sorted(&schema, in_order.clone()).unwrap();
        assert_eq!(kept, in_order);
    }
}
