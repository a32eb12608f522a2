//! The gate of one connection on a SASL listener (Kafka's `SaslServerAuthenticator`): before
//! authentication only ApiVersions, SaslHandshake and SaslAuthenticate pass, anything else closes the
//! connection; after SaslHandshake v0 the tokens come as bare length-prefixed frames without Kafka headers;
//! a failed login is answered after the failed-authentication delay and the connection closed. Once
//! authenticated, requests go to dispatch with the principal `User:<name>`, until the session expires
//! (`connections.max.reauth.ms`): a client may re-authenticate (KIP-368, same mechanism and principal),
//! otherwise its next request closes the connection.

use super::{Authenticator, Exchange, Step};
use crate::Agent;
use crate::dispatch::dispatch;
use crate::handlers::str_bytes;
use crate::request::{CloseReason, Completion, ready, respond};
use bytes::{BufMut, Bytes, BytesMut};
use futures::FutureExt;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use weft_listener::{Chunks, Handler, RequestBudget, Session, SessionLimits};
use weft_protocol::{decode_body, peek_header};
use weft_sasl::Mechanism;

/// An exchange started by SaslHandshake.
struct Pending {
    exchange: Exchange,
    /// SaslHandshake v0: tokens come without Kafka headers.
    unframed: bool,
}

#[derive(Default)]
struct State {
    /// The authenticated principal, with the mechanism it used.
    principal: Option<(String, Mechanism)>,
    /// When the session ends (wall-clock ms), if it does.
    expires_ms: Option<i64>,
    pending: Option<Pending>,
    /// A login failed: nothing more is read.
    failed: bool,
}

/// The per-connection request handler of a SASL listener.
pub struct SaslConnection {
    agent: Arc<Agent>,
    auth: Arc<Authenticator>,
    state: Mutex<State>,
}

/// What the gate decided for one frame.
enum Route {
    Token(Pending, Bytes),
    Handshake,
    Authenticate,
    Pass(Session),
}

impl Handler for SaslConnection {
    type Close = CloseReason;

    async fn handle(&self, session: &Session, frame: Bytes) -> Result<Completion, CloseReason> {
        match self.route(session, &frame)? {
            Route::Token(pending, token) => self.unframed_token(session, pending, token).await,
            Route::Handshake => self.handshake(frame),
            Route::Authenticate => self.authenticate(session, frame).await,
            Route::Pass(session) => dispatch(&self.agent, &session, frame).await,
        }
    }

    /// Until authenticated, frames are bounded by `sasl.server.max.receive.size` on their length prefix (as
    /// Kafka's `NetworkReceive`), so an unauthenticated client cannot hold request budget or memory.
    fn frame_limit(&self) -> Option<usize> {
        let state = self.lock();
        (state.principal.is_none()).then_some(self.auth.max_receive)
    }

    fn last_words(&self, reason: &CloseReason) -> Option<Chunks> {
        match reason {
            CloseReason::Authentication { last_words, .. } => last_words.clone(),
            _ => None,
        }
    }
}

fn refuse(reason: impl Into<String>) -> CloseReason {
    CloseReason::Authentication { reason: reason.into(), last_words: None }
}

