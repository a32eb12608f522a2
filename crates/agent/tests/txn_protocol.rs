//! Exact error codes of the transaction APIs, request by request, against a real agent on 127.0.0.1:0.
//! The flows themselves are proven with real clients (tests/clients/test_transactions.py, test_eos.py);
//! this pins what those clients cannot show: the codes for wrong epochs, unknown ids, invalid timeouts,
//! EndTxn without AddPartitions, KIP-890's refusal of data for partitions not in the transaction, and the
//! admin APIs (DescribeTransactions, ListTransactions, DescribeProducers) that no client here exposes.

mod common;

use bytes::{Bytes, BytesMut};
use common::{Conn, s};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

fn txn_batch(producer_id: i64, epoch: i16, sequence: i32, value: &str) -> Bytes {
    let r = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from(value.to_string())),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, [&r], &RecordEncodeOptions { version: 2, compression: Compression::None })
        .expect("batch");
    buf.freeze()
}

fn produce(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_transactional_id(Some(TransactionalId(s("tx-a"))))
        .with_topic_data(vec![TopicProduceData::default().with_name(TopicName(s(topic))).with_partition_data(vec![
            PartitionProduceData::default().with_index(partition).with_records(Some(records)),
        ])])
}

fn add_partitions(id: &str, pid: i64, epoch: i16, topic: &str, partitions: Vec<i32>) -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(id)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![
            AddPartitionsToTxnTopic::default().with_name(TopicName(s(topic))).with_partitions(partitions),
        ])
}

fn add_code(r: &AddPartitionsToTxnResponse) -> Vec<i16> {
    r.results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| t.results_by_partition.iter().map(|p| p.partition_error_code))
        .collect()
}

fn end(id: &str, pid: i64, epoch: i16, commit: bool) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(id)))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit)
}

fn init(id: &str, timeout_ms: i32) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

