//! The APIs and versions Weft implements: the single source for ApiVersions and for request dispatch.
//!
//! Only what is really implemented is listed; strict clients trust this table.

use kafka_protocol::messages::ApiKey;

/// One implemented API with its inclusive version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportedApi {
    pub key: ApiKey,
    /// Kafka's name for the API (as in metrics labels and logs).
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
}

macro_rules! api {
    ($key:ident, $min:expr, $max:expr) => {
        SupportedApi { key: ApiKey::$key, name: stringify!($key), min: $min, max: $max }
    };
}

/// Every API Weft serves, with the versions it serves. Floors follow Kafka 4 (KIP-896).
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    api!(Produce, 3, 12),
    api!(Fetch, 4, 17),
    api!(ListOffsets, 1, 10),
    api!(Metadata, 0, 13),
    api!(ApiVersions, 0, 4),
    api!(CreateTopics, 2, 7),
    api!(DeleteTopics, 1, 6),
    api!(DescribeConfigs, 1, 4),
    api!(AlterConfigs, 0, 2),
    api!(IncrementalAlterConfigs, 0, 1),
    api!(DeleteRecords, 0, 2),
    api!(CreatePartitions, 0, 3),
    api!(DescribeCluster, 0, 2),
    api!(DescribeLogDirs, 1, 4),
    api!(FindCoordinator, 0, 6),
    api!(JoinGroup, 0, 9),
    api!(SyncGroup, 0, 5),
    api!(Heartbeat, 0, 4),
    api!(LeaveGroup, 0, 5),
    api!(OffsetCommit, 2, 9),
    api!(OffsetFetch, 1, 9),
    api!(ListGroups, 0, 5),
    api!(DescribeGroups, 0, 6),
    api!(DeleteGroups, 0, 2),
    api!(InitProducerId, 0, 5),
    api!(AddPartitionsToTxn, 0, 5),
    api!(AddOffsetsToTxn, 0, 4),
    api!(EndTxn, 0, 4),
    api!(TxnOffsetCommit, 0, 4),
    api!(OffsetDelete, 0, 0),
    api!(ConsumerGroupHeartbeat, 0, 1),
    api!(ConsumerGroupDescribe, 0, 1),
    api!(DescribeProducers, 0, 0),
    api!(DescribeTransactions, 0, 0),
    api!(ListTransactions, 0, 1),
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
