use crate::{Dependency, Inner, Schema, SchemaType};

fn proto(text: &str) -> Schema {
    Schema::parse(SchemaType::Protobuf, text, &[]).unwrap()
}

const USER: &str = r#"syntax = "proto3";
package com.example;

message User {
  string name = 1;
  int32 age = 2;
  message Address { string city = 1; }
  Address home = 3;
}
message Other { bool flag = 1; }
"#;

fn with_field(field: &str) -> String {
    format!("syntax = \"proto3\";\npackage com.example;\nmessage User {{\n  string name = 1;\n  {field}\n}}\n")
}

#[test]
fn parses_valid_and_rejects_invalid() {
    proto(USER);
    proto(
        "syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nmessage T { google.protobuf.Timestamp at = 1; }",
    );
    for bad in [
        "message {",
        "syntax = \"proto3\";\nmessage M { Missing m = 1; }",
        "syntax = \"proto3\";\nmessage M { int32 a = 1; int32 b = 1; }",
    ] {
        let err = Schema::parse(SchemaType::Protobuf, bad, &[]).unwrap_err();
        assert!(err.to_string().starts_with("invalid PROTOBUF schema: "), "{err}");
    }
}

#[test]
fn canonical_trims_and_normalize_orders_fields() {
    let a = proto(USER);
    let padded = proto(&format!("\n\n{}   \n", USER.replace(";\n", ";   \r\n")));
    assert_eq!(a.canonical(false), padded.canonical(false));
    let reordered = proto(
        "syntax = \"proto3\";\npackage com.example;\n// a comment\nmessage User {\n  Address home = 3;\n  int32 age = 2 [deprecated = false];\n  string name = 1;\n  message Address { string city = 1; }\n}\nmessage Other { bool flag = 1; }",
    );
    assert_ne!(a.canonical(false), reordered.canonical(false));
    assert_eq!(a.canonical(true), reordered.canonical(true), "{}", a.canonical(true));
    assert!(a.canonical(true).contains(".com.example.User.Address home = 3;"));
    let deprecated = proto(&USER.replace("int32 age = 2;", "int32 age = 2 [deprecated = true];"));
    assert!(deprecated.canonical(true).contains("[deprecated = true]"));
}

#[test]
fn references_resolve_imports() {
    let dep = "syntax = \"proto3\";\npackage common;\nmessage Money { int64 cents = 1; }";
    let deps = [Dependency { name: "common/money.proto".into(), schema_type: SchemaType::Protobuf, text: dep.into() }];
    let text = "syntax = \"proto3\";\nimport \"common/money.proto\";\nmessage Order { common.Money total = 1; }";
    let s = Schema::parse(SchemaType::Protobuf, text, &deps).unwrap();
    assert_eq!(s.record_name().as_deref(), Some("Order"));
    s.validate_payload(&[0, 0x0a, 2, 0x08, 5]).unwrap();
    assert!(Schema::parse(SchemaType::Protobuf, text, &[]).is_err());
}

#[test]
fn compatibility_table() {
    let base = with_field("int32 age = 2;");
    let table: Vec<(String, String, Option<&str>)> = vec![
        (base.clone(), base.clone(), None),
        (with_field("int32 age = 2;\n  string email = 3;"), base.clone(), None),
        (with_field(""), base.clone(), None),
        (with_field("int32 years = 2;"), base.clone(), None),
        (with_field("int64 age = 2;"), base.clone(), None),
        (with_field("string age = 2;"), base.clone(), Some("field User.age (2): type changed from int32 to string")),
        (with_field("sint32 age = 2;"), base.clone(), Some("type changed from int32 to sint32")),
        (with_field("repeated int32 age = 2;"), base.clone(), Some("repeated and singular")),
        (with_field("repeated string tags = 2;"), with_field("string tags = 2;"), None),
        (with_field("oneof choice { int32 age = 2; }"), base.clone(), None),
        (
            with_field("oneof choice { int32 age = 2; string nick = 3; }"),
            with_field("oneof choice { int32 age = 2; }\n  string nick = 3;"),
            Some("existing oneof choice"),
        ),
        (
            with_field("oneof c { int32 age = 2; string nick = 3; }"),
            with_field("int32 age = 2;\n  string nick = 3;"),
            Some("moved into one oneof c"),
        ),
        (with_field(""), with_field("oneof choice { int32 age = 2; }"), Some("removed from oneof choice")),
        (base.replace("package com.example;", "package org.example;"), base.clone(), None),
        (
            "syntax = \"proto3\";\nmessage Other { int32 x = 1; }".to_string(),
            base.clone(),
            Some("message User was removed"),
        ),
        (
            "syntax = \"proto3\";\nmessage A { B b = 1; }\nmessage B {}\nmessage C {}".into(),
            "syntax = \"proto3\";\nmessage A { C b = 1; }\nmessage B {}\nmessage C {}".into(),
            Some("type changed from .C to .B"),
        ),
        (
            "syntax = \"proto2\";\nmessage A { required int32 a = 1; }".into(),
            "syntax = \"proto2\";\nmessage A { optional int32 a = 1; }".into(),
            Some("became required"),
        ),
        (
            "syntax = \"proto2\";\nmessage A { optional int32 b = 2; }".into(),
            "syntax = \"proto2\";\nmessage A { required int32 a = 1; optional int32 b = 2; }".into(),
            Some("required field was removed"),
        ),
    ];
    for (reader, writer, expected) in &table {
        let problems = proto(reader).read_incompatibilities(&proto(writer));
        match expected {
            None => assert!(problems.is_empty(), "{reader}\nreading\n{writer}: {problems:?}"),
            Some(fragment) => {
                assert!(problems.iter().any(|p| p.contains(fragment)), "{reader}\nreading\n{writer}: {problems:?}")
            }
        }
    }
}