fn code(e: ResponseError) -> i16 {
    e.code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_apis_answer_kafkas_error_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = weft_agent::AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    let agent = weft_agent::start(config).await.expect("agent starts");
    let mut c = Conn::open(agent.kafka_addr, "txn-protocol-test").await;

    let topic =
        CreatableTopic::default().with_name(TopicName(s("orders"))).with_num_partitions(2).with_replication_factor(1);
    let created = c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    assert_eq!(created.topics[0].error_code, 0);

    // The transaction coordinator is this agent.
    let found =
        c.call(4, &FindCoordinatorRequest::default().with_key_type(1).with_coordinator_keys(vec![s("tx-a")])).await;
    assert_eq!((found.coordinators[0].error_code, found.coordinators[0].node_id.0), (0, 0));

    // Invalid timeouts.
    assert_eq!(c.call(4, &init("tx-a", 0)).await.error_code, code(ResponseError::InvalidTransactionTimeout));
    assert_eq!(c.call(4, &init("tx-a", 900_001)).await.error_code, code(ResponseError::InvalidTransactionTimeout));

    // Unknown transactional id.
    let r = c.call(3, &add_partitions("nobody", 5, 0, "orders", vec![0])).await;
    assert_eq!(add_code(&r), vec![code(ResponseError::InvalidProducerIdMapping)]);

    let first = c.call(4, &init("tx-a", 60_000)).await;
    assert_eq!(first.error_code, 0);
    let (pid, epoch) = (first.producer_id.0, first.producer_epoch);

    // EndTxn with nothing added, and with a wrong producer id or epoch.
    assert_eq!(c.call(3, &end("tx-a", pid, epoch, true)).await.error_code, code(ResponseError::InvalidTxnState));
    assert_eq!(
        c.call(3, &end("tx-a", pid + 1, epoch, true)).await.error_code,
        code(ResponseError::InvalidProducerIdMapping)
    );
    assert_eq!(c.call(3, &end("tx-a", pid, epoch + 3, true)).await.error_code, code(ResponseError::ProducerFenced));
    assert_eq!(
        c.call(1, &end("tx-a", pid, epoch + 3, true)).await.error_code,
        code(ResponseError::InvalidProducerEpoch),
        "v1 predates PRODUCER_FENCED"
    );

    // An unknown partition fails the whole request.
    let r = c.call(3, &add_partitions("tx-a", pid, epoch, "orders", vec![0, 9])).await;
    assert_eq!(
        add_code(&r),
        vec![code(ResponseError::OperationNotAttempted), code(ResponseError::UnknownTopicOrPartition)]
    );

    // KIP-890 part 1: data for a partition not added to the transaction is refused.
    let refused = c.call(9, &produce("orders", 0, txn_batch(pid, epoch, 0, "early"))).await;
    assert_eq!(refused.responses[0].partition_responses[0].error_code, code(ResponseError::InvalidTxnState));

    let r = c.call(3, &add_partitions("tx-a", pid, epoch, "orders", vec![0])).await;
    assert_eq!(add_code(&r), vec![0]);
    let ok = c.call(9, &produce("orders", 0, txn_batch(pid, epoch, 0, "in-txn"))).await;
    assert_eq!(ok.responses[0].partition_responses[0].error_code, 0);
    let other = c.call(9, &produce("orders", 1, txn_batch(pid, epoch, 0, "not-added"))).await;
    assert_eq!(other.responses[0].partition_responses[0].error_code, code(ResponseError::InvalidTxnState));

    // The admin APIs see the open transaction.
    let d = c
        .call(
            0,
            &DescribeTransactionsRequest::default()
                .with_transactional_ids(vec![TransactionalId(s("tx-a")), TransactionalId(s("ghost"))]),
        )
        .await;
    let tx = &d.transaction_states[0];
    assert_eq!((tx.error_code, tx.transaction_state.as_str(), tx.producer_id.0), (0, "Ongoing", pid));
    assert_eq!(
        tx.topics.iter().map(|t| (t.topic.as_str().to_string(), t.partitions.clone())).collect::<Vec<_>>(),
        vec![("orders".to_string(), vec![0])]
    );
    assert_eq!(d.transaction_states[1].error_code, code(ResponseError::TransactionalIdNotFound));
    let l = c
        .call(
            1,
            &ListTransactionsRequest::default()
                .with_state_filters(vec![s("Ongoing"), s("Bogus")])
                .with_duration_filter(-1),
        )
        .await;
    assert_eq!(l.transaction_states.iter().map(|t| t.transactional_id.as_str()).collect::<Vec<_>>(), vec!["tx-a"]);
    assert_eq!(l.unknown_state_filters.iter().map(|f| f.as_str()).collect::<Vec<_>>(), vec!["Bogus"]);
    let p = c
        .call(
            0,
            &DescribeProducersRequest::default().with_topics(vec![
                TopicRequest::default().with_name(TopicName(s("orders"))).with_partition_indexes(vec![0]),
            ]),
        )
        .await;
    let active = &p.topics[0].partitions[0].active_producers;
    assert_eq!(
        active.iter().map(|a| (a.producer_id.0, a.current_txn_start_offset)).collect::<Vec<_>>(),
        vec![(pid, 0)]
    );

    // A second InitProducerId fences this producer and aborts its transaction.
    let second = c.call(4, &init("tx-a", 60_000)).await;
    assert_eq!((second.error_code, second.producer_id.0), (0, pid));
    assert!(second.producer_epoch > epoch);
    let zombie = c.call(9, &produce("orders", 0, txn_batch(pid, epoch, 1, "zombie"))).await;
    assert_eq!(zombie.responses[0].partition_responses[0].error_code, code(ResponseError::InvalidProducerEpoch));
    assert_eq!(c.call(3, &end("tx-a", pid, epoch, true)).await.error_code, code(ResponseError::ProducerFenced));
    let d = c
        .call(0, &DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(s("tx-a"))]))
        .await;
    assert_eq!(d.transaction_states[0].transaction_state.as_str(), "Empty", "aborted, then re-initialised");
    let p = c
        .call(
            0,
            &DescribeProducersRequest::default().with_topics(vec![
                TopicRequest::default().with_name(TopicName(s("orders"))).with_partition_indexes(vec![0]),
            ]),
        )
        .await;
    assert_eq!(p.topics[0].partitions[0].active_producers[0].current_txn_start_offset, -1, "the abort closed it");

    agent.shutdown();
    agent.wait().await;
}
