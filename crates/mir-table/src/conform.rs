//! Tables written by others, made the contract's types: what pyarrow, pandas and polars write
//! by default (`int64` for an index, `double` scores, `large_string`, dictionary-encoded
//! categories, variable-length lists) is valid data in a neighbouring type. Readers convert it
//! where nothing is lost or guessed, and refuse, naming the row, a value that does not fit.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef};

use crate::schema::{ColumnType, TableKind};
use crate::{Error, Result};

/// Whether a `found` column converts to `ty` (or already is it).
pub(crate) fn accepts(ty: ColumnType, found: &DataType) -> bool {
    let text = |t: &DataType| match t {
        DataType::Dictionary(_, v) => matches!(
            **v,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
        other => matches!(
            other,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ),
    };
    let number = |t: &DataType| t.is_integer() || t.is_floating();
    let list_of = |t: &DataType, item: &dyn Fn(&DataType) -> bool| match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            item(f.data_type())
        }
        _ => false,
    };
    ty.matches(found)
        || match ty {
            ColumnType::Utf8 => text(found),
            ColumnType::Int32 | ColumnType::Int64 => found.is_integer(),
            ColumnType::Float32 | ColumnType::Float64 => number(found),
            ColumnType::ListUtf8 => list_of(found, &text),
            ColumnType::ListFloat32 | ColumnType::FixedSizeListFloat32 => list_of(found, &number),
        }
}

/// `batches` (of a `kind` table whose schema [`accepts`] every contract column) with each
/// contract column in its contract type, and the schema that goes with them.
pub(crate) fn conform(
    kind: TableKind,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (schema, batches) = &add_absent(kind, schema, batches)?;
    let targets: Vec<(usize, ColumnType)> = kind
        .columns()
        .iter()
        .filter_map(|spec| {
            let (i, field) = schema.column_with_name(spec.name)?;
            (!spec.ty.matches(field.data_type())).then_some((i, spec.ty))
        })
        .collect();
    if targets.is_empty() {
        return Ok((schema.clone(), batches.clone()));
    }
    let width = fixed_width(kind, schema, batches)?;
    let mut offset = 0;
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let mut columns = batch.columns().to_vec();
        for &(i, ty) in &targets {
            let name = schema.field(i).name();
            columns[i] = convert(&columns[i], ty, width, |row, why| Error::BadValue {
                table: kind.name().into(),
                column: name.clone(),
                row: offset + row,
                reason: why,
            })?;
        }
        offset += batch.num_rows();
        out.push(columns);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match targets.iter().find(|(k, _)| *k == i) {
            Some((_, ty)) => Field::new(f.name(), ty.to_arrow(width), f.is_nullable()),
            None => f.as_ref().clone(),
        })
        .collect();
    let conformed = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = out
        .into_iter()
        .map(|columns| {
            RecordBatch::try_new(conformed.clone(), columns).map_err(|source| Error::Arrow {
                table: kind.name().into(),
                source,
            })
        })
        .collect::<Result<_>>()?;
    Ok((conformed, batches))
}

/// The table with each contract column it leaves out (one that may be null) added, all null.
fn add_absent(
    kind: TableKind,
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let absent: Vec<_> = kind
        .columns()
        .iter()
        .filter(|c| schema.column_with_name(c.name).is_none())
        .collect();
    if absent.is_empty() {
        return Ok((schema.clone(), batches));
    }
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(
        absent
            .iter()
            .map(|c| Field::new(c.name, c.ty.to_arrow(0), true)),
    );
    let extended = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .into_iter()
        .map(|b| {
            let mut columns = b.columns().to_vec();
            columns.extend(
                absent
                    .iter()
                    .map(|c| arrow::array::new_null_array(&c.ty.to_arrow(0), b.num_rows())),
            );
            RecordBatch::try_new(extended.clone(), columns).map_err(|source| Error::Arrow {
                table: kind.name().into(),
                source,
            })
        })
        .collect::<Result<_>>()?;
    Ok((extended, batches))
}

/// The one length of a fixed-size-list column written as lists: the first row's (every other
/// row is checked against it); 0 when the table has none.
fn fixed_width(kind: TableKind, schema: &Schema, batches: &[RecordBatch]) -> Result<i32> {
    let Some(spec) = kind
        .columns()
        .iter()
        .find(|c| c.ty == ColumnType::FixedSizeListFloat32)
    else {
        return Ok(0);
    };
    let Some((i, _)) = schema.column_with_name(spec.name) else {
        return Ok(0);
    };
    let first = batches
        .iter()
        .find_map(|b| first_length(b.column(i)))
        .unwrap_or(0);
    i32::try_from(first).map_err(|_| Error::BadValue {
        table: kind.name().into(),
        column: spec.name.into(),
        row: 0,
        reason: "a list too long for a fixed-size list".into(),
    })
}

/// The list length of the first row that is not null, if any.
fn first_length(array: &ArrayRef) -> Option<usize> {
    let row = (0..array.len()).find(|&r| !array.is_null(r))?;
    match array.data_type() {
        DataType::List(_) => Some(array.as_list::<i32>().value_length(row) as usize),
        DataType::LargeList(_) => Some(array.as_list::<i64>().value_length(row) as usize),
        DataType::FixedSizeList(_, n) => Some(*n as usize),
        _ => None,
    }
}

