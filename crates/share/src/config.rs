//! The settings a share partition obeys (KIP-932's group configs) and the choice of its first start offset.

/// Limits of one share partition; Kafka's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareConfig {
    /// `group.share.partition.max.record.locks`: at most this many offsets in flight (from the start offset to
    /// the end offset); no new records are acquired beyond it.
    pub max_in_flight: i64,
    /// `group.share.delivery.count.limit`: a record delivered this many times is archived instead of being
    /// made available again.
    pub delivery_count_limit: i16,
    /// `group.share.record.lock.duration.ms` (or the group's `share.record.lock.duration.ms`): how long an
    /// acquired record stays locked to its member.
    pub lock_duration_ms: i64,
}

impl Default for ShareConfig {
    fn default() -> Self {
        ShareConfig { max_in_flight: 2000, delivery_count_limit: 5, lock_duration_ms: 30_000 }
    }
}

impl ShareConfig {
    /// The state a released record takes: available again, or archived once delivered as often as allowed.
    pub fn released_state(&self, delivery_count: i16) -> crate::RecordState {
        if delivery_count >= self.delivery_count_limit {
            crate::RecordState::Archived
        } else {
            crate::RecordState::Available
        }
    }
}

/// `share.auto.offset.reset`: where a share partition with no stored state starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The high watermark (or last stable offset): only records produced from now on (Kafka's default).
    #[default]
    Latest,
}

impl AutoOffsetReset {
    /// The start offset of a new share partition over a log holding `log_start..end`.
    pub fn start_offset(self, log_start: i64, end: i64) -> i64 {
        match self {
            AutoOffsetReset::Earliest => log_start,
            AutoOffsetReset::Latest => end,
        }
    }

    /// Parses Kafka's value (`earliest`, `latest`); `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "earliest" => Some(AutoOffsetReset::Earliest),
            "latest" => Some(AutoOffsetReset::Latest),
            _ => None,
        }
    }
}
