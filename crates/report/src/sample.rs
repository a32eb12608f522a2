//! Sampling of the host, the client process and the target while a run goes on.
//! PLACEHOLDER API (the report helper replaces the body; the signatures are the contract with weft-bench).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What to sample and how often.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// The target's Prometheus endpoint, scraped every interval.
    pub metrics_url: Option<String>,
    /// The target's process id when it runs on this host.
    pub target_pid: Option<u32>,
    pub interval: Duration,
    /// Timeout of one scrape.
    pub timeout: Duration,
    /// The run's start; samples carry milliseconds since it.
    pub started: Instant,
}

/// One sample of everything the sampler reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ResourceSample {
    /// Milliseconds since the run's start.
    pub t_ms: u64,
}

/// A background sampler; `finish` stops it and returns its samples in time order.
pub struct Sampler {
    samples: Vec<ResourceSample>,
}

impl Sampler {
    /// Starts sampling on the current tokio runtime.
    pub fn start(config: SamplerConfig) -> Sampler {
        let _ = config;
        Sampler { samples: Vec::new() }
    }

    /// The latest sample, for a live view.
    pub fn latest(&self) -> Option<ResourceSample> {
        self.samples.last().cloned()
    }

    /// Stops sampling and returns every sample taken.
    pub async fn finish(self) -> Vec<ResourceSample> {
        self.samples
    }
}
