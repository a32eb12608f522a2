//! Sampling of the host, the client process and the target while a run goes on: a background tokio task
//! reads `/proc` every interval and the target's `/metrics` every `METRICS_MIN_INTERVAL` at most, and turns
//! the counters' deltas into rates (`ResourceSample`). Nothing it reads can fail a run: an unreadable file
//! or a failed scrape leaves that part of the sample empty (and the scrape's error in it).
//!
//! The sampler must not load what it measures: a Weft agent's `/metrics` runs metastore queries on every
//! scrape, so it is scraped at most every two seconds whatever the host interval (samples in between carry
//! no target figures), only the families `TargetMetrics` reads are parsed, and the parse runs on the
//! blocking pool.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::procfs::{self, DiskCounters, HostCpu, Link, NetCounters, ProcessCounters, TICKS_PER_SEC, ThreadTicks};
use crate::prom::{self, Scrape};
pub use crate::target_metrics::{StoreOp, TargetMetrics};

/// Most samples kept: a day at one per second. Later samples are dropped (the start of a run, where a
/// resource first saturates, matters more than its tail).
pub const MAX_SAMPLES: usize = 86_400;
/// Shortest sampling interval: below this the sampler's own reads would show up in what it measures.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Shortest time between two scrapes of the target: each scrape of a Weft agent runs metastore queries.
pub const METRICS_MIN_INTERVAL: Duration = Duration::from_secs(2);
/// Slack on `METRICS_MIN_INTERVAL` for a tick that comes a little early (scrapes start on ticks).
const METRICS_SLACK: Duration = Duration::from_millis(100);

/// What to sample and how often.
#[derive(Debug, Clone)]
pub struct SamplerConfig {
    /// The target's Prometheus endpoint, scraped every interval but no more often than every
    /// `METRICS_MIN_INTERVAL`.
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
    /// The target's metrics since the previous scrape, when its endpoint answered both times; `None` in
    /// the samples between two scrapes.
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
    /// Traffic of the physical interfaces (of all non-loopback ones when none is physical, as in a
    /// container): bridges and veths carry the same bytes again.
    pub net_rx_bytes_per_sec: f64,
    pub net_tx_bytes_per_sec: f64,
    /// The busiest physical interface's busier direction, percent of its own speed; `None` when no
    /// physical interface reports a speed.
    pub net_util_percent: Option<f64>,
    pub busiest_link: Option<String>,
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
    /// The cores the process may use (its CPU affinity and cgroup quota, `procfs::cpu_limit`), when known.
    pub cpu_limit_cores: Option<f64>,
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
    let mut reader = Reader::new(&config);
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
    links: BTreeMap<String, Link>,
    client: Option<ProcessCounters>,
    target: Option<ProcessCounters>,
    client_limit: Option<f64>,
    target_limit: Option<f64>,
    /// The last successful scrape: when it was answered, and what it said.
    scrape: Option<(Instant, Scrape)>,
    /// When the last scrape was started (successful or not).
    scraped_at: Option<Instant>,
    /// A scrape's error from a read that made no sample (the first), for the next sample.
    pending_error: Option<String>,
}

impl Reader {
    fn new(config: &SamplerConfig) -> Reader {
        let nets = procfs::networks();
        let (proc, sys) = (Path::new("/proc"), Path::new("/sys"));
        Reader {
            at: None,
            cpu: None,
            disks: Vec::new(),
            links: procfs::links(&nets, sys),
            nets,
            client: None,
            target: None,
            client_limit: procfs::cpu_limit(proc, sys, None),
            target_limit: config.target_pid.and_then(|pid| procfs::cpu_limit(proc, sys, Some(pid))),
            scrape: None,
            scraped_at: None,
            pending_error: None,
        }
    }

    /// Reads everything now; the sample of the interval since the previous read (`None` the first time).
    async fn read(&mut self, config: &SamplerConfig) -> Option<ResourceSample> {
        let (mut metrics, error) = self.scrape(config).await;
        let metrics_error = error.or_else(|| self.pending_error.take());
        let now = Instant::now();
        let secs = self.at.map(|at| now.duration_since(at).as_secs_f64());
        let cpu = procfs::host_cpu();
        if let Some(m) = metrics.as_mut().filter(|m| m.cores.is_none()) {
            m.cores = self.local_target_cores(config, cpu.as_ref());
        }
        let (disks, nets) = (procfs::disks(), procfs::networks());
        let client = procfs::process(None);
        let target = config.target_pid.and_then(|pid| procfs::process(Some(pid)));
        let sample = secs.filter(|s| *s > 0.0).map(|secs| ResourceSample {
            t_ms: now.saturating_duration_since(config.started).as_millis() as u64,
            interval_ms: (secs * 1000.0) as u64,
            host: host_sample(
                self.cpu.as_ref(),
                cpu.as_ref(),
                (&self.disks, &disks),
                (&self.nets, &nets),
                &self.links,
                secs,
            ),
            client: process_sample(self.client.as_ref(), client.as_ref(), secs)
                .map(|p| ProcessSample { cpu_limit_cores: self.client_limit, ..p }),
            target: process_sample(self.target.as_ref(), target.as_ref(), secs)
                .map(|p| ProcessSample { cpu_limit_cores: self.target_limit, ..p }),
            metrics,
            metrics_error: metrics_error.clone(),
        });
        (self.at, self.cpu, self.disks, self.nets, self.client, self.target) =
            (Some(now), cpu, disks, nets, client, target);
        if sample.is_none() {
            self.pending_error = metrics_error;
        }
        sample
    }

