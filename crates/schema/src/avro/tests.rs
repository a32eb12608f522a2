use crate::{Dependency, Schema, SchemaType};

fn avro(text: &str) -> Schema {
    Schema::parse(SchemaType::Avro, text, &[]).unwrap()
}

const USER: &str = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
    {"name":"name","type":"string"},{"name":"age","type":"int"}]}"#;

#[test]
fn parses_valid_and_rejects_invalid() {
    avro(USER);
    avro(r#""long""#);
    for bad in [
        "not json",
        r#"{"type":"record","name":"R"}"#,
        r#"{"type":"nope"}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#,
    ] {
        let err = Schema::parse(SchemaType::Avro, bad, &[]).unwrap_err();
        assert!(err.to_string().starts_with("invalid AVRO schema: "), "{err}");
    }
}

#[test]
fn canonical_ignores_whitespace_and_normalize_uses_full_names() {
    let a = avro(USER);
    let b = avro(&USER.replace('\n', " ").replace("  ", ""));
    assert_eq!(a.canonical(false), b.canonical(false));
    assert!(!a.canonical(false).contains('\n'));
    let short = avro(
        r#"{"type":"record","name":"com.example.User","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"int"}]}"#,
    );
    assert_eq!(a.canonical(true), short.canonical(true));
    assert!(a.canonical(true).contains(r#""name":"com.example.User""#), "{}", a.canonical(true));
}

#[test]
fn references_resolve_named_types_from_dependencies() {
    let address =
        r#"{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"city","type":"string"}]}"#;
    let deps = [Dependency { name: "com.example.Address".into(), schema_type: SchemaType::Avro, text: address.into() }];
    let text =
        r#"{"type":"record","name":"Customer","namespace":"com.example","fields":[{"name":"home","type":"Address"}]}"#;
    let s = Schema::parse(SchemaType::Avro, text, &deps).unwrap();
    assert!(s.canonical(false).contains("com.example.Address"));
    assert!(!s.canonical(false).contains("city"), "references stay out of the stored text");
    s.validate_payload(&[4, b'o', b's']).unwrap();
    assert!(Schema::parse(SchemaType::Avro, text, &[]).is_err());
}

#[test]
fn compatibility_table() {
    let v1 = USER;
    let added_default = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"int"},{"name":"email","type":"string","default":""}]}"#;
    let added_required = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"int"},{"name":"email","type":"string"}]}"#;
    let age_long = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"long"}]}"#;
    let age_string = r#"{"type":"record","name":"User","namespace":"com.example","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"string"}]}"#;
    let enum_ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
    let enum_a = r#"{"type":"enum","name":"E","symbols":["A"]}"#;
    let rec_enum = |symbols: &str| {
        format!(
            r#"{{"type":"record","name":"R","fields":[{{"name":"color","type":{{"type":"enum","name":"E","symbols":{symbols}}}}}]}}"#
        )
    };
    // (reader, writer, expected message fragment or None when compatible)
    let table: &[(&str, &str, Option<&str>)] = &[
        (v1, v1, None),
        (added_default, v1, None),
        (v1, added_default, None),
        (added_required, v1, Some("reader field 'email' is missing in the writer and has no default value")),
        (age_long, v1, None),
        (v1, age_long, Some("field 'age'")),
        (age_string, v1, Some("field 'age'")),
        (enum_ab, enum_a, None),
        (enum_a, enum_ab, Some("root: the reader's enum E lacks symbols B and has no default")),
        (&rec_enum(r#"["A"]"#), &rec_enum(r#"["A","B"]"#), Some("root.color: the reader's enum E lacks symbols B")),
        (&rec_enum(r#"["A"],"default":"A""#), &rec_enum(r#"["A","B"]"#), None),
        (
            r#"["null","string"]"#,
            r#"["null","string","long"]"#,
            Some("root: the reader's union has no branch for the writer's long"),
        ),
        (r#"["null","string","long"]"#, r#"["null","string"]"#, None),
        (r#""string""#, r#""int""#, Some("type mismatch")),
    ];
    for (reader, writer, expected) in table {
        let problems = avro(reader).read_incompatibilities(&avro(writer));
        match expected {
            None => assert!(problems.is_empty(), "{reader} reading {writer}: {problems:?}"),
            Some(fragment) => assert!(
                problems.iter().any(|p| p.contains(fragment) && p.starts_with(|c: char| c.is_lowercase())),
                "{reader} reading {writer}: {problems:?}"
            ),
        }
    }
}

#[test]
fn record_name_is_the_full_name_of_the_top_level_type() {
    assert_eq!(avro(USER).record_name().as_deref(), Some("com.example.User"));
    assert_eq!(avro(r#""string""#).record_name(), None);
}

#[test]
fn validate_payload_good_bad_truncated() {
    let s = avro(USER);
    s.validate_payload(&[6, b'b', b'o', b'b', 60]).unwrap();
    assert!(s.validate_payload(&[6, b'b', b'o', b'b']).unwrap_err().contains("truncated"));
    assert!(s.validate_payload(&[6, b'b', b'o', b'b', 60, 0]).unwrap_err().contains("trailing"));
    assert!(s.validate_payload(&[6, 0xff, 0xfe, 0xfd, 60]).unwrap_err().contains("utf-8"));
    let huge_len = [0xfe, 0xff, 0xff, 0xff, 0x0f];
    assert!(s.validate_payload(&huge_len).unwrap_err().contains("truncated"));
    let nulls = avro(r#"{"type":"array","items":"null"}"#);
    nulls.validate_payload(&[6, 0]).unwrap();
    assert!(nulls.validate_payload(&[0xfe, 0xff, 0xff, 0xff, 0x0f, 0]).is_err());
    let list = avro(r#"{"type":"record","name":"L","fields":[{"name":"next","type":["null","L"]}]}"#);
    list.validate_payload(&[2, 2, 0]).unwrap();
    assert!(list.validate_payload(&[2; 4096]).unwrap_err().contains("nested"));
    // A top-level bytes value is written raw by Confluent's serializers: no length prefix.
    avro(r#""bytes""#).validate_payload(b"\xffany raw bytes").unwrap();
    let e = avro(r#"{"type":"enum","name":"E","symbols":["A"]}"#);
    assert!(e.validate_payload(&[2]).unwrap_err().contains("out of range"));
}

proptest::proptest! {
    #[test]
    fn validate_payload_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let s = avro(r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":{"type":"array","items":["null","string",{"type":"map","values":"long"}]}},
            {"name":"b","type":{"type":"fixed","name":"F","size":3}},{"name":"c","type":"double"}]}"#);
        let _ = s.validate_payload(&bytes);
    }
}

/// A union of same-named records against a union of same-named enums: every pair is a type mismatch whose
/// error formats both whole types. The check refuses at once instead of working for minutes.
#[test]
fn a_crafted_check_fails_closed_quickly() {
    let fields: Vec<String> = (0..20).map(|i| format!(r#"{{"name":"f{i}","type":"string"}}"#)).collect();
    let records: Vec<String> = (0..300)
        .map(|n| format!(r#"{{"type":"record","name":"R","namespace":"w{n}","fields":[{}]}}"#, fields.join(",")))
        .collect();
    let enums: Vec<String> =
        (0..300).map(|n| format!(r#"{{"type":"enum","name":"R","namespace":"r{n}","symbols":["A"]}}"#)).collect();
    let writer = avro(&format!("[{}]", records.join(",")));
    let reader = avro(&format!("[{}]", enums.join(",")));
    let started = std::time::Instant::now();
    let found = reader.read_incompatibilities(&writer);
    assert!(found.iter().any(|m| m.contains("too complex to check")), "{found:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    // An ordinary large evolution is far within the budget.
    let wide = |n: usize| {
        let fields: Vec<String> =
            (0..n).map(|i| format!(r#"{{"name":"f{i}","type":["null","string"],"default":null}}"#)).collect();
        avro(&format!(r#"{{"type":"record","name":"Wide","fields":[{}]}}"#, fields.join(",")))
    };
    assert!(wide(1001).read_incompatibilities(&wide(1000)).is_empty());
}

#[test]
fn canonical_keeps_properties_of_primitive_types() {
    let text = r#"{"type":"record","name":"R","connect.name":"x.R","fields":[
        {"name":"a","type":{"type":"int","connect.type":"int16"}},
        {"name":"s","type":["null",{"type":"string","avro.java.string":"String"}],"default":null},
        {"name":"l","type":{"type":"array","items":{"type":"long","logicalType":"my-own","p":1}}},
        {"name":"u","type":{"type":"string","logicalType":"uuid","x":true}}]}"#;
    let canonical: serde_json::Value = serde_json::from_str(&avro(text).canonical(false)).unwrap();
    let fields = &canonical["fields"];
    assert_eq!(fields[0]["type"], serde_json::json!({"type": "int", "connect.type": "int16"}));
    assert_eq!(fields[1]["type"][1], serde_json::json!({"type": "string", "avro.java.string": "String"}));
    assert_eq!(fields[2]["type"]["items"], serde_json::json!({"type": "long", "logicalType": "my-own", "p": 1}));
    assert_eq!(fields[3]["type"], serde_json::json!({"type": "string", "logicalType": "uuid", "x": true}));
    assert_eq!(canonical["connect.name"], "x.R");
    // The text stored keeps them and parses again to the same text.
    let again = avro(&avro(text).canonical(false));
    assert_eq!(again.canonical(false), avro(text).canonical(false));
    let top = avro(r#"{"type":"bytes","connect.name":"b"}"#);
    assert_eq!(top.canonical(false), r#"{"connect.name":"b","type":"bytes"}"#);
}

#[test]
fn canonical_of_schemas_without_dropped_properties_is_unchanged() {
    // The texts (and so the fingerprints that deduplicate registrations) of schemas that lose nothing in
    // apache-avro's model are what they were before properties were restored.
    let cases = [
        (r#"{"type":"int"}"#, r#""int""#),
        (
            r#"{"type":"record","name":"a.b.R","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":2}},{"name":"g","type":"F"},{"name":"s","type":{"type":"string"}}]}"#,
            r#"{"fields":[{"name":"f","type":{"name":"F","namespace":"a.b","size":2,"type":"fixed"}},{"name":"g","type":"a.b.F"},{"name":"s","type":"string"}],"name":"R","namespace":"a.b","type":"record"}"#,
        ),
        (
            r#"["null",{"type":"long","logicalType":"timestamp-millis"}]"#,
            r#"["null",{"logicalType":"timestamp-millis","type":"long"}]"#,
        ),
    ];
    for (text, want) in cases {
        assert_eq!(avro(text).canonical(false), want, "{text}");
    }
}
