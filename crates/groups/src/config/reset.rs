//! `share.auto.offset.reset`: where a share-partition starts without stored state: `earliest`, `latest` or
//! `by_duration:<ISO-8601 duration>` (Java's `Duration.parse` form `PnDTnHnMn.nS`), read case-insensitively
//! as Kafka reads it; a negative duration is refused.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareAutoOffsetReset {
    Earliest,
    #[default]
    Latest,
    /// The first offset whose timestamp is at most this long before now.
    ByDuration(Duration),
}

const EXPECTED: &str = "the value must be either 'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'";

impl ShareAutoOffsetReset {
    /// Reads a value; the error says what is expected.
    pub fn parse(value: &str) -> Result<Self, String> {
        let lower = value.to_ascii_lowercase();
        match lower.split_once(':') {
            None if lower == "earliest" => Ok(ShareAutoOffsetReset::Earliest),
            None if lower == "latest" => Ok(ShareAutoOffsetReset::Latest),
            Some(("by_duration", text)) => match iso_duration(text) {
                Some(Ok(d)) => Ok(ShareAutoOffsetReset::ByDuration(d)),
                Some(Err(())) => Err(format!("negative duration is not allowed; {EXPECTED}")),
                None => Err(EXPECTED.to_string()),
            },
            _ => Err(EXPECTED.to_string()),
        }
    }
}

/// Reads `[-+]PnDTnHnMn.nS` (each number may carry a sign; at least one part; a `T` needs a part after it)
/// as Java's `Duration.parse` does: `None` if malformed or beyond range, `Some(Err(()))` if negative.
fn iso_duration(text: &str) -> Option<Result<Duration, ()>> {
    let (negate, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.strip_prefix(['p', 'P'])?;
    let (date, time) = match rest.find(['t', 'T']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut nanos: i128 = 0;
    let mut parts = 0;
    if !date.is_empty() {
        nanos += number(date.strip_suffix(['d', 'D'])?)? * 86_400 * 1_000_000_000;
        parts += 1;
    }
    if let Some(mut time) = time {
        if time.is_empty() {
            return None;
        }
        for (unit, scale) in [(['h', 'H'], 3_600i128), (['m', 'M'], 60)] {
            if let Some(i) = time.find(unit) {
                nanos += number(&time[..i])? * scale * 1_000_000_000;
                time = &time[i + 1..];
                parts += 1;
            }
        }
        if !time.is_empty() {
            nanos += seconds(time.strip_suffix(['s', 'S'])?)?;
            parts += 1;
        }
    }
    if parts == 0 {
        return None;
    }
    let nanos = if negate { -nanos } else { nanos };
    if nanos.abs() > i128::from(i64::MAX) * 1_000_000_000 {
        return None;
    }
    if nanos < 0 {
        return Some(Err(()));
    }
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    Some(Ok(Duration::new(secs, u32::try_from(nanos % 1_000_000_000).ok()?)))
}

/// A signed integer of at most 19 digits.
fn number(text: &str) -> Option<i128> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().map(i128::from)
}

/// Seconds with an optional fraction of up to nine digits (`.` or `,`), in nanoseconds.
fn seconds(text: &str) -> Option<i128> {
    let (whole, fraction) = match text.find(['.', ',']) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole_nanos = number(whole)? * 1_000_000_000;
    let frac: i128 = format!("{fraction:0<9}").parse().ok()?;
    Some(if whole.starts_with('-') { whole_nanos - frac } else { whole_nanos + frac })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_values_case_insensitively() {
        assert_eq!(ShareAutoOffsetReset::parse("earliest"), Ok(ShareAutoOffsetReset::Earliest));
        assert_eq!(ShareAutoOffsetReset::parse("LATEST"), Ok(ShareAutoOffsetReset::Latest));
        let hour = ShareAutoOffsetReset::ByDuration(Duration::from_secs(3600));
        assert_eq!(ShareAutoOffsetReset::parse("by_duration:PT1H"), Ok(hour));
        assert_eq!(ShareAutoOffsetReset::parse("BY_DURATION:pt60m"), Ok(hour));
        for bad in ["none", "", "by_duration", "by_duration:", "by_duration:1H", "earliest:x", "latest "] {
            assert!(ShareAutoOffsetReset::parse(bad).is_err(), "{bad:?}");
        }
        let negative = ShareAutoOffsetReset::parse("by_duration:-PT1S").unwrap_err();
        assert!(negative.contains("negative"), "{negative}");
    }

    #[test]
    fn durations_read_as_java_reads_them() {
        let ok = |t: &str| iso_duration(t).and_then(Result::ok);
        assert_eq!(ok("P2D"), Some(Duration::from_secs(2 * 86_400)));
        assert_eq!(ok("P1DT2H3M4.5S"), Some(Duration::from_millis(((24 + 2) * 3600 + 3 * 60 + 4) * 1000 + 500)));
        assert_eq!(ok("PT0.000000001S"), Some(Duration::from_nanos(1)));
        assert_eq!(ok("PT1,5S"), Some(Duration::from_millis(1500)));
        assert_eq!(ok("PT-1H60M"), Some(Duration::ZERO), "parts carry their own signs");
        assert_eq!(ok("-PT-10S"), Some(Duration::from_secs(10)));
        assert_eq!(iso_duration("PT-0.5S"), Some(Err(())));
        assert_eq!(iso_duration("-P1D"), Some(Err(())));
        for bad in ["", "P", "PT", "P1H", "PT1D", "1D", "PT1.1234567890S", "PT1M1H", "P99999999999999999999D", "PTS"] {
            assert_eq!(iso_duration(bad), None, "{bad:?}");
        }
        assert_eq!(iso_duration("P9223372036854775807D"), None, "beyond a java duration");
    }
}
