//! Sampling of the host, the client process and the target while a run goes on: a background tokio task
//! reads `/proc` and scrapes the target's `/metrics` every interval and turns the counters' deltas into
//! rates (`ResourceSample`). Nothing it reads can fail a run: an unreadable file or a failed scrape leaves
//! that part of the sample empty (and the scrape's error in it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::procfs::{self, DiskCounters, HostCpu, NetCounters, ProcessCounters, TICKS_PER_SEC, ThreadTicks};
use crate::prom::{self, Scrape};
pub use crate::target_metrics::{StoreOp, TargetMetrics};

/// Most samples kept: a day at one per second. Later samples are dropped (the start of a run, where a
/// resource first saturates, matters more than its tail).
pub const MAX_SAMPLES: usize = 86_400;
/// Shortest sampling interval: below this the sampler's own reads would show up in what it measures.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

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

/// One sample of everything the sampler reads, over the interval ending at `t_ms`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct ResourceSample {
    /// Milliseconds since the run's start, at the end of the interval.
    pub t_ms: u64,
    pub interval_ms: u64,
    pub host: Option<HostSample>,
    /// This process (the load generator).
    pub client: Option<ProcessSample>,
    /// The target's process, when its pid was given and it runs on this host.
    pub target: Option<ProcessSample>,
    /// The target's metrics over the interval, when its endpoint answered both times.
    pub metrics: Option<TargetMetrics>,
    /// Why the scrape failed, when it did.
    pub metrics_error: Option<String>,
}

/// The host over one interval. CPU percentages are of all cores (100 = every core busy).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct HostSample {
    pub cores: u32,
    pub cpu_busy_percent: f64,
    pub cpu_iowait_percent: f64,
    /// Busy percent of each core.
    pub core_busy_percent: Vec<f64>,
    pub mem_total_bytes: u64,
    pub mem_available_bytes: u64,
    pub disk_read_bytes_per_sec: f64,
    pub disk_write_bytes_per_sec: f64,
    /// Utilisation of the busiest disk (time with I/O in flight).
    pub disk_util_percent: f64,
    pub busiest_disk: Option<String>,
    pub net_rx_bytes_per_sec: f64,
    pub net_tx_bytes_per_sec: f64,
    /// The links' summed speed, when every interface reports one.
    pub net_capacity_bytes_per_sec: Option<f64>,
}

/// One process over one interval. CPU percentages are of one core (250 = two and a half cores).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct ProcessSample {
    pub cpu_percent: f64,
    pub threads: u32,
    pub hottest_thread: Option<String>,
    pub hottest_thread_cpu_percent: f64,
    /// The thread that ran or waited to run the most (CPU plus run-queue wait, % of the interval), when the
    /// kernel keeps `schedstat`; at 100 it would use a whole core if the host gave it one.
    pub busiest_thread: Option<String>,
    pub busiest_thread_demand_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
}

/// A background sampler; `finish` stops it and returns its samples in time order.
pub struct Sampler {
    samples: Arc<Mutex<Vec<ResourceSample>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling on the current tokio runtime (outside one, it samples nothing).
    pub fn start(config: SamplerConfig) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::runtime::Handle::try_current().ok().map(|rt| rt.spawn(run(config, samples.clone(), stopped)));
        Sampler { samples, stop: Some(stop), task }
    }

    /// The latest sample, for a live view.
    pub fn latest(&self) -> Option<ResourceSample> {
        self.samples.lock().ok()?.last().cloned()
    }

    /// Stops sampling (taking one last sample of the interval under way) and returns every sample taken.
    pub async fn finish(mut self) -> Vec<ResourceSample> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.samples.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn run(config: SamplerConfig, samples: Arc<Mutex<Vec<ResourceSample>>>, mut stopped: oneshot::Receiver<()>) {
    let mut ticker = tokio::time::interval(config.interval.max(MIN_INTERVAL));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut reader = Reader::new();
    reader.read(&config).await;
    loop {
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = &mut stopped => true,
        };
        let sample = reader.read(&config).await;
        if let (Some(sample), Ok(mut kept)) = (sample, samples.lock())
            && kept.len() < MAX_SAMPLES
        {
            kept.push(sample);
        }
        if last {
            return;
        }
    }
}

/// The previous readings, which the next one is compared with.
struct Reader {
    at: Option<Instant>,
    cpu: Option<HostCpu>,
    disks: Vec<DiskCounters>,
    nets: Vec<NetCounters>,
    net_capacity: Option<f64>,
    client: Option<ProcessCounters>,
    target: Option<ProcessCounters>,
    scrape: Option<(Instant, Scrape)>,
}

