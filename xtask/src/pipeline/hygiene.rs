//! Split hygiene: each planned dataset's tracks decoded once more (the first `max_s`
//! seconds, at the built-in log-mel's rate), fingerprinted (digest of the samples, log-mel
//! summary) and compared, pairs written to `duplicates.parquet` per task, reused while the
//! tracks and their files are unchanged.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use mir_datasets::hygiene::Fingerprint;
use mir_table::{RunLayout, Split, TableKind, TableStore};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::datasets::TaskTables;
use crate::cache::{InputHash, read_with_hash, with_input_hash};
use crate::work;

/// The `hygiene:` section of a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HygieneConfig {
    /// Cosine of the standardised log-mel summaries from which two tracks are near duplicates.
    #[serde(default = "d_near")]
    pub near_cosine: f64,
    /// Seconds of each track compared, from its start.
    #[serde(default = "d_seconds")]
    pub max_s: f64,
}

fn d_near() -> f64 {
    0.99
}
fn d_seconds() -> f64 {
    30.0
}

/// Finds the duplicates of every planned dataset and writes them; returns how many pairs.
pub async fn run(config: &HygieneConfig, store: &TableStore, tasks: &TaskTables) -> Result<usize> {
    let mut tracks: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for ((dataset, _), (_, task)) in tasks {
        let of = tracks.entry(dataset).or_default();
        of.extend(
            task.tracks
                .iter()
                .map(|t| (t.track_id.as_str(), t.audio_uri.as_str())),
        );
    }
    let hash = input_hash(config, tasks);
    let kind = TableKind::Duplicates;
    if let Some(table) = read_with_hash(store, RunLayout::DUPLICATES, kind, &hash).await {
        return Ok(mir_table::read_duplicates(&table)?.len());
    }
    let mut rows = Vec::new();
    for (dataset, uris) in &tracks {
        let prints = fingerprints(config, uris)?;
        for ((d, task), (_, t)) in tasks.iter().filter(|((d, _), _)| d == dataset) {
            let splits: BTreeMap<String, Split> = t
                .tracks
                .iter()
                .map(|t| (t.track_id.clone(), t.split))
                .collect();
            rows.extend(mir_datasets::hygiene::duplicates(
                d,
                task,
                &prints,
                &splits,
                config.near_cosine,
            ));
        }
    }
    let schema = TableKind::Duplicates.schema(0, &mir_table::Metadata::new())?;
    let schema = with_input_hash(schema, &hash);
    let batch = mir_table::duplicates_batch(&schema, &rows)?;
    store
        .write(RunLayout::DUPLICATES, kind, &schema, &[batch])
        .await?;
    Ok(rows.len())
}

/// The tracks' ids, splits and files (with their versions), and the settings.
fn input_hash(config: &HygieneConfig, tasks: &TaskTables) -> String {
    let mut h = InputHash::new("duplicates v1");
    h.json(config);
    for ((dataset, task), (_, t)) in tasks {
        h.part(&format!("{dataset} {task}"));
        for t in &t.tracks {
            let version = mir_datasets::uri::version(&t.audio_uri);
            h.part(&format!(
                "{} {} {} {version}",
                t.track_id, t.split, t.audio_uri
            ));
        }
    }
    h.finish()
}

/// Every track's fingerprint, decoded on every core; a track that does not decode is left
/// out (extraction records it as a failure).
fn fingerprints(config: &HygieneConfig, uris: &BTreeMap<&str, &str>) -> Result<Vec<Fingerprint>> {
    let logmel = mir_embed::build(&mir_embed::ModelConfig::Logmel(Default::default()))?;
    let rate = logmel.info().sample_rate_hz;
    let items: Vec<(&str, &str)> = uris.iter().map(|(id, uri)| (*id, *uri)).collect();
    let prints = work::map(&items, work::cores(), |(id, uri)| {
        let mut audio = mir_datasets::uri::load(uri, Some(rate))?;
        audio
            .samples
            .truncate((config.max_s * f64::from(rate)) as usize);
        let bytes: Vec<u8> = audio.samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let windows = logmel.embed(&audio.samples)?;
        let dim = windows.first().map_or(0, |w| w.embedding.len());
        let mut summary = vec![0f32; dim];
        for w in &windows {
            summary
                .iter_mut()
                .zip(&w.embedding)
                .for_each(|(s, v)| *s += v / windows.len() as f32);
        }
        Ok::<_, anyhow::Error>(Fingerprint {
            track_id: id.to_string(),
            digest: mir_audio::sha256_hex(&bytes),
            summary,
        })
    });
    let mut out = Vec::new();
    for (item, print) in items.iter().zip(prints) {
        match print {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => warn!(track = item.0, "left out of the duplicate check: {e:#}"),
            None => {
                return Err(anyhow::anyhow!("the duplicate check stopped"))
                    .context(item.1.to_owned());
            }
        }
    }
    Ok(out)
}
