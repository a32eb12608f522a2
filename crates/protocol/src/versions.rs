//! The APIs and versions Weft implements: the single source for ApiVersions and for request dispatch.
//!
//! Only what is really implemented is listed; strict clients trust this table.

use kafka_protocol::messages::ApiKey;

/// One implemented API with its inclusive version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedApi {
    pub key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> SupportedApi {
    SupportedApi { key, min, max }
}

/// Every API Weft serves, with the versions it serves. Floors follow Kafka 4 (KIP-896).
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    api(ApiKey::Produce, 3, 12),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::AddPartitionsToTxn, 0, 5),
    api(ApiKey::AddOffsetsToTxn, 0, 4),
    api(ApiKey::EndTxn, 0, 4),
    api(ApiKey::TxnOffsetCommit, 0, 4),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
    api(ApiKey::DescribeProducers, 0, 0),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 1),
];

/// The versions Weft serves for `key`, or `None` if it does not implement that API.
pub fn supported_range(key: i16) -> Option<SupportedApi> {
    SUPPORTED_APIS.iter().copied().find(|a| a.key as i16 == key)
}

/// Whether `key` at `version` is served.
pub fn is_supported(key: i16, version: i16) -> bool {
    supported_range(key).is_some_and(|a| (a.min..=a.max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lies_within_what_the_codec_can_decode() {
        for a in SUPPORTED_APIS {
            let codec = a.key.valid_versions();
            assert!(
                a.min >= codec.min && a.max <= codec.max,
                "{:?} {}..{} outside codec {}",
                a.key,
                a.min,
                a.max,
                codec
            );
            assert!(a.min <= a.max);
        }
    }

    #[test]
    fn unknown_and_out_of_range_versions_are_not_supported() {
        assert!(is_supported(18, 0));
        assert!(!is_supported(18, 5));
        assert!(!is_supported(9999, 0));
        assert!(!is_supported(ApiKey::Produce as i16, 2));
    }
}
