//! The quota keys of user and client-id entities, as Kafka's `QuotaConfig` defines them, and which of them
//! Weft enforces.

/// What a quota limits; each has its own key and its own measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaKind {
    /// Produce request bytes per second (`producer_byte_rate`).
    Produce,
    /// Fetch response bytes per second (`consumer_byte_rate`).
    Fetch,
    /// Request-handling time as a percentage of one thread per second (`request_percentage`).
    Request,
}

impl QuotaKind {
    /// Every enforced kind.
    pub const ALL: [QuotaKind; 3] = [QuotaKind::Produce, QuotaKind::Fetch, QuotaKind::Request];

    /// The config key that sets this quota.
    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::Produce => "producer_byte_rate",
            QuotaKind::Fetch => "consumer_byte_rate",
            QuotaKind::Request => "request_percentage",
        }
    }

    /// A metric label.
    pub fn label(self) -> &'static str {
        match self {
            QuotaKind::Produce => "produce",
            QuotaKind::Fetch => "fetch",
            QuotaKind::Request => "request",
        }
    }
}

/// Stored but not enforced: Weft has no controller, so creations, deletions and partition additions are not
/// rate-limited (Kafka's KIP-599 `controller_mutation_rate`).
const STORED_ONLY: &str = "controller_mutation_rate";

/// Why a key or value is refused (Kafka answers INVALID_REQUEST with this message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// Whether `key` is a quota key of user and client-id entities (stored by AlterClientQuotas).
pub fn known_key(key: &str) -> bool {
    QuotaKind::ALL.iter().any(|k| k.key() == key) || key == STORED_ONLY
}

/// Refuses keys user and client-id entities do not have, as Kafka does (`connection_creation_rate` belongs to
/// IP entities).
pub fn check_key(key: &str) -> Result<(), KeyError> {
    if known_key(key) { Ok(()) } else { Err(KeyError(format!("invalid configuration key {key}"))) }
}

/// Refuses a value Kafka refuses: byte rates are whole numbers (Kafka's LONG configs), every value is a
/// positive finite number.
pub fn check_value(key: &str, value: f64) -> Result<(), KeyError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(KeyError(format!("{key} must be a positive number, not {value}")));
    }
    let whole = key.ends_with("_byte_rate");
    if whole && value.fract() != 0.0 {
        return Err(KeyError(format!("configuration {key} must be a long value, not {value}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_checked_as_kafka_does() {
        for k in ["producer_byte_rate", "consumer_byte_rate", "request_percentage", "controller_mutation_rate"] {
            assert!(check_key(k).is_ok(), "{k}");
        }
        assert!(check_key("connection_creation_rate").is_err(), "an ip entity key");
        assert!(check_key("bogus").is_err());
        assert!(check_value("producer_byte_rate", 1024.0).is_ok());
        assert!(check_value("producer_byte_rate", 10.5).is_err(), "byte rates are longs");
        assert!(check_value("request_percentage", 12.5).is_ok(), "a percentage is a double");
        assert!(check_value("request_percentage", 0.0).is_err());
        assert!(check_value("consumer_byte_rate", f64::NAN).is_err());
    }
}