    /// The cores a target on this host can use: its own limit when its pid is known, else the host's
    /// when the metrics come from a loopback address; `None` for a remote target (this host's cores say
    /// nothing about it).
    fn local_target_cores(&self, config: &SamplerConfig, cpu: Option<&HostCpu>) -> Option<f64> {
        let host = cpu.map(|c| c.cores.len() as f64).filter(|c| *c > 0.0);
        let local = config.target_pid.is_some() || config.metrics_url.as_deref().is_some_and(is_loopback);
        if !local {
            return None;
        }
        match (self.target_limit, host) {
            (Some(limit), Some(host)) => Some(limit.min(host)),
            (limit, host) => limit.or(host),
        }
    }

    /// Scrapes the target when `METRICS_MIN_INTERVAL` has passed since the last scrape; its figures since
    /// the previous successful scrape.
    async fn scrape(&mut self, config: &SamplerConfig) -> (Option<TargetMetrics>, Option<String>) {
        let Some(url) = &config.metrics_url else { return (None, None) };
        let started = Instant::now();
        if self.scraped_at.is_some_and(|at| started.duration_since(at) + METRICS_SLACK < METRICS_MIN_INTERVAL) {
            return (None, None);
        }
        self.scraped_at = Some(started);
        match prom::scrape_families(url, config.timeout, Some(crate::target_metrics::FAMILIES)).await {
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

/// Whether a metrics URL names this host (`localhost`, `127.0.0.0/8`, `[::1]`).
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host's figures between two readings `secs` apart; `links` says which interfaces are physical and
/// their speeds.
pub fn host_sample(
    before: Option<&HostCpu>,
    after: Option<&HostCpu>,
    disks: (&[DiskCounters], &[DiskCounters]),
    nets: (&[NetCounters], &[NetCounters]),
    links: &BTreeMap<String, Link>,
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
        if !d.stacked {
            sample.disk_read_bytes_per_sec += d.read_bytes.saturating_sub(b.read_bytes) as f64 / secs;
            sample.disk_write_bytes_per_sec += d.write_bytes.saturating_sub(b.write_bytes) as f64 / secs;
        }
        let util = (d.io_ms.saturating_sub(b.io_ms) as f64 / (secs * 10.0)).min(100.0);
        if util >= sample.disk_util_percent {
            (sample.disk_util_percent, sample.busiest_disk) = (util, Some(d.name.clone()));
        }
    }
    network(&mut sample, nets, links, secs);
    Some(sample)
}

/// Traffic and the busiest link's utilisation, each interface judged against its own speed.
fn network(sample: &mut HostSample, nets: (&[NetCounters], &[NetCounters]), links: &BTreeMap<String, Link>, secs: f64) {
    let physical = |name: &str| links.get(name).is_some_and(|l| l.physical);
    let any_physical = nets.1.iter().any(|n| physical(&n.name));
    for n in nets.1 {
        let Some(b) = nets.0.iter().find(|b| b.name == n.name) else { continue };
        let rx = n.rx_bytes.saturating_sub(b.rx_bytes) as f64 / secs;
        let tx = n.tx_bytes.saturating_sub(b.tx_bytes) as f64 / secs;
        if any_physical && !physical(&n.name) {
            continue;
        }
        sample.net_rx_bytes_per_sec += rx;
        sample.net_tx_bytes_per_sec += tx;
        let Some(speed) = links.get(&n.name).filter(|l| l.physical).and_then(|l| l.speed_bytes_per_sec) else {
            continue;
        };
        let util = rx.max(tx) * 100.0 / speed;
        if sample.net_util_percent.is_none_or(|u| util > u) {
            (sample.net_util_percent, sample.busiest_link) = (Some(util), Some(n.name.clone()));
        }
    }
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
        let disk = |name: &str, w, io, stacked| DiskCounters {
            name: name.into(),
            read_bytes: 0,
            write_bytes: w,
            io_ms: io,
            stacked,
        };
        let net = |rx| NetCounters { name: "eth0".into(), rx_bytes: rx, tx_bytes: 0 };
        let h = host_sample(
            Some(&before),
            Some(&after),
            (
                &[disk("sda", 0, 0, false), disk("dm-0", 0, 0, true)],
                &[disk("sda", 2_000_000, 1500, false), disk("dm-0", 2_000_000, 1900, true)],
            ),
            (&[net(0)], &[net(4000)]),
            &BTreeMap::new(),
            2.0,
        )
        .unwrap();
        assert_eq!((h.cores, h.cpu_busy_percent, h.cpu_iowait_percent), (2, 50.0, 10.0));
        assert_eq!(h.core_busy_percent, [95.0, 5.0]);
        assert_eq!(h.disk_write_bytes_per_sec, 1_000_000.0, "a stacked device's bytes are its disk's again");
        assert_eq!((h.disk_util_percent, h.busiest_disk.as_deref()), (95.0, Some("dm-0")));
        assert_eq!(h.net_rx_bytes_per_sec, 2000.0, "no physical interface known: all count");
        assert_eq!(h.net_util_percent, None);
    }

    #[test]
    fn each_link_is_judged_against_its_own_speed_and_virtual_ones_are_left_out() {
        let cpu = HostCpu { all: CpuTimes { busy: 0, iowait: 0, total: 100 }, cores: vec![] };
        let net = |name: &str, rx| NetCounters { name: name.into(), rx_bytes: rx, tx_bytes: 0 };
        let link = |physical, mbit: Option<f64>| Link { physical, speed_bytes_per_sec: mbit.map(|m| m * 125_000.0) };
        let links = BTreeMap::from([
            ("eth0".to_string(), link(true, Some(10_000.0))),
            ("eth1".to_string(), link(true, Some(100.0))),
            ("wlan0".to_string(), link(true, None)),
            ("docker0".to_string(), link(false, Some(10_000.0))),
        ]);
        let before = [net("eth0", 0), net("eth1", 0), net("wlan0", 0), net("docker0", 0), net("veth1", 0)];
        // eth1 moves 11.25 MB/s on 100 Mbit/s (12.5 MB/s): 90 %, though the links' summed speed is far above.
        let after = [
            net("eth0", 50e6 as u64),
            net("eth1", 11.25e6 as u64),
            net("wlan0", 1e6 as u64),
            net("docker0", 9e9 as u64),
            net("veth1", 9e9 as u64),
        ];
        let h = host_sample(Some(&cpu), Some(&cpu), (&[], &[]), (&before, &after), &links, 1.0).unwrap();
        assert_eq!(h.net_rx_bytes_per_sec, 50e6 + 11.25e6 + 1e6, "bridges and veths carry the same bytes again");
        assert_eq!(h.busiest_link.as_deref(), Some("eth1"));
        assert!((h.net_util_percent.unwrap() - 90.0).abs() < 1e-9, "{h:?}");
    }

    #[test]
    fn a_loopback_metrics_url_is_local() {
        for url in
            ["http://127.0.0.1:9000/metrics", "http://localhost:9/m", "http://[::1]:9/metrics", "http://127.1.2.3/"]
        {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["http://10.0.0.5:9000/metrics", "http://agent-1:9/m", "http://[2001:db8::1]:9/"] {
            assert!(!is_loopback(url), "{url}");
        }
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

    #[tokio::test]
    async fn the_target_is_scraped_at_most_every_two_seconds() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scrapes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = scrapes.clone();
        let server = tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let page = "HTTP/1.0 200 OK\r\n\r\nprocess_cpu_seconds_total 1\nsystem_cpu_count 3\n";
                let _ = s.write_all(page.as_bytes()).await;
            }
        });
        let sampler = Sampler::start(SamplerConfig {
            metrics_url: Some(format!("http://{addr}/metrics")),
            target_pid: None,
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            started: Instant::now(),
        });
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let early = sampler.samples.lock().unwrap().len();
        assert_eq!(scrapes.load(std::sync::atomic::Ordering::SeqCst), 1, "{early} host samples, one scrape");
        assert!(early >= 5, "the host is still sampled every 100 ms: {early}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let samples = sampler.finish().await;
        assert_eq!(scrapes.load(std::sync::atomic::Ordering::SeqCst), 2);
        let with_metrics: Vec<&TargetMetrics> = samples.iter().filter_map(|s| s.metrics.as_ref()).collect();
        assert_eq!(with_metrics.len(), 1, "only the sample after the second scrape has target figures");
        assert_eq!(with_metrics[0].cores, Some(3.0), "the target's own core count wins over this host's");
        assert!(samples.iter().all(|s| s.metrics_error.is_none()));
        server.abort();
    }
}
