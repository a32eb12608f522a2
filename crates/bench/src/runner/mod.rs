//! Runs a scenario: creates its topics (fresh names per run), starts the group consumers, the producers and
//! the sampler, ticks once a second into intervals and ramp steps, then stops the producers, lets the
//! consumers catch up, drains share groups, and assembles the `weft_report::Run` (bottleneck included).
//! The topics are deleted at the end unless kept (also when setting up or running fails). Clients run on
//! their own OS threads (not tokio's blocking pool, whose cap could leave some never started). A client
//! that fails still leaves a report of what was measured, with the failure (`Outcome::failure`).

mod consume;
mod control;
mod live;
mod meter;
mod output;
mod produce;
mod settings;
mod share;
mod steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use weft_report::{Objective, Percentiles, Run, Sampler, SamplerConfig, Target};

use crate::args::BenchArgs;
use crate::cluster::Cluster;
use crate::latency::Clock;
use crate::scenario::{GroupProtocol, Scenario};
use consume::{MemberPlan, run_member};
use control::{Control, RampRun};
use live::Live;
use meter::Meter;
use produce::{ProducerPlan, run_producer};

pub use output::{compare, default_report_dir, summary_table, write_report};

/// How long consumers may take to catch up after the producers stopped (at least).
const MIN_CATCH_UP: Duration = Duration::from_secs(30);

/// Settings of a scenario run that are not in the scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub metrics_url: Option<String>,
    pub target_pid: Option<u32>,
    pub keep_topics: bool,
    pub live: bool,
}

/// Counts beyond the per-interval figures.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub produced_records: u64,
    pub produce_errors: u64,
    /// Distinct records each group consumed (by group id).
    pub consumed_by_group: Vec<(String, u64)>,
    /// Records a group received again after a rebalance (not counted twice).
    pub redelivered_records: u64,
    pub transactions_committed: u64,
    pub transactions_aborted: u64,
    /// Members that left and joined again (rebalance storms).
    pub rejoins: u64,
    pub topics: Vec<String>,
    /// How late producers handed records to the client after their intended send time (p99 and max, ms,
    /// after the warmup): the load they could not offer on time (their latency counts it).
    pub send_lag_p99_ms: Option<f64>,
    pub send_lag_max_ms: Option<f64>,
}

/// A finished run: the report, the totals, what went wrong without stopping it, and the client failure that
/// stopped it early (the report then holds what was measured until then).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run: Run,
    pub totals: Totals,
    pub problems: Vec<String>,
    pub failure: Option<String>,
}

/// The run's stop flags: the producers' (which also ends a rebalance storm) and the consumers'.
struct Stops {
    producers: Arc<AtomicBool>,
    consumers: Arc<AtomicBool>,
}

/// One consumer group of the run.
struct GroupPlan {
    id: String,
    topic_index: usize,
    spec_index: usize,
}

/// Runs `scenario` against the cluster `args` points at.
pub async fn run_scenario(scenario: &Scenario, args: &BenchArgs, opts: &RunOptions) -> Result<Outcome> {
    let cluster = Cluster::connect(args).await?;
    let clock = Clock::new();
    let started_at_unix_ms = unix_ms();
    let run_id = crate::payload::mix64(started_at_unix_ms ^ u64::from(std::process::id()) << 32);
    let suffix = format!("{:08x}", run_id as u32);
    let mut settings = settings::settings(scenario);
    let mut names = Vec::new();
    let result = match create_topics(&cluster, scenario, &suffix, &mut names, &mut settings).await {
        Ok(topics) => {
            let run = Runner { scenario, args, opts, cluster: &cluster, clock, run_id, suffix, topics };
            run.drive(started_at_unix_ms, settings).await
        }
        Err(e) => Err(e),
    };
    if !opts.keep_topics
        && let Err(e) = cluster.delete_topics(&names).await
    {
        eprintln!("warning: {e:#}");
    }
    let mut outcome = result?;
    outcome.totals.topics = names;
    Ok(outcome)
}

