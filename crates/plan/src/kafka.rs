//! The Apache Kafka side of a plan, for comparison: brokers with EBS gp3 volumes, replication factor RF,
//! replicas placed rack-aware over the zones (`broker.rack`), KRaft controllers, and the cross-zone traffic
//! such a cluster pays for: producers writing to leaders in other zones, followers replicating across
//! zones, and consumers fetching from leaders in other zones, or with follower fetching (KIP-392) from
//! replicas in their own zone when it holds one.

use serde::Serialize;

use crate::inputs::{GIB, GP3_MAX_VOLUME_GIB, HOURS_PER_MONTH, Inputs};
use crate::plan::{round_up_to_multiple, to_count};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaPlan {
    pub brokers: u32,
    /// Bytes on disk across the cluster: retention x write rate x RF.
    pub stored_bytes: f64,
    /// Provisioned per broker: its share of the stored bytes with the headroom kept free.
    pub volume_gib_per_broker: f64,
    /// gp3 volumes per broker (one holds at most 16 TiB).
    pub volumes_per_broker: u32,
    pub cross_zone: KafkaCrossZone,
    pub cost_usd_per_month: KafkaCost,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaCrossZone {
    pub produce_bytes_per_sec: f64,
    pub replication_bytes_per_sec: f64,
    pub consume_bytes_per_sec: f64,
    pub total_bytes_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaCost {
    pub brokers: f64,
    pub controllers: f64,
    pub ebs: f64,
    pub cross_zone: f64,
    pub total: f64,
}

/// The Kafka plan for the inputs' workload.
pub fn plan(inputs: &Inputs) -> KafkaPlan {
    let w = inputs.write_bytes_per_sec;
    let r = inputs.read_bytes_per_sec;
    let rf = f64::from(inputs.replication_factor);
    let usable = 1.0 - inputs.headroom_fraction;
    // Disk: every byte is written RF times, spread over the brokers.
    let for_disk = w * rf / (inputs.broker_disk_bytes_per_sec * usable);
    // Network, each direction on its own (the instance's baseline holds for each): in, producers send
    // every byte to its leader and RF - 1 followers fetch it, w x RF; out, leaders send those RF - 1
    // copies and serve every consumer read (from the page cache when consumers keep up), w x (RF - 1) + r.
    let network_in = w * rf;
    let network_out = w * (rf - 1.0) + r;
    let for_network = network_in.max(network_out) / (inputs.broker_network_bytes_per_sec * usable);
    // At least the configured minimum and RF (a partition needs RF brokers), a multiple of the zones so
    // each rack holds the same share.
    let needed = to_count(for_disk.max(for_network)).max(inputs.kafka_min_brokers).max(inputs.replication_factor);
    let brokers = round_up_to_multiple(needed, inputs.zones);
    let stored_bytes = w * inputs.retention_secs * rf;
    let volume_gib_per_broker = stored_bytes / f64::from(brokers) / usable / GIB;
    let volumes_per_broker = to_count(volume_gib_per_broker / GP3_MAX_VOLUME_GIB).max(1);
    let cross_zone = cross_zone(inputs);
    let cost_usd_per_month = cost(inputs, brokers, volume_gib_per_broker, &cross_zone);
    KafkaPlan { brokers, stored_bytes, volume_gib_per_broker, volumes_per_broker, cross_zone, cost_usd_per_month }
}

fn cross_zone(inputs: &Inputs) -> KafkaCrossZone {
    let w = inputs.write_bytes_per_sec;
    let zones = f64::from(inputs.zones);
    // A client is in a given zone, the partition's leader in any zone with equal chance: (zones - 1) / zones
    // of produce and of consume cross a zone boundary.
    let elsewhere = (zones - 1.0) / zones;
    // With follower fetching a consumer reads from a replica in its own zone when its zone holds one: the
    // replicas cover min(RF, zones) of the zones, so the rest of the consumers still cross.
    let consume_elsewhere = if inputs.follower_fetching {
        1.0 - f64::from(inputs.replication_factor.min(inputs.zones)) / zones
    } else {
        elsewhere
    };
    let consume = inputs.read_bytes_per_sec * consume_elsewhere;
    let produce = w * elsewhere;
    let replication = w * cross_zone_copies(inputs.replication_factor, inputs.zones);
    KafkaCrossZone {
        produce_bytes_per_sec: produce,
        replication_bytes_per_sec: replication,
        consume_bytes_per_sec: consume,
        total_bytes_per_sec: produce + replication + consume,
    }
}

/// Follower copies of a byte that land in another zone than its leader. Rack-aware placement spreads a
/// partition's RF replicas round-robin over the zones, c_z of them in zone z; the leader is any replica with
/// equal chance, and then RF - c_z copies are elsewhere: the sum over zones of (c_z / RF) x (RF - c_z).
/// With RF <= zones every replica has its own zone and this is RF - 1.
pub(crate) fn cross_zone_copies(rf: u32, zones: u32) -> f64 {
    if rf == 0 || zones == 0 {
        return 0.0;
    }
    let rf_f = f64::from(rf);
    (0..zones).map(|z| f64::from(rf / zones + u32::from(z < rf % zones))).map(|c| c / rf_f * (rf_f - c)).sum()
}

fn cost(inputs: &Inputs, brokers: u32, volume_gib: f64, cross: &KafkaCrossZone) -> KafkaCost {
    let brokers_usd = f64::from(brokers) * inputs.broker_usd_per_hour * HOURS_PER_MONTH;
    let controllers = f64::from(inputs.kafka_controllers) * inputs.controller_usd_per_hour * HOURS_PER_MONTH;
    let ebs = f64::from(brokers) * volume_gib * inputs.ebs_usd_per_gib_month;
    // A byte crossing zones is billed when it leaves one and when it enters the other.
    let gib_per_month = cross.total_bytes_per_sec * 3600.0 * HOURS_PER_MONTH / GIB;
    let cross_zone = gib_per_month * 2.0 * inputs.cross_zone_usd_per_gib_each_way;
    KafkaCost {
        brokers: brokers_usd,
        controllers,
        ebs,
        cross_zone,
        total: brokers_usd + controllers + ebs + cross_zone,
    }
}

/// Notes on the Kafka plan a reader must not miss.
pub fn warnings(plan: &KafkaPlan) -> Vec<String> {
    if plan.volumes_per_broker > 1 {
        vec![format!(
            "kafka: {:.0} GiB per broker exceeds one gp3 volume (16 TiB): {} volumes per broker (JBOD)",
            plan.volume_gib_per_broker, plan.volumes_per_broker
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_zone_copies_follow_rack_aware_placement() {
        assert_eq!(cross_zone_copies(3, 3), 2.0);
        assert_eq!(cross_zone_copies(3, 1), 0.0);
        // Two replicas in zone a, one in b: leader in a (2/3) sends 1 copy away, in b (1/3) sends 2.
        assert!((cross_zone_copies(3, 2) - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(cross_zone_copies(1, 3), 0.0);
    }

    fn inputs() -> Inputs {
        Inputs {
            write_bytes_per_sec: 100e6,
            read_bytes_per_sec: 0.0,
            zones: 1,
            kafka_min_brokers: 1,
            ..Inputs::default()
        }
    }

    #[test]
    fn brokers_are_sized_by_network_in_when_it_exceeds_network_out() {
        // No readers, RF 2, a disk that never limits: in 200 x 2 = 400 MB/s, out 200 x 1 = 200 MB/s.
        // In: 400 / (195 x 0.7) = 2.93 -> 3 brokers; out alone would give 1.47 -> 2.
        let i =
            Inputs { write_bytes_per_sec: 200e6, broker_disk_bytes_per_sec: 1e12, replication_factor: 2, ..inputs() };
        assert_eq!(plan(&i).brokers, 3);
    }

    #[test]
    fn follower_fetching_crosses_zones_only_where_no_replica_is() {
        let i = Inputs { read_bytes_per_sec: 90e6, zones: 3, follower_fetching: true, ..inputs() };
        // RF 3 over 3 zones: a replica in every zone, nothing crosses.
        assert_eq!(cross_zone(&i).consume_bytes_per_sec, 0.0);
        // RF 2 over 3 zones: consumers in the zone without a replica (1/3) read from another zone.
        let rf2 = cross_zone(&Inputs { replication_factor: 2, ..i.clone() });
        assert!((rf2.consume_bytes_per_sec - 30e6).abs() < 1e-3, "{rf2:?}");
        // Without follower fetching, the leader is elsewhere 2/3 of the time.
        let leader = cross_zone(&Inputs { follower_fetching: false, ..i });
        assert!((leader.consume_bytes_per_sec - 60e6).abs() < 1e-3, "{leader:?}");
    }
}
