//! The subject of an X.509 certificate as the distinguished-name string Kafka matches its principal
//! mapping rules against: Java's `X500Principal.getName()` (RFC 2253), e.g. `CN=alice,OU=eng,O=Acme,C=US`.
//!
//! Only the subject is read, from the DER the TLS library already verified, so a small bounded DER walk is
//! enough (no X.509 crate: rustls does the checking, this only renders names). Every length is checked
//! against the bytes present. Rendering follows Java: the RDNs last to first, the attributes of a
//! multi-valued RDN joined by `+` in their encoded order, keywords only for CN, C, L, ST, O, OU, STREET, DC
//! and UID (others as the dotted OID with `#` and the hex of the value's DER), and `,=+<>#;"\` escaped
//! with a backslash, as are leading and trailing spaces.

/// Why a certificate's subject could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("certificate subject unreadable: {0}")]
pub struct DnError(&'static str);

/// One DER element: its tag, its content and the whole encoding.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

/// Reads one element off the front of `input`, returning it and the rest.
fn tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DnError> {
    let (&tag, after_tag) = input.split_first().ok_or(DnError("truncated element"))?;
    if tag & 0x1f == 0x1f {
        return Err(DnError("multi-byte tags are not used in names"));
    }
    let (&first, mut rest) = after_tag.split_first().ok_or(DnError("truncated length"))?;
    let len = match first {
        n if n < 0x80 => usize::from(n),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7f);
            let bytes = rest.get(..count).ok_or(DnError("truncated length"))?;
            rest = &rest[count..];
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(DnError("unsupported length form")),
    };
    let content = rest.get(..len).ok_or(DnError("length beyond the data"))?;
    let header = input.len() - rest.len();
    let whole = &input[..header + len];
    Ok((Tlv { tag, content, whole }, &rest[len..]))
}

