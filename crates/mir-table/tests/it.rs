//! Integration tests: Parquet round trips through each kind of location.

use std::sync::Arc;

use arrow::array::{
    FixedSizeListBuilder, Float32Builder, Float64Array, Int32Array, ListBuilder, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::util::pretty::pretty_format_batches;
use mir_table::{Metadata, TableKind, TableStore, keys};

fn tracks_batch() -> (arrow::datatypes::SchemaRef, RecordBatch) {
    let meta = Metadata::new()
        .with(keys::DATASET, "synth")
        .with(keys::TASK, "instrument")
        .with(keys::TASK_TYPE, "multiclass")
        .with(keys::LABEL_VOCABULARY, r#"["a","b"]"#);
    let schema = TableKind::Tracks.schema(0, &meta).unwrap();
    let mut labels = ListBuilder::new(StringBuilder::new());
    labels.values().append_value("a");
    labels.append(true);
    labels.values().append_value("b");
    labels.append(true);
    let targets = arrow::array::new_null_array(schema.field(4).data_type(), 2);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["t1", "t2"])),
            Arc::new(StringArray::from(vec!["a.wav", "b.wav"])),
            Arc::new(StringArray::from(vec!["train", "test"])),
            Arc::new(labels.finish()),
            targets,
            Arc::new(Float64Array::from(vec![1.0, 2.5])),
            Arc::new(Int32Array::from(vec![None, None])),
        ],
    )
    .unwrap();
    (schema, batch)
}

fn check_round_trip(store: &TableStore) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (schema, batch) = tracks_batch();
    rt.block_on(store.write(
        "tracks/synth/instrument.parquet",
        TableKind::Tracks,
        &schema,
        &[batch],
    ))
    .unwrap();
    let table = rt
        .block_on(store.read("tracks/synth/instrument.parquet", TableKind::Tracks))
        .unwrap();
    assert_eq!(
        Metadata::of(&table.schema)
            .get(TableKind::Tracks, keys::TASK)
            .unwrap(),
        "instrument"
    );
    let expected = "\
+----------+-----------+-------+--------+---------+------------+------+
| track_id | audio_uri | split | labels | targets | duration_s | fold |
+----------+-----------+-------+--------+---------+------------+------+
| t1       | a.wav     | train | [a]    |         | 1.0        |      |
| t2       | b.wav     | test  | [b]    |         | 2.5        |      |
+----------+-----------+-------+--------+---------+------------+------+";
    assert_eq!(
        pretty_format_batches(&table.batches).unwrap().to_string(),
        expected
    );
    // Reading it as another table is refused with both names.
    let err = rt
        .block_on(store.read("tracks/synth/instrument.parquet", TableKind::Metrics))
        .unwrap_err();
    let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(chain.contains("tracks/synth/instrument.parquet"), "{chain}");
    assert!(
        chain.contains("expected a `metrics` table but the file holds a `tracks` table"),
        "{chain}"
    );
}

#[test]
fn round_trip_memory() {
    check_round_trip(&TableStore::open("memory://run").unwrap());
}

#[test]
fn round_trip_plain_path_and_file_url() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    check_round_trip(&TableStore::open(plain.to_str().unwrap()).unwrap());
    assert!(plain.join("tracks/synth/instrument.parquet").is_file());
    let url = format!("file://{}", dir.path().join("url").display());
    check_round_trip(&TableStore::open(&url).unwrap());
    // No staging file is left beside the final one.
    let names: Vec<_> = std::fs::read_dir(plain.join("tracks/synth"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("instrument.parquet")]);
}

#[test]
fn writing_a_schema_that_breaks_the_contract_is_refused_before_any_byte() {
    let store = TableStore::open("memory://run").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("track_id", arrow::datatypes::DataType::Utf8, false),
    ]));
    let err = rt
        .block_on(store.write("x.parquet", TableKind::Tracks, &schema, &[]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "table `tracks`: required column `audio_uri` (Utf8) is missing"
    );
    assert!(!rt.block_on(store.exists("x.parquet")).unwrap());
}

#[test]
fn missing_file_is_not_found_with_its_location() {
    let store = TableStore::open("memory://run").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = rt
        .block_on(store.read("nope.parquet", TableKind::Tracks))
        .unwrap_err();
    assert_eq!(err.to_string(), "no table at `memory://run/nope.parquet`");
}

