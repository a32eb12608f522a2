//! The planner's inputs: the workload, Weft's settings, the capacity figures and the prices, each with its
//! unit in its name, and their validation. Defaults live here once (the CLI's help and docs/plan.md quote
//! them), so a library caller and the command plan with the same figures.

use serde::Serialize;

use crate::PlanError;

/// 10^6 bytes: throughput is given in MB/s, as BENCHMARKS.md and Kafka's tools count it.
pub const MB: f64 = 1_000_000.0;
/// 2^30 bytes: AWS bills storage and transfer per "GB" of 2^30 bytes (the GiB).
pub const GIB: f64 = 1_073_741_824.0;
/// AWS prices a month as 730 hours (the pricing calculator's figure: 8,760 hours a year / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;
/// gp3's largest volume, 16 TiB (AWS EBS volume types page).
pub const GP3_MAX_VOLUME_GIB: f64 = 16_384.0;

/// Everything the model reads. Throughputs are record-batch bytes as clients send them (compressed), the
/// bytes both Weft and Kafka store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inputs {
    // ---- workload ----
    /// Bytes produced per second, all topics.
    pub write_bytes_per_sec: f64,
    /// Bytes consumed per second, all consumer groups (write rate x fan-out when tailing).
    pub read_bytes_per_sec: f64,
    /// How long data is kept.
    pub retention_secs: f64,
    /// Mean record size, for the record rate.
    pub record_bytes: f64,
    /// Mean producer batch size (one metastore index row per batch). The default is the Java producer's
    /// `batch.size`, an upper bound (linger and traffic decide how full a batch gets) used as an estimate,
    /// so the index figures are low when batches are small. The model never uses less than `record_bytes`.
    pub batch_bytes: f64,
    /// Partitions of the workload; `None`: the recommendation is used.
    pub partitions: Option<u32>,
    /// Throughput one partition should carry at most (producer and consumer side).
    pub partition_bytes_per_sec: f64,
    /// Availability zones clients and servers run in.
    pub zones: u32,
    /// Fraction of each capacity kept free (0.3: plan to run at 70%).
    pub headroom_fraction: f64,

    // ---- Weft ----
    /// Produce bytes one agent sustains (measured, BENCHMARKS.md).
    pub agent_write_bytes_per_sec: f64,
    /// Fetch bytes one agent sustains (measured, BENCHMARKS.md).
    pub agent_read_bytes_per_sec: f64,
    /// Baseline network bandwidth of one agent's instance, in each direction.
    pub agent_network_bytes_per_sec: f64,
    /// `--flush-interval-ms` (250 ms on S3).
    pub flush_interval_secs: f64,
    /// `--flush-bytes` (8 MiB).
    pub flush_bytes: f64,
    /// Objects written per flush (1 for Weft: one segment holds every partition of the flush).
    pub objects_per_flush: f64,
    /// `--maintenance-interval-ms` (5 s): one merge per partition, one retention step per partition per pass.
    pub maintenance_interval_secs: f64,
    /// `--merge-min-age-ms` (10 s): flush segments younger than this are not merged.
    pub merge_min_age_secs: f64,
    /// `--merge-target-bytes` (16 MiB): the largest merged object, also one partition's merge per pass.
    pub merge_target_bytes: f64,
    /// `--gc-grace-ms` (60 s): a dead object stays this long before it is deleted.
    pub gc_grace_secs: f64,
    /// Maintenance passes between two bucket listings for orphans (12 in `weft-maintenance`).
    pub orphan_scan_every_passes: f64,
    /// `--orphan-grace-ms` (600 s): an incremental scan lists what was created since the previous scan's
    /// cutoff (its time less this grace) less one more grace.
    pub orphan_grace_secs: f64,
    /// Hours between two orphan scans that list the whole bucket (24 in `weft-maintenance`).
    pub full_orphan_scan_hours: f64,

    // ---- Apache Kafka ----
    pub replication_factor: u32,
    pub kafka_min_brokers: u32,
    /// Disk write throughput of one broker's volume (gp3 baseline).
    pub broker_disk_bytes_per_sec: f64,
    /// Baseline network bandwidth of one broker instance, in each direction.
    pub broker_network_bytes_per_sec: f64,
    /// KRaft controller nodes beside the brokers.
    pub kafka_controllers: u32,
    /// Consumers fetch from a replica in their zone when it holds one (KIP-392, `client.rack`).
    pub follower_fetching: bool,

    // ---- prices ----
    pub agent_usd_per_hour: f64,
    pub metastore_usd_per_hour: f64,
    pub broker_usd_per_hour: f64,
    pub controller_usd_per_hour: f64,
    pub s3_storage_usd_per_gib_month: f64,
    pub s3_put_usd_per_1000: f64,
    pub s3_get_usd_per_1000: f64,
    pub ebs_usd_per_gib_month: f64,
    /// Charged once when a byte leaves a zone and once when it enters the other.
    pub cross_zone_usd_per_gib_each_way: f64,
}

