//! A crash after a commit is decided but before its markers are written: the next agent on the same data
//! completes the transaction at start. The crash is staged deterministically: a real agent runs the
//! transaction up to its data, is shut down, and the metastore is moved to PrepareCommit as the coordinator's
//! first step would have left it.

mod common;

use bytes::{Bytes, BytesMut};
use common::{Conn, s};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::time::Duration;
use weft_meta::prelude::*;
use weft_meta::{TxnState, TxnWrite};

async fn start(dir: &std::path::Path) -> weft_agent::RunningAgent {
    let mut config = weft_agent::AgentConfig::with_data_dir(dir);
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.transaction_check_interval = Duration::from_millis(100);
    weft_agent::start(config).await.expect("agent starts")
}

/// (high watermark, last stable offset) of orders-0.
async fn offsets(stream: &mut Conn) -> (i64, i64) {
    let mut out = [0i64; 2];
    for (i, isolation) in [0i8, 1].into_iter().enumerate() {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation)
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(TopicName(s("orders")))
                    .with_partitions(vec![ListOffsetsPartition::default().with_partition_index(0).with_timestamp(-1)]),
            ]);
        out[i] = stream.call(7, &req).await.topics[0].partitions[0].offset;
    }
    (out[0], out[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_commit_is_completed_by_the_next_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = start(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "txn-recovery-test").await;
    let topic =
        CreatableTopic::default().with_name(TopicName(s("orders"))).with_num_partitions(1).with_replication_factor(1);
    c.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(10_000)).await;
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s("tx-r"))))
        .with_transaction_timeout_ms(600_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let init = c.call(4, &init).await;
    let (pid, epoch) = (init.producer_id, init.producer_epoch);
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s("tx-r")))
        .with_v3_and_below_producer_id(pid)
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![
            AddPartitionsToTxnTopic::default().with_name(TopicName(s("orders"))).with_partitions(vec![0]),
        ]);
    c.call(3, &add).await;
    let record = Record {
        transactional: true,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: pid.0,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from_static(b"decided")),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        [&record],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .expect("batch");
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_transactional_id(Some(TransactionalId(s("tx-r"))))
        .with_topic_data(vec![TopicProduceData::default().with_name(TopicName(s("orders"))).with_partition_data(
            vec![PartitionProduceData::default().with_index(0).with_records(Some(batch.freeze()))],
        )]);
    assert_eq!(c.call(9, &produce).await.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(offsets(&mut c).await, (1, 0), "the open transaction holds the last stable offset");
    drop(c);
    agent.shutdown();
    agent.wait().await;

    // The coordinator's first step of EndTxn(commit), and then the crash.
    let store =
        weft_meta::SqlMetastore::open(&format!("sqlite://{}/meta.db", dir.path().display())).await.expect("store");
    let decided = store
        .update_transaction(
            "tx-r",
            Box::new(|cur| {
                let mut m = cur.expect("transaction exists");
                assert_eq!(m.state, TxnState::Ongoing);
                m.state = TxnState::PrepareCommit;
                Ok(TxnWrite { meta: m, publish_offsets: Vec::new() })
            }),
        )
        .await
        .expect("update");
    assert!(decided.is_ok());
    drop(store);

    let agent = start(dir.path()).await;
    let mut c = Conn::open(agent.kafka_addr, "txn-recovery-test").await;
    let mut state = String::new();
    for _ in 0..100 {
        let d = c
            .call(0, &DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(s("tx-r"))]))
            .await;
        state = d.transaction_states[0].transaction_state.to_string();
        if state == "CompleteCommit" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "CompleteCommit");
    assert_eq!(offsets(&mut c).await, (2, 2), "the commit marker is written and the last stable offset released");
    agent.shutdown();
    agent.wait().await;
}
