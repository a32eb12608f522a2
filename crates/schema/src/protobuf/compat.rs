//! Confluent's documented Protobuf compatibility rules, for a reader reading a writer's data. Types are compared by
//! name relative to their package (a package rename is compatible, as in Confluent). Incompatible: a writer message
//! missing from the reader; a field number whose kind changes outside its wire-compatible scalar group
//! (int32/uint32/int64/uint64/bool, sint32/sint64, fixed32/sfixed32, fixed64/sfixed64, string/bytes) or whose
//! message/enum type changes; a numeric field changing between repeated and singular; required fields added or
//! removed; a field removed from a oneof; several fields moved into one oneof, or one into an oneof that already
//! existed. Compatible: adding or removing other fields and messages, renaming fields, enum changes, new oneofs.

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};

use super::print::kind_name;

/// Fields compared at most in one check (each writer message's fields and its reader's); a check over it fails
/// closed. The rules never recurse into message types (those are compared by name), so the work is linear in the
/// schemas' size; the bound keeps a huge schema from holding a thread regardless.
const MAX_STEPS: usize = 1_000_000;
/// Problems reported at most; a schema that removes thousands of messages gets a short answer.
const MAX_PROBLEMS: usize = 100;

pub(super) fn read_incompatibilities(reader: &FileDescriptor, writer: &FileDescriptor) -> Vec<String> {
    read_incompatibilities_within(reader, writer, MAX_STEPS)
}

/// As [`read_incompatibilities`], within `budget` field comparisons.
pub(super) fn read_incompatibilities_within(
    reader: &FileDescriptor,
    writer: &FileDescriptor,
    budget: usize,
) -> Vec<String> {
    let readers = messages_by_name(reader);
    let mut problems = Vec::new();
    let mut steps = 0usize;
    for (name, w) in messages_by_name(writer) {
        let r = readers.get(&name);
        steps = steps.saturating_add(1 + w.fields().len() + r.map_or(0, |r| r.fields().len()));
        if steps > budget {
            problems.push(format!("too complex to check (more than {budget} field comparisons)"));
            break;
        }
        match r {
            None => problems.push(format!("message {name} was removed")),
            Some(r) => Comparison { reader: r, writer: &w, name: &name, problems: &mut problems }.run(),
        }
        if problems.len() > MAX_PROBLEMS {
            problems.truncate(MAX_PROBLEMS);
            problems.push(format!("more than {MAX_PROBLEMS} problems; the first {MAX_PROBLEMS} are shown"));
            break;
        }
    }
    problems
}

/// Every message of the file (nested ones included, map entries not) by name relative to the package.
fn messages_by_name(file: &FileDescriptor) -> BTreeMap<String, MessageDescriptor> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<MessageDescriptor> = file.messages().collect();
    while let Some(m) = stack.pop() {
        stack.extend(m.child_messages().filter(|c| !c.is_map_entry()));
        out.insert(relative(m.full_name(), m.package_name()), m);
    }
    out
}

fn relative(full_name: &str, package: &str) -> String {
    match full_name.strip_prefix(package).and_then(|n| n.strip_prefix('.')) {
        Some(name) if !package.is_empty() => name.to_string(),
        _ => full_name.to_string(),
    }
}

struct Comparison<'a> {
    reader: &'a MessageDescriptor,
    writer: &'a MessageDescriptor,
    name: &'a str,
    problems: &'a mut Vec<String>,
}

