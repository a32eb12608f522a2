//! Broker-side schema validation through a real agent: schemas registered over the registry's REST API,
//! records produced with hand-built batches so the KIP-467 record errors can be read, and the partition's end
//! offset showing that nothing of a refused batch was stored.

mod common;

use bytes::Bytes;
use common::{Conn, plain_batch, s};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::*;
use kafka_protocol::records::Compression;
use serde_json::json;
use weft_agent::RunningAgent;

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}"#;
const OTHER: &str =
    r#"{"type":"record","name":"Other","namespace":"com.acme","fields":[{"name":"s","type":"string"}]}"#;

async fn start(dir: &std::path::Path) -> RunningAgent {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.peer_listen = weft_agent::config::PeerListen::Off;
    config.schema_registry_listen = Some("127.0.0.1:0".parse().unwrap());
    weft_agent::start(config).await.expect("agent starts")
}

async fn register(agent: &RunningAgent, subject: &str, schema: &str) -> i32 {
    let url = format!("http://{}/subjects/{subject}/versions", agent.schema_registry_addr.unwrap());
    let text = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(json!({ "schema": schema }).to_string())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
    reply["id"].as_i64().unwrap_or_else(|| panic!("registered: {reply}")) as i32
}

/// Confluent's wire format: magic 0, the id, the payload.
fn framed(id: i32, payload: &[u8]) -> Bytes {
    [&[0u8][..], &id.to_be_bytes(), payload].concat().into()
}

async fn produce(c: &mut Conn, topic: &str, records: &[(Option<Bytes>, Option<Bytes>)]) -> PartitionProduceResponse {
    let partition =
        PartitionProduceData::default().with_index(0).with_records(Some(plain_batch(records, Compression::Lz4)));
    let req = ProduceRequest::default().with_acks(-1).with_timeout_ms(10_000).with_topic_data(vec![
        TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![partition]),
    ]);
    c.call(9, &req).await.responses.remove(0).partition_responses.remove(0)
}

async fn create(c: &mut Conn, name: &str, configs: &[(&str, &str)]) {
    let configs =
        configs.iter().map(|(k, v)| CreatableTopicConfig::default().with_name(s(k)).with_value(Some(s(v)))).collect();
    let topic = CreatableTopic::default()
        .with_name(TopicName(s(name)))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(configs);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0, "{:?}", created.topics[0].error_message);
}

async fn end_offset(c: &mut Conn, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default().with_topics(vec![
        ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1)]),
    ]);
    c.call(7, &req).await.topics[0].partitions[0].offset
}

fn value(v: Bytes) -> (Option<Bytes>, Option<Bytes>) {
    (None, Some(v))
}

fn refused_indices(r: &PartitionProduceResponse) -> Vec<i32> {
    assert_eq!(r.error_code, ResponseError::InvalidRecord.code(), "{:?}", r.error_message);
    r.record_errors.iter().map(|e| e.batch_index).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_need_a_registered_id_of_their_subject() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "schema-validation").await;
    create(&mut c, "orders", &[("confluent.value.schema.validation", "true")]).await;
    create(&mut c, "plain", &[]).await;
    let order = register(&agent, "orders-value", ORDER).await;
    let other = register(&agent, "other-value", OTHER).await;

    let mixed = [
        value(framed(order, &[0x02])),
        value(Bytes::from_static(b"{\"id\":1}")),
        value(framed(other, &[0x02, b'x'])),
        value(framed(9999, &[0x02])),
        value(Bytes::from_static(&[0, 0])),
    ];
    let r = produce(&mut c, "orders", &mixed).await;
    assert_eq!(refused_indices(&r), vec![1, 2, 3, 4]);
    let message = r.error_message.as_deref().unwrap_or_default().to_string();
    assert!(message.starts_with("4 of 5 records rejected by schema validation of topic orders"), "{message}");
    let messages: Vec<String> = r
        .record_errors
        .iter()
        .map(|e| e.batch_index_error_message.as_deref().unwrap_or_default().to_string())
        .collect();
    assert!(messages[0].contains("magic byte 0 (found 0x7b)"), "{messages:?}");
    assert!(messages[1].contains(&format!("schema id {other}, which is not a version of subject orders-value")));
    assert!(messages[2].contains("schema id 9999, which is not registered"), "{messages:?}");
    assert!(messages[3].contains("too short"), "{messages:?}");
    assert_eq!(end_offset(&mut c, "orders").await, 0, "nothing of a refused batch is stored");

    // Ids only (deep validation off): the payload is not decoded; null values and keys are not checked.
    let good = [value(framed(order, &[0x02])), value(framed(order, b"not avro")), (None, None)];
    assert_eq!(produce(&mut c, "orders", &good).await.error_code, 0);
    assert_eq!(end_offset(&mut c, "orders").await, 3);

    // A version registered after the subject was cached is accepted on its first record.
    let evolved = ORDER.replace(r#""type":"long"}"#, r#""type":"long"},{"name":"n","type":"int","default":0}"#);
    let order2 = register(&agent, "orders-value", &evolved).await;
    assert_eq!(produce(&mut c, "orders", &[value(framed(order2, &[0x02, 0x00]))]).await.error_code, 0);

    // Topics without validation take anything.
    assert_eq!(produce(&mut c, "plain", &[value(Bytes::from_static(b"text"))]).await.error_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_validation_and_record_name_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "schema-validation").await;
    let configs = [
        ("confluent.key.schema.validation", "true"),
        ("confluent.key.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
        ("confluent.value.schema.validation", "true"),
        ("confluent.value.subject.name.strategy", "TopicRecordNameStrategy"),
    ];
    create(&mut c, "events", &configs).await;
    let key = register(&agent, "com.acme.Other", OTHER).await;
    let val = register(&agent, "events-com.acme.Order", ORDER).await;
    let good_key = framed(key, &[0x02, b'k']);
    let r = produce(&mut c, "events", &[(Some(good_key.clone()), Some(framed(val, &[0x02])))]).await;
    assert_eq!(r.error_code, 0, "{:?}", r.error_message);
    // The key's schema registered only under its topic-record subject does not satisfy RecordNameStrategy.
    let bad = produce(&mut c, "events", &[(Some(framed(val, &[0x02])), Some(framed(val, &[0x02])))]).await;
    assert_eq!(refused_indices(&bad), vec![0]);
    assert!(format!("{:?}", bad.record_errors[0].batch_index_error_message).contains("key has schema id"));

    // Deep validation: the payload must decode with the schema, completely.
    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default().with_resource_type(2).with_resource_name(s("events")).with_configs(vec![
            AlterableConfig::default()
                .with_name(s("weft.schema.validation.deep"))
                .with_config_operation(0)
                .with_value(Some(s("true"))),
        ]),
    ]);
    assert_eq!(c.call(1, &alter).await.responses[0].error_code, 0);
    let records = [
        (Some(good_key.clone()), Some(framed(val, &[0x02]))),
        (Some(good_key.clone()), Some(framed(val, &[0x02, 0x00]))),
        (Some(framed(key, &[0x7f])), Some(framed(val, &[0x04]))),
    ];
    let r = produce(&mut c, "events", &records).await;
    assert_eq!(refused_indices(&r), vec![1, 2]);
    let messages = format!("{:?}", r.record_errors);
    assert!(
        messages.contains("value does not match schema id") && messages.contains("key does not match"),
        "{messages}"
    );
    assert_eq!(end_offset(&mut c, "events").await, 1);
}
