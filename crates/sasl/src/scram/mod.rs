//! SCRAM (RFC 5802) with SHA-256 (RFC 7677) and SHA-512, as Kafka serves it: no channel binding, iterations
//! between 4096 and 16384, credentials stored salted (never the password). `messages` parses what the
//! client sends; `server` runs one exchange; this module derives credentials.

pub mod messages;
pub mod server;

pub use server::{ScramError, ScramExchange};

use hmac::{KeyInit, Mac};

/// Kafka's bounds on a SCRAM credential's iteration count.
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

/// The hash of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

/// What the server keeps of a password (RFC 5802 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl ScramMechanism {
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        [ScramMechanism::Sha256, ScramMechanism::Sha512].into_iter().find(|m| m.name() == name)
    }

    /// Kafka's numbering of the mechanism in the SCRAM credential APIs (KIP-554).
    pub fn kafka_type(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_kafka_type(t: i8) -> Option<ScramMechanism> {
        [ScramMechanism::Sha256, ScramMechanism::Sha512].into_iter().find(|m| m.kafka_type() == t)
    }

    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC takes keys of any length, so this cannot fail.
            let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else { return Vec::new() };
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            ScramMechanism::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, parts),
            ScramMechanism::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, parts),
        }
    }

    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            ScramMechanism::Sha256 => sha2::Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, i)` of RFC 5802: PBKDF2 with this HMAC, one block.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: i32) -> Vec<u8> {
        let mut u = self.hmac(password, &[salt, &1u32.to_be_bytes()]);
        let mut out = u.clone();
        for _ in 1..iterations.max(1) {
            u = self.hmac(password, &[&u]);
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        out
    }

    /// The stored credential for a salted password (what AlterUserScramCredentials carries).
    pub fn keys_from_salted(self, salted: &[u8], salt: &[u8], iterations: i32) -> ScramKeys {
        let client_key = self.hmac(salted, &[b"Client Key"]);
        ScramKeys {
            salt: salt.to_vec(),
            stored_key: self.hash(&client_key),
            server_key: self.hmac(salted, &[b"Server Key"]),
            iterations,
        }
    }

    /// The stored credential for a password.
    pub fn keys_from_password(self, password: &str, salt: &[u8], iterations: i32) -> ScramKeys {
        self.keys_from_salted(&self.salted_password(password.as_bytes(), salt, iterations), salt, iterations)
    }

    /// Whether `password` is the one `keys` were made from (SASL/PLAIN against SCRAM credentials), in
    /// constant time.
    pub fn password_matches(self, keys: &ScramKeys, password: &str) -> bool {
        use subtle::ConstantTimeEq;
        let candidate = self.keys_from_password(password, &keys.salt, keys.iterations);
        bool::from(candidate.stored_key.ct_eq(&keys.stored_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn rfc_7677_sha_256_keys() {
        // RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = ScramMechanism::Sha256.keys_from_password("pencil", &salt, 4096);
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let auth = format!(
            "n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        let signature = ScramMechanism::Sha256.hmac(&keys.server_key, &[auth.as_bytes()]);
        assert_eq!(STANDARD.encode(signature), "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(ScramMechanism::Sha256.password_matches(&keys, "pencil"));
        assert!(!ScramMechanism::Sha256.password_matches(&keys, "pencil2"));
    }

    #[test]
    fn kafka_mechanism_types() {
        for m in [ScramMechanism::Sha256, ScramMechanism::Sha512] {
            assert_eq!(ScramMechanism::from_kafka_type(m.kafka_type()), Some(m));
            assert_eq!(ScramMechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(ScramMechanism::from_kafka_type(0), None);
        assert_eq!(ScramMechanism::Sha512.hash(b"").len(), 64);
    }
}
