//! The client side of SASL for the admin protocol client: PLAIN and SCRAM-SHA-256/512 over SaslHandshake v1
//! and SaslAuthenticate, as librdkafka logs in. Settings are librdkafka's (`-X security.protocol=SASL_PLAINTEXT
//! -X sasl.mechanism=SCRAM-SHA-256 -X sasl.username=... -X sasl.password=...`).

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use weft_sasl::scram::ScramMechanism;
use weft_sasl::scram::messages::encode_saslname;

/// Who to log in as.
#[derive(Debug, Clone)]
pub struct SaslLogin {
    pub mechanism: String,
    pub username: String,
    pub password: String,
}

impl SaslLogin {
    /// The login the `-X key=value` settings describe; `None` for a plaintext protocol.
    pub fn from_settings(settings: &[(String, String)]) -> Result<Option<SaslLogin>> {
        let get = |k: &str| settings.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        match get("security.protocol").as_deref().map(str::to_ascii_uppercase).as_deref() {
            None | Some("PLAINTEXT") => return Ok(None),
            Some("SASL_PLAINTEXT" | "SASL_SSL") => {}
            Some(_) => return Ok(None),
        }
        let mechanism = get("sasl.mechanism").or_else(|| get("sasl.mechanisms")).unwrap_or_else(|| "PLAIN".into());
        let username = get("sasl.username").ok_or_else(|| anyhow!("SASL needs -X sasl.username=..."))?;
        let password = get("sasl.password").ok_or_else(|| anyhow!("SASL needs -X sasl.password=..."))?;
        Ok(Some(SaslLogin { mechanism, username, password }))
    }

    /// The first token, and the state needed for the next ones.
    pub fn first(&self) -> Result<(Vec<u8>, ClientExchange)> {
        if self.mechanism == "PLAIN" {
            let token = format!("\0{}\0{}", self.username, self.password).into_bytes();
            return Ok((token, ClientExchange::Plain));
        }
        let m = ScramMechanism::from_name(&self.mechanism).ok_or_else(|| {
            anyhow!("sasl.mechanism {} is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", self.mechanism)
        })?;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let bare = format!("n={},r={nonce}", encode_saslname(&self.username));
        let token = format!("n,,{bare}").into_bytes();
        Ok((token, ClientExchange::Scram { m, bare, nonce, password: self.password.clone() }))
    }
}

/// A client exchange in progress.
pub enum ClientExchange {
    Plain,
    Scram { m: ScramMechanism, bare: String, nonce: String, password: String },
}

impl ClientExchange {
    /// The client-final message for the server-first one, and the server-final message to expect.
    pub fn next(&self, server_first: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        let ClientExchange::Scram { m, bare, nonce, password } = self else {
            bail!("PLAIN has a single step");
        };
        let text = std::str::from_utf8(server_first).context("server-first message is not UTF-8")?;
        let field = |k: &str| {
            text.split(',').find_map(|f| f.strip_prefix(k)).ok_or_else(|| anyhow!("server-first message lacks {k}"))
        };
        let server_nonce = field("r=")?;
        if !server_nonce.starts_with(nonce.as_str()) {
            bail!("the server's nonce does not extend ours");
        }
        let salt = STANDARD.decode(field("s=")?).context("bad salt")?;
        let iterations: i32 = field("i=")?.parse().context("bad iteration count")?;
        if !(1..=1_000_000).contains(&iterations) {
            bail!("unreasonable iteration count {iterations}");
        }
        let salted = m.salted_password(password.as_bytes(), &salt, iterations);
        let without_proof = format!("c=biws,r={server_nonce}");
        let auth = format!("{bare},{text},{without_proof}");
        let client_key = m.hmac(&salted, &[b"Client Key"]);
        let signature = m.hmac(&m.hash(&client_key), &[auth.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let server_key = m.hmac(&salted, &[b"Server Key"]);
        let expected = format!("v={}", STANDARD.encode(m.hmac(&server_key, &[auth.as_bytes()])));
        Ok((format!("{without_proof},p={}", STANDARD.encode(proof)).into_bytes(), expected.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn settings_select_a_login() {
        assert!(SaslLogin::from_settings(&[]).unwrap().is_none());
        let s = settings(&[
            ("security.protocol", "sasl_plaintext"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "admin"),
            ("sasl.password", "pw"),
        ]);
        let login = SaslLogin::from_settings(&s).unwrap().unwrap();
        assert_eq!((login.mechanism.as_str(), login.username.as_str()), ("SCRAM-SHA-512", "admin"));
        assert!(SaslLogin::from_settings(&settings(&[("security.protocol", "SASL_PLAINTEXT")])).is_err());
        assert!(SaslLogin::from_settings(&settings(&[("security.protocol", "SSL")])).unwrap().is_none());
    }

    /// The client's messages pass the server's exchange of `weft-sasl`.
    #[test]
    fn scram_client_and_server_agree() {
        use weft_sasl::scram::{ScramExchange, messages::parse_client_first};
        let m = ScramMechanism::Sha256;
        let keys = m.keys_from_password("pw", b"salt", 4096);
        let login = SaslLogin { mechanism: "SCRAM-SHA-256".into(), username: "a,b".into(), password: "pw".into() };
        let (first, exchange) = login.first().unwrap();
        let parsed = parse_client_first(&first).unwrap();
        assert_eq!(parsed.user, "a,b");
        let (server, server_first) = ScramExchange::start(m, parsed, Some(keys), vec![], "srv").unwrap();
        let (last, expected) = exchange.next(&server_first).unwrap();
        assert_eq!(server.finish(&last).unwrap(), expected);
    }
}
