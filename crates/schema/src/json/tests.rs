use crate::{Dependency, Schema, SchemaType};

fn json(text: &str) -> Schema {
    Schema::parse(SchemaType::Json, text, &[]).unwrap()
}

const USER: &str = r#"{
  "title": "User",
  "type": "object",
  "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
  "required": ["name"]
}"#;

#[test]
fn parses_valid_and_rejects_invalid() {
    json(USER);
    json("true");
    for bad in ["not json", "42", r#"{"type": 12}"#, r#"{"minimum": "x"}"#] {
        let err = Schema::parse(SchemaType::Json, bad, &[]).unwrap_err();
        assert!(err.to_string().starts_with("invalid JSON schema: "), "{bad}: {err}");
    }
}

#[test]
fn schemas_without_dollar_schema_are_draft_07() {
    let tuple = json(r#"{"type":"array","items":[{"type":"string"},{"type":"integer"}]}"#);
    tuple.validate_payload(br#"["a", 1]"#).unwrap();
    assert!(tuple.validate_payload(br#"[1, "a"]"#).is_err());
}

#[test]
fn canonical_is_compact_and_normalize_sorts() {
    let a = json(USER);
    let b = json(&USER.replace('\n', "").replace("  ", ""));
    assert_eq!(a.canonical(false), b.canonical(false));
    assert!(!a.canonical(false).contains(' '), "{}", a.canonical(false));
    let reordered = json(
        r#"{"required":["name"],"properties":{"age":{"minimum":0,"type":"integer"},"name":{"type":"string"}},"type":"object","title":"User"}"#,
    );
    assert_eq!(a.canonical(true), reordered.canonical(true));
    let two = json(r#"{"type":["string","null"],"required":["b","a"]}"#);
    let swapped = json(r#"{"type":["null","string"],"required":["a","b"]}"#);
    assert_eq!(two.canonical(true), swapped.canonical(true));
    assert_ne!(two.canonical(false), swapped.canonical(false));
}

#[test]
fn references_resolve_from_dependencies() {
    let address = r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
    let deps = [Dependency { name: "address.json".into(), schema_type: SchemaType::Json, text: address.into() }];
    let text =
        r#"{"$id":"https://example.com/customer.json","type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
    let s = Schema::parse(SchemaType::Json, text, &deps).unwrap();
    s.validate_payload(br#"{"home":{"city":"Oslo"}}"#).unwrap();
    assert!(s.validate_payload(br#"{"home":{"city":7}}"#).is_err());
    assert!(Schema::parse(SchemaType::Json, text, &[]).is_err());
    let without_id = r#"{"type":"object","properties":{"home":{"$ref":"address.json"}}}"#;
    let plain = Schema::parse(SchemaType::Json, without_id, &deps).unwrap();
    assert!(plain.validate_payload(br#"{"home":{}}"#).unwrap_err().contains("city"));
    let stricter = r#"{"type":"object","properties":{"city":{"type":"string","maxLength":3}},"required":["city"]}"#;
    let deps2 = [Dependency { name: "address.json".into(), schema_type: SchemaType::Json, text: stricter.into() }];
    let s2 = Schema::parse(SchemaType::Json, text, &deps2).unwrap();
    let problems = s2.read_incompatibilities(&s);
    assert!(problems.iter().any(|p| p.contains("#/properties/home/properties/city: maxLength")), "{problems:?}");
}

#[test]
fn compatibility_table() {
    let closed = |props: &str, required: &str| {
        format!(r#"{{"type":"object","properties":{{{props}}},"required":[{required}],"additionalProperties":false}}"#)
    };
    let open = |props: &str| format!(r#"{{"type":"object","properties":{{{props}}}}}"#);
    let table: Vec<(String, String, Option<&str>)> = vec![
        (USER.into(), USER.into(), None),
        (closed(r#""a":{"type":"string"},"b":{"type":"string"}"#, ""), closed(r#""a":{"type":"string"}"#, ""), None),
        (
            closed(r#""a":{"type":"string"},"b":{"type":"string"}"#, r#""b""#),
            closed(r#""a":{"type":"string"}"#, ""),
            Some("required property 'b' was added"),
        ),
        (
            open(r#""a":{"type":"string"},"b":{"type":"string"}"#),
            open(r#""a":{"type":"string"}"#),
            Some("#/properties/b: property was added to an open content model"),
        ),
        (open(r#""a":{"type":"string"}"#), open(r#""a":{"type":"string"},"b":{"type":"string"}"#), None),
        (
            closed(r#""a":{"type":"string"}"#, ""),
            closed(r#""a":{"type":"string"},"b":{"type":"string"}"#, ""),
            Some("removed from a closed content model"),
        ),
        (closed(r#""a":{"type":"string"}"#, ""), open(r#""a":{"type":"string"}"#), Some("content model was closed")),
        (open(r#""a":{"type":"number"}"#), open(r#""a":{"type":"integer"}"#), None),
        (
            open(r#""a":{"type":"integer"}"#),
            open(r#""a":{"type":"number"}"#),
            Some("#/properties/a: type 'number' is no longer allowed"),
        ),
        (open(r#""a":{"type":["string","null"]}"#), open(r#""a":{"type":"string"}"#), None),
        (open(r#""a":{"enum":["x","y","z"]}"#), open(r#""a":{"enum":["x","y"]}"#), None),
        (open(r#""a":{"enum":["x"]}"#), open(r#""a":{"enum":["x","y"]}"#), Some(r#"enum value "y" was removed"#)),
        (
            open(r#""a":{"type":"integer","minimum":1}"#),
            open(r#""a":{"type":"integer","minimum":0}"#),
            Some("minimum was added or increased to 1"),
        ),
        (open(r#""a":{"type":"integer","minimum":0}"#), open(r#""a":{"type":"integer","minimum":1}"#), None),
        (
            open(r#""a":{"type":"string","maxLength":5}"#),
            open(r#""a":{"type":"string"}"#),
            Some("maxLength was added or decreased to 5"),
        ),
        (
            open(r#""a":{"type":"array","items":{"type":"string"}}"#),
            open(r#""a":{"type":"array","items":{"type":"integer"}}"#),
            Some("#/properties/a/items: type 'integer'"),
        ),
        (r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#.into(), r#"{"type":"string"}"#.into(), None),
        (
            r#"{"oneOf":[{"type":"string"}]}"#.into(),
            r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#.into(),
            Some("writer branch 1 matches no oneOf branch"),
        ),
        (
            r##"{"$defs":{"n":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/n"}}}"##.into(),
            r#"{"properties":{"a":{"type":"integer"}}}"#.into(),
            Some("type 'integer' is no longer allowed"),
        ),
        ("true".into(), USER.into(), None),
        ("false".into(), USER.into(), Some("accepts nothing")),
    ];
    for (reader, writer, expected) in &table {
        let problems = json(reader).read_incompatibilities(&json(writer));
        match expected {
            None => assert!(problems.is_empty(), "{reader} reading {writer}: {problems:?}"),
            Some(fragment) => {
                assert!(problems.iter().any(|p| p.contains(fragment)), "{reader} reading {writer}: {problems:?}")
            }
        }
    }
}

#[test]
fn record_name_is_the_title() {
    assert_eq!(json(USER).record_name().as_deref(), Some("User"));
    assert_eq!(json(r#"{"type":"string"}"#).record_name(), None);
}

#[test]
fn validate_payload_good_bad_truncated() {
    let s = json(USER);
    s.validate_payload(br#"{"name":"bob","age":3}"#).unwrap();
    assert!(s.validate_payload(br#"{"age":3}"#).unwrap_err().contains("name"));
    assert!(s.validate_payload(br#"{"name":"bob","age":-1}"#).unwrap_err().contains("/age"));
    assert!(s.validate_payload(br#"{"name":"bo"#).unwrap_err().contains("not json"));
    assert!(s.validate_payload(&[0xff, 0xfe]).unwrap_err().contains("not json"));
    let long = format!(r#"{{"name":"{}","age":"x"}}"#, "n".repeat(10_000));
    let err = s.validate_payload(long.as_bytes()).unwrap_err();
    assert!(err.contains("/age") && err.len() < 1000, "{err}");
    let deep = "[".repeat(100_000);
    assert!(json("true").validate_payload(deep.as_bytes()).is_err());
}

proptest::proptest! {
    #[test]
    fn validate_payload_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = json(USER).validate_payload(&bytes);
    }
}

/// Recursive `anyOf` branches compared pairwise grow exponentially with depth; the check stops at its budget
/// and fails closed instead of running for hours.
#[test]
fn a_recursive_combinator_check_is_bounded_and_fails_closed() {
    let writer = r##"{"anyOf":[{"$ref":"#"},{"$ref":"#"},{"type":"string"}]}"##;
    let reader = r##"{"description":"x","anyOf":[{"$ref":"#"},{"$ref":"#"},{"type":"string"}]}"##;
    let w = crate::Schema::parse(crate::SchemaType::Json, writer, &[]).unwrap();
    let r = crate::Schema::parse(crate::SchemaType::Json, reader, &[]).unwrap();
    let started = std::time::Instant::now();
    let problems = r.read_incompatibilities(&w);
    assert!(problems.iter().any(|p| p.contains("too complex")), "{problems:?} after {:?}", started.elapsed());
}
