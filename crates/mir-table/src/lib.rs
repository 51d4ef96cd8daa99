//! The table contract between mir-ref's crates: schemas, validation and Parquet I/O.
//!
//! Every arrow in mir-ref's pipeline is one of six Arrow tables, persisted as Parquet:
//! `tracks` (mir-datasets), `embeddings` (mir-embed), `predictions` and `training_log`
//! (mir-probe), and `metrics` and `confusion` (mir-eval). This crate defines them ([`TableKind`]), builds their
//! schemas with the metadata that says what produced a file ([`TableKind::schema`],
//! [`Metadata`]), checks a schema against the contract ([`validate`]) and reads and writes
//! tables through object_store ([`TableStore`]).
//!
//! It knows nothing about audio, models or metrics: it is the only `mir-*` crate the others may
//! depend on, so it stays small and dependency-light.
//!
//! The key design decision is that the contract is *data*: each table is a list of
//! [`ColumnSpec`]s and required metadata keys. The schema constructors, the validator and the
//! generated `docs/tables.md` all read the same lists, so they cannot drift apart.
//!
//! ```
//! use mir_table::{keys, Metadata, TableKind, TableStore};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let meta = Metadata::new()
//!     .with(keys::DATASET, "tinysol")
//!     .with(keys::TASK, "instrument")
//!     .with(keys::TASK_TYPE, "multiclass")
//!     .with(keys::LABEL_VOCABULARY, r#"["flute","oboe"]"#);
//! let schema = TableKind::Tracks.schema(0, &meta).unwrap();
//! let store = TableStore::open("memory://run").unwrap();
//! store.write("tracks.parquet", TableKind::Tracks, &schema, &[]).await.unwrap();
//! let table = store.read("tracks.parquet", TableKind::Tracks).await.unwrap();
//! assert_eq!(Metadata::of(&table.schema).get(TableKind::Tracks, keys::TASK).unwrap(), "instrument");
//! # });
//! ```

mod columns;
mod conform;
pub mod docs;
mod io;
pub mod layout;
mod names;
mod records;
pub mod remote;
mod schema;
mod shard;
mod validate;

pub use columns::column;
pub use io::{ObjectInfo, Table, TableStore, decode, encode};
pub use layout::RunLayout;
pub use names::{FailureStage, Preset, Split, Stage, UnknownName};
pub use records::{
    ConfusionRow, DriftRow, DuplicateRow, EmbeddingRow, Epoch, FailureRow, MetricRow, Prediction,
    SignificanceRow, System, Track, confusion_batch, drift_batch, duplicates_batch,
    embeddings_batch, embeddings_may_hold, failures_batch, metrics_batch, predictions_batch,
    read_confusion, read_drift, read_duplicates, read_embeddings, read_failures, read_metrics,
    read_predictions, read_significance, read_tracks, read_training_log, significance_batch,
    tracks_batch, training_log_batch,
};
pub use schema::{
    CHANCE, CLEAN, ColumnSpec, ColumnType, META_SCHEMA_VERSION, META_TABLE, Metadata, RunKey,
    SCHEMA_VERSION, TableKind, TaskType, keys, probe_on_part, probe_part, vocabulary_json,
};
pub use shard::{Shard, ShardError};
pub use validate::{validate, validate_values};

/// Errors of the table contract.
///
/// A schema error ([`Error::SchemaMismatch`], [`Error::MissingColumn`], [`Error::WrongTable`],
/// [`Error::MissingMetadata`]) means the file is not what the pipeline expects: the run should
/// stop. [`Error::NotFound`] is the normal "not computed yet" answer of a cache lookup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column the contract fills in every row holds a null (a field declared nullable, as
    /// pyarrow, pandas and polars write them, is accepted while it holds none).
    #[error(
        "table `{table}`: column `{column}` is null at row {row}; every row needs a value there"
    )]
    NullValue {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The row, from 0, over the whole table.
        row: usize,
    },
    /// A value of a column written in a neighbouring type (an `int64` where the contract has
    /// `Int32`, lists where it has fixed-size lists) does not fit the contract's type.
    #[error("table `{table}`: column `{column}`, row {row}: {reason}")]
    BadValue {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The row, from 0, over the whole table.
        row: usize,
        /// What does not fit.
        reason: String,
    },
    /// A column has the wrong type or nullability.
    #[error("table `{table}`: column `{column}` should be {expected} but is {found}")]
    SchemaMismatch {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// Type required by the contract.
        expected: String,
        /// Type found.
        found: String,
    },
    /// A required column is absent.
    #[error("table `{table}`: required column `{column}` ({expected}) is missing")]
    MissingColumn {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// Type required by the contract.
        expected: String,
    },
    /// The file's `mir.table` metadata names another table.
    #[error("expected a `{table}` table but the file holds a `{found}` table")]
    WrongTable {
        /// Table expected.
        table: String,
        /// Table found in the metadata.
        found: String,
    },
    /// A required metadata key is absent.
    #[error("table `{table}`: required metadata key `{key}` is missing")]
    MissingMetadata {
        /// Table name.
        table: String,
        /// Metadata key.
        key: String,
    },
    /// A metadata value cannot be parsed.
    #[error("table `{table}`: metadata key `{key}`: {reason}")]
    BadMetadata {
        /// Table name.
        table: String,
        /// Metadata key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A location cannot be opened.
    #[error("invalid table location `{location}`: {reason}")]
    InvalidLocation {
        /// The location as given.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// No object at the location.
    #[error("no table at `{location}`")]
    NotFound {
        /// The location.
        location: String,
    },
    /// The object store failed.
    #[error("object store error at `{location}`")]
    ObjectStore {
        /// The location.
        location: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("Parquet error at `{location}`")]
    Parquet {
        /// The location.
        location: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Building or reading a batch failed.
    #[error("table `{table}`: invalid rows")]
    Arrow {
        /// Table name.
        table: String,
        /// The Arrow error.
        source: arrow::error::ArrowError,
    },
    /// A row cannot be stored under the contract.
    #[error("column `{column}`, row {row}: {reason}")]
    BadRow {
        /// Column name.
        column: String,
        /// Row index.
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// An error about the file at `location`.
    #[error("in `{location}`")]
    InFile {
        /// The location.
        location: String,
        /// What is wrong.
        source: Box<Error>,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
