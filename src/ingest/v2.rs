//! Remote write 2.0: walks an `io.prometheus.write.v2.Request` in place.
//!
//! In: the decompressed body inside a `WriteBatch`. Out: the same flat series, labels
//! and samples as 1.0 (labels resolved through the symbols table to spans of the body),
//! plus each series' declared metric type and start timestamp. Every symbol reference
//! (labels, exemplar labels, help and unit) is checked against the table.
//!
//! A body that is not protobuf is refused whole. A series that is well-formed but not
//! valid (labels, refs, a histogram that is not consistent, no `__name__`, samples and
//! histograms together) is refused alone, as the 2.0 spec's partial write allows and
//! Prometheus's own receiver does: the batch keeps the other series and counts, in
//! `WriteBatch::rejected`, what the refused ones held.

use super::batch::{Held, LabelSpan, MetricType, Protocol, Sample, SeriesEntry, Span, WriteBatch};
use super::error::{DecodeError, SeriesProblem};
use super::histogram::check_histogram;
use super::labels::{LabelLimits, LabelSetChecker};
use super::wire::{Reader, WireError, WireType};

pub fn decode(batch: &mut WriteBatch, limits: &LabelLimits) -> Result<(), DecodeError> {
    read_symbols(batch)?;
    let WriteBatch {
        body,
        labels,
        series,
        samples,
        symbols,
        histograms,
        exemplars,
        metadata,
        rejected,
    } = batch;
    let body = body.as_slice();
    let mut refs = Vec::new();
    let mut position = 0;
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.next_field().map_err(DecodeError::Protobuf)? {
        if field != 5 {
            reader.skip(wire_type).map_err(DecodeError::Protobuf)?;
            continue;
        }
        let index = position;
        position += 1;
        let (start, message) = reader.message(wire_type).map_err(DecodeError::Protobuf)?;
        let sample_start = samples.len();
        let label_start = labels.len();
        refs.clear();
        let walked = walk_series(message, &mut refs, samples, symbols.len()).map_err(|error| {
            DecodeError::SeriesProtobuf {
                series: index,
                error: error.shifted(start),
            }
        })?;
        let checked = check_series(&walked, &refs, symbols, body, limits, labels);
        let hash = match checked {
            Ok(hash) => hash,
            Err(problem) => {
                // A partial write: this series is refused, the others go on.
                let held = Held {
                    samples: (samples.len() - sample_start) as u64,
                    histograms: walked.histograms,
                    exemplars: walked.exemplars,
                };
                rejected.refuse(index, problem, held);
                samples.truncate(sample_start);
                labels.truncate(label_start);
                continue;
            }
        };
        *histograms += walked.histograms;
        *exemplars += walked.exemplars;
        *metadata += u64::from(walked.metadata.is_some());
        series.push(SeriesEntry {
            labels: label_start as u32..labels.len() as u32,
            samples: sample_start as u32..samples.len() as u32,
            hash,
            metric_type: walked.metadata.map(|m| m.metric_type).unwrap_or_default(),
            start_timestamp_ms: walked.start_timestamp_ms,
            v1_message: None,
        });
    }
    Ok(())
}

/// Checks a walked series and resolves its labels into `labels`: its hash, or why the
/// series is refused (the caller drops what was pushed).
fn check_series(
    walked: &Walked,
    refs: &[u32],
    symbols: &[Span],
    body: &[u8],
    limits: &LabelLimits,
    labels: &mut Vec<LabelSpan>,
) -> Result<u64, SeriesProblem> {
    if let Some(problem) = &walked.problem {
        return Err(problem.clone());
    }
    check_refs(refs, symbols.len())?;
    if let Some(metadata) = &walked.metadata {
        check_metadata_refs(metadata, symbols.len())?;
    }
    if walked.samples > 0 && walked.histograms > 0 {
        return Err(SeriesProblem::SamplesAndHistograms);
    }
    let mut checker = LabelSetChecker::for_symbols(limits);
    let mut named = false;
    for pair in refs.chunks_exact(2) {
        let (name, value) = (symbols[pair[0] as usize], symbols[pair[1] as usize]);
        let name_bytes = slice(body, name);
        named |= name_bytes == b"__name__";
        checker.push(name_bytes, slice(body, value))?;
        labels.push(LabelSpan { name, value });
    }
    if !named {
        return Err(SeriesProblem::NoMetricName);
    }
    Ok(checker.finish())
}

/// Reads the symbols table (field 4) wherever it stands in the message, checking UTF-8.
fn read_symbols(batch: &mut WriteBatch) -> Result<(), DecodeError> {
    let body = batch.body.as_slice();
    let mut reader = Reader::new(body);
    while let Some((field, wire_type)) = reader.next_field().map_err(DecodeError::Protobuf)? {
        if field == 4 {
            let (start, text) = reader.string(wire_type).map_err(DecodeError::Protobuf)?;
            batch.symbols.push(Span::new(start, text.len()));
        } else {
            reader.skip(wire_type).map_err(DecodeError::Protobuf)?;
        }
    }
    Ok(())
}

fn slice(body: &[u8], span: Span) -> &[u8] {
    &body[span.start as usize..(span.start + span.len) as usize]
}

