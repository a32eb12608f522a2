//! The `--object-store-model` choice: which remote object store, if any, the agent imitates (for tests and
//! benchmarks), and the flush-interval default that follows from the kind of store.

use crate::AgentConfig;
use crate::codec::Named;
use std::time::Duration;

/// Which remote object store the agent imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectStoreModel {
    /// Requests take what the store takes.
    #[default]
    Off,
    /// Amazon S3 Standard latencies and failures.
    S3Standard,
    /// Amazon S3 Express One Zone latencies and failures.
    S3Express,
}

impl Named for ObjectStoreModel {
    const NAMES: &'static [(Self, &'static str)] = &[
        (ObjectStoreModel::Off, "off"),
        (ObjectStoreModel::S3Standard, "s3-standard"),
        (ObjectStoreModel::S3Express, "s3-express"),
    ];
    const NAME_LIST: &'static [&'static str] = &["off", "s3-standard", "s3-express"];
    const EXPECTED: &'static str = "off, s3-standard or s3-express";
}

/// Kafka's `ssl.client.auth`: whether TLS listeners ask clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for; a client may send none (it is then `User:ANONYMOUS`), but one it sends
    /// must chain to the trust store.
    Requested,
    /// A client without a certificate the trust store accepts is refused in the handshake.
    Required,
}

impl SslClientAuth {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Requested => "requested",
            Self::Required => "required",
        }
    }
}

impl Named for SslClientAuth {
    const NAMES: &'static [(Self, &'static str)] = &[
        (SslClientAuth::None, "none"),
        (SslClientAuth::Requested, "requested"),
        (SslClientAuth::Required, "required"),
    ];
    const NAME_LIST: &'static [&'static str] = &["none", "requested", "required"];
    const EXPECTED: &'static str = "none, requested or required";
}

/// The flush interval when none is set and objects go to a local directory or memory: a write costs
/// nothing there, so batches wait as little as possible.
pub const LOCAL_FLUSH_INTERVAL: Duration = Duration::from_millis(4);

/// The flush interval when none is set and objects go to S3 (or a modelled S3): every PUT is billed, so
/// batches wait up to 250 ms, as WarpStream and Inkless flush.
pub const S3_FLUSH_INTERVAL: Duration = Duration::from_millis(250);

impl AgentConfig {
    /// Whether objects go to S3 or an S3-compatible store, or the agent imitates one.
    pub fn object_store_is_s3(&self) -> bool {
        let s3_url =
            self.object_store.as_deref().is_some_and(|u| u.get(..5).is_some_and(|s| s.eq_ignore_ascii_case("s3://")));
        s3_url || self.object_store_model != ObjectStoreModel::Off
    }

    /// The flush interval in force: the one set, or the default of the kind of store.
    pub fn effective_flush_interval(&self) -> Duration {
        let default = if self.object_store_is_s3() { S3_FLUSH_INTERVAL } else { LOCAL_FLUSH_INTERVAL };
        self.flush_interval.unwrap_or(default)
    }

    /// How long a fetch may find a committed batch's index row in the agent's memory rather than the
    /// metastore: 2 s (a consumer keeping up reads its batches within milliseconds), and never more than a
    /// quarter of the collector's grace, which keeps a rewritten object readable for that long.
    pub fn index_tail_max_age(&self) -> Duration {
        (self.gc_grace / 4).min(INDEX_TAIL_MAX_AGE)
    }

    /// The segment cache's size: `--cache-bytes` when given, else an eighth of `memory` (the machine's or
    /// its cgroup's, see [`crate::memory::available`]) between 512 MiB and 8 GiB, or 512 MiB when the
    /// memory is unknown. Why memory-sized: objects bypass the page cache, which on Kafka brokers (and on
    /// Weft before) held recently written data for catching-up consumers in whatever memory was free.
    pub fn segment_cache_bytes(&self, memory: Option<u64>) -> usize {
        self.cache_bytes.unwrap_or_else(|| cache_bytes_for(memory))
    }
}

/// Default segment cache for a machine of `memory` bytes (see [`AgentConfig::segment_cache_bytes`]).
pub(crate) fn cache_bytes_for(memory: Option<u64>) -> usize {
    const MIN: u64 = 512 << 20;
    const MAX: u64 = 8 << 30;
    let bytes = memory.map_or(MIN, |m| (m / 8).clamp(MIN, MAX));
    usize::try_from(bytes).unwrap_or(MIN as usize)
}

/// The longest an index row stays in the agent's memory after its commit (see
/// [`AgentConfig::index_tail_max_age`]).
pub const INDEX_TAIL_MAX_AGE: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flush_interval_default_follows_the_store_unless_one_is_set() {
        let local = AgentConfig::default();
        assert_eq!(local.effective_flush_interval(), LOCAL_FLUSH_INTERVAL);
        let s3 = AgentConfig { object_store: Some("S3://bucket/prefix".into()), ..AgentConfig::default() };
        assert_eq!(s3.effective_flush_interval(), S3_FLUSH_INTERVAL);
        let modelled = AgentConfig { object_store_model: ObjectStoreModel::S3Express, ..AgentConfig::default() };
        assert_eq!(modelled.effective_flush_interval(), S3_FLUSH_INTERVAL);
        let set = AgentConfig { flush_interval: Some(Duration::from_millis(50)), ..s3 };
        assert_eq!(set.effective_flush_interval(), Duration::from_millis(50));
        let memory = AgentConfig { object_store: Some("memory://".into()), ..AgentConfig::default() };
        assert_eq!(memory.effective_flush_interval(), LOCAL_FLUSH_INTERVAL);
    }

    #[test]
    fn the_index_tail_keeps_rows_for_at_most_a_quarter_of_the_grace() {
        let config = AgentConfig::default();
        assert_eq!(config.index_tail_max_age(), INDEX_TAIL_MAX_AGE);
        let short = AgentConfig { gc_grace: Duration::from_secs(4), ..AgentConfig::default() };
        assert_eq!(short.index_tail_max_age(), Duration::from_secs(1));
        let none = AgentConfig { gc_grace: Duration::ZERO, ..AgentConfig::default() };
        assert_eq!(none.index_tail_max_age(), Duration::ZERO);
    }

    #[test]
    fn the_segment_cache_is_an_eighth_of_the_memory_within_bounds_unless_set() {
        let (mib, gib) = (1u64 << 20, 1u64 << 30);
        assert_eq!(cache_bytes_for(None), 512 << 20);
        assert_eq!(cache_bytes_for(Some(2 * gib)), 512 << 20);
        assert_eq!(cache_bytes_for(Some(24 * gib)), 3 << 30);
        assert_eq!(cache_bytes_for(Some(256 * gib)), 8 << 30);
        assert_eq!(cache_bytes_for(Some(4096 * mib - 8)), 512 << 20);
        assert_eq!(cache_bytes_for(Some(4096 * mib + 8)), (512 << 20) + 1);
        let set = AgentConfig { cache_bytes: Some(1000), ..AgentConfig::default() };
        assert_eq!(set.segment_cache_bytes(Some(24 * gib)), 1000);
        assert_eq!(AgentConfig::default().segment_cache_bytes(Some(24 * gib)), 3 << 30);
    }
}
