//! OAUTHBEARER token validation (Kafka's JWKS-based validator, KIP-768): a JWT's signature is checked
//! against the keys of a JWKS read from a file or an http(s) URL (bounded in time and size, read again
//! periodically; a failed refresh keeps the keys it has), then its issuer, audience, `exp` and `nbf` (with
//! the configured clock skew), and the claim that names the principal. Only asymmetric algorithms are
//! accepted: a JWKS publishes public keys, and `none` or HMAC would let anyone holding them sign.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// The largest JWKS accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// How long one JWKS request may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the JWKS could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot read JWKS {url}: {reason}")]
    Read { url: String, reason: String },
    #[error("JWKS {url} is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge { url: String },
    #[error("JWKS {url} is not a JSON Web Key Set: {reason}")]
    Parse { url: String, reason: String },
    #[error("sasl.oauthbearer.jwks.endpoint.url {url:?} must be file:///abs/path, https:// or http://")]
    Scheme { url: String },
    #[error("OAUTHBEARER is enabled but sasl.oauthbearer.jwks.endpoint.url is not set")]
    Missing,
}

/// What a token must show.
#[derive(Debug, Clone)]
pub struct BearerRules {
    pub jwks_url: String,
    pub refresh: Duration,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub sub_claim: String,
    pub skew_secs: u64,
}

impl BearerRules {
    pub fn from_config(c: &crate::AgentConfig) -> Result<BearerRules, JwksError> {
        Ok(BearerRules {
            jwks_url: c.sasl_oauthbearer_jwks_endpoint_url.clone().ok_or(JwksError::Missing)?,
            refresh: c.sasl_oauthbearer_jwks_endpoint_refresh,
            issuer: c.sasl_oauthbearer_expected_issuer.clone(),
            audience: c
                .sasl_oauthbearer_expected_audience
                .iter()
                .flat_map(|a| a.split(','))
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            sub_claim: c.sasl_oauthbearer_sub_claim_name.clone().unwrap_or_else(|| "sub".into()),
            skew_secs: c.sasl_oauthbearer_clock_skew_seconds,
        })
    }
}

/// A validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub principal: String,
    /// The token's `exp`, in ms.
    pub expires_ms: i64,
}

/// Validates tokens against the current keys.
pub struct BearerValidator {
    rules: BearerRules,
    keys: RwLock<Arc<JwkSet>>,
}

impl BearerValidator {
    /// Reads the JWKS (failing if it cannot) and starts refreshing it in the background for as long as the
    /// validator lives.
    pub async fn start(rules: BearerRules) -> Result<Arc<BearerValidator>, JwksError> {
        let keys = fetch(&rules.jwks_url).await?;
        let v = Arc::new(BearerValidator { rules, keys: RwLock::new(Arc::new(keys)) });
        tokio::spawn(refresh(Arc::downgrade(&v), v.rules.jwks_url.clone(), v.rules.refresh));
        Ok(v)
    }

    /// Checks `token`; the error is for the log (clients learn only that it was refused).
    pub fn validate(&self, token: &str) -> Result<Bearer, String> {
        let header = decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        if !asymmetric(header.alg) {
            return Err(format!("token algorithm {:?} is not accepted", header.alg));
        }
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid).ok_or_else(|| format!("no key with kid {kid:?} in the JWKS"))?,
            None if keys.keys.len() == 1 => &keys.keys[0],
            None => return Err("token has no kid and the JWKS has several keys".into()),
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable JWKS key: {e}"))?;
        let mut v = Validation::new(header.alg);
        v.leeway = self.rules.skew_secs;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.rules.issuer {
            v.set_issuer(&[issuer]);
        }
        match self.rules.audience.is_empty() {
            true => v.validate_aud = false,
            false => v.set_audience(&self.rules.audience),
        }
        let data = decode::<serde_json::Value>(token, &key, &v).map_err(|e| format!("token refused: {e}"))?;
        let principal = data
            .claims
            .get(&self.rules.sub_claim)
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("token has no {:?} claim", self.rules.sub_claim))?;
        let exp = data.claims.get("exp").and_then(|e| e.as_i64()).ok_or("token has no numeric exp")?;
        Ok(Bearer { principal: principal.to_string(), expires_ms: exp.saturating_mul(1000) })
    }
}

fn asymmetric(alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512 | ES256 | ES384 | EdDSA)
}

