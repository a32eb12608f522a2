//! The server side of one SCRAM exchange: client-first in, server-first out; client-final in, server-final
//! out or a refusal. A user without a credential is answered like any other (with a salt the caller derives
//! from the name) and refused only at the proof, with the same error as a wrong password, so the exchange
//! never tells whether a user exists.

use super::messages::{ClientFirst, MessageError, parse_client_final};
use super::{MIN_ITERATIONS, ScramKeys, ScramMechanism};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error("SCRAM delegation tokens (tokenauth) are not supported")]
    TokenAuth,
    #[error("client requested an authorization id that is different from username")]
    OtherAuthzid,
    #[error("invalid SCRAM client-final message: nonce does not match")]
    Nonce,
    #[error("invalid SCRAM client-final message: channel binding does not match the GS2 header")]
    Binding,
    /// An unknown user or a wrong proof: deliberately one error.
    #[error("invalid credentials")]
    InvalidCredentials,
}

/// One exchange after the server-first message was sent.
#[derive(Debug)]
pub struct ScramExchange {
    mechanism: ScramMechanism,
    user: String,
    gs2_header: String,
    /// client-first-bare "," server-first: the start of the AuthMessage.
    signed_prefix: String,
    nonce: String,
    keys: ScramKeys,
    known: bool,
}

impl ScramExchange {
    /// Starts an exchange for a parsed client-first message. `keys` is the user's credential, if any;
    /// `unknown_salt` is the salt shown to a user without one (stable per name, so that retries cannot tell).
    pub fn start(
        mechanism: ScramMechanism,
        first: ClientFirst,
        keys: Option<ScramKeys>,
        unknown_salt: Vec<u8>,
        server_nonce: &str,
    ) -> Result<(ScramExchange, Vec<u8>), ScramError> {
        if first.extensions.iter().any(|(k, v)| k == "tokenauth" && v.eq_ignore_ascii_case("true")) {
            return Err(ScramError::TokenAuth);
        }
        if first.authzid.as_ref().is_some_and(|a| *a != first.user) {
            return Err(ScramError::OtherAuthzid);
        }
        let known = keys.is_some();
        let keys = keys.unwrap_or(ScramKeys {
            salt: unknown_salt,
            stored_key: Vec::new(),
            server_key: Vec::new(),
            iterations: MIN_ITERATIONS,
        });
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!("r={nonce},s={},i={}", STANDARD.encode(&keys.salt), keys.iterations);
        let exchange = ScramExchange {
            mechanism,
            user: first.user,
            gs2_header: first.gs2_header,
            signed_prefix: format!("{},{server_first}", first.bare),
            nonce,
            keys,
            known,
        };
        Ok((exchange, server_first.into_bytes()))
    }

