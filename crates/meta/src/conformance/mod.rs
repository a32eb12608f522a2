//! The behaviour every metastore backend must show, one module per capability trait, one public async function
//! per case. The cases use only the traits, so they pin semantics, not SQL.
//!
//! Compiled only with the cargo feature `testsuite` (and in this crate's own unit tests), so it is no part of
//! the production API. A backend runs the whole suite, one `#[tokio::test]` per case on a fresh store, with
//! one macro call in its test file:
//!
//! ```text
//! async fn fixture() -> weft_meta::conformance::Fixture { /* open an empty store */ }
//! weft_meta::metastore_conformance!(fixture().await);
//! ```
//!
//! The macro also emits `all_cases_share_one_store`, which runs every case in order on one store (as the
//! suite ran before it was split), so cases are also checked not to disturb each other.

pub mod acls;
pub mod agents;
pub mod catalog;
pub mod credentials;
pub mod group_configs;
pub mod groups;
pub mod health;
pub mod leases;
pub mod log;
pub mod log_maintenance;
pub mod objects;
pub mod producers;
pub mod quotas;
pub mod schemas;
pub mod share_states;
pub mod transactions;

use crate::{BatchAppend, Metastore, NewTopic};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

pub(crate) fn new_topic(name: &str, partitions: i32) -> NewTopic {
    let mut configs = BTreeMap::new();
    configs.insert("retention.ms".to_string(), "1000".to_string());
    NewTopic { name: name.into(), id: Uuid::new_v4(), partitions, configs, created_ms: 42 }
}

static NEXT_SET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub(crate) fn batch(topic_id: Uuid, partition: i32, byte_start: u64, span: i64, max_ts: i64) -> BatchAppend {
    BatchAppend {
        topic_id,
        partition,
        byte_start,
        byte_len: 100,
        offset_span: span,
        record_count: span as i32,
        max_timestamp: max_ts,
        producer: None,
        kind: crate::BatchKind::Plain,
        // Each batch is its own record set unless a case groups them.
        record_set: NEXT_SET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    }
}

/// An empty store for one case, with whatever must live as long as it (a temporary directory, a server).
pub struct Fixture {
    /// Dropped first, before what it lives in.
    pub store: Arc<dyn Metastore>,
    _keep: Box<dyn std::any::Any + Send>,
}

impl Fixture {
    /// A store and what must outlive it.
    pub fn new(store: Arc<dyn Metastore>, keep: impl std::any::Any + Send) -> Self {
        Fixture { store, _keep: Box::new(keep) }
    }
}