/// Reads an element that must have tag `tag`.
fn expect<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<(Tlv<'a>, &'a [u8]), DnError> {
    let (t, rest) = tlv(input)?;
    if t.tag != tag {
        return Err(DnError(what));
    }
    Ok((t, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The subject of a DER certificate, rendered as Java's RFC 2253 string.
pub fn subject_dn(certificate: &[u8]) -> Result<String, DnError> {
    let (cert, _) = expect(certificate, SEQUENCE, "certificate is not a sequence")?;
    let (tbs, _) = expect(cert.content, SEQUENCE, "tbsCertificate is not a sequence")?;
    let mut fields = tbs.content;
    if fields.first() == Some(&0xa0) {
        fields = tlv(fields)?.1; // version
    }
    for what in ["serial number", "signature algorithm", "issuer", "validity"] {
        let (_, rest) = tlv(fields).map_err(|_| DnError(what))?;
        fields = rest;
    }
    let (subject, _) = expect(fields, SEQUENCE, "subject is not a sequence")?;
    render_name(subject.content)
}

/// Renders the RDN sequence of a Name (the content of its SEQUENCE).
pub fn render_name(mut rdns: &[u8]) -> Result<String, DnError> {
    let mut rendered = Vec::new();
    while !rdns.is_empty() {
        let (set, rest) = expect(rdns, SET, "relative distinguished name is not a set")?;
        rdns = rest;
        let mut avas = Vec::new();
        let mut members = set.content;
        while !members.is_empty() {
            let (ava, rest) = expect(members, SEQUENCE, "attribute is not a sequence")?;
            members = rest;
            let (oid, value) = expect(ava.content, OID, "attribute type is not an OID")?;
            let (value, _) = tlv(value)?;
            avas.push(render_ava(&dotted(oid.content)?, &value));
        }
        rendered.push(avas.join("+"));
    }
    rendered.reverse();
    Ok(rendered.join(","))
}

/// Java's RFC 2253 keyword of an attribute type, if it has one.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn render_ava(oid: &str, value: &Tlv<'_>) -> String {
    match (keyword(oid), text(value)) {
        (Some(key), Some(text)) => format!("{key}={}", escape(&text)),
        (key, _) => format!("{}=#{}", key.unwrap_or(oid), hex(value.whole)),
    }
}

/// The value of a string-typed attribute; `None` for other types (rendered as hex).
fn text(value: &Tlv<'_>) -> Option<String> {
    let c = value.content;
    match value.tag {
        0x0c => std::str::from_utf8(c).ok().map(str::to_string),
        // PrintableString, IA5String, VisibleString; TeletexString read as Latin-1, as Java does.
        0x13 | 0x16 | 0x1a | 0x14 => Some(c.iter().map(|&b| char::from(b)).collect()),
        0x1e if c.len().is_multiple_of(2) => {
            let units: Vec<u16> = c.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
            String::from_utf16(&units).ok()
        }
        0x1c if c.len().is_multiple_of(4) => {
            c.chunks_exact(4).map(|p| char::from_u32(u32::from_be_bytes([p[0], p[1], p[2], p[3]]))).collect()
        }
        _ => None,
    }
}

/// Backslash before `,=+<>#;"\`, before leading and trailing spaces; NUL as `\00`.
fn escape(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let lead = chars.iter().take_while(|c| **c == ' ' || **c == '\r').count();
    let trail = chars.iter().rev().take_while(|c| **c == ' ' || **c == '\r').count();
    let mut out = String::with_capacity(value.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '\0' {
            out.push_str("\\00");
            continue;
        }
        if ",=+<>#;\"\\".contains(c) || i < lead || i >= chars.len() - trail {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OID's content bytes as dotted decimal.
fn dotted(content: &[u8]) -> Result<String, DnError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        acc = acc.checked_mul(128).ok_or(DnError("OID arc too large"))? | u64::from(b & 0x7f);
        if b & 0x80 != 0 {
            if i + 1 == content.len() {
                return Err(DnError("truncated OID"));
            }
            continue;
        }
        if arcs.is_empty() {
            let first = (acc / 40).min(2);
            arcs.push(first);
            arcs.push(acc - first * 40);
        } else {
            arcs.push(acc);
        }
        acc = 0;
    }
    if arcs.is_empty() {
        return Err(DnError("empty OID"));
    }
    Ok(arcs.iter().map(u64::to_string).collect::<Vec<_>>().join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    fn ava(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        der(SEQUENCE, &[der(OID, oid), der(tag, value)].concat())
    }

    fn rdn(avas: &[Vec<u8>]) -> Vec<u8> {
        der(SET, &avas.concat())
    }

    const CN: &[u8] = &[0x55, 4, 3];
    const OU: &[u8] = &[0x55, 4, 11];
    const O: &[u8] = &[0x55, 4, 10];
    const C: &[u8] = &[0x55, 4, 6];
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

    #[test]
    fn names_render_last_rdn_first_with_java_keywords() {
        let name = [
            rdn(&[ava(C, 0x13, b"US")]),
            rdn(&[ava(O, 0x0c, b"Sun Microsystems")]),
            rdn(&[ava(OU, 0x0c, b"JavaSoft")]),
            rdn(&[ava(CN, 0x0c, b"Duke")]),
        ]
        .concat();
        assert_eq!(render_name(&name).unwrap(), "CN=Duke,OU=JavaSoft,O=Sun Microsystems,C=US");
        let dc = [rdn(&[ava(DC, 0x16, b"com")]), rdn(&[ava(DC, 0x16, b"example")])].concat();
        assert_eq!(render_name(&dc).unwrap(), "DC=example,DC=com");
    }

    #[test]
    fn special_characters_and_edge_spaces_are_escaped() {
        let name = rdn(&[ava(CN, 0x0c, b"Tkac, Adam")]);
        assert_eq!(render_name(&name).unwrap(), "CN=Tkac\\, Adam");
        let name = rdn(&[ava(CN, 0x0c, b" a+b=c<d>#e;\"f\\ ")]);
        assert_eq!(render_name(&name).unwrap(), "CN=\\ a\\+b\\=c\\<d\\>\\#e\\;\\\"f\\\\\\ ");
        let name = rdn(&[ava(CN, 0x0c, "Jürgen".as_bytes())]);
        assert_eq!(render_name(&name).unwrap(), "CN=Jürgen");
        let bmp: Vec<u8> = "Zoë".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(render_name(&rdn(&[ava(CN, 0x1e, &bmp)])).unwrap(), "CN=Zoë");
    }

    #[test]
    fn attributes_without_a_keyword_are_oid_and_hex_der_and_multi_valued_rdns_use_plus() {
        let name = [rdn(&[ava(EMAIL, 0x16, b"a@b.c")]), rdn(&[ava(CN, 0x0c, b"x"), ava(OU, 0x0c, b"y")])].concat();
        assert_eq!(render_name(&name).unwrap(), "CN=x+OU=y,1.2.840.113549.1.9.1=#1605614062 2e63".replace(' ', ""));
        let not_text = rdn(&[ava(CN, 0x02, &[1])]);
        assert_eq!(render_name(&not_text).unwrap(), "CN=#020101");
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        assert_eq!(render_name(&[]).unwrap(), "", "an empty subject");
        for bad in
            [&[0x31][..], &[0x31, 0x05, 0x30], &[0x31, 0x85, 0, 0, 0, 0, 1], &[0x1f, 0], &[0x31, 0x02, 0x30, 0x00]]
        {
            assert!(render_name(bad).is_err(), "{bad:?}");
        }
        assert!(subject_dn(&[0x30, 0x03, 0x30, 0x01, 0x02]).is_err());
        assert_eq!(dotted(&[0x86]), Err(DnError("truncated OID")));
        assert_eq!(dotted(&[0xff; 12]), Err(DnError("OID arc too large")));
    }
}
