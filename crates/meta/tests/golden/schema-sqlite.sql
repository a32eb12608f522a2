-- index batches_by_object
CREATE INDEX batches_by_object ON batches (object_key)
-- index objects_by_dead
CREATE INDEX objects_by_dead ON objects (dead_ms)
-- index registry_references_target
CREATE INDEX registry_references_target ON registry_references (ref_subject, ref_version)
-- index registry_versions_schema
CREATE INDEX registry_versions_schema ON registry_versions (schema_id)
-- index transactions_by_producer
CREATE INDEX transactions_by_producer ON transactions (producer_id)
-- index txn_offsets_by_group
CREATE INDEX txn_offsets_by_group ON txn_offsets (group_id)
-- table aborted_txns
CREATE TABLE aborted_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    last_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, last_offset)
)
-- table acl_version
CREATE TABLE acl_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    version BIGINT NOT NULL
)
-- table acls
CREATE TABLE acls (
    resource_type INTEGER NOT NULL,
    resource_name TEXT NOT NULL,
    pattern_type INTEGER NOT NULL,
    principal TEXT NOT NULL,
    host TEXT NOT NULL,
    operation INTEGER NOT NULL,
    permission INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_name, pattern_type, principal, host, operation, permission)
)
-- table agents
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
, peer_endpoint TEXT, listeners TEXT NOT NULL DEFAULT '')
-- table batches
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
)
-- table client_quotas
CREATE TABLE client_quotas (
    user_part TEXT NOT NULL,
    client_part TEXT NOT NULL,
    quota_key TEXT NOT NULL,
    quota_value REAL NOT NULL,
    PRIMARY KEY (user_part, client_part, quota_key)
)
-- table cluster
CREATE TABLE cluster (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    cluster_id TEXT NOT NULL
)
-- table cluster_configs
CREATE TABLE cluster_configs (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
-- table counters
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
)
-- table group_configs
CREATE TABLE group_configs (
    group_id TEXT PRIMARY KEY,
    configs TEXT NOT NULL,
    version BIGINT NOT NULL
)
-- table group_offsets
CREATE TABLE group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    committed_offset BIGINT NOT NULL,
    leader_epoch INTEGER NOT NULL,
    metadata TEXT,
    commit_ms BIGINT NOT NULL,
    PRIMARY KEY (group_id, topic, partition_id)
)
-- table group_state
CREATE TABLE group_state (
    group_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    protocol_type TEXT NOT NULL,
    state TEXT NOT NULL,
    document TEXT NOT NULL
)
-- table leases
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
)
-- table objects
CREATE TABLE objects (
    object_key TEXT PRIMARY KEY,
    size_bytes BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
, dead_ms BIGINT)
-- table open_txns
CREATE TABLE open_txns (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    producer_id BIGINT NOT NULL,
    first_offset BIGINT NOT NULL,
    PRIMARY KEY (topic_id, partition_id, producer_id)
)
-- table partitions
CREATE TABLE partitions (
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    log_start BIGINT NOT NULL,
    next_offset BIGINT NOT NULL, clean_offset BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition_id)
)
-- table producer_state
CREATE TABLE producer_state (
    producer_id BIGINT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    recent TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (producer_id, topic_id, partition_id)
)
-- table registry_references
CREATE TABLE registry_references (
    schema_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    ref_name TEXT NOT NULL,
    ref_subject TEXT NOT NULL,
    ref_version BIGINT NOT NULL,
    PRIMARY KEY (schema_id, position)
)
-- table registry_schemas
CREATE TABLE registry_schemas (
    schema_id BIGINT PRIMARY KEY,
    schema_type TEXT NOT NULL,
    schema_text TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE
)
-- table registry_settings
CREATE TABLE registry_settings (
    scope TEXT PRIMARY KEY,
    compatibility TEXT,
    normalize INTEGER,
    mode TEXT
)
-- table registry_state
CREATE TABLE registry_state (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    next_id BIGINT NOT NULL
)
-- table registry_versions
CREATE TABLE registry_versions (
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    schema_id BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, version)
)
-- table scram_credentials
CREATE TABLE scram_credentials (
    user_name TEXT NOT NULL,
    mechanism TEXT NOT NULL,
    salt TEXT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    iterations INTEGER NOT NULL,
    PRIMARY KEY (user_name, mechanism)
)
-- table share_states
CREATE TABLE share_states (
    group_id TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    state_epoch INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    start_offset BIGINT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (group_id, topic_id, partition_id)
)
-- table topics
CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    configs TEXT NOT NULL,
    created_ms BIGINT NOT NULL
)
-- table transactions
CREATE TABLE transactions (
    transactional_id TEXT PRIMARY KEY,
    producer_id BIGINT NOT NULL,
    producer_epoch INTEGER NOT NULL,
    last_producer_epoch INTEGER NOT NULL,
    state TEXT NOT NULL,
    timeout_ms INTEGER NOT NULL,
    start_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
)
-- table txn_groups
CREATE TABLE txn_groups (
    transactional_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (transactional_id, group_id)
)
-- table txn_offsets
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
)
-- table txn_partitions
CREATE TABLE txn_partitions (
    transactional_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    PRIMARY KEY (transactional_id, topic_id, partition_id)
)
-- table weft_schema
CREATE TABLE weft_schema (version BIGINT NOT NULL)
-- versions [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
