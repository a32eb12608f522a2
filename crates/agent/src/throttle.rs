//! Quota enforcement around each request, as Kafka's `KafkaApis` applies its quota managers: produce request
//! bytes against `producer_byte_rate`, fetch response bytes against `consumer_byte_rate`, the time spent on a
//! request against `request_percentage`. A request over a quota gets `throttle_time_ms` in its response (the
//! larger of its byte and request throttles) and the connection is muted for that time (KIP-219); clients at
//! versions from before KIP-219 also get the response only after that time, since they do not wait by
//! themselves. With no quota configured none of this runs: [`Usage::start`] is one atomic load.
//!
//! The user of a request is its principal's name (`ANONYMOUS` until a listener authenticates).

use crate::Agent;
use crate::request::{Completion, RequestContext};
use futures::FutureExt;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::FetchResponse;
use std::time::{Duration, Instant};
use weft_listener::Mute;
use weft_protocol::FetchReply;
use weft_quota::QuotaKind;

/// What one request is measured by, from its start.
pub struct Usage {
    user: String,
    client_id: String,
    started: Instant,
    /// The largest throttle decided so far for this request.
    throttle_ms: i64,
}

impl Usage {
    /// Starts measuring a request; `None` (and nothing recorded) when no quota is configured. The request
    /// quota's throttle is decided here, from the time of earlier requests.
    pub fn start(agent: &Agent, ctx: &RequestContext, api: ApiKey) -> Option<Usage> {
        if !agent.quotas.active() {
            return None;
        }
        let user = ctx.principal.strip_prefix("User:").unwrap_or(&ctx.principal).to_string();
        let mut usage = Usage { user, client_id: ctx.client_id.clone(), started: Instant::now(), throttle_ms: 0 };
        if !exempt(api) {
            usage.record(agent, QuotaKind::Request, 0.0);
        }
        Some(usage)
    }

    /// Records `value` against `kind` and keeps the larger throttle.
    pub fn record(&mut self, agent: &Agent, kind: QuotaKind, value: f64) -> i64 {
        let ms = agent.quotas.record(kind, &self.user, &self.client_id, value, agent.clock.now_ms());
        self.throttle_ms = self.throttle_ms.max(ms);
        ms
    }

    /// Takes back bytes recorded for a response that is not sent (a throttled fetch).
    pub fn unrecord(&self, agent: &Agent, kind: QuotaKind, value: f64) {
        agent.quotas.unrecord(kind, &self.user, &self.client_id, value, agent.clock.now_ms());
    }

    /// The throttle to put in the response.
    pub fn throttle_ms(&self) -> i32 {
        i32::try_from(self.throttle_ms).unwrap_or(i32::MAX)
    }

    /// Records the request's time (`elapsed` as a percentage of one second of one thread, Kafka's unit) and
    /// mutes the connection for the throttle; before KIP-219 the response itself is held back as well.
    pub fn finish(mut self, agent: &Agent, mute: &Mute, api: ApiKey, version: i16, done: Completion) -> Completion {
        if !exempt(api) {
            let percent = self.started.elapsed().as_secs_f64() * 100.0;
            self.record(agent, QuotaKind::Request, percent);
        }
        if self.throttle_ms <= 0 {
            return done;
        }
        let pause = Duration::from_millis(self.throttle_ms as u64);
        mute.until(tokio::time::Instant::now() + pause);
        if client_throttles(api, version) {
            return done;
        }
        async move {
            tokio::time::sleep(pause).await;
            done.await
        }
        .boxed()
    }
}

/// APIs Kafka never throttles by request quota: the handshake clients need before anything else.
fn exempt(api: ApiKey) -> bool {
    matches!(api, ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate)
}

/// Whether a client at this version waits out `throttle_time_ms` by itself (KIP-219; Kafka's
/// `shouldClientThrottle`): the first version of each API that does.
pub fn client_throttles(api: ApiKey, version: i16) -> bool {
    let from = match api {
        ApiKey::Produce => 6,
        ApiKey::Fetch => 8,
        ApiKey::ListOffsets | ApiKey::CreateTopics | ApiKey::JoinGroup => 3,
        ApiKey::Metadata => 6,
        ApiKey::OffsetCommit | ApiKey::OffsetFetch => 4,
        ApiKey::FindCoordinator
        | ApiKey::Heartbeat
        | ApiKey::LeaveGroup
        | ApiKey::SyncGroup
        | ApiKey::DescribeGroups
        | ApiKey::ListGroups
        | ApiKey::ApiVersions
        | ApiKey::DeleteTopics
        | ApiKey::DescribeConfigs => 2,
        ApiKey::DeleteRecords
        | ApiKey::InitProducerId
        | ApiKey::AddPartitionsToTxn
        | ApiKey::AddOffsetsToTxn
        | ApiKey::EndTxn
        | ApiKey::TxnOffsetCommit
        | ApiKey::AlterConfigs
        | ApiKey::DescribeLogDirs
        | ApiKey::CreatePartitions
        | ApiKey::DeleteGroups => 1,
        _ => 0,
    };
    version >= from
}

