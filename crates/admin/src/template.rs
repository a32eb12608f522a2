//! How `weft consume` prints a record: a kcat-style format template, or one JSON object per record.

use anyhow::{Result, bail};
use serde::Serialize;
use std::borrow::Cow;

/// A consumed record, borrowed from the client.
pub struct RecordView<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, if the record has a timestamp.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    KeyLen,
    Value,
    ValueLen,
    Headers,
    Timestamp,
}

/// `%t` topic, `%p` partition, `%o` offset, `%k` key, `%s` value, `%K`/`%S` key/value length (-1 when null),
/// `%h` headers as `k=v,k2=v2`, `%T` timestamp in ms (-1 when none), `%%`; escapes `\n`, `\t`, `\r`, `\\`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(s: &str) -> Result<Template> {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('k') => Piece::Key,
                    Some('K') => Piece::KeyLen,
                    Some('s') => Piece::Value,
                    Some('S') => Piece::ValueLen,
                    Some('h') => Piece::Headers,
                    Some('T') => Piece::Timestamp,
                    Some('%') => {
                        text.push(b'%');
                        continue;
                    }
                    Some(o) => bail!("unknown format field %{o} in {s:?} (known: %t %p %o %k %K %s %S %h %T %%)"),
                    None => bail!("format {s:?} ends with a lone %"),
                },
                '\\' => {
                    let e = match chars.next() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some(o) => bail!("unknown escape \\{o} in {s:?} (known: \\n \\t \\r \\\\)"),
                        None => bail!("format {s:?} ends with a lone \\"),
                    };
                    text.extend_from_slice(e.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                c => {
                    text.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template(pieces))
    }

    /// Appends the record's rendering to `out`; keys and values are written as they are (bytes).
    pub fn render(&self, r: &RecordView<'_>, out: &mut Vec<u8>) {
        let len = |b: Option<&[u8]>| b.map_or(-1, |b| b.len() as i64).to_string();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.extend_from_slice(t),
                Piece::Topic => out.extend_from_slice(r.topic.as_bytes()),
                Piece::Partition => out.extend_from_slice(r.partition.to_string().as_bytes()),
                Piece::Offset => out.extend_from_slice(r.offset.to_string().as_bytes()),
                Piece::Key => out.extend_from_slice(r.key.unwrap_or_default()),
                Piece::KeyLen => out.extend_from_slice(len(r.key).as_bytes()),
                Piece::Value => out.extend_from_slice(r.value.unwrap_or_default()),
                Piece::ValueLen => out.extend_from_slice(len(r.value).as_bytes()),
                Piece::Timestamp => out.extend_from_slice(r.timestamp.unwrap_or(-1).to_string().as_bytes()),
                Piece::Headers => {
                    for (i, (k, v)) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(k.as_bytes());
                        if let Some(v) = v {
                            out.push(b'=');
                            out.extend_from_slice(v);
                        }
                    }
                }
            }
        }
    }
}

fn text(b: Option<&[u8]>) -> Option<Cow<'_, str>> {
    b.map(String::from_utf8_lossy)
}

#[derive(Serialize)]
struct HeaderJson<'a> {
    key: &'a str,
    value: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
struct RecordJson<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Cow<'a, str>>,
    value: Option<Cow<'a, str>>,
    headers: Vec<HeaderJson<'a>>,
}

/// The record as one line of JSON; `weft produce --format json` reads the same shape back. Bytes that are not
/// UTF-8 are replaced (U+FFFD).
pub fn to_json(r: &RecordView<'_>) -> String {
    let headers = r.headers.iter().map(|(k, v)| HeaderJson { key: k, value: text(*v) }).collect();
    let j = RecordJson {
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: text(r.key),
        value: text(r.value),
        headers,
    };
    serde_json::to_string(&j).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RecordView<'static> {
        RecordView {
            topic: "orders",
            partition: 2,
            offset: 17,
            timestamp: Some(1_700_000_000_000),
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers: vec![("a", Some(b"1")), ("b", None)],
        }
    }

    fn render(t: &str, r: &RecordView<'_>) -> String {
        let mut out = Vec::new();
        Template::parse(t).unwrap().render(r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn templates_render_every_field() {
        let r = record();
        assert_eq!(render("%t/%p@%o %k=%s [%h] %T\\n", &r), "orders/2@17 k1=hello [a=1,b] 1700000000000\n");
        assert_eq!(render("%K %S 100%% \\t\\\\", &r), "2 5 100% \t\\");
        let empty = RecordView { key: None, value: None, timestamp: None, headers: vec![], ..record() };
        assert_eq!(render("<%k|%s|%K|%S|%h|%T>", &empty), "<||-1|-1||-1>");
        assert_eq!(render("héllo %s", &r), "héllo hello");
    }

    #[test]
    fn bad_templates_are_refused() {
        for bad in ["%x", "abc%", "\\q", "x\\"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_has_every_field() {
        use serde_json::{Value, json};
        let v: Value = serde_json::from_str(&to_json(&record())).unwrap();
        assert_eq!(v["topic"], "orders");
        assert_eq!((v["partition"].as_i64(), v["offset"].as_i64()), (Some(2), Some(17)));
        assert_eq!(v["timestamp"].as_i64(), Some(1_700_000_000_000));
        assert_eq!((v["key"].as_str(), v["value"].as_str()), (Some("k1"), Some("hello")));
        assert_eq!(v["headers"], json!([{"key": "a", "value": "1"}, {"key": "b", "value": null}]));
        let v: Value =
            serde_json::from_str(&to_json(&RecordView { key: None, value: Some(b"\xff"), ..record() })).unwrap();
        assert_eq!((v["key"].clone(), v["value"].as_str()), (Value::Null, Some("\u{fffd}")));
    }
}
