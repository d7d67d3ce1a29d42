//! One CSV file opened for reading, record by record.
//!
//! In: a path. Out: the header and then each record as fields of raw bytes, with the line
//! it starts on (1-based, exact also after blank lines and CRLF line ends, where the `csv`
//! crate's own count is off). Gzip is recognised by its magic bytes; a UTF-8 byte order
//! mark and the `sep=;` line that Grafana's "Download for Excel" writes first are skipped
//! (the line still counts). Every error is turned into a `DatasetError` here.
//!
//! Records are parsed with `csv-core` into buffers that are reused, so reading a row
//! allocates nothing. A caller can ask for a record to be split after its first fields
//! (`split_after`): the raw text of the rest is then available as one slice when it sits
//! in one input buffer, which lets the long format key a row's label cells with one hash
//! instead of one step per cell.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::Range;
use std::path::Path;

use csv_core::ReadRecordResult;
use flate2::bufread::MultiGzDecoder;

use super::error::{At, DatasetError, Problem};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";
const BUFFER_BYTES: usize = 1 << 16;

pub struct CsvFile<'p> {
    pub path: &'p Path,
    input: Box<dyn Read + 'p>,
    parser: csv_core::Reader,
    /// Input read but not parsed yet is `buffer[start..end]`.
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Lines the parser did not see: the `sep=` line and line ends between records.
    unseen_lines: u64,
    /// The header's field count, once the header has been read.
    header_fields: Option<usize>,
    /// The current record's unescaped field bytes, and where each field ends in them.
    bytes: Vec<u8>,
    ends: Vec<usize>,
    field_count: usize,
    /// See `split_after`.
    split: usize,
    rest: Option<Range<usize>>,
}

impl<'p> CsvFile<'p> {
    pub fn open(path: &'p Path) -> Result<CsvFile<'p>, DatasetError> {
        let fail = |problem| DatasetError {
            path: path.to_owned(),
            at: At::file(),
            problem,
        };
        let file = File::open(path).map_err(|e| fail(Problem::Open(e)))?;
        let mut compressed = BufReader::with_capacity(BUFFER_BYTES, file);
        let head = compressed.fill_buf().map_err(|e| fail(Problem::Read(e)))?;
        let gzip = head.starts_with(&GZIP_MAGIC);
        let named_gz = path.extension().is_some_and(|ext| ext == "gz");
        if named_gz && !gzip && !head.is_empty() {
            return Err(fail(Problem::NotGzip));
        }
        let mut input: Box<dyn Read + 'p> = match gzip {
            true => Box::new(MultiGzDecoder::new(compressed)),
            false => Box::new(compressed),
        };
        let mut buffer = vec![0; BUFFER_BYTES].into_boxed_slice();
        let end = read_some(&mut input, &mut buffer).map_err(|e| fail(Problem::Read(e)))?;
        let (start, delimiter, unseen_lines) = preamble(&buffer[..end]);
        let parser = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        Ok(CsvFile {
            path,
            input,
            parser,
            buffer,
            start,
            end,
            unseen_lines,
            header_fields: None,
            bytes: vec![0; 1024],
            ends: vec![0; 64],
            field_count: 0,
            split: 0,
            rest: None,
        })
    }

    /// From now on, split records after their first `fields` fields: see `rest`.
    pub fn split_after(&mut self, fields: usize) {
        self.split = fields;
        if self.ends.len() <= fields {
            self.ends.resize(fields + 1, 0);
        }
    }

    /// Reads the next record and returns the line it starts on, or `None` at the end of the
    /// file. The first record is the header; every later one must have as many fields.
    pub fn next(&mut self) -> Result<Option<u32>, DatasetError> {
        if !self.skip_line_ends()? {
            return Ok(None);
        }
        let line = self.parser.line() + self.unseen_lines;
        self.read_record()?;
        let found = self.field_count;
        let expected = *self.header_fields.get_or_insert(found);
        if found != expected {
            let problem = Problem::RowLength { found, expected };
            return Err(self.error(At::line(line), problem));
        }
        let line =
            u32::try_from(line).map_err(|_| self.error(At::file(), Problem::TooManyLines))?;
        Ok(Some(line))
    }

