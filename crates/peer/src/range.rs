//! The one HTTP `Range` form peers use: a single closed byte range, `bytes=<first>-<last>` (RFC 9110 §14.1.2),
//! written by the client and read by the server. Anything else (several ranges, suffix or open ranges, other
//! units) is refused rather than half-understood.

use std::ops::Range;

/// The header value for `range` (which must not be empty: an empty range has no closed form).
pub(crate) fn header(range: &Range<u64>) -> String {
    format!("bytes={}-{}", range.start, range.end.saturating_sub(1))
}

/// The range a header value names, as a half-open byte range; `None` if it is not one closed range.
pub(crate) fn parse(value: &str) -> Option<Range<u64>> {
    let (first, last) = value.strip_prefix("bytes=")?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(first) || !digits(last) {
        return None;
    }
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    (first <= last).then_some(first..last.checked_add(1)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_ranges_round_trip() {
        for range in [0..1, 6..11, 0..(1 << 40)] {
            assert_eq!(parse(&header(&range)), Some(range));
        }
        assert_eq!(parse("bytes=0-0"), Some(0..1));
    }

    #[test]
    fn other_forms_are_refused() {
        for value in [
            "",
            "bytes=",
            "bytes=5-",
            "bytes=-5",
            "bytes=5-4",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes= 0-1",
            "bytes=+1-2",
            "bytes=0-18446744073709551615",
            "bytes=0-99999999999999999999999",
        ] {
            assert_eq!(parse(value), None, "{value:?}");
        }
    }
}
