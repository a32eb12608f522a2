use super::*;
use uuid::Uuid;
use weft_meta::CommittedOffset;

fn init_req(expected: Option<(i64, i16)>) -> InitRequest {
    InitRequest { transactional_id: "t".into(), timeout_ms: 60_000, expected, fresh_producer_id: 77, now_ms: 5 }
}

fn part(p: i32) -> TxnPartition {
    TxnPartition { topic: "orders".into(), topic_id: Uuid::nil(), partition: p }
}

fn offset(group: &str, partition: i32, at: i64) -> PendingOffset {
    PendingOffset {
        group: group.into(),
        offset: CommittedOffset {
            topic: "orders".into(),
            partition,
            offset: at,
            leader_epoch: -1,
            metadata: None,
            commit_ms: 5,
        },
    }
}

fn fresh() -> TransactionMeta {
    init(None, init_req(None)).expect("new id").meta
}

fn ongoing() -> TransactionMeta {
    add_partitions(Some(fresh()), 77, 0, &[part(0), part(1)], 10).expect("add").meta
}

#[test]
fn a_new_id_gets_a_fresh_producer_and_reinit_fences_the_old_epoch() {
    let m = fresh();
    assert_eq!((m.producer_id, m.producer_epoch, m.state), (77, 0, TxnState::Empty));
    let again = init(Some(m.clone()), init_req(None)).expect("reinit").meta;
    assert_eq!((again.producer_id, again.producer_epoch, again.last_producer_epoch), (77, 1, -1));
    // The producer at epoch 0 is now fenced everywhere.
    assert_eq!(add_partitions(Some(again.clone()), 77, 0, &[part(0)], 6).unwrap_err(), TxnError::ProducerFenced);
    assert_eq!(prepare_end(Some(again), 77, 0, true, 6).unwrap_err(), TxnError::ProducerFenced);
}

#[test]
fn kip_360_bumps_for_the_holder_and_fences_strangers() {
    let m = fresh();
    let bumped = init(Some(m.clone()), init_req(Some((77, 0)))).expect("bump").meta;
    assert_eq!((bumped.producer_epoch, bumped.last_producer_epoch), (1, 0));
    // A retry of the same call (the response was lost) gets the same epoch, not another bump.
    let retried = init(Some(bumped.clone()), init_req(Some((77, 0)))).expect("retry").meta;
    assert_eq!(retried.producer_epoch, 1);
    assert_eq!(init(Some(bumped.clone()), init_req(Some((78, 1)))).unwrap_err(), TxnError::ProducerFenced);
    assert_eq!(init(Some(bumped), init_req(Some((77, 5)))).unwrap_err(), TxnError::ProducerFenced);
}

#[test]
fn exhausted_epochs_rotate_to_a_new_producer_id() {
    let mut m = fresh();
    m.producer_epoch = i16::MAX - 1;
    m.producer_id = 5;
    let rotated = init(Some(m), init_req(None)).expect("rotate").meta;
    assert_eq!((rotated.producer_id, rotated.producer_epoch), (77, 0));
}

#[test]
fn init_waits_for_a_transaction_in_progress() {
    assert_eq!(init(Some(ongoing()), init_req(None)).unwrap_err(), TxnError::ConcurrentTransactions);
}

#[test]
fn adding_partitions_starts_the_transaction_once() {
    let m = ongoing();
    assert_eq!((m.state, m.start_ms, m.partitions.len()), (TxnState::Ongoing, 10, 2));
    let more = add_partitions(Some(m), 77, 0, &[part(1), part(2)], 20).expect("add").meta;
    assert_eq!((more.start_ms, more.partitions.len()), (10, 3), "start time kept, duplicates ignored");
    assert_eq!(add_partitions(None, 77, 0, &[part(0)], 6).unwrap_err(), TxnError::InvalidProducerIdMapping);
    assert_eq!(add_partitions(Some(more), 78, 0, &[part(0)], 6).unwrap_err(), TxnError::InvalidProducerIdMapping);
}

#[test]
fn end_txn_follows_kafkas_state_table() {
    // Nothing to end.
    assert_eq!(prepare_end(Some(fresh()), 77, 0, true, 6).unwrap_err(), TxnError::InvalidTxnState);
    let (prepared, markers) = prepare_end(Some(ongoing()), 77, 0, true, 30).expect("commit");
    assert!(markers);
    assert_eq!(prepared.meta.state, TxnState::PrepareCommit);
    // While markers are written: a retry is told to wait; the opposite decision is invalid.
    let p = prepared.meta.clone();
    assert_eq!(prepare_end(Some(p.clone()), 77, 0, true, 31).unwrap_err(), TxnError::ConcurrentTransactions);
    assert_eq!(prepare_end(Some(p.clone()), 77, 0, false, 31).unwrap_err(), TxnError::InvalidTxnState);
    assert_eq!(add_partitions(Some(p.clone()), 77, 0, &[part(0)], 31).unwrap_err(), TxnError::ConcurrentTransactions);
    let done = complete(Some(p.clone()), &p, 40).expect("complete").meta;
    assert_eq!((done.state, done.start_ms, done.partitions.len()), (TxnState::CompleteCommit, -1, 0));
    // A retried EndTxn after completion succeeds without new markers; the opposite one is invalid.
    let (_, markers) = prepare_end(Some(done.clone()), 77, 0, true, 41).expect("retry");
    assert!(!markers);
    assert_eq!(prepare_end(Some(done), 77, 0, false, 41).unwrap_err(), TxnError::InvalidTxnState);
}

