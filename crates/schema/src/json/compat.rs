//! Confluent's JSON Schema compatibility rules, for a reader (the new schema under BACKWARD) that must accept every
//! document the writer accepts. Checked: `type` narrowing (integer widening to number allowed), `enum` and `const`
//! added or values removed, numeric and length/count bounds tightened (`minimum`, `maximum`, exclusive ones,
//! `multipleOf`, `minLength`, `maxLength`, `minItems`, `maxItems`, `minProperties`, `maxProperties`), `pattern`,
//! `uniqueItems`, `not` and the `dependencies` keywords added or changed, `required` properties added, properties
//! against the content model (a property added to an open model, removed from a closed one, or covered by a
//! partially open `additionalProperties` schema), the content model closed or narrowed, `items` / `prefixItems`
//! recursively, and `oneOf` / `anyOf` / `allOf` branch by branch. Local `$ref`s and references to dependencies are
//! followed; recursion stops at a fixed depth. Not checked: `patternProperties`, `if`/`then`/`else`,
//! `propertyNames`, `contains`, `format` and `unevaluated*`.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::lookup;

/// How deep nested schemas (and `$ref` chains) are compared.
const MAX_DEPTH: usize = 32;

/// Schema pairs compared at most in one check: branches of recursive `oneOf`/`anyOf` are compared against each
/// other, which without a bound grows exponentially with the depth. A check over the budget fails closed.
const MAX_STEPS: u32 = 100_000;

thread_local! {
    /// Pairs compared so far by the check running on this thread (checks run synchronously).
    static STEPS: Cell<u32> = const { Cell::new(0) };
}

const ALL_TYPES: [&str; 7] = ["array", "boolean", "integer", "null", "number", "object", "string"];

pub(super) fn read_incompatibilities(
    reader: &Value,
    reader_deps: &HashMap<String, Value>,
    writer: &Value,
    writer_deps: &HashMap<String, Value>,
) -> Vec<String> {
    let mut checker = Checker { problems: Vec::new() };
    let w = Side { schema: writer, root: writer, deps: writer_deps };
    let r = Side { schema: reader, root: reader, deps: reader_deps };
    STEPS.set(0);
    checker.compare("#", w, r, 0);
    if STEPS.get() > MAX_STEPS {
        checker.problems.push(format!("#: too complex to check (more than {MAX_STEPS} schema comparisons)"));
    }
    checker.problems
}

/// A schema with the document its local `$ref`s point into and the dependencies its other `$ref`s name.
#[derive(Clone, Copy)]
struct Side<'a> {
    schema: &'a Value,
    root: &'a Value,
    deps: &'a HashMap<String, Value>,
}

impl<'a> Side<'a> {
    fn with(self, schema: &'a Value) -> Side<'a> {
        Side { schema, ..self }
    }

    /// Follows `$ref`s (up to a fixed number) to the schema they name; unresolvable ones stay as they are.
    fn resolve(mut self) -> Side<'a> {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = self.schema.get("$ref").and_then(Value::as_str) else { return self };
            let (doc, fragment) = reference.split_once('#').unwrap_or((reference, ""));
            let root = if doc.is_empty() {
                self.root
            } else {
                match lookup(self.deps, doc) {
                    Some(dep) => dep,
                    None => return self,
                }
            };
            match root.pointer(fragment) {
                Some(target) => self = Side { schema: target, root, deps: self.deps },
                None => return self,
            }
        }
        self
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.schema.get(key)
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// Accepts every document: `true`, `{}` or only annotations.
    fn accepts_all(&self) -> bool {
        match self.schema {
            Value::Bool(b) => *b,
            Value::Object(map) => map.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "$schema"
                        | "$id"
                        | "id"
                        | "title"
                        | "description"
                        | "$comment"
                        | "default"
                        | "examples"
                        | "$defs"
                        | "definitions"
                )
            }),
            _ => false,
        }
    }

    fn types(&self) -> Option<BTreeSet<&'a str>> {
        match self.get("type")? {
            Value::String(t) => Some(BTreeSet::from([t.as_str()])),
            Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
            _ => None,
        }
    }

    fn properties(&self) -> Option<&'a serde_json::Map<String, Value>> {
        self.get("properties").and_then(Value::as_object)
    }

    fn required(&self) -> BTreeSet<&'a str> {
        let list = self.get("required").and_then(Value::as_array);
        list.map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
    }

    /// `additionalProperties`: None when open (absent or true), Some(schema) otherwise (false is closed).
    fn additional(&self) -> Option<&'a Value> {
        self.get("additionalProperties").filter(|v| **v != Value::Bool(true))
    }
}

