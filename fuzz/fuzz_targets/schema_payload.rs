//! Arbitrary record payloads through the schema registry's deep validation, for one schema of each format.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weft_schema::{Schema, SchemaType};

const AVRO: &str = r#"{"type":"record","name":"R","fields":[
    {"name":"a","type":{"type":"array","items":["null","string",{"type":"map","values":"long"}]}},
    {"name":"b","type":{"type":"fixed","name":"F","size":3}},{"name":"next","type":["null","R"]}]}"#;
const PROTOBUF: &str = "syntax = \"proto3\";\nmessage N { repeated N kids = 1; map<string, int64> m = 2; \
    oneof o { string s = 3; double d = 4; } repeated sint32 p = 5; }";
const JSON: &str = r#"{"type":"object","properties":{"a":{"type":"array","items":{"type":"string","pattern":"^x+$"}}}}"#;

fuzz_target!(|data: &[u8]| {
    for (kind, text) in [(SchemaType::Avro, AVRO), (SchemaType::Protobuf, PROTOBUF), (SchemaType::Json, JSON)] {
        if let Ok(schema) = Schema::parse(kind, text, &[]) {
            let _ = schema.validate_payload(data);
        }
    }
});