#[test]
fn record_name_is_the_first_message() {
    assert_eq!(proto(USER).record_name().as_deref(), Some("com.example.User"));
    assert_eq!(proto("syntax = \"proto3\";\nenum E { A = 0; }").record_name(), None);
}

#[test]
fn record_name_for_follows_the_message_indexes() {
    let s = proto(USER);
    assert_eq!(s.record_name_for(&[0]).as_deref(), Some("com.example.User"));
    assert_eq!(s.record_name_for(&[2, 2]).as_deref(), Some("com.example.Other"));
    assert_eq!(s.record_name_for(&[4, 0, 0]).as_deref(), Some("com.example.User.Address"));
    assert_eq!(s.record_name_for(&[2, 8]), None);
    assert_eq!(s.record_name_for(&[]), None);
}

#[test]
fn validate_payload_good_bad_truncated() {
    let s = proto(USER);
    let user = [0x0a, 3, b'b', b'o', b'b', 0x10, 30];
    s.validate_payload(&[&[0u8][..], &user].concat()).unwrap();
    s.validate_payload(&[&[2u8, 0][..], &user].concat()).unwrap();
    // [1] is the second top-level message, Other { bool flag = 1; }
    s.validate_payload(&[2, 2, 0x08, 1]).unwrap();
    // [0, 0] is User.Address
    s.validate_payload(&[4, 0, 0, 0x0a, 1, b'x']).unwrap();
    assert!(s.validate_payload(&[0, 0x0a, 3, b'b']).unwrap_err().contains("com.example.User"));
    assert!(s.validate_payload(&[0, 0x0d, 1, 2, 3, 4]).is_err(), "wire type mismatch");
    assert!(s.validate_payload(&[2, 8]).unwrap_err().contains("names no message"));
    assert!(s.validate_payload(&[0x7e, 0]).unwrap_err().contains("count"));
    assert!(s.validate_payload(&[]).unwrap_err().contains("truncated"));
    assert!(s.validate_payload(&[0, 0x0a, 2, 0xff, 0xfe]).is_err(), "string must be utf-8");
    let proto2 = proto("syntax = \"proto2\";\nmessage A { optional string s = 1; }");
    proto2.validate_payload(&[0, 0x0a, 2, 0xff, 0xfe]).expect("proto2 strings may hold any bytes");
}