#[test]
fn a_late_completion_does_not_complete_the_producers_next_transaction() {
    let (first, _) = prepare_end(Some(ongoing()), 77, 0, true, 30).expect("commit");
    let done = complete(Some(first.meta.clone()), &first.meta, 40).expect("complete").meta;
    // The producer's next transaction at the same epoch, prepared the same way, on the same partitions.
    let next = add_partitions(Some(done), 77, 0, &first.meta.partitions, 50).expect("add").meta;
    let (second, _) = prepare_end(Some(next), 77, 0, true, 60).expect("commit");
    assert_eq!(complete(Some(second.meta.clone()), &first.meta, 70).unwrap_err(), TxnError::ConcurrentTransactions);
    assert!(complete(Some(second.meta.clone()), &second.meta, 70).is_ok());
}

#[test]
fn staged_offsets_publish_on_commit_only() {
    let m = add_group(Some(ongoing()), 77, 0, "g", 11).expect("add group").meta;
    assert_eq!(
        stage_offsets(Some(m.clone()), 77, 0, vec![offset("other", 0, 5)], 12).unwrap_err(),
        TxnError::InvalidTxnState,
        "the group was not added to the transaction"
    );
    let m = stage_offsets(Some(m), 77, 0, vec![offset("g", 0, 5)], 12).expect("stage").meta;
    let m = stage_offsets(Some(m), 77, 0, vec![offset("g", 0, 9)], 13).expect("restage").meta;
    assert_eq!(m.pending_offsets, vec![offset("g", 0, 9)], "a later commit of a partition replaces the earlier");
    let (commit, _) = prepare_end(Some(m.clone()), 77, 0, true, 14).expect("commit");
    let w = complete(Some(commit.meta.clone()), &commit.meta, 15).expect("complete");
    assert_eq!(w.publish_offsets, vec![offset("g", 0, 9)]);
    assert!(w.meta.pending_offsets.is_empty());
    let (abort, _) = prepare_end(Some(m), 77, 0, false, 14).expect("abort");
    let w = complete(Some(abort.meta.clone()), &abort.meta, 15).expect("complete");
    assert!(w.publish_offsets.is_empty(), "an abort drops staged offsets");
}

#[test]
fn a_zombie_cannot_stage_offsets_after_being_fenced() {
    let m = add_group(Some(ongoing()), 77, 0, "g", 11).expect("add group").meta;
    let fenced = prepare_fence(Some(m), true, 20).expect("fence").meta;
    assert_eq!((fenced.state, fenced.producer_epoch, fenced.last_producer_epoch), (TxnState::PrepareAbort, 1, 0));
    assert_eq!(stage_offsets(Some(fenced), 77, 0, vec![offset("g", 0, 5)], 21).unwrap_err(), TxnError::ProducerFenced);
}

#[test]
fn a_timed_out_producer_recovers_with_kip_588() {
    let fenced = prepare_fence(Some(ongoing()), true, 20).expect("fence").meta;
    let done = complete(Some(fenced.clone()), &fenced, 21).expect("complete").meta;
    assert_eq!(done.state, TxnState::CompleteAbort);
    // The old producer (epoch 0) may resume: it is handed the bumped epoch.
    let resumed = init(Some(done.clone()), init_req(Some((77, 0)))).expect("recover").meta;
    assert_eq!(resumed.producer_epoch, 1);
    // A fence by a new producer is not recoverable.
    let fenced = prepare_fence(Some(ongoing()), false, 20).expect("fence").meta;
    let done = complete(Some(fenced.clone()), &fenced, 21).expect("complete").meta;
    assert_eq!(init(Some(done), init_req(Some((77, 0)))).unwrap_err(), TxnError::ProducerFenced);
}

#[test]
fn completion_is_refused_if_someone_else_completed_first() {
    let (prepared, _) = prepare_end(Some(ongoing()), 77, 0, false, 30).expect("abort");
    let done = complete(Some(prepared.meta.clone()), &prepared.meta, 31).expect("complete").meta;
    assert_eq!(complete(Some(done), &prepared.meta, 32).unwrap_err(), TxnError::ConcurrentTransactions);
}
