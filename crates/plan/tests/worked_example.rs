//! The worked example of docs/plan.md, calculated by hand in the comments and checked figure by figure:
//! 50 MB/s in, fan-out 3, 7 days of retention, 1 KiB records, 3 zones, every other input at its default.

use weft_plan::{GIB, Inputs, plan};

fn close(actual: f64, expected: f64) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!((actual - expected).abs() <= tolerance, "{actual} != {expected}");
}

fn example() -> Inputs {
    Inputs {
        write_bytes_per_sec: 50e6,
        read_bytes_per_sec: 150e6,
        retention_secs: 7.0 * 86_400.0,
        record_bytes: 1024.0,
        zones: 3,
        ..Inputs::default()
    }
}

#[test]
fn the_worked_example_matches_the_hand_calculation() {
    let inputs = example();
    inputs.validate().unwrap();
    let p = plan(&inputs);

    // Workload. records/s = 50e6 / 1024 = 48,828.125; batches/s = 50e6 / 16,384 = 3,051.7578125.
    close(p.workload.records_per_sec, 48_828.125);
    close(p.workload.batches_per_sec, 3_051.757_812_5);
    close(p.workload.fan_out, 3.0);

    // Agents. load = 50/100 + 150/170 = 1.382352941 agents, / (1 - 0.3) = 1.974789916.
    // Network: every agent takes in the other zones' segments whole, s = 50 x 2/3 = 33.33 MB/s. In:
    // 50 / (195 - 33.33) = 0.309 agents; out: (150 + 2 x 50) / 195 = 1.282051282, within 3 agents (one a
    // zone, no peer serving): network load 1.28. With headroom (136.5 MB/s each): in 50 / (136.5 - 33.33)
    // = 0.485, out 250 / 136.5 = 1.832. The largest, 1.97 -> N = 2; N + 1 = 3 over 3 zones, 1 per zone.
    let a = &p.weft.agents;
    close(a.load, 0.5 + 150.0 / 170.0);
    close(a.network_load.unwrap(), 250.0 / 195.0);
    close(a.segment_in_bytes_per_sec, 50e6 * 2.0 / 3.0);
    assert_eq!((a.needed, a.total, a.per_zone), (2, 3, 1));
    // Each of the 3: in 50/3 + 33.33 = 50 MB/s; out 250 / 3 = 83.33 MB/s (alone in its zone: no peers).
    close(a.network_in_per_agent_bytes_per_sec, 50e6);
    close(a.network_out_per_agent_bytes_per_sec, 250e6 / 3.0);

    // Partitions. 50 / 10 MB/s = 5; one partition merges 16,777,216 B / 5 s = 3,355,443.2 B/s, and
    // 50e6 / 3,355,443.2 = 14.9 -> 15, already a multiple of 3 agents.
    assert_eq!((p.workload.partitions_recommended, p.workload.partitions), (15, 15));

    // Flushes. Each agent takes 50e6 / 3 = 16.67 MB/s; in 250 ms that is 4.17 MB < 8 MiB, so the interval
    // cuts: 4 flushes/s per agent, 12/s in all = 43,200/h, of 50e6 / 12 = 4,166,666.67 B each.
    let s = &p.weft.object_store;
    close(s.flush_objects_per_hour, 43_200.0);
    close(s.mean_flush_object_bytes, 50e6 / 12.0);
    // Merge. 3,051.76 / 15 = 203.5 batches per partition per second (>= 2 per pass), so each of the 15
    // partitions merges once per 5 s pass: 3 objects/s = 10,800/h, and 15 x 3,355,443.2 = 50.3 MB/s >= 50.
    close(s.merged_objects_per_hour, 10_800.0);
    close(s.mean_merged_object_bytes, 50e6 / 3.0);
    assert!(s.merge_keeps_up);
    // PUTs = (12 + 3) x 3,600 = 54,000/h; bytes = (50e6 flushed + 50e6 merged) x 3,600 = 3.6e11/h.
    close(s.put_per_hour, 54_000.0);
    close(s.put_bytes_per_hour, 3.6e11);
    // GETs. 1 agent per zone: the two other zones read each segment once (2), the writer's zone not at all
    // (1 - 1/1 = 0), the merge once: 3 x 12/s = 129,600/h; bytes 3 x 50e6 x 3,600 = 5.4e11/h.
    close(s.get_per_hour, 129_600.0);
    close(s.get_bytes_per_hour, 5.4e11);
    // Stored. Flush segments live 10 s + 5 s + 60 s = 75 s: 12 x 75 = 900 objects; merged objects live
    // 604,800 + 5 + 60 = 604,865 s: 3 x 604,865 = 1,814,595 objects. Bytes 50e6 x (75 + 604,865).
    close(s.stored_objects, 900.0 + 1_814_595.0);
    close(s.stored_bytes, 50e6 * 604_940.0);
    // LIST. A scan every 12 x 5 s = 60 s. Most list the objects created in the last 60 + 2 x 600 = 1,260 s
    // that still exist: flush segments live 75 s, so 12 x 75 = 900 -> 1 request; merged 3 x 1,260 = 3,780 ->
    // 4: 5 requests. One scan a day (1 in 1,440) lists everything: ceil(900 / 1000) + ceil(1,814,595 / 1000) = 1,816.
    // 60 x (1,439 x 5 + 1,816) / 1,440 = 375.458/h. DELETE: every object written dies once: 54,000/h.
    close(s.list_per_hour, 60.0 * (1439.0 * 5.0 + 1816.0) / 1440.0);
    close(s.delete_objects_per_hour, 54_000.0);

    // Metastore. 12 segment commits + 3 merge swaps + 15 retention steps / 5 s + 1 GC step / 5 s = 18.2/s;
    // rows 3,051.7578125/s inserted and rewritten, 3,051.7578125 x 604,800 = 1,845,703,125 held.
    let m = &p.weft.metastore;
    close(m.commits_per_sec, 18.2);
    close(m.index_rows_inserted_per_sec, 3_051.757_812_5);
    close(m.index_rows_rewritten_per_sec, 3_051.757_812_5);
    close(m.index_rows, 1_845_703_125.0);
    close(p.weft.cross_zone_bytes_per_sec, 0.0);

    // Weft per month (730 h). Agents 3 x 0.192 x 730 = 420.48; metastore 0.192 x 730 = 140.16;
    // S3 3.0247e13 B / 2^30 = 28,169.71 GiB x 0.023 = 647.90; PUT + LIST (54,000 + 375.458) / 1000 x
    // 0.005 x 730 = 198.4704; GET 129,600 / 1000 x 0.0004 x 730 = 37.8432. Total 1,444.86.
    let c = &p.weft.cost_usd_per_month;
    close(c.agents, 420.48);
    close(c.metastore, 140.16);
    close(c.s3_storage, 3.0247e13 / GIB * 0.023);
    close(c.s3_put, (54_000.0 + 60.0 * (1439.0 * 5.0 + 1816.0) / 1440.0) / 1000.0 * 0.005 * 730.0);
    close(c.s3_get, 37.8432);
    close(c.total, 420.48 + 140.16 + 3.0247e13 / GIB * 0.023 + c.s3_put + 37.8432);

    // Kafka. Disk 50 x 3 / (125 x 0.7) = 1.71 brokers; network (50 x 2 + 150) / (195 x 0.7) = 1.83;
    // -> 2, raised to the minimum of 3 (a multiple of 3 zones).
    let k = &p.kafka;
    assert_eq!(k.brokers, 3);
    // Stored 50e6 x 604,800 x 3 = 9.072e13 B; per broker / 3 / 0.7 / 2^30 = 40,233.1 GiB: 3 gp3 volumes.
    close(k.stored_bytes, 9.072e13);
    close(k.volume_gib_per_broker, 9.072e13 / 3.0 / 0.7 / GIB);
    assert_eq!(k.volumes_per_broker, 3);
    // Cross-zone. Produce 50 x 2/3 = 33.33 MB/s; replication 50 x 2 = 100 MB/s; consume 150 x 2/3 = 100.
    close(k.cross_zone.produce_bytes_per_sec, 50e6 * 2.0 / 3.0);
    close(k.cross_zone.replication_bytes_per_sec, 100e6);
    close(k.cross_zone.consume_bytes_per_sec, 100e6);
    let cross_gib = (50e6 * 2.0 / 3.0 + 200e6) * 3600.0 * 730.0 / GIB; // 571,087.0 GiB a month
    // Kafka per month. Brokers 3 x 0.192 x 730 = 420.48; controllers 3 x 0.096 x 730 = 210.24;
    // EBS 3 x 40,233.1 x 0.08 = 9,655.95; cross-zone 571,087.0 x (0.01 + 0.01) = 11,421.74. Total 21,708.41.
    let kc = &k.cost_usd_per_month;
    close(kc.brokers, 420.48);
    close(kc.controllers, 210.24);
    close(kc.ebs, 3.0 * (9.072e13 / 3.0 / 0.7 / GIB) * 0.08);
    close(kc.cross_zone, cross_gib * 0.02);
    close(kc.total, 420.48 + 210.24 + 9.072e13 / 0.7 / GIB * 0.08 + cross_gib * 0.02);
    assert!((kc.total - 21_708.41).abs() < 0.01 && (c.total - 1_444.86).abs() < 0.01);

    assert_eq!(
        p.warnings,
        vec!["kafka: 40233 GiB per broker exceeds one gp3 volume (16 TiB): 3 volumes per broker (JBOD)",]
    );
}

