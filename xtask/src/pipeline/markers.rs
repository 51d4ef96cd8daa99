//! Done markers: `shards/<stage>/shard-K-of-N.json`, written by a process once it has done its
//! part of a stage. The later stages check the datasets stage's; `mir-ref status` reads them
//! all.

use anyhow::Result;
use mir_table::{RunLayout, Shard, Stage, TableStore};
use serde::{Deserialize, Serialize};

/// What a done marker says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    /// The stage done.
    pub stage: Stage,
    /// `K/N`.
    pub shard: String,
    /// The machine that did it.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it finished, in seconds since the Unix epoch.
    pub finished_unix_s: u64,
    /// How long the process ran.
    pub seconds: f64,
}

/// Marks `shard` of `stage` done.
pub async fn write(store: &TableStore, stage: Stage, shard: Shard, seconds: f64) -> Result<()> {
    let marker = Marker {
        stage,
        shard: shard.to_string(),
        host: host(),
        pid: std::process::id(),
        finished_unix_s: crate::runlog::unix_now_s(),
        seconds,
    };
    let json = serde_json::to_vec_pretty(&marker)?;
    store
        .put(&RunLayout::shard_done(stage, shard), json.into())
        .await?;
    Ok(())
}

/// Whether `shard` of `stage` is marked done.
pub async fn done(store: &TableStore, stage: Stage, shard: Shard) -> Result<bool> {
    Ok(store.exists(&RunLayout::shard_done(stage, shard)).await?)
}

/// Every marker of `stage`, by shard.
pub async fn of_stage(store: &TableStore, stage: Stage) -> Result<Vec<(Shard, Marker)>> {
    let mut out = Vec::new();
    for path in store.list(&RunLayout::shards_of(stage)).await? {
        let Some((_, shard)) = RunLayout::worker_of(&path) else {
            continue;
        };
        let bytes = store.get(&path).await?;
        let marker: Marker = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", store.display(&path)))?;
        out.push((shard, marker));
    }
    Ok(out)
}

/// This machine's name (`HOSTNAME`, else `/etc/hostname`, else `unknown`).
pub fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
