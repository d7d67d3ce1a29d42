//! Structural check of a native histogram message (same field numbers in 1.0 and 2.0).
//!
//! Histograms are accepted and counted but not scored yet, so nothing is kept; the walk
//! only makes sure the message is what prost would accept, so that a malformed histogram
//! is refused like any malformed body instead of slipping through unread.

use super::batch::Protocol;
use super::wire::{Reader, WireError, WireType};

pub fn check_histogram(message: &[u8], protocol: Protocol) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 2);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            // count_int, schema, zero_count_int, reset_hint, timestamp: varint scalars.
            1 | 4 | 6 | 14 | 15 => {
                reader.expect(wire_type, WireType::Varint)?;
                reader.varint()?;
            }
            // start_timestamp, a varint in 2.0 and an unknown field in 1.0.
            17 if protocol == Protocol::V2 => {
                reader.expect(wire_type, WireType::Varint)?;
                reader.varint()?;
            }
            // count_float, sum, zero_threshold, zero_count_float: doubles.
            2 | 3 | 5 | 7 => {
                reader.double(wire_type)?;
            }
            // negative_spans, positive_spans.
            8 | 11 => {
                let (start, span) = reader.message(wire_type)?;
                check_bucket_span(span).map_err(|e| e.shifted(start))?;
            }
            // negative_deltas, positive_deltas: repeated sint64.
            9 | 12 => reader.repeated_varint(wire_type, drop)?,
            // negative_counts, positive_counts, custom_values: repeated double.
            10 | 13 | 16 => reader.skip_repeated_fixed(wire_type, WireType::Fixed64)?,
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}

fn check_bucket_span(message: &[u8]) -> Result<(), WireError> {
    let mut reader = Reader::nested(message, 3);
    while let Some((field, wire_type)) = reader.next_field()? {
        match field {
            1 | 2 => {
                reader.uint32(wire_type)?;
            }
            _ => reader.skip(wire_type)?,
        }
    }
    Ok(())
}
