//! What an agent does (`--roles`): serve Kafka clients, run the maintenance jobs, or both.

use std::fmt;

/// The roles of one agent. At least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serve the Kafka listener and register as a broker (listed in Metadata, may coordinate groups).
    pub kafka: bool,
    /// Run the maintenance loop: retention, log compaction, object merging, garbage collection.
    pub jobs: bool,
}

/// A `--roles` value the agent cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RolesError {
    #[error("unknown role {role:?} (known roles: kafka, jobs)")]
    Unknown { role: String },
    #[error("no role given (known roles: kafka, jobs)")]
    Empty,
}

impl Roles {
    /// Every role (the default).
    pub const ALL: Roles = Roles { kafka: true, jobs: true };

    /// Parses a comma-separated list such as `kafka,jobs`; blanks around names are ignored, repeats are
    /// allowed, an unknown name or an empty list is refused.
    pub fn parse(list: &str) -> Result<Roles, RolesError> {
        let mut roles = Roles { kafka: false, jobs: false };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "kafka" => roles.kafka = true,
                "jobs" => roles.jobs = true,
                _ => return Err(RolesError::Unknown { role: name.to_string() }),
            }
        }
        if roles.kafka || roles.jobs { Ok(roles) } else { Err(RolesError::Empty) }
    }

    /// The role names, in a fixed order (as written in `--roles` and stored in the agent registry).
    pub fn names(&self) -> Vec<&'static str> {
        [("kafka", self.kafka), ("jobs", self.jobs)].into_iter().filter(|(_, on)| *on).map(|(n, _)| n).collect()
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_blanks_case_and_repeats() {
        assert_eq!(Roles::parse("kafka,jobs"), Ok(Roles::ALL));
        assert_eq!(Roles::parse(" jobs , KAFKA ,jobs"), Ok(Roles::ALL));
        assert_eq!(Roles::parse("kafka"), Ok(Roles { kafka: true, jobs: false }));
        assert_eq!(Roles::parse("jobs,"), Ok(Roles { kafka: false, jobs: true }));
    }

    #[test]
    fn unknown_roles_and_empty_lists_are_refused() {
        assert_eq!(Roles::parse("kafka,gc"), Err(RolesError::Unknown { role: "gc".into() }));
        assert_eq!(Roles::parse(""), Err(RolesError::Empty));
        assert_eq!(Roles::parse(" , "), Err(RolesError::Empty));
        assert_eq!(
            RolesError::Unknown { role: "gc".into() }.to_string(),
            "unknown role \"gc\" (known roles: kafka, jobs)"
        );
    }

    #[test]
    fn roles_show_as_written() {
        assert_eq!(Roles::ALL.to_string(), "kafka,jobs");
        assert_eq!(Roles::parse("jobs").map(|r| r.to_string()), Ok("jobs".to_string()));
    }
}
