//! A zero-copy reader of the protobuf wire format.
//!
//! In: a byte slice holding one encoded message. Out: its fields one at a time, as
//! numbers or as sub-slices of the input; nothing is copied or allocated. It follows the
//! rules prost's generated decoders apply (varints of at most ten bytes, 32-bit fields
//! truncated from 64-bit varints, field number 0 and wire types 6 and 7 rejected, groups
//! in unknown fields skipped up to prost's recursion limit), so that the walk in
//! `v1.rs`/`v2.rs` accepts exactly what prost accepts (the fuzz target checks this).

use std::fmt;

/// The encoding of one field on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    Varint,
    Fixed64,
    Len,
    /// The start of a (deprecated) group; only ever skipped.
    StartGroup,
    EndGroup,
    Fixed32,
}

/// prost's `RECURSION_LIMIT`: nested messages plus nested groups.
const RECURSION_LIMIT: u32 = 100;

/// Why a buffer is not a valid protobuf message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// Byte offset, within the message being read, where the problem was found.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.offset)
    }
}

/// A cursor over one message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// How deep this message is nested (0 for the request itself).
    depth: u32,
    /// The number of the field last read, which a group's end tag must repeat.
    field: u32,
}

impl<'a> Reader<'a> {
    /// A reader of the top-level message.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader::nested(buf, 0)
    }

    /// A reader of a message nested `depth` levels inside the request.
    pub fn nested(buf: &'a [u8], depth: u32) -> Self {
        Reader {
            buf,
            pos: 0,
            depth,
            field: 0,
        }
    }

    fn error(&self, reason: &'static str) -> WireError {
        WireError {
            offset: self.pos,
            reason,
        }
    }

    /// The next field's number and wire type, or `None` at the end of the message.
    pub fn next_field(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        if key > u64::from(u32::MAX) {
            return Err(self.error("field key out of range"));
        }
        let number = (key >> 3) as u32;
        if number == 0 {
            return Err(self.error("field number 0"));
        }
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return Err(self.error("unsupported wire type")),
        };
        self.field = number;
        Ok(Some((number, wire_type)))
    }

    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // Tags, lengths of short strings and small numbers fit in one byte.
        if let Some(&byte) = self.buf.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint_multi_byte()
    }

    fn varint_multi_byte(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// A length-delimited field's payload, with its offset in this message.
    pub fn len_delimited(&mut self) -> Result<(usize, &'a [u8]), WireError> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.error("length out of range"))?;
        let start = self.pos;
        Ok((start, self.take(len)?))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() - self.pos < n {
            return Err(self.error("truncated field"));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Skips a field this reader does not use, checking only that it is well formed.
    pub fn skip(&mut self, wire_type: WireType) -> Result<(), WireError> {
        match wire_type {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8).map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::Fixed32 => self.take(4).map(drop),
            WireType::StartGroup => self.skip_group(self.field, 1),
            WireType::EndGroup => Err(self.error("unexpected end group tag")),
        }
    }

    /// Skips the fields of a group up to its end tag; `level` counts the groups open.
    fn skip_group(&mut self, number: u32, level: u32) -> Result<(), WireError> {
        loop {
            let Some((inner, wire_type)) = self.next_field()? else {
                return Err(self.error("group without its end tag"));
            };
            match wire_type {
                WireType::EndGroup if inner == number => return Ok(()),
                WireType::EndGroup => return Err(self.error("unexpected end group tag")),
                _ if self.depth + level >= RECURSION_LIMIT => {
                    return Err(self.error("recursion limit reached"));
                }
                WireType::StartGroup => self.skip_group(inner, level + 1)?,
                _ => self.skip(wire_type)?,
            }
        }
    }

    /// Reads a field the schema declares as `expected`; any other wire type is an
    /// error, as in prost.
    pub fn expect(&self, actual: WireType, expected: WireType) -> Result<(), WireError> {
        if actual == expected {
            Ok(())
        } else {
            Err(self.error("wrong wire type for field"))
        }
    }

    pub fn double(&mut self, wire_type: WireType) -> Result<f64, WireError> {
        self.expect(wire_type, WireType::Fixed64)?;
        Ok(f64::from_bits(self.fixed64()?))
    }

    pub fn int64(&mut self, wire_type: WireType) -> Result<i64, WireError> {
        self.expect(wire_type, WireType::Varint)?;
        Ok(self.varint()? as i64)
    }

    /// A `uint32` (or enum) field; prost keeps the low 32 bits of a longer varint.
    pub fn uint32(&mut self, wire_type: WireType) -> Result<u32, WireError> {
        self.expect(wire_type, WireType::Varint)?;
        Ok(self.varint()? as u32)
    }

    /// A `string` field, checked to be UTF-8 as prost does.
    pub fn string(&mut self, wire_type: WireType) -> Result<(usize, &'a str), WireError> {
        self.expect(wire_type, WireType::Len)?;
        let (start, bytes) = self.len_delimited()?;
        let text = std::str::from_utf8(bytes).map_err(|_| WireError {
            offset: start,
            reason: "string is not valid UTF-8",
        })?;
        Ok((start, text))
    }

    /// A sub-message field's payload.
    pub fn message(&mut self, wire_type: WireType) -> Result<(usize, &'a [u8]), WireError> {
        self.expect(wire_type, WireType::Len)?;
        self.len_delimited()
    }

    /// Calls `each` for every value of a repeated varint field, packed or not.
    pub fn repeated_varint(
        &mut self,
        wire_type: WireType,
        mut each: impl FnMut(u64),
    ) -> Result<(), WireError> {
        match wire_type {
            WireType::Varint => each(self.varint()?),
            WireType::Len => {
                let (start, packed) = self.len_delimited()?;
                let mut inner = Reader::new(packed);
                while inner.pos < packed.len() {
                    each(inner.varint().map_err(|e| e.shifted(start))?);
                }
            }
            _ => return Err(self.error("wrong wire type for field")),
        }
        Ok(())
    }

    /// Calls `each` for every value of a repeated `double` field, packed or not.
    pub fn repeated_double(
        &mut self,
        wire_type: WireType,
        mut each: impl FnMut(f64),
    ) -> Result<(), WireError> {
        if wire_type == WireType::Fixed64 {
            each(self.double(wire_type)?);
            return Ok(());
        }
        self.expect(wire_type, WireType::Len)?;
        let (start, packed) = self.len_delimited()?;
        if packed.len() % 8 != 0 {
            return Err(WireError {
                offset: start,
                reason: "packed field length is not a multiple of its element size",
            });
        }
        for bytes in packed.chunks_exact(8) {
            let mut le = [0; 8];
            le.copy_from_slice(bytes);
            each(f64::from_le_bytes(le));
        }
        Ok(())
    }
}

impl WireError {
    /// The same error, with its offset made relative to an enclosing message.
    pub fn shifted(self, by: usize) -> WireError {
        WireError {
            offset: self.offset + by,
            reason: self.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_and_rejects_overflow() {
        let mut buf = Vec::new();
        prost::encoding::encode_varint(u64::MAX, &mut buf);
        assert_eq!(Reader::new(&buf).varint(), Ok(u64::MAX));
        let overflow = [0xff; 9].iter().chain(&[0x02]).copied().collect::<Vec<_>>();
        assert!(Reader::new(&overflow).varint().is_err());
        assert!(Reader::new(&[0x80]).varint().is_err());
    }

    #[test]
    fn rejects_field_zero_and_reserved_wire_types() {
        assert!(Reader::new(&[0x00]).next_field().is_err());
        assert!(Reader::new(&[0x0e]).next_field().is_err());
        assert_eq!(
            Reader::new(&[0x08]).next_field(),
            Ok(Some((1, WireType::Varint)))
        );
    }

    #[test]
    fn groups_are_skipped_as_prost_skips_them() {
        // Field 14 as a group holding field 1 (varint 5), then its end tag.
        let mut reader = Reader::new(&[0x73, 0x08, 0x05, 0x74]);
        let (_, wire_type) = reader.next_field().unwrap().unwrap();
        assert_eq!(reader.skip(wire_type), Ok(()));
        assert_eq!(reader.next_field(), Ok(None));
        // An end tag for another field, a lone end tag, and a group never closed.
        for bad in [&[0x73, 0x7c][..], &[0x74], &[0x73, 0x08, 0x05]] {
            let mut reader = Reader::new(bad);
            let (_, wire_type) = reader.next_field().unwrap().unwrap();
            assert!(reader.skip(wire_type).is_err(), "{bad:?}");
        }
        // prost allows 100 nested groups in a top-level message, not 101.
        let nested = |groups| -> Vec<u8> {
            std::iter::repeat_n(0x73, groups)
                .chain(std::iter::repeat_n(0x74, groups))
                .collect()
        };
        let allowed = nested(100);
        let mut reader = Reader::new(&allowed);
        let (_, wire_type) = reader.next_field().unwrap().unwrap();
        assert_eq!(reader.skip(wire_type), Ok(()));
        let deep = nested(101);
        let mut reader = Reader::new(&deep);
        let (_, wire_type) = reader.next_field().unwrap().unwrap();
        assert_eq!(
            reader.skip(wire_type).unwrap_err().reason,
            "recursion limit reached"
        );
    }

    #[test]
    fn truncated_length_is_an_error() {
        let mut reader = Reader::new(&[0x05, b'a']);
        assert!(reader.len_delimited().is_err());
    }

    #[test]
    fn packed_and_unpacked_varints_are_both_read() {
        let mut seen = Vec::new();
        let mut packed = Reader::new(&[0x03, 0x01, 0x96, 0x01]);
        packed
            .repeated_varint(WireType::Len, |v| seen.push(v))
            .unwrap();
        let mut single = Reader::new(&[0x07]);
        single
            .repeated_varint(WireType::Varint, |v| seen.push(v))
            .unwrap();
        assert_eq!(seen, [1, 150, 7]);
    }
}