async fn refresh(validator: Weak<BearerValidator>, url: String, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let fetched = fetch(&url).await;
        let Some(v) = validator.upgrade() else { return };
        match fetched {
            Ok(keys) => *v.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys),
            Err(e) => {
                metrics::counter!("weft_sasl_jwks_refresh_failures_total").increment(1);
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys read before");
            }
        }
    }
}

/// Reads a JWKS from `file:///abs/path` or an http(s) URL.
pub async fn fetch(url: &str) -> Result<JwkSet, JwksError> {
    let read = |reason: String| JwksError::Read { url: url.to_string(), reason };
    let bytes = if let Some(path) = url.strip_prefix("file://") {
        let len = tokio::fs::metadata(path).await.map_err(|e| read(e.to_string()))?.len();
        if len > MAX_JWKS_BYTES as u64 {
            return Err(JwksError::TooLarge { url: url.into() });
        }
        tokio::fs::read(path).await.map_err(|e| read(e.to_string()))?
    } else if url.starts_with("https://") || url.starts_with("http://") {
        tokio::time::timeout(FETCH_TIMEOUT, get(url)).await.map_err(|_| read("timed out".into()))??
    } else {
        return Err(JwksError::Scheme { url: url.into() });
    };
    serde_json::from_slice(&bytes).map_err(|e| JwksError::Parse { url: url.into(), reason: e.to_string() })
}

async fn get(url: &str) -> Result<Vec<u8>, JwksError> {
    let read = |reason: String| JwksError::Read { url: url.to_string(), reason };
    let client = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().map_err(|e| read(e.to_string()))?;
    let mut resp = client.get(url).send().await.map_err(|e| read(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(read(format!("http status {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| read(e.to_string()))? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge { url: url.into() });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(url: &str) -> BearerRules {
        BearerRules {
            jwks_url: url.into(),
            refresh: Duration::from_secs(3600),
            issuer: Some("https://issuer.test".into()),
            audience: vec!["weft".into()],
            sub_claim: "sub".into(),
            skew_secs: 30,
        }
    }

    fn b64(s: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[tokio::test]
    async fn jwks_sources_are_checked_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("file://{}/none.json", dir.path().display());
        assert!(matches!(fetch(&missing).await, Err(JwksError::Read { .. })));
        let garbage = dir.path().join("garbage.json");
        std::fs::write(&garbage, "not json").unwrap();
        assert!(matches!(fetch(&format!("file://{}", garbage.display())).await, Err(JwksError::Parse { .. })));
        let huge = dir.path().join("huge.json");
        std::fs::write(&huge, vec![b' '; MAX_JWKS_BYTES + 1]).unwrap();
        assert!(matches!(fetch(&format!("file://{}", huge.display())).await, Err(JwksError::TooLarge { .. })));
        assert!(matches!(fetch("ftp://host/jwks").await, Err(JwksError::Scheme { .. })));
        let refused = fetch("http://127.0.0.1:1/jwks").await;
        assert!(matches!(refused, Err(JwksError::Read { .. })), "{refused:?}");
    }

    /// Tokens that need no signature check to refuse: malformed, `none`, HMAC (signable with public
    /// material), an unknown key id. Signed tokens are checked end to end in tests/clients/test_sasl.py.
    #[tokio::test]
    async fn unsigned_and_symmetric_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        let key = r#"{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","n":"sXch","e":"AQAB"}]}"#;
        std::fs::write(&jwks, key).unwrap();
        let v = BearerValidator::start(rules(&format!("file://{}", jwks.display()))).await.unwrap();
        let claims = b64(r#"{"sub":"a","exp":99999999999}"#);
        assert!(v.validate("not-a-jwt").unwrap_err().contains("malformed"));
        let none = format!("{}.{claims}.", b64(r#"{"alg":"none"}"#));
        assert!(v.validate(&none).is_err());
        let hmac = format!("{}.{claims}.c2ln", b64(r#"{"alg":"HS256","kid":"k1"}"#));
        assert!(v.validate(&hmac).unwrap_err().contains("not accepted"));
        let unknown = format!("{}.{claims}.c2ln", b64(r#"{"alg":"RS256","kid":"k9"}"#));
        assert!(v.validate(&unknown).unwrap_err().contains("k9"));
        let bad_sig = format!("{}.{claims}.c2ln", b64(r#"{"alg":"RS256","kid":"k1"}"#));
        assert!(v.validate(&bad_sig).is_err());
    }
}
