//! Turning `weft produce` input lines into records: plain lines (optionally split into key and value at a
//! delimiter), or JSON objects in the shape `weft consume --json` prints.

use anyhow::{Context, Result, bail};
use serde_json::Value;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One record per line; the line is the value (or `key<delim>value` with --key-delimiter)
    Lines,
    /// One JSON object per line: {"key", "value", "headers", "partition", "timestamp"}, each optional
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
}

/// How every input line becomes a record; the command line's key, headers and partition apply to each.
#[derive(Debug, Clone, Default)]
pub struct LineParser {
    pub format: Option<InputFormat>,
    pub key: Option<String>,
    pub key_delimiter: Option<String>,
    pub headers: Vec<(String, String)>,
    pub partition: Option<i32>,
}

impl LineParser {
    /// The record for one line (without its line ending); `None` for an empty line, which is skipped.
    pub fn parse(&self, line: &[u8]) -> Result<Option<Input>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(None);
        }
        let input = match self.format.unwrap_or(InputFormat::Lines) {
            InputFormat::Lines => self.plain(line),
            InputFormat::Json => json_record(line)?,
        };
        Ok(Some(self.complete(input)))
    }

    /// `input` with the command line's key and partition where it has none, and its headers first.
    pub fn complete(&self, mut input: Input) -> Input {
        if input.key.is_none() {
            input.key = self.key.as_ref().map(|k| k.as_bytes().to_vec());
        }
        if input.partition.is_none() {
            input.partition = self.partition;
        }
        let common = self.headers.iter().map(|(k, v)| (k.clone(), Some(v.as_bytes().to_vec())));
        input.headers.splice(0..0, common);
        input
    }

    fn plain(&self, line: &[u8]) -> Input {
        let split = self.key_delimiter.as_deref().filter(|d| !d.is_empty()).and_then(|d| {
            let d = d.as_bytes();
            line.windows(d.len()).position(|w| w == d).map(|at| (&line[..at], &line[at + d.len()..]))
        });
        match split {
            Some((k, v)) => Input { key: Some(k.to_vec()), value: Some(v.to_vec()), ..Input::default() },
            // A line without the delimiter has no key.
            None => Input { value: Some(line.to_vec()), ..Input::default() },
        }
    }
}

/// A string as its bytes, null as absent, anything else as its compact JSON text.
fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        other => Some(other.to_string().into_bytes()),
    }
}

fn json_record(line: &[u8]) -> Result<Input> {
    let v: Value = serde_json::from_slice(line).context("invalid JSON")?;
    let Value::Object(o) = v else { bail!("expected a JSON object") };
    let mut input =
        Input { key: o.get("key").and_then(bytes_of), value: o.get("value").and_then(bytes_of), ..Input::default() };
    if let Some(p) = o.get("partition").filter(|p| !p.is_null()) {
        let p = p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| *p >= 0);
        input.partition = Some(p.context("\"partition\" must be a partition number")?);
    }
    if let Some(t) = o.get("timestamp").filter(|t| !t.is_null()) {
        input.timestamp = Some(t.as_i64().context("\"timestamp\" must be epoch milliseconds")?);
    }
    match o.get("headers") {
        None | Some(Value::Null) => {}
        // {"k": "v", ...}
        Some(Value::Object(h)) => input.headers = h.iter().map(|(k, v)| (k.clone(), bytes_of(v))).collect(),
        // [{"key": "k", "value": "v"}, ...] (what `weft consume --json` prints) or [["k", "v"], ...]
        Some(Value::Array(h)) => {
            for e in h {
                let (k, v) = match e {
                    Value::Object(e) => (e.get("key"), e.get("value")),
                    Value::Array(e) if e.len() == 2 => (e.first(), e.get(1)),
                    _ => bail!("a header must be {{\"key\": .., \"value\": ..}} or [key, value]"),
                };
                let k = k.and_then(Value::as_str).context("a header key must be a string")?;
                input.headers.push((k.to_string(), v.and_then(bytes_of)));
            }
        }
        Some(_) => bail!("\"headers\" must be an object or an array"),
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn plain_lines_with_and_without_a_key_delimiter() {
        let p = LineParser::default();
        assert_eq!(p.parse(b"hello\r").unwrap(), Some(Input { value: b("hello"), ..Input::default() }));
        assert_eq!(p.parse(b"").unwrap(), None);
        let p = LineParser { key_delimiter: Some("::".into()), ..LineParser::default() };
        let kv = Input { key: b("k"), value: b("v::w"), ..Input::default() };
        assert_eq!(p.parse(b"k::v::w").unwrap(), Some(kv));
        assert_eq!(p.parse(b"novalue").unwrap(), Some(Input { value: b("novalue"), ..Input::default() }));
        assert_eq!(p.parse(b"::v").unwrap().unwrap().key, b(""));
    }

    #[test]
    fn command_line_key_headers_and_partition_apply_to_every_line() {
        let p = LineParser {
            key: Some("fixed".into()),
            headers: vec![("h".into(), "1".into())],
            partition: Some(2),
            ..LineParser::default()
        };
        let want = Input {
            key: b("fixed"),
            value: b("v"),
            headers: vec![("h".into(), b("1"))],
            partition: Some(2),
            timestamp: None,
        };
        assert_eq!(p.parse(b"v").unwrap(), Some(want));
    }

    #[test]
    fn json_lines_in_the_shape_consume_prints() {
        let p = LineParser { format: Some(InputFormat::Json), partition: Some(1), ..LineParser::default() };
        let line = br#"{"key":"k","value":{"a":1},"headers":[{"key":"x","value":"y"},["z",null]],"timestamp":5}"#;
        let want = Input {
            key: b("k"),
            value: b(r#"{"a":1}"#),
            headers: vec![("x".into(), b("y")), ("z".into(), None)],
            partition: Some(1),
            timestamp: Some(5),
        };
        assert_eq!(p.parse(line).unwrap(), Some(want));
        let got = p.parse(br#"{"value":null,"headers":{"a":"b"},"partition":0}"#).unwrap().unwrap();
        assert_eq!((got.value, got.headers, got.partition), (None, vec![("a".into(), b("b"))], Some(0)));
        for bad in [&b"not json"[..], b"[1]", br#"{"partition":-1}"#, br#"{"headers":5}"#, br#"{"timestamp":"x"}"#] {
            assert!(p.parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