    /// The user name the client gave.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Checks the client-final message; on success returns the server-final message (`v=` signature).
    pub fn finish(self, message: &[u8]) -> Result<Vec<u8>, ScramError> {
        let last = parse_client_final(message)?;
        // Kafka accepts a final nonce that ends with the combined one (librdkafka up to 2.0 repeats the client
        // nonce in front of it); the nonce the client sent is signed in the AuthMessage either way.
        if !last.nonce.ends_with(&self.nonce) {
            return Err(ScramError::Nonce);
        }
        if last.channel_binding != self.gs2_header.as_bytes() {
            return Err(ScramError::Binding);
        }
        let auth_message = format!("{},{}", self.signed_prefix, last.without_proof);
        let m = self.mechanism;
        let signature = m.hmac(&self.keys.stored_key, &[auth_message.as_bytes()]);
        if last.proof.len() != signature.len() {
            return Err(ScramError::InvalidCredentials);
        }
        let client_key: Vec<u8> = last.proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        let matches = bool::from(m.hash(&client_key).ct_eq(&self.keys.stored_key));
        if !(matches && self.known) {
            return Err(ScramError::InvalidCredentials);
        }
        let server_signature = m.hmac(&self.keys.server_key, &[auth_message.as_bytes()]);
        Ok(format!("v={}", STANDARD.encode(server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::messages::parse_client_first;

    fn rfc_7677_keys() -> ScramKeys {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        ScramMechanism::Sha256.keys_from_password("pencil", &salt, 4096)
    }

    const FIRST: &[u8] = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const FINAL: &[u8] = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
        p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

    /// The whole exchange of RFC 7677 section 3, byte for byte.
    #[test]
    fn rfc_7677_exchange() {
        let first = parse_client_first(FIRST).unwrap();
        let (ex, server_first) =
            ScramExchange::start(ScramMechanism::Sha256, first, Some(rfc_7677_keys()), vec![], SERVER_NONCE).unwrap();
        assert_eq!(
            server_first,
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        assert_eq!(ex.user(), "user");
        assert_eq!(ex.finish(FINAL).unwrap(), b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn wrong_proofs_and_unknown_users_fail_alike() {
        let start = |keys| {
            let first = parse_client_first(FIRST).unwrap();
            ScramExchange::start(ScramMechanism::Sha256, first, keys, b"fake-salt".to_vec(), SERVER_NONCE).unwrap()
        };
        let other = ScramMechanism::Sha256.keys_from_password("other", b"salt", 4096);
        assert_eq!(start(Some(other)).0.finish(FINAL), Err(ScramError::InvalidCredentials));
        let (unknown, server_first) = start(None);
        assert!(String::from_utf8(server_first).unwrap().contains(&format!("s={}", STANDARD.encode("fake-salt"))));
        assert_eq!(unknown.finish(FINAL), Err(ScramError::InvalidCredentials));
        let short = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
        assert_eq!(start(Some(rfc_7677_keys())).0.finish(short), Err(ScramError::InvalidCredentials));
        // librdkafka 2.0 repeats its nonce in front of the combined one; Kafka accepts that, so does Weft (the
        // proof still decides).
        let repeated = b"c=biws,r=rOprNGfwEbeRWgbNEkqOrOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
        assert_eq!(start(Some(rfc_7677_keys())).0.finish(repeated), Err(ScramError::InvalidCredentials));
        let nonce = b"c=biws,r=other,p=AAAA";
        assert_eq!(start(Some(rfc_7677_keys())).0.finish(nonce), Err(ScramError::Nonce));
        let binding = b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA";
        assert_eq!(start(Some(rfc_7677_keys())).0.finish(binding), Err(ScramError::Binding));
    }

    #[test]
    fn sha_512_round_trip_and_refusals() {
        let m = ScramMechanism::Sha512;
        let keys = m.keys_from_password("secret", b"0123456789abcdef", 4096);
        let first = parse_client_first(b"n,,n=alice,r=cnonce").unwrap();
        let (ex, server_first) = ScramExchange::start(m, first, Some(keys), vec![], "snonce").unwrap();
        // The client side, computed from the password.
        let salted = m.salted_password(b"secret", b"0123456789abcdef", 4096);
        let client_key = m.hmac(&salted, &[b"Client Key"]);
        let without_proof = "c=biws,r=cnoncesnonce";
        let auth = format!("n=alice,r=cnonce,{},{without_proof}", String::from_utf8(server_first).unwrap());
        let signature = m.hmac(&m.hash(&client_key), &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let last = format!("{without_proof},p={}", STANDARD.encode(proof));
        let expected = m.hmac(&m.hmac(&salted, &[b"Server Key"]), &[auth.as_bytes()]);
        assert_eq!(ex.finish(last.as_bytes()).unwrap(), format!("v={}", STANDARD.encode(expected)).into_bytes());

        let token = parse_client_first(b"n,,n=alice,r=c,tokenauth=true").unwrap();
        assert_eq!(ScramExchange::start(m, token, None, vec![], "s").unwrap_err(), ScramError::TokenAuth);
        let authz = parse_client_first(b"n,a=bob,n=alice,r=c").unwrap();
        assert_eq!(ScramExchange::start(m, authz, None, vec![], "s").unwrap_err(), ScramError::OtherAuthzid);
    }
}