impl Reader {
    fn new() -> Reader {
        let nets = procfs::networks();
        let net_capacity = procfs::link_capacity_bytes_per_sec(&nets);
        Reader { at: None, cpu: None, disks: Vec::new(), nets, net_capacity, client: None, target: None, scrape: None }
    }

    /// Reads everything now; the sample of the interval since the previous read (`None` the first time).
    async fn read(&mut self, config: &SamplerConfig) -> Option<ResourceSample> {
        let (metrics, metrics_error) = self.scrape(config).await;
        let now = Instant::now();
        let secs = self.at.map(|at| now.duration_since(at).as_secs_f64());
        let cpu = procfs::host_cpu();
        let (disks, nets) = (procfs::disks(), procfs::networks());
        let client = procfs::process(None);
        let target = config.target_pid.and_then(|pid| procfs::process(Some(pid)));
        let sample = secs.filter(|s| *s > 0.0).map(|secs| ResourceSample {
            t_ms: now.saturating_duration_since(config.started).as_millis() as u64,
            interval_ms: (secs * 1000.0) as u64,
            host: host_sample(self.cpu.as_ref(), cpu.as_ref(), (&self.disks, &disks), (&self.nets, &nets), secs)
                .map(|h| HostSample { net_capacity_bytes_per_sec: self.net_capacity, ..h }),
            client: process_sample(self.client.as_ref(), client.as_ref(), secs),
            target: process_sample(self.target.as_ref(), target.as_ref(), secs),
            metrics,
            metrics_error,
        });
        (self.at, self.cpu, self.disks, self.nets, self.client, self.target) =
            (Some(now), cpu, disks, nets, client, target);
        sample
    }

    /// Scrapes the target; its figures since the previous successful scrape.
    async fn scrape(&mut self, config: &SamplerConfig) -> (Option<TargetMetrics>, Option<String>) {
        let Some(url) = &config.metrics_url else { return (None, None) };
        match prom::scrape(url, config.timeout).await {
            Ok(scrape) => {
                let now = Instant::now();
                let metrics = self
                    .scrape
                    .as_ref()
                    .map(|(at, before)| TargetMetrics::between(before, &scrape, now.duration_since(*at).as_secs_f64()));
                self.scrape = Some((now, scrape));
                (metrics, None)
            }
            Err(e) => (None, Some(e.to_string())),
        }
    }
}

/// The host's figures between two readings `secs` apart.
pub fn host_sample(
    before: Option<&HostCpu>,
    after: Option<&HostCpu>,
    disks: (&[DiskCounters], &[DiskCounters]),
    nets: (&[NetCounters], &[NetCounters]),
    secs: f64,
) -> Option<HostSample> {
    let (before, after) = (before?, after?);
    let percent = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    let total = after.all.total.saturating_sub(before.all.total);
    let core_busy_percent = after
        .cores
        .iter()
        .zip(&before.cores)
        .map(|(a, b)| percent(a.busy.saturating_sub(b.busy), a.total.saturating_sub(b.total)))
        .collect();
    let (mem_total_bytes, mem_available_bytes) = procfs::meminfo().unwrap_or_default();
    let mut sample = HostSample {
        cores: after.cores.len() as u32,
        cpu_busy_percent: percent(after.all.busy.saturating_sub(before.all.busy), total),
        cpu_iowait_percent: percent(after.all.iowait.saturating_sub(before.all.iowait), total),
        core_busy_percent,
        mem_total_bytes,
        mem_available_bytes,
        ..HostSample::default()
    };
    for d in disks.1 {
        let Some(b) = disks.0.iter().find(|b| b.name == d.name) else { continue };
        sample.disk_read_bytes_per_sec += d.read_bytes.saturating_sub(b.read_bytes) as f64 / secs;
        sample.disk_write_bytes_per_sec += d.write_bytes.saturating_sub(b.write_bytes) as f64 / secs;
        let util = (d.io_ms.saturating_sub(b.io_ms) as f64 / (secs * 10.0)).min(100.0);
        if util >= sample.disk_util_percent {
            (sample.disk_util_percent, sample.busiest_disk) = (util, Some(d.name.clone()));
        }
    }
    for n in nets.1 {
        let Some(b) = nets.0.iter().find(|b| b.name == n.name) else { continue };
        sample.net_rx_bytes_per_sec += n.rx_bytes.saturating_sub(b.rx_bytes) as f64 / secs;
        sample.net_tx_bytes_per_sec += n.tx_bytes.saturating_sub(b.tx_bytes) as f64 / secs;
    }
    Some(sample)
}

