//! The plan as a table for people: one line per figure, units spelled out, numbers grouped by thousands.
//! The JSON form (`--json`) carries the same figures unrounded.

use std::fmt::Write;

use crate::inputs::{GIB, MB};
use crate::plan::Plan;
use crate::scrape::Observed;

/// The table `weft plan` prints.
pub fn table(plan: &Plan, observed: Option<&Observed>) -> String {
    let mut out = String::new();
    if let Some(o) = observed {
        line(
            &mut out,
            "observed in",
            format!("{} MB/s", num(o.bytes_in_per_sec / MB, 2)),
            format!("over {} s", num(o.sample_secs, 1)),
        );
        line(
            &mut out,
            "observed out",
            format!("{} MB/s", num(o.bytes_out_per_sec / MB, 2)),
            format!("{} records/s in", num(o.records_in_per_sec, 0)),
        );
    }
    workload(&mut out, plan);
    weft(&mut out, plan);
    kafka(&mut out, plan);
    cost(&mut out, plan);
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn workload(out: &mut String, p: &Plan) {
    let w = &p.workload;
    header(out, "workload");
    line(
        out,
        "write",
        format!("{} MB/s", num(w.write_bytes_per_sec / MB, 2)),
        format!("{} records/s, {} batches/s", num(w.records_per_sec, 0), num(w.batches_per_sec, 0)),
    );
    line(out, "read", format!("{} MB/s", num(w.read_bytes_per_sec / MB, 2)), format!("fan-out {}", num(w.fan_out, 2)));
    line(out, "retention", format!("{} h", num(p.inputs.retention_secs / 3600.0, 1)), String::new());
    line(out, "partitions", w.partitions.to_string(), format!("recommended {}", w.partitions_recommended));
}

fn weft(out: &mut String, p: &Plan) {
    let (a, s, m) = (&p.weft.agents, &p.weft.object_store, &p.weft.metastore);
    header(out, "weft");
    line(
        out,
        "agents",
        a.total.to_string(),
        format!(
            "{} per zone; N = {} for {} agents of produce+fetch, {} of network, {}% headroom; + 1",
            a.per_zone,
            a.needed,
            num(a.load, 2),
            a.network_load.map_or_else(|| "no count".to_string(), |n| num(n, 2)),
            num(p.inputs.headroom_fraction * 100.0, 0)
        ),
    );
    line(
        out,
        "agent network out",
        format!("{} MB/s", num(a.network_out_per_agent_bytes_per_sec / MB, 2)),
        format!(
            "in {} MB/s, {} of it other zones' segments",
            num(a.network_in_per_agent_bytes_per_sec / MB, 2),
            num(a.segment_in_bytes_per_sec / MB, 2)
        ),
    );
    line(
        out,
        "PUT/h",
        num(s.put_per_hour, 0),
        format!(
            "{} flush segments + {} merged objects",
            num(s.flush_objects_per_hour, 0),
            num(s.merged_objects_per_hour, 0)
        ),
    );
    line(
        out,
        "PUT GiB/h",
        num(s.put_bytes_per_hour / GIB, 1),
        format!("mean flush segment {} MB", num(s.mean_flush_object_bytes / MB, 2)),
    );
    line(out, "GET/h", num(s.get_per_hour, 0), "each segment once per zone, and once by the merge".into());
    line(out, "GET GiB/h", num(s.get_bytes_per_hour / GIB, 1), String::new());
    line(out, "LIST/h", num(s.list_per_hour, 0), "orphan scans".into());
    line(out, "DELETE/h", num(s.delete_objects_per_hour, 0), "objects deleted".into());
    line(
        out,
        "stored",
        format!("{} GiB", num(s.stored_bytes / GIB, 0)),
        format!("{} objects", num(s.stored_objects, 0)),
    );
    line(out, "metastore commits/s", num(m.commits_per_sec, 1), String::new());
    line(
        out,
        "index rows",
        num(m.index_rows, 0),
        format!(
            "{} inserted/s, {} rewritten/s",
            num(m.index_rows_inserted_per_sec, 0),
            num(m.index_rows_rewritten_per_sec, 0)
        ),
    );
    line(
        out,
        "cross-zone",
        format!("{} MB/s", num(p.weft.cross_zone_bytes_per_sec / MB, 2)),
        "clients use their zone's agents".into(),
    );
}

fn kafka(out: &mut String, p: &Plan) {
    let k = &p.kafka;
    header(out, &format!("kafka (replication factor {})", p.inputs.replication_factor));
    line(out, "brokers", k.brokers.to_string(), format!("+ {} KRaft controllers", p.inputs.kafka_controllers));
    line(
        out,
        "EBS gp3 per broker",
        format!("{} GiB", num(k.volume_gib_per_broker, 0)),
        format!("{} volume(s); {} GiB stored in all", k.volumes_per_broker, num(k.stored_bytes / GIB, 0)),
    );
    let c = &k.cross_zone;
    line(
        out,
        "cross-zone",
        format!("{} MB/s", num(c.total_bytes_per_sec / MB, 2)),
        format!(
            "produce {}, replication {}, consume {}",
            num(c.produce_bytes_per_sec / MB, 2),
            num(c.replication_bytes_per_sec / MB, 2),
            num(c.consume_bytes_per_sec / MB, 2)
        ),
    );
}

fn cost(out: &mut String, p: &Plan) {
    let (w, k) = (&p.weft.cost_usd_per_month, &p.kafka.cost_usd_per_month);
    header(out, "monthly cost, USD (list prices as of November 2026, us-east-1)");
    let _ = writeln!(out, "  {:<22}{:>14}{:>14}", "", "weft", "kafka");
    let rows = [
        ("compute", w.agents, k.brokers),
        ("metastore/controllers", w.metastore, k.controllers),
        ("storage", w.s3_storage, k.ebs),
        ("S3 PUT + LIST", w.s3_put, 0.0),
        ("S3 GET", w.s3_get, 0.0),
        ("cross-zone transfer", w.cross_zone, k.cross_zone),
        ("total", w.total, k.total),
    ];
    for (label, weft, kafka) in rows {
        let _ = writeln!(out, "  {label:<22}{:>14}{:>14}", num(weft, 2), num(kafka, 2));
    }
}

fn header(out: &mut String, title: &str) {
    let _ = writeln!(out, "{title}");
}

fn line(out: &mut String, label: &str, value: String, note: String) {
    let text = format!("  {label:<22}{value:>14}");
    let _ = if note.is_empty() { writeln!(out, "{text}") } else { writeln!(out, "{text}   {note}") };
}

/// `x` with `decimals` places and thousands grouped by commas.
pub(crate) fn num(x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.abs());
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(num(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(num(1000.0, 0), "1,000");
        assert_eq!(num(-12_345.0, 1), "-12,345.0");
        assert_eq!(num(-0.001, 2), "0.00");
    }
}
