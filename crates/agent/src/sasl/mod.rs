//! SASL authentication (SaslHandshake, SaslAuthenticate): the [`Authenticator`] shared by all connections
//! (enabled mechanisms, where users come from, the limits) runs one step of an exchange at a time; the
//! per-connection gate ([`connection::SaslConnection`]) keeps each connection's state and lets only
//! authenticated clients through. A failed login never tells whether the user exists.

pub mod connection;
pub mod oauth;
pub mod users_file;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use weft_clock::{Clock, IdSource};
use weft_meta::Credentials;
use weft_sasl::Mechanism;
use weft_sasl::scram::{ScramExchange, ScramKeys, ScramMechanism, messages};

/// The authentication settings of a listener, shared by its connections.
pub struct Authenticator {
    mechanisms: Vec<Mechanism>,
    plain_users: HashMap<String, String>,
    credentials: Arc<dyn Credentials>,
    pub clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    /// Keys the salts shown to users without a credential, so they are stable but unguessable.
    secret: Vec<u8>,
    /// connections.max.reauth.ms; zero: sessions do not expire.
    pub reauth: Duration,
    pub failure_delay: Duration,
    pub max_receive: usize,
    pub timeout: Duration,
    /// OAUTHBEARER's token validator, when that mechanism is enabled.
    bearer: Option<Arc<oauth::BearerValidator>>,
}

/// An exchange in progress.
pub enum Exchange {
    /// Nothing received yet.
    Start(Mechanism),
    /// SCRAM: the server-first message was sent.
    Scram(Mechanism, Box<ScramExchange>),
    /// OAUTHBEARER: the token was refused and the RFC 7628 error sent; the client's `0x01` ends it.
    BearerRefused(String),
}

/// The outcome of one step.
pub enum Step {
    /// Send this challenge and wait for the next token.
    Challenge(Exchange, Vec<u8>),
    /// Authenticated as `user`; send `response` (possibly empty). `expires_ms`: when the credential ends
    /// (an OAUTHBEARER token's exp), which bounds the session.
    Done { user: String, response: Vec<u8>, expires_ms: Option<i64> },
    /// Refused: `message` is for the client (never says whether the user exists), `reason` for the log.
    Failed { message: String, reason: String },
}

