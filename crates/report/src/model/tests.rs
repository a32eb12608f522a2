//! The JSON layout, held to a golden list of its field paths: a change to it must be deliberate (bump
//! `REPORT_VERSION` when a field changes meaning or goes; bless with `WEFT_BLESS=1`).

use super::*;
use crate::analysis::analyse;
use crate::fixture::{quiet_samples, run, with_broken_objective};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/report-layout.txt");

fn paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                // Map keys that are data (settings, histogram names, store operations) are not layout.
                let key = if ["settings", "histograms", "object_store"].iter().any(|m| prefix.ends_with(m)) {
                    "*"
                } else {
                    k
                };
                paths(v, &format!("{prefix}.{key}"), out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn the_json_layout_matches_the_golden_list() {
    let mut r = with_broken_objective(run(quiet_samples(3)));
    r.bottleneck = Some(analyse(&r));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["version"], REPORT_VERSION);
    let mut all = Vec::new();
    paths(&json, "", &mut all);
    all.sort();
    all.dedup();
    let text = format!("# REPORT_VERSION {REPORT_VERSION}\n{}\n", all.join("\n"));
    if std::env::var_os("WEFT_BLESS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(GOLDEN).parent().unwrap()).unwrap();
        std::fs::write(GOLDEN, &text).unwrap();
    }
    let golden = std::fs::read_to_string(GOLDEN).unwrap();
    assert_eq!(
        text, golden,
        "the report's JSON layout changed: bless with WEFT_BLESS=1 and bump REPORT_VERSION if a field changed meaning or went"
    );
    let back: Run = serde_json::from_value(json).unwrap();
    assert_eq!(back, r, "the report reads back as written");
}

#[test]
fn a_report_without_the_newer_optional_parts_still_reads() {
    let minimal = r#"{"version":1,"scenario":"s","description":"","started_at_unix_ms":0,"target":{"bootstrap_servers":"b","metrics_url":null,"pid":null},
        "settings":{},"objective":null,"intervals":[],"steps":[],"sustainable_records_per_sec":null,"histograms":{},
        "resources":[{"t_ms":1000}],"bottleneck":{"resource":"none","summary":""}}"#;
    let r: Run = serde_json::from_str(minimal).unwrap();
    assert_eq!(r.resources[0].t_ms, 1000);
    assert_eq!(r.bottleneck.unwrap().resource, "none");
}