    pub fn len(&self) -> usize {
        self.field_count
    }

    /// Field `index` of the current record.
    pub fn field(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// The raw text of the current record after the split (delimiters, quotes and the
    /// line end included), when it was read from one input buffer. Two rows with the same
    /// raw text have the same fields there.
    pub fn rest(&self) -> Option<&[u8]> {
        self.rest.clone().map(|range| &self.buffer[range])
    }

    pub fn error(&self, at: At, problem: Problem) -> DatasetError {
        DatasetError {
            path: self.path.to_owned(),
            at,
            problem,
        }
    }

    /// Consumes the line ends before a record, counting them, so that the parser starts on
    /// the record's first byte; `false` at the end of the input.
    fn skip_line_ends(&mut self) -> Result<bool, DatasetError> {
        loop {
            if self.start == self.end && !self.fill()? {
                return Ok(false);
            }
            match self.buffer[self.start] {
                b'\n' => self.unseen_lines += 1,
                b'\r' => {}
                _ => return Ok(true),
            }
            self.start += 1;
        }
    }

    fn read_record(&mut self) -> Result<(), DatasetError> {
        let (mut bytes, mut fields) = (0, 0);
        let mut rest_start = None;
        loop {
            let limit = if fields < self.split {
                self.split
            } else {
                self.ends.len()
            };
            let (result, read, written, ended) = self.parser.read_record(
                &self.buffer[self.start..self.end],
                &mut self.bytes[bytes..],
                &mut self.ends[fields..limit],
            );
            self.start += read;
            bytes += written;
            fields += ended;
            if self.split > 0 && fields == self.split && rest_start.is_none() {
                rest_start = Some(self.start);
            }
            match result {
                ReadRecordResult::Record | ReadRecordResult::End => break,
                ReadRecordResult::InputEmpty => {
                    // The rest is no longer one slice of the buffer once it is refilled.
                    rest_start = rest_start.filter(|&start| start == self.end);
                    self.fill()?;
                    rest_start = rest_start.map(|_| self.start);
                }
                ReadRecordResult::OutputFull => self.bytes.resize(self.bytes.len() * 2, 0),
                ReadRecordResult::OutputEndsFull if fields == self.ends.len() => {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {} // reached the split
            }
        }
        self.field_count = fields;
        self.rest = rest_start.map(|start| start..self.start);
        Ok(())
    }

    /// Replaces the consumed buffer with more input; `false` at the end of the input.
    fn fill(&mut self) -> Result<bool, DatasetError> {
        let read = read_some(&mut self.input, &mut self.buffer).map_err(|e| {
            let at = At::line(self.parser.line() + self.unseen_lines);
            self.error(at, Problem::Read(e))
        })?;
        (self.start, self.end) = (0, read);
        Ok(read > 0)
    }
}

/// Reads until `buffer` is full or the input ends, so that a short read from the gzip
/// decoder does not split a record needlessly.
fn read_some(input: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Where the CSV starts in the first buffer, its delimiter, and how many lines came before
/// it: a byte order mark is skipped, and so is an Excel `sep=X` line.
fn preamble(head: &[u8]) -> (usize, u8, u64) {
    let start = if head.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    if let [
        b's' | b'S',
        b'e' | b'E',
        b'p' | b'P',
        b'=',
        delimiter,
        rest @ ..,
    ] = &head[start..]
    {
        match rest {
            [b'\r', b'\n', ..] => return (start + 7, *delimiter, 1),
            [b'\n', ..] => return (start + 6, *delimiter, 1),
            _ => {}
        }
    }
    (start, b',', 0)
}
