//! Trajectories read back from a feature table that `harbinger features` wrote as
//! Parquet, so that training over a large export replays it once, not at every try.
//!
//! In: the table's path, the pipeline to train, and per signal the columns scoring
//! reads ([`super::columns_read`]). Out: [`Cached`]: the same trajectories the replay
//! gives ([`super::collect`]: per signal in pipeline order, entities in label order, the
//! kept columns as `f32`) and the summary of the export they were computed from.
//!
//! The table says what it was computed from: its Parquet metadata holds a
//! [`Provenance`] under [`PROVENANCE_KEY`] (the pipeline's signals, features, targets and
//! step, as a model artifact records them, and the export's summary). A table written
//! for another pipeline is refused with every difference named; only the columns read
//! are decoded.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMillisecondType};
use arrow_array::{Array, DictionaryArray, RecordBatch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use super::rows::Rows;
use super::trajectories::Trajectory;
use crate::model::artifact::{DataSummary, PipelineSpec};
use crate::pipeline::Pipeline;
use crate::promql::Labels;

/// Rows per row group as `features` writes them, and per batch as they are read back.
pub const ROWS_PER_BATCH: usize = 64 * 1024;

/// The key of the table's [`Provenance`] (JSON) in its Parquet metadata.
pub const PROVENANCE_KEY: &str = "harbinger.provenance";

/// What a feature table was computed from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    /// `harbinger <version>`.
    pub written_by: String,
    pub pipeline: PipelineSpec,
    pub data: DataSummary,
}

impl Provenance {
    pub fn new(pipeline: &Pipeline, data: DataSummary) -> Provenance {
        Provenance {
            written_by: format!("harbinger {}", env!("CARGO_PKG_VERSION")),
            pipeline: PipelineSpec::of(pipeline),
            data,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a provenance is JSON")
    }
}

/// Trajectories as [`super::collect`] gives them, the export they came from, and the
/// version that computed them (`harbinger <version>`).
#[derive(Debug)]
pub struct Cached {
    pub trajectories: Vec<Vec<Trajectory>>,
    pub data: DataSummary,
    pub written_by: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("opening {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {} as Parquet: {source}", .path.display())]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error(
        "{} holds no `{PROVENANCE_KEY}`: only a table that `harbinger features --out \
         FILE.parquet` wrote can stand in for the replay",
        .path.display()
    )]
    NoProvenance { path: PathBuf },
    #[error(
        "{}: its `{PROVENANCE_KEY}` is not what this harbinger writes ({source}); write the \
         table again with `harbinger features`",
        .path.display()
    )]
    Provenance {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{} was computed with another pipeline; write it again with `harbinger features` \
         and this pipeline:\n  {}",
        .path.display(), .differences.join("\n  ")
    )]
    OtherPipeline {
        path: PathBuf,
        differences: Vec<String>,
    },
    #[error(
        "{}: column `{column}` {problem}; write the table again with `harbinger features` \
         and this pipeline",
        .path.display()
    )]
    Column {
        path: PathBuf,
        column: String,
        problem: &'static str,
    },
}

impl CacheError {
    fn column(path: &Path, column: &str, problem: &'static str) -> CacheError {
        CacheError::Column {
            path: path.to_owned(),
            column: column.to_owned(),
            problem,
        }
    }
}

