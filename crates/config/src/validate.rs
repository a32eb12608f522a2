//! Checking a configuration: the per-option rules named in the table (`check positive`), the rules
//! relating two options, and turning a written value into a field. [`AgentConfig::validate`] runs them
//! for the CLI and for every library user (the agent calls it before starting).

use crate::AgentConfig;
use crate::codec::{Codec, Rejected};
use crate::key;
use std::time::Duration;

/// An option with a value the agent cannot run with. Options are named by their flag.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--{option} {rule}, was {value}")]
    OutOfRange { option: String, rule: &'static str, value: String },
    #[error("--{low} ({low_value}) must be {relation} --{high} ({high_value})")]
    Order { low: String, low_value: String, relation: &'static str, high: String, high_value: String },
    #[error("--{option}: {problem}")]
    Listeners { option: String, problem: String },
    #[error("--{option} needs {needs}")]
    Needs { option: String, needs: &'static str },
    #[error("invalid --{option} {value:?}: expected {expected}")]
    Invalid {
        option: String,
        value: String,
        expected: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The flag of the option with TOML key `key`.
pub fn flag(key: &str) -> String {
    key.replace('_', "-")
}

/// A number or duration that rules can compare with zero.
pub(crate) trait Quantity {
    fn is_positive(&self) -> bool;
    fn is_negative(&self) -> bool {
        false
    }
}

macro_rules! quantity {
    ($($t:ty),*) => {$(
        impl Quantity for $t {
            #[allow(unused_comparisons)]
            fn is_positive(&self) -> bool {
                *self > 0
            }
        }
    )*};
}
quantity!(i32, u64, usize);

impl Quantity for f64 {
    fn is_positive(&self) -> bool {
        self.is_finite() && *self > 0.0
    }
    /// Not a finite number counts as negative, so a price of NaN or infinity is refused.
    fn is_negative(&self) -> bool {
        !(self.is_finite() && *self >= 0.0)
    }
}

impl Quantity for Duration {
    fn is_positive(&self) -> bool {
        !self.is_zero()
    }
}

fn out_of_range<T>(key: &str, rule: &'static str, value: &T, show: impl Fn(&T) -> String) -> ConfigError {
    ConfigError::OutOfRange { option: flag(key), rule, value: show(value) }
}

/// Rule `positive`: zero (or less) would stall, spin or refuse everything.
pub(crate) fn positive<T: Quantity>(key: &str, v: &T, show: impl Fn(&T) -> String) -> Result<(), ConfigError> {
    if v.is_positive() { Ok(()) } else { Err(out_of_range(key, "must be greater than 0", v, show)) }
}

/// Rule `non_negative`.
pub(crate) fn non_negative<T: Quantity>(key: &str, v: &T, show: impl Fn(&T) -> String) -> Result<(), ConfigError> {
    if v.is_negative() { Err(out_of_range(key, "must not be negative", v, show)) } else { Ok(()) }
}

/// Rule `percent`: a share of something, from 1 to 100.
pub(crate) fn percent(key: &str, v: &u64, show: impl Fn(&u64) -> String) -> Result<(), ConfigError> {
    if (1..=100).contains(v) { Ok(()) } else { Err(out_of_range(key, "must be between 1 and 100", v, show)) }
}

/// Converts a written value of the option `key` with its codec.
pub(crate) fn decode<C: Codec>(key: &str, raw: C::Raw) -> Result<C::Field, ConfigError> {
    C::decode(raw).map_err(|Rejected { value, expected, source }| ConfigError::Invalid {
        option: flag(key),
        value,
        expected,
        source,
    })
}

fn order(low: &str, low_value: i128, relation: &'static str, high: &str, high_value: i128) -> ConfigError {
    ConfigError::Order {
        low: flag(low),
        low_value: low_value.to_string(),
        relation,
        high: flag(high),
        high_value: high_value.to_string(),
    }
}

impl AgentConfig {
    /// Checks every option and the rules between options; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_each()?;
        let (min, max) = (self.group_min_session_timeout_ms, self.group_max_session_timeout_ms);
        if min > max {
            let (lo, hi) = (key::group_min_session_timeout_ms, key::group_max_session_timeout_ms);
            return Err(order(lo, min.into(), "at most", hi, max.into()));
        }
        let (beat, session) = (self.broker_heartbeat_interval.as_millis(), self.broker_session_timeout.as_millis());
        if beat >= session {
            let (lo, hi) = (key::broker_heartbeat_interval_ms, key::broker_session_timeout_ms);
            return Err(order(lo, beat as i128, "less than", hi, session as i128));
        }
        let (beat, session) = (self.group_consumer_heartbeat_interval_ms, self.group_consumer_session_timeout_ms);
        if i128::from(beat) >= i128::from(session) {
            let (lo, hi) = (key::group_consumer_heartbeat_interval_ms, key::group_consumer_session_timeout_ms);
            return Err(order(lo, beat.into(), "less than", hi, session.into()));
        }
        self.check_http_security()?;
        self.kafka_listeners().map(|_| ())
    }
}
