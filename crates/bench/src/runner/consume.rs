//! One member of a scenario consumer group on its own thread: subscribes with the group's protocol
//! (`classic` or KIP-848 `consumer`), reads committed records from the earliest offset of the run's fresh
//! topic, and feeds the meter (distinct records per group, end-to-end latency from the send time in each
//! value). In a rebalance storm the member leaves and joins again on its turn.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use super::meter::Meter;
use crate::consumer::{BenchConsumer, BenchContext};
use crate::payload::decode_group_e2e_header;
use crate::scenario::GroupProtocol;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// What one member thread needs.
pub(crate) struct MemberPlan {
    pub topic: String,
    pub group_id: String,
    /// The group's index in the run (for the meter).
    pub group_index: usize,
    pub protocol: GroupProtocol,
    /// This member's index in its group and the group's size (storm turns go round them).
    pub member: u32,
    pub members: u32,
    pub storm_every: Option<Duration>,
    /// Set when the producers stopped: the storm ends so the group can catch up.
    pub calm: Arc<AtomicBool>,
    pub run_id: u64,
    /// Producer groups of the run (e2e headers carry `run_id + group`).
    pub producer_groups: usize,
    pub stop: Arc<AtomicBool>,
    /// Set once a member of the group has partitions assigned.
    pub ready: Arc<AtomicBool>,
    pub fetch_wait_max_ms: u64,
}

/// librdkafka settings of a group member on top of the shared client settings.
pub(crate) fn member_config(base: &ClientConfig, plan: &MemberPlan) -> ClientConfig {
    let mut config = base.clone();
    let protocol = if plan.protocol == GroupProtocol::Consumer { "consumer" } else { "classic" };
    config
        .set("group.id", &plan.group_id)
        .set("group.protocol", protocol)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", plan.fetch_wait_max_ms.to_string());
    config
}

fn subscribed(config: &ClientConfig, plan: &MemberPlan) -> Result<BenchConsumer> {
    let consumer: BenchConsumer = config
        .create_with_context(BenchContext)
        .with_context(|| format!("creating a member of group `{}`", plan.group_id))?;
    consumer.subscribe(&[&plan.topic]).with_context(|| format!("subscribing to topic `{}`", plan.topic))?;
    Ok(consumer)
}

/// Runs one member until `stop`; blocking (run it on its own thread). `started` is the run's start, which
/// times the storm's turns.
pub(crate) fn run_member(plan: MemberPlan, base: &ClientConfig, meter: Arc<Meter>, started: Instant) -> Result<()> {
    let config = member_config(base, &plan);
    let mut consumer = subscribed(&config, &plan)?;
    let mut turn = 0u64;
    while !plan.stop.load(Ordering::Acquire) {
        match consumer.poll(POLL_TIMEOUT) {
            Some(Ok(msg)) => {
                let sent = msg.payload().and_then(|p| decode_group_e2e_header(p, plan.run_id, plan.producer_groups));
                let bytes = msg.payload_len() + msg.key().map_or(0, <[u8]>::len);
                meter.consumed(plan.group_index, msg.partition(), msg.offset(), bytes as u64, sent);
            }
            Some(Err(_)) => meter.consume_failed(),
            None => {}
        }
        if !plan.ready.load(Ordering::Relaxed) && consumer.assignment().is_ok_and(|a| a.count() > 0) {
            plan.ready.store(true, Ordering::Relaxed);
        }
        if let Some(every) = plan.storm_every.filter(|_| !plan.calm.load(Ordering::Relaxed)) {
            let now_turn = started.elapsed().as_secs() / every.as_secs().max(1);
            if now_turn > turn {
                turn = now_turn;
                if now_turn % u64::from(plan.members.max(1)) == u64::from(plan.member) {
                    consumer = rejoin(consumer, &config, &plan)?;
                    meter.rejoins.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    consumer.unsubscribe();
    Ok(())
}

/// Leaves the group (closing the consumer commits its offsets and sends LeaveGroup) and joins again.
fn rejoin(consumer: BaseConsumer<BenchContext>, config: &ClientConfig, plan: &MemberPlan) -> Result<BenchConsumer> {
    consumer.unsubscribe();
    drop(consumer);
    subscribed(config, plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_read_committed_from_the_earliest_offset_with_their_protocol() {
        let plan = MemberPlan {
            topic: "t".into(),
            group_id: "g".into(),
            group_index: 0,
            protocol: GroupProtocol::Consumer,
            member: 0,
            members: 1,
            storm_every: None,
            calm: Arc::new(AtomicBool::new(false)),
            run_id: 1,
            producer_groups: 1,
            stop: Arc::new(AtomicBool::new(false)),
            ready: Arc::new(AtomicBool::new(false)),
            fetch_wait_max_ms: 100,
        };
        let c = member_config(&ClientConfig::new(), &plan);
        assert_eq!(c.get("group.protocol"), Some("consumer"));
        assert_eq!(c.get("isolation.level"), Some("read_committed"));
        assert_eq!(c.get("auto.offset.reset"), Some("earliest"));
        let classic = MemberPlan { protocol: GroupProtocol::Classic, ..plan };
        assert_eq!(member_config(&ClientConfig::new(), &classic).get("group.protocol"), Some("classic"));
    }
}
