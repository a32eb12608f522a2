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

/// Every API Weft serves, with the versions it serves. Floors are Kafka 3.9's for every API whose old versions
/// carry record batches of magic 2 or none; the versions Kafka 4 removed (KIP-896) are in [`LEGACY_VERSIONS`].
/// Produce v0-2 and Fetch v0-3 carry message formats v0/v1 (KIP-724) and stay refused.
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    api!(Produce, 3, 12),
    api!(Fetch, 4, 17),
    api!(ListOffsets, 0, 10),
    api!(Metadata, 0, 13),
    api!(ApiVersions, 0, 4),
    api!(CreateTopics, 0, 7),
    api!(DeleteTopics, 0, 6),
    api!(DescribeConfigs, 0, 4),
    api!(AlterConfigs, 0, 2),
    api!(IncrementalAlterConfigs, 0, 1),
    api!(DeleteRecords, 0, 2),
    api!(CreatePartitions, 0, 3),
    api!(DescribeCluster, 0, 2),
    api!(DescribeClientQuotas, 0, 1),
    api!(AlterClientQuotas, 0, 1),
    api!(DescribeLogDirs, 0, 4),
    api!(FindCoordinator, 0, 6),
    api!(JoinGroup, 0, 9),
    api!(SyncGroup, 0, 5),
    api!(Heartbeat, 0, 4),
    api!(LeaveGroup, 0, 5),
    api!(OffsetCommit, 0, 9),
    api!(OffsetFetch, 0, 9),
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
    api!(ShareGroupHeartbeat, 1, 1),
    api!(ShareGroupDescribe, 1, 1),
    api!(ShareFetch, 1, 1),
    api!(ShareAcknowledge, 1, 1),
    api!(DescribeShareGroupOffsets, 0, 0),
    api!(AlterShareGroupOffsets, 0, 0),
    api!(DeleteShareGroupOffsets, 0, 0),
    api!(DescribeProducers, 0, 0),
    api!(DescribeTransactions, 0, 0),
    api!(ListTransactions, 0, 1),
    api!(SaslHandshake, 0, 1),
    api!(SaslAuthenticate, 0, 2),
    api!(DescribeUserScramCredentials, 0, 0),
    api!(AlterUserScramCredentials, 0, 0),
    api!(DescribeAcls, 0, 3),
    api!(CreateAcls, 0, 3),
    api!(DeleteAcls, 0, 3),
];

/// The versions Kafka 3.9 served and Kafka 4 removed (KIP-896) that Weft serves: below the floor of the
/// `kafka-protocol` 0.18 codec, so the agent decodes and encodes them with a codec generated from Kafka 3.9's
/// message specs (`crates/agent/src/legacy`). Each range ends just below the 0.18 codec's floor.
pub const LEGACY_VERSIONS: &[SupportedApi] = &[
    api!(ListOffsets, 0, 0),
    api!(CreateTopics, 0, 1),
    api!(DeleteTopics, 0, 0),
    api!(DescribeConfigs, 0, 0),
    api!(DescribeLogDirs, 0, 0),
    api!(OffsetCommit, 0, 1),
    api!(OffsetFetch, 0, 0),
    api!(DescribeAcls, 0, 0),
    api!(CreateAcls, 0, 0),
    api!(DeleteAcls, 0, 0),
];

/// Whether `key` at `version` is served through the Kafka 3.9 codec.
pub fn is_legacy(key: i16, version: i16) -> bool {
    LEGACY_VERSIONS.iter().any(|a| a.key as i16 == key && (a.min..=a.max).contains(&version))
}

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
    fn table_lies_within_what_the_two_codecs_can_decode() {
        for a in SUPPORTED_APIS {
            let codec = a.key.valid_versions();
            assert!(a.min <= a.max && a.max <= codec.max, "{:?} {}..{} above codec {}", a.key, a.min, a.max, codec);
            match LEGACY_VERSIONS.iter().find(|l| l.key == a.key) {
                // The legacy range starts at the table's floor and ends just below the 0.18 codec's.
                Some(l) => assert!(l.min == a.min && l.max + 1 == codec.min, "{:?} legacy {}..{}", a.key, l.min, l.max),
                None => assert!(a.min >= codec.min, "{:?} {}..{} below codec {}", a.key, a.min, a.max, codec),
            }
        }
        for l in LEGACY_VERSIONS {
            assert!(supported_range(l.key as i16).is_some(), "{:?} legacy but not served", l.key);
        }
    }

    #[test]
    fn legacy_versions_are_only_the_old_ones() {
        assert!(is_legacy(ApiKey::OffsetCommit as i16, 1));
        assert!(!is_legacy(ApiKey::OffsetCommit as i16, 2));
        assert!(!is_legacy(ApiKey::Metadata as i16, 0));
        assert!(is_supported(ApiKey::DescribeConfigs as i16, 0));
        assert!(!is_supported(ApiKey::Fetch as i16, 3));
    }

    #[test]
    fn unknown_and_out_of_range_versions_are_not_supported() {
        assert!(is_supported(18, 0));
        assert!(!is_supported(18, 5));
        assert!(!is_supported(9999, 0));
        assert!(!is_supported(ApiKey::Produce as i16, 2));
    }
}
