//! The OAUTHBEARER client message (RFC 7628 section 3.1): a GS2 header, then `key=value` pairs each ended by
//! 0x01, then a final 0x01: `n,a=user,\x01auth=Bearer <token>\x01\x01`. The `auth` pair carries the token;
//! other pairs are SASL extensions (Kafka's KIP-342), kept as given. RFC 7628's error JSON is built here too.

/// Why a client message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    #[error("invalid OAUTHBEARER message: not UTF-8")]
    NotUtf8,
    #[error("invalid OAUTHBEARER message: bad GS2 header")]
    Gs2Header,
    #[error("invalid OAUTHBEARER message: channel binding is not supported")]
    ChannelBinding,
    #[error("invalid OAUTHBEARER message: key-value pairs must end with 0x01 0x01")]
    Framing,
    #[error("invalid OAUTHBEARER message: bad key-value pair")]
    Pair,
    #[error("invalid OAUTHBEARER message: no auth=Bearer token")]
    NoToken,
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerMessage {
    pub authzid: Option<String>,
    /// The bearer token (a JWT for Weft).
    pub token: String,
    /// The other key-value pairs (SASL extensions).
    pub extensions: Vec<(String, String)>,
}

/// Parses the OAUTHBEARER client message.
pub fn parse(message: &[u8]) -> Result<BearerMessage, BearerError> {
    let text = std::str::from_utf8(message).map_err(|_| BearerError::NotUtf8)?;
    let (flag, rest) = text.split_once(',').ok_or(BearerError::Gs2Header)?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(BearerError::ChannelBinding),
        _ => return Err(BearerError::Gs2Header),
    }
    let (authz, pairs) = rest.split_once(',').ok_or(BearerError::Gs2Header)?;
    let authzid = match authz {
        "" => None,
        a => Some(
            crate::scram::messages::decode_saslname(a.strip_prefix("a=").ok_or(BearerError::Gs2Header)?)
                .map_err(|_| BearerError::Gs2Header)?,
        ),
    };
    let body = pairs.strip_prefix('\u{1}').ok_or(BearerError::Framing)?;
    let body =
        body.strip_suffix("\u{1}\u{1}").or_else(|| (body == "\u{1}").then_some("")).ok_or(BearerError::Framing)?;
    let mut token = None;
    let mut extensions = Vec::new();
    for pair in body.split('\u{1}').filter(|_| !body.is_empty()) {
        if pair.is_empty() {
            return Err(BearerError::Framing);
        }
        let (key, value) = pair.split_once('=').ok_or(BearerError::Pair)?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(BearerError::Pair);
        }
        if key == "auth" {
            let t =
                value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(BearerError::NoToken)?;
            token = Some(t.trim().to_string());
        } else {
            extensions.push((key.to_string(), value.to_string()));
        }
    }
    let token = token.filter(|t| !t.is_empty()).ok_or(BearerError::NoToken)?;
    Ok(BearerMessage { authzid, token, extensions })
}

/// The RFC 7628 error challenge (`{"status":"invalid_token"}`), with the scope when one is expected.
pub fn error_challenge(status: &str) -> Vec<u8> {
    let escaped: String = status.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\').collect();
    format!("{{\"status\":\"{escaped}\"}}").into_bytes()
}

/// Whether a client message is the `0x01` a client answers an error challenge with.
pub fn is_error_acknowledgement(message: &[u8]) -> bool {
    message == b"\x01"
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn client_messages() {
        let m = parse(b"n,,\x01auth=Bearer abc.def.ghi\x01\x01").unwrap();
        assert_eq!(m, BearerMessage { authzid: None, token: "abc.def.ghi".into(), extensions: vec![] });
        let m = parse(b"n,a=alice,\x01host=server\x01auth=Bearer t\x01traceId=1\x01\x01").unwrap();
        assert_eq!(m.authzid.as_deref(), Some("alice"));
        assert_eq!(m.extensions, vec![("host".into(), "server".into()), ("traceId".into(), "1".into())]);
        assert_eq!(parse(b"n,,\x01auth=Bearer t\x01"), Err(BearerError::Framing));
        assert_eq!(parse(b"n,,\x01\x01"), Err(BearerError::NoToken));
        assert_eq!(parse(b"n,,\x01a=b\x01\x01auth=Bearer t\x01\x01"), Err(BearerError::Framing));
        assert_eq!(parse(b"n,,\x01auth=Basic t\x01\x01"), Err(BearerError::NoToken));
        assert_eq!(parse(b"n,,\x01auth=Bearer \x01\x01"), Err(BearerError::NoToken));
        assert_eq!(parse(b"p=x,,\x01auth=Bearer t\x01\x01"), Err(BearerError::ChannelBinding));
        assert_eq!(parse(b"n,,\x01=x\x01auth=Bearer t\x01\x01"), Err(BearerError::Pair));
        assert_eq!(parse(b"q,,\x01auth=Bearer t\x01\x01"), Err(BearerError::Gs2Header));
        assert!(is_error_acknowledgement(b"\x01"));
        assert_eq!(error_challenge("invalid_token"), br#"{"status":"invalid_token"}"#);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn tokens_round_trip(token in "[A-Za-z0-9._-]{1,64}") {
            let msg = format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}");
            prop_assert_eq!(parse(msg.as_bytes()).unwrap().token, token);
        }
    }
}