impl Comparison<'_> {
    fn run(mut self) {
        for w in self.writer.fields() {
            match self.reader.get_field(w.number()) {
                Some(r) => self.field(&r, &w),
                None => self.removed(&w),
            }
        }
        for r in self.reader.fields() {
            if r.is_required() && self.writer.get_field(r.number()).is_none() {
                self.problem(&r, "required field was added");
            }
        }
        self.oneof_moves();
    }

    fn problem(&mut self, field: &FieldDescriptor, what: &str) {
        let message = format!("field {}.{} ({}): {what}", self.name, field.name(), field.number());
        self.problems.push(message);
    }

    fn removed(&mut self, w: &FieldDescriptor) {
        if w.is_required() {
            self.problem(w, "required field was removed");
        } else if let Some(oneof) = real_oneof(w) {
            self.problem(w, &format!("field was removed from oneof {oneof}"));
        }
    }

    fn field(&mut self, r: &FieldDescriptor, w: &FieldDescriptor) {
        if let Some(change) = kind_change(&r.kind(), &w.kind()) {
            self.problem(r, &change);
        }
        let length_delimited = matches!(w.kind(), Kind::String | Kind::Bytes | Kind::Message(_));
        if r.is_list() != w.is_list() && !length_delimited && !r.is_map() && !w.is_map() {
            self.problem(r, "numeric field changed between repeated and singular");
        }
        if r.is_required() && !w.is_required() {
            self.problem(r, "field became required");
        }
    }

    /// Writer fields outside any oneof that the reader puts into one.
    fn oneof_moves(&mut self) {
        let mut moved: HashMap<String, Vec<FieldDescriptor>> = HashMap::new();
        for w in self.writer.fields().filter(|f| real_oneof(f).is_none()) {
            if let Some(r) = self.reader.get_field(w.number())
                && let Some(oneof) = real_oneof(&r)
            {
                moved.entry(oneof).or_default().push(r);
            }
        }
        for (oneof, fields) in moved {
            if fields.len() > 1 {
                let names: Vec<&str> = fields.iter().map(FieldDescriptor::name).collect();
                let message = format!("fields {} of {} moved into one oneof {oneof}", names.join(", "), self.name);
                self.problems.push(message);
            } else if self.writer.oneofs().any(|o| o.name() == oneof && !o.is_synthetic()) {
                self.problem(&fields[0], &format!("field moved into the existing oneof {oneof}"));
            }
        }
    }
}

fn real_oneof(field: &FieldDescriptor) -> Option<String> {
    field.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_string())
}

/// Why a field of writer kind `w` cannot be read as reader kind `r`, if it cannot.
fn kind_change(r: &Kind, w: &Kind) -> Option<String> {
    let same = match (r, w) {
        (Kind::Message(rm), Kind::Message(wm)) if rm.is_map_entry() && wm.is_map_entry() => {
            let key = kind_change(&rm.map_entry_key_field().kind(), &wm.map_entry_key_field().kind());
            let value = kind_change(&rm.map_entry_value_field().kind(), &wm.map_entry_value_field().kind());
            return key.or(value).map(|c| format!("map {c}"));
        }
        (Kind::Message(rm), Kind::Message(wm)) => {
            relative(rm.full_name(), rm.package_name()) == relative(wm.full_name(), wm.package_name())
        }
        (Kind::Enum(re), Kind::Enum(we)) => {
            relative(re.full_name(), re.parent_file().package_name())
                == relative(we.full_name(), we.parent_file().package_name())
        }
        (Kind::Message(_) | Kind::Enum(_), _) | (_, Kind::Message(_) | Kind::Enum(_)) => false,
        (r, w) => scalar_group(r) == scalar_group(w),
    };
    (!same).then(|| format!("type changed from {} to {}", kind_name(w), kind_name(r)))
}

/// Scalars that share a wire encoding and can be read as each other.
fn scalar_group(kind: &Kind) -> u8 {
    match kind {
        Kind::Int32 | Kind::Uint32 | Kind::Int64 | Kind::Uint64 | Kind::Bool => 0,
        Kind::Sint32 | Kind::Sint64 => 1,
        Kind::Fixed32 | Kind::Sfixed32 => 2,
        Kind::Fixed64 | Kind::Sfixed64 => 3,
        Kind::String | Kind::Bytes => 4,
        Kind::Float => 5,
        Kind::Double => 6,
        Kind::Message(_) | Kind::Enum(_) => 7,
    }
}
