//! The rules: pure functions from [`Observations`] to recommendations, each naming the setting, its current and
//! suggested value, the expected effect and the observed figures that motivated it. Thresholds are named
//! constants in each rule's module, with the reason for their value.

mod consumers;
mod partitions;
mod producers;

#[cfg(test)]
mod tests;

use crate::observations::Observations;
use serde::Serialize;

/// How urgent a recommendation is: data at risk, throughput or latency at risk, or efficiency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// Which rule: `tiny-batches`, `no-compression`, `idempotence-off`, `partition-skew`, `hot-key`,
    /// `idle-partitions`, `lag-growing`, `lag-near-retention`, `frequent-rebalances`.
    pub id: &'static str,
    pub severity: Severity,
    /// What it is about: `client <id>`, `topic <name>` or `group <id>`.
    pub target: String,
    pub setting: String,
    pub current: String,
    pub suggested: String,
    pub effect: String,
    /// The observed figures behind it.
    pub evidence: String,
}

/// Every recommendation the observations support, most severe first.
pub fn recommend(obs: &Observations) -> Vec<Recommendation> {
    let mut out = Vec::new();
    out.extend(producers::recommend(obs));
    out.extend(partitions::recommend(obs));
    out.extend(consumers::recommend(obs));
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.target.cmp(&b.target)).then(a.id.cmp(b.id)));
    out
}

/// A figure for people: at most one decimal, none for large values.
pub(crate) fn num(x: f64) -> String {
    if x.abs() >= 100.0 || x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.1}") }
}

/// A duration in seconds as `45s`, `12m`, `3.5h` or `2.0d`.
pub(crate) fn duration(secs: f64) -> String {
    match secs {
        s if s < 120.0 => format!("{s:.0}s"),
        s if s < 7200.0 => format!("{:.0}m", s / 60.0),
        s if s < 172_800.0 => format!("{:.1}h", s / 3600.0),
        s => format!("{:.1}d", s / 86_400.0),
    }
}