impl SaslConnection {
    pub fn new(agent: Arc<Agent>, auth: Arc<Authenticator>) -> SaslConnection {
        SaslConnection { agent, auth, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves the connection like `weft_listener::serve`, and also stops it (as a shutdown would: requests
    /// in progress are answered) when it has not authenticated within the authentication timeout.
    pub async fn serve<R, W>(
        &self,
        session: Session,
        io: (R, W),
        limits: SessionLimits,
        budget: &RequestBudget,
        mut shutdown: watch::Receiver<bool>,
    ) where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let peer = session.peer;
        let (stop, stopped) = watch::channel(*shutdown.borrow());
        let watchdog = async {
            tokio::select! {
                _ = self.unauthenticated_for_too_long() => {
                    metrics::counter!("weft_sasl_authentication_timeouts_total").increment(1);
                    tracing::info!(%peer, timeout_ms = self.auth.timeout.as_millis() as u64,
                        "closing connection: not authenticated within the sasl authentication timeout");
                }
                _ = shutdown.wait_for(|s| *s) => {}
            }
            let _ = stop.send(true);
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = weft_listener::serve(self, session, io, limits, budget, stopped) => {}
            _ = watchdog => {}
        }
    }

    /// Resolves once the connection has been open for the authentication timeout without authenticating;
    /// never once it has authenticated.
    async fn unauthenticated_for_too_long(&self) {
        tokio::time::sleep(self.auth.timeout).await;
        if self.lock().principal.is_some() {
            std::future::pending::<()>().await;
        }
    }

    fn route(&self, session: &Session, frame: &Bytes) -> Result<Route, CloseReason> {
        let mut state = self.lock();
        if state.failed {
            return Err(refuse("request after a failed authentication"));
        }
        let authenticated = state.principal.is_some();
        if !authenticated && frame.len() > self.auth.max_receive {
            return Err(refuse(format!(
                "request of {} bytes before authentication exceeds sasl.server.max.receive.size {}",
                frame.len(),
                self.auth.max_receive
            )));
        }
        if state.pending.as_ref().is_some_and(|p| p.unframed) {
            let pending = state.pending.take().ok_or_else(|| refuse("no exchange"))?;
            return Ok(Route::Token(pending, frame.clone()));
        }
        let api = peek_header(frame)?.api_key;
        let in_exchange = state.pending.is_some();
        match ApiKey::try_from(api) {
            Ok(ApiKey::SaslHandshake) if !in_exchange => Ok(Route::Handshake),
            Ok(ApiKey::SaslAuthenticate) if in_exchange => Ok(Route::Authenticate),
            Ok(ApiKey::ApiVersions) if !in_exchange => Ok(Route::Pass(session.clone())),
            _ if !authenticated => {
                Err(refuse(format!("unexpected request with api key {api} during SASL authentication")))
            }
            _ => {
                let now = self.auth.clock.now_ms();
                if state.expires_ms.is_some_and(|at| now >= at) {
                    metrics::counter!("weft_sasl_sessions_expired_total").increment(1);
                    return Err(refuse("SASL session expired (connections.max.reauth.ms) without re-authentication"));
                }
                let principal = state.principal.as_ref().map(|(p, _)| p.clone());
                Ok(Route::Pass(Session { principal, ..session.clone() }))
            }
        }
    }

    fn handshake(&self, frame: Bytes) -> Result<Completion, CloseReason> {
        let (header, _, body) = weft_protocol::request::decode_header(frame)?;
        let (v, cid) = (header.api_version, header.correlation_id);
        let req: SaslHandshakeRequest = decode_body(ApiKey::SaslHandshake, v, body)?;
        let names = self.auth.mechanisms().iter().map(|m| str_bytes(m.name())).collect();
        let mut state = self.lock();
        let requested = req.mechanism.to_string();
        let Some(mechanism) = self.auth.enabled(&requested) else {
            let resp = SaslHandshakeResponse::default()
                .with_error_code(ResponseError::UnsupportedSaslMechanism.code())
                .with_mechanisms(names);
            let last_words = respond(ApiKey::SaslHandshake, v, cid, &resp)?;
            state.failed = true;
            count(&requested, "unsupported_mechanism");
            let reason = format!("SASL mechanism {requested:?} is not enabled");
            return Ok(ready::<Chunks>(Err(CloseReason::Authentication { reason, last_words })));
        };
        if let Some((_, current)) = &state.principal {
            // KIP-368: re-authentication needs v1 and keeps the mechanism.
            if v < 1 || *current != mechanism {
                return Err(refuse(format!(
                    "re-authentication with SaslHandshake v{v} and {mechanism} after {current}"
                )));
            }
        }
        state.pending = Some(Pending { exchange: Exchange::Start(mechanism), unframed: v == 0 });
        let resp = SaslHandshakeResponse::default().with_mechanisms(names);
        Ok(ready(respond(ApiKey::SaslHandshake, v, cid, &resp)))
    }

    async fn authenticate(&self, session: &Session, frame: Bytes) -> Result<Completion, CloseReason> {
        let (header, _, body) = weft_protocol::request::decode_header(frame)?;
        let (v, cid) = (header.api_version, header.correlation_id);
        let req: SaslAuthenticateRequest = decode_body(ApiKey::SaslAuthenticate, v, body)?;
        let pending = self.lock().pending.take().ok_or_else(|| refuse("SaslAuthenticate without SaslHandshake"))?;
        let mechanism = mechanism_of(&pending.exchange);
        match self.auth.step(pending.exchange, &req.auth_bytes).await {
            Step::Challenge(exchange, challenge) => {
                self.lock().pending = Some(Pending { exchange, unframed: false });
                let resp = SaslAuthenticateResponse::default().with_auth_bytes(challenge.into());
                Ok(ready(respond(ApiKey::SaslAuthenticate, v, cid, &resp)))
            }
            Step::Done { user, response, expires_ms } => {
                let lifetime_ms = self.succeed(session, mechanism, &user, expires_ms)?;
                let mut resp = SaslAuthenticateResponse::default().with_auth_bytes(response.into());
                if v >= 1 {
                    resp = resp.with_session_lifetime_ms(lifetime_ms);
                }
                Ok(ready(respond(ApiKey::SaslAuthenticate, v, cid, &resp)))
            }
            Step::Failed { message, reason } => {
                let resp = SaslAuthenticateResponse::default()
                    .with_error_code(ResponseError::SaslAuthenticationFailed.code())
                    .with_error_message(Some(str_bytes(message)));
                let last_words = respond(ApiKey::SaslAuthenticate, v, cid, &resp)?;
                Ok(self.fail(session, mechanism, reason, last_words))
            }
        }
    }

    /// A token of the unframed (SaslHandshake v0) flow: answered as a bare length-prefixed frame.
    async fn unframed_token(
        &self,
        session: &Session,
        pending: Pending,
        token: Bytes,
    ) -> Result<Completion, CloseReason> {
        let mechanism = mechanism_of(&pending.exchange);
        let reply = |bytes: Vec<u8>| {
            let mut out = BytesMut::with_capacity(4 + bytes.len());
            out.put_u32(bytes.len() as u32);
            out.put_slice(&bytes);
            ready(Ok(Some(out.freeze())))
        };
        match self.auth.step(pending.exchange, &token).await {
            Step::Challenge(exchange, challenge) => {
                self.lock().pending = Some(Pending { exchange, unframed: true });
                Ok(reply(challenge))
            }
            Step::Done { user, response, expires_ms } => {
                self.succeed(session, mechanism, &user, expires_ms)?;
                Ok(reply(response))
            }
            // Unframed SASL has no error response: the connection is closed.
            Step::Failed { reason, .. } => Ok(self.fail(session, mechanism, reason, None)),
        }
    }

    /// Records a successful login; returns the session lifetime to tell the client (0: no expiry).
    fn succeed(
        &self,
        session: &Session,
        mechanism: Mechanism,
        user: &str,
        credential_expires_ms: Option<i64>,
    ) -> Result<i64, CloseReason> {
        let principal = format!("User:{user}");
        let mut state = self.lock();
        if let Some((previous, _)) = state.principal.clone()
            && previous != principal
        {
            state.failed = true;
            count(mechanism.name(), "failure");
            return Err(refuse(format!("re-authentication as {principal} changes the principal {previous}")));
        }
        // As Kafka: the session ends at the credential's expiry or after connections.max.reauth.ms, whichever
        // comes first; neither set, it does not end.
        let now = self.auth.clock.now_ms();
        let reauth_ms = i64::try_from(self.auth.reauth.as_millis()).unwrap_or(i64::MAX);
        let by_reauth = (reauth_ms > 0).then(|| now.saturating_add(reauth_ms));
        state.expires_ms = match (by_reauth, credential_expires_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let lifetime_ms = state.expires_ms.map_or(0, |at| at.saturating_sub(now).max(0));
        let again = state.principal.is_some();
        state.principal = Some((principal.clone(), mechanism));
        count(mechanism.name(), "success");
        self.audit(session, &principal, mechanism, None);
        tracing::debug!(peer = %session.peer, %principal, %mechanism, reauthentication = again, "sasl authentication succeeded");
        Ok(lifetime_ms)
    }

    /// Records an authentication in the audit log; `failure` says why it failed (never a secret).
    fn audit(&self, session: &Session, principal: &str, mechanism: Mechanism, failure: Option<String>) {
        let outcome = if failure.is_some() { weft_audit::Outcome::Failure } else { weft_audit::Outcome::Success };
        self.agent.audit.record(weft_audit::AuditEvent::Authentication {
            principal: principal.to_string(),
            client: session.peer.to_string(),
            listener: session.listener.to_string(),
            mechanism: mechanism.name().to_string(),
            outcome,
            reason: failure,
        });
    }

    /// A failed login: the answer (if any) is sent after the delay, then the connection is closed.
    fn fail(&self, session: &Session, mechanism: Mechanism, reason: String, last_words: Option<Chunks>) -> Completion {
        self.lock().failed = true;
        count(mechanism.name(), "failure");
        let claimed = self.lock().principal.as_ref().map_or_else(|| "unknown".to_string(), |(p, _)| p.clone());
        self.audit(session, &claimed, mechanism, Some(reason.clone()));
        tracing::info!(peer = %session.peer, %mechanism, %reason, "sasl authentication failed");
        let delay = self.auth.failure_delay;
        async move {
            tokio::time::sleep(delay).await;
            Err(CloseReason::Authentication { reason: format!("authentication failed: {reason}"), last_words })
        }
        .boxed()
    }
}

fn mechanism_of(exchange: &Exchange) -> Mechanism {
    match exchange {
        Exchange::Start(m) | Exchange::Scram(m, _) => *m,
        Exchange::BearerRefused(_) => Mechanism::OAuthBearer,
    }
}

fn count(mechanism: &str, result: &'static str) {
    // Only enabled or known names become labels; anything else a client sends is "other".
    let label = Mechanism::from_name(mechanism).map_or("other", Mechanism::name);
    metrics::counter!("weft_sasl_authentications_total", "mechanism" => label, "result" => result).increment(1);
}