#[test]
fn embeddings_fixed_size_list_round_trip() {
    let meta = TableKind::Embeddings
        .required_metadata()
        .into_iter()
        .fold(Metadata::new(), |m, k| m.with(k, "3"));
    let schema = TableKind::Embeddings.schema(3, &meta).unwrap();
    let mut emb = FixedSizeListBuilder::new(Float32Builder::new(), 3).with_field(Arc::new(
        arrow::datatypes::Field::new("item", arrow::datatypes::DataType::Float32, false),
    ));
    emb.values().append_slice(&[1.0, 2.0, 3.0]);
    emb.append(true);
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["t1"])),
            Arc::new(StringArray::from(vec!["clean"])),
            Arc::new(Int32Array::from(vec![0])),
            Arc::new(Int32Array::from(vec![0])),
            Arc::new(arrow::array::Float32Array::from(vec![0.0])),
            Arc::new(emb.finish()),
        ],
    )
    .unwrap();
    let store = TableStore::open("memory://").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.write("e.parquet", TableKind::Embeddings, &schema, &[batch]))
        .unwrap();
    let t = rt
        .block_on(store.read("e.parquet", TableKind::Embeddings))
        .unwrap();
    assert_eq!(t.num_rows(), 1);
    assert_eq!(t.schema.field(5).data_type(), schema.field(5).data_type());
}

#[test]
fn list_gives_paths_relative_to_the_store_for_local_and_memory_stores() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for location in [
        "memory://run".to_owned(),
        dir.path().join("run").display().to_string(),
    ] {
        let store = TableStore::open(&location).unwrap();
        for rel in [
            "probes/a/1/p.parquet",
            "probes/a/0/p.parquet",
            "probes_x/q",
            "top.txt",
        ] {
            rt.block_on(store.put(rel, bytes::Bytes::from_static(b"x")))
                .unwrap();
        }
        let listed = rt.block_on(store.list("probes")).unwrap();
        assert_eq!(
            listed,
            ["probes/a/0/p.parquet", "probes/a/1/p.parquet"],
            "{location}"
        );
        assert!(rt.block_on(store.list("nothing")).unwrap().is_empty());
        let child = store.child("probes").unwrap();
        assert_eq!(rt.block_on(child.list("a/1")).unwrap(), ["a/1/p.parquet"]);
    }
}

#[test]
fn training_log_round_trip_keeps_missing_validation_values() {
    use mir_table::{Epoch, read_training_log, training_log_batch};
    let meta = [
        keys::DATASET,
        keys::TASK,
        keys::MODEL,
        keys::LAYER,
        keys::PROBE,
        keys::SEED,
    ]
    .into_iter()
    .fold(Metadata::new(), |m, k| m.with(k, "0"));
    let schema = TableKind::TrainingLog.schema(0, &meta).unwrap();
    let rows = vec![
        Epoch {
            epoch: 1,
            train_loss: 2.5,
            validation_loss: Some(2.7),
            validation_metric: Some(0.4),
            learning_rate: 1e-3,
            seconds: 0.25,
        },
        Epoch {
            epoch: 2,
            train_loss: 1.5,
            validation_loss: None,
            validation_metric: None,
            learning_rate: 5e-4,
            seconds: 0.5,
        },
    ];
    let batch = training_log_batch(&schema, &rows).unwrap();
    let bytes = mir_table::encode(&schema, &[batch]).unwrap();
    let table = mir_table::decode(bytes, TableKind::TrainingLog).unwrap();
    assert_eq!(read_training_log(&table).unwrap(), rows);
}

#[test]
fn run_key_round_trips_through_metadata_and_names_a_bad_key() {
    use mir_table::RunKey;
    let key = RunKey {
        dataset: "tinysol".into(),
        task: "instrument".into(),
        model: "logmel".into(),
        layer: 2,
        probe: "mlp".into(),
        seed: 7,
    };
    let meta = key.metadata();
    assert_eq!(
        RunKey::from_metadata(&meta, TableKind::Predictions).unwrap(),
        key
    );
    let bad = meta.clone().with(keys::SEED, "seven");
    let err = RunKey::from_metadata(&bad, TableKind::Predictions)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("seed") && err.contains("`seven` is not an integer"),
        "{err}"
    );
    let mut missing = meta;
    missing.0.remove(keys::PROBE);
    let err = RunKey::from_metadata(&missing, TableKind::TrainingLog)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("probe") && err.contains("training_log"),
        "{err}"
    );
}

