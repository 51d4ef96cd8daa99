//! Parquet read and write through object_store, with validation on both sides.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::schema::TableKind;
use crate::{Error, Result, validate};

/// A table read back from Parquet: its validated schema (with metadata) and its batches.
#[derive(Debug, Clone)]
pub struct Table {
    /// The schema, carrying the file's metadata.
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// Number of rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// What [`TableStore::head`] says of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its size in bytes.
    pub size: u64,
    /// What changes when it is rewritten: its ETag, else its modification time.
    pub version: String,
}

/// The object-store schemes, each with the prefix of the environment variables that
/// configure it.
pub(crate) const REMOTE: [(&str, &str); 3] = [("s3", "AWS_"), ("gs", "GOOGLE_"), ("az", "AZURE_")];

/// A directory of tables: a local folder or an object-store prefix.
///
/// Writes are atomic: the object appears under its final name only once complete (a local
/// write goes to a staging file that is renamed; an object-store `put` commits whole), so a
/// reader never sees a half-written file, even after `kill -9`.
#[derive(Debug, Clone)]
pub struct TableStore {
    store: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
}

impl TableStore {
    /// Opens `location`: a plain path or `file://` URL (the folder is created), an object-store
    /// prefix configured by the usual environment variables (`s3://bucket/prefix` by `AWS_*`,
    /// for S3 and S3-compatible servers; `gs://bucket/prefix` by `GOOGLE_*`;
    /// `az://container/prefix` by `AZURE_*`), or `memory://` (a fresh in-memory store, kept
    /// alive by this handle and its clones).
    pub fn open(location: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLocation {
            location: location.into(),
            reason,
        };
        if let Some(rest) = location.strip_prefix("memory://") {
            let root = Path::parse(rest).map_err(|e| invalid(e.to_string()))?;
            return Ok(Self {
                store: Arc::new(InMemory::new()),
                root,
                url: location.into(),
            });
        }
        let dir = if location.starts_with("file://") {
            url::Url::parse(location)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .ok_or_else(|| invalid("not a valid file:// URL".into()))?
        } else if let Some(prefix) = REMOTE.iter().find_map(|(s, p)| {
            location
                .strip_prefix(s)
                .filter(|r| r.starts_with("://"))
                .map(|_| *p)
        }) {
            let env = std::env::vars().filter(|(k, _)| k.starts_with(prefix));
            return Self::open_remote(location, env);
        } else if location.contains("://") {
            return Err(invalid(
                "supported schemes are file://, memory://, s3://, gs:// and az://, or a plain \
                 path"
                    .into(),
            ));
        } else {
            std::path::PathBuf::from(location)
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| invalid(format!("cannot create the folder: {e}")))?;
        let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            store: Arc::new(fs),
            root: Path::default(),
            url: location.into(),
        })
    }

    /// An object-store location (`s3://bucket/prefix`, `gs://...`, `az://...`) with
    /// object_store's configuration `options` (`aws_endpoint`, `aws_allow_http`,
    /// `google_service_account`, `azure_storage_account_name`, ...; names in any case, unknown
    /// ones ignored). [`TableStore::open`] passes the `AWS_*` environment variables.
    /// Nothing is contacted until the first read or write.
    pub fn open_remote<K: AsRef<str>, V: Into<String>>(
        location: &str,
        options: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLocation {
            location: location.into(),
            reason,
        };
        let url = url::Url::parse(location).map_err(|e| invalid(e.to_string()))?;
        let (store, root) =
            object_store::parse_url_opts(&url, options).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            store: Arc::from(store),
            root,
            url: location.trim_end_matches('/').into(),
        })
    }

    /// Opens the folder holding the file `location` and returns the store and the file's name in
    /// it, for tools that take single table files (`runs/x/metrics.parquet`).
    pub fn open_file(location: &str) -> Result<(Self, String)> {
        match location.rsplit_once('/') {
            Some((dir, name)) if !name.is_empty() => {
                let dir = if dir.is_empty() || dir.ends_with(':') {
                    format!("{dir}/")
                } else {
                    dir.to_string()
                };
                Ok((Self::open(&dir)?, name.to_string()))
            }
            _ => Ok((Self::open(".")?, location.to_string())),
        }
    }

    /// Wraps an existing store, with every table path relative to `root`.
    pub fn from_store(store: Arc<dyn ObjectStore>, root: Path, url: impl Into<String>) -> Self {
        Self {
            store,
            root,
            url: url.into(),
        }
    }

    /// The location this store was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store for the sub-folder `rel`.
    pub fn child(&self, rel: &str) -> Result<Self> {
        Ok(Self {
            store: self.store.clone(),
            root: self.path(rel)?,
            url: self.display(rel),
        })
    }

    fn path(&self, rel: &str) -> Result<Path> {
        let rel = Path::parse(rel).map_err(|e| Error::InvalidLocation {
            location: self.display(rel),
            reason: e.to_string(),
        })?;
        Ok(self.root.parts().chain(rel.parts()).collect())
    }

    /// `rel` joined to this store's location, for messages.
    pub fn display(&self, rel: &str) -> String {
        format!("{}/{}", self.url.trim_end_matches('/'), rel)
    }

    /// Validates `batches` as a `kind` table and writes them as one Parquet file at `rel`.
    ///
    /// The schema (and its metadata) is taken from the first batch, or from `schema` when there
    /// are no rows.
    pub async fn write(
        &self,
        rel: &str,
        kind: TableKind,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let location = self.display(rel);
        validate(kind, schema)?;
        let bytes = encode(schema, batches).map_err(|source| Error::Parquet {
            location: location.clone(),
            source,
        })?;
        self.put(rel, bytes).await
    }

    /// Writes raw bytes at `rel` (atomically, as [`write`](Self::write) does).
    pub async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        let location = self.display(rel);
        let path = self.path(rel)?;
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .map_err(|source| Error::ObjectStore { location, source })?;
        Ok(())
    }

    /// Reads raw bytes at `rel`.
    pub async fn get(&self, rel: &str) -> Result<Bytes> {
        let location = self.display(rel);
        let path = self.path(rel)?;
        let result = match self.store.get(&path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(Error::NotFound { location }),
            Err(source) => return Err(Error::ObjectStore { location, source }),
        };
        result
            .bytes()
            .await
            .map_err(|source| Error::ObjectStore { location, source })
    }

    async fn objects_under(&self, rel: &str) -> Result<Vec<object_store::ObjectMeta>> {
        use futures::TryStreamExt;
        let prefix = self.path(rel)?;
        self.store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| Error::ObjectStore {
                location: self.display(rel),
                source,
            })
    }

    /// The objects under the folder `rel`, as paths relative to this store, sorted (none if
    /// the folder does not exist).
    pub async fn list(&self, rel: &str) -> Result<Vec<String>> {
        let root: Vec<_> = self.root.parts().collect();
        let mut out: Vec<String> = self
            .objects_under(rel)
            .await?
            .into_iter()
            .map(|o| {
                o.location
                    .parts()
                    .skip(root.len())
                    .map(|p| p.as_ref().to_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Deletes every object under the folder `rel` (nothing if there is none).
    pub async fn delete_prefix(&self, rel: &str) -> Result<()> {
        let location = self.display(rel);
        let objects = self.objects_under(rel).await?;
        for object in objects {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => {
                    return Err(Error::ObjectStore {
                        location: location.clone(),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    /// The size and version of the object at `rel` ([`Error::NotFound`] when there is none).
    pub async fn head(&self, rel: &str) -> Result<ObjectInfo> {
        let location = self.display(rel);
        match self.store.head(&self.path(rel)?).await {
            Ok(meta) => Ok(ObjectInfo {
                size: meta.size,
                version: meta
                    .e_tag
                    .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
            }),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { location }),
            Err(source) => Err(Error::ObjectStore { location, source }),
        }
    }

    /// The bytes `range` of the object at `rel` (one ranged GET on an object store).
    pub async fn get_range(&self, rel: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
        let location = self.display(rel);
        match self.store.get_range(&self.path(rel)?, range).await {
            Ok(bytes) => Ok(bytes),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound { location }),
            Err(source) => Err(Error::ObjectStore { location, source }),
        }
    }

    /// Whether an object exists at `rel`.
    pub async fn exists(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Error::ObjectStore {
                location: self.display(rel),
                source,
            }),
        }
    }

    /// Reads the Parquet file at `rel` and validates it as a `kind` table before reading rows.
    pub async fn read(&self, rel: &str, kind: TableKind) -> Result<Table> {
        let location = self.display(rel);
        let bytes = self.get(rel).await?;
        decode(bytes, kind).map_err(|e| match e {
            Error::Parquet { source, .. } => Error::Parquet {
                location: location.clone(),
                source,
            },
            Error::Arrow { source, .. } => Error::Parquet {
                location: location.clone(),
                source: source.into(),
            },
            other => Error::InFile {
                location: location.clone(),
                source: Box::new(other),
            },
        })
    }
}

/// Encodes batches as Parquet (snappy), keeping the Arrow schema and its metadata.
pub fn encode(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Bytes, parquet::errors::ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema.clone(), Some(props))?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.close()?;
    Ok(Bytes::from(buf))
}

/// Decodes Parquet bytes into a validated `kind` table.
pub fn decode(bytes: Bytes, kind: TableKind) -> Result<Table> {
    let parquet = |source| Error::Parquet {
        location: String::new(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(parquet)?;
    let schema = builder.schema().clone();
    crate::validate::validate_readable(kind, &schema)?;
    let reader = builder.build().map_err(parquet)?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|source| Error::Arrow {
            table: kind.name().into(),
            source,
        })?;
    let (schema, batches) = crate::conform::conform(kind, &schema, batches)?;
    crate::validate::validate_values(kind, &batches)?;
    Ok(Table { schema, batches })
}
