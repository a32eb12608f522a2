//! Client quotas against a real agent on 127.0.0.1:0, request by request: AlterClientQuotas and
//! DescribeClientQuotas with Kafka's errors, and a producer over its `producer_byte_rate` answered at once
//! with `throttle_time_ms` while its connection is muted for that time (KIP-219), other clients unaffected.
//! Real clients' throughput under a quota is measured in tests/clients/test_quotas.py.

mod common;

use bytes::Bytes;
use common::{Conn, plain_batch, s};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use std::time::{Duration, Instant};

fn entity(parts: &[(&str, Option<&str>)]) -> Vec<EntityData> {
    parts.iter().map(|(t, n)| EntityData::default().with_entity_type(s(t)).with_entity_name(n.map(s))).collect()
}

fn set(key: &str, value: f64) -> OpData {
    OpData::default().with_key(s(key)).with_value(value)
}

fn alter(entries: Vec<EntryData>, validate_only: bool) -> AlterClientQuotasRequest {
    AlterClientQuotasRequest::default().with_entries(entries).with_validate_only(validate_only)
}

fn produce(topic: &str, value_bytes: usize) -> ProduceRequest {
    let batch = plain_batch(&[(None, Some(Bytes::from(vec![b'x'; value_bytes])))], Compression::None);
    let partition = PartitionProduceData::default().with_index(0).with_records(Some(batch));
    ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![partition]),
    ])
}

async fn start(dir: &std::path::Path) -> weft_agent::RunningAgent {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.schema_registry_listen = None;
    weft_agent::start(config).await.expect("agent starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_are_altered_described_and_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path()).await;
    let mut admin = Conn::open(agent.kafka_addr, "admin").await;

    let none = admin.call(1, &DescribeClientQuotasRequest::default()).await;
    assert_eq!((none.error_code, none.entries.as_ref().map(Vec::len)), (0, Some(0)));

    // Kafka's refusals, each for its own entry; validate_only stores nothing.
    let bad = admin
        .call(
            1,
            &alter(
                vec![
                    EntryData::default()
                        .with_entity(entity(&[("client-id", Some("slow"))]))
                        .with_ops(vec![set("bogus", 1.0)]),
                    EntryData::default()
                        .with_entity(entity(&[("ip", Some("10.0.0.1"))]))
                        .with_ops(vec![set("connection_creation_rate", 1.0)]),
                    EntryData::default()
                        .with_entity(entity(&[("topic", Some("t"))]))
                        .with_ops(vec![set("producer_byte_rate", 1.0)]),
                    EntryData::default()
                        .with_entity(entity(&[("user", None)]))
                        .with_ops(vec![set("producer_byte_rate", 1.5)]),
                    EntryData::default()
                        .with_entity(entity(&[("user", None)]))
                        .with_ops(vec![set("producer_byte_rate", 1000.0)]),
                ],
                true,
            ),
        )
        .await;
    let codes: Vec<i16> = bad.entries.iter().map(|e| e.error_code).collect();
    let invalid = ResponseError::InvalidRequest.code();
    assert_eq!(codes, [invalid, invalid, invalid, invalid, 0], "{bad:?}");
    let after = admin.call(1, &DescribeClientQuotasRequest::default()).await;
    assert_eq!(after.entries.as_ref().map(Vec::len), Some(0), "validate_only stores nothing");

    let ok = admin
        .call(
            1,
            &alter(
                vec![
                    EntryData::default()
                        .with_entity(entity(&[("client-id", Some("slow"))]))
                        .with_ops(vec![set("producer_byte_rate", 10_000.0), set("consumer_byte_rate", 20_000.0)]),
                    EntryData::default()
                        .with_entity(entity(&[("user", Some("alice")), ("client-id", None)]))
                        .with_ops(vec![set("request_percentage", 50.0)]),
                ],
                false,
            ),
        )
        .await;
    assert!(ok.entries.iter().all(|e| e.error_code == 0), "{ok:?}");
    let exact =
        ComponentData::default().with_entity_type(s("client-id")).with_match_type(0).with_match(Some(s("slow")));
    let described =
        admin.call(1, &DescribeClientQuotasRequest::default().with_components(vec![exact]).with_strict(true)).await;
    let entries = described.entries.expect("entries");
    assert_eq!(entries.len(), 1, "only the client-id entity");
    let mut values: Vec<(String, f64)> = entries[0].values.iter().map(|v| (v.key.to_string(), v.value)).collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(values, [("consumer_byte_rate".to_string(), 20_000.0), ("producer_byte_rate".into(), 10_000.0)]);
    let defaults = ComponentData::default().with_entity_type(s("client-id")).with_match_type(1);
    let described = admin.call(1, &DescribeClientQuotasRequest::default().with_components(vec![defaults])).await;
    let entries = described.entries.expect("entries");
    assert_eq!(entries.len(), 1, "alice with the default client id");
    assert_eq!(entries[0].entity.len(), 2);

    let topic =
        CreatableTopic::default().with_name(TopicName(s("q"))).with_num_partitions(1).with_replication_factor(1);
    let created = admin.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);

    // 120 kB within the 10 s minimum window is 12 kB/s against 10 kB/s: about 2 s of throttle, answered at once.
    let mut slow = Conn::open(agent.kafka_addr, "slow").await;
    let started = Instant::now();
    let resp = slow.call(9, &produce("q", 120_000)).await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0, "stored: throttling never refuses");
    let throttle = resp.throttle_time_ms;
    assert!((1_500..=3_000).contains(&throttle), "throttle {throttle} ms");
    assert!(started.elapsed() < Duration::from_millis(throttle as u64), "KIP-219: the response is not held back");
    // The muted connection reads nothing more until the throttle has passed.
    let _ = slow.call(12, &MetadataRequest::default().with_topics(Some(vec![]))).await;
    assert!(started.elapsed() >= Duration::from_millis(throttle as u64 - 100), "muted for the throttle time");

    // Another client id has no quota: never throttled.
    let mut fast = Conn::open(agent.kafka_addr, "fast").await;
    let resp = fast.call(9, &produce("q", 120_000)).await;
    assert_eq!(resp.throttle_time_ms, 0);

    // Removing the quota lifts it at once on this agent.
    let remove = OpData::default().with_key(s("producer_byte_rate")).with_remove(true);
    let removed = admin
        .call(
            0,
            &alter(
                vec![EntryData::default().with_entity(entity(&[("client-id", Some("slow"))])).with_ops(vec![remove])],
                false,
            ),
        )
        .await;
    assert_eq!(removed.entries[0].error_code, 0);
    let resp = slow.call(9, &produce("q", 120_000)).await;
    assert_eq!(resp.throttle_time_ms, 0, "no producer quota any more");
    agent.shutdown();
}
