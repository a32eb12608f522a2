//! Metadata schema, versioned from the first release. Each backend has its own DDL (types differ); the
//! queries in `sql/` are shared. A store whose version is newer than this build is refused.
//!
//! Both lists hold one entry per version, in order: a new version appends one entry to each (the
//! `every_backend_has_every_version` test checks they stay in step).

/// Current schema version. Bump it with a new migration; never edit a released one.
pub const SCHEMA_VERSION: i64 = 15;

/// Migrations for SQLite, indexed by the version they produce (1-based).
pub const SQLITE_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS weft_schema (version BIGINT NOT NULL);
CREATE TABLE cluster (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    cluster_id TEXT NOT NULL
);
CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    configs TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE partitions (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    log_start BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id)
);
CREATE TABLE batches (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    base_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    record_count INTEGER NOT NULL,
    max_timestamp BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    byte_start BIGINT NOT NULL,
    byte_len INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition_id, base_offset)
);
CREATE TABLE objects (
    object_key TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    committed_offset BIGINT NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, topic, partition_id)
);
"#,
    r#"
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('producer_id', 1000);
CREATE TABLE producer_state (
    producer_id BIGINT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    recent TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition_id)
);
"#,
    r#"
CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id BIGINT NOT NULL,
    producer_epoch INTEGER NOT NULL,
    last_producer_epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    start_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX transactions_by_producer ON transactions (producer_id);
CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    PRIMARY KEY (transactional_id, topic_id, partition_id)
);
CREATE TABLE txn_groups (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (transactional_id, group_id)
);
CREATE TABLE txn_offsets (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    committed_offset BIGINT NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms BIGINT NOT NULL,
    PRIMARY KEY (transactional_id, group_id, topic, partition_id)
);
CREATE INDEX txn_offsets_by_group ON txn_offsets (group_id);
CREATE TABLE open_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, producer_id)
);
CREATE TABLE aborted_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, last_offset)
);
"#,
    r#"
CREATE TABLE cluster_configs (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
ALTER TABLE partitions ADD COLUMN clean_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN dead_ms BIGINT;
CREATE INDEX batches_by_object ON batches (object_key);
CREATE INDEX objects_by_dead ON objects (dead_ms);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE group_state (
    group_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    protocol_type TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE agents (
    node_id INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    zone TEXT NOT NULL,
    roles TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    stopped_ms BIGINT
);
"#,
    r#"
CREATE TABLE scram_credentials (
    user_name TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    salt TEXT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (user_name, mechanism)
);
"#,
    // v9: where agents of a zone read objects from each other (NULL: none, never chosen as an owner).
    r#"
ALTER TABLE agents ADD COLUMN peer_endpoint TEXT;
"#,
    // v10: each agent's advertised listeners (name://host:port with its protocol), for Metadata per listener.
    r#"
ALTER TABLE agents ADD COLUMN listeners TEXT NOT NULL DEFAULT '';
"#,
    // v11: client quotas (user and client-id entities).
    r#"
CREATE TABLE client_quotas (
    user_part TEXT NOT NULL,
    client_part TEXT NOT NULL,
    quota_key TEXT NOT NULL,
    quota_value REAL NOT NULL,
    PRIMARY KEY (user_part, client_part, quota_key)
);
"#,
    // v12: ACL bindings and their version (bumped with every change, polled by agents).
    r#"
CREATE TABLE acls (
    resource_type INTEGER NOT NULL,
    resource_name TEXT NOT NULL,
    pattern_type INTEGER NOT NULL,
    principal TEXT NOT NULL,
    host TEXT NOT NULL,
    operation INTEGER NOT NULL,
    permission INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_name, pattern_type, principal, host, operation, permission)
);
CREATE TABLE acl_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version BIGINT NOT NULL
);
INSERT INTO acl_version (singleton, version) VALUES (1, 0);
"#,
    // v13: the schema registry: schemas by global id, subject versions, settings, and the id counter whose row
    // serialises registry writers.
    r#"
CREATE TABLE registry_schemas (
    schema_id BIGINT PRIMARY KEY,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE
);
CREATE TABLE registry_references (
    schema_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    ref_name TEXT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version BIGINT NOT NULL,
    PRIMARY KEY (schema_id, position)
);
CREATE INDEX registry_references_target ON registry_references (ref_subject, ref_version);
CREATE TABLE registry_versions (
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    schema_id BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
);
CREATE INDEX registry_versions_schema ON registry_versions (schema_id);
CREATE TABLE registry_settings (
    scope TEXT PRIMARY KEY,
    compatibility TEXT,
    normalize INTEGER,
    mode TEXT
);
CREATE TABLE registry_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_id BIGINT NOT NULL
);
INSERT INTO registry_state (singleton, next_id) VALUES (1, 1);
"#,
    // v14: dynamic group configs (the GROUP config resource): one row per group, its configs as a JSON object
    // and the version every compare-and-set write checks.
    r#"
CREATE TABLE group_configs (
    group_id TEXT PRIMARY KEY,
    configs TEXT NOT NULL,
    version BIGINT NOT NULL
);
"#,
    // v15: share-group partition state (KIP-932): epochs, start offset and the in-flight runs as JSON.
    r#"
CREATE TABLE share_states (
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    state_epoch INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    start_offset BIGINT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (group_id, topic_id, partition_id)
);
"#,
];