/// A run directory on S3 (a local moto server): the same round trip, listing and prefix
/// deletion as on a local folder, and an unreachable endpoint is an error naming the location.
#[test]
fn round_trip_on_s3() {
    let Some(s3) = mir_testkit::s3::S3::start("runs") else {
        return;
    };
    let store = TableStore::open_remote(&s3.url("quickstart"), s3.options()).unwrap();
    check_round_trip(&store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(store.list("tracks")).unwrap(),
        ["tracks/synth/instrument.parquet"]
    );
    assert!(
        rt.block_on(store.exists("tracks/synth/instrument.parquet"))
            .unwrap()
    );
    rt.block_on(store.delete_prefix("tracks")).unwrap();
    assert!(rt.block_on(store.list("tracks")).unwrap().is_empty());
    // Another prefix of the same bucket sees nothing of this one.
    let other = TableStore::open_remote(&s3.url("other"), s3.options()).unwrap();
    assert!(rt.block_on(other.list("")).unwrap().is_empty());

    let mut options = s3.options();
    options[0].1 = "http://127.0.0.1:9".into(); // nothing listens on the discard port
    let dead = TableStore::open_remote("s3://runs/x", options).unwrap();
    let err = rt
        .block_on(dead.read("metrics.parquet", TableKind::Metrics))
        .unwrap_err();
    assert!(
        err.to_string().contains("s3://runs/x/metrics.parquet"),
        "{err}"
    );
}

/// `gs://` and `az://` open from their environment like `s3://` (nothing is contacted until
/// the first request); other schemes are refused with the supported ones.
#[test]
fn google_and_azure_locations_open() {
    let gs = TableStore::open("gs://lab-bucket/runs/x").unwrap();
    assert_eq!(gs.url(), "gs://lab-bucket/runs/x");
    let account = [("azure_storage_account_name", "lab")];
    let az = TableStore::open_remote("az://lab-container/runs/x", account).unwrap();
    assert_eq!(az.url(), "az://lab-container/runs/x");
    // Without AZURE_STORAGE_ACCOUNT_NAME, object_store's own message, with the location.
    if std::env::var_os("AZURE_STORAGE_ACCOUNT_NAME").is_none() {
        let err = TableStore::open("az://lab-container/runs/x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("az://lab-container/runs/x") && err.contains("Account must be specified"),
            "{err}"
        );
    }
    let err = TableStore::open("ftp://host/x").unwrap_err().to_string();
    assert!(err.contains("s3://, gs:// and az://"), "{err}");
}

/// An object read by ranged GETs reads and seeks as the file it was made from, across the
/// reader's blocks; a missing object is an error naming its URL.
#[test]
fn an_object_reads_and_seeks_like_a_file() {
    use std::io::{Read, Seek, SeekFrom};
    let Some(s3) = mir_testkit::s3::S3::start("objects") else {
        return;
    };
    let bytes: Vec<u8> = (0..2_700_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let store = TableStore::open_remote(&s3.url(""), s3.options()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.put("a/b.bin", bytes.clone().into()))
        .unwrap();
    // The module's stores are configured by the environment; here, explicitly through it.
    let reader =
        || mir_table::remote::ObjectReader::open_with("s3://objects/a/b.bin", s3.options());
    let mut r = reader().unwrap();
    assert_eq!(r.size(), bytes.len() as u64);
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert!(all == bytes, "a whole read gives the object");
    for (at, len) in [
        (1_048_570u64, 20usize),
        (0, 5),
        (2_699_990, 10),
        (2_000_000, 900_000),
    ] {
        r.seek(SeekFrom::Start(at)).unwrap();
        let mut got = vec![0u8; len];
        let n = r.read(&mut got).unwrap();
        let end = (at as usize + n).min(bytes.len());
        assert_eq!(&got[..n], &bytes[at as usize..end], "at {at}");
        assert!(n > 0);
    }
    assert_eq!(r.seek(SeekFrom::End(-4)).unwrap(), bytes.len() as u64 - 4);
    assert!(r.seek(SeekFrom::Current(-3_000_000)).is_err());
    let err = mir_table::remote::ObjectReader::open_with("s3://objects/missing.wav", s3.options())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("s3://objects/missing.wav"), "{err}");
}

/// A run directory on Azure Blob Storage (a local Azurite): the same round trip, listing and
/// ranged reads as on S3.
#[test]
fn round_trip_on_azure() {
    use std::io::{Read, Seek, SeekFrom};
    let Some(azure) = mir_testkit::azure::Azurite::start("runs") else {
        return;
    };
    let store = TableStore::open_remote(&azure.url("quickstart"), azure.options()).unwrap();
    check_round_trip(&store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(store.list("tracks")).unwrap(),
        ["tracks/synth/instrument.parquet"]
    );
    let bytes: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    rt.block_on(store.put("audio/x.bin", bytes.clone().into()))
        .unwrap();
    let url = azure.url("quickstart/audio/x.bin");
    let mut reader = mir_table::remote::ObjectReader::open_with(&url, azure.options()).unwrap();
    reader.seek(SeekFrom::Start(1_048_000)).unwrap();
    let mut got = vec![0u8; 2000];
    reader.read_exact(&mut got).unwrap();
    assert_eq!(got, bytes[1_048_000..1_050_000]);
}
