//! The plan: what `plan` computes from [`Inputs`], a pure function (no clock, no I/O), and the types it
//! returns. The Weft side is in [`crate::weft`], the Kafka side in [`crate::kafka`]; this module derives the
//! workload both share (record rate, partitions) and assembles the result.

use serde::Serialize;

use crate::inputs::Inputs;
use crate::kafka::{self, KafkaPlan};
use crate::weft::{self, WeftPlan};

/// What a workload needs, on Weft and on Apache Kafka.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub inputs: Inputs,
    pub workload: Workload,
    pub weft: WeftPlan,
    pub kafka: KafkaPlan,
    /// Limits the workload crosses, each with the figure that crosses it.
    pub warnings: Vec<String>,
}

/// The workload as both systems see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub write_bytes_per_sec: f64,
    pub read_bytes_per_sec: f64,
    /// Read bytes over write bytes: how many consumer groups read everything.
    pub fan_out: f64,
    pub records_per_sec: f64,
    /// The mean batch size used: `batch_bytes`, but never below one record (a producer puts a record
    /// larger than `batch.size` in a batch of its own).
    pub batch_bytes: f64,
    /// Producer batches per second (each one metastore index row on Weft).
    pub batches_per_sec: f64,
    /// What the partition rule below recommends.
    pub partitions_recommended: u32,
    /// What the plan uses: the given count, else the recommendation.
    pub partitions: u32,
}

/// Plans `inputs`. Call [`Inputs::validate`] first: figures it refuses give meaningless (never panicking)
/// results here.
pub fn plan(inputs: &Inputs) -> Plan {
    let agents = weft::agents(inputs);
    let partitions_recommended = recommended_partitions(inputs, agents.total);
    let partitions = inputs.partitions.unwrap_or(partitions_recommended);
    let batch_bytes = inputs.batch_bytes.max(inputs.record_bytes);
    let workload = Workload {
        write_bytes_per_sec: inputs.write_bytes_per_sec,
        read_bytes_per_sec: inputs.read_bytes_per_sec,
        fan_out: ratio(inputs.read_bytes_per_sec, inputs.write_bytes_per_sec),
        records_per_sec: inputs.write_bytes_per_sec / inputs.record_bytes,
        batch_bytes,
        batches_per_sec: inputs.write_bytes_per_sec / batch_bytes,
        partitions_recommended,
        partitions,
    };
    let weft = weft::plan(inputs, &workload, agents);
    let kafka = kafka::plan(inputs);
    let mut warnings = weft::warnings(inputs, &workload, &weft);
    warnings.extend(kafka::warnings(&kafka));
    Plan { inputs: inputs.clone(), workload, weft, kafka, warnings }
}

/// Partitions for the write rate: enough that no partition carries more than `partition_bytes_per_sec`
/// (a partition is the unit of consumer parallelism, so this also bounds what one consumer of a group must
/// keep up with), and enough that Weft's merge keeps up: one pass merges at most `merge_target_bytes` of a
/// partition every `maintenance_interval_secs`, so a partition may take at most target / interval. Rounded
/// up to a multiple of the agents so each leads the same share.
fn recommended_partitions(inputs: &Inputs, agents: u32) -> u32 {
    let merge_bytes_per_sec = inputs.merge_target_bytes / inputs.maintenance_interval_secs;
    let for_consumers = inputs.write_bytes_per_sec / inputs.partition_bytes_per_sec;
    let for_merge = inputs.write_bytes_per_sec / merge_bytes_per_sec;
    let needed = to_count(for_consumers.max(for_merge)).max(1);
    round_up_to_multiple(needed, agents.max(1))
}

/// `a / b`, 0 when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// The smallest whole count >= `x` (with a 1e-9 tolerance, so 2.0000000001 from rounding stays 2),
/// saturating at `u32::MAX`.
pub(crate) fn to_count(x: f64) -> u32 {
    let rounded = (x - 1e-9).ceil().max(0.0);
    if rounded >= f64::from(u32::MAX) { u32::MAX } else { rounded as u32 }
}

/// `n` rounded up to a multiple of `step` (of 1 when `step` is 0).
pub(crate) fn round_up_to_multiple(n: u32, step: u32) -> u32 {
    let step = step.max(1);
    n.div_ceil(step).saturating_mul(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_up_but_forgive_float_noise() {
        assert_eq!(to_count(1.97), 2);
        assert_eq!(to_count(2.0 + 1e-12), 2);
        assert_eq!(to_count(0.0), 0);
        assert_eq!(to_count(-3.0), 0);
        assert_eq!(to_count(1e30), u32::MAX);
        assert_eq!(round_up_to_multiple(5, 3), 6);
        assert_eq!(round_up_to_multiple(6, 3), 6);
    }

    #[test]
    fn partitions_follow_the_merge_limit_when_it_is_the_tighter() {
        // 50 MB/s: 5 partitions for 10 MB/s each, but one partition merges at most
        // 16 MiB / 5 s = 3,355,443.2 B/s, so 50e6 / 3,355,443.2 = 14.9 -> 15, a multiple of 3 agents.
        let inputs = Inputs { write_bytes_per_sec: 50e6, read_bytes_per_sec: 150e6, ..Inputs::default() };
        assert_eq!(recommended_partitions(&inputs, 3), 15);
        // 1 MB/s: 1 partition, rounded up to the 3 agents.
        let small = Inputs { write_bytes_per_sec: 1e6, ..inputs };
        assert_eq!(recommended_partitions(&small, 3), 3);
    }

    #[test]
    fn a_batch_holds_at_least_one_record() {
        // 64 KiB records with the 16 KiB default batch: each record is a batch of its own, so
        // 50e6 / 65,536 = 762.9 batches/s, not 50e6 / 16,384 = 3,051.8.
        let inputs =
            Inputs { write_bytes_per_sec: 50e6, read_bytes_per_sec: 50e6, record_bytes: 65_536.0, ..Inputs::default() };
        let p = plan(&inputs);
        assert_eq!(p.workload.batch_bytes, 65_536.0);
        assert_eq!(p.workload.batches_per_sec, 50e6 / 65_536.0);
        assert_eq!(p.weft.metastore.index_rows_rewritten_per_sec, 50e6 / 65_536.0);
        assert_eq!(p.weft.metastore.index_rows, 50e6 / 65_536.0 * inputs.retention_secs);
    }
}
