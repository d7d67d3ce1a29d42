//! The file `harbinger features` writes. In: rows of (step time, signal, entity label
//! values, feature values). Out: CSV (gzipped when the name ends in `.gz`) or Parquet
//! (when it ends in `.parquet`), with the same columns in the same order.
//!
//! In CSV an absent entity label or a feature the signal does not have is an empty cell;
//! in Parquet it is null. An undefined feature is NaN in both. Parquet types: `timestamp`
//! is a UTC millisecond timestamp, `signal` and the entity labels dictionary-encoded
//! strings, every feature a nullable `double`; row groups of [`ROWS_PER_BATCH`] rows,
//! zstd-compressed; the metadata says what the table was computed from (`train
//! --features` reads it back: `harbinger::training::cache`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{Float64Builder, StringDictionaryBuilder, TimestampMillisecondBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use harbinger::dataset;
use harbinger::promql::format_value;
use harbinger::training::cache::{PROVENANCE_KEY, Provenance, ROWS_PER_BATCH};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::output::Output;

pub enum FeatureTable {
    Csv {
        csv: Box<csv::Writer<Output>>,
        record: Vec<String>,
    },
    Parquet(Box<ParquetTable>),
}

impl FeatureTable {
    /// Creates `path` and writes the header: `timestamp`, `signal`, the entity labels,
    /// then the feature columns. Parquet also keeps `provenance` in its metadata.
    pub fn create(
        path: &Path,
        entity_labels: &[String],
        features: &[String],
        provenance: &Provenance,
    ) -> anyhow::Result<FeatureTable> {
        if path.extension().is_some_and(|e| e == "parquet") {
            return Ok(FeatureTable::Parquet(Box::new(ParquetTable::create(
                path,
                entity_labels,
                features,
                provenance,
            )?)));
        }
        let mut csv = Box::new(csv::Writer::from_writer(Output::create(path)?));
        let header = ["timestamp", "signal"]
            .into_iter()
            .chain(entity_labels.iter().map(String::as_str))
            .chain(features.iter().map(String::as_str));
        csv.write_record(header)?;
        Ok(FeatureTable::Csv {
            csv,
            record: Vec::new(),
        })
    }

    /// Appends one row; `entity` and `features` give one item per column of `create`.
    pub fn write<'a>(
        &mut self,
        t_ms: i64,
        signal: &str,
        entity: impl Iterator<Item = Option<&'a str>>,
        features: impl Iterator<Item = Option<f64>>,
    ) -> anyhow::Result<()> {
        match self {
            FeatureTable::Csv { csv, record } => {
                record.clear();
                record.push(dataset::format_seconds(t_ms));
                record.push(signal.to_owned());
                record.extend(entity.map(|v| v.unwrap_or("").to_owned()));
                record.extend(features.map(|v| v.map_or(String::new(), format_value)));
                Ok(csv.write_record(&*record)?)
            }
            FeatureTable::Parquet(table) => table.write(t_ms, signal, entity, features),
        }
    }

    /// Writes what is buffered and the file's footer or trailer; errors surface here.
    pub fn finish(self) -> anyhow::Result<()> {
        match self {
            FeatureTable::Csv { csv, .. } => {
                Ok(csv.into_inner().map_err(|e| e.into_error())?.finish()?)
            }
            FeatureTable::Parquet(table) => table.finish(),
        }
    }
}

pub struct ParquetTable {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    timestamps: TimestampMillisecondBuilder,
    signals: StringDictionaryBuilder<Int32Type>,
    entity: Vec<StringDictionaryBuilder<Int32Type>>,
    features: Vec<Float64Builder>,
    rows: usize,
}

impl ParquetTable {
    fn create(
        path: &Path,
        entity_labels: &[String],
        features: &[String],
        provenance: &Provenance,
    ) -> anyhow::Result<ParquetTable> {
        let text = |name: &str, nullable| {
            Field::new(
                name,
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                nullable,
            )
        };
        let fields = [
            Field::new(
                "timestamp",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            text("signal", false),
        ]
        .into_iter()
        .chain(entity_labels.iter().map(|l| text(l, true)))
        .chain(
            features
                .iter()
                .map(|f| Field::new(f, DataType::Float64, true)),
        );
        let schema = Arc::new(Schema::new(fields.collect::<Vec<_>>()));
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROWS_PER_BATCH))
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
        writer.append_key_value_metadata(KeyValue::new(
            PROVENANCE_KEY.to_owned(),
            provenance.to_json(),
        ));
        Ok(ParquetTable {
            writer,
            schema,
            timestamps: TimestampMillisecondBuilder::new().with_timezone("UTC"),
            signals: StringDictionaryBuilder::new(),
            entity: entity_labels
                .iter()
                .map(|_| StringDictionaryBuilder::new())
                .collect(),
            features: features.iter().map(|_| Float64Builder::new()).collect(),
            rows: 0,
        })
    }

    fn write<'a>(
        &mut self,
        t_ms: i64,
        signal: &str,
        entity: impl Iterator<Item = Option<&'a str>>,
        features: impl Iterator<Item = Option<f64>>,
    ) -> anyhow::Result<()> {
        self.timestamps.append_value(t_ms);
        self.signals.append_value(signal);
        for (builder, value) in self.entity.iter_mut().zip(entity) {
            builder.append_option(value);
        }
        for (builder, value) in self.features.iter_mut().zip(features) {
            builder.append_option(value);
        }
        self.rows += 1;
        if self.rows == ROWS_PER_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one record batch.
    fn flush(&mut self) -> anyhow::Result<()> {
        let columns: Vec<ArrayRef> = [
            Arc::new(self.timestamps.finish()) as ArrayRef,
            Arc::new(self.signals.finish()),
        ]
        .into_iter()
        .chain(
            self.entity
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        )
        .chain(
            self.features
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        )
        .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.writer.write(&batch)?;
        self.rows = 0;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<()> {
        if self.rows > 0 {
            self.flush()?;
        }
        self.writer.close()?;
        Ok(())
    }
}
