//! What an audit line says: the event kinds and their fields, as JSON (`event` names the kind, `version`
//! the line's schema, [`SCHEMA_VERSION`]).

use crate::Change;
use serde::Serialize;

/// The version of the line format, written in every line's `version` field. A change that removes or
/// renames a field, or changes its meaning, takes the next version (new fields may be added within one);
/// `tests/golden/` holds a sample of every event per version.
pub const SCHEMA_VERSION: u32 = 1;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One audited event. `client` is the peer address, `listener` the listener's name, `client_id` the
/// request header's client id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// A SASL or TLS client authentication, successful or not. A failure's principal is what the client
    /// claimed (never a password or token); `reason` says why it failed.
    Authentication {
        principal: String,
        client: String,
        listener: String,
        mechanism: String,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A request refused by the authorizer.
    Denied {
        principal: String,
        client: String,
        client_id: String,
        listener: String,
        operation: String,
        resource_type: String,
        resource_name: String,
    },
    /// An administrative change (topics, configs, ACLs, users, quotas, groups, records deleted), one per
    /// resource changed, with Kafka's error name when it failed. `validate_only` requests change nothing
    /// and are recorded as such.
    Admin {
        principal: String,
        client: String,
        client_id: String,
        listener: String,
        api: String,
        resource_type: String,
        resource_name: String,
        validate_only: bool,
        change: Change,
        outcome: Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl AuditEvent {
    /// The event's kind, as the `event` field and the metric label name it.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Authentication { .. } => "authentication",
            AuditEvent::Denied { .. } => "denied",
            AuditEvent::Admin { .. } => "admin",
        }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            AuditEvent::Authentication { outcome, .. } | AuditEvent::Admin { outcome, .. } => *outcome,
            AuditEvent::Denied { .. } => Outcome::Failure,
        }
    }

    /// The event as one JSON line (no newline), stamped with `time_ms` (Unix milliseconds) and `time`
    /// (the same instant in RFC 3339, UTC).
    pub fn to_line(&self, time_ms: i64) -> String {
        let mut value = serde_json::to_value(self)
            .unwrap_or_else(|e| serde_json::json!({ "event": "unencodable", "error": e.to_string() }));
        if let Some(map) = value.as_object_mut() {
            map.insert("version".into(), SCHEMA_VERSION.into());
            map.insert("time_ms".into(), time_ms.into());
            map.insert("time".into(), rfc3339(time_ms).into());
        }
        value.to_string()
    }
}

/// `ms` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
pub(crate) fn rfc3339(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil(days);
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// The civil date of `days` since 1970-01-01 (the well-known era-based conversion).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_000_000_123), "2026-11-30T00:53:20.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn a_line_names_the_event_and_its_fields() {
        let event = AuditEvent::Authentication {
            principal: "User:alice".into(),
            client: "127.0.0.1:5000".into(),
            listener: "SASL_SSL".into(),
            mechanism: "SCRAM-SHA-256".into(),
            outcome: Outcome::Failure,
            reason: Some("bad credentials".into()),
        };
        let line: serde_json::Value = serde_json::from_str(&event.to_line(0)).unwrap();
        assert_eq!(line["event"], "authentication");
        assert_eq!(line["outcome"], "failure");
        assert_eq!(line["principal"], "User:alice");
        assert_eq!(line["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(line["version"], SCHEMA_VERSION);
        let denied = AuditEvent::Denied {
            principal: "User:bob".into(),
            client: "c".into(),
            client_id: "app".into(),
            listener: "l".into(),
            operation: "WRITE".into(),
            resource_type: "TOPIC".into(),
            resource_name: "t".into(),
        };
        assert_eq!(denied.outcome(), Outcome::Failure);
        assert!(!denied.to_line(5).contains("reason"));
    }
}