/// Responses that carry `throttle_time_ms`.
pub trait Throttled {
    fn set_throttle_ms(&mut self, ms: i32);
}

macro_rules! throttled {
    ($($t:ident),+ $(,)?) => {
        $(impl Throttled for kafka_protocol::messages::$t {
            fn set_throttle_ms(&mut self, ms: i32) {
                self.throttle_time_ms = ms;
            }
        })+
    };
}

throttled!(
    MetadataResponse,
    FindCoordinatorResponse,
    JoinGroupResponse,
    SyncGroupResponse,
    HeartbeatResponse,
    LeaveGroupResponse,
    ListGroupsResponse,
    DescribeGroupsResponse,
    DeleteGroupsResponse,
    ConsumerGroupHeartbeatResponse,
    ConsumerGroupDescribeResponse,
    ShareGroupHeartbeatResponse,
    ShareGroupDescribeResponse,
    ShareFetchResponse,
    ShareAcknowledgeResponse,
    DescribeShareGroupOffsetsResponse,
    AlterShareGroupOffsetsResponse,
    DeleteShareGroupOffsetsResponse,
    InitProducerIdResponse,
    AddPartitionsToTxnResponse,
    AddOffsetsToTxnResponse,
    TxnOffsetCommitResponse,
    EndTxnResponse,
    DescribeTransactionsResponse,
    ListTransactionsResponse,
    DescribeProducersResponse,
    OffsetCommitResponse,
    OffsetDeleteResponse,
    OffsetFetchResponse,
    ListOffsetsResponse,
    CreateTopicsResponse,
    DeleteTopicsResponse,
    CreatePartitionsResponse,
    DescribeConfigsResponse,
    AlterConfigsResponse,
    IncrementalAlterConfigsResponse,
    DeleteRecordsResponse,
    DescribeLogDirsResponse,
    DescribeClusterResponse,
    DescribeClientQuotasResponse,
    AlterClientQuotasResponse,
    DescribeUserScramCredentialsResponse,
    AlterUserScramCredentialsResponse,
    CreateAclsResponse,
    DescribeAclsResponse,
    DeleteAclsResponse,
    FetchResponse,
);

/// The throttle decided so far (0 when quotas are off).
pub fn throttle_of(usage: &Option<Usage>) -> i32 {
    usage.as_ref().map_or(0, Usage::throttle_ms)
}

/// Puts a throttle into a response.
pub fn stamp<R: Throttled>(mut resp: R, ms: i32) -> R {
    if ms > 0 {
        resp.set_throttle_ms(ms);
    }
    resp
}

/// A fetch's bytes against `consumer_byte_rate`, as Kafka's `handleFetchRequest`: over the quota (or the
/// request quota), the bytes are taken back and the client gets an empty response with the throttle, its
/// connection muted meanwhile (and, before KIP-219, the response held back that long).
pub async fn fetch(mut usage: Usage, agent: &Agent, mute: &Mute, version: i16, resp: FetchReply) -> FetchReply {
    let bytes = resp.record_bytes();
    let fetch_ms = usage.record(agent, QuotaKind::Fetch, bytes as f64);
    if usage.throttle_ms <= 0 {
        return resp;
    }
    if fetch_ms > 0 {
        usage.unrecord(agent, QuotaKind::Fetch, bytes as f64);
    }
    let pause = Duration::from_millis(usage.throttle_ms as u64);
    mute.until(tokio::time::Instant::now() + pause);
    if !client_throttles(ApiKey::Fetch, version) {
        tokio::time::sleep(pause).await;
    }
    FetchResponse::default().with_session_id(0).with_throttle_time_ms(usage.throttle_ms()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kip_219_versions() {
        assert!(!client_throttles(ApiKey::Produce, 5) && client_throttles(ApiKey::Produce, 6));
        assert!(!client_throttles(ApiKey::Fetch, 7) && client_throttles(ApiKey::Fetch, 8));
        assert!(client_throttles(ApiKey::DescribeClientQuotas, 0));
    }
}
