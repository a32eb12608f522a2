//! Salted SCRAM credentials of users, so every agent sharing the store authenticates every user.

use crate::Result;
use async_trait::async_trait;

/// One user's SCRAM credential for one mechanism (RFC 5802): never the password, only what the server needs
/// to verify a proof of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramCredential {
    /// The user name as the client sends it (`alice`, not `User:alice`).
    pub user: String,
    /// The mechanism name as Kafka spells it: `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

/// What credentials own: at most one SCRAM credential per (user, mechanism).
///
/// Invariants: each call is atomic on its own; a stored credential replaces the previous one of the same user
/// and mechanism whole.
///
/// Used by: SASL authentication (PLAIN and SCRAM), DescribeUserScramCredentials and
/// AlterUserScramCredentials, and `weft user` against a metastore.
#[async_trait]
pub trait Credentials: Send + Sync + 'static {
    /// The credential of `user` for `mechanism`, if any.
    async fn scram_credential(&self, user: &str, mechanism: &str) -> Result<Option<ScramCredential>>;

    /// Every credential of the named users, or of all users when `users` is `None`, ordered by user then
    /// mechanism.
    async fn scram_credentials(&self, users: Option<&[String]>) -> Result<Vec<ScramCredential>>;

    /// Stores `credential`, replacing that of the same user and mechanism.
    async fn put_scram_credential(&self, credential: &ScramCredential) -> Result<()>;

    /// Deletes the credential of `user` for `mechanism`; false if there was none.
    async fn delete_scram_credential(&self, user: &str, mechanism: &str) -> Result<bool>;
}
