//! A KIP-848 member's topic regex (`subscribed_topic_regex`): checked and compiled once, when the member sets
//! it, then matched against whole topic names on its heartbeats. The pattern and its compiled program are
//! bounded, so one member cannot make the coordinator spend unbounded memory or time.

use crate::GroupError;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// The most memory one compiled pattern may take (the regex crate's size limit).
const MAX_COMPILED_BYTES: usize = 256 * 1024;

/// A compiled topic regex; equal when the patterns are.
#[derive(Debug, Clone)]
pub struct TopicRegex {
    pattern: String,
    compiled: regex::Regex,
}

impl TopicRegex {
    /// Compiles `pattern`, anchored to match a whole topic name (as Kafka's `Pattern.matches`). A pattern that
    /// is too long, invalid or too large compiled is INVALID_REGULAR_EXPRESSION.
    pub fn new(pattern: &str) -> Result<Self, GroupError> {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(GroupError::InvalidRegularExpression);
        }
        let compiled = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(MAX_COMPILED_BYTES)
            .dfa_size_limit(MAX_COMPILED_BYTES)
            .build()
            .map_err(|_| GroupError::InvalidRegularExpression)?;
        Ok(TopicRegex { pattern: pattern.to_string(), compiled })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    pub fn is_match(&self, topic: &str) -> bool {
        self.compiled.is_match(topic)
    }
}

impl PartialEq for TopicRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for TopicRegex {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_whole_names_only() {
        let r = TopicRegex::new("orders-.*").unwrap();
        assert!(r.is_match("orders-eu"));
        assert!(!r.is_match("old-orders-eu"));
        assert!(TopicRegex::new("a|b").unwrap().is_match("b"));
        assert!(!TopicRegex::new("a|b").unwrap().is_match("ab"), "alternation is anchored as a whole");
        assert_eq!(r.as_str(), "orders-.*");
    }

    #[test]
    fn bad_long_or_huge_patterns_are_refused() {
        assert_eq!(TopicRegex::new("orders-(").unwrap_err(), GroupError::InvalidRegularExpression);
        assert_eq!(
            TopicRegex::new(&"a".repeat(MAX_PATTERN_BYTES + 1)).unwrap_err(),
            GroupError::InvalidRegularExpression
        );
        assert!(TopicRegex::new(&"a".repeat(MAX_PATTERN_BYTES)).is_ok());
        assert_eq!(
            TopicRegex::new("(\\w{50}){50}").unwrap_err(),
            GroupError::InvalidRegularExpression,
            "too large compiled"
        );
    }
}
