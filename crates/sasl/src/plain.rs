//! The PLAIN client message (RFC 4616): `[authzid] NUL authcid NUL passwd`, UTF-8, with Kafka's rule that
//! an authorization id, when given, must be the user itself.

/// Why a PLAIN message was refused. The messages are safe to send to the client: none depends on whether
/// the user exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlainError {
    #[error("invalid SASL/PLAIN response: expected 3 fields separated by NUL, found {found}")]
    Fields { found: usize },
    #[error("invalid SASL/PLAIN response: not UTF-8")]
    NotUtf8,
    #[error("invalid SASL/PLAIN response: username not specified")]
    NoUser,
    #[error("invalid SASL/PLAIN response: password not specified")]
    NoPassword,
    #[error("client requested an authorization id that is different from username")]
    OtherAuthzid,
}

/// A parsed PLAIN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainMessage {
    pub user: String,
    pub password: String,
}

/// Parses one PLAIN client message.
pub fn parse(message: &[u8]) -> Result<PlainMessage, PlainError> {
    let text = std::str::from_utf8(message).map_err(|_| PlainError::NotUtf8)?;
    let fields: Vec<&str> = text.split('\0').collect();
    let [authzid, user, password] = fields.as_slice() else {
        return Err(PlainError::Fields { found: fields.len() });
    };
    if user.is_empty() {
        return Err(PlainError::NoUser);
    }
    if password.is_empty() {
        return Err(PlainError::NoPassword);
    }
    if !authzid.is_empty() && authzid != user {
        return Err(PlainError::OtherAuthzid);
    }
    Ok(PlainMessage { user: user.to_string(), password: password.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_4616_messages() {
        let m = parse(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!(m, PlainMessage { user: "tim".into(), password: "tanstaaftanstaaf".into() });
        assert_eq!(parse(b"Ursel\0Ursel\0pw").unwrap().user, "Ursel", "authzid equal to the user");
        assert_eq!(parse(b"Kurt\0Ursel\0pw"), Err(PlainError::OtherAuthzid));
        assert_eq!(parse(b"\0\0pw"), Err(PlainError::NoUser));
        assert_eq!(parse(b"\0u\0"), Err(PlainError::NoPassword));
        assert_eq!(parse(b"u\0pw"), Err(PlainError::Fields { found: 2 }));
        assert_eq!(parse(b"\0u\0p\0w"), Err(PlainError::Fields { found: 4 }));
        assert_eq!(parse(b"\0u\0\xff"), Err(PlainError::NotUtf8));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn well_formed_messages_round_trip(user in "[^\0]{1,20}", password in "[^\0]{1,20}") {
            let msg = format!("\0{user}\0{password}");
            prop_assert_eq!(parse(msg.as_bytes()), Ok(PlainMessage { user, password }));
        }
    }
}
