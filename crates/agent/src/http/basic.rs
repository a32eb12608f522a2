//! HTTP Basic credentials of the admin listener: the `Authorization` header, checked as SASL PLAIN checks a
//! password (the PLAIN users file, then the SCRAM credentials of the metastore: the salted password derived
//! with the stored salt and iterations, its StoredKey compared in constant time), with successes
//! remembered briefly.
//!
//! The memory exists because a check is thousands of HMACs (PBKDF2) and Prometheus scrapes every few
//! seconds: it holds at most [`MAX_REMEMBERED`] entries for [`REMEMBER_FOR`] each, keyed by an HMAC of user
//! and password under a per-process secret (no password is kept), so a changed password or a deleted user
//! stops working within [`REMEMBER_FOR`]. Failures are never remembered.

use base64::Engine;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_meta::Credentials;
use weft_sasl::scram::ScramMechanism;

/// How long a verified user and password are accepted without checking again.
pub const REMEMBER_FOR: Duration = Duration::from_secs(60);
/// Verified credentials remembered at most.
pub const MAX_REMEMBERED: usize = 1024;
/// Longest `Authorization` header value read (a user name and a password, base64).
const MAX_HEADER: usize = 4096;

/// The user and password of a `Basic` authorization header.
#[derive(PartialEq, Eq)]
pub struct BasicCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for BasicCredentials {
    /// Never the password, so that no log or panic message can carry it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// Why a header is not usable Basic credentials (said to the log and the audit line, never to the client).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("authorization header of {0} bytes is too long")]
    TooLong(usize),
    #[error("authorization header is not basic credentials")]
    NotBasic,
    #[error("basic credentials are not base64 of utf-8 user:password")]
    Malformed,
}

/// Parses `Basic base64(user:password)` (the scheme case-insensitive, as RFC 7617 says).
pub fn parse(header: &[u8]) -> Result<BasicCredentials, BasicError> {
    if header.len() > MAX_HEADER {
        return Err(BasicError::TooLong(header.len()));
    }
    let text = std::str::from_utf8(header).map_err(|_| BasicError::NotBasic)?.trim();
    let (scheme, token) = text.split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicError::NotBasic);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).map_err(|_| BasicError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BasicError::Malformed)?;
    let (user, password) = decoded.split_once(':').ok_or(BasicError::Malformed)?;
    if user.is_empty() {
        return Err(BasicError::Malformed);
    }
    Ok(BasicCredentials { user: user.to_string(), password: password.to_string() })
}

/// How a verification succeeded: from memory (not audited again) or by a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Remembered,
    Checked,
}

/// Checks Basic credentials against the users Weft knows.
pub struct BasicVerifier {
    credentials: Arc<dyn Credentials>,
    plain_users: HashMap<String, String>,
    secret: Vec<u8>,
    remembered: Mutex<HashMap<Vec<u8>, Instant>>,
}

impl BasicVerifier {
    /// `secret` keys the memory (random per process).
    pub fn new(credentials: Arc<dyn Credentials>, plain_users: HashMap<String, String>, secret: Vec<u8>) -> Self {
        BasicVerifier { credentials, plain_users, secret, remembered: Mutex::default() }
    }

    /// Whether `c` names a user with that password; `Err` says why not (for the log, never the client).
    pub async fn verify(&self, c: &BasicCredentials) -> Result<Verified, String> {
        let key = self.key(c);
        if self.is_remembered(&key) {
            return Ok(Verified::Remembered);
        }
        let ok = match self.plain_users.get(&c.user) {
            Some(password) => {
                use subtle::ConstantTimeEq;
                bool::from(password.as_bytes().ct_eq(c.password.as_bytes()))
            }
            None => crate::sasl::stored_password_matches(&*self.credentials, &c.user, &c.password)
                .await
                .map_err(|e| format!("credential lookup failed: {e}"))?,
        };
        if !ok {
            return Err(format!("invalid credentials for user {:?} (unknown user or wrong password)", c.user));
        }
        self.remember(key);
        Ok(Verified::Checked)
    }

    fn key(&self, c: &BasicCredentials) -> Vec<u8> {
        let len = (c.user.len() as u64).to_be_bytes();
        ScramMechanism::Sha256.hmac(&self.secret, &[&len, c.user.as_bytes(), c.password.as_bytes()])
    }

    fn is_remembered(&self, key: &[u8]) -> bool {
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        match remembered.get(key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                remembered.remove(key);
                false
            }
            None => false,
        }
    }

    fn remember(&self, key: Vec<u8>) {
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if remembered.len() >= MAX_REMEMBERED {
            remembered.retain(|_, until| *until > now);
        }
        if remembered.len() < MAX_REMEMBERED {
            remembered.insert(key, now + REMEMBER_FOR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user_password: &str) -> Vec<u8> {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(user_password)).into_bytes()
    }

    #[test]
    fn basic_headers_parse_and_garbage_is_refused() {
        let c = parse(&header("alice:s3cr:et")).unwrap();
        assert_eq!(c, BasicCredentials { user: "alice".into(), password: "s3cr:et".into() });
        assert_eq!(parse(b"basic YTpi").unwrap().user, "a", "the scheme is case-insensitive");
        assert_eq!(parse(b"Bearer abc"), Err(BasicError::NotBasic));
        assert_eq!(parse(b"Basic"), Err(BasicError::NotBasic));
        assert_eq!(parse(b"Basic !!!"), Err(BasicError::Malformed));
        assert_eq!(parse(&header("no-colon")), Err(BasicError::Malformed));
        assert_eq!(parse(&header(":password")), Err(BasicError::Malformed));
        assert_eq!(parse(&[0xff, 0xfe]), Err(BasicError::NotBasic));
        assert_eq!(parse(&vec![b'a'; MAX_HEADER + 1]), Err(BasicError::TooLong(MAX_HEADER + 1)));
    }

    #[tokio::test]
    async fn file_users_verify_and_successes_are_remembered_failures_not() {
        let dir = tempfile::tempdir().unwrap();
        let meta = weft_meta::open(&format!("sqlite://{}/m.db", dir.path().display())).await.unwrap();
        let users = HashMap::from([("alice".to_string(), "pw".to_string())]);
        let v = BasicVerifier::new(meta, users, b"secret".to_vec());
        let alice = BasicCredentials { user: "alice".into(), password: "pw".into() };
        assert_eq!(v.verify(&alice).await, Ok(Verified::Checked));
        assert_eq!(v.verify(&alice).await, Ok(Verified::Remembered));
        let wrong = BasicCredentials { user: "alice".into(), password: "nope".into() };
        assert!(v.verify(&wrong).await.is_err());
        assert!(v.verify(&wrong).await.is_err(), "a failure is not remembered");
        let nobody = BasicCredentials { user: "bob".into(), password: "pw".into() };
        let e = v.verify(&nobody).await.unwrap_err();
        assert!(e.contains("unknown user or wrong password"), "{e}");
        // "a" + "bc" and "ab" + "c" are different credentials.
        let split = |u: &str, p: &str| v.key(&BasicCredentials { user: u.into(), password: p.into() });
        assert_ne!(split("a", "bc"), split("ab", "c"));
    }
}
