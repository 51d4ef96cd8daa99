//! Single objects named by URL (`s3://bucket/key`, `gs://bucket/key`, `az://container/key`):
//! whole, by ranges as a blocking [`std::io::Read`] + [`std::io::Seek`], their size and version.
//! Each bucket's store is opened once (configured by the environment, as
//! [`TableStore::open`] is), and requests run on a small runtime of this module's own, so any
//! code may call these functions, inside a tokio runtime or not.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Mutex, OnceLock};

use bytes::Bytes;

use crate::io::REMOTE;
use crate::{Error, ObjectInfo, Result, TableStore};

/// Bytes one ranged GET fetches: symphonia reads a file front to back in small pieces, so each
/// request serves many of them.
const BLOCK: u64 = 1 << 20;

/// Whether `location` is an object-store URL (`s3://`, `gs://`, `az://`) rather than a path.
pub fn is_url(location: &str) -> bool {
    location
        .split_once("://")
        .is_some_and(|(scheme, _)| REMOTE.iter().any(|(s, _)| *s == scheme))
}

/// The whole object at `url`.
pub fn get(url: &str) -> Result<Bytes> {
    let (store, key) = store_of(url)?;
    block_on(async move { store.get(&key).await })?
}

/// The size and version of the object at `url`.
pub fn head(url: &str) -> Result<ObjectInfo> {
    let (store, key) = store_of(url)?;
    block_on(async move { store.head(&key).await })?
}

/// The store of `url`'s bucket (opened on first use) and the object's key in it.
fn store_of(url: &str) -> Result<(TableStore, String)> {
    static STORES: OnceLock<Mutex<HashMap<String, TableStore>>> = OnceLock::new();
    let (root, key) = split(url)?;
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let store = match stores.get(&root) {
        Some(s) => s.clone(),
        None => {
            let s = TableStore::open(&root)?;
            stores.insert(root, s.clone());
            s
        }
    };
    Ok((store, key))
}

/// `scheme://bucket` and the key of the object `url`.
fn split(url: &str) -> Result<(String, String)> {
    let invalid = |reason: &str| Error::InvalidLocation {
        location: url.into(),
        reason: reason.into(),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("not a URL"))?;
    let (bucket, key) = rest
        .split_once('/')
        .ok_or_else(|| invalid("no object key after the bucket"))?;
    Ok((format!("{scheme}://{bucket}"), key.to_string()))
}

/// Runs `f` on this module's runtime and waits for it.
fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Result<T> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mir-table-remote")
            .enable_all()
            .build()
    });
    let runtime = runtime.as_ref().map_err(|e| Error::InvalidLocation {
        location: "object store".into(),
        reason: format!("cannot start the runtime of object-store reads: {e}"),
    })?;
    // A plain channel, not the task's JoinHandle: polled from a tokio worker (a dataset loaded
    // inside the pipeline's runtime), a JoinHandle spins on that runtime's cooperative budget.
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = send.send(f.await);
    });
    receive.recv().map_err(|_| Error::InvalidLocation {
        location: "object store".into(),
        reason: "an object-store read was cancelled".into(),
    })
}

/// An object read by ranged GETs of 1 MiB, as a file would be.
pub struct ObjectReader {
    url: String,
    store: TableStore,
    key: String,
    size: u64,
    position: u64,
    block: Bytes,
    block_start: u64,
}

impl ObjectReader {
    /// Opens the object at `url` (one HEAD request; nothing is read yet).
    pub fn open(url: &str) -> Result<Self> {
        let (store, key) = store_of(url)?;
        Self::open_in(store, key, url)
    }

    /// [`open`](Self::open) with object_store's configuration `options` instead of the
    /// environment (as [`TableStore::open_remote`] takes them).
    pub fn open_with<K: AsRef<str>, V: Into<String>>(
        url: &str,
        options: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let (root, key) = split(url)?;
        Self::open_in(TableStore::open_remote(&root, options)?, key, url)
    }

    fn open_in(store: TableStore, key: String, url: &str) -> Result<Self> {
        let info = {
            let (store, key) = (store.clone(), key.clone());
            block_on(async move { store.head(&key).await })??
        };
        Ok(Self {
            url: url.into(),
            store,
            key,
            size: info.size,
            position: 0,
            block: Bytes::new(),
            block_start: 0,
        })
    }

    /// The object's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The block holding `position` fetched, unless it is the current one.
    fn fetch(&mut self) -> std::io::Result<()> {
        let end = self.block_start + self.block.len() as u64;
        if (self.block_start..end).contains(&self.position) {
            return Ok(());
        }
        let range = self.position..(self.position + BLOCK).min(self.size);
        let (store, key) = (self.store.clone(), self.key.clone());
        let got = block_on(async move { store.get_range(&key, range).await })
            .and_then(|r| r)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", self.url)))?;
        self.block_start = self.position;
        self.block = got;
        Ok(())
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.size || buf.is_empty() {
            return Ok(0);
        }
        self.fetch()?;
        let offset = (self.position - self.block_start) as usize;
        let n = buf.len().min(self.block.len() - offset);
        buf[..n].copy_from_slice(&self.block[offset..offset + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.position.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{}: seek before the start", self.url),
            )
        })?;
        self.position = target;
        Ok(target)
    }
}