/// Reads the trajectories of `pipeline`'s signals from the table at `path`, keeping
/// `columns[signal]` of each row (no trajectory for a signal that keeps none).
pub fn read(
    path: &Path,
    pipeline: &Pipeline,
    columns: &[Vec<usize>],
) -> Result<Cached, CacheError> {
    let parquet = |source| CacheError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| CacheError::Open {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let provenance = provenance(
        path,
        builder.metadata().file_metadata().key_value_metadata(),
    )?;
    let ours = PipelineSpec::of(pipeline);
    let mut differences = provenance.pipeline.differences("table", &ours);
    differences.extend(missing_from(&provenance.pipeline, &ours));
    if !differences.is_empty() {
        return Err(CacheError::OtherPipeline {
            path: path.to_owned(),
            differences,
        });
    }
    let layout = Layout::new(path, pipeline, columns, builder.schema())?;
    let projection = ProjectionMask::roots(builder.parquet_schema(), layout.file_indices.clone());
    let batches = builder
        .with_projection(projection)
        .build()
        .map_err(parquet)?;
    let mut gathered = Gathered::new(pipeline, columns);
    for batch in batches {
        let batch = batch.map_err(|e| parquet(e.into()))?;
        gathered.add(&layout.columns_of(path, &batch)?);
    }
    Ok(Cached {
        trajectories: gathered.finish(&pipeline.entity_labels),
        data: provenance.data,
        written_by: provenance.written_by,
    })
}

/// The pipeline's signals and targets the table was not computed for (`differences`
/// names those of the table's the pipeline lacks).
fn missing_from(table: &PipelineSpec, pipeline: &PipelineSpec) -> Vec<String> {
    let signals = pipeline.signals.iter().map(|s| ("signal", &s.name));
    let signals = signals.filter(|(_, name)| !table.signals.iter().any(|s| &&s.name == name));
    let targets = pipeline.targets.iter().map(|t| ("target", &t.alert));
    let targets = targets.filter(|(_, name)| !table.targets.iter().any(|t| &&t.alert == name));
    let missing = signals.chain(targets);
    missing
        .map(|(what, name)| format!("{what} {name}: not in the table"))
        .collect()
}

fn provenance(
    path: &Path,
    metadata: Option<&Vec<parquet::file::metadata::KeyValue>>,
) -> Result<Provenance, CacheError> {
    let json = metadata
        .into_iter()
        .flatten()
        .find(|kv| kv.key == PROVENANCE_KEY)
        .and_then(|kv| kv.value.as_deref())
        .ok_or_else(|| CacheError::NoProvenance {
            path: path.to_owned(),
        })?;
    serde_json::from_str(json).map_err(|source| CacheError::Provenance {
        path: path.to_owned(),
        source,
    })
}

/// Where the columns training needs stand in the file.
struct Layout {
    /// The names of the columns read: `timestamp`, `signal`, the entity labels, then
    /// the features kept, each once.
    names: Vec<String>,
    /// Where each of `names` stands in the file.
    file_indices: Vec<usize>,
    entity_labels: usize,
    /// Per signal, per kept column: the feature's name.
    features: Vec<Vec<String>>,
}

/// One batch's columns, typed.
struct Columns<'b> {
    timestamps: &'b arrow_array::PrimitiveArray<TimestampMillisecondType>,
    signals: &'b DictionaryArray<Int32Type>,
    entity: Vec<&'b DictionaryArray<Int32Type>>,
    /// Per signal, per kept column: its values.
    features: Vec<Vec<&'b arrow_array::PrimitiveArray<Float64Type>>>,
}

impl Layout {
    fn new(
        path: &Path,
        pipeline: &Pipeline,
        columns: &[Vec<usize>],
        schema: &arrow_schema::Schema,
    ) -> Result<Layout, CacheError> {
        let features: Vec<Vec<String>> = pipeline
            .signals
            .iter()
            .zip(columns)
            .map(|(signal, kept)| {
                let names = signal.features.names();
                kept.iter().map(|&c| names[c].clone()).collect()
            })
            .collect();
        let mut wanted: Vec<&str> = vec!["timestamp", "signal"];
        wanted.extend(pipeline.entity_labels.iter().map(String::as_str));
        for name in features.iter().flatten() {
            if !wanted.contains(&name.as_str()) {
                wanted.push(name);
            }
        }
        let mut file_indices = Vec::with_capacity(wanted.len());
        for name in &wanted {
            let index = schema
                .index_of(name)
                .map_err(|_| CacheError::column(path, name, "is missing"))?;
            file_indices.push(index);
        }
        Ok(Layout {
            names: wanted.into_iter().map(str::to_owned).collect(),
            file_indices,
            entity_labels: pipeline.entity_labels.len(),
            features,
        })
    }

    fn columns_of<'b>(
        &'b self,
        path: &Path,
        batch: &'b RecordBatch,
    ) -> Result<Columns<'b>, CacheError> {
        let typed = |name: &str, problem| CacheError::column(path, name, problem);
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| typed(name, "is missing"))
        };
        let text = |name: &str| {
            let array = column(name)?
                .as_dictionary_opt::<Int32Type>()
                .filter(|d| d.values().as_string_opt::<i32>().is_some());
            array.ok_or_else(|| typed(name, "is not dictionary-encoded text"))
        };
        let timestamps = column("timestamp")?
            .as_primitive_opt::<TimestampMillisecondType>()
            .ok_or_else(|| typed("timestamp", "is not a millisecond timestamp"))?;
        let signals = text("signal")?;
        let entity = self.names[2..2 + self.entity_labels]
            .iter()
            .map(|name| text(name))
            .collect::<Result<Vec<_>, _>>()?;
        let double = |name: &String| {
            column(name)?
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| typed(name, "is not a double"))
        };
        let features = self
            .features
            .iter()
            .map(|names| names.iter().map(double).collect());
        Ok(Columns {
            timestamps,
            signals,
            entity,
            features: features.collect::<Result<_, _>>()?,
        })
    }
}

/// Trajectories as the batches come, keyed by signal and entity.
struct Gathered {
    /// By name, the index of each signal something is kept of.
    signal_of: HashMap<String, usize>,
    kept: Vec<Arc<[usize]>>,
    widths: Vec<usize>,
    /// Per entity label: its values, each once; id 0 is "absent".
    values: Vec<Vec<String>>,
    ids: Vec<HashMap<String, u32>>,
    /// Its key → a trajectory's place in `trajectories`.
    index: HashMap<Box<[u32]>, usize>,
    trajectories: Vec<Keyed>,
}

