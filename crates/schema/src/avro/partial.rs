//! Where apache-avro's checker found a `Partial` match: the writer can write values the reader cannot read (a
//! union branch the reader lacks, enum symbols without a reader default). The checker says only that; this walks
//! both schemas in parallel to name the field path and what is missing, for Confluent-like verbose messages.

use std::cell::Cell;
use std::collections::HashMap;

use apache_avro::Schema as Avro;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// How deep records are followed (recursive types end here).
const MAX_DEPTH: usize = 32;

/// Schema pairs walked at most for one explanation, and reasons given at most: recursive types with many
/// union fields would otherwise multiply the walk at every level.
const MAX_STEPS: u32 = 100_000;
const MAX_REASONS: usize = 100;

thread_local! {
    /// Pairs walked so far by the explanation running on this thread (reset by [`explain`]).
    static STEPS: Cell<u32> = const { Cell::new(0) };
}

/// The reasons a partial match has, within the step and reason bounds.
pub(super) fn explain(names: &Names<'_>, w: &Avro, r: &Avro, path: &str) -> Vec<String> {
    STEPS.set(0);
    let mut out = Vec::new();
    reasons(names, w, r, path, 0, &mut out);
    out
}

pub(super) struct Names<'a> {
    pub(super) writer: &'a HashMap<String, Avro>,
    pub(super) reader: &'a HashMap<String, Avro>,
}

/// The reasons found under `path`; empty when the walk finds none (the caller then reports generally).
fn reasons(names: &Names<'_>, w: &Avro, r: &Avro, path: &str, depth: usize, out: &mut Vec<String>) {
    let steps = STEPS.get().saturating_add(1);
    STEPS.set(steps);
    if depth > MAX_DEPTH || steps > MAX_STEPS || out.len() >= MAX_REASONS {
        return;
    }
    let (w, r) = (resolve(w, names.writer), resolve(r, names.reader));
    match (w, r) {
        (Avro::Union(wu), Avro::Union(ru)) => {
            for wb in wu.variants() {
                let wb = resolve(wb, names.writer);
                match best(wb, ru.variants(), names.reader) {
                    Some((rb, Compatibility::Partial)) => reasons(names, wb, rb, path, depth + 1, out),
                    Some(_) => {}
                    None => out.push(format!("{path}: the reader's union has no branch for the writer's {}", kind(wb))),
                }
            }
        }
        (Avro::Union(wu), r) => {
            for wb in wu.variants() {
                let wb = resolve(wb, names.writer);
                match SchemaCompatibility::can_read(wb, r) {
                    Ok(Compatibility::Full) => {}
                    Ok(Compatibility::Partial) => reasons(names, wb, r, path, depth + 1, out),
                    Err(_) => {
                        out.push(format!("{path}: the reader cannot read the writer's union branch {}", kind(wb)))
                    }
                }
            }
        }
        (w, Avro::Union(ru)) => {
            if let Some((rb, Compatibility::Partial)) = best(w, ru.variants(), names.reader) {
                reasons(names, w, rb, path, depth + 1, out);
            }
        }
        (Avro::Enum(we), Avro::Enum(re)) if re.default.is_none() => {
            let missing: Vec<&str> =
                we.symbols.iter().filter(|s| !re.symbols.contains(s)).map(String::as_str).collect();
            if !missing.is_empty() {
                let name = re.name.fullname(None);
                out.push(format!(
                    "{path}: the reader's enum {name} lacks symbols {} and has no default",
                    missing.join(", ")
                ));
            }
        }
        (Avro::Record(wr), Avro::Record(rr)) => {
            for rf in &rr.fields {
                let found = std::iter::once(&rf.name)
                    .chain(rf.aliases.iter())
                    .find_map(|n| wr.fields.iter().find(|wf| &wf.name == n));
                if let Some(wf) = found {
                    reasons(names, &wf.schema, &rf.schema, &format!("{path}.{}", rf.name), depth + 1, out);
                }
            }
        }
        (Avro::Array(wa), Avro::Array(ra)) => {
            reasons(names, &wa.items, &ra.items, &format!("{path}[]"), depth + 1, out)
        }
        (Avro::Map(wm), Avro::Map(rm)) => reasons(names, &wm.types, &rm.types, &format!("{path}{{}}"), depth + 1, out),
        _ => {}
    }
}

/// The reader branch that reads `w` best: fully if any does, else partially.
fn best<'a>(w: &Avro, branches: &'a [Avro], names: &'a HashMap<String, Avro>) -> Option<(&'a Avro, Compatibility)> {
    let mut partial = None;
    for rb in branches.iter().map(|b| resolve(b, names)) {
        match SchemaCompatibility::can_read(w, rb) {
            Ok(Compatibility::Full) => return Some((rb, Compatibility::Full)),
            Ok(Compatibility::Partial) if partial.is_none() => partial = Some((rb, Compatibility::Partial)),
            _ => {}
        }
    }
    partial
}

fn resolve<'a>(schema: &'a Avro, names: &'a HashMap<String, Avro>) -> &'a Avro {
    match schema {
        Avro::Ref { name } => names.get(&name.fullname(None)).unwrap_or(schema),
        other => other,
    }
}

/// A short name of a schema for messages: its full name when named, else its kind.
fn kind(schema: &Avro) -> String {
    match schema.name() {
        Some(name) => name.fullname(None),
        None => super::kind_name(&format!("{schema:?}")),
    }
}