/// The positional `items` of an array schema: `prefixItems`, or `items` in its older array form.
fn tuple<'a>(s: &Side<'a>) -> Option<&'a Value> {
    s.get("prefixItems").or_else(|| s.get("items").filter(|i| i.is_array()))
}

/// The `items` schema that applies to every element.
fn single<'a>(s: &Side<'a>) -> Option<&'a Value> {
    s.get("items").filter(|i| !i.is_array())
}

struct Checker {
    problems: Vec<String>,
}

impl Checker {
    fn problem(&mut self, path: &str, what: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {what}"));
    }

    fn compatible(w: Side<'_>, r: Side<'_>, depth: usize) -> bool {
        let mut sub = Checker { problems: Vec::new() };
        sub.compare("#", w, r, depth);
        sub.problems.is_empty()
    }

    fn compare(&mut self, path: &str, w: Side<'_>, r: Side<'_>, depth: usize) {
        let steps = STEPS.get().saturating_add(1);
        STEPS.set(steps);
        if steps > MAX_STEPS {
            return;
        }
        let (w, r) = (w.resolve(), r.resolve());
        let same = w.schema == r.schema && w.root == r.root && w.deps == r.deps;
        if depth > MAX_DEPTH || same || r.accepts_all() || w.schema == &Value::Bool(false) {
            return;
        }
        if r.schema == &Value::Bool(false) {
            return self.problem(path, "the reader accepts nothing");
        }
        self.types(path, w, r);
        self.values(path, w, r);
        self.bounds(path, w, r);
        self.keywords(path, w, r);
        self.object(path, w, r, depth);
        self.array(path, w, r, depth);
        self.combinators(path, w, r, depth);
    }

    fn types(&mut self, path: &str, w: Side<'_>, r: Side<'_>) {
        let Some(rt) = r.types() else { return };
        let wt = w.types().unwrap_or_else(|| ALL_TYPES.into_iter().collect());
        for t in wt {
            let widened = t == "integer" && rt.contains("number");
            if !rt.contains(t) && !widened {
                self.problem(path, format!("type '{t}' is no longer allowed"));
            }
        }
    }

    fn values(&mut self, path: &str, w: Side<'_>, r: Side<'_>) {
        let written: Option<Vec<&Value>> = match (w.get("const"), w.get("enum").and_then(Value::as_array)) {
            (Some(c), _) => Some(vec![c]),
            (None, Some(values)) => Some(values.iter().collect()),
            (None, None) => None,
        };
        if let Some(allowed) = r.get("enum").and_then(Value::as_array) {
            match &written {
                None => self.problem(path, "enum was added"),
                Some(values) => {
                    for v in values.iter().filter(|v| !allowed.contains(v)) {
                        self.problem(path, format!("enum value {v} was removed"));
                    }
                }
            }
        }
        if let Some(c) = r.get("const")
            && written.as_ref().is_none_or(|values| values.iter().any(|v| *v != c))
        {
            self.problem(path, "const was added or changed");
        }
    }

