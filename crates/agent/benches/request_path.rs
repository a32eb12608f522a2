//! The request path, one stage at a time and whole (issue 21): what a request costs the agent's CPU apart
//! from the socket and the disk.
//!
//! - `decode/*`: request header and body decoding (`weft_protocol`), as dispatch does.
//! - `metrics/*`: the per-request metric calls dispatch makes, with the agent's Prometheus recorder.
//! - `encode/*`: response encoding.
//! - `answer/*`, `answer_produce/*`: a frame through `RunningAgent::answer`, in process: dispatch, the request context, the
//!   handler (authorization, topic cache, validation, the produce buffer, the log reader), metrics and
//!   encoding. Objects are kept in memory (`memory://`), so no fsync is in the figures; produce uses
//!   acks=0, so what is timed is the CPU of taking a batch, not the wait for its flush.
//!
//! `cargo bench -p weft-agent --bench request_path`

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FetchRequest, MetadataRequest, ProduceRequest, ProduceResponse, RequestHeader,
    TopicName,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
use std::hint::black_box;
use tokio::runtime::Runtime;
use weft_agent::{AgentConfig, RunningAgent};

const TOPIC: &str = "bench";
const PARTITIONS: i32 = 8;
/// Records of one produced batch, and their value size: a 16 KiB batch before compression.
const RECORDS: usize = 16;
const VALUE_BYTES: usize = 1024;

fn frame<R: Encodable + HeaderVersion + Request>(version: i16, correlation_id: i32, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("bench")));
    let mut buf = BytesMut::new();
    header.encode(&mut buf, R::header_version(version)).expect("header");
    body.encode(&mut buf, version).expect("body");
    buf.freeze()
}

/// Values that lz4 shrinks to about half: random bytes, then one repeated byte.
fn batch(compression: Compression, now_ms: i64) -> Bytes {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let records: Vec<Record> = (0..RECORDS)
        .map(|i| {
            let mut value = Vec::with_capacity(VALUE_BYTES);
            while value.len() < VALUE_BYTES / 2 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                value.extend_from_slice(&seed.to_le_bytes());
            }
            value.resize(VALUE_BYTES, i as u8);
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // kafka-protocol keeps records in one batch while their sequences follow each other.
                sequence: i as i32 - 1,
                timestamp: now_ms,
                key: None,
                value: Some(Bytes::from(value)),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, &records, &RecordEncodeOptions { version: 2, compression }).expect("batch");
    buf.freeze()
}

fn produce(acks: i16, records: Bytes) -> ProduceRequest {
    let partition = PartitionProduceData::default().with_index(0).with_records(Some(records));
    let topic = TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
        .with_partition_data(vec![partition]);
    ProduceRequest::default().with_acks(acks).with_timeout_ms(30_000).with_topic_data(vec![topic])
}

fn fetch(max_bytes: i32) -> FetchRequest {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let partitions = (0..PARTITIONS)
        .map(|p| FetchPartition::default().with_partition(p).with_fetch_offset(0).with_partition_max_bytes(max_bytes))
        .collect();
    let topic =
        FetchTopic::default().with_topic(TopicName(StrBytes::from_static_str(TOPIC))).with_partitions(partitions);
    FetchRequest::default().with_max_wait_ms(0).with_min_bytes(1).with_max_bytes(max_bytes).with_topics(vec![topic])
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("time fits")
}

struct Setup {
    rt: Runtime,
    agent: RunningAgent,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn answer(&self, frame: Bytes) -> usize {
        let out = self.rt.block_on(self.agent.answer(frame)).expect("answered");
        out.map_or(0, |chunks| chunks.len())
    }

    /// A request answered and its response decoded (setup and checks, not timed).
    fn call<R: Encodable + HeaderVersion + Request>(&self, version: i16, req: &R) -> R::Response {
        use bytes::Buf;
        use kafka_protocol::messages::ResponseHeader;
        use kafka_protocol::protocol::Decodable;
        let out = self.rt.block_on(self.agent.answer(frame(version, 1, req))).expect("answered").expect("a response");
        let mut body = out.to_bytes();
        body.advance(4);
        ResponseHeader::decode(&mut body, R::Response::header_version(version)).expect("response header");
        R::Response::decode(&mut body, version).expect("response body")
    }
}

