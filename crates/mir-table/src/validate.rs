//! Schema validation: the check every reader runs on open.

use arrow::datatypes::Schema;

use crate::schema::{META_SCHEMA_VERSION, META_TABLE, SCHEMA_VERSION, TableKind};
use crate::{Error, Result};

/// Checks that `schema` is a valid `kind` table.
///
/// Every required column must be present with its type and, when the contract says so,
/// non-nullable; extra columns are accepted. The `mir.table` metadata, when present, must name
/// `kind`, and every required metadata key must be there.
pub fn validate(kind: TableKind, schema: &Schema) -> Result<()> {
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
            return Err(Error::MissingColumn {
                table,
                column: spec.name.into(),
                expected: spec.ty.to_string(),
            });
        };
        if !spec.ty.matches(field.data_type()) {
            return Err(Error::SchemaMismatch {
                table,
                column: spec.name.into(),
                expected: spec.ty.to_string(),
                found: field.data_type().to_string(),
            });
        }
        if field.is_nullable() && !spec.nullable {
            return Err(Error::SchemaMismatch {
                table,
                column: spec.name.into(),
                expected: format!("non-null {}", spec.ty),
                found: format!("nullable {}", field.data_type()),
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

    #[test]
    fn nullable_key_column_is_rejected() {
        let good = TableKind::Tracks.schema(0, &tracks_meta()).unwrap();
        let mut fields: Vec<Field> = good.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[0] = Field::new("track_id", DataType::Utf8, true);
        let err = validate(
            TableKind::Tracks,
            &Schema::new_with_metadata(fields, good.metadata().clone()),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "table `tracks`: column `track_id` should be non-null Utf8 but is nullable Utf8"
        );
    }
}
