//! Patchable request templates: a remote-write body compressed once with its timestamps
//! and values pinned in snappy literals, so that any later round is rendered by copying
//! the template and rewriting those bytes.
//!
//! In: a `Fleet`, a protocol and a range of series. Out: a `Template` that renders the
//! compressed body of any round (and `check`s it against the prost encoding), and
//! `compress_pinned`, the snappy block encoder that keeps given byte ranges in literals.

use std::ops::Range;

use harbinger::ingest::proto;
use harbinger::ingest::{Protocol, put_varint, varint_len};
use prost::Message;

use super::Fleet;

/// A compressed request whose timestamps and values can be rewritten in place.
pub struct Template {
    pub protocol: Protocol,
    pub series: Range<usize>,
    /// Snappy block, timestamps and values of round 0 in literals.
    compressed: Vec<u8>,
    /// Per sample: position of its timestamp varint and of its 8 value bytes.
    timestamp_at: Vec<usize>,
    value_at: Vec<usize>,
    timestamp_width: usize,
}

fn put_len_delimited(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a `Sample { value = 1 (double), timestamp = 2 (int64) }` as field `key`,
/// recording where its value and timestamp bytes are.
fn put_sample(out: &mut Vec<u8>, key: u8, value: f64, timestamp: i64, pins: &mut Pins) {
    let ts_len = varint_len(timestamp as u64);
    out.push(key);
    put_varint(out, (1 + 8 + 1 + ts_len) as u64);
    out.push(0x09);
    pins.value.push(out.len());
    out.extend_from_slice(&value.to_le_bytes());
    out.push(0x10);
    pins.timestamp.push(out.len());
    put_varint(out, timestamp as u64);
    pins.timestamp_width = ts_len;
}

#[derive(Default)]
struct Pins {
    value: Vec<usize>,
    timestamp: Vec<usize>,
    timestamp_width: usize,
}

impl Template {
    /// Encodes round 0 of `series` by hand (the layout prost uses, except that a 0.0
    /// value is written rather than omitted, so that every sample has the same shape)
    /// and compresses it with the sample bytes pinned.
    pub fn new(fleet: &Fleet, protocol: Protocol, series: Range<usize>) -> Template {
        let mut raw = Vec::new();
        let mut pins = Pins::default();
        match protocol {
            Protocol::V1 => {
                let mut ts = Vec::new();
                let mut label = Vec::new();
                for i in series.clone() {
                    ts.clear();
                    for (name, value) in &fleet.series[i].labels {
                        label.clear();
                        put_len_delimited(&mut label, 0x0a, name.as_bytes());
                        put_len_delimited(&mut label, 0x12, value.as_bytes());
                        put_len_delimited(&mut ts, 0x0a, &label);
                    }
                    let mut sample = Vec::new();
                    let mut local = Pins::default();
                    put_sample(
                        &mut sample,
                        0x12,
                        fleet.value(i, 0),
                        fleet.timestamp(i, 0),
                        &mut local,
                    );
                    raw.push(0x0a);
                    put_varint(&mut raw, (ts.len() + sample.len()) as u64);
                    raw.extend_from_slice(&ts);
                    let shift = raw.len();
                    raw.extend_from_slice(&sample);
                    pins.value.push(shift + local.value[0]);
                    pins.timestamp.push(shift + local.timestamp[0]);
                    pins.timestamp_width = local.timestamp_width;
                }
            }
            Protocol::V2 => {
                // Symbols and refs exactly as `v2_message` assigns them.
                let message = fleet.v2_message(series.clone(), 0);
                for symbol in &message.symbols {
                    put_len_delimited(&mut raw, 0x22, symbol.as_bytes());
                }
                let mut ts = Vec::new();
                for (k, i) in series.clone().enumerate() {
                    let m = &message.timeseries[k];
                    ts.clear();
                    let mut refs = Vec::new();
                    for &r in &m.labels_refs {
                        put_varint(&mut refs, u64::from(r));
                    }
                    put_len_delimited(&mut ts, 0x0a, &refs);
                    let mut local = Pins::default();
                    put_sample(
                        &mut ts,
                        0x12,
                        fleet.value(i, 0),
                        fleet.timestamp(i, 0),
                        &mut local,
                    );
                    let meta = m.metadata.as_ref().expect("v2_message sets metadata");
                    let mut md = Vec::new();
                    if meta.r#type != 0 {
                        md.push(0x08);
                        put_varint(&mut md, meta.r#type as u64);
                    }
                    if meta.help_ref != 0 {
                        md.push(0x18);
                        put_varint(&mut md, u64::from(meta.help_ref));
                    }
                    put_len_delimited(&mut ts, 0x2a, &md);
                    raw.push(0x2a);
                    put_varint(&mut raw, ts.len() as u64);
                    let shift = raw.len();
                    raw.extend_from_slice(&ts);
                    pins.value.push(shift + local.value[0]);
                    pins.timestamp.push(shift + local.timestamp[0]);
                    pins.timestamp_width = local.timestamp_width;
                }
            }
        }
        let mut ranges = Vec::with_capacity(pins.value.len() * 2);
        for (&v, &t) in pins.value.iter().zip(&pins.timestamp) {
            ranges.push(v..v + 8);
            ranges.push(t..t + pins.timestamp_width);
        }
        let (compressed, at) = compress_pinned(&raw, &ranges);
        let (value_at, timestamp_at) = at.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        Template {
            protocol,
            series,
            compressed,
            timestamp_at,
            value_at,
            timestamp_width: pins.timestamp_width,
        }
    }

    pub fn samples(&self) -> usize {
        self.series.len()
    }

    pub fn compressed_len(&self) -> usize {
        self.compressed.len()
    }

    /// Writes the compressed request of `round` into `out`.
    pub fn render(&self, fleet: &Fleet, round: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.compressed);
        let mut varint = Vec::with_capacity(10);
        for (k, i) in self.series.clone().enumerate() {
            let at = self.value_at[k];
            out[at..at + 8].copy_from_slice(&fleet.value(i, round).to_le_bytes());
            varint.clear();
            put_varint(&mut varint, fleet.timestamp(i, round) as u64);
            assert_eq!(
                varint.len(),
                self.timestamp_width,
                "timestamp varint changed width; keep rounds within one width"
            );
            let at = self.timestamp_at[k];
            out[at..at + varint.len()].copy_from_slice(&varint);
        }
    }

    /// Panics unless the body rendered for `round` decodes to the prost message of that
    /// round.
    pub fn check(&self, fleet: &Fleet, round: u64) {
        let mut body = Vec::new();
        self.render(fleet, round, &mut body);
        let raw = snap::raw::Decoder::new()
            .decompress_vec(&body)
            .expect("template is valid snappy");
        match self.protocol {
            Protocol::V1 => assert_eq!(
                proto::v1::WriteRequest::decode(raw.as_slice()).expect("valid protobuf"),
                fleet.v1_message(self.series.clone(), round),
                "v1 template of round {round} differs from the prost message"
            ),
            Protocol::V2 => assert_eq!(
                proto::v2::Request::decode(raw.as_slice()).expect("valid protobuf"),
                fleet.v2_message(self.series.clone(), round),
                "v2 template of round {round} differs from the prost message"
            ),
        }
    }
}

