//! Runs a scenario: creates its topics (fresh names per run), starts the group consumers, the producers and
//! the sampler, ticks once a second into intervals and ramp steps, then stops the producers, lets the
//! consumers catch up, drains share groups, and assembles the `weft_report::Run` (bottleneck included).
//! The topics are deleted at the end unless kept.

mod consume;
mod control;
mod live;
mod meter;
mod output;
mod produce;
mod settings;
mod share;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;
use tokio::task::JoinHandle;
use weft_report::{Objective, Run, Sampler, SamplerConfig, Target};

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
}

/// A finished run: the report, the totals, and what went wrong without stopping it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run: Run,
    pub totals: Totals,
    pub problems: Vec<String>,
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
    let mut topics = Vec::new();
    for (i, t) in scenario.topics.iter().enumerate() {
        let name = format!("weft-bench-{}-{}-{suffix}", scenario.name, t.name);
        let configs: Vec<(String, String)> = t.configs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let partitions = cluster.create_topic(&name, t.partitions, &configs).await?;
        let described = cluster.topic_configs(&name).await.unwrap_or_default();
        settings::add_topic(&mut settings, i, &name, &described, &t.configs.keys().cloned().collect::<Vec<_>>());
        topics.push((name, partitions));
    }
    let names: Vec<String> = topics.iter().map(|(n, _)| n.clone()).collect();
    let run = Runner { scenario, args, opts, cluster: &cluster, clock, run_id, suffix, topics };
    let result = run.drive(started_at_unix_ms, settings).await;
    if !opts.keep_topics
        && let Err(e) = cluster.delete_topics(&names).await
    {
        eprintln!("warning: {e:#}");
    }
    let mut outcome = result?;
    outcome.totals.topics = names;
    Ok(outcome)
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
        let meter = Arc::new(Meter::new(self.clock, self.topics.len(), groups.len()));
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
        let ramp = s.producers.iter().zip(&rates).find_map(|(p, rate)| {
            Some(RampRun::new(crate::scenario::Ramp::new(p.ramp?), s.objective?, Arc::clone(rate)))
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
        produced?;
        consumed?;
        result?;
        if failed {
            return Err(anyhow!("a client stopped before the end of the run"));
        }
        let totals = self.totals(&meter, &groups);
        let run = self.report(started_at_unix_ms, settings, &meter, control, resources);
        Ok(Outcome { run, totals, problems })
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
                    stop: Arc::clone(&stops.consumers),
                    calm: Arc::clone(&stops.producers),
                    ready: Arc::clone(&ready[group_index]),
                    fetch_wait_max_ms: self.args.fetch_wait_max_ms,
                };
                let (base, meter) = (self.args.base_config(), Arc::clone(meter));
                handles.push(tokio::task::spawn_blocking(move || run_member(plan, &base, meter, started)));
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
            for index in 0..spec.count {
                let plan = ProducerPlan {
                    spec: spec.clone(),
                    topic: self.topics[topic_index].0.clone(),
                    topic_index,
                    index,
                    rate: Arc::clone(&rate),
                    stop: Arc::clone(stop),
                    run_id: self.run_id,
                    transactional_id: format!("weft-bench-{}-p{group}-{index}", self.suffix),
                };
                let (base, meter) = (self.args.base_config(), Arc::clone(meter));
                handles.push(tokio::task::spawn_blocking(move || run_producer(plan, &base, meter)));
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
        let mut last_offsets = Vec::new();
        for (i, (name, partitions)) in self.topics.iter().enumerate() {
            let compacted =
                self.scenario.topics[i].configs.get("cleanup.policy").is_some_and(|p| p.contains("compact"));
            let marks = self.cluster.watermarks(name, partitions).await?;
            last_offsets.push(compacted.then(|| marks.iter().map(|m| (m.partition, m.high - 1)).collect::<Vec<_>>()));
        }
        let meter = Arc::clone(&control.meter);
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
            resources,
            bottleneck: None,
        };
        run.bottleneck = Some(weft_report::analyse(&run));
        run
    }
}

/// Waits for every handle while ticking; the first error wins.
async fn join_all(control: &mut Control, handles: Vec<JoinHandle<Result<()>>>, what: &str) -> Result<()> {
    while !handles.iter().all(JoinHandle::is_finished) {
        control.tick().await;
    }
    let mut first = Ok(());
    for h in handles {
        let result = h
            .await
            .map_err(|e| anyhow!("a {what} thread panicked: {e}"))
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
