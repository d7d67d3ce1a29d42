//! The CSV exports a command reads (`--data`, `--duplicates`), read with a warning per
//! file whose duplicates were resolved.

use std::path::PathBuf;

use harbinger::dataset::{self, Dataset, DatasetError, Duplicates};

#[derive(clap::Args)]
pub struct Exports {
    /// CSV export(s) (long format or Grafana's series-joined-by-time; .gz ok).
    #[arg(long, value_name = "FILE", required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// A series with two different values at one timestamp (a daylight-saving hour folded
    /// by the source system, two exports that overlap): keep the last value read, the
    /// first, or refuse the file.
    #[arg(long, value_enum, value_name = "KEEP", default_value_t = Duplicates::Last)]
    pub duplicates: Duplicates,
}

impl Exports {
    pub fn read(&self) -> Result<Dataset, DatasetError> {
        Ok(self.warned(dataset::read_files(&self.data, self.duplicates)?))
    }

    /// Only the series of these metric names.
    pub fn read_named(&self, names: &[&str]) -> Result<Dataset, DatasetError> {
        Ok(self.warned(dataset::read_files_named(
            &self.data,
            self.duplicates,
            names,
        )?))
    }

    /// The dataset, after a warning per file whose duplicates were resolved.
    fn warned(&self, loaded: dataset::Loaded) -> Dataset {
        for resolved in &loaded.resolved {
            tracing::warn!(
                file = %resolved.path.display(),
                samples = resolved.samples,
                kept = ?self.duplicates,
                "samples repeat a timestamp of their series with another value; \
                 one value kept per timestamp (--duplicates error refuses them)"
            );
        }
        loaded.dataset
    }
}
