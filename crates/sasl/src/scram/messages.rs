//! The SCRAM messages a client sends (RFC 5802 section 7), parsed strictly: the client-first message (GS2
//! header, user name, nonce, extensions) and the client-final message (channel binding, nonce, proof).
//! Channel binding (`p=`) and the reserved `m=` extension are refused, as Kafka refuses them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("invalid SCRAM message: not UTF-8")]
    NotUtf8,
    #[error("invalid SCRAM client-first message: bad GS2 header")]
    Gs2Header,
    #[error("SCRAM channel binding is not supported")]
    ChannelBinding,
    #[error("invalid SCRAM message: expected attribute {expected:?}")]
    Attribute { expected: &'static str },
    #[error("invalid SCRAM message: bad user name encoding")]
    SaslName,
    #[error("invalid SCRAM message: bad nonce")]
    Nonce,
    #[error("invalid SCRAM message: bad base64 in {what}")]
    Base64 { what: &'static str },
    #[error("invalid SCRAM message: mandatory extension {name:?} is not supported")]
    MandatoryExtension { name: String },
}

/// The client-first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// The GS2 header as sent (`n,,`), which the final message's channel binding must repeat.
    pub gs2_header: String,
    pub authzid: Option<String>,
    pub user: String,
    pub nonce: String,
    /// Extensions after the nonce (Kafka's `tokenauth=true` marks delegation tokens).
    pub extensions: Vec<(String, String)>,
    /// The message without its GS2 header, part of the signed AuthMessage.
    pub bare: String,
}

/// The client-final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFinal {
    /// The decoded `c=` attribute: the GS2 header (no channel-binding data is accepted).
    pub channel_binding: Vec<u8>,
    pub nonce: String,
    /// The message up to its proof, part of the signed AuthMessage.
    pub without_proof: String,
    pub proof: Vec<u8>,
}

fn text(bytes: &[u8]) -> Result<&str, MessageError> {
    std::str::from_utf8(bytes).map_err(|_| MessageError::NotUtf8)
}

/// Decodes a `saslname`: `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
pub fn decode_saslname(name: &str) -> Result<String, MessageError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(MessageError::SaslName),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.is_empty() { Err(MessageError::SaslName) } else { Ok(out) }
}

/// Encodes a user name as a `saslname` (the client side, for tests and tools).
pub fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn attribute<'a>(field: Option<&'a str>, key: &'static str) -> Result<&'a str, MessageError> {
    field.and_then(|f| f.strip_prefix(key)).ok_or(MessageError::Attribute { expected: key })
}

fn valid_nonce(nonce: &str) -> Result<(), MessageError> {
    // printable ASCII but ','
    if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
        return Err(MessageError::Nonce);
    }
    Ok(())
}

fn extensions<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Vec<(String, String)>, MessageError> {
    fields
        .map(|f| match f.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(MessageError::Attribute { expected: "extension" }),
        })
        .collect()
}

/// Parses the client-first message.
pub fn parse_client_first(bytes: &[u8]) -> Result<ClientFirst, MessageError> {
    let msg = text(bytes)?;
    let (flag, rest) = msg.split_once(',').ok_or(MessageError::Gs2Header)?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(MessageError::ChannelBinding),
        _ => return Err(MessageError::Gs2Header),
    }
    let (authz, bare) = rest.split_once(',').ok_or(MessageError::Gs2Header)?;
    let authzid = match authz {
        "" => None,
        a => Some(decode_saslname(a.strip_prefix("a=").ok_or(MessageError::Gs2Header)?)?),
    };
    let gs2_header = format!("{flag},{authz},");
    let mut fields = bare.split(',');
    let first = fields.next();
    if let Some(mext) = first.and_then(|f| f.strip_prefix("m=")) {
        return Err(MessageError::MandatoryExtension { name: mext.to_string() });
    }
    let user = decode_saslname(attribute(first, "n=")?)?;
    let nonce = attribute(fields.next(), "r=")?.to_string();
    valid_nonce(&nonce)?;
    let extensions = extensions(fields)?;
    Ok(ClientFirst { gs2_header, authzid, user, nonce, extensions, bare: bare.to_string() })
}

