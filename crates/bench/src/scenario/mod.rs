//! Benchmark scenarios: the file format (`model`), its checks (`validate`), the scenarios shipped inside the
//! binary, the key distributions (`keys`) and the ramp with its objective (`ramp`).
//!
//! `--scenario` takes a shipped scenario's name or a path to a TOML file; every error names the file and
//! the key.

mod keys;
mod model;
mod ramp;
mod validate;

use std::path::Path;

pub use keys::{KeyPicker, key_bytes};
pub use model::{
    ConsumerSpec, GroupProtocol, KeySpec, LatencyKind, ObjectiveSpec, ProducerSpec, RampSpec, RecordSize,
    SCENARIO_VERSION, Scenario, SizeRange, TopicSpec,
};
pub use ramp::{Ramp, StepFigures, step_met, sustainable_rate};
pub use validate::{Invalid, validate};

/// The scenarios shipped in the binary: (name, TOML).
pub const SHIPPED: &[(&str, &str)] = &[
    ("steady-1k", include_str!("../../scenarios/steady-1k.toml")),
    ("fan-out", include_str!("../../scenarios/fan-out.toml")),
    ("many-partitions", include_str!("../../scenarios/many-partitions.toml")),
    ("large-records", include_str!("../../scenarios/large-records.toml")),
    ("latency-slo", include_str!("../../scenarios/latency-slo.toml")),
    ("compaction-churn", include_str!("../../scenarios/compaction-churn.toml")),
    ("rebalance-storm", include_str!("../../scenarios/rebalance-storm.toml")),
    ("transactions", include_str!("../../scenarios/transactions.toml")),
    ("share-queue", include_str!("../../scenarios/share-queue.toml")),
];

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("no shipped scenario `{name}` and no such file (shipped: {known}; `weft bench scenarios` lists them)")]
    Unknown { name: String, known: String },
    #[error("reading scenario file {file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("scenario {file}: {message}")]
    Parse { file: String, message: String },
    #[error("scenario {file}: `{key}`: {message}")]
    Invalid { file: String, key: String, message: String },
}

/// Parses and checks a scenario's TOML; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text)
        .map_err(|e| ScenarioError::Parse { file: file.to_string(), message: one_line(text, &e) })?;
    validate(&scenario).map_err(|Invalid { key, message }| ScenarioError::Invalid {
        file: file.to_string(),
        key,
        message,
    })?;
    Ok(scenario)
}

/// A TOML error on one line: where it is (line and column, from 1) and what is wrong.
fn one_line(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(before) = e.span().and_then(|span| text.get(..span.start)) else { return message };
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("line {line}, column {column}: {message}")
}

/// Loads a shipped scenario by name, or else the TOML file at `name_or_path`.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == name_or_path) {
        return parse(name, text);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        let known = SHIPPED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        return Err(ScenarioError::Unknown { name: name_or_path.to_string(), known });
    }
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Read { file: path.display().to_string(), source })?;
    parse(&path.display().to_string(), &text)
}

/// Every shipped scenario, parsed (a shipped scenario that does not parse is a build defect the tests catch).
pub fn shipped() -> Vec<Result<Scenario, ScenarioError>> {
    SHIPPED.iter().map(|(name, text)| parse(name, text)).collect()
}

/// Command-line overrides that shorten or reshape a scenario (CI runs them for a few seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub duration_secs: Option<u64>,
    pub warmup_secs: Option<u64>,
    pub step_secs: Option<u64>,
}

impl Scenario {
    /// Applies `o`, then checks the result again.
    pub fn with_overrides(mut self, o: Overrides) -> Result<Scenario, ScenarioError> {
        if let Some(d) = o.duration_secs {
            self.duration_secs = d;
        }
        if let Some(w) = o.warmup_secs {
            self.warmup_secs = w;
        }
        if let Some(s) = o.step_secs {
            for ramp in self.producers.iter_mut().filter_map(|p| p.ramp.as_mut()) {
                ramp.step_secs = s;
            }
        }
        validate(&self).map_err(|Invalid { key, message }| ScenarioError::Invalid {
            file: format!("{} (with command-line overrides)", self.name),
            key,
            message,
        })?;
        Ok(self)
    }

    /// The ramping producer group, if any.
    pub fn ramp(&self) -> Option<Ramp> {
        self.producers.iter().find_map(|p| p.ramp).map(Ramp::new)
    }
}

#[cfg(test)]
mod tests;
