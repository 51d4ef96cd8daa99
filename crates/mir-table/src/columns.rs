//! Typed access to the columns of a validated batch.

use arrow::array::{Array, RecordBatch};

use crate::schema::TableKind;
use crate::{Error, Result};

/// The column `name` of `batch`, downcast to `A`.
///
/// Errors name the table and the column; after [`validate`](crate::validate) succeeded they
/// only happen when `A` does not match the contract.
pub fn column<'a, A: Array + 'static>(
    batch: &'a RecordBatch,
    table: TableKind,
    name: &str,
) -> Result<&'a A> {
    let expected = || {
        std::any::type_name::<A>()
            .rsplit("::")
            .next()
            .unwrap_or("array")
            .to_string()
    };
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| Error::MissingColumn {
            table: table.name().into(),
            column: name.into(),
            expected: expected(),
        })?;
    array
        .as_any()
        .downcast_ref::<A>()
        .ok_or_else(|| Error::SchemaMismatch {
            table: table.name().into(),
            column: name.into(),
            expected: expected(),
            found: array.data_type().to_string(),
        })
}