/// A process's figures between two readings `secs` apart (threads that started meanwhile count from zero).
pub fn process_sample(
    before: Option<&ProcessCounters>,
    after: Option<&ProcessCounters>,
    secs: f64,
) -> Option<ProcessSample> {
    let (before, after) = (before?, after?);
    let earlier: HashMap<u32, &ThreadTicks> = before.threads.iter().map(|t| (t.tid, t)).collect();
    let mut sample =
        ProcessSample { threads: after.threads.len() as u32, rss_bytes: after.rss_bytes, ..ProcessSample::default() };
    for t in &after.threads {
        let before = earlier.get(&t.tid);
        let ticks = t.ticks.saturating_sub(before.map_or(0, |b| b.ticks));
        let percent = ticks as f64 / TICKS_PER_SEC / secs * 100.0;
        sample.cpu_percent += percent;
        if sample.hottest_thread.is_none() || percent > sample.hottest_thread_cpu_percent {
            (sample.hottest_thread, sample.hottest_thread_cpu_percent) = (Some(t.name.clone()), percent);
        }
        if let Some(ns) = t.demand_ns {
            let demand = ns.saturating_sub(before.and_then(|b| b.demand_ns).unwrap_or(0)) as f64 / 1e9 / secs * 100.0;
            if sample.busiest_thread_demand_percent.is_none_or(|d| demand > d) {
                (sample.busiest_thread, sample.busiest_thread_demand_percent) = (Some(t.name.clone()), Some(demand));
            }
        }
    }
    Some(sample)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::CpuTimes;

    #[test]
    fn host_rates_from_two_readings() {
        let cpu = |busy, iowait, total| CpuTimes { busy, iowait, total };
        let before = HostCpu { all: cpu(100, 10, 1000), cores: vec![cpu(50, 5, 500), cpu(50, 5, 500)] };
        let after = HostCpu { all: cpu(200, 30, 1200), cores: vec![cpu(145, 5, 600), cpu(55, 25, 600)] };
        let disk = |w, io| DiskCounters { name: "sda".into(), read_bytes: 0, write_bytes: w, io_ms: io };
        let net = |rx| NetCounters { name: "eth0".into(), rx_bytes: rx, tx_bytes: 0 };
        let h = host_sample(
            Some(&before),
            Some(&after),
            (&[disk(0, 0)], &[disk(2_000_000, 1500)]),
            (&[net(0)], &[net(4000)]),
            2.0,
        )
        .unwrap();
        assert_eq!((h.cores, h.cpu_busy_percent, h.cpu_iowait_percent), (2, 50.0, 10.0));
        assert_eq!(h.core_busy_percent, [95.0, 5.0]);
        assert_eq!((h.disk_write_bytes_per_sec, h.disk_util_percent), (1_000_000.0, 75.0));
        assert_eq!(h.net_rx_bytes_per_sec, 2000.0);
    }

    #[test]
    fn the_hottest_thread_is_named() {
        let t =
            |tid, name: &str, ticks| ThreadTicks { tid, name: name.into(), ticks, demand_ns: Some(ticks * 20_000_000) };
        let before = ProcessCounters { threads: vec![t(1, "main", 10), t(2, "rdk:broker1", 100)], rss_bytes: None };
        let after = ProcessCounters {
            threads: vec![t(1, "main", 20), t(2, "rdk:broker1", 195), t(3, "new", 5)],
            rss_bytes: Some(7),
        };
        let p = process_sample(Some(&before), Some(&after), 1.0).unwrap();
        assert_eq!((p.threads, p.rss_bytes), (3, Some(7)));
        assert_eq!(p.hottest_thread.as_deref(), Some("rdk:broker1"));
        assert_eq!((p.hottest_thread_cpu_percent, p.cpu_percent), (95.0, 110.0));
        // Twice the CPU time in CPU plus run-queue wait: 190 % is impossible, but the arithmetic is checked.
        assert_eq!((p.busiest_thread.as_deref(), p.busiest_thread_demand_percent), (Some("rdk:broker1"), Some(190.0)));
    }

    #[tokio::test]
    async fn the_sampler_samples_this_host_and_notes_a_failed_scrape() {
        let config = SamplerConfig {
            metrics_url: Some("http://127.0.0.1:1/metrics".into()),
            target_pid: Some(std::process::id()),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            started: Instant::now(),
        };
        let sampler = Sampler::start(config);
        let waited = Instant::now();
        while sampler.latest().is_none() && waited.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let latest = sampler.latest();
        let samples = sampler.finish().await;
        assert!(samples.len() >= 2, "{samples:?}");
        assert!(latest.is_some());
        assert!(samples.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
        let s = &samples[0];
        assert!(s.metrics.is_none() && s.metrics_error.as_deref().is_some_and(|e| e.contains("127.0.0.1:1")));
        if std::path::Path::new("/proc/stat").exists() {
            assert!(s.host.as_ref().is_some_and(|h| h.cores > 0));
            assert!(s.client.as_ref().is_some_and(|c| c.threads > 0));
            assert!(s.target.is_some());
        }
    }
}