/// A trajectory being gathered, and its key: `[signal, label value ids…]`.
struct Keyed {
    key: Box<[u32]>,
    trajectory: Trajectory,
}

impl Gathered {
    fn new(pipeline: &Pipeline, columns: &[Vec<usize>]) -> Gathered {
        let labels = pipeline.entity_labels.len();
        Gathered {
            signal_of: pipeline
                .signals
                .iter()
                .enumerate()
                .filter(|&(s, _)| !columns[s].is_empty())
                .map(|(s, signal)| (signal.name.clone(), s))
                .collect(),
            kept: columns.iter().map(|c| Arc::from(c.as_slice())).collect(),
            widths: pipeline
                .signals
                .iter()
                .map(|s| s.features.width())
                .collect(),
            values: vec![vec![String::new()]; labels],
            ids: vec![HashMap::new(); labels],
            index: HashMap::new(),
            trajectories: Vec::new(),
        }
    }

    /// The stable id of each value of a batch's dictionary (0 for none).
    fn value_ids(&mut self, label: usize, column: &DictionaryArray<Int32Type>) -> Vec<u32> {
        let values = column.values().as_string::<i32>();
        (0..values.len())
            .map(|k| {
                let value = values.value(k);
                if value.is_empty() {
                    return 0;
                }
                if let Some(&id) = self.ids[label].get(value) {
                    return id;
                }
                self.values[label].push(value.to_owned());
                let id = (self.values[label].len() - 1) as u32;
                self.ids[label].insert(value.to_owned(), id);
                id
            })
            .collect()
    }

    fn add(&mut self, columns: &Columns) {
        let signal_names = columns.signals.values().as_string::<i32>();
        let signal_at: Vec<Option<usize>> = (0..signal_names.len())
            .map(|k| self.signal_of.get(signal_names.value(k)).copied())
            .collect();
        let ids: Vec<Vec<u32>> = columns
            .entity
            .iter()
            .enumerate()
            .map(|(label, column)| self.value_ids(label, column))
            .collect();
        let mut key: Vec<u32> = Vec::new();
        let mut row: Vec<f64> = Vec::new();
        for r in 0..columns.timestamps.len() {
            let Some(signal) = columns.signals.key(r).and_then(|k| signal_at[k]) else {
                continue;
            };
            key.clear();
            key.push(signal as u32);
            for (column, ids) in columns.entity.iter().zip(&ids) {
                key.push(column.key(r).map_or(0, |k| ids[k]));
            }
            let at = match self.index.get(key.as_slice()) {
                Some(&at) => at,
                None => {
                    let at = self.trajectories.len();
                    self.index.insert(key.as_slice().into(), at);
                    let trajectory = Trajectory {
                        entity: Labels::default(),
                        times_ms: Vec::new(),
                        rows: Rows::new(self.kept[signal].clone(), self.widths[signal]),
                    };
                    self.trajectories.push(Keyed {
                        key: key.as_slice().into(),
                        trajectory,
                    });
                    at
                }
            };
            row.clear();
            row.resize(self.widths[signal], f64::NAN);
            for (&c, values) in self.kept[signal].iter().zip(&columns.features[signal]) {
                if values.is_valid(r) {
                    row[c] = values.value(r);
                }
            }
            let trajectory = &mut self.trajectories[at].trajectory;
            trajectory.times_ms.push(columns.timestamps.value(r));
            trajectory.rows.push(&row);
        }
    }

    /// Per signal, its trajectories in entity label order.
    fn finish(self, entity_labels: &[String]) -> Vec<Vec<Trajectory>> {
        let mut by_signal: Vec<Vec<Trajectory>> = vec![Vec::new(); self.kept.len()];
        for Keyed {
            key,
            mut trajectory,
        } in self.trajectories
        {
            let values = entity_labels.iter().zip(&key[1..]).zip(&self.values);
            trajectory.entity = Labels::new(
                values.map(|((name, &id), values)| (name.as_str(), values[id as usize].as_str())),
            );
            by_signal[key[0] as usize].push(trajectory);
        }
        for trajectories in &mut by_signal {
            trajectories.sort_by(|a, b| a.entity.cmp(&b.entity));
        }
        by_signal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signals_and_targets_a_table_lacks_are_named() {
        let pipeline = PipelineSpec::of(&Pipeline::embedded_default());
        assert!(missing_from(&pipeline, &pipeline).is_empty());
        let mut table = pipeline.clone();
        let signal = table.signals.remove(0);
        let target = table.targets.pop().unwrap();
        assert_eq!(
            missing_from(&table, &pipeline),
            [
                format!("signal {}: not in the table", signal.name),
                format!("target {}: not in the table", target.alert)
            ]
        );
    }
}
