//! Output files of the commands: plain, or gzipped when the name ends in `.gz`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use flate2::write::GzEncoder;

pub enum Output {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Output {
    pub fn create(path: &Path) -> anyhow::Result<Output> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let buffered = BufWriter::new(file);
        Ok(if path.extension().is_some_and(|e| e == "gz") {
            Output::Gzip(GzEncoder::new(buffered, flate2::Compression::default()))
        } else {
            Output::Plain(buffered)
        })
    }

    /// Writes what is buffered and, for gzip, the stream's trailer; errors are reported
    /// here rather than lost on drop.
    pub fn finish(self) -> std::io::Result<()> {
        let mut buffered = match self {
            Output::Plain(buffered) => buffered,
            Output::Gzip(encoder) => encoder.finish()?,
        };
        buffered.flush()
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Plain(w) => w.write(bytes),
            Output::Gzip(w) => w.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Plain(w) => w.flush(),
            Output::Gzip(w) => w.flush(),
        }
    }
}
