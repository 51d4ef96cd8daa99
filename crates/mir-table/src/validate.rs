//! Schema validation: the check every reader runs on open.

use arrow::array::{Array, FixedSizeListArray, ListArray, RecordBatch};
use arrow::datatypes::{DataType, Schema};

use crate::schema::{ColumnType, META_SCHEMA_VERSION, META_TABLE, SCHEMA_VERSION, TableKind};
use crate::{Error, Result};

/// Checks that `schema` is a valid `kind` table.
///
/// Every required column must be present with its type; extra columns are accepted. A field
/// declared nullable is accepted where the contract wants a value in every row (pyarrow,
/// pandas and polars declare every field nullable): [`validate_values`] checks the rows. The `mir.table` metadata, when present, must name
/// `kind`, and every required metadata key must be there.
pub fn validate(kind: TableKind, schema: &Schema) -> Result<()> {
    check_schema(kind, schema, ColumnType::matches, false)
}

/// As [`validate`], but a column in a type that converts to the contract's without loss or
/// guess (`conform::accepts`: other integer widths, `double`, large or dictionary strings,
/// variable-length lists) is accepted, and a column that may be null may be left out (all
/// null): readers convert and fill in as they decode.
pub(crate) fn validate_readable(kind: TableKind, schema: &Schema) -> Result<()> {
    check_schema(kind, schema, crate::conform::accepts, true)
}

fn check_schema(
    kind: TableKind,
    schema: &Schema,
    accepts: impl Fn(ColumnType, &DataType) -> bool,
    absent_nullable: bool,
) -> Result<()> {
    let table = kind.name().to_string();
    if let Some(found) = schema.metadata().get(META_TABLE)
        && found != kind.name()
    {
        return Err(Error::WrongTable {
            table,
            found: found.clone(),
        });
    }
    if let Some(version) = schema.metadata().get(META_SCHEMA_VERSION)
        && version != SCHEMA_VERSION
    {
        return Err(Error::BadMetadata {
            table,
            key: META_SCHEMA_VERSION.into(),
            reason: format!("version {version} is not the supported version {SCHEMA_VERSION}"),
        });
    }
    for spec in kind.columns() {
        let Ok(field) = schema.field_with_name(spec.name) else {
            if absent_nullable && spec.nullable {
                continue;
            }
            return Err(Error::MissingColumn {
                table,
                column: spec.name.into(),
                expected: spec.ty.to_string(),
            });
        };
        if !accepts(spec.ty, field.data_type()) {
            return Err(Error::SchemaMismatch {
                table,
                column: spec.name.into(),
                expected: spec.ty.to_string(),
                found: field.data_type().to_string(),
            });
        }
    }
    for key in kind.required_metadata() {
        if !schema.metadata().contains_key(key) {
            return Err(Error::MissingMetadata {
                table,
                key: key.into(),
            });
        }
    }
    Ok(())
}

/// Checks that the columns the contract fills in every row hold no null, nor do their list
/// items (a `kind` table whose schema [`validate`] accepted); the error names the first row.
pub fn validate_values(kind: TableKind, batches: &[RecordBatch]) -> Result<()> {
    let mut offset = 0;
    for batch in batches {
        for spec in kind.columns().iter().filter(|c| !c.nullable) {
            let Some(array) = batch.column_by_name(spec.name) else {
                continue;
            };
            if let Some(i) = first_null(array.as_ref()) {
                return Err(Error::NullValue {
                    table: kind.name().into(),
                    column: spec.name.into(),
                    row: offset + i,
                });
            }
        }
        offset += batch.num_rows();
    }
    Ok(())
}