    fn bounds(&mut self, path: &str, w: Side<'_>, r: Side<'_>) {
        for key in ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"] {
            if let Some(rv) = r.number(key)
                && w.number(key).is_none_or(|wv| wv < rv)
            {
                self.problem(path, format!("{key} was added or increased to {rv}"));
            }
        }
        for key in ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"] {
            if let Some(rv) = r.number(key)
                && w.number(key).is_none_or(|wv| wv > rv)
            {
                self.problem(path, format!("{key} was added or decreased to {rv}"));
            }
        }
        if let Some(rm) = r.number("multipleOf")
            && w.number("multipleOf").is_none_or(|wm| rm == 0.0 || (wm / rm).fract() != 0.0)
        {
            self.problem(path, format!("multipleOf {rm} was added or changed"));
        }
    }

    fn keywords(&mut self, path: &str, w: Side<'_>, r: Side<'_>) {
        for key in ["pattern", "not", "dependencies", "dependentRequired", "dependentSchemas"] {
            if let Some(rv) = r.get(key)
                && w.get(key) != Some(rv)
            {
                self.problem(path, format!("{key} was added or changed"));
            }
        }
        if r.get("uniqueItems") == Some(&Value::Bool(true)) && w.get("uniqueItems") != Some(&Value::Bool(true)) {
            self.problem(path, "uniqueItems was added");
        }
    }

    fn object(&mut self, path: &str, w: Side<'_>, r: Side<'_>, depth: usize) {
        let wrequired = w.required();
        for p in r.required().difference(&wrequired) {
            self.problem(path, format!("required property '{p}' was added"));
        }
        let empty = serde_json::Map::new();
        let (wprops, rprops) = (w.properties().unwrap_or(&empty), r.properties().unwrap_or(&empty));
        for (name, ws) in wprops {
            let sub = format!("{path}/properties/{name}");
            match (rprops.get(name), r.additional()) {
                (Some(rs), _) => self.compare(&sub, w.with(ws), r.with(rs), depth + 1),
                (None, None) => {}
                (None, Some(Value::Bool(false))) => {
                    self.problem(&sub, "property was removed from a closed content model")
                }
                (None, Some(extra)) => self.compare(&sub, w.with(ws), r.with(extra), depth + 1),
            }
        }
        for (name, rs) in rprops.iter().filter(|(name, _)| !wprops.contains_key(*name)) {
            let sub = format!("{path}/properties/{name}");
            match w.additional() {
                Some(Value::Bool(false)) => {}
                Some(extra) => self.compare(&sub, w.with(extra), r.with(rs), depth + 1),
                None if r.with(rs).resolve().accepts_all() => {}
                None => self.problem(&sub, "property was added to an open content model"),
            }
        }
        match (w.additional(), r.additional()) {
            (_, None) | (Some(Value::Bool(false)), _) => {}
            (None, Some(Value::Bool(false))) | (Some(_), Some(Value::Bool(false))) => {
                self.problem(path, "the content model was closed (additionalProperties false)")
            }
            (None, Some(extra)) if !r.with(extra).resolve().accepts_all() => {
                self.problem(path, "additionalProperties was narrowed")
            }
            (None, Some(_)) => {}
            (Some(we), Some(re)) => {
                self.compare(&format!("{path}/additionalProperties"), w.with(we), r.with(re), depth + 1)
            }
        }
    }

    fn array(&mut self, path: &str, w: Side<'_>, r: Side<'_>, depth: usize) {
        let any = Value::Bool(true);
        if let (Some(Value::Array(wt)), Some(Value::Array(rt))) = (tuple(&w), tuple(&r)) {
            for (i, rs) in rt.iter().enumerate() {
                let ws = wt.get(i).unwrap_or(&any);
                self.compare(&format!("{path}/items/{i}"), w.with(ws), r.with(rs), depth + 1);
            }
        }
        if let Some(rs) = single(&r) {
            let ws = single(&w).unwrap_or(&any);
            self.compare(&format!("{path}/items"), w.with(ws), r.with(rs), depth + 1);
        }
    }

    fn combinators(&mut self, path: &str, w: Side<'_>, r: Side<'_>, depth: usize) {
        for key in ["oneOf", "anyOf"] {
            let Some(Value::Array(rbranches)) = r.get(key) else { continue };
            let wbranches = w.get("oneOf").or_else(|| w.get("anyOf")).and_then(Value::as_array);
            let wbranches: Vec<Side<'_>> = match wbranches {
                Some(list) => list.iter().map(|b| w.with(b)).collect(),
                None => vec![w],
            };
            for (i, wb) in wbranches.into_iter().enumerate() {
                if !rbranches.iter().any(|rb| Self::compatible(wb, r.with(rb), depth + 1)) {
                    self.problem(path, format!("writer branch {i} matches no {key} branch of the reader"));
                }
            }
        }
        if let Some(Value::Array(rparts)) = r.get("allOf") {
            let wparts = w.get("allOf").and_then(Value::as_array);
            for (i, rp) in rparts.iter().enumerate() {
                let covered = Self::compatible(w, r.with(rp), depth + 1)
                    || wparts.is_some_and(|parts| {
                        parts.iter().any(|wp| Self::compatible(w.with(wp), r.with(rp), depth + 1))
                    });
                if !covered {
                    self.problem(&format!("{path}/allOf/{i}"), "the writer does not satisfy this allOf part");
                }
            }
        }
    }
}
