//! A bounded walker of Avro's binary encoding: checks that a payload is exactly one datum of a schema without
//! building values. Lengths and counts read from the payload are checked against the bytes left before any work,
//! nesting is capped, and items of zero-byte types (null, empty records) count against a work budget, so a few
//! bytes cannot make it allocate or loop beyond a small multiple of their length.

use std::collections::HashMap;

use apache_avro::Schema as Avro;
use apache_avro::schema::{InnerDecimalSchema, UuidSchema};

/// The deepest nesting of records, arrays, maps and unions a payload may use.
const MAX_DEPTH: usize = 128;

pub(super) fn validate(schema: &Avro, names: &HashMap<String, Avro>, payload: &[u8]) -> Result<(), String> {
    // Confluent's serializers write a top-level `bytes` value raw, without Avro's length prefix, and read it so.
    if matches!(schema, Avro::Bytes) {
        return Ok(());
    }
    let mut walker = Walker { names, bytes: payload, budget: payload.len().saturating_mul(8).saturating_add(1024) };
    walker.datum(schema, 0)?;
    if walker.bytes.is_empty() {
        Ok(())
    } else {
        Err(format!("{} trailing bytes after the avro datum", walker.bytes.len()))
    }
}

struct Walker<'a> {
    names: &'a HashMap<String, Avro>,
    bytes: &'a [u8],
    /// Datums still allowed to be visited; bounds the work of zero-length items.
    budget: usize,
}

impl Walker<'_> {
    fn datum(&mut self, schema: &Avro, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("avro datum nested deeper than {MAX_DEPTH}"));
        }
        self.budget = self.budget.checked_sub(1).ok_or("avro datum has too many items for its size")?;
        match schema {
            Avro::Null => Ok(()),
            Avro::Boolean => match self.take(1)? {
                [0 | 1] => Ok(()),
                other => Err(format!("invalid avro boolean byte {}", other[0])),
            },
            Avro::Int | Avro::Date | Avro::TimeMillis => self.int().map(drop),
            Avro::Long
            | Avro::TimeMicros
            | Avro::TimestampMillis
            | Avro::TimestampMicros
            | Avro::TimestampNanos
            | Avro::LocalTimestampMillis
            | Avro::LocalTimestampMicros
            | Avro::LocalTimestampNanos => self.long().map(drop),
            Avro::Float => self.take(4).map(drop),
            Avro::Double => self.take(8).map(drop),
            Avro::Bytes | Avro::BigDecimal | Avro::Uuid(UuidSchema::Bytes) => self.bytes().map(drop),
            Avro::String | Avro::Uuid(UuidSchema::String) => self.string(),
            Avro::Decimal(d) => match &d.inner {
                InnerDecimalSchema::Bytes => self.bytes().map(drop),
                InnerDecimalSchema::Fixed(f) => self.take(f.size).map(drop),
            },
            Avro::Fixed(f) | Avro::Duration(f) | Avro::Uuid(UuidSchema::Fixed(f)) => self.take(f.size).map(drop),
            Avro::Enum(e) => {
                let index = self.int()?;
                match usize::try_from(index) {
                    Ok(i) if i < e.symbols.len() => Ok(()),
                    _ => Err(format!("avro enum {} index {index} out of range", e.name.fullname(None))),
                }
            }
            Avro::Union(u) => {
                let index = self.long()?;
                let branch = usize::try_from(index).ok().and_then(|i| u.variants().get(i));
                let branch = branch.ok_or_else(|| format!("avro union index {index} out of range"))?;
                self.datum(branch, depth + 1)
            }
            Avro::Record(r) => r
                .fields
                .iter()
                .try_for_each(|f| self.datum(&f.schema, depth + 1).map_err(|e| format!("field {}: {e}", f.name))),
            Avro::Array(a) => self.blocks(depth, |w, d| w.datum(&a.items, d)),
            Avro::Map(m) => self.blocks(depth, |w, d| {
                w.string()?;
                w.datum(&m.types, d)
            }),
            Avro::Ref { name } => {
                let full = name.fullname(None);
                let target = self.names.get(&full).ok_or_else(|| format!("unknown avro type {full}"))?;
                self.datum(target, depth + 1)
            }
        }
    }

    /// Array and map blocks: a count (negative: followed by a byte size), items, until a zero count.
    fn blocks(
        &mut self,
        depth: usize,
        mut item: impl FnMut(&mut Self, usize) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let count = self.long()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                let size = self.long()?;
                if usize::try_from(size).map_or(true, |s| s > self.bytes.len()) {
                    return Err(format!("avro block size {size} exceeds the {} bytes left", self.bytes.len()));
                }
            }
            let count = count.unsigned_abs();
            if count > self.budget as u64 {
                return Err(format!("avro block count {count} is too large for the payload"));
            }
            for _ in 0..count {
                item(self, depth + 1)?;
            }
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if n > self.bytes.len() {
            return Err(format!("avro datum truncated: needs {n} bytes, {} left", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn bytes(&mut self) -> Result<&[u8], String> {
        let len = self.long()?;
        let len = usize::try_from(len).map_err(|_| format!("negative avro length {len}"))?;
        self.take(len)
    }

    fn string(&mut self) -> Result<(), String> {
        let raw = self.bytes()?;
        std::str::from_utf8(raw).map(drop).map_err(|e| format!("avro string is not utf-8: {e}"))
    }

    fn int(&mut self) -> Result<i32, String> {
        let v = self.long()?;
        i32::try_from(v).map_err(|_| format!("avro int {v} out of range"))
    }

    /// A zig-zag varint of at most 10 bytes.
    fn long(&mut self) -> Result<i64, String> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self.bytes.first().ok_or("avro varint truncated")?;
            self.bytes = &self.bytes[1..];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err("avro varint longer than 10 bytes".to_string())
    }
}
