//! The SASL options' values: the list of enabled SASL mechanisms (Kafka's `sasl.enabled.mechanisms`).

use crate::codec::{Codec, Kind, Rejected};
use std::fmt;

/// The SASL mechanisms Weft can serve.
pub const KNOWN_MECHANISMS: [&str; 4] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// The enabled SASL mechanisms, in the order given (each once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslMechanisms(pub Vec<String>);

impl Default for SaslMechanisms {
    fn default() -> Self {
        SaslMechanisms(vec!["SCRAM-SHA-256".into(), "SCRAM-SHA-512".into()])
    }
}

impl fmt::Display for SaslMechanisms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// A `--sasl-enabled-mechanisms` value the agent cannot serve.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MechanismsError {
    #[error("unknown sasl mechanism {name:?} (known: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)")]
    Unknown { name: String },
    #[error("no sasl mechanism given")]
    Empty,
}

impl SaslMechanisms {
    /// Parses a comma-separated list such as `PLAIN,SCRAM-SHA-256` (names as Kafka spells them; blanks
    /// around names ignored, repeats dropped).
    pub fn parse(list: &str) -> Result<SaslMechanisms, MechanismsError> {
        let mut out: Vec<String> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !KNOWN_MECHANISMS.contains(&name) {
                return Err(MechanismsError::Unknown { name: name.to_string() });
            }
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
        if out.is_empty() { Err(MechanismsError::Empty) } else { Ok(SaslMechanisms(out)) }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| n == name)
    }
}

impl Codec for SaslMechanisms {
    type Field = SaslMechanisms;
    type Raw = String;
    const KIND: Kind = Kind::Mechanisms;
    fn decode(raw: String) -> Result<SaslMechanisms, Rejected> {
        SaslMechanisms::parse(&raw).map_err(|e| Rejected {
            value: raw,
            expected: "a comma-separated list of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER",
            source: Box::new(e),
        })
    }
    fn show(field: &SaslMechanisms) -> String {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_lists() {
        let m = SaslMechanisms::parse(" PLAIN, SCRAM-SHA-512,PLAIN ").unwrap();
        assert_eq!(m.0, ["PLAIN", "SCRAM-SHA-512"]);
        assert!(m.contains("PLAIN") && !m.contains("SCRAM-SHA-256"));
        assert_eq!(SaslMechanisms::parse("GSSAPI"), Err(MechanismsError::Unknown { name: "GSSAPI".into() }));
        assert_eq!(SaslMechanisms::parse(" , "), Err(MechanismsError::Empty));
        assert_eq!(SaslMechanisms::default().to_string(), "SCRAM-SHA-256,SCRAM-SHA-512");
    }
}
