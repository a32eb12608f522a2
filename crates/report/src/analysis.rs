//! The bottleneck analysis. PLACEHOLDER API (the report helper replaces the body).

use serde::{Deserialize, Serialize};

use crate::model::Run;

/// Which resource bounded a run, why, and the change that would move the ceiling most.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Bottleneck {
    pub resource: String,
    pub summary: String,
}

/// Analyses a finished run (its intervals, steps and resource samples).
pub fn analyse(run: &Run) -> Bottleneck {
    let _ = run;
    Bottleneck::default()
}
