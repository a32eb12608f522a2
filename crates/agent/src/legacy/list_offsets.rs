//! ListOffsets v0: up to `max_num_offsets` offsets "before" a time, newest first (Kafka's
//! `legacyFetchOffsetsBefore`).
//!
//! Kafka answers from its segment files: each segment's base offset stamped with the file's modification
//! time, plus the log end offset stamped now; LATEST starts at the end, EARLIEST at the first segment, and a
//! time at the newest entry stamped at or before it. Weft has no segment files, so each partition is
//! answered as one segment starting at the log start, stamped with its newest record timestamp (its last
//! write); LATEST with one offset is the high watermark and EARLIEST the log start, exactly as Kafka.

use crate::Agent;
use crate::handlers;
use crate::handlers::list_offsets::{EARLIEST, LATEST, MAX_TIMESTAMP};
use crate::request::RequestContext;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName};
use kafka_protocol_k3::messages as k3;
use kafka_protocol_k3::messages::list_offsets_response as r3;

/// The 0.18 versions the lookups run at: v1 for earliest and latest, v7 for the newest timestamp.
const LOOKUP_AS: i16 = 1;
const MAX_TIMESTAMP_AS: i16 = 7;

/// Kafka's v0 answer for one partition whose log spans `log_start..end`, whose newest record has time
/// `newest` (None: no record), at time `now`.
pub fn old_style_offsets(
    timestamp: i64,
    max_num_offsets: i32,
    log_start: i64,
    end: i64,
    newest: Option<i64>,
    now: i64,
) -> Vec<i64> {
    // (offset, time) entries, oldest first: the one segment, then the log end if the segment holds data.
    // An empty log's segment is as old as the epoch here (Kafka: its file's creation time).
    let mut entries = vec![(log_start, newest.unwrap_or(0))];
    if end > log_start {
        entries.push((end, now));
    }
    let start = match timestamp {
        LATEST => Some(entries.len() - 1),
        EARLIEST => Some(0),
        t => entries.iter().rposition(|&(_, time)| time <= t),
    };
    let Some(start) = start else { return Vec::new() };
    let count = usize::try_from(max_num_offsets).unwrap_or(0).min(start + 1);
    entries[..=start].iter().rev().take(count).map(|&(offset, _)| offset).collect()
}

/// One 0.18 request asking `timestamp` for every partition of the v0 request, in its order.
fn lookups(req: &k3::ListOffsetsRequest, timestamp: i64) -> ListOffsetsRequest {
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    ListOffsetsPartition::default().with_partition_index(p.partition_index).with_timestamp(timestamp)
                })
                .collect();
            ListOffsetsTopic::default().with_name(TopicName(super::to18(&t.name.0))).with_partitions(partitions)
        })
        .collect();
    ListOffsetsRequest::default().with_replica_id(BrokerId(req.replica_id.0)).with_topics(topics)
}

/// (error code, offset, timestamp) of partition `p` of topic `t` in a response to [`lookups`].
fn answer(resp: &ListOffsetsResponse, t: usize, p: usize) -> (i16, i64, i64) {
    resp.topics
        .get(t)
        .and_then(|topic| topic.partitions.get(p))
        .map(|r| (r.error_code, r.offset, r.timestamp))
        // The handler answers every partition it is asked about; a missing one is a bug, not a client error.
        .unwrap_or((kafka_protocol::ResponseError::UnknownServerError.code(), -1, -1))
}

pub async fn handle(agent: &Agent, ctx: &RequestContext, req: k3::ListOffsetsRequest) -> k3::ListOffsetsResponse {
    let earliest = handlers::list_offsets::handle(agent, ctx, lookups(&req, EARLIEST), LOOKUP_AS).await;
    let latest = handlers::list_offsets::handle(agent, ctx, lookups(&req, LATEST), LOOKUP_AS).await;
    let by_time =
        req.topics.iter().any(|t| t.partitions.iter().any(|p| p.timestamp != LATEST && p.timestamp != EARLIEST));
    let newest = if by_time {
        Some(handlers::list_offsets::handle(agent, ctx, lookups(&req, MAX_TIMESTAMP), MAX_TIMESTAMP_AS).await)
    } else {
        None
    };
    let now = agent.clock.now_ms();
    let topics = req
        .topics
        .iter()
        .enumerate()
        .map(|(ti, t)| {
            let partitions = t
                .partitions
                .iter()
                .enumerate()
                .map(|(pi, p)| {
                    let out = r3::ListOffsetsPartitionResponse::default().with_partition_index(p.partition_index);
                    let (e1, log_start, _) = answer(&earliest, ti, pi);
                    let (e2, end, _) = answer(&latest, ti, pi);
                    let (e3, _, newest_ts) = newest.as_ref().map(|r| answer(r, ti, pi)).unwrap_or((0, -1, -1));
                    match [e1, e2, e3].into_iter().find(|&e| e != 0) {
                        Some(code) => out.with_error_code(code),
                        None => {
                            let newest_ts = (newest_ts >= 0).then_some(newest_ts);
                            out.with_old_style_offsets(old_style_offsets(
                                p.timestamp,
                                p.max_num_offsets,
                                log_start,
                                end,
                                newest_ts,
                                now,
                            ))
                        }
                    }
                })
                .collect();
            r3::ListOffsetsTopicResponse::default().with_name(t.name.clone()).with_partitions(partitions)
        })
        .collect();
    k3::ListOffsetsResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_and_earliest_answer_as_kafka_does() {
        // A log holding offsets 5..12, newest record at t=1000, asked at t=2000.
        assert_eq!(old_style_offsets(LATEST, 1, 5, 12, Some(1000), 2000), vec![12]);
        assert_eq!(old_style_offsets(LATEST, 10, 5, 12, Some(1000), 2000), vec![12, 5]);
        assert_eq!(old_style_offsets(EARLIEST, 10, 5, 12, Some(1000), 2000), vec![5]);
        // An empty log has one entry: its start, which is also its end.
        assert_eq!(old_style_offsets(LATEST, 10, 7, 7, None, 2000), vec![7]);
        assert_eq!(old_style_offsets(EARLIEST, 1, 7, 7, None, 2000), vec![7]);
        // No offsets asked for, none given.
        assert_eq!(old_style_offsets(LATEST, 0, 5, 12, Some(1000), 2000), Vec::<i64>::new());
        assert_eq!(old_style_offsets(LATEST, -1, 5, 12, Some(1000), 2000), Vec::<i64>::new());
    }

    #[test]
    fn a_time_finds_the_newest_entry_at_or_before_it() {
        assert_eq!(old_style_offsets(999, 10, 5, 12, Some(1000), 2000), Vec::<i64>::new());
        assert_eq!(old_style_offsets(1000, 10, 5, 12, Some(1000), 2000), vec![5]);
        assert_eq!(old_style_offsets(1999, 10, 5, 12, Some(1000), 2000), vec![5]);
        assert_eq!(old_style_offsets(2000, 10, 5, 12, Some(1000), 2000), vec![12, 5]);
        assert_eq!(old_style_offsets(5000, 1, 5, 12, Some(1000), 2000), vec![12]);
        assert_eq!(old_style_offsets(0, 1, 7, 7, None, 2000), vec![7]);
        assert_eq!(old_style_offsets(-3, 1, 7, 7, None, 2000), Vec::<i64>::new());
    }
}