impl Default for Inputs {
    /// The documented defaults with 0 bytes written; set `write_bytes_per_sec` and `read_bytes_per_sec`.
    fn default() -> Self {
        Inputs {
            write_bytes_per_sec: 0.0,
            read_bytes_per_sec: 0.0,
            retention_secs: 7.0 * 86_400.0,
            record_bytes: 1024.0,
            batch_bytes: 16_384.0,
            partitions: None,
            partition_bytes_per_sec: 10.0 * MB,
            zones: 3,
            headroom_fraction: 0.3,
            agent_write_bytes_per_sec: 100.0 * MB,
            agent_read_bytes_per_sec: 170.0 * MB,
            agent_network_bytes_per_sec: 195.0 * MB,
            flush_interval_secs: 0.25,
            flush_bytes: 8.0 * 1_048_576.0,
            objects_per_flush: 1.0,
            maintenance_interval_secs: 5.0,
            merge_min_age_secs: 10.0,
            merge_target_bytes: 16.0 * 1_048_576.0,
            gc_grace_secs: 60.0,
            orphan_scan_every_passes: 12.0,
            orphan_grace_secs: 600.0,
            full_orphan_scan_hours: 24.0,
            replication_factor: 3,
            kafka_min_brokers: 3,
            broker_disk_bytes_per_sec: 125.0 * MB,
            broker_network_bytes_per_sec: 195.0 * MB,
            kafka_controllers: 3,
            follower_fetching: false,
            agent_usd_per_hour: 0.192,
            metastore_usd_per_hour: 0.192,
            broker_usd_per_hour: 0.192,
            controller_usd_per_hour: 0.096,
            s3_storage_usd_per_gib_month: 0.023,
            s3_put_usd_per_1000: 0.005,
            s3_get_usd_per_1000: 0.0004,
            ebs_usd_per_gib_month: 0.08,
            cross_zone_usd_per_gib_each_way: 0.01,
        }
    }
}

impl Inputs {
    /// Refuses what the model cannot plan with: NaN or infinite figures, negative rates and prices, zero
    /// capacities, intervals and counts, headroom outside [0, 1).
    pub fn validate(&self) -> Result<(), PlanError> {
        let non_negative = [
            ("write bytes/s", self.write_bytes_per_sec),
            ("read bytes/s", self.read_bytes_per_sec),
            ("retention seconds", self.retention_secs),
            ("headroom fraction", self.headroom_fraction),
            ("agent price", self.agent_usd_per_hour),
            ("metastore price", self.metastore_usd_per_hour),
            ("broker price", self.broker_usd_per_hour),
            ("controller price", self.controller_usd_per_hour),
            ("S3 storage price", self.s3_storage_usd_per_gib_month),
            ("S3 PUT price", self.s3_put_usd_per_1000),
            ("S3 GET price", self.s3_get_usd_per_1000),
            ("EBS price", self.ebs_usd_per_gib_month),
            ("cross-zone price", self.cross_zone_usd_per_gib_each_way),
            ("GC grace seconds", self.gc_grace_secs),
            ("orphan grace seconds", self.orphan_grace_secs),
            ("merge minimum age seconds", self.merge_min_age_secs),
        ];
        for (name, value) in non_negative {
            check(name, value, value >= 0.0, "must be a finite number >= 0")?;
        }
        let positive = [
            ("record size", self.record_bytes),
            ("batch size", self.batch_bytes),
            ("partition bytes/s", self.partition_bytes_per_sec),
            ("agent write bytes/s", self.agent_write_bytes_per_sec),
            ("agent read bytes/s", self.agent_read_bytes_per_sec),
            ("agent network bytes/s", self.agent_network_bytes_per_sec),
            ("flush interval seconds", self.flush_interval_secs),
            ("flush bytes", self.flush_bytes),
            ("objects per flush", self.objects_per_flush),
            ("maintenance interval seconds", self.maintenance_interval_secs),
            ("merge target bytes", self.merge_target_bytes),
            ("orphan scan passes", self.orphan_scan_every_passes),
            ("full orphan scan hours", self.full_orphan_scan_hours),
            ("broker disk bytes/s", self.broker_disk_bytes_per_sec),
            ("broker network bytes/s", self.broker_network_bytes_per_sec),
        ];
        for (name, value) in positive {
            check(name, value, value > 0.0, "must be a finite number > 0")?;
        }
        check("headroom fraction", self.headroom_fraction, self.headroom_fraction < 1.0, "must be below 1")?;
        let counts = [
            ("partitions", self.partitions.unwrap_or(1)),
            ("zones", self.zones),
            ("replication factor", self.replication_factor),
            ("minimum brokers", self.kafka_min_brokers),
        ];
        for (name, value) in counts {
            check(name, f64::from(value), value > 0, "must be at least 1")?;
        }
        Ok(())
    }
}

fn check(name: &'static str, value: f64, ok: bool, rule: &'static str) -> Result<(), PlanError> {
    if value.is_finite() && ok { Ok(()) } else { Err(PlanError::Invalid { name, value, rule }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> Inputs {
        Inputs { write_bytes_per_sec: 10.0 * MB, read_bytes_per_sec: 10.0 * MB, ..Inputs::default() }
    }

    #[test]
    fn defaults_with_a_rate_are_valid() {
        valid().validate().unwrap();
    }

    #[test]
    fn bad_figures_are_refused_with_their_name_and_value() {
        let cases: Vec<(Inputs, &str)> = vec![
            (Inputs { write_bytes_per_sec: -1.0, ..valid() }, "write bytes/s -1 must be a finite number >= 0"),
            (Inputs { read_bytes_per_sec: f64::NAN, ..valid() }, "read bytes/s NaN must be a finite number >= 0"),
            (Inputs { partitions: Some(0), ..valid() }, "partitions 0 must be at least 1"),
            (Inputs { zones: 0, ..valid() }, "zones 0 must be at least 1"),
            (Inputs { headroom_fraction: 1.0, ..valid() }, "headroom fraction 1 must be below 1"),
            (Inputs { flush_interval_secs: 0.0, ..valid() }, "flush interval seconds 0 must be a finite number > 0"),
            (Inputs { s3_put_usd_per_1000: f64::INFINITY, ..valid() }, "S3 PUT price inf must be a finite number >= 0"),
        ];
        for (inputs, message) in cases {
            let err = inputs.validate().unwrap_err();
            assert_eq!(err.to_string(), format!("invalid input: {message}"));
        }
    }
}