#[test]
fn too_few_partitions_for_the_merge_are_warned_about_and_storage_doubles() {
    // 6 partitions of 8.33 MB/s each: each merges only 3,355,443.2 B/s, 20.1 MB/s in all, so flush
    // segments live for the whole retention beside the merged copies.
    let p = plan(&Inputs { partitions: Some(6), ..example() });
    let s = &p.weft.object_store;
    assert!(!s.merge_keeps_up);
    // Flush segments: 50e6 x (604,800 + 65); merged: 6 x 3,355,443.2 x 604,865.
    close(s.stored_bytes, 50e6 * 604_865.0 + 6.0 * 3_355_443.2 * 604_865.0);
    assert!(
        p.warnings[0].starts_with("weft: 8333333 B/s per partition exceeds what one partition merges"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn inputs_validation_refuses_do_not_panic_the_model() {
    let bad = Inputs {
        zones: 0,
        partitions: Some(0),
        replication_factor: 0,
        kafka_min_brokers: 0,
        record_bytes: 0.0,
        flush_interval_secs: f64::NAN,
        headroom_fraction: 1.0,
        ..example()
    };
    assert!(bad.validate().is_err());
    let _ = plan(&bad);
}

#[test]
fn many_quiet_partitions_make_small_merged_objects() {
    // 1 MB/s over 1,000 partitions: 61.04 batches/s, 0.061 per partition per second, so a partition has
    // its 2 batches every 32.8 s: 1000 x 0.0305 = 30.5 merges/s of 1e6 / 30.5 = 32,768 bytes each.
    let p = plan(&Inputs { write_bytes_per_sec: 1e6, read_bytes_per_sec: 1e6, partitions: Some(1000), ..example() });
    close(p.weft.object_store.mean_merged_object_bytes, 32_768.0);
    assert!(p.warnings.iter().any(|w| w.starts_with("weft: merged objects average 32768 bytes")), "{:?}", p.warnings);
}

#[test]
fn follower_fetching_removes_the_consumers_cross_zone_traffic_when_every_zone_has_a_replica() {
    // RF 3 over 3 zones: 1 - min(3, 3) / 3 = 0 of the reads cross.
    let p = plan(&Inputs { follower_fetching: true, ..example() });
    close(p.kafka.cross_zone.consume_bytes_per_sec, 0.0);
    close(p.kafka.cross_zone.total_bytes_per_sec, 50e6 * 2.0 / 3.0 + 100e6);
}

#[test]
fn a_small_steady_load_is_flushed_by_the_interval() {
    // 1 MB/s, no readers, 1 zone: N = ceil(0.01 / 0.7) = 1, N + 1 = 2 agents; each flushes 4 times a
    // second whatever it holds: 8 PUTs/s = 28,800/h; no GETs but the merge's (8/s = 28,800/h).
    let p = plan(&Inputs { write_bytes_per_sec: 1e6, read_bytes_per_sec: 0.0, zones: 1, ..example() });
    assert_eq!(p.weft.agents.total, 2);
    close(p.weft.object_store.flush_objects_per_hour, 28_800.0);
    close(p.weft.object_store.get_per_hour, 28_800.0);
    close(p.kafka.cross_zone.total_bytes_per_sec, 0.0);
}
