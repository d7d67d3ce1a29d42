//! Remote write 1.0: walks a `prometheus.WriteRequest` in place.
//!
//! In: the decompressed body inside a `WriteBatch`. Out: the batch's series, label spans
//! and samples, every label set validated and hashed; histograms, exemplars and metadata
//! are checked for well-formedness and counted.
//!
//! A body that is not protobuf is refused whole. A series that is well-formed but not
//! valid (its labels, or a histogram that is not consistent) is refused alone, as
//! Prometheus's own receiver does: one bad series, sent again with every scrape, must not
//! lose the others of each batch it is in. `WriteBatch::rejected` counts what it held.

use super::batch::{Held, LabelSpan, MetricType, Protocol, Sample, SeriesEntry, Span, WriteBatch};
use super::error::{DecodeError, SeriesProblem};
use super::histogram::check_histogram;
use super::labels::{LabelLimits, LabelSetChecker};
use super::wire::{Reader, WireError, WireType};

pub fn decode(batch: &mut WriteBatch, limits: &LabelLimits) -> Result<(), DecodeError> {
    let WriteBatch {
        body,
        labels,
        series,
        samples,
        histograms,
        exemplars,
        metadata,
        rejected,
        ..
    } = batch;
    let body = body.as_slice();
    let mut reader = Reader::new(body);
    let mut position = 0;
    while let Some((field, wire_type)) = reader.next_field().map_err(DecodeError::Protobuf)? {
        match field {
            1 => {
                let index = position;
                position += 1;
                let (start, message) = reader.message(wire_type).map_err(DecodeError::Protobuf)?;
                let label_start = labels.len();
                let sample_start = samples.len();
                let counts = walk_series(body, message, labels, samples).map_err(|error| {
                    DecodeError::SeriesProtobuf {
                        series: index,
                        error: error.shifted(start),
                    }
                })?;
                let checked = match counts.invalid_histogram {
                    Some(problem) => Err(problem),
                    None => check_labels(body, &labels[label_start..], limits),
                };
                let hash = match checked {
                    Ok(hash) => hash,
                    Err(problem) => {
                        let held = Held {
                            samples: (samples.len() - sample_start) as u64,
                            histograms: counts.histograms,
                            exemplars: counts.exemplars,
                        };
                        rejected.refuse(index, problem, held);
                        samples.truncate(sample_start);
                        labels.truncate(label_start);
                        continue;
                    }
                };
                *histograms += counts.histograms;
                *exemplars += counts.exemplars;
                series.push(SeriesEntry {
                    labels: label_start as u32..labels.len() as u32,
                    samples: sample_start as u32..samples.len() as u32,
                    hash,
                    metric_type: MetricType::Unknown,
                    start_timestamp_ms: 0,
                    v1_message: Some(span_in(body, message)),
                });
            }
            3 => {
                let (start, message) = reader.message(wire_type).map_err(DecodeError::Protobuf)?;
                check_metadata(message).map_err(|e| DecodeError::Protobuf(e.shifted(start)))?;
                *metadata += 1;
            }
            _ => reader.skip(wire_type).map_err(DecodeError::Protobuf)?,
        }
    }
    Ok(())
}

/// Validates and hashes one series' labels.
fn check_labels(
    body: &[u8],
    labels: &[LabelSpan],
    limits: &LabelLimits,
) -> Result<u64, SeriesProblem> {
    let mut checker = LabelSetChecker::new(limits);
    for label in labels {
        checker.push(slice(body, label.name), slice(body, label.value))?;
    }
    Ok(checker.finish())
}

fn slice(body: &[u8], span: Span) -> &[u8] {
    &body[span.start as usize..(span.start + span.len) as usize]
}

/// Where `part` (a sub-slice of `body`) lies within it.
fn span_in(body: &[u8], part: &[u8]) -> Span {
    Span::new(part.as_ptr() as usize - body.as_ptr() as usize, part.len())
}

#[derive(Default)]
struct Counts {
    histograms: u64,
    exemplars: u64,
    /// The first histogram that is well-formed but not a histogram.
    invalid_histogram: Option<SeriesProblem>,
}

fn walk_series(
    body: &[u8],
    message: &[u8],
    labels: &mut Vec<LabelSpan>,
    samples: &mut Vec<Sample>,
) -> Result<Counts, WireError> {
    let mut counts = Counts::default();
    let mut reader = Reader::nested(message, 1);
    while let Some((field, wire_type)) = reader.next_field()? {
        let (start, inner) = match field {
            1..=4 => reader.message(wire_type)?,
            _ => {
                reader.skip(wire_type)?;
                continue;
            }
        };
        let shift = |e: WireError| e.shifted(start);
        match field {
            1 => {
                let (name, value) = read_label(inner).map_err(shift)?;
                labels.push(LabelSpan {
                    name: span_in(body, name),
                    value: span_in(body, value),
                });
            }
            2 => samples.push(read_sample(inner).map_err(shift)?),
            3 => {
                check_exemplar(inner).map_err(shift)?;
                counts.exemplars += 1;
            }
            _ => {
                if let Some(problem) = check_histogram(inner, Protocol::V1).map_err(shift)? {
                    let index = counts.histograms as usize;
                    let problem = SeriesProblem::Histogram { index, problem };
                    counts.invalid_histogram.get_or_insert(problem);
                }
                counts.histograms += 1;
            }
        }
    }
    Ok(counts)
}

/// A `Label`'s name and value bytes; UTF-8 is checked with the label set, so that the
/// error can name the series and label.
fn read_label(message: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    // An absent field is empty; the empty slice still points into the body, so that
    // its span can be computed like any other.
    let mut fields = [&message[..0]; 2];
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 | 2 => {
                reader.expect(wire_type, WireType::Len)?;
                let (start, bytes) = reader.len_delimited()?;
                let replaced = std::mem::replace(&mut fields[field as usize - 1], bytes);
                // prost checks every occurrence of a repeated string field; the last one
                // is checked with its label set, so that the error can name it. (The
                // first occurrence replaces an empty slice, which is valid.)
                if !replaced.is_empty() && std::str::from_utf8(replaced).is_err() {
                    return Err(WireError {
                        offset: start,
                        reason: "string is not valid UTF-8",
                    });
                }
            }
            _ => reader.skip(wire_type)?,
        }
    }
    let [name, value] = fields;
    Ok((name, value))
}

fn read_sample(message: &[u8]) -> Result<Sample, WireError> {
    let mut sample = Sample {
        timestamp_ms: 0,
        value: 0.0,
    };
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => sample.value = reader.double(wire_type)?,
            2 => sample.timestamp_ms = reader.int64(wire_type)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(sample)
}

fn check_exemplar(message: &[u8]) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => {
                let (start, label) = reader.message(wire_type)?;
                check_strings(label, &[1, 2]).map_err(|e| e.shifted(start))?;
            }
            2 => {
                reader.double(wire_type)?;
            }
            3 => {
                reader.int64(wire_type)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

/// `MetricMetadata`: type (enum), metric_family_name, help and unit (strings).
fn check_metadata(message: &[u8]) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 1);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => {
                reader.uint32(wire_type)?;
            }
            2 | 4 | 5 => {
                reader.string(wire_type)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

/// Checks a message whose listed fields are strings and whose others are skipped.
fn check_strings(message: &[u8], string_fields: &[u32]) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 3);
    while let Some((field, wire_type)) = reader.next_field()? {
        if string_fields.contains(&field) {
            reader.string(wire_type)?;
        } else {
            reader.skip(wire_type)?;
        }
    }
    Ok(())
}