/// Creates the scenario's topics under fresh names, each recorded in `names` before it is created (so a
/// failure part way still deletes those made).
async fn create_topics(
    cluster: &Cluster,
    scenario: &Scenario,
    suffix: &str,
    names: &mut Vec<String>,
    settings: &mut weft_report::RunSettings,
) -> Result<Vec<(String, Vec<i32>)>> {
    let mut topics = Vec::new();
    for (i, t) in scenario.topics.iter().enumerate() {
        let name = format!("weft-bench-{}-{}-{suffix}", scenario.name, t.name);
        names.push(name.clone());
        let configs: Vec<(String, String)> = t.configs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let partitions = cluster.create_topic(&name, t.partitions, &configs).await?;
        let described = cluster.topic_configs(&name).await.unwrap_or_default();
        settings::add_topic(settings, i, &name, &described, &t.configs.keys().cloned().collect::<Vec<_>>());
        topics.push((name, partitions));
    }
    Ok(topics)
}

struct Runner<'a> {
    scenario: &'a Scenario,
    args: &'a BenchArgs,
    opts: &'a RunOptions,
    cluster: &'a Cluster,
    clock: Clock,
    run_id: u64,
    suffix: String,
    /// Name on the cluster and partition ids, per scenario topic.
    topics: Vec<(String, Vec<i32>)>,
}

