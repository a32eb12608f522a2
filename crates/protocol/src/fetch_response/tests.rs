use super::*;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, LeaderIdAndEpoch, NodeEndpoint, SnapshotId,
};
use kafka_protocol::messages::{BrokerId, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = StrBytes> {
    "[a-z._-]{0,12}".prop_map(StrBytes::from_string)
}

fn records() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from))
}

fn aborted() -> impl Strategy<Value = Option<Vec<AbortedTransaction>>> {
    let one = (any::<i64>(), any::<i64>())
        .prop_map(|(p, o)| AbortedTransaction::default().with_producer_id(ProducerId(p)).with_first_offset(o));
    prop::option::of(prop::collection::vec(one, 0..3))
}

/// Mostly the default (so the tagged field is left out), sometimes set.
fn maybe<T: Default + std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = T> {
    prop::option::of(s).prop_map(Option::unwrap_or_default)
}

fn partition() -> impl Strategy<Value = PartitionData> {
    let offsets = (any::<i32>(), any::<i16>(), any::<i64>(), any::<i64>(), any::<i64>());
    let replica = prop_oneof![4 => Just(-1), 1 => any::<i32>()];
    let diverging = maybe(
        (any::<i32>(), any::<i64>()).prop_map(|(e, o)| EpochEndOffset::default().with_epoch(e).with_end_offset(o)),
    );
    let leader = maybe(
        (any::<i32>(), any::<i32>())
            .prop_map(|(l, e)| LeaderIdAndEpoch::default().with_leader_id(BrokerId(l)).with_leader_epoch(e)),
    );
    let snapshot =
        maybe((any::<i64>(), any::<i32>()).prop_map(|(o, e)| SnapshotId::default().with_end_offset(o).with_epoch(e)));
    let unknown = prop::option::weighted(0.05, prop::collection::vec(any::<u8>(), 0..4));
    (offsets, replica, diverging, leader, snapshot, aborted(), records(), unknown).prop_map(
        |((index, error, hw, lso, start), replica, diverging, leader, snapshot, aborted, records, unknown)| {
            let mut p = PartitionData::default()
                .with_partition_index(index)
                .with_error_code(error)
                .with_high_watermark(hw)
                .with_last_stable_offset(lso)
                .with_log_start_offset(start)
                .with_preferred_read_replica(BrokerId(replica))
                .with_diverging_epoch(diverging)
                .with_current_leader(leader)
                .with_snapshot_id(snapshot)
                .with_aborted_transactions(aborted)
                .with_records(records);
            if let Some(u) = unknown {
                p.unknown_tagged_fields.insert(7, Bytes::from(u));
            }
            p
        },
    )
}

fn topic() -> impl Strategy<Value = FetchableTopicResponse> {
    (name(), any::<u128>(), prop::collection::vec(partition(), 0..4)).prop_map(|(n, id, parts)| {
        FetchableTopicResponse::default()
            .with_topic(TopicName(n))
            .with_topic_id(uuid::Uuid::from_u128(id))
            .with_partitions(parts)
    })
}

fn endpoint() -> impl Strategy<Value = NodeEndpoint> {
    (any::<i32>(), name(), any::<i32>(), prop::option::of(name())).prop_map(|(id, host, port, rack)| {
        NodeEndpoint::default().with_node_id(BrokerId(id)).with_host(host).with_port(port).with_rack(rack)
    })
}

fn response() -> impl Strategy<Value = FetchResponse> {
    let session = prop_oneof![3 => Just(0), 1 => any::<i32>()];
    let endpoints = prop::collection::vec(endpoint(), 0..3);
    (any::<i32>(), any::<i16>(), session, prop::collection::vec(topic(), 0..4), endpoints).prop_map(
        |(throttle, error, session, topics, endpoints)| {
            FetchResponse::default()
                .with_throttle_time_ms(throttle)
                .with_error_code(error)
                .with_session_id(session)
                .with_responses(topics)
                .with_node_endpoints(endpoints)
        },
    )
}

/// Moves some partitions' records out of the struct into chunks cut at the given points.
fn chunked(body: FetchResponse, cuts: &[usize]) -> FetchReply {
    let mut reply = FetchReply::from(body);
    let mut k = 0;
    for topic in reply.body.responses.iter_mut() {
        let mut sets = Vec::new();
        for p in topic.partitions.iter_mut() {
            let Some(records) = p.records.clone() else { break };
            let mut chunks = Chunks::new();
            let mut at = 0;
            for _ in 0..3 {
                let cut = cuts.get(k).copied().unwrap_or(0) % (records.len() + 1);
                k += 1;
                let cut = cut.max(at);
                chunks.push(records.slice(at..cut));
                at = cut;
            }
            chunks.push(records.slice(at..));
            // The struct's field is replaced by the chunks, whatever it holds.
            p.records = Some(Bytes::from_static(b"ignored"));
            sets.push(chunks);
        }
        reply.records.push(sets);
    }
    reply
}

fn codec(version: i16, cid: i32, body: &FetchResponse) -> Result<Bytes, String> {
    encode_response(ApiKey::Fetch, version, cid, body).map_err(|e| e.to_string())
}

fn ours(version: i16, cid: i32, reply: &FetchReply) -> Result<Bytes, String> {
    encode_fetch_response(version, cid, reply).map(|c| c.to_bytes()).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bytes_are_kafka_protocols_for_every_served_version(
        body in response(),
        cid in any::<i32>(),
        cuts in prop::collection::vec(any::<usize>(), 0..64),
    ) {
        for version in 4..=18i16 {
            let expected = codec(version, cid, &body);
            let plain = FetchReply::from(body.clone());
            prop_assert_eq!(&ours(version, cid, &plain), &expected, "v{} without chunks", version);
            let reply = chunked(body.clone(), &cuts);
            prop_assert_eq!(reply.record_bytes(), plain.record_bytes());
            prop_assert_eq!(&ours(version, cid, &reply), &expected, "v{} with chunks", version);
        }
    }
}

#[test]
fn record_chunks_are_not_copied() {
    let stored = Bytes::from(vec![7u8; 4096]);
    let partition = PartitionData::default().with_records(Some(Bytes::new()));
    let body = FetchResponse::default()
        .with_responses(vec![FetchableTopicResponse::default().with_partitions(vec![partition])]);
    let mut set = Chunks::new();
    set.push(Bytes::from_static(&[1; 16]));
    set.push(stored.slice(16..));
    let reply = FetchReply { body, records: vec![vec![set]] };
    let frame = encode_fetch_response(17, 9, &reply).unwrap();
    let shared = frame.parts().iter().find(|c| c.len() == 4080).unwrap();
    assert_eq!(shared.as_ptr(), stored[16..].as_ptr(), "the stored bytes are sent from where they are cached");
    assert_eq!(frame.to_bytes(), codec(17, 9, &reply.to_response()).unwrap());
}
