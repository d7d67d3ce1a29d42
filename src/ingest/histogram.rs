//! A native histogram message (same field numbers in 1.0 and 2.0): well-formed, and
//! consistent as Prometheus's `Histogram.Validate` and `FloatHistogram.Validate` require.
//!
//! Histograms are accepted and counted but not scored yet, so nothing is kept: the walk
//! makes sure the message is what prost would accept (else a `WireError`) and that it
//! describes a histogram (else a [`HistogramProblem`]), in one pass, without allocating:
//!
//! - each side's spans cover exactly as many buckets as it has (deltas for an integer
//!   histogram, counts for a float one), and only the first span may have a negative
//!   offset;
//! - no bucket count is negative (an integer histogram's counts are its running sums of
//!   deltas);
//! - an integer histogram's count equals its zero count plus its buckets' (at least
//!   that, when its sum is NaN); a float histogram's is not compared, as floating-point
//!   sums may differ from it;
//! - custom buckets (schema −53): strictly increasing bounds, enough of them for the
//!   spans, no negative offsets, no zero bucket and no negative side.

use std::fmt;

#[cfg(test)]
mod tests;

use super::batch::Protocol;
use super::wire::{Reader, WireError, WireType};

/// The schema of histograms with custom bucket bounds (`custom_values`).
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// Why a well-formed histogram message is not a histogram.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramProblem {
    #[error("{side} span {span} has the negative offset {offset}")]
    NegativeOffset {
        side: Side,
        span: usize,
        offset: i32,
    },
    #[error("{side} spans cover {spans} buckets, but there are {buckets}")]
    SpansBuckets {
        side: Side,
        spans: u64,
        buckets: u64,
    },
    #[error("{side} bucket {bucket} has the negative count {count}")]
    NegativeBucket {
        side: Side,
        bucket: usize,
        count: f64,
    },
    #[error("{in_buckets} observations in the zero and other buckets, but the count is {count}")]
    Count { in_buckets: u64, count: u64 },
    #[error("custom bucket bounds are not increasing: {current} after {previous}")]
    CustomBounds { previous: f64, current: f64 },
    #[error("{bounds} custom bounds cannot cover spans reaching bucket {reach}")]
    CustomCover { bounds: u64, reach: u64 },
    #[error("custom buckets: {0}")]
    Custom(&'static str),
}

/// A side of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Negative,
    Positive,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Negative => "negative",
            Side::Positive => "positive",
        })
    }
}

/// Walks a histogram message: an error when it is not protobuf, else what makes it not
/// a histogram, if anything.
pub fn check_histogram(
    message: &[u8],
    protocol: Protocol,
) -> Result<Option<HistogramProblem>, WireError> {
    let mut seen = Seen::default();
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => {
                seen.count_int = int(&mut reader, wire_type)?;
                seen.float = false;
            }
            2 => {
                reader.double(wire_type)?;
                seen.float = true;
            }
            3 => seen.sum = reader.double(wire_type)?,
            // schema: sint32, zigzag-encoded; prost keeps the low 32 bits.
            4 => {
                let raw = int(&mut reader, wire_type)? as u32;
                seen.schema = ((raw >> 1) as i32) ^ -((raw & 1) as i32);
            }
            5 => seen.zero_threshold = reader.double(wire_type)?,
            6 => {
                seen.zero_count_int = int(&mut reader, wire_type)?;
                seen.zero_count_float = 0.0;
            }
            7 => {
                seen.zero_count_float = reader.double(wire_type)?;
                seen.zero_count_int = 0;
            }
            8 | 11 => {
                let (start, span) = reader.message(wire_type)?;
                let (offset, length) = read_span(span).map_err(|e| e.shifted(start))?;
                seen.side_mut(field == 8).add_span(offset, length);
            }
            9 | 12 => {
                let side = seen.side_mut(field == 9);
                reader.repeated_varint(wire_type, |raw| side.add_delta(raw))?;
            }
            10 | 13 => {
                let side = seen.side_mut(field == 10);
                reader.repeated_double(wire_type, |count| side.add_count(count))?;
            }
            // reset_hint, timestamp: varint scalars.
            14 | 15 => {
                int(&mut reader, wire_type)?;
            }
            16 => reader.repeated_double(wire_type, |bound| seen.add_bound(bound))?,
            // start_timestamp, a varint in 2.0 and an unknown field in 1.0.
            17 if protocol == Protocol::V2 => {
                int(&mut reader, wire_type)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(seen.validate().err())
}

fn int(reader: &mut Reader<'_>, wire_type: WireType) -> Result<u64, WireError> {
    reader.expect(wire_type, WireType::Varint)?;
    reader.varint()
}

/// A `BucketSpan`: offset (sint32) and length (uint32).
fn read_span(message: &[u8]) -> Result<(i32, u32), WireError> {
    let (mut offset, mut length) = (0, 0);
    let mut reader = Reader::nested(message, 3);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 => {
                let raw = int(&mut reader, wire_type)? as u32;
                offset = ((raw >> 1) as i32) ^ -((raw & 1) as i32);
            }
            2 => length = reader.uint32(wire_type)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok((offset, length))
}

/// What the walk keeps of a histogram to validate it.
struct Seen {
    float: bool,
    count_int: u64,
    sum: f64,
    schema: i32,
    zero_threshold: f64,
    zero_count_int: u64,
    zero_count_float: f64,
    negative: SideSeen,
    positive: SideSeen,
    bounds: u64,
    last_bound: f64,
    /// The first pair of bounds out of order.
    unordered: Option<(f64, f64)>,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            float: false,
            count_int: 0,
            sum: 0.0,
            schema: 0,
            zero_threshold: 0.0,
            zero_count_int: 0,
            zero_count_float: 0.0,
            negative: SideSeen::default(),
            positive: SideSeen::default(),
            bounds: 0,
            last_bound: f64::NEG_INFINITY,
            unordered: None,
        }
    }
}

