//! One share-group member's membership: joins with ShareGroupHeartbeat v1 (epoch 0, the topic), heartbeats
//! at the interval the coordinator asks for, publishes the partitions assigned to it, rejoins with the same
//! member id when fenced (as librdkafka does) and leaves with epoch -1 when told to stop.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, bail};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{GroupId, ShareGroupHeartbeatRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use uuid::Uuid;

use super::wire::{Conn, str_bytes};

/// UNKNOWN_MEMBER_ID and FENCED_MEMBER_EPOCH: rejoin with epoch 0.
const REJOIN: [i16; 2] = [25, 110];
/// Bounds on the heartbeat interval the coordinator asks for.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(30);
/// Rejoins in a row before the member gives up.
const MAX_REJOINS: u32 = 20;

/// Who the member is and what it subscribes to.
pub(crate) struct MemberId {
    pub group: String,
    pub member: String,
    pub topic: String,
    pub topic_id: Uuid,
}

/// A Kafka error code and message as one line.
pub(crate) fn error_text(code: i16, message: Option<&StrBytes>) -> String {
    let name = ResponseError::try_from_code(code).map_or_else(|| format!("error {code}"), |e| e.to_string());
    match message.map(|m| m.as_str()).filter(|m| !m.is_empty()) {
        Some(m) => format!("{m} ({name})"),
        None => name,
    }
}

/// Heartbeats until `stop` turns true, then leaves. `assigned` gets the member's partitions of the topic
/// each time the coordinator sends an assignment.
pub(crate) async fn run_member(
    mut conn: Conn,
    id: MemberId,
    assigned: watch::Sender<Option<BTreeSet<i32>>>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut epoch = 0;
    let mut rejoins = 0;
    while !*stop.borrow() {
        let topics = (epoch == 0).then(|| vec![TopicName(str_bytes(&id.topic))]);
        let resp = conn.call(1, &request(&id, epoch).with_subscribed_topic_names(topics)).await?;
        if REJOIN.contains(&resp.error_code) && rejoins < MAX_REJOINS {
            (epoch, rejoins) = (0, rejoins + 1);
            tokio::time::sleep(MIN_INTERVAL).await;
            continue;
        }
        if resp.error_code != 0 {
            bail!(
                "ShareGroupHeartbeat of {} in {}: {}",
                id.member,
                id.group,
                error_text(resp.error_code, resp.error_message.as_ref())
            );
        }
        (epoch, rejoins) = (resp.member_epoch, 0);
        if let Some(a) = resp.assignment {
            let mine = a.topic_partitions.iter().filter(|t| t.topic_id == id.topic_id);
            let _ = assigned.send(Some(mine.flat_map(|t| t.partitions.iter().copied()).collect()));
        }
        let ms = u64::try_from(resp.heartbeat_interval_ms).unwrap_or(0);
        let interval = Duration::from_millis(ms).clamp(MIN_INTERVAL, MAX_INTERVAL);
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    break; // the run is gone: nobody to report to
                }
            }
        }
    }
    if epoch > 0 {
        let resp = conn.call(1, &request(&id, -1)).await?;
        if resp.error_code != 0 {
            bail!("{} leaving {}: {}", id.member, id.group, error_text(resp.error_code, resp.error_message.as_ref()));
        }
    }
    Ok(())
}

fn request(id: &MemberId, epoch: i32) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(&id.group)))
        .with_member_id(str_bytes(&id.member))
        .with_member_epoch(epoch)
}

/// A new member id as Kafka clients make them: a random UUID in URL-safe base64 without padding.
pub(crate) fn new_member_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn member_ids_are_22_url_safe_characters() {
        let (a, b) = (super::new_member_id(), super::new_member_id());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{a}");
    }
}
