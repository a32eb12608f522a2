//! Compatibility levels and modes, and what a level asks of a new schema against the subject's live versions.
//! The format rules themselves (can this reader read that writer) belong to `weft_schema`.

use std::fmt;
use std::str::FromStr;
use weft_schema::Schema;

/// Confluent's compatibility levels; BACKWARD is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

const LEVELS: [(Compatibility, &str); 7] = [
    (Compatibility::None, "NONE"),
    (Compatibility::Backward, "BACKWARD"),
    (Compatibility::BackwardTransitive, "BACKWARD_TRANSITIVE"),
    (Compatibility::Forward, "FORWARD"),
    (Compatibility::ForwardTransitive, "FORWARD_TRANSITIVE"),
    (Compatibility::Full, "FULL"),
    (Compatibility::FullTransitive, "FULL_TRANSITIVE"),
];

impl Compatibility {
    pub fn as_str(self) -> &'static str {
        LEVELS.iter().find(|(l, _)| *l == self).map_or("BACKWARD", |(_, n)| n)
    }

    fn transitive(self) -> bool {
        matches!(
            self,
            Compatibility::BackwardTransitive | Compatibility::ForwardTransitive | Compatibility::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Compatibility::Backward
                | Compatibility::BackwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Compatibility::Forward
                | Compatibility::ForwardTransitive
                | Compatibility::Full
                | Compatibility::FullTransitive
        )
    }

    /// Of the live versions (oldest first), those a new schema is checked against: all for the transitive
    /// levels, else the latest only.
    pub fn targets<T>(self, live: &[T]) -> &[T] {
        match (self, live.len()) {
            (Compatibility::None, _) | (_, 0) => &[],
            (level, _) if level.transitive() => live,
            (_, n) => &live[n - 1..],
        }
    }

    /// Why `new` breaks this level against `previous` (the targets), empty when it does not.
    pub fn violations(self, new: &Schema, previous: &[Schema]) -> Vec<String> {
        let mut out = Vec::new();
        for old in previous {
            if old.schema_type() != new.schema_type() {
                out.push(format!("schema type {} differs from the earlier {}", new.schema_type(), old.schema_type()));
                continue;
            }
            if self.backward() {
                let found = new.read_incompatibilities(old);
                out.extend(found.into_iter().map(|m| format!("backward: {m}")));
            }
            if self.forward() {
                let found = old.read_incompatibilities(new);
                out.extend(found.into_iter().map(|m| format!("forward: {m}")));
            }
        }
        out
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Compatibility {
    type Err = ();
    /// Case-insensitive, as Confluent accepts it.
    fn from_str(s: &str) -> Result<Self, ()> {
        LEVELS.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)).map(|(l, _)| *l).ok_or(())
    }
}

/// Confluent's modes; READWRITE is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    ReadWrite,
    ReadOnly,
    Import,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }
}

impl FromStr for Mode {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        [Mode::ReadWrite, Mode::ReadOnly, Mode::Import]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_schema::SchemaType;

    fn avro(fields: &[(&str, bool)]) -> Schema {
        let fields: Vec<String> = fields
            .iter()
            .map(|(name, default)| {
                let default = if *default { r#","default":"""# } else { "" };
                format!(r#"{{"name":"{name}","type":"string"{default}}}"#)
            })
            .collect();
        let text = format!(r#"{{"type":"record","name":"R","fields":[{}]}}"#, fields.join(","));
        Schema::parse(SchemaType::Avro, &text, &[]).unwrap()
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for (level, name) in LEVELS {
            assert_eq!(name.parse::<Compatibility>(), Ok(level));
            assert_eq!(name.to_lowercase().parse::<Compatibility>(), Ok(level));
            assert_eq!(level.to_string(), name);
        }
        assert!("SIDEWAYS".parse::<Compatibility>().is_err());
        assert_eq!("import".parse::<Mode>(), Ok(Mode::Import));
        assert!("READONLY_OVERRIDE".parse::<Mode>().is_err());
    }

    #[test]
    fn targets_follow_transitivity() {
        let live = [1, 2, 3];
        assert_eq!(Compatibility::Backward.targets(&live), [3]);
        assert_eq!(Compatibility::FullTransitive.targets(&live), [1, 2, 3]);
        assert!(Compatibility::None.targets(&live).is_empty());
        assert!(Compatibility::Forward.targets::<i32>(&[]).is_empty());
    }

    /// Adding a field without a default: old data lacks it (not backward), old readers ignore it (forward).
    #[test]
    fn levels_check_the_right_direction() {
        let v1 = avro(&[("a", false)]);
        let v2 = avro(&[("a", false), ("b", false)]);
        assert!(!Compatibility::Backward.violations(&v2, std::slice::from_ref(&v1)).is_empty());
        assert!(Compatibility::Forward.violations(&v2, std::slice::from_ref(&v1)).is_empty());
        assert!(!Compatibility::Full.violations(&v2, std::slice::from_ref(&v1)).is_empty());
        assert!(Compatibility::None.violations(&v2, Compatibility::None.targets(std::slice::from_ref(&v1))).is_empty());
        // Removing a field without a default: new data lacks it for old readers (not forward), backward fine.
        assert!(Compatibility::Backward.violations(&v1, std::slice::from_ref(&v2)).is_empty());
        assert!(!Compatibility::Forward.violations(&v1, std::slice::from_ref(&v2)).is_empty());
        // A field with a default added: both ways.
        let v3 = avro(&[("a", false), ("c", true)]);
        assert!(Compatibility::Full.violations(&v3, std::slice::from_ref(&v1)).is_empty());
    }

    #[test]
    fn transitive_levels_check_older_versions_too() {
        let v1 = avro(&[("a", false)]);
        let v2 = avro(&[("a", true), ("b", true)]);
        let v3 = avro(&[("b", true), ("c", false)]);
        let live = [v1, v2];
        let latest_only = Compatibility::Backward;
        let found = latest_only.violations(&v3, latest_only.targets(&live));
        assert!(found.iter().any(|m| m.contains("'c'")), "{found:?}");
        let all = Compatibility::BackwardTransitive;
        assert_eq!(all.violations(&v3, all.targets(&live)).len(), 2, "c missing from v1 and v2");
    }

    #[test]
    fn different_types_are_incompatible() {
        let avro = avro(&[("a", false)]);
        let json = Schema::parse(SchemaType::Json, r#"{"type":"object"}"#, &[]).unwrap();
        assert!(!Compatibility::Backward.violations(&json, &[avro]).is_empty());
    }
}