/// Migrations for PostgreSQL, indexed by the version they produce (1-based); the same tables as
/// [`SQLITE_MIGRATIONS`] in PostgreSQL's types (INTEGER where SQLite has INTEGER, so sums of it are BIGINT).
pub const POSTGRES_MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS weft_schema (version BIGINT NOT NULL);
CREATE TABLE cluster (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    cluster_id TEXT NOT NULL
);
CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    configs TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE partitions (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    log_start BIGINT NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id)
);
CREATE TABLE batches (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    base_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    record_count INTEGER NOT NULL,
    max_timestamp BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    byte_start BIGINT NOT NULL,
    byte_len INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition_id, base_offset)
);
CREATE TABLE objects (
    object_key TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    committed_offset BIGINT NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, topic, partition_id)
);
"#,
    r#"
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('producer_id', 1000);
CREATE TABLE producer_state (
    producer_id BIGINT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    recent TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition_id)
);
"#,
    r#"
CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id BIGINT NOT NULL,
    producer_epoch INTEGER NOT NULL,
    last_producer_epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    start_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX transactions_by_producer ON transactions (producer_id);
CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    PRIMARY KEY (transactional_id, topic_id, partition_id)
);
CREATE TABLE txn_groups (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (transactional_id, group_id)
);
CREATE TABLE txn_offsets (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    committed_offset BIGINT NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms BIGINT NOT NULL,
    PRIMARY KEY (transactional_id, group_id, topic, partition_id)
);
CREATE INDEX txn_offsets_by_group ON txn_offsets (group_id);
CREATE TABLE open_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, producer_id)
);
CREATE TABLE aborted_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, last_offset)
);
"#,
    r#"
CREATE TABLE cluster_configs (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
ALTER TABLE partitions ADD COLUMN clean_offset BIGINT NOT NULL DEFAULT 0;
ALTER TABLE objects ADD COLUMN dead_ms BIGINT;
CREATE INDEX batches_by_object ON batches (object_key);
CREATE INDEX objects_by_dead ON objects (dead_ms);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE group_state (
    group_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    protocol_type TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE agents (
    node_id INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    zone TEXT NOT NULL,
    roles TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    heartbeat_ms BIGINT NOT NULL,
    stopped_ms BIGINT
);
"#,
    r#"
CREATE TABLE scram_credentials (
    user_name TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    salt TEXT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (user_name, mechanism)
);
"#,
    // v9: where agents of a zone read objects from each other (NULL: none, never chosen as an owner).
    r#"
ALTER TABLE agents ADD COLUMN peer_endpoint TEXT;
"#,
    // v10: each agent's advertised listeners (name://host:port with its protocol), for Metadata per listener.
    r#"
ALTER TABLE agents ADD COLUMN listeners TEXT NOT NULL DEFAULT '';
"#,
    // v11: client quotas (user and client-id entities).
    r#"
CREATE TABLE client_quotas (
    user_part TEXT NOT NULL,
    client_part TEXT NOT NULL,
    quota_key TEXT NOT NULL,
    quota_value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (user_part, client_part, quota_key)
);
"#,
    // v12: ACL bindings and their version (bumped with every change, polled by agents).
    r#"
CREATE TABLE acls (
    resource_type INTEGER NOT NULL,
    resource_name TEXT NOT NULL,
    pattern_type INTEGER NOT NULL,
    principal TEXT NOT NULL,
    host TEXT NOT NULL,
    operation INTEGER NOT NULL,
    permission INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_name, pattern_type, principal, host, operation, permission)
);
CREATE TABLE acl_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version BIGINT NOT NULL
);
INSERT INTO acl_version (singleton, version) VALUES (1, 0);
"#,
    // v13: the schema registry: schemas by global id, subject versions, settings, and the id counter whose row
    // serialises registry writers.
    r#"
CREATE TABLE registry_schemas (
    schema_id BIGINT PRIMARY KEY,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE
);
CREATE TABLE registry_references (
    schema_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    ref_name TEXT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version BIGINT NOT NULL,
    PRIMARY KEY (schema_id, position)
);
CREATE INDEX registry_references_target ON registry_references (ref_subject, ref_version);
CREATE TABLE registry_versions (
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    schema_id BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
);
CREATE INDEX registry_versions_schema ON registry_versions (schema_id);
CREATE TABLE registry_settings (
    scope TEXT PRIMARY KEY,
    compatibility TEXT,
    normalize INTEGER,
    mode TEXT
);
CREATE TABLE registry_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_id BIGINT NOT NULL
);
INSERT INTO registry_state (singleton, next_id) VALUES (1, 1);
"#,
    // v14: dynamic group configs (the GROUP config resource): one row per group, its configs as a JSON object
    // and the version every compare-and-set write checks.
    r#"
CREATE TABLE group_configs (
    group_id TEXT PRIMARY KEY,
    configs TEXT NOT NULL,
    version BIGINT NOT NULL
);
"#,
    // v15: share-group partition state (KIP-932): epochs, start offset and the in-flight runs as JSON.
    r#"
CREATE TABLE share_states (
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    state_epoch INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    start_offset BIGINT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (group_id, topic_id, partition_id)
);
"#,
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_backend_has_every_version() {
        assert_eq!(super::SQLITE_MIGRATIONS.len() as i64, super::SCHEMA_VERSION);
        assert_eq!(super::POSTGRES_MIGRATIONS.len() as i64, super::SCHEMA_VERSION);
    }
}
