//! The advisor's output: a table per severity (most severe first) with each recommendation's observed figure,
//! or the whole report as JSON (`--json`, versioned) with the observations it rests on.

use crate::observations::Observations;
use crate::rules::{Recommendation, Severity};
use anyhow::Result;
use comfy_table::ContentArrangement;
use serde::Serialize;
use weft_admin::{print_line, table};

/// Columns the table wraps its cells to: wide enough for a figure per line, narrow enough for a terminal.
const TABLE_WIDTH: u16 = 160;

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub recommendations: Vec<Recommendation>,
    pub observations: Observations,
    /// What could not be observed, and why.
    pub notes: Vec<String>,
}

impl Report {
    pub fn print(&self, json: bool) -> Result<()> {
        if json {
            return print_line(&serde_json::to_string(self)?);
        }
        let o = &self.observations;
        print_line(&format!(
            "observed {} topics, {} groups, {} producer client ids over {:.0}s",
            o.topics.len(),
            o.groups.len(),
            o.clients.len(),
            o.window_secs
        ))?;
        if self.recommendations.is_empty() {
            print_line("no recommendation: nothing observed crosses a threshold (see docs/advise.md)")?;
        }
        for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
            let rows: Vec<Vec<String>> = self
                .recommendations
                .iter()
                .filter(|r| r.severity == severity)
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.target.clone(),
                        format!("{}\nnow: {}\nset: {}", r.setting, r.current, r.suggested),
                        r.effect.clone(),
                        r.evidence.clone(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                continue;
            }
            print_line(&format!("\n{} ({})", severity.to_string().to_uppercase(), rows.len()))?;
            let mut t = table(&["RULE", "TARGET", "SETTING", "EXPECTED EFFECT", "OBSERVED"], rows);
            t.set_content_arrangement(ContentArrangement::Dynamic).set_width(TABLE_WIDTH);
            print_line(&t.to_string())?;
        }
        for n in &self.notes {
            print_line(&format!("note: {n}"))?;
        }
        Ok(())
    }
}
