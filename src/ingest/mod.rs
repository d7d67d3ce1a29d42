//! Ingest: turns a remote-write HTTP body into a validated `WriteBatch`.
//!
//! In: the request's Content-Type and Content-Encoding headers and its compressed body.
//! Out: the protocol version (`negotiate`) and a `WriteBatch` of borrowed label spans and
//! samples (`Decoder::decode`), or a `DecodeError` that says what is wrong and where.
//! Nothing here touches shared state, so a rejected request changes nothing.
//!
//! The hot path walks the protobuf wire format in place (`wire`, `v1`, `v2`) instead of
//! decoding into owned strings; `proto` holds the prost types generated from `schemas/`,
//! used to encode requests (replay, tests, benchmarks) and as the reference the walk is
//! tested against.

mod batch;
mod encode;
mod error;
mod histogram;
mod labels;
mod negotiate;
pub mod proto;
mod v1;
mod v2;
mod wire;

pub use batch::{MetricType, Protocol, Rejected, Sample, SeriesEntry, WriteBatch};
pub use encode::{encode_v1_series, put_varint, varint_len};
pub use error::{DecodeError, SeriesProblem};
pub use histogram::{HistogramProblem, Side};
pub use labels::{LabelLimits, hash_labels};
pub use negotiate::{MediaTypeError, negotiate};

/// The bit pattern of Prometheus's stale marker (`value.StaleNaN`). Other NaNs are
/// ordinary values; only this exact pattern ends a series.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// Size limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest decompressed body, checked against the snappy header before allocating.
    pub max_decoded_bytes: usize,
    pub labels: LabelLimits,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decoded_bytes: 128 << 20,
            labels: LabelLimits::default(),
        }
    }
}

/// Decodes request bodies into a reusable batch.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: DecodeLimits,
}

/// A batch keeps the capacity of its largest request; past this, it is shrunk after use
/// so that one huge request does not pin memory in every worker thread.
const RETAINED_BODY_BYTES: usize = 8 << 20;

impl Decoder {
    pub fn new(limits: DecodeLimits) -> Decoder {
        Decoder { limits }
    }

    /// Decompresses and decodes `compressed` into `batch`, replacing its content.
    pub fn decode(
        &self,
        protocol: Protocol,
        compressed: &[u8],
        batch: &mut WriteBatch,
    ) -> Result<(), DecodeError> {
        batch.clear();
        let decoded_len = snap::raw::decompress_len(compressed)
            .map_err(|e| DecodeError::Snappy(e.to_string()))?;
        if decoded_len > self.limits.max_decoded_bytes {
            return Err(DecodeError::DecodedTooLarge {
                decoded: decoded_len,
                limit: self.limits.max_decoded_bytes,
            });
        }
        if batch.body.capacity() > RETAINED_BODY_BYTES.max(decoded_len) {
            batch.body = Vec::new();
        }
        batch.body.resize(decoded_len, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut batch.body)
            .map_err(|e| DecodeError::Snappy(e.to_string()))?;
        let result = match protocol {
            Protocol::V1 => v1::decode(batch, &self.limits.labels),
            Protocol::V2 => v2::decode(batch, &self.limits.labels),
        };
        if result.is_err() {
            batch.clear();
        }
        result
    }
}

#[cfg(test)]
mod tests;