/// Compresses `raw` in the snappy block format so that every byte of `pinned` (sorted,
/// disjoint ranges) lies in a literal, never in or under a copy; returns the block and,
/// for each pinned range, where its first byte is in the block. Rewriting those bytes
/// in the block rewrites the same bytes of the decompressed output and nothing else.
pub fn compress_pinned(raw: &[u8], pinned: &[Range<usize>]) -> (Vec<u8>, Vec<usize>) {
    const HASH_BITS: u32 = 14;
    const MAX_OFFSET: usize = 65_535;
    let n = raw.len();
    let mut out = Vec::with_capacity(n / 3 + 16);
    put_varint(&mut out, n as u64);
    let mut at = Vec::with_capacity(pinned.len());
    let mut table = vec![u32::MAX; 1 << HASH_BITS];
    let (mut literal_start, mut i, mut next_pin) = (0, 0, 0);
    let mut recorded = 0;
    while i + 4 <= n {
        while next_pin < pinned.len() && pinned[next_pin].end <= i {
            next_pin += 1;
        }
        let dest_limit = pinned.get(next_pin).map_or(n, |p| p.start);
        if i + 4 > dest_limit {
            i = pinned[next_pin].end;
            continue;
        }
        let word = u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
        let slot = (word.wrapping_mul(0x1e35_a7bd) >> (32 - HASH_BITS)) as usize;
        let candidate = table[slot];
        table[slot] = i as u32;
        if candidate != u32::MAX {
            let c = candidate as usize;
            if i - c <= MAX_OFFSET && raw[c..c + 4] == raw[i..i + 4] {
                // Never copy from a pinned range: its bytes change after compression.
                let source_pin = pinned.partition_point(|p| p.end <= c);
                let source_limit = pinned.get(source_pin).map_or(n, |p| p.start);
                let mut len = 4;
                while i + len < dest_limit && c + len < source_limit && raw[c + len] == raw[i + len]
                {
                    len += 1;
                }
                emit_literal(
                    &mut out,
                    raw,
                    literal_start..i,
                    pinned,
                    &mut recorded,
                    &mut at,
                );
                emit_copy(&mut out, i - c, len);
                i += len;
                literal_start = i;
                continue;
            }
        }
        i += 1;
    }
    emit_literal(
        &mut out,
        raw,
        literal_start..n,
        pinned,
        &mut recorded,
        &mut at,
    );
    assert_eq!(
        recorded,
        pinned.len(),
        "every pinned range lies in a literal"
    );
    (out, at)
}

fn emit_literal(
    out: &mut Vec<u8>,
    raw: &[u8],
    range: Range<usize>,
    pinned: &[Range<usize>],
    recorded: &mut usize,
    at: &mut Vec<usize>,
) {
    if range.is_empty() {
        return;
    }
    let n = (range.len() - 1) as u32;
    match n {
        0..60 => out.push((n << 2) as u8),
        60..0x100 => out.extend_from_slice(&[60 << 2, n as u8]),
        0x100..0x1_0000 => {
            out.push(61 << 2);
            out.extend_from_slice(&n.to_le_bytes()[..2]);
        }
        0x1_0000..0x100_0000 => {
            out.push(62 << 2);
            out.extend_from_slice(&n.to_le_bytes()[..3]);
        }
        _ => {
            out.push(63 << 2);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    let data = out.len();
    while *recorded < pinned.len() && pinned[*recorded].start < range.end {
        let pin = &pinned[*recorded];
        assert!(pin.start >= range.start && pin.end <= range.end);
        at.push(data + pin.start - range.start);
        *recorded += 1;
    }
    out.extend_from_slice(&raw[range]);
}

fn emit_copy(out: &mut Vec<u8>, offset: usize, mut len: usize) {
    let copy2 = |out: &mut Vec<u8>, len: usize| {
        out.push((((len - 1) << 2) | 2) as u8);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
    };
    while len >= 68 {
        copy2(out, 64);
        len -= 64;
    }
    if len > 64 {
        copy2(out, 60);
        len -= 60;
    }
    if (4..12).contains(&len) && offset < 2048 {
        out.push((1 | ((len - 4) << 2) | ((offset >> 8) << 5)) as u8);
        out.push(offset as u8);
    } else {
        copy2(out, len);
    }
}
