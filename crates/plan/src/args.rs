//! `weft plan`'s flags and how they become [`Inputs`]: explicit flags win, then what `--from-metrics`
//! observed, then the defaults of [`Inputs::default`]. Every capacity and price flag names its default and
//! its source in its help (list prices as of November 2026, us-east-1; docs/plan.md has the pages).

use clap::Args;

use crate::PlanError;
use crate::inputs::{Inputs, MB};
use crate::scrape::Observed;

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Produced MB/s (10^6 bytes, as clients send them), all topics. Required unless --from-metrics.
    #[arg(long, allow_negative_numbers = true, value_name = "MB_PER_SEC")]
    pub write_mb_per_sec: Option<f64>,
    /// Consumer groups that each read everything (read = write x fan-out) [default: observed, else 1].
    #[arg(long, allow_negative_numbers = true, conflicts_with = "read_mb_per_sec")]
    pub fan_out: Option<f64>,
    /// Consumed MB/s, all groups (instead of --fan-out).
    #[arg(long, allow_negative_numbers = true, value_name = "MB_PER_SEC")]
    pub read_mb_per_sec: Option<f64>,
    /// Retention in hours [default: 168, Kafka's log.retention.hours].
    #[arg(long, allow_negative_numbers = true, conflicts_with = "retention_days")]
    pub retention_hours: Option<f64>,
    /// Retention in days (instead of --retention-hours).
    #[arg(long, allow_negative_numbers = true)]
    pub retention_days: Option<f64>,
    /// Mean record size in bytes [default: observed, else 1024].
    #[arg(long, allow_negative_numbers = true)]
    pub record_bytes: Option<f64>,
    /// Mean producer batch size in bytes: one metastore index row each; at least one record [default:
    /// 16384, the Java producer's batch.size: an upper bound used as an estimate].
    #[arg(long, allow_negative_numbers = true)]
    pub batch_bytes: Option<f64>,
    /// Partitions [default: recommended: the write rate over --partition-mb-per-sec and over what one
    /// partition merges, rounded up to a multiple of the agents].
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Most MB/s one partition should carry [default: 10; Confluent, "How to choose the number of
    /// topics/partitions in a Kafka cluster?": tens of MB/s per partition].
    #[arg(long, allow_negative_numbers = true)]
    pub partition_mb_per_sec: Option<f64>,
    /// Availability zones clients and servers run in [default: 3].
    #[arg(long)]
    pub zones: Option<u32>,
    /// Fraction of every capacity and disk kept free [default: 0.3].
    #[arg(long, allow_negative_numbers = true)]
    pub headroom_fraction: Option<f64>,

    /// Produce MB/s one Weft agent sustains [default: 100, the lowest produce run in BENCHMARKS.md (99.6
    /// MB/s, 2 cores)].
    #[arg(long, allow_negative_numbers = true)]
    pub agent_write_mb_per_sec: Option<f64>,
    /// Fetch MB/s one Weft agent sustains [default: 170, the lowest consume run in BENCHMARKS.md (172
    /// MB/s, 2 cores)].
    #[arg(long, allow_negative_numbers = true)]
    pub agent_read_mb_per_sec: Option<f64>,
    /// Network MB/s into, and out of, one Weft agent [default: 195, m6i.xlarge's 1.5625 Gbit/s baseline (AWS,
    /// "Amazon EC2 instance network bandwidth", general purpose specifications)].
    #[arg(long, allow_negative_numbers = true)]
    pub agent_network_mb_per_sec: Option<f64>,
    /// Weft's --flush-interval-ms [default: 250, its default on S3 (crates/config)].
    #[arg(long, allow_negative_numbers = true)]
    pub flush_interval_ms: Option<f64>,
    /// Weft's --flush-bytes [default: 8388608].
    #[arg(long, allow_negative_numbers = true)]
    pub flush_bytes: Option<f64>,
    /// Objects written per flush [default: 1: one segment holds every partition of a flush].
    #[arg(long, allow_negative_numbers = true)]
    pub objects_per_flush: Option<f64>,
    /// Weft's --maintenance-interval-ms [default: 5000].
    #[arg(long, allow_negative_numbers = true)]
    pub maintenance_interval_ms: Option<f64>,
    /// Weft's --merge-min-age-ms [default: 10000].
    #[arg(long, allow_negative_numbers = true)]
    pub merge_min_age_ms: Option<f64>,
    /// Weft's --merge-target-bytes [default: 16777216].
    #[arg(long, allow_negative_numbers = true)]
    pub merge_target_bytes: Option<f64>,
    /// Weft's --gc-grace-ms [default: 60000].
    #[arg(long, allow_negative_numbers = true)]
    pub gc_grace_ms: Option<f64>,
    /// Maintenance passes between bucket listings for orphans [default: 12, crates/maintenance].
    #[arg(long, allow_negative_numbers = true)]
    pub orphan_scan_every_passes: Option<f64>,
    /// Weft's --orphan-grace-ms [default: 600000]: each orphan scan lists again what was created since the
    /// previous scan's cutoff less one grace.
    #[arg(long, allow_negative_numbers = true)]
    pub orphan_grace_ms: Option<f64>,
    /// Hours between two orphan scans that list the whole bucket [default: 24, FULL_ORPHAN_SCAN_MS in
    /// crates/maintenance].
    #[arg(long, allow_negative_numbers = true)]
    pub full_orphan_scan_hours: Option<f64>,

    /// Kafka's replication factor [default: 3].
    #[arg(long)]
    pub replication_factor: Option<u32>,
    /// Fewest Kafka brokers [default: 3].
    #[arg(long)]
    pub kafka_min_brokers: Option<u32>,
    /// Disk MB/s of one broker's volume [default: 125, gp3's baseline throughput (AWS, "Amazon EBS volume
    /// types")].
    #[arg(long, allow_negative_numbers = true)]
    pub broker_disk_mb_per_sec: Option<f64>,
    /// Network MB/s into, and out of, one broker [default: 195, m6i.xlarge's 1.5625 Gbit/s baseline (AWS, "Amazon
    /// EC2 instance network bandwidth", general purpose specifications)].
    #[arg(long, allow_negative_numbers = true)]
    pub broker_network_mb_per_sec: Option<f64>,
    /// KRaft controller nodes [default: 3].
    #[arg(long)]
    pub kafka_controllers: Option<u32>,
    /// Kafka consumers fetch from a replica in their zone (KIP-392) when it holds one.
    #[arg(long)]
    pub follower_fetching: bool,

    /// USD per hour of one Weft agent [default: 0.192, m6i.xlarge on-demand Linux (AWS, "Amazon EC2
    /// On-Demand Pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub agent_usd_per_hour: Option<f64>,
    /// USD per hour of the metastore [default: 0.192, two m6i.large: a PostgreSQL primary and standby].
    #[arg(long, allow_negative_numbers = true)]
    pub metastore_usd_per_hour: Option<f64>,
    /// USD per hour of one Kafka broker [default: 0.192, m6i.xlarge on-demand Linux (AWS, "Amazon EC2
    /// On-Demand Pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub broker_usd_per_hour: Option<f64>,
    /// USD per hour of one KRaft controller [default: 0.096, m6i.large].
    #[arg(long, allow_negative_numbers = true)]
    pub controller_usd_per_hour: Option<f64>,
    /// USD per GiB-month of S3 Standard [default: 0.023, first 50 TB (AWS, "Amazon S3 pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub s3_storage_usd_per_gib_month: Option<f64>,
    /// USD per 1,000 S3 PUT, COPY, POST and LIST requests [default: 0.005 (AWS, "Amazon S3 pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub s3_put_usd_per_1000: Option<f64>,
    /// USD per 1,000 S3 GET requests [default: 0.0004 (AWS, "Amazon S3 pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub s3_get_usd_per_1000: Option<f64>,
    /// USD per GiB-month of EBS gp3 [default: 0.08 (AWS, "Amazon EBS pricing")].
    #[arg(long, allow_negative_numbers = true)]
    pub ebs_usd_per_gib_month: Option<f64>,
    /// USD per GiB between zones, charged in each direction [default: 0.01 (AWS, "Amazon EC2 On-Demand
    /// Pricing", Data Transfer within the same region)].
    #[arg(long, allow_negative_numbers = true)]
    pub cross_zone_usd_per_gib: Option<f64>,

    /// A Weft agent's metrics URL (http://host:port/metrics); repeat it for each agent. The observed
    /// write and read rates and record size are used where no flag gives them.
    #[arg(long, value_name = "URL")]
    pub from_metrics: Vec<String>,
    /// Seconds between the two scrapes of --from-metrics.
    #[arg(long, default_value_t = 10.0)]
    pub sample_secs: f64,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

impl PlanArgs {
    /// The inputs: flags first, then `observed` (from `--from-metrics`), then the defaults.
    pub fn inputs(&self, observed: Option<&Observed>) -> Result<Inputs, PlanError> {
        let d = Inputs::default();
        let write_bytes_per_sec = match (self.write_mb_per_sec, observed) {
            (Some(mb), _) => mb * MB,
            (None, Some(o)) if o.bytes_in_per_sec > 0.0 => o.bytes_in_per_sec,
            (None, Some(o)) => return Err(PlanError::NothingProduced { secs: o.sample_secs }),
            (None, None) => return Err(PlanError::NoWriteRate),
        };
        if let Some(f) = self.fan_out {
            check_non_negative("fan-out", f)?;
        }
        // Read rate: given, else fan-out x write, where the fan-out is given, else observed (out / in, so
        // a larger --write-mb-per-sec scales the observed reads), else 1.
        let observed_fan_out =
            observed.and_then(|o| (o.bytes_in_per_sec > 0.0).then(|| o.bytes_out_per_sec / o.bytes_in_per_sec));
        let read_bytes_per_sec = match (self.read_mb_per_sec, self.fan_out, observed_fan_out) {
            (Some(mb), _, _) => mb * MB,
            (None, Some(f), _) | (None, None, Some(f)) => write_bytes_per_sec * f,
            (None, None, None) => observed.map_or(write_bytes_per_sec, |o| o.bytes_out_per_sec),
        };
        let retention_secs = match (self.retention_hours, self.retention_days) {
            (Some(h), _) => h * 3600.0,
            (None, Some(days)) => days * 86_400.0,
            (None, None) => d.retention_secs,
        };
        let ms = |v: Option<f64>, default: f64| v.map_or(default, |ms| ms / 1000.0);
        let mb = |v: Option<f64>, default: f64| v.map_or(default, |mb| mb * MB);
        let inputs = Inputs {
            write_bytes_per_sec,
            read_bytes_per_sec,
            retention_secs,
            record_bytes: self
                .record_bytes
                .or(observed.and_then(Observed::mean_record_bytes))
                .unwrap_or(d.record_bytes),
            batch_bytes: self.batch_bytes.unwrap_or(d.batch_bytes),
            partitions: self.partitions,
            partition_bytes_per_sec: mb(self.partition_mb_per_sec, d.partition_bytes_per_sec),
            zones: self.zones.unwrap_or(d.zones),
            headroom_fraction: self.headroom_fraction.unwrap_or(d.headroom_fraction),
            agent_write_bytes_per_sec: mb(self.agent_write_mb_per_sec, d.agent_write_bytes_per_sec),
            agent_read_bytes_per_sec: mb(self.agent_read_mb_per_sec, d.agent_read_bytes_per_sec),
            agent_network_bytes_per_sec: mb(self.agent_network_mb_per_sec, d.agent_network_bytes_per_sec),
            flush_interval_secs: ms(self.flush_interval_ms, d.flush_interval_secs),
            flush_bytes: self.flush_bytes.unwrap_or(d.flush_bytes),
            objects_per_flush: self.objects_per_flush.unwrap_or(d.objects_per_flush),
            maintenance_interval_secs: ms(self.maintenance_interval_ms, d.maintenance_interval_secs),
            merge_min_age_secs: ms(self.merge_min_age_ms, d.merge_min_age_secs),
            merge_target_bytes: self.merge_target_bytes.unwrap_or(d.merge_target_bytes),
            gc_grace_secs: ms(self.gc_grace_ms, d.gc_grace_secs),
            orphan_scan_every_passes: self.orphan_scan_every_passes.unwrap_or(d.orphan_scan_every_passes),
            orphan_grace_secs: ms(self.orphan_grace_ms, d.orphan_grace_secs),
            full_orphan_scan_hours: self.full_orphan_scan_hours.unwrap_or(d.full_orphan_scan_hours),
            replication_factor: self.replication_factor.unwrap_or(d.replication_factor),
            kafka_min_brokers: self.kafka_min_brokers.unwrap_or(d.kafka_min_brokers),
            broker_disk_bytes_per_sec: mb(self.broker_disk_mb_per_sec, d.broker_disk_bytes_per_sec),
            broker_network_bytes_per_sec: mb(self.broker_network_mb_per_sec, d.broker_network_bytes_per_sec),
            kafka_controllers: self.kafka_controllers.unwrap_or(d.kafka_controllers),
            follower_fetching: self.follower_fetching,
            agent_usd_per_hour: self.agent_usd_per_hour.unwrap_or(d.agent_usd_per_hour),
            metastore_usd_per_hour: self.metastore_usd_per_hour.unwrap_or(d.metastore_usd_per_hour),
            broker_usd_per_hour: self.broker_usd_per_hour.unwrap_or(d.broker_usd_per_hour),
            controller_usd_per_hour: self.controller_usd_per_hour.unwrap_or(d.controller_usd_per_hour),
            s3_storage_usd_per_gib_month: self.s3_storage_usd_per_gib_month.unwrap_or(d.s3_storage_usd_per_gib_month),
            s3_put_usd_per_1000: self.s3_put_usd_per_1000.unwrap_or(d.s3_put_usd_per_1000),
            s3_get_usd_per_1000: self.s3_get_usd_per_1000.unwrap_or(d.s3_get_usd_per_1000),
            ebs_usd_per_gib_month: self.ebs_usd_per_gib_month.unwrap_or(d.ebs_usd_per_gib_month),
            cross_zone_usd_per_gib_each_way: self.cross_zone_usd_per_gib.unwrap_or(d.cross_zone_usd_per_gib_each_way),
        };
        inputs.validate()?;
        Ok(inputs)
    }
}

fn check_non_negative(name: &'static str, value: f64) -> Result<(), PlanError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PlanError::Invalid { name, value, rule: "must be a finite number >= 0" })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        plan: PlanArgs,
    }

    fn parse(args: &[&str]) -> PlanArgs {
        Cli::try_parse_from(std::iter::once("plan").chain(args.iter().copied())).unwrap().plan
    }

    #[test]
    fn flags_become_inputs_in_bytes_and_seconds() {
        let i = parse(&[
            "--write-mb-per-sec",
            "50",
            "--fan-out",
            "3",
            "--retention-days",
            "7",
            "--flush-interval-ms",
            "100",
        ])
        .inputs(None)
        .unwrap();
        assert_eq!(i.write_bytes_per_sec, 50e6);
        assert_eq!(i.read_bytes_per_sec, 150e6);
        assert_eq!(i.retention_secs, 604_800.0);
        assert_eq!(i.flush_interval_secs, 0.1);
        assert_eq!(
            Inputs {
                write_bytes_per_sec: 0.0,
                read_bytes_per_sec: 0.0,
                retention_secs: 604_800.0,
                flush_interval_secs: 0.25,
                ..i
            },
            Inputs::default()
        );
    }

    #[test]
    fn observed_figures_fill_in_and_flags_win() {
        let o =
            Observed { bytes_in_per_sec: 2e6, bytes_out_per_sec: 6e6, records_in_per_sec: 4000.0, sample_secs: 10.0 };
        let idle = Observed { bytes_in_per_sec: 0.0, ..o };
        assert_eq!(
            parse(&[]).inputs(Some(&idle)).unwrap_err().to_string(),
            "nothing was produced during the 10 s sample: give --write-mb-per-sec"
        );
        let i = parse(&[]).inputs(Some(&o)).unwrap();
        assert_eq!((i.write_bytes_per_sec, i.read_bytes_per_sec, i.record_bytes), (2e6, 6e6, 500.0));
        // A larger write rate keeps the observed fan-out of 3; a given record size wins.
        let i = parse(&["--write-mb-per-sec", "10", "--record-bytes", "100"]).inputs(Some(&o)).unwrap();
        assert_eq!((i.write_bytes_per_sec, i.read_bytes_per_sec, i.record_bytes), (10e6, 30e6, 100.0));
    }

    /// Each "[default: N" in a flag's help is the default the model uses: giving the flag that value
    /// changes nothing.
    #[test]
    fn the_defaults_in_the_help_are_the_defaults() {
        use clap::CommandFactory;
        let base = parse(&["--write-mb-per-sec", "5"]).inputs(None).unwrap();
        let mut checked = 0;
        for arg in Cli::command().get_arguments() {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let Some(value) = help.split("[default: ").nth(1) else { continue };
            let value: String = value.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            if value.is_empty() {
                continue;
            }
            let flag = format!("--{}", arg.get_long().unwrap());
            let with = parse(&["--write-mb-per-sec", "5", &flag, &value]).inputs(None).unwrap();
            assert_eq!(with, base, "{flag} {value}");
            checked += 1;
        }
        assert!(checked >= 25, "{checked} defaults checked");
    }

    #[test]
    fn bad_flags_are_refused_clearly() {
        let err = |args: &[&str]| parse(args).inputs(None).unwrap_err().to_string();
        assert_eq!(err(&[]), "no write rate: give --write-mb-per-sec or --from-metrics");
        assert_eq!(
            err(&["--write-mb-per-sec", "5", "--fan-out", "-1"]),
            "invalid input: fan-out -1 must be a finite number >= 0"
        );
        assert_eq!(
            err(&["--write-mb-per-sec", "5", "--partitions", "0"]),
            "invalid input: partitions 0 must be at least 1"
        );
        assert_eq!(
            err(&["--write-mb-per-sec", "NaN"]),
            "invalid input: write bytes/s NaN must be a finite number >= 0"
        );
    }
}
