//! Helpers shared by the tests of mir-ref's crates, and only by tests: every crate takes it as
//! a dev-dependency, none as a dependency (the tidy check enforces it), so it never reaches a
//! user's build.
//!
//! - [`browser`]: a minimal DevTools-protocol client that drives Debian's headless chromium
//!   (mir-report's confusion pages and the quickstart's report are checked in a real browser).
//! - [`s3`]: a local S3 server (moto) with a bucket, for object-store run directories.
//! - [`azure`]: a local Azure Blob Storage (Azurite) with a container, likewise.
//! - [`python`]: an interpreter with numpy and pyarrow, for the Python bridge and the tables
//!   Python writes.
//! - [`assert_table_text`]: a table compared as text, as DataFusion's `assert_batches_eq!`, so a
//!   failure can be pasted back into the test.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Float64Array, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("metric", DataType::Utf8, false),
//!     Field::new("value", DataType::Float64, false),
//! ]));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec!["accuracy"])),
//!     Arc::new(Float64Array::from(vec![0.5])),
//! ]).unwrap();
//! mir_testkit::assert_table_text(&[batch], "
//! +----------+-------+
//! | metric   | value |
//! +----------+-------+
//! | accuracy | 0.5   |
//! +----------+-------+
//! ");
//! ```

pub mod azure;
pub mod browser;
pub mod python;
pub mod s3;
mod server;

use arrow::array::RecordBatch;

/// The batches as `arrow::util::pretty` prints them.
pub fn table_text(batches: &[RecordBatch]) -> String {
    arrow::util::pretty::pretty_format_batches(batches)
        .expect("batches print")
        .to_string()
}

/// Panics, showing both tables, unless `batches` print as `expected` (leading and trailing
/// blank lines and indentation of `expected` ignored).
pub fn assert_table_text(batches: &[RecordBatch], expected: &str) {
    let expected: Vec<&str> = expected
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let actual = table_text(batches);
    let actual: Vec<&str> = actual.lines().map(str::trim).collect();
    assert!(
        actual == expected,
        "\nexpected:\n{}\n\nactual:\n{}\n",
        expected.join("\n"),
        actual.join("\n")
    );
}