#[test]
fn validate_payload_walks_packed_maps_groups_and_unknown_fields() {
    let s = proto("syntax = \"proto3\";\nmessage M { repeated int32 xs = 1; map<string, int64> m = 2; M child = 3; }");
    // packed [1, 2, 300] and the same unpacked
    s.validate_payload(&[0, 0x0a, 4, 1, 2, 0xac, 0x02]).unwrap();
    s.validate_payload(&[0, 0x08, 1, 0x08, 2]).unwrap();
    assert!(s.validate_payload(&[0, 0x0a, 2, 1, 0x80]).unwrap_err().contains("truncated varint"));
    // m = {"k": 7}
    s.validate_payload(&[0, 0x12, 5, 0x0a, 1, b'k', 0x10, 7]).unwrap();
    assert!(s.validate_payload(&[0, 0x12, 5, 0x0a, 1, 0xff, 0x10, 7]).unwrap_err().contains("utf-8"));
    // unknown field 9 (varint), 10 (fixed32), 11 (group with a varint inside)
    s.validate_payload(&[0, 0x48, 1, 0x55, 1, 2, 3, 4, 0x5b, 0x08, 1, 0x5c]).unwrap();
    assert!(s.validate_payload(&[0, 0x5b, 0x08, 1]).unwrap_err().contains("not closed"));
    assert!(s.validate_payload(&[0, 0x0f]).unwrap_err().contains("wire type 7 where 0"));
    assert!(s.validate_payload(&[0, 0x4f]).unwrap_err().contains("invalid wire type 7"));
    assert!(s.validate_payload(&[0, 0x00]).unwrap_err().contains("invalid field number 0"));
    let mut nested: Vec<u8> = Vec::new();
    for _ in 0..150 {
        let mut len = nested.len();
        let mut outer = vec![0x1a];
        while len >= 0x80 {
            outer.push((len as u8) | 0x80);
            len >>= 7;
        }
        outer.push(len as u8);
        outer.extend(nested);
        nested = outer;
    }
    assert!(s.validate_payload(&[&[0u8][..], &nested].concat()).unwrap_err().contains("nested deeper"));
    let g = proto("syntax = \"proto2\";\nmessage G { optional group Part = 1 { optional int32 a = 2; } }");
    g.validate_payload(&[0, 0x0b, 0x10, 5, 0x0c]).unwrap();
    assert!(g.validate_payload(&[0, 0x0a, 0]).unwrap_err().contains("wire type 2 where 3"));
}

#[test]
fn schemas_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Schema>();
}

proptest::proptest! {
    #[test]
    fn validate_payload_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let s = proto("syntax = \"proto3\";\nmessage N { repeated N kids = 1; map<string, int64> m = 2; oneof o { string s = 3; double d = 4; } repeated sint32 p = 5; }");
        let _ = s.validate_payload(&bytes);
    }
}

/// confluent-kafka's serializer sends base64 of a `FileDescriptorProto`; it parses to the printed text, which
/// serializes back to a descriptor of the same messages.
#[test]
fn the_serialized_form_parses_and_round_trips() {
    let text = proto(USER);
    let serialized = text.serialized().unwrap();
    let from_descriptor = proto(&serialized);
    assert_eq!(from_descriptor.canonical(false), text.canonical(true).trim(), "stored as the printed text");
    assert_eq!(from_descriptor.record_name().as_deref(), Some("com.example.User"));
    assert!(from_descriptor.read_incompatibilities(&text).is_empty());
    assert_eq!(proto(&from_descriptor.serialized().unwrap()).canonical(false), from_descriptor.canonical(false));
    let dep = Dependency {
        name: "common.proto".into(),
        schema_type: SchemaType::Protobuf,
        text: "syntax = \"proto3\";\npackage common;\nmessage Id { string v = 1; }".into(),
    };
    let importing = "syntax = \"proto3\";\nimport \"common.proto\";\nimport \"google/protobuf/timestamp.proto\";\nmessage E { common.Id id = 1; google.protobuf.Timestamp at = 2; }";
    let parsed = Schema::parse(SchemaType::Protobuf, importing, std::slice::from_ref(&dep)).unwrap();
    let again = Schema::parse(SchemaType::Protobuf, &parsed.serialized().unwrap(), &[dep]).unwrap();
    assert!(again.canonical(false).contains("import \"common.proto\";"), "{}", again.canonical(false));
    for garbage in ["AAAA", "bm90IGEgZGVzY3JpcHRvcg=="] {
        assert!(Schema::parse(SchemaType::Protobuf, garbage, &[]).is_err(), "{garbage}");
    }
    assert!(Schema::parse(SchemaType::Avro, r#""string""#, &[]).unwrap().serialized().is_none());
}

/// The check counts field comparisons and fails closed over its budget; problems are capped.
#[test]
fn checks_are_bounded() {
    let many = |n: usize, ty: &str| {
        let messages: Vec<String> = (0..n).map(|i| format!("message M{i} {{ {ty} a = 1; {ty} b = 2; }}")).collect();
        proto(&format!("syntax = \"proto3\";\n{}", messages.join("\n")))
    };
    let (Inner::Protobuf(old), Inner::Protobuf(new)) = (many(50, "string").inner, many(50, "string").inner) else {
        unreachable!()
    };
    assert!(super::compat::read_incompatibilities_within(&new.file, &old.file, 1_000).is_empty());
    let found = super::compat::read_incompatibilities_within(&new.file, &old.file, 100);
    assert!(found.iter().any(|m| m.contains("too complex to check")), "{found:?}");
    let changed = many(300, "int64");
    let found = changed.read_incompatibilities(&many(300, "string"));
    assert_eq!(found.len(), 101, "capped, with a last line saying so");
    assert!(found[100].contains("more than 100 problems"), "{}", found[100]);
}