impl Runner<'_> {
    fn topic_index(&self, named: Option<&str>) -> usize {
        named.and_then(|n| self.scenario.topics.iter().position(|t| t.name == n)).unwrap_or(0)
    }

    fn groups(&self) -> Vec<GroupPlan> {
        let mut groups = Vec::new();
        for (spec_index, c) in self.scenario.consumers.iter().enumerate() {
            for g in 0..c.groups {
                let id = format!("weft-bench-{}-c{spec_index}-g{g}", self.suffix);
                groups.push(GroupPlan { id, topic_index: self.topic_index(c.topic.as_deref()), spec_index });
            }
        }
        groups
    }

    async fn drive(&self, started_at_unix_ms: u64, settings: weft_report::RunSettings) -> Result<Outcome> {
        let s = self.scenario;
        let warmup = Duration::from_secs(s.warmup_secs);
        let groups = self.groups();
        let ramp_group = s.producers.iter().position(|p| p.ramp.is_some());
        let meter = Arc::new(Meter::new(self.clock, self.topics.len(), groups.len(), ramp_group));
        let consumers_stop = Arc::new(AtomicBool::new(false));
        let ready: Vec<Arc<AtomicBool>> = groups.iter().map(|_| Arc::new(AtomicBool::new(false))).collect();
        let producers_stop = Arc::new(AtomicBool::new(false));
        let stops = Stops { consumers: Arc::clone(&consumers_stop), producers: Arc::clone(&producers_stop) };
        let members = self.start_members(&groups, &meter, &stops, &ready);
        self.wait_for_assignments(&groups, &ready, &members).await;
        let started = Instant::now();
        meter.start(warmup);
        let sampler = Sampler::start(SamplerConfig {
            metrics_url: self.opts.metrics_url.clone(),
            target_pid: self.opts.target_pid,
            interval: control::TICK,
            timeout: self.args.request_timeout(),
            started,
        });
        let (rates, producers) = self.start_producers(&meter, &producers_stop);
        let ramp = ramp_group.and_then(|g| {
            let p = &s.producers[g];
            let readers = self.readers(&groups, self.topic_index(p.topic.as_deref()));
            Some(RampRun::new(crate::scenario::Ramp::new(p.ramp?), s.objective?, Arc::clone(&rates[g]), readers))
        });
        let live = Live::new(self.opts.live, &s.name);
        let mut control = Control::new(Arc::clone(&meter), started, warmup, live, rates, ramp);
        let mut problems = Vec::new();

        let failed = self.produce_phase(&mut control, &producers, &members).await;
        producers_stop.store(true, Ordering::Release);
        control.producers_stopped();
        control.phase = "stop";
        let produced = join_all(&mut control, producers, "producer").await;
        let result = if failed || produced.is_err() {
            Ok(())
        } else {
            match self.catch_up(&mut control, &groups, &members, &mut problems).await {
                Ok(()) => self.drain_shares(&mut control, &groups, &mut problems).await,
                Err(e) => Err(e),
            }
        };
        consumers_stop.store(true, Ordering::Release);
        let consumed = join_all(&mut control, members, "consumer").await;
        control.record(Instant::now());
        control.live.finish();
        let resources = sampler.finish().await;
        // The clients' own errors first: they say why a run stopped early.
        let failure = [produced, consumed, result]
            .into_iter()
            .find_map(Result::err)
            .or_else(|| failed.then(|| anyhow!("a client stopped before the end of the run")))
            .map(|e| format!("{e:#}"));
        let totals = self.totals(&meter, &groups);
        let mut run = self.report(started_at_unix_ms, settings, &meter, control, resources);
        if let Some(f) = &failure {
            run.settings.insert("run.failed".into(), f.clone());
        }
        Ok(Outcome { run, totals, problems, failure })
    }

    /// Consumer groups (not share groups) reading topic `topic_index`.
    fn readers(&self, groups: &[GroupPlan], topic_index: usize) -> u64 {
        let reads = |g: &&GroupPlan| {
            g.topic_index == topic_index && self.scenario.consumers[g.spec_index].protocol != GroupProtocol::Share
        };
        groups.iter().filter(reads).count() as u64
    }

    fn start_members(
        &self,
        groups: &[GroupPlan],
        meter: &Arc<Meter>,
        stops: &Stops,
        ready: &[Arc<AtomicBool>],
    ) -> Vec<JoinHandle<Result<()>>> {
        let mut handles = Vec::new();
        let started = Instant::now();
        for (group_index, g) in groups.iter().enumerate() {
            let spec = &self.scenario.consumers[g.spec_index];
            if spec.protocol == GroupProtocol::Share {
                continue;
            }
            for member in 0..spec.count {
                let plan = MemberPlan {
                    topic: self.topics[g.topic_index].0.clone(),
                    group_id: g.id.clone(),
                    group_index,
                    protocol: spec.protocol,
                    member,
                    members: spec.count,
                    storm_every: spec.rebalance_every_secs.map(Duration::from_secs),
                    run_id: self.run_id,
                    producer_groups: self.scenario.producers.len(),
                    stop: Arc::clone(&stops.consumers),
                    calm: Arc::clone(&stops.producers),
                    ready: Arc::clone(&ready[group_index]),
                    fetch_wait_max_ms: self.args.fetch_wait_max_ms,
                };
                let (base, meter) = (self.args.base_config(), Arc::clone(meter));
                handles.push(std::thread::spawn(move || run_member(plan, &base, meter, started)));
            }
        }
        handles
    }

    fn start_producers(
        &self,
        meter: &Arc<Meter>,
        stop: &Arc<AtomicBool>,
    ) -> (Vec<Arc<AtomicU64>>, Vec<JoinHandle<Result<()>>>) {
        let (mut rates, mut handles) = (Vec::new(), Vec::new());
        for (group, spec) in self.scenario.producers.iter().enumerate() {
            let initial = spec.rate.or(spec.ramp.map(|r| r.start)).unwrap_or(0);
            let rate = Arc::new(AtomicU64::new(initial));
            let topic_index = self.topic_index(spec.topic.as_deref());
            let (_, max_size) = spec.record_size.bounds();
            let max_size = usize::try_from(max_size).unwrap_or(usize::MAX).max(crate::payload::E2E_HEADER_LEN);
            let pool = Arc::new(crate::payload::PayloadPool::new(max_size, self.run_id ^ group as u64));
            let keys = crate::scenario::KeyPicker::new(&spec.keys, self.run_id);
            for index in 0..spec.count {
                let plan = ProducerPlan {
                    spec: spec.clone(),
                    topic: self.topics[topic_index].0.clone(),
                    topic_index,
                    group,
                    index,
                    pool: Arc::clone(&pool),
                    keys: keys.clone(),
                    rate: Arc::clone(&rate),
                    stop: Arc::clone(stop),
                    run_id: self.run_id,
                    transactional_id: format!("weft-bench-{}-p{group}-{index}", self.suffix),
                };
                let (base, meter) = (self.args.base_config(), Arc::clone(meter));
                handles.push(std::thread::spawn(move || run_producer(plan, &base, meter)));
            }
            rates.push(rate);
        }
        (rates, handles)
    }

    /// Waits until every consumer group has partitions assigned (at most the catch-up time), so the load
    /// does not start while the groups are still forming.
    async fn wait_for_assignments(
        &self,
        groups: &[GroupPlan],
        ready: &[Arc<AtomicBool>],
        members: &[JoinHandle<Result<()>>],
    ) {
        let waiting = |i: usize| {
            self.scenario.consumers[groups[i].spec_index].protocol != GroupProtocol::Share
                && !ready[i].load(Ordering::Relaxed)
        };
        let deadline = Instant::now() + MIN_CATCH_UP.max(self.args.request_timeout() * 3);
        while (0..groups.len()).any(waiting)
            && Instant::now() < deadline
            && !members.iter().any(JoinHandle::is_finished)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ticks until the warmup and the duration are over (or the ramp ended); `true` when a client stopped
    /// early (the run then ends with its error).
    async fn produce_phase(
        &self,
        control: &mut Control,
        producers: &[JoinHandle<Result<()>>],
        members: &[JoinHandle<Result<()>>],
    ) -> bool {
        let end = control.started + Duration::from_secs(self.scenario.warmup_secs + self.scenario.duration_secs);
        while Instant::now() < end && !control.ramp.as_ref().is_some_and(|r| r.done) {
            control.tick().await;
            if producers.iter().chain(members).any(JoinHandle::is_finished) {
                return true;
            }
        }
        false
    }

    /// Ticks until every group consumed what was acknowledged to its topic (on a compacted topic, where
    /// superseded records may be gone before they are read: until it read each partition's last record),
    /// or the catch-up time ran out.
    async fn catch_up(
        &self,
        control: &mut Control,
        groups: &[GroupPlan],
        members: &[JoinHandle<Result<()>>],
        problems: &mut Vec<String>,
    ) -> Result<()> {
        control.phase = "catch-up";
        let meter = Arc::clone(&control.meter);
        // The last record stored for good per partition, from the delivery reports (not the high watermark,
        // which on a transactional topic is past the last commit marker).
        let last_offsets: Vec<Option<Vec<(i32, i64)>>> = (0..self.topics.len())
            .map(|i| {
                let compacted =
                    self.scenario.topics[i].configs.get("cleanup.policy").is_some_and(|p| p.contains("compact"));
                compacted.then(|| meter.last_offsets(i))
            })
            .collect();
        let lagging = |gs: &[GroupPlan]| -> Vec<String> {
            gs.iter()
                .enumerate()
                .filter(|(_, g)| self.scenario.consumers[g.spec_index].protocol != GroupProtocol::Share)
                .filter(|(i, g)| match &last_offsets[g.topic_index] {
                    Some(last) => !meter.reached(*i, last),
                    None => meter.consumed_by(*i) < meter.acked_to(g.topic_index),
                })
                .map(|(i, g)| {
                    format!(
                        "group {} consumed {} of {} records",
                        g.id,
                        meter.consumed_by(i),
                        meter.acked_to(g.topic_index)
                    )
                })
                .collect()
        };
        let deadline = Instant::now() + MIN_CATCH_UP.max(self.args.request_timeout() * 3);
        while !lagging(groups).is_empty() && Instant::now() < deadline && !members.iter().any(JoinHandle::is_finished) {
            control.tick().await;
        }
        problems.extend(lagging(groups).into_iter().map(|l| format!("{l} (catch-up time ran out)")));
        Ok(())
    }

    async fn drain_shares(
        &self,
        control: &mut Control,
        groups: &[GroupPlan],
        problems: &mut Vec<String>,
    ) -> Result<()> {
        for (group_index, g) in groups.iter().enumerate() {
            let spec = &self.scenario.consumers[g.spec_index];
            if spec.protocol != GroupProtocol::Share {
                continue;
            }
            control.phase = "share";
            let (topic, partitions) = &self.topics[g.topic_index];
            let ranges = crate::cluster::stored(&self.cluster.watermarks(topic, partitions).await?);
            let mut args = self.args.clone();
            (args.topic, args.share_consumers, args.share_group) =
                (topic.clone(), u16::try_from(spec.count).unwrap_or(u16::MAX), Some(g.id.clone()));
            args.duration_secs = None;
            if let Some(problem) = share::drain(control, args, ranges, group_index).await? {
                problems.push(problem);
            }
        }
        Ok(())
    }

    fn totals(&self, meter: &Meter, groups: &[GroupPlan]) -> Totals {
        let (produced_records, produce_errors) = meter.totals();
        Totals {
            produced_records,
            produce_errors,
            consumed_by_group: groups.iter().enumerate().map(|(i, g)| (g.id.clone(), meter.consumed_by(i))).collect(),
            redelivered_records: meter.redelivered(),
            transactions_committed: meter.transactions_committed.load(Ordering::Relaxed),
            transactions_aborted: meter.transactions_aborted.load(Ordering::Relaxed),
            rejoins: meter.rejoins.load(Ordering::Relaxed),
            topics: Vec::new(),
            send_lag_p99_ms: meter.send_lag().percentile_ms(99.0),
            send_lag_max_ms: meter.send_lag().percentile_ms(100.0),
        }
    }

    fn report(
        &self,
        started_at_unix_ms: u64,
        settings: weft_report::RunSettings,
        meter: &Meter,
        control: Control,
        resources: Vec<weft_report::ResourceSample>,
    ) -> Run {
        let s = self.scenario;
        let latencies = meter.run_latencies();
        let histograms =
            [("produce_ack".to_string(), latencies.ack.buckets()), ("end_to_end".to_string(), latencies.e2e.buckets())];
        let mut run = Run {
            version: weft_report::REPORT_VERSION,
            scenario: s.name.clone(),
            description: s.description.clone(),
            started_at_unix_ms,
            target: Target {
                bootstrap_servers: self.args.bootstrap_servers.clone(),
                metrics_url: self.opts.metrics_url.clone(),
                pid: self.opts.target_pid,
            },
            settings,
            objective: s.objective.map(|o| Objective {
                latency: o.latency.as_str().to_string(),
                percentile: o.percentile,
                max_ms: o.max_ms,
            }),
            sustainable_records_per_sec: crate::scenario::sustainable_rate(&control.steps),
            intervals: control.intervals,
            steps: control.steps,
            histograms: histograms.into_iter().filter(|(_, b)| !b.is_empty()).collect(),
            percentiles: [("produce_ack", &latencies.ack), ("end_to_end", &latencies.e2e)]
                .into_iter()
                .filter_map(|(name, h)| {
                    let p = |q| h.percentile_ms(q);
                    Some((name.to_string(), Percentiles { p50_ms: p(50.0)?, p99_ms: p(99.0)?, p99_9_ms: p(99.9)? }))
                })
                .collect(),
            resources,
            bottleneck: None,
        };
        run.bottleneck = Some(weft_report::analyse(&run));
        run
    }
}

/// Waits for every thread while ticking; the first error wins.
async fn join_all(control: &mut Control, handles: Vec<JoinHandle<Result<()>>>, what: &str) -> Result<()> {
    while !handles.iter().all(JoinHandle::is_finished) {
        control.tick().await;
    }
    let mut first = Ok(());
    for h in handles {
        // Finished: joining does not block.
        let result = h
            .join()
            .map_err(|_| anyhow!("a {what} thread panicked"))
            .and_then(|r| r.with_context(|| format!("a {what} failed")));
        if first.is_ok() {
            first = result;
        }
    }
    first
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