/// One side's spans and buckets, as far as validation needs them.
#[derive(Default)]
struct SideSeen {
    spans: usize,
    span_buckets: u64,
    /// Offsets and lengths added up (how far the spans reach, for custom bounds).
    reach: i64,
    /// The first span after the first with a negative offset, and the first span of all
    /// when it is negative (only custom buckets refuse that one).
    later_negative: Option<(usize, i32)>,
    first_negative: Option<i32>,
    deltas: u64,
    /// The running sum of the deltas: the latest bucket's count.
    running: i64,
    delta_total: u64,
    negative_delta_bucket: Option<(usize, i64)>,
    counts: u64,
    negative_count_bucket: Option<(usize, f64)>,
}

impl SideSeen {
    fn add_span(&mut self, offset: i32, length: u32) {
        if offset < 0 {
            match self.spans {
                0 => self.first_negative = Some(offset),
                n => {
                    self.later_negative.get_or_insert((n + 1, offset));
                }
            }
        }
        self.spans += 1;
        self.span_buckets += u64::from(length);
        self.reach += i64::from(offset) + i64::from(length);
    }

    /// A bucket of an integer histogram, as the zigzag-encoded delta to the previous.
    fn add_delta(&mut self, raw: u64) {
        let delta = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        self.running = self.running.wrapping_add(delta);
        if self.running < 0 {
            self.negative_delta_bucket
                .get_or_insert((self.deltas as usize + 1, self.running));
        } else {
            self.delta_total = self.delta_total.saturating_add(self.running as u64);
        }
        self.deltas += 1;
    }

    fn add_count(&mut self, count: f64) {
        self.counts += 1;
        if count < 0.0 {
            self.negative_count_bucket
                .get_or_insert((self.counts as usize, count));
        }
    }

    fn check(&self, side: Side, float: bool, custom: bool) -> Result<(), HistogramProblem> {
        if let Some((span, offset)) = self.later_negative {
            return Err(HistogramProblem::NegativeOffset { side, span, offset });
        }
        if let (true, Some(offset)) = (custom, self.first_negative) {
            return Err(HistogramProblem::NegativeOffset {
                side,
                span: 1,
                offset,
            });
        }
        let buckets = if float { self.counts } else { self.deltas };
        if self.span_buckets != buckets {
            return Err(HistogramProblem::SpansBuckets {
                side,
                spans: self.span_buckets,
                buckets,
            });
        }
        let negative = if float {
            self.negative_count_bucket
        } else {
            self.negative_delta_bucket.map(|(b, c)| (b, c as f64))
        };
        match negative {
            Some((bucket, count)) => Err(HistogramProblem::NegativeBucket {
                side,
                bucket,
                count,
            }),
            None => Ok(()),
        }
    }
}

impl Seen {
    fn side_mut(&mut self, negative: bool) -> &mut SideSeen {
        if negative {
            &mut self.negative
        } else {
            &mut self.positive
        }
    }

    fn add_bound(&mut self, bound: f64) {
        if bound <= self.last_bound || bound.is_nan() {
            self.unordered.get_or_insert((self.last_bound, bound));
        }
        self.last_bound = bound;
        self.bounds += 1;
    }

    fn validate(&self) -> Result<(), HistogramProblem> {
        let custom = self.schema == CUSTOM_BUCKETS_SCHEMA;
        if custom {
            self.check_custom()?;
        } else {
            self.negative.check(Side::Negative, self.float, false)?;
        }
        self.positive.check(Side::Positive, self.float, custom)?;
        if self.float {
            return Ok(());
        }
        let in_buckets = self
            .zero_count_int
            .saturating_add(self.negative.delta_total)
            .saturating_add(self.positive.delta_total);
        let consistent = if self.sum.is_nan() {
            in_buckets <= self.count_int
        } else {
            in_buckets == self.count_int
        };
        if consistent {
            Ok(())
        } else {
            Err(HistogramProblem::Count {
                in_buckets,
                count: self.count_int,
            })
        }
    }

    fn check_custom(&self) -> Result<(), HistogramProblem> {
        if self.zero_count_int != 0 || self.zero_count_float != 0.0 {
            return Err(HistogramProblem::Custom("the zero count must be 0"));
        }
        if self.zero_threshold != 0.0 {
            return Err(HistogramProblem::Custom("the zero threshold must be 0"));
        }
        if self.negative.spans > 0 || self.negative.deltas > 0 || self.negative.counts > 0 {
            return Err(HistogramProblem::Custom("there is no negative side"));
        }
        if let Some((previous, current)) = self.unordered {
            return Err(HistogramProblem::CustomBounds { previous, current });
        }
        let reach = self.positive.reach.max(0) as u64;
        if self.bounds + 1 < reach {
            return Err(HistogramProblem::CustomCover {
                bounds: self.bounds,
                reach,
            });
        }
        Ok(())
    }
}