/// An agent on the embedded metastore with objects in memory, a topic of 8 partitions, each holding 64
/// batches (in the segment cache, as a tailing consumer finds them).
fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = AgentConfig::with_data_dir(dir.path());
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.admin_listen = None;
    config.schema_registry_listen = None;
    config.object_store = Some("memory://".into());
    // No maintenance pass competes with what is timed.
    config.roles.jobs = false;
    let agent = rt.block_on(weft_agent::start(config)).expect("agent starts");
    let s = Setup { rt, agent, _dir: dir };
    use kafka_protocol::messages::CreateTopicsRequest;
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    let topic = CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
        .with_num_partitions(PARTITIONS)
        .with_replication_factor(1);
    let created = s.call(7, &CreateTopicsRequest::default().with_topics(vec![topic]).with_timeout_ms(30_000));
    assert_eq!(created.topics[0].error_code, 0, "{:?}", created.topics[0].error_message);
    let lz4 = batch(Compression::Lz4, now_ms());
    for p in 0..PARTITIONS {
        for _ in 0..64 {
            let mut req = produce(-1, lz4.clone());
            req.topic_data[0].partition_data[0].index = p;
            let answered = s.call(9, &req);
            let part = &answered.responses[0].partition_responses[0];
            assert_eq!(part.error_code, 0, "produce to partition {p}: {:?}", part.error_message);
        }
    }
    s
}

fn bench_stages(c: &mut Criterion) {
    let lz4 = batch(Compression::Lz4, now_ms());
    let produce_frame = frame(9, 7, &produce(-1, lz4.clone()));
    let mut g = c.benchmark_group("decode");
    g.bench_function("produce_v9_one_16kib_lz4_batch", |b| {
        b.iter(|| {
            let (header, api, body) = weft_protocol::request::decode_header(produce_frame.clone()).expect("header");
            let req: ProduceRequest = weft_protocol::decode_body(api, header.api_version, body).expect("body");
            black_box(req)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("metrics");
    g.bench_function("request_counter_and_duration", |b| {
        b.iter(|| {
            metrics::counter!("weft_requests_total", "api" => "Produce", "version" => "9").increment(1);
            metrics::histogram!("weft_request_duration_seconds", "api" => "Produce").record(black_box(0.0012));
        })
    });
    g.finish();

    let response = ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_partition_responses(vec![PartitionProduceResponse::default().with_index(0).with_base_offset(42)]),
    ]);
    let mut g = c.benchmark_group("encode");
    g.bench_function("produce_response_v9", |b| {
        b.iter(|| black_box(weft_protocol::encode_response(ApiKey::Produce, 9, 7, &response).expect("encode")))
    });
    g.finish();
}

fn bench_answers(c: &mut Criterion, s: &Setup) {
    let mut g = c.benchmark_group("answer");
    let api_versions = frame(3, 1, &ApiVersionsRequest::default());
    g.bench_function("api_versions_v3", |b| b.iter(|| s.answer(api_versions.clone())));
    let topic = kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
        .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))));
    let metadata = frame(12, 1, &MetadataRequest::default().with_topics(Some(vec![topic])));
    g.bench_function("metadata_v12_one_topic", |b| b.iter(|| s.answer(metadata.clone())));
    // Up to 1 MiB per partition: every cached batch of all eight partitions (about 8 x 64 x 8.5 KiB).
    let fetched = s.call(12, &fetch(1 << 20));
    let records: usize =
        fetched.responses[0].partitions.iter().map(|p| p.records.as_ref().map_or(0, |r| r.len())).sum();
    assert!(records > 0, "the fetch of the setup's batches returned no records: {fetched:?}");
    let fetch = frame(12, 1, &fetch(1 << 20));
    let bytes = s.answer(fetch.clone());
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("fetch_v12_8_partitions_cached", |b| b.iter(|| s.answer(fetch.clone())));
    g.finish();
}

/// Produce last: what it writes would otherwise push the setup's batches out of the segment cache.
fn bench_produce(c: &mut Criterion, s: &Setup) {
    // Every produced batch stays in the (in-memory) store: each sample sends at most PRODUCE_SAMPLE requests,
    // well within the produce buffer's budget, so what is timed is taking a request (decode, checks,
    // decompression, buffering), never backpressure from the flush pipeline; the time is scaled to the
    // iterations criterion asked for.
    const PRODUCE_SAMPLE: u64 = 1_000;
    let mut g = c.benchmark_group("answer_produce");
    g.sample_size(20).warm_up_time(std::time::Duration::from_millis(300));
    for (name, compression) in [("none", Compression::None), ("lz4", Compression::Lz4)] {
        let records = batch(compression, now_ms());
        g.throughput(Throughput::Bytes((RECORDS * VALUE_BYTES) as u64));
        let produce = frame(9, 1, &produce(0, records));
        g.bench_function(format!("produce_v9_acks0_16x1kib_{name}"), |b| {
            b.iter_custom(|iters| {
                let n = iters.clamp(1, PRODUCE_SAMPLE);
                let started = std::time::Instant::now();
                for _ in 0..n {
                    black_box(s.answer(produce.clone()));
                }
                started.elapsed().mul_f64(iters as f64 / n as f64)
            })
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let s = setup();
    // After the agent started: its Prometheus recorder is installed, so the metrics stage costs what it does in the agent.
    bench_stages(c);
    bench_answers(c, &s);
    bench_produce(c, &s);
    s.agent.shutdown();
}

criterion_group!(request_path, benches);
criterion_main!(request_path);
