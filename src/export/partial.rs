//! The output of an export while it runs, and what lets an interrupted one resume.
//!
//! In: the output path, what is being exported ([`Identity`]), then the CSV rows of one
//! series after another. Out: `FILE.partial` growing series by series, and beside it
//! `FILE.progress`, a small JSON record of how many series are complete and how many bytes
//! of `FILE.partial` hold them; at the end `FILE.partial` is renamed to `FILE` and the
//! record removed.
//!
//! Resuming truncates `FILE.partial` to the recorded length and goes on with the next
//! series, so a resumed export writes the bytes an uninterrupted one would have. For that a
//! gzip output (`.gz`) is a sequence of gzip members, one for the header and one per
//! series: a member ends where a series ends, whether or not the export was interrupted.
//! Readers of multi-member gzip (gzip itself, Python, `dataset::read`) see one stream.
//! The record is replaced atomically (written aside, then renamed), after the bytes it
//! counts have been written, so it never claims more than the file holds.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::error::ExportError;
use super::grid::Grid;

const RECORD_VERSION: u32 = 1;

/// What an export is: a resumed export must ask the same and find the same series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub matchers: Vec<String>,
    pub grid: Grid,
    pub series: usize,
    /// `SeriesList::fingerprint`, in hex (JSON numbers lose bits past 2^53).
    pub series_fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    version: u32,
    identity: Identity,
    series_done: usize,
    bytes: u64,
}

pub struct PartialFile {
    out: PathBuf,
    partial: PathBuf,
    progress: PathBuf,
    file: BufWriter<File>,
    gzip: bool,
    identity: Identity,
    series_done: usize,
}

impl PartialFile {
    /// Starts `out` afresh (an earlier partial file is overwritten) with the CSV `header`.
    pub fn create(out: &Path, identity: Identity, header: &[&str]) -> Result<Self, ExportError> {
        let (partial, _) = side_paths(out);
        let file = File::create(&partial).map_err(ExportError::io(&partial))?;
        let mut this = PartialFile::at(out, file, identity, 0);
        let mut member = this.member();
        member.write_record(header.iter().copied())?;
        member.commit(0)?;
        Ok(this)
    }

    /// Continues the export recorded beside `out`, or `None` when there is no record.
    pub fn resume(out: &Path, identity: Identity) -> Result<Option<Self>, ExportError> {
        let (partial, progress) = side_paths(out);
        let text = match std::fs::read_to_string(&progress) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(ExportError::io(&progress)(error)),
        };
        let refuse = |reason: String| ExportError::Resume {
            path: out.to_owned(),
            reason,
        };
        let record: Record = serde_json::from_str(&text).map_err(|e| {
            refuse(format!(
                "{} is not a progress record: {e}",
                progress.display()
            ))
        })?;
        if record.version != RECORD_VERSION {
            return Err(refuse(format!(
                "{} was written by another version of harbinger",
                progress.display()
            )));
        }
        if record.identity.matchers != identity.matchers || record.identity.grid != identity.grid {
            return Err(refuse(format!(
                "the interrupted export asked for {:?} from {} to {} every {} ms",
                record.identity.matchers,
                crate::dataset::format_seconds(record.identity.grid.start_ms),
                crate::dataset::format_seconds(record.identity.grid.end_ms),
                record.identity.grid.step_ms,
            )));
        }
        if record.identity != identity {
            return Err(refuse(format!(
                "Prometheus now lists other series ({} instead of {})",
                identity.series, record.identity.series
            )));
        }
        let mut file = OpenOptions::new()
            .write(true)
            .open(&partial)
            .map_err(ExportError::io(&partial))?;
        let length = file.metadata().map_err(ExportError::io(&partial))?.len();
        if length < record.bytes {
            return Err(refuse(format!(
                "{} holds {length} bytes, fewer than the {} recorded as written",
                partial.display(),
                record.bytes
            )));
        }
        file.set_len(record.bytes)
            .and_then(|()| file.seek(SeekFrom::End(0)))
            .map_err(ExportError::io(&partial))?;
        Ok(Some(PartialFile::at(
            out,
            file,
            identity,
            record.series_done,
        )))
    }

    /// `file`, open on `out`'s partial file and positioned at its end.
    fn at(out: &Path, file: File, identity: Identity, series_done: usize) -> PartialFile {
        let (partial, progress) = side_paths(out);
        PartialFile {
            out: out.to_owned(),
            gzip: out.extension().is_some_and(|e| e == "gz"),
            partial,
            progress,
            file: BufWriter::new(file),
            identity,
            series_done,
        }
    }

    /// The number of series already written.
    pub fn series_done(&self) -> usize {
        self.series_done
    }

    /// A writer for the rows of the next series; [`Member::commit`] records it as done.
    pub fn member(&mut self) -> Member<'_> {
        let sink = match self.gzip {
            true => Sink::Gzip(GzEncoder::new(
                &mut self.file,
                flate2::Compression::default(),
            )),
            false => Sink::Plain(&mut self.file),
        };
        Member {
            csv: csv::Writer::from_writer(sink),
            path: &self.partial,
            progress: &self.progress,
            identity: &self.identity,
            series_done: &mut self.series_done,
        }
    }

    /// Makes the export `out`: syncs the partial file, renames it, removes the record.
    pub fn finish(self) -> Result<(), ExportError> {
        let file = self
            .file
            .into_inner()
            .map_err(|e| ExportError::io(&self.partial)(e.into_error()))?;
        file.sync_all().map_err(ExportError::io(&self.partial))?;
        std::fs::rename(&self.partial, &self.out).map_err(ExportError::io(&self.out))?;
        std::fs::remove_file(&self.progress).map_err(ExportError::io(&self.progress))
    }
}