/// The first row that is null or holds a null list item.
fn first_null(array: &dyn Array) -> Option<usize> {
    if array.null_count() > 0 {
        return (0..array.len()).find(|&i| array.is_null(i));
    }
    let lists = |values: &dyn Array, offsets: &dyn Fn(usize) -> usize| {
        (values.null_count() > 0)
            .then(|| {
                (0..array.len()).find(|&i| (offsets(i)..offsets(i + 1)).any(|k| values.is_null(k)))
            })
            .flatten()
    };
    if let Some(l) = array.as_any().downcast_ref::<FixedSizeListArray>() {
        let width = l.value_length() as usize;
        return lists(l.values().as_ref(), &|i| i * width);
    }
    if let Some(l) = array.as_any().downcast_ref::<ListArray>() {
        let offsets = l.value_offsets();
        return lists(l.values().as_ref(), &|i| offsets[i] as usize);
    }
    None
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};

    use super::*;
    use crate::schema::{Metadata, keys};

    fn tracks_meta() -> Metadata {
        Metadata::new()
            .with(keys::DATASET, "d")
            .with(keys::TASK, "t")
            .with(keys::TASK_TYPE, "multiclass")
            .with(keys::LABEL_VOCABULARY, "[\"a\"]")
    }

    #[test]
    fn every_constructed_schema_validates() {
        let full = TableKind::ALL
            .iter()
            .flat_map(|k| k.required_metadata())
            .fold(Metadata::new(), |m, k| m.with(k, "1"));
        for kind in TableKind::ALL {
            let schema = kind.schema(4, &full).unwrap();
            validate(kind, &schema).unwrap();
        }
    }

    #[test]
    fn retyped_column_names_table_column_and_both_types() {
        let good = TableKind::Tracks.schema(0, &tracks_meta()).unwrap();
        let mut fields: Vec<Field> = good.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[5] = Field::new("duration_s", DataType::Utf8, false);
        let bad = Schema::new_with_metadata(fields, good.metadata().clone());
        let err = validate(TableKind::Tracks, &bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "table `tracks`: column `duration_s` should be Float64 but is Utf8"
        );
    }

    #[test]
    fn missing_column_and_metadata_and_wrong_table_are_named() {
        let good = TableKind::Tracks.schema(0, &tracks_meta()).unwrap();
        let fields: Vec<Field> = good
            .fields()
            .iter()
            .filter(|f| f.name() != "split")
            .map(|f| f.as_ref().clone())
            .collect();
        let bad = Schema::new_with_metadata(fields, good.metadata().clone());
        assert_eq!(
            validate(TableKind::Tracks, &bad).unwrap_err().to_string(),
            "table `tracks`: required column `split` (Utf8) is missing"
        );
        let err = validate(TableKind::Embeddings, &good)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "expected a `embeddings` table but the file holds a `tracks` table"
        );
        let mut meta = good.metadata().clone();
        meta.remove(keys::TASK);
        let bad = Schema::new_with_metadata(good.fields().clone(), meta);
        assert_eq!(
            validate(TableKind::Tracks, &bad).unwrap_err().to_string(),
            "table `tracks`: required metadata key `task` is missing"
        );
    }

    #[test]
    fn extra_columns_are_accepted_and_list_child_names_ignored() {
        let good = TableKind::Tracks.schema(0, &tracks_meta()).unwrap();
        let mut fields: Vec<Field> = good.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[3] = Field::new(
            "labels",
            DataType::List(Field::new("element", DataType::Utf8, false).into()),
            false,
        );
        fields.push(Field::new("artist", DataType::Utf8, true));
        validate(
            TableKind::Tracks,
            &Schema::new_with_metadata(fields, good.metadata().clone()),
        )
        .unwrap();
    }

    /// A nullable `track_id` (pyarrow's default) is valid while it holds no null; a null is
    /// named by column and row, and so is a null item of a list column.
    #[test]
    fn nullable_fields_are_accepted_until_a_row_holds_a_null() {
        use std::sync::Arc;

        use arrow::array::{ArrayRef, FixedSizeListBuilder, Float32Builder, StringArray};

        let good = TableKind::Tracks.schema(0, &tracks_meta()).unwrap();
        let mut fields: Vec<Field> = good.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[0] = Field::new("track_id", DataType::Utf8, true);
        let schema = Arc::new(Schema::new_with_metadata(fields, good.metadata().clone()));
        validate(TableKind::Tracks, &schema).unwrap();
        let ids = |ids: Vec<Option<&str>>| -> RecordBatch {
            let tracks: Vec<crate::Track> = (0..ids.len())
                .map(|i| crate::Track {
                    track_id: format!("t{i}"),
                    audio_uri: String::new(),
                    split: crate::Split::Train,
                    labels: vec!["a".into()],
                    targets: None,
                    duration_s: 1.0,
                    fold: None,
                })
                .collect();
            let batch = crate::tracks_batch(&good, &tracks).unwrap();
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns[0] = Arc::new(StringArray::from(ids));
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        validate_values(TableKind::Tracks, &[ids(vec![Some("a"), Some("b")])]).unwrap();
        let batches = [ids(vec![Some("a")]), ids(vec![Some("b"), None])];
        assert_eq!(
            validate_values(TableKind::Tracks, &batches)
                .unwrap_err()
                .to_string(),
            "table `tracks`: column `track_id` is null at row 2; every row needs a value there"
        );
        let mut scores = FixedSizeListBuilder::new(Float32Builder::new(), 2);
        for (k, v) in [Some(0.5), Some(0.5), Some(1.0), None]
            .into_iter()
            .enumerate()
        {
            scores.values().append_option(v);
            if k % 2 == 1 {
                scores.append(true);
            }
        }
        assert_eq!(first_null(&scores.finish()), Some(1), "the item of row 1");
    }
}