fn check_refs(refs: &[u32], symbols: usize) -> Result<(), SeriesProblem> {
    if !refs.len().is_multiple_of(2) {
        return Err(SeriesProblem::OddLabelRefs { count: refs.len() });
    }
    check_in_range(refs, symbols)
}

fn check_in_range(refs: &[u32], symbols: usize) -> Result<(), SeriesProblem> {
    match refs.iter().find(|&&r| r as usize >= symbols) {
        Some(&reference) => Err(SeriesProblem::SymbolOutOfRange { reference, symbols }),
        None => Ok(()),
    }
}

#[derive(Default)]
struct Walked {
    samples: u64,
    histograms: u64,
    exemplars: u64,
    /// The series' `Metadata`, merged over its occurrences as prost merges them.
    metadata: Option<Metadata>,
    start_timestamp_ms: i64,
    /// The first problem of an exemplar or a histogram that was well-formed.
    problem: Option<SeriesProblem>,
}

#[derive(Default, Clone, Copy)]
struct Metadata {
    metric_type: MetricType,
    help_ref: u32,
    unit_ref: u32,
}

fn walk_series(
    message: &[u8],
    refs: &mut Vec<u32>,
    samples: &mut Vec<Sample>,
    symbols: usize,
) -> Result<Walked, WireError> {
    let mut walked = Walked::default();
    let mut reader = Reader::nested(message, 1);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => reader.repeated_varint(wire_type, |r| refs.push(r as u32))?,
            2..=5 => {
                let (start, inner) = reader.message(wire_type)?;
                let shift = |e: WireError| e.shifted(start);
                match field {
                    2 => {
                        let (sample, start_ts) = read_sample(inner).map_err(shift)?;
                        samples.push(sample);
                        walked.samples += 1;
                        if start_ts != 0 {
                            walked.start_timestamp_ms = start_ts;
                        }
                    }
                    3 => {
                        if let Some(problem) =
                            check_histogram(inner, Protocol::V2).map_err(shift)?
                        {
                            let index = walked.histograms as usize;
                            let problem = SeriesProblem::Histogram { index, problem };
                            walked.problem.get_or_insert(problem);
                        }
                        walked.histograms += 1;
                    }
                    4 => {
                        let refs = check_exemplar(inner).map_err(shift)?;
                        if let Err(problem) = check_refs(&refs, symbols) {
                            walked.problem.get_or_insert(problem);
                        }
                        walked.exemplars += 1;
                    }
                    _ => {
                        let metadata = walked.metadata.get_or_insert_default();
                        merge_metadata(inner, metadata).map_err(shift)?;
                    }
                }
            }
            // `created_timestamp`, sent by 2.0 senders before the field moved into each
            // sample; now reserved, so read only when it has the old shape.
            6 if wire_type == WireType::Varint => {
                walked.start_timestamp_ms = reader.int64(wire_type)?
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(walked)
}

/// A sample and its own start timestamp (0 when absent).
fn read_sample(message: &[u8]) -> Result<(Sample, i64), WireError> {
    let mut sample = Sample {
        timestamp_ms: 0,
        value: 0.0,
    };
    let mut start_timestamp_ms = 0;
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => sample.value = reader.double(wire_type)?,
            2 => sample.timestamp_ms = reader.int64(wire_type)?,
            3 => start_timestamp_ms = reader.int64(wire_type)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok((sample, start_timestamp_ms))
}

/// An exemplar's label refs, checked by the caller against the symbols.
fn check_exemplar(message: &[u8]) -> Result<Vec<u32>, WireError> {
    let mut refs = Vec::new();
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => reader.repeated_varint(wire_type, |r| refs.push(r as u32))?,
            2 => {
                reader.double(wire_type)?;
            }
            3 => {
                reader.int64(wire_type)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(refs)
}

/// Merges one `Metadata` occurrence: type (enum, field 1), help_ref (3), unit_ref (4).
fn merge_metadata(message: &[u8], metadata: &mut Metadata) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => metadata.metric_type = MetricType::from_wire(reader.uint32(wire_type)?),
            3 => metadata.help_ref = reader.uint32(wire_type)?,
            4 => metadata.unit_ref = reader.uint32(wire_type)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

/// Ref 0 is the empty string by the spec's rule, and means "no help" or "no unit".
fn check_metadata_refs(metadata: &Metadata, symbols: usize) -> Result<(), SeriesProblem> {
    for reference in [metadata.help_ref, metadata.unit_ref] {
        if reference != 0 {
            check_in_range(&[reference], symbols)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_must_pair_and_stay_in_range() {
        assert_eq!(
            check_refs(&[1, 2, 3], 4),
            Err(SeriesProblem::OddLabelRefs { count: 3 })
        );
        assert_eq!(
            check_refs(&[1, 4], 4),
            Err(SeriesProblem::SymbolOutOfRange {
                reference: 4,
                symbols: 4
            })
        );
        assert_eq!(check_refs(&[1, 3], 4), Ok(()));
    }

    #[test]
    fn wrong_wire_type_for_metadata_is_an_error() {
        // field 1 (type) sent as a fixed64.
        let message = [0x09, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(merge_metadata(&message, &mut Metadata::default()).is_err());
    }
}