/// `FILE.partial` and `FILE.progress` beside `FILE`.
fn side_paths(out: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut name = out.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    (with(".partial"), with(".progress"))
}

enum Sink<'f> {
    Plain(&'f mut BufWriter<File>),
    Gzip(GzEncoder<&'f mut BufWriter<File>>),
}

impl Write for Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(bytes),
            Sink::Gzip(w) => w.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

/// The rows of one series (or the header), a gzip member of their own when compressing.
pub struct Member<'p> {
    csv: csv::Writer<Sink<'p>>,
    path: &'p Path,
    progress: &'p Path,
    identity: &'p Identity,
    series_done: &'p mut usize,
}

impl Member<'_> {
    pub fn write_record<'c>(
        &mut self,
        cells: impl IntoIterator<Item = &'c str>,
    ) -> Result<(), ExportError> {
        self.csv
            .write_record(cells)
            .map_err(|e| ExportError::io(self.path)(e.into()))
    }

    /// Ends the member, writes it out, and records `done` more series as complete.
    pub fn commit(self, done: usize) -> Result<(), ExportError> {
        let io = ExportError::io(self.path);
        let sink = self.csv.into_inner().map_err(|e| io(e.into_error()))?;
        let file = match sink {
            Sink::Plain(file) => file,
            Sink::Gzip(encoder) => encoder.finish().map_err(ExportError::io(self.path))?,
        };
        let bytes = file
            .flush()
            .and_then(|()| file.stream_position())
            .map_err(ExportError::io(self.path))?;
        *self.series_done += done;
        let record = Record {
            version: RECORD_VERSION,
            identity: self.identity.clone(),
            series_done: *self.series_done,
            bytes,
        };
        let aside = self.progress.with_extension("progress.tmp");
        let json = serde_json::to_vec(&record).expect("a record serializes");
        std::fs::write(&aside, json)
            .and_then(|()| std::fs::rename(&aside, self.progress))
            .map_err(ExportError::io(self.progress))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(series: usize) -> Identity {
        Identity {
            matchers: vec!["up".to_owned()],
            grid: Grid::new(0, 60_000, 15_000).unwrap(),
            series,
            series_fingerprint: "00000000000000aa".to_owned(),
        }
    }

    /// Writes the header and `series` one-row members, committing the first `commit`.
    fn write(out: &Path, series: &[&str], commit: usize) -> Result<PartialFile, ExportError> {
        let mut partial = PartialFile::create(out, identity(series.len()), &["name"])?;
        for (index, name) in series.iter().enumerate() {
            let mut member = partial.member();
            member.write_record([*name])?;
            if index < commit {
                member.commit(1)?;
            }
        }
        Ok(partial)
    }

    #[test]
    fn a_resumed_file_drops_the_uncommitted_series_and_ends_as_an_uninterrupted_one() {
        for name in ["out.csv", "out.csv.gz"] {
            let dir = tempfile::tempdir().unwrap();
            let whole = dir.path().join(format!("whole-{name}"));
            write(&whole, &["a", "b", "c"], 3)
                .unwrap()
                .finish()
                .unwrap();

            let out = dir.path().join(name);
            let interrupted = write(&out, &["a", "b", "c"], 1).unwrap();
            // What a killed process leaves: buffered bytes reach the file, or not.
            drop(interrupted);
            let (partial, progress) = side_paths(&out);
            let record: Record = serde_json::from_slice(&std::fs::read(progress).unwrap()).unwrap();
            let length = std::fs::metadata(&partial).unwrap().len();
            assert!(length > record.bytes, "uncommitted rows to drop, {name}");
            let mut resumed = PartialFile::resume(&out, identity(3)).unwrap().unwrap();
            assert_eq!(resumed.series_done(), 1, "{name}");
            for series in ["b", "c"] {
                let mut member = resumed.member();
                member.write_record([series]).unwrap();
                member.commit(1).unwrap();
            }
            resumed.finish().unwrap();
            assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&whole).unwrap());
            assert!(!dir.path().join(format!("{name}.progress")).exists());
        }
    }

    #[test]
    fn resuming_refuses_another_request_or_other_series_and_starts_over_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.csv");
        assert!(PartialFile::resume(&out, identity(2)).unwrap().is_none());
        drop(write(&out, &["a", "b"], 1).unwrap());
        let error = PartialFile::resume(&out, identity(3)).err().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "cannot resume into {}: Prometheus now lists other series (3 instead of 2); \
                 run again without --resume to start over",
                out.display()
            )
        );
        let mut other = identity(2);
        other.matchers = vec!["ALERTS".to_owned()];
        let error = PartialFile::resume(&out, other).err().unwrap().to_string();
        assert!(
            error
                .contains(r#"the interrupted export asked for ["up"] from 0 to 60 every 15000 ms"#),
            "{error}"
        );
    }
}