/// Parses the client-final message.
pub fn parse_client_final(bytes: &[u8]) -> Result<ClientFinal, MessageError> {
    let msg = text(bytes)?;
    let (without_proof, proof) = msg.rsplit_once(",p=").ok_or(MessageError::Attribute { expected: "p=" })?;
    let mut fields = without_proof.split(',');
    let binding = attribute(fields.next(), "c=")?;
    let channel_binding = STANDARD.decode(binding).map_err(|_| MessageError::Base64 { what: "channel binding" })?;
    let nonce = attribute(fields.next(), "r=")?.to_string();
    valid_nonce(&nonce)?;
    extensions(fields)?;
    let proof = STANDARD.decode(proof).map_err(|_| MessageError::Base64 { what: "proof" })?;
    Ok(ClientFinal { channel_binding, nonce, without_proof: without_proof.to_string(), proof })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_first_forms() {
        let m = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(m.gs2_header, "n,,");
        assert_eq!((m.user.as_str(), m.nonce.as_str(), m.authzid), ("user", "rOprNGfwEbeRWgbNEkqO", None));
        assert_eq!(m.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        let m = parse_client_first(b"y,a=a=3Db,n=a=3Db=2Cc,r=x,tokenauth=true").unwrap();
        assert_eq!((m.authzid.as_deref(), m.user.as_str()), (Some("a=b"), "a=b,c"));
        assert_eq!(m.extensions, vec![("tokenauth".to_string(), "true".to_string())]);
        assert_eq!(parse_client_first(b"p=tls-unique,,n=u,r=x"), Err(MessageError::ChannelBinding));
        assert!(matches!(parse_client_first(b"n,,m=ext,n=u,r=x"), Err(MessageError::MandatoryExtension { .. })));
        assert_eq!(parse_client_first(b"n,,n=u=2,r=x"), Err(MessageError::SaslName));
        assert_eq!(parse_client_first(b"n,,n=,r=x"), Err(MessageError::SaslName));
        assert_eq!(parse_client_first(b"n,,n=u,r="), Err(MessageError::Nonce));
        assert_eq!(parse_client_first(b"x,,n=u,r=a"), Err(MessageError::Gs2Header));
        assert_eq!(parse_client_first(b"n,,r=a"), Err(MessageError::Attribute { expected: "n=" }));
        assert_eq!(parse_client_first(b"n,"), Err(MessageError::Gs2Header));
    }

    #[test]
    fn client_final_forms() {
        let m = parse_client_final(b"c=biws,r=abc,p=dGVzdA==").unwrap();
        assert_eq!(m.channel_binding, b"n,,");
        assert_eq!((m.nonce.as_str(), m.without_proof.as_str()), ("abc", "c=biws,r=abc"));
        assert_eq!(m.proof, b"test");
        assert_eq!(parse_client_final(b"c=biws,r=abc"), Err(MessageError::Attribute { expected: "p=" }));
        assert_eq!(parse_client_final(b"c=!!,r=abc,p=dGVzdA=="), Err(MessageError::Base64 { what: "channel binding" }));
        assert_eq!(parse_client_final(b"r=abc,c=biws,p=dGVzdA=="), Err(MessageError::Attribute { expected: "c=" }));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse_client_first(&bytes);
            let _ = parse_client_final(&bytes);
        }

        #[test]
        fn user_names_survive_encoding(user in "[a-zA-Z0-9=,_@.-]{1,24}", nonce in "[a-zA-Z0-9+/]{1,32}") {
            let msg = format!("n,,n={},r={nonce}", encode_saslname(&user));
            let parsed = parse_client_first(msg.as_bytes()).unwrap();
            prop_assert_eq!(parsed.user, user);
            prop_assert_eq!(parsed.nonce, nonce);
        }
    }
}