/// `array` as `ty`; `bad(row, why)` is the error of a value that does not fit.
fn convert(
    array: &ArrayRef,
    ty: ColumnType,
    width: i32,
    bad: impl Fn(usize, String) -> Error,
) -> Result<ArrayRef> {
    let target = ty.to_arrow(width);
    if ty == ColumnType::FixedSizeListFloat32 {
        return fixed_list(array, width, &bad);
    }
    // A safe cast turns a value that does not fit into a null: the first new null is the row.
    let cast = cast_with_options(array, &target, &CastOptions::default())
        .map_err(|e| bad(0, e.to_string()))?;
    if let Some(row) = (0..array.len()).find(|&r| cast.is_null(r) && !array.is_null(r)) {
        return Err(bad(
            row,
            format!("{} does not fit in {target}", value_text(array, row)),
        ));
    }
    Ok(cast)
}

/// A list column of equal-length rows as `FixedSizeList<Float32, width>`.
fn fixed_list(
    array: &ArrayRef,
    width: i32,
    bad: &impl Fn(usize, String) -> Error,
) -> Result<ArrayRef> {
    let lists = cast_with_options(
        array,
        &DataType::new_list(DataType::Float32, true),
        &CastOptions::default(),
    )
    .map_err(|e| bad(0, e.to_string()))?;
    let lists = lists.as_list::<i32>();
    let mut values = Vec::with_capacity(lists.len() * width as usize);
    for r in 0..lists.len() {
        if lists.is_null(r) {
            // The row is null (the null check names it); its slots still need values.
            values.extend(std::iter::repeat_n(0.0, width as usize));
            continue;
        }
        let row = lists.value(r);
        let row = row.as_primitive::<Float32Type>();
        if row.len() != width as usize {
            let why = format!(
                "{} values, but row 0 has {width}: a fixed-size list has one length",
                row.len()
            );
            return Err(bad(r, why));
        }
        if row.null_count() > 0 {
            return Err(bad(r, "a null value inside the list".into()));
        }
        values.extend_from_slice(row.values());
    }
    // The contract's item field (`ColumnType::to_arrow`): values never null.
    let item = Arc::new(Field::new_list_field(DataType::Float32, false));
    FixedSizeListArray::try_new(
        item,
        width,
        Arc::new(Float32Array::from(values)),
        lists.nulls().cloned(),
    )
    .map(|a| Arc::new(a) as ArrayRef)
    .map_err(|e| bad(0, e.to_string()))
}

/// One value of `array`, as text for an error.
fn value_text(array: &ArrayRef, row: usize) -> String {
    arrow::util::display::array_value_to_string(array, row).unwrap_or_else(|_| "the value".into())
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        DictionaryArray, Float64Array, Int64Array, LargeStringArray, ListArray, StringArray,
    };
    use arrow::datatypes::{Float64Type, Int32Type};

    use super::*;
    use crate::schema::{Metadata, keys};

    /// A predictions table as pandas or polars might write it.
    fn written(scores: Vec<Option<Vec<Option<f64>>>>, seed_rows: Vec<i64>) -> Vec<u8> {
        let n = scores.len();
        let meta = [
            keys::DATASET,
            keys::TASK,
            keys::MODEL,
            keys::LAYER,
            keys::PROBE,
            keys::SEED,
            keys::TASK_TYPE,
            keys::AGGREGATION,
        ]
        .iter()
        .fold(Metadata::new(), |m, k| m.with(k, "0"))
        .with(keys::LABEL_VOCABULARY, "[\"a\",\"b\"]");
        let dictionary: DictionaryArray<Int32Type> = vec!["test"; n].into_iter().collect();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("extra", Arc::new(Int64Array::from(seed_rows))),
            (
                "scores",
                Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(scores)),
            ),
            (
                "track_id",
                Arc::new(LargeStringArray::from_iter_values(
                    (0..n).map(|i| format!("t{i}")),
                )),
            ),
            ("split", Arc::new(dictionary)),
            ("deformation", Arc::new(StringArray::from(vec!["clean"; n]))),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let schema = Arc::new(
            Schema::new(fields).with_metadata(
                meta.0
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        );
        let batch =
            RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect())
                .unwrap();
        crate::encode(&schema, &[batch]).unwrap().to_vec()
    }

    #[test]
    fn neighbouring_types_become_the_contracts_and_misfits_name_the_row() {
        let good = written(
            vec![
                Some(vec![Some(0.25), Some(0.75)]),
                Some(vec![Some(1.0), Some(0.0)]),
            ],
            vec![1, 2],
        );
        let table = crate::decode(good.into(), TableKind::Predictions).unwrap();
        let rows = crate::read_predictions(&table).unwrap();
        assert_eq!(rows[0].scores, vec![0.25, 0.75]);
        assert_eq!(
            (rows[1].track_id.as_str(), rows[1].split),
            ("t1", crate::Split::Test)
        );

        let ragged = written(
            vec![Some(vec![Some(0.5), Some(0.5)]), Some(vec![Some(1.0)])],
            vec![1, 2],
        );
        let err = crate::decode(ragged.into(), TableKind::Predictions)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "table `predictions`: column `scores`, row 1: 1 values, but row 0 has 2: a fixed-size \
             list has one length"
        );
        let holed = written(vec![Some(vec![Some(0.5), None])], vec![1]);
        let err = crate::decode(holed.into(), TableKind::Predictions)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 0: a null value inside the list"), "{err}");
    }

    #[test]
    fn an_integer_that_does_not_fit_is_refused() {
        let wide: ArrayRef = Arc::new(Int64Array::from(vec![3, 1 << 40]));
        let err = convert(&wide, ColumnType::Int32, 0, |row, why| Error::BadValue {
            table: "t".into(),
            column: "fold".into(),
            row,
            reason: why,
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "table `t`: column `fold`, row 1: 1099511627776 does not fit in Int32"
        );
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![0.5]));
        assert!(accepts(ColumnType::Float32, floats.data_type()));
        assert!(!accepts(ColumnType::Utf8, floats.data_type()));
    }
}