/// Why the authentication settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(transparent)]
    UsersFile(#[from] users_file::UsersFileError),
    #[error(transparent)]
    Jwks(#[from] oauth::JwksError),
    #[error("sasl mechanism {0} is not supported by this build")]
    Unsupported(String),
}

impl Authenticator {
    pub async fn new(
        config: &crate::AgentConfig,
        credentials: Arc<dyn Credentials>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Authenticator, AuthSetupError> {
        let mut mechanisms = Vec::new();
        for name in &config.sasl_enabled_mechanisms.0 {
            match Mechanism::from_name(name) {
                Some(m) => mechanisms.push(m),
                None => return Err(AuthSetupError::Unsupported(name.clone())),
            }
        }
        let plain_users = match &config.sasl_plain_users_file {
            Some(path) => users_file::read(path)?,
            None => HashMap::new(),
        };
        let bearer = match mechanisms.contains(&Mechanism::OAuthBearer) {
            true => Some(oauth::BearerValidator::start(oauth::BearerRules::from_config(config)?).await?),
            false => None,
        };
        let secret = [ids.uuid(), ids.uuid()].iter().flat_map(|u| u.into_bytes()).collect();
        Ok(Authenticator {
            mechanisms,
            plain_users,
            credentials,
            clock,
            ids,
            secret,
            reauth: config.connections_max_reauth,
            failure_delay: config.connection_failed_authentication_delay,
            max_receive: config.sasl_server_max_receive_size,
            timeout: config.sasl_authentication_timeout,
            bearer,
        })
    }

    /// The enabled mechanisms, in configured order.
    pub fn mechanisms(&self) -> &[Mechanism] {
        &self.mechanisms
    }

    /// The enabled mechanism named `name`.
    pub fn enabled(&self, name: &str) -> Option<Mechanism> {
        Mechanism::from_name(name).filter(|m| self.mechanisms.contains(m))
    }

    /// Runs one step of `exchange` with the client's `token`.
    pub async fn step(&self, exchange: Exchange, token: &[u8]) -> Step {
        match exchange {
            Exchange::Start(Mechanism::Plain) => self.plain(token).await,
            Exchange::Start(Mechanism::OAuthBearer) => self.bearer(token),
            Exchange::BearerRefused(reason) => failed(Mechanism::OAuthBearer, reason),
            Exchange::Start(m) => match m.scram() {
                Some(scram) => self.scram_first(m, scram, token).await,
                None => failed(m, format!("mechanism {m} has no server")),
            },
            Exchange::Scram(m, exchange) => {
                let user = exchange.user().to_string();
                match exchange.finish(token) {
                    Ok(response) => Step::Done { user, response, expires_ms: None },
                    Err(weft_sasl::scram::ScramError::InvalidCredentials) => {
                        failed(m, format!("invalid credentials for user {user:?} (unknown user or wrong password)"))
                    }
                    Err(e) => malformed(m, e.to_string()),
                }
            }
        }
    }

    async fn plain(&self, token: &[u8]) -> Step {
        let m = Mechanism::Plain;
        let msg = match weft_sasl::plain::parse(token) {
            Ok(msg) => msg,
            Err(e) => return malformed(m, e.to_string()),
        };
        let ok = match self.plain_users.get(&msg.user) {
            Some(password) => {
                use subtle::ConstantTimeEq;
                bool::from(password.as_bytes().ct_eq(msg.password.as_bytes()))
            }
            None => match stored_password_matches(&*self.credentials, &msg.user, &msg.password).await {
                Ok(ok) => ok,
                Err(e) => return failed(m, format!("credential lookup failed: {e}")),
            },
        };
        if ok {
            Step::Done { user: msg.user, response: Vec::new(), expires_ms: None }
        } else {
            failed(m, format!("invalid credentials for user {:?} (unknown user or wrong password)", msg.user))
        }
    }

    /// OAUTHBEARER: a refused token is answered with RFC 7628's error JSON, and the exchange ends at the
    /// client's next message.
    fn bearer(&self, token: &[u8]) -> Step {
        let m = Mechanism::OAuthBearer;
        let msg = match weft_sasl::oauthbearer::parse(token) {
            Ok(msg) => msg,
            Err(e) => return malformed(m, e.to_string()),
        };
        let Some(validator) = &self.bearer else { return failed(m, "no token validator".into()) };
        let refused = |reason: String| {
            Step::Challenge(Exchange::BearerRefused(reason), weft_sasl::oauthbearer::error_challenge("invalid_token"))
        };
        match validator.validate(&msg.token) {
            Ok(b) if msg.authzid.as_ref().is_some_and(|a| *a != b.principal) => {
                refused(format!("authorization id differs from the token's principal {:?}", b.principal))
            }
            Ok(b) => Step::Done { user: b.principal, response: Vec::new(), expires_ms: Some(b.expires_ms) },
            Err(reason) => refused(reason),
        }
    }

    async fn scram_first(&self, m: Mechanism, scram: ScramMechanism, token: &[u8]) -> Step {
        let first = match messages::parse_client_first(token) {
            Ok(first) => first,
            Err(e) => return malformed(m, e.to_string()),
        };
        let keys = match self.credentials.scram_credential(&first.user, scram.name()).await {
            Ok(c) => c.map(|c| ScramKeys {
                salt: c.salt,
                stored_key: c.stored_key,
                server_key: c.server_key,
                iterations: c.iterations,
            }),
            Err(e) => return failed(m, format!("credential lookup failed: {e}")),
        };
        let unknown_salt = ScramMechanism::Sha256.hmac(&self.secret, &[scram.name().as_bytes(), first.user.as_bytes()]);
        let nonce = format!("{}{}", self.ids.uuid().simple(), self.ids.uuid().simple());
        match ScramExchange::start(scram, first, keys, unknown_salt, &nonce) {
            Ok((exchange, server_first)) => Step::Challenge(Exchange::Scram(m, Box::new(exchange)), server_first),
            Err(e) => malformed(m, e.to_string()),
        }
    }
}

/// Checks a password against the user's SCRAM credentials in the metastore (SHA-256 first): PLAIN's check,
/// and HTTP Basic's on the admin listener. An unknown user costs a hash of the same kind, so the answer's
/// timing does not tell it apart.
pub(crate) async fn stored_password_matches(
    credentials: &dyn Credentials,
    user: &str,
    password: &str,
) -> weft_meta::Result<bool> {
    for scram in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
        let Some(c) = credentials.scram_credential(user, scram.name()).await? else { continue };
        let keys =
            ScramKeys { salt: c.salt, stored_key: c.stored_key, server_key: c.server_key, iterations: c.iterations };
        let password = password.to_string();
        // Thousands of HMACs: off the async threads.
        let check = tokio::task::spawn_blocking(move || scram.password_matches(&keys, &password));
        return Ok(check.await.unwrap_or(false));
    }
    let password = password.to_string();
    let decoy = tokio::task::spawn_blocking(move || {
        ScramMechanism::Sha256.salted_password(
            password.as_bytes(),
            b"weft-unknown-user",
            weft_sasl::scram::MIN_ITERATIONS,
        )
    });
    let _ = decoy.await;
    Ok(false)
}

/// A refusal of credentials: the client learns only that authentication failed.
fn failed(m: Mechanism, reason: String) -> Step {
    let message = match m {
        Mechanism::Plain => "Authentication failed: Invalid username or password".to_string(),
        m => format!("Authentication failed during authentication due to invalid credentials with SASL mechanism {m}"),
    };
    Step::Failed { message, reason }
}

/// A refusal of a malformed message: the client is told what was wrong with it.
fn malformed(_m: Mechanism, reason: String) -> Step {
    Step::Failed { message: format!("Authentication failed: {reason}"), reason }
}