/// Emits the whole conformance suite for a backend: one `#[tokio::test]` per case, each on a fresh store from
/// `$fixture` (an expression, evaluated inside the async test, of type [`Fixture`]), in a module
/// `metastore_conformance::<capability>::<case>`, plus `metastore_conformance::all_cases_share_one_store`.
/// Names the expression uses must be visible where the macro is called; the calling crate needs `tokio` with
/// the `macros` and `rt` features.
#[macro_export]
macro_rules! metastore_conformance {
    ($fixture:expr) => {
        // Every case, by capability; keep in step with `run_all`, which lists the same cases in run order.
        $crate::__metastore_conformance_tests!($fixture;
            acls: acls_are_stored_once_and_versioned, deletions_remove_exact_bindings;
            agents: generations_fence_older_incarnations, liveness_follows_heartbeats, free_node_ids_are_allocated,
                peer_endpoints_follow_registrations;
            catalog: topics_lifecycle, configs;
            credentials: scram_credentials;
            groups: group_offsets, group_state, group_state_fenced_by_lease;
            group_configs: group_configs_compare_and_set, concurrent_group_config_writers_one_wins;
            health: store_answers_and_takes_writes;
            leases: leases, leases_in_bulk;
            log: offsets_are_dense_across_commits, index_reads_and_time_lookups, deleted_partitions_refuse_appends,
                out_of_sequence_sets_store_nothing, duplicates_answer_the_whole_set, transactional_sets,
                sets_must_be_of_one_partition, group_commits_are_sequential_commits;
            log_maintenance: rewrites, large_rewrites, continued_rewrites;
            objects: log_start_and_dead_objects, orphans_are_fenced_against_late_commits,
                segments_with_nothing_stored_are_dead_at_commit, many_keys_are_checked_fenced_and_forgotten_in_bulk;
            producers: idempotent_producers, producers_across_partitions;
            quotas: client_quotas;
            schemas: ids_are_global_and_versions_grow, deletes_are_soft_then_permanent, references_block_deletes,
                explicit_placement_and_settings, concurrent_registrations_never_duplicate;
            share_states: writes_are_fenced_by_epochs, start_offsets_alterations_and_deletions, deleted_states_never_reuse_epochs,
                concurrent_takeovers_have_one_winner, deleted_topics_take_their_share_states;
            transactions: transactions, late_markers_are_fenced;
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __metastore_conformance_tests {
    ($fixture:expr; $($module:ident: $($case:ident),+;)+) => {
        mod metastore_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                mod $module {
                    #[allow(unused_imports)]
                    use super::*;
                    $(
                        #[::tokio::test]
                        async fn $case() {
                            let harness: $crate::conformance::Fixture = $fixture;
                            $crate::conformance::$module::$case(&*harness.store).await;
                        }
                    )+
                }
            )+

            #[::tokio::test]
            async fn all_cases_share_one_store() {
                let harness: $crate::conformance::Fixture = $fixture;
                $crate::conformance::run_all(&*harness.store).await;
            }
        }
    };
}

/// Runs every case on one store, in the order the suite has always run them (later cases see earlier cases'
/// data, so the order is part of what is checked); panics with a description on the first violation.
pub async fn run_all(store: &dyn Metastore) {
    // The same cases as `metastore_conformance!`, in the order they share one store's data (e.g. `group_offsets`
    // must expire its offsets before `transactions` publishes more).
    catalog::topics_lifecycle(store).await;
    health::store_answers_and_takes_writes(store).await;
    log::offsets_are_dense_across_commits(store).await;
    log::index_reads_and_time_lookups(store).await;
    log::index_reads_across_pages(store).await;
    log::deleted_partitions_refuse_appends(store).await;
    groups::group_offsets(store).await;
    groups::group_state(store).await;
    groups::group_state_fenced_by_lease(store).await;
    producers::idempotent_producers(store).await;
    producers::producers_across_partitions(store).await;
    transactions::transactions(store).await;
    transactions::late_markers_are_fenced(store).await;
    log::out_of_sequence_sets_store_nothing(store).await;
    log::duplicates_answer_the_whole_set(store).await;
    log::transactional_sets(store).await;
    log::group_commits_are_sequential_commits(store).await;
    log::sets_must_be_of_one_partition(store).await;
    catalog::configs(store).await;
    objects::log_start_and_dead_objects(store).await;
    objects::orphans_are_fenced_against_late_commits(store).await;
    objects::segments_with_nothing_stored_are_dead_at_commit(store).await;
    objects::many_keys_are_checked_fenced_and_forgotten_in_bulk(store).await;
    log_maintenance::rewrites(store).await;
    log_maintenance::large_rewrites(store).await;
    log_maintenance::continued_rewrites(store).await;
    leases::leases(store).await;
    leases::leases_in_bulk(store).await;
    agents::generations_fence_older_incarnations(store).await;
    agents::liveness_follows_heartbeats(store).await;
    agents::free_node_ids_are_allocated(store).await;
    credentials::scram_credentials(store).await;
    agents::peer_endpoints_follow_registrations(store).await;
    quotas::client_quotas(store).await;
    group_configs::group_configs_compare_and_set(store).await;
    group_configs::concurrent_group_config_writers_one_wins(store).await;
    acls::acls_are_stored_once_and_versioned(store).await;
    acls::deletions_remove_exact_bindings(store).await;
    schemas::ids_are_global_and_versions_grow(store).await;
    schemas::deletes_are_soft_then_permanent(store).await;
    schemas::references_block_deletes(store).await;
    schemas::explicit_placement_and_settings(store).await;
    schemas::concurrent_registrations_never_duplicate(store).await;
    share_states::writes_are_fenced_by_epochs(store).await;
    share_states::start_offsets_alterations_and_deletions(store).await;
    share_states::deleted_states_never_reuse_epochs(store).await;
    share_states::concurrent_takeovers_have_one_winner(store).await;
    share_states::deleted_topics_take_their_share_states(store).await;
}
