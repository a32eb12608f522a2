//! A bounded walker of the Protobuf wire format: checks that bytes are one message of a descriptor without
//! building it. Known fields must use their kind's wire type (or the packed form for repeated scalars), strings
//! must be UTF-8, lengths fit the bytes left, nested messages and groups are walked to a fixed depth, and unknown
//! fields are skipped by wire type as any Protobuf parser does. Nothing is allocated.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// The deepest nesting of messages and groups, as prost's default recursion limit.
const MAX_DEPTH: usize = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

pub(super) fn validate(message: &MessageDescriptor, bytes: &[u8]) -> Result<(), String> {
    let mut walker = Walker { bytes };
    walker.message(Some(message), None, 0)
}

struct Walker<'a> {
    bytes: &'a [u8],
}

impl<'a> Walker<'a> {
    /// Fields until the bytes end, or until the end-group tag of `group` when walking a group.
    fn message(&mut self, message: Option<&MessageDescriptor>, group: Option<u32>, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("message nested deeper than {MAX_DEPTH}"));
        }
        while !self.bytes.is_empty() {
            let key = self.varint()?;
            let number = u32::try_from(key >> 3).ok().filter(|n| (1..=0x1fff_ffff).contains(n));
            let number = number.ok_or_else(|| format!("invalid field number {}", key >> 3))?;
            let wire = (key & 7) as u8;
            if wire == END_GROUP {
                return match group {
                    Some(open) if open == number => Ok(()),
                    _ => Err(format!("unexpected end of group {number}")),
                };
            }
            match message.and_then(|m| m.get_field(number)) {
                Some(field) => {
                    self.field(&field, wire, depth).map_err(|e| format!("field {} ({number}): {e}", field.name()))?
                }
                None => self.skip(number, wire, depth)?,
            }
        }
        match group {
            Some(open) => Err(format!("group {open} is not closed")),
            None => Ok(()),
        }
    }

    fn field(&mut self, field: &FieldDescriptor, wire: u8, depth: usize) -> Result<(), String> {
        let kind = field.kind();
        let expected = wire_type(&kind, field.is_group());
        if wire == LENGTH && expected != LENGTH && field.is_list() {
            let mut packed = Walker { bytes: self.length_delimited()? };
            while !packed.bytes.is_empty() {
                packed.scalar(expected)?;
            }
            return Ok(());
        }
        if wire != expected {
            return Err(format!("wire type {wire} where {expected} is expected"));
        }
        match (&kind, wire) {
            (Kind::Message(m), START_GROUP) => self.message(Some(m), Some(field.number()), depth + 1),
            (Kind::Message(m), _) => Walker { bytes: self.length_delimited()? }.message(Some(m), None, depth + 1),
            // proto3 requires valid UTF-8 in strings; proto2 parsers (Java, C++) accept any bytes there.
            (Kind::String, _) if field.parent_file().syntax() == prost_reflect::Syntax::Proto3 => {
                let raw = self.length_delimited()?;
                std::str::from_utf8(raw).map(drop).map_err(|_| "string is not utf-8".to_string())
            }
            _ => self.scalar(wire),
        }
    }

    /// An unknown field, skipped by its wire type.
    fn skip(&mut self, number: u32, wire: u8, depth: usize) -> Result<(), String> {
        match wire {
            START_GROUP => self.message(None, Some(number), depth + 1),
            VARINT | FIXED64 | LENGTH | FIXED32 => self.scalar(wire),
            other => Err(format!("invalid wire type {other} for field {number}")),
        }
    }

    fn scalar(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            FIXED32 => self.take(4).map(drop),
            LENGTH => self.length_delimited().map(drop),
            other => Err(format!("invalid wire type {other}")),
        }
    }

    fn length_delimited(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| format!("length {len} too large"))?;
        self.take(len)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.bytes.len() {
            return Err(format!("truncated: needs {n} bytes, {} left", self.bytes.len()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let (byte, rest) = self.bytes.split_first().ok_or("truncated varint")?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".to_string())
    }
}

/// The wire type a field of this kind is written with (unpacked).
fn wire_type(kind: &Kind, group: bool) -> u8 {
    match kind {
        Kind::Message(_) if group => START_GROUP,
        Kind::Message(_) | Kind::String | Kind::Bytes => LENGTH,
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => FIXED64,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => FIXED32,
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Bool
        | Kind::Enum(_) => VARINT,
    }
}
