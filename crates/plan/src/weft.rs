//! The Weft side of a plan: agents, object-store requests and bytes, stored bytes, metastore load and the
//! monthly bill. Each formula follows what the code does today (crates/log's flusher, crates/maintenance's
//! merge, retention and GC, crates/storage's zone-shared reads); the comments name the mechanism.

use serde::Serialize;

use crate::inputs::{GIB, HOURS_PER_MONTH, Inputs};
use crate::plan::{Workload, ratio, round_up_to_multiple, to_count};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeftPlan {
    pub agents: Agents,
    pub object_store: ObjectStore,
    pub metastore: MetastoreLoad,
    /// Produce and fetch stay in the client's zone (agents in every zone), S3 in the region is free and
    /// zone peers share reads inside a zone: no data crosses zones.
    pub cross_zone_bytes_per_sec: f64,
    pub cost_usd_per_month: WeftCost,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Agents {
    /// Agents' worth of work at the measured produce and fetch capacities, before headroom.
    pub load: f64,
    /// Fewest agents (fractional) whose network in and out fit the instance's full baseline, before
    /// headroom; `None` when no count does (see `segment_in_bytes_per_sec`).
    pub network_load: Option<f64>,
    /// Bytes/s into every agent that more agents do not spread: the other zones' segments, each read
    /// whole by every agent serving a partition in it, w x (Z - 1) / Z.
    pub segment_in_bytes_per_sec: f64,
    /// Agents that carry the load with the headroom kept free (N).
    pub needed: u32,
    /// N + 1, spread evenly over the zones, at least one per zone.
    pub total: u32,
    pub per_zone: u32,
    /// Network into each of the `total` agents: its share of produce and the other zones' segments.
    pub network_in_per_agent_bytes_per_sec: f64,
    /// Network out of each of the `total` agents: its share of reads served and uploads, and the segments
    /// it owns sent to its zone peers.
    pub network_out_per_agent_bytes_per_sec: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectStore {
    pub flush_objects_per_hour: f64,
    pub mean_flush_object_bytes: f64,
    pub merged_objects_per_hour: f64,
    pub mean_merged_object_bytes: f64,
    /// Whether every partition's merge keeps up with its write rate.
    pub merge_keeps_up: bool,
    /// PUT requests: flush segments and merged objects.
    pub put_per_hour: f64,
    pub put_bytes_per_hour: f64,
    /// GET requests: consumers' first read of each segment in each zone, and the merge's read.
    pub get_per_hour: f64,
    pub get_bytes_per_hour: f64,
    /// LIST requests of the orphan scans (billed as PUTs).
    pub list_per_hour: f64,
    /// Objects deleted (merged flush segments, expired merged objects); S3 does not bill deletes.
    pub delete_objects_per_hour: f64,
    pub stored_bytes: f64,
    pub stored_objects: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetastoreLoad {
    /// Transactions: segment commits, merge swaps, retention steps, GC.
    pub commits_per_sec: f64,
    /// Batch index rows inserted by segment commits.
    pub index_rows_inserted_per_sec: f64,
    /// Rows moved to merged objects.
    pub index_rows_rewritten_per_sec: f64,
    /// Rows held at steady state: one per batch within retention.
    pub index_rows: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeftCost {
    pub agents: f64,
    pub metastore: f64,
    pub s3_storage: f64,
    pub s3_put: f64,
    pub s3_get: f64,
    pub cross_zone: f64,
    pub total: f64,
}

/// Agents for the load. One agent both accepts produce and serves fetches, so its two measured capacities
/// share it: the load is w / write capacity + r / read capacity agents' worth. Its network is sized in
/// each direction by `Network`. The larger need, with the headroom kept free, rounded up, is N. The
/// cluster runs N + 1 so losing any one agent leaves N, spread evenly over the zones (clients use their
/// zone's agents; at least one per zone).
pub fn agents(inputs: &Inputs) -> Agents {
    let (w, r) = (inputs.write_bytes_per_sec, inputs.read_bytes_per_sec);
    let load = w / inputs.agent_write_bytes_per_sec + r / inputs.agent_read_bytes_per_sec;
    let net = Network::new(inputs);
    let capacity = inputs.agent_network_bytes_per_sec;
    let usable = capacity * (1.0 - inputs.headroom_fraction);
    // When no count carries the network, size for the rest and warn (see `warnings`).
    let for_network = net.agents(usable).unwrap_or(net.shared_out / usable);
    let needed = to_count((load / (1.0 - inputs.headroom_fraction)).max(for_network));
    let zones = inputs.zones.max(1);
    let total = round_up_to_multiple(needed.saturating_add(1), zones);
    let per_zone = total / zones;
    Agents {
        load,
        network_load: net.agents(capacity),
        segment_in_bytes_per_sec: net.segments_in,
        needed,
        total,
        per_zone,
        network_in_per_agent_bytes_per_sec: net.shared_in / f64::from(total) + net.segments_in,
        network_out_per_agent_bytes_per_sec: net.shared_out / f64::from(total)
            + net.segments_in * (1.0 - 1.0 / f64::from(per_zone.max(1))),
    }
}

/// An agent's network, per direction. Shared over the n agents: in, the produce it accepts (w / n); out,
/// the reads it serves and every byte uploaded twice, flush then merge ((r + 2w) / n). Not shared: fetches
/// read whole segments (one GET serves every partition in it), a segment holds every partition its writer
/// leads, and each agent leads some of nearly every one, so every agent takes in the other zones'
/// segments whole, s = w x (Z - 1) / Z, from the bucket for the 1 / m it owns and from their owners in
/// its zone for the rest (ARCHITECTURE.md, "Shared reads in a zone"); and each owner sends its segments
/// to the other m - 1 agents of its zone, s x (m - 1) / m out. (The writer's own zone reads from the
/// writer's cache: its leaders for produce and fetch are the same agents.)
struct Network {
    shared_in: f64,
    shared_out: f64,
    segments_in: f64,
    zones: f64,
}

impl Network {
    fn new(inputs: &Inputs) -> Network {
        let (w, r) = (inputs.write_bytes_per_sec, inputs.read_bytes_per_sec);
        let zones = f64::from(inputs.zones.max(1));
        let segments_in = if r > 0.0 { w * (zones - 1.0) / zones } else { 0.0 };
        Network { shared_in: w, shared_out: r + 2.0 * w, segments_in, zones }
    }

    /// Fewest agents n (fractional) whose in, w / n + s, and out, (r + 2w) / n + s x (m - 1) / m with
    /// m = n / Z, stay within `per_agent`; `None` when s alone fills it. Up to Z agents (one a zone at most)
    /// send no peer any segment, so out = (r + 2w) / n there; beyond, out = (r + 2w - s Z) / n + s, which
    /// falls to `per_agent` at n = (r + 2w - s Z) / (per_agent - s).
    fn agents(&self, per_agent: f64) -> Option<f64> {
        let s = self.segments_in;
        if s >= per_agent && self.shared_in + self.shared_out > 0.0 {
            return None;
        }
        let for_in = ratio(self.shared_in, per_agent - s);
        let alone = self.shared_out / per_agent;
        let for_out = if alone <= self.zones { alone } else { (self.shared_out - s * self.zones) / (per_agent - s) };
        Some(for_in.max(for_out))
    }
}

/// The Weft plan for `workload` on `agents`.
pub fn plan(inputs: &Inputs, workload: &Workload, agents: Agents) -> WeftPlan {
    let flow = Flow::new(inputs, workload, agents);
    let object_store = object_store(inputs, &flow);
    let metastore = metastore(inputs, workload, &flow);
    let cost_usd_per_month = cost(inputs, agents, &object_store);
    WeftPlan { agents, object_store, metastore, cross_zone_bytes_per_sec: 0.0, cost_usd_per_month }
}

/// Rates of objects written, and how long each kind lives.
struct Flow {
    w: f64,
    flush_objects_per_sec: f64,
    merged_objects_per_sec: f64,
    merged_bytes_per_sec: f64,
    merge_keeps_up: bool,
    /// Seconds a flush segment lives in the bucket.
    flush_life_secs: f64,
    /// Seconds a merged object lives in the bucket.
    merged_life_secs: f64,
    /// GETs of each flush segment by consumers.
    reads_per_object: f64,
}

impl Flow {
    fn new(inputs: &Inputs, workload: &Workload, agents: Agents) -> Flow {
        let w = inputs.write_bytes_per_sec;
        let p = f64::from(workload.partitions);
        let interval = inputs.maintenance_interval_secs;
        // Each agent takes 1/total of the writes (clients spread over their zone's agents) and cuts a flush
        // when the interval passes or flush_bytes are buffered, whichever comes first: at least one flush
        // per interval while data arrives, more when the agent's rate fills flush_bytes sooner.
        let per_agent = w / f64::from(agents.total);
        let flushes_per_agent =
            if per_agent > 0.0 { (1.0 / inputs.flush_interval_secs).max(per_agent / inputs.flush_bytes) } else { 0.0 };
        let flush_objects_per_sec = f64::from(agents.total) * flushes_per_agent * inputs.objects_per_flush;
        // Merge: each pass copies one run of at most merge_target_bytes per partition, and only a run of at
        // least 2 batches (MergeLimits::min_batches). So a partition merges once per pass when it has two
        // batches per pass, and at most target / interval bytes per second.
        let batches_per_partition_per_sec = ratio(workload.batches_per_sec, p);
        let merges_per_partition_per_sec = (1.0 / interval).min(batches_per_partition_per_sec / 2.0);
        let merge_capacity = p * inputs.merge_target_bytes / interval;
        let merge_keeps_up = w <= merge_capacity * (1.0 + 1e-9);
        // A flush segment is merged once merge_min_age old (within one more pass), then dead for gc_grace.
        // When a partition's merge falls behind, its batches keep every segment they are in alive until
        // retention removes them, so the segments live as long as the data.
        let expiry = interval + inputs.gc_grace_secs;
        let flush_life_secs =
            if merge_keeps_up { inputs.merge_min_age_secs + expiry } else { inputs.retention_secs + expiry };
        // A merged object lives for the retention, plus up to one pass until retention moves the log start
        // past it, plus the GC grace.
        let merged_life_secs = inputs.retention_secs + expiry;
        // Zone-shared reads: in each zone the key's owner reads the segment from the bucket once and its
        // zone peers get it from the owner. In the writer's zone the writer still caches what it flushed,
        // so a GET happens only when the owner is another agent: 1 - 1/per_zone of the time.
        let reads_per_object = if workload.read_bytes_per_sec > 0.0 {
            f64::from(inputs.zones.saturating_sub(1)) + (1.0 - 1.0 / f64::from(agents.per_zone.max(1)))
        } else {
            0.0
        };
        Flow {
            w,
            flush_objects_per_sec,
            merged_objects_per_sec: p * merges_per_partition_per_sec,
            merged_bytes_per_sec: w.min(merge_capacity),
            merge_keeps_up,
            flush_life_secs,
            merged_life_secs,
            reads_per_object,
        }
    }
}

fn object_store(inputs: &Inputs, f: &Flow) -> ObjectStore {
    let hour = 3600.0;
    // PUTs: every flush segment and every merged object is one upload.
    let put_per_sec = f.flush_objects_per_sec + f.merged_objects_per_sec;
    let put_bytes_per_sec = f.w + f.merged_bytes_per_sec;
    // GETs: consumers' reads (per zone, above) plus the merge reading each flush segment it copies from
    // once (an upper bound: none when the maintenance agent still caches the segment).
    let merge_reads = if f.merged_objects_per_sec > 0.0 { 1.0 } else { 0.0 };
    let get_per_sec = f.flush_objects_per_sec * (f.reads_per_object + merge_reads);
    let get_bytes_per_sec = f.w * (f.reads_per_object + merge_reads);
    // Steady state: objects alive = rate x lifetime (Little's law), and so are bytes.
    let flush_stored = f.flush_objects_per_sec * f.flush_life_secs;
    let merged_stored = f.merged_objects_per_sec * f.merged_life_secs;
    let stored_bytes = f.w * f.flush_life_secs + f.merged_bytes_per_sec * f.merged_life_secs;
    // The orphan scan lists both data prefixes every orphan_scan_every_passes passes; a LIST returns at
    // most 1,000 keys, and an empty prefix still costs one. Most scans list only the objects created since
    // the previous scan's cutoff less one grace (a window of the scan interval plus two graces) that still
    // exist; one scan every full_orphan_scan_hours lists everything.
    let scan_secs = inputs.maintenance_interval_secs * inputs.orphan_scan_every_passes;
    let scans_per_sec = 1.0 / scan_secs;
    let window_secs = scan_secs + 2.0 * inputs.orphan_grace_secs;
    let pages = |objects: f64| (objects / 1000.0).ceil().max(1.0);
    let incremental = pages(f.flush_objects_per_sec * window_secs.min(f.flush_life_secs))
        + pages(f.merged_objects_per_sec * window_secs.min(f.merged_life_secs));
    let full = pages(flush_stored) + pages(merged_stored);
    let every = (inputs.full_orphan_scan_hours * 3600.0 / scan_secs).max(1.0);
    let list_per_scan = (incremental * (every - 1.0) + full) / every;
    ObjectStore {
        flush_objects_per_hour: f.flush_objects_per_sec * hour,
        mean_flush_object_bytes: ratio(f.w, f.flush_objects_per_sec),
        merged_objects_per_hour: f.merged_objects_per_sec * hour,
        mean_merged_object_bytes: ratio(f.merged_bytes_per_sec, f.merged_objects_per_sec),
        merge_keeps_up: f.merge_keeps_up,
        put_per_hour: put_per_sec * hour,
        put_bytes_per_hour: put_bytes_per_sec * hour,
        get_per_hour: get_per_sec * hour,
        get_bytes_per_hour: get_bytes_per_sec * hour,
        list_per_hour: scans_per_sec * list_per_scan * hour,
        // Every object written is deleted once (a merged flush segment, an expired merged object).
        delete_objects_per_hour: put_per_sec * hour,
        stored_bytes,
        stored_objects: flush_stored + merged_stored,
    }
}

fn metastore(inputs: &Inputs, workload: &Workload, f: &Flow) -> MetastoreLoad {
    let interval = inputs.maintenance_interval_secs;
    // One transaction per flush (the segment commit), one per merged object (the index swap), one
    // retention step per partition per pass while data expires, one GC step per pass.
    let flushes_per_sec = f.flush_objects_per_sec / inputs.objects_per_flush;
    let retention_per_sec =
        if f.w > 0.0 && inputs.retention_secs > 0.0 { f64::from(workload.partitions) / interval } else { 0.0 };
    MetastoreLoad {
        commits_per_sec: flushes_per_sec + f.merged_objects_per_sec + retention_per_sec + 1.0 / interval,
        index_rows_inserted_per_sec: workload.batches_per_sec,
        index_rows_rewritten_per_sec: f.merged_bytes_per_sec / workload.batch_bytes,
        index_rows: workload.batches_per_sec * inputs.retention_secs,
    }
}

fn cost(inputs: &Inputs, agents: Agents, s: &ObjectStore) -> WeftCost {
    let per_month = |per_hour: f64| per_hour * HOURS_PER_MONTH;
    let agents_usd = per_month(f64::from(agents.total) * inputs.agent_usd_per_hour);
    let metastore = per_month(inputs.metastore_usd_per_hour);
    // S3 bills the bytes stored over the month: steady-state bytes x the GiB-month price.
    let s3_storage = s.stored_bytes / GIB * inputs.s3_storage_usd_per_gib_month;
    // LIST is priced with PUT, COPY and POST; DELETE is free.
    let s3_put = per_month((s.put_per_hour + s.list_per_hour) / 1000.0 * inputs.s3_put_usd_per_1000);
    let s3_get = per_month(s.get_per_hour / 1000.0 * inputs.s3_get_usd_per_1000);
    let cross_zone = 0.0;
    let total = agents_usd + metastore + s3_storage + s3_put + s3_get + cross_zone;
    WeftCost { agents: agents_usd, metastore, s3_storage, s3_put, s3_get, cross_zone, total }
}

/// Limits crossed (an agent's network that no count of agents relieves, a merge that cannot keep up, a GC that cannot delete as fast as objects die) and costs
/// out of proportion (small merged objects, LISTs costing more than the uploads).
pub fn warnings(inputs: &Inputs, workload: &Workload, weft: &WeftPlan) -> Vec<String> {
    let mut out = Vec::new();
    let a = &weft.agents;
    // Every agent takes in the other zones' segments whole, however many agents there are.
    let usable = inputs.agent_network_bytes_per_sec * (1.0 - inputs.headroom_fraction);
    if a.segment_in_bytes_per_sec >= usable {
        out.push(format!(
            "weft: each agent takes in {:.0} B/s of the other zones' segments (read whole), however many \
             agents, and its network carries {usable:.0} B/s with {:.0}% headroom: use instances with more \
             network (--agent-network-mb-per-sec) or fewer zones",
            a.segment_in_bytes_per_sec,
            inputs.headroom_fraction * 100.0
        ));
    }
    let s = &weft.object_store;
    if !s.merge_keeps_up {
        let per_partition = inputs.write_bytes_per_sec / f64::from(workload.partitions);
        let limit = inputs.merge_target_bytes / inputs.maintenance_interval_secs;
        out.push(format!(
            "weft: {:.0} B/s per partition exceeds what one partition merges ({limit:.0} B/s = merge target \
             / maintenance interval): flush segments stay until retention and storage nearly doubles; use at \
             least {} partitions or raise --merge-target-bytes",
            per_partition, workload.partitions_recommended
        ));
    }
    // Below 1 MiB a merged object is mostly per-request cost: partitions get too little data per pass.
    if s.merged_objects_per_hour > 0.0 && s.mean_merged_object_bytes < 1_048_576.0 {
        out.push(format!(
            "weft: merged objects average {:.0} bytes (each partition merges what it got in one {} s pass): \
             fewer partitions or a longer --maintenance-interval-ms make fewer, larger objects",
            s.mean_merged_object_bytes, inputs.maintenance_interval_secs
        ));
    }
    if s.list_per_hour > s.put_per_hour {
        let scan_secs = inputs.maintenance_interval_secs * inputs.orphan_scan_every_passes;
        out.push(format!(
            "weft: the orphan scans (every {scan_secs} s, all {:.0} stored objects every {} h) make {:.0} LIST \
             requests an hour, more than the {:.0} uploads",
            s.stored_objects, inputs.full_orphan_scan_hours, s.list_per_hour, s.put_per_hour
        ));
    }
    // GC deletes at most 1,000 dead objects per pass (weft-maintenance MAX_DELETES_PER_PASS).
    let deletes_per_pass = s.delete_objects_per_hour / 3600.0 * inputs.maintenance_interval_secs;
    if deletes_per_pass > 1000.0 {
        out.push(format!(
            "weft: {deletes_per_pass:.0} objects die per maintenance pass but GC deletes at most 1000 per pass: \
             dead objects accumulate"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(write_mb: f64, fan_out: f64) -> Inputs {
        Inputs {
            write_bytes_per_sec: write_mb * 1e6,
            read_bytes_per_sec: write_mb * fan_out * 1e6,
            ..Inputs::default()
        }
    }

    #[test]
    fn serving_zone_peers_takes_network_that_more_agents_do_not_spread() {
        // 100 MB/s, fan-out 3, 3 zones. Compute: (1 + 300/170) / 0.7 = 3.95. Network, 136.5 MB/s usable:
        // s = 66.67 MB/s; out alone 500 / 136.5 = 3.66 > 3 agents, so peers are served:
        // (500 - 66.67 x 3) / (136.5 - 66.67) = 4.30 -> N = 5 (at 4, out = 125 + 66.67 x 1/4 = 141.7 MB/s).
        let a = agents(&inputs(100.0, 3.0));
        assert_eq!((a.needed, a.total, a.per_zone), (5, 6, 2));
        let s = 100e6 * 2.0 / 3.0;
        assert!((a.segment_in_bytes_per_sec - s).abs() < 1e-3);
        // Each of the 6: in 100/6 + 66.67 = 83.33 MB/s; out 500/6 + 66.67/2 = 116.67 MB/s.
        assert!((a.network_in_per_agent_bytes_per_sec - (100e6 / 6.0 + s)).abs() < 1e-3);
        assert!((a.network_out_per_agent_bytes_per_sec - (500e6 / 6.0 + s / 2.0)).abs() < 1e-3);
        // Network load at the full 195 MB/s: out 500 / 195 = 2.56, within 3 agents (one a zone, no peers).
        assert!((a.network_load.unwrap() - 500.0 / 195.0).abs() < 1e-9);
    }

    #[test]
    fn an_agent_network_no_count_relieves_is_warned_about() {
        // 300 MB/s over 3 zones: every agent takes in 200 MB/s of other zones' segments, more than its
        // 195 MB/s, whatever the count: no network load; agents sized by the rest; a warning.
        let i = inputs(300.0, 1.0);
        let a = agents(&i);
        assert_eq!(a.network_load, None);
        let p = crate::plan(&i);
        assert!(
            p.warnings.iter().any(|w| w.starts_with("weft: each agent takes in 200000000 B/s of the other zones'")),
            "{:?}",
            p.warnings
        );
        // One zone: nothing comes from other zones, and the agents scale.
        let one_zone = agents(&Inputs { zones: 1, ..i });
        assert_eq!(one_zone.segment_in_bytes_per_sec, 0.0);
        assert!(one_zone.network_load.is_some());
    }
}
