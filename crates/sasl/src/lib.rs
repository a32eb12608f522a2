//! SASL mechanisms as pure exchanges, no I/O: the message formats of PLAIN (RFC 4616), OAUTHBEARER (RFC 7628)
//! and SCRAM (RFC 5802, RFC 7677), SCRAM credential derivation, and the server side of a SCRAM exchange. The agent drives them
//! per connection (it looks credentials up, supplies nonces and decides what a failure costs), so every
//! parser here can be fuzzed and property-tested on bytes alone.

pub mod oauthbearer;
pub mod plain;
pub mod scram;

/// The SASL mechanisms Weft serves, named as Kafka's `sasl.enabled.mechanisms` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] =
        [Mechanism::Plain, Mechanism::ScramSha256, Mechanism::ScramSha512, Mechanism::OAuthBearer];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism of a name as clients send it (exact, as Kafka compares them).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The SCRAM variant, for the two SCRAM mechanisms.
    pub fn scram(self) -> Option<scram::ScramMechanism> {
        match self {
            Mechanism::ScramSha256 => Some(scram::ScramMechanism::Sha256),
            Mechanism::ScramSha512 => Some(scram::ScramMechanism::Sha512),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Mechanism;

    #[test]
    fn names_round_trip_exactly() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
        assert_eq!(Mechanism::from_name("plain"), None, "names are case-sensitive, as in Kafka");
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }
}
