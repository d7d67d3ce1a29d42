//! The decoded form of one write request, shared by both protocol versions.
//!
//! A `WriteBatch` owns the decompressed body and, beside it, flat vectors of positions
//! into it: labels are spans of the body, never copied strings, so decoding allocates
//! nothing per sample or per label. A batch is reused across requests (see
//! `ingest::Decoder`), so its vectors keep their capacity.

use std::ops::Range;

use super::error::SeriesProblem;

/// Which remote-write protocol a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `prometheus.WriteRequest`, remote write 1.0.
    V1,
    /// `io.prometheus.write.v2.Request`, remote write 2.0.
    V2,
}

/// A byte range of the decoded body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    pub fn new(start: usize, len: usize) -> Span {
        // Bodies are capped far below 4 GiB by the decoded-size limit.
        Span {
            start: start as u32,
            len: len as u32,
        }
    }

    fn range(self) -> Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// One label of a series, as positions in the body.
#[derive(Debug, Clone, Copy)]
pub struct LabelSpan {
    pub name: Span,
    pub value: Span,
}

/// A float sample as it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub timestamp_ms: i64,
    pub value: f64,
}

/// The metric type a remote-write 2.0 sender declared for a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum MetricType {
    #[default]
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    GaugeHistogram = 4,
    Summary = 5,
    Info = 6,
    StateSet = 7,
}

impl MetricType {
    /// Maps the protocol's enum number; numbers this version does not know are `Unknown`,
    /// as prost does for an open enum.
    pub fn from_wire(number: u32) -> MetricType {
        match number {
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::GaugeHistogram,
            5 => MetricType::Summary,
            6 => MetricType::Info,
            7 => MetricType::StateSet,
            _ => MetricType::Unknown,
        }
    }
}

/// One series of the request, as ranges into the batch's flat vectors.
#[derive(Debug, Clone)]
pub struct SeriesEntry {
    pub labels: Range<u32>,
    pub samples: Range<u32>,
    /// Hash of the label set (names and values), the same for v1 and v2.
    pub hash: u64,
    pub metric_type: MetricType,
    /// The series' start (created) timestamp when the sender gave one, else 0.
    pub start_timestamp_ms: i64,
    /// Remote write 1.0: the `TimeSeries` message as it arrived, which re-encoding can
    /// copy whole. None for 2.0, whose labels are references into a symbols table.
    pub v1_message: Option<Span>,
}

/// A decoded, validated write request.
#[derive(Debug, Default)]
pub struct WriteBatch {
    /// The decompressed protobuf body that all spans point into.
    pub(crate) body: Vec<u8>,
    pub(crate) labels: Vec<LabelSpan>,
    pub(crate) series: Vec<SeriesEntry>,
    pub(crate) samples: Vec<Sample>,
    /// Remote-write 2.0 symbols table; empty for 1.0.
    pub(crate) symbols: Vec<Span>,
    pub histograms: u64,
    pub exemplars: u64,
    pub metadata: u64,
    /// The series refused while the others were kept (a 2.0 partial write; a 1.0 request
    /// keeps its other series too, as Prometheus's own receiver does).
    pub rejected: Rejected,
}

/// The series of a request that were refused, and what they carried: the request's other
/// series are written; a 2.0 answer (400) says what was not, a 1.0 answer is 204 (the
/// protocol has no partial write) and the refusal is logged and counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rejected {
    pub series: u64,
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
    /// The first refused series: its position in the request, and why.
    pub first: Option<(usize, SeriesProblem)>,
}

impl Rejected {
    pub fn is_empty(&self) -> bool {
        self.series == 0
    }

    /// Counts one refused series: the `index`-th of its request, and what it held.
    pub(crate) fn refuse(&mut self, index: usize, problem: SeriesProblem, held: Held) {
        self.series += 1;
        self.samples += held.samples;
        self.histograms += held.histograms;
        self.exemplars += held.exemplars;
        self.first.get_or_insert((index, problem));
    }
}

/// What one series of a request held.
pub(crate) struct Held {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
}

impl WriteBatch {
    pub(crate) fn clear(&mut self) {
        self.labels.clear();
        self.series.clear();
        self.samples.clear();
        self.symbols.clear();
        self.histograms = 0;
        self.exemplars = 0;
        self.metadata = 0;
        self.rejected = Rejected::default();
    }

    pub fn bytes(&self, span: Span) -> &[u8] {
        &self.body[span.range()]
    }

    pub fn series(&self) -> &[SeriesEntry] {
        &self.series
    }

    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// How many of its samples are later than `t_ms`.
    pub fn samples_later_than(&self, t_ms: i64) -> u64 {
        self.samples
            .iter()
            .filter(|s| s.timestamp_ms > t_ms)
            .count() as u64
    }

    /// The (name, value) byte pairs of a series, in the order they arrived (sorted).
    pub fn labels(&self, series: &SeriesEntry) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        self.labels[series.labels.start as usize..series.labels.end as usize]
            .iter()
            .map(|label| (self.bytes(label.name), self.bytes(label.value)))
    }

    pub fn samples(&self, series: &SeriesEntry) -> &[Sample] {
        &self.samples[series.samples.start as usize..series.samples.end as usize]
    }
}
