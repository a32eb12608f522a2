//! The key-encryption keys (KEKs) of envelope encryption at rest: which key wraps the data keys of new
//! objects, and every key that may still be needed to read old ones.
//!
//! A keyring is text, one key per line: `<id> <base64 of 32 random bytes>`; blank lines and lines starting
//! with `#` are ignored. The first key is the current one (it wraps new objects); the others only unwrap
//! objects written under them, so rotating is "put a new key first, keep the old lines" and old objects
//! stay readable. Ids are at most [`MAX_ID_LEN`] bytes of `[A-Za-z0-9._-]`, because each object's header
//! names its key by id (never by the key itself).
//!
//! The text comes from a file (`--encryption-keys-file`) or from the `WEFT_ENCRYPTION_KEYS` variable (lines
//! may then also be separated by `;`). Key bytes are never logged, shown in errors or `Debug` output.

use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use base64::Engine;
use std::collections::HashMap;
use std::path::Path;

/// Longest key id, in bytes.
pub const MAX_ID_LEN: usize = 32;
/// Length of a key-encryption key: AES-256.
pub const KEY_LEN: usize = 32;
/// Most keys a keyring may hold (a bound on what a file may make the agent load).
const MAX_KEYS: usize = 1024;
/// Largest keyring text accepted.
const MAX_TEXT: u64 = 1 << 20;

/// Why a keyring cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read encryption keys file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("encryption keys file {path} is larger than {MAX_TEXT} bytes")]
    TooLarge { path: String },
    #[error("encryption keys line {line}: {reason}")]
    BadLine { line: usize, reason: String },
    #[error("encryption keys: key id {id:?} appears twice")]
    DuplicateId { id: String },
    #[error("encryption keys: no key given (expected lines of `<id> <base64 of 32 bytes>`)")]
    Empty,
    #[error("encryption keys: more than {MAX_KEYS} keys")]
    TooMany,
}

/// The keys: the current one and every one that may unwrap.
pub struct Keyring {
    current: String,
    keys: HashMap<String, LessSafeKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keyring").field("current", &self.current).field("ids", &ids).finish()
    }
}

impl Keyring {
    /// Reads a keyring file.
    pub fn from_file(path: &Path) -> Result<Self, KeyringError> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|source| KeyringError::Read { path: shown.clone(), source })?;
        if meta.len() > MAX_TEXT {
            return Err(KeyringError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(|source| KeyringError::Read { path: shown, source })?;
        Self::parse(&text)
    }

    /// Parses keyring text (newline- or `;`-separated lines).
    pub fn parse(text: &str) -> Result<Self, KeyringError> {
        let mut current = None;
        let mut keys = HashMap::new();
        for (at, line) in text.split(['\n', ';']).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, key) = parse_line(at + 1, line)?;
            if keys.len() >= MAX_KEYS {
                return Err(KeyringError::TooMany);
            }
            if keys.contains_key(&id) {
                return Err(KeyringError::DuplicateId { id });
            }
            current.get_or_insert_with(|| id.clone());
            keys.insert(id, key);
        }
        let current = current.ok_or(KeyringError::Empty)?;
        Ok(Keyring { current, keys })
    }

    /// The id of the key that wraps new objects' data keys.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    pub(crate) fn current(&self) -> (&str, &LessSafeKey) {
        // The current id is always one of the keys: parse inserts it with the first key.
        (&self.current, &self.keys[&self.current])
    }

    pub(crate) fn get(&self, id: &str) -> Option<&LessSafeKey> {
        self.keys.get(id)
    }

    /// Every key id, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = self.keys.keys().cloned().collect();
        ids.sort();
        ids
    }
}

fn parse_line(line: usize, text: &str) -> Result<(String, LessSafeKey), KeyringError> {
    let bad = |reason: &str| KeyringError::BadLine { line, reason: reason.to_string() };
    let mut parts = text.split_whitespace();
    let (Some(id), Some(encoded), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected `<id> <base64 of 32 bytes>`"));
    };
    if id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(bad(&format!("key id must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 . _ -")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad(&format!("key of id {id:?} is not valid base64")))?;
    if bytes.len() != KEY_LEN {
        return Err(bad(&format!("key of id {id:?} is {} bytes; expected {KEY_LEN}", bytes.len())));
    }
    let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad("key rejected by AES-256-GCM"))?;
    Ok((id.to_string(), LessSafeKey::new(key)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A keyring line for `id` with every key byte `fill`.
    pub(crate) fn line(id: &str, fill: u8) -> String {
        format!("{id} {}", base64::engine::general_purpose::STANDARD.encode([fill; KEY_LEN]))
    }

    #[test]
    fn the_first_key_is_current_and_every_key_unwraps() {
        let text = format!("# keys\n\n{}\n{}\n", line("k2", 2), line("k1", 1));
        let ring = Keyring::parse(&text).unwrap();
        assert_eq!(ring.current_id(), "k2");
        assert_eq!(ring.ids(), ["k1", "k2"]);
        assert!(ring.get("k1").is_some() && ring.get("nope").is_none());
        let semi = Keyring::parse(&format!("{};{}", line("a", 1), line("b", 2))).unwrap();
        assert_eq!(semi.current_id(), "a");
    }

    #[test]
    fn bad_keyrings_are_refused_with_the_line_and_never_the_key() {
        let cases = [
            ("", "no key given"),
            ("k1", "line 1: expected"),
            ("k1 !!!", "not valid base64"),
            ("k1 AAAA", "is 3 bytes; expected 32"),
            (&format!("{} extra", line("k", 1)), "expected"),
            (&line("bad/id", 1), "key id must be"),
            (&line(&"x".repeat(33), 1), "key id must be"),
            (&format!("{}\n{}", line("k", 1), line("k", 2)), "appears twice"),
        ];
        for (text, want) in cases {
            let err = Keyring::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains("AQEBAQ"), "the key must not appear: {err}");
        }
        let ring = Keyring::parse(&line("k", 1)).unwrap();
        assert!(!format!("{ring:?}").contains("AQEBAQ"));
    }
}
