-- table aborted_txns
    topic_id text NOT NULL
    partition_id integer NOT NULL
    producer_id bigint NOT NULL
    first_offset bigint NOT NULL
    last_offset bigint NOT NULL
-- table acl_version
    singleton integer NOT NULL
    version bigint NOT NULL
-- table acls
    resource_type integer NOT NULL
    resource_name text NOT NULL
    pattern_type integer NOT NULL
    principal text NOT NULL
    host text NOT NULL
    operation integer NOT NULL
    permission integer NOT NULL
-- table agents
    node_id integer NOT NULL
    generation bigint NOT NULL
    host text NOT NULL
    port integer NOT NULL
    zone text NOT NULL
    roles text NOT NULL
    started_ms bigint NOT NULL
    heartbeat_ms bigint NOT NULL
    stopped_ms bigint
    peer_endpoint text
    listeners text NOT NULL DEFAULT ''::text
-- table batches
    topic_id text NOT NULL
    partition_id integer NOT NULL
    base_offset bigint NOT NULL
    last_offset bigint NOT NULL
    record_count integer NOT NULL
    max_timestamp bigint NOT NULL
    object_key text NOT NULL
    byte_start bigint NOT NULL
    byte_len integer NOT NULL
-- table client_quotas
    user_part text NOT NULL
    client_part text NOT NULL
    quota_key text NOT NULL
    quota_value double precision NOT NULL
-- table cluster
    singleton integer NOT NULL
    cluster_id text NOT NULL
-- table cluster_configs
    name text NOT NULL
    value text NOT NULL
-- table counters
    name text NOT NULL
    value bigint NOT NULL
-- table group_configs
    group_id text NOT NULL
    configs text NOT NULL
    version bigint NOT NULL
-- table group_offsets
    group_id text NOT NULL
    topic text NOT NULL
    partition_id integer NOT NULL
    committed_offset bigint NOT NULL
    leader_epoch integer NOT NULL
    metadata text
    commit_ms bigint NOT NULL
-- table group_state
    group_id text NOT NULL
    kind text NOT NULL
    protocol_type text NOT NULL
    state text NOT NULL
    document text NOT NULL
-- table leases
    name text NOT NULL
    holder text NOT NULL
    expires_ms bigint NOT NULL
-- table objects
    object_key text NOT NULL
    size_bytes bigint NOT NULL
    created_ms bigint NOT NULL
    dead_ms bigint
-- table open_txns
    topic_id text NOT NULL
    partition_id integer NOT NULL
    producer_id bigint NOT NULL
    first_offset bigint NOT NULL
-- table partitions
    topic_id text NOT NULL
    partition_id integer NOT NULL
    log_start bigint NOT NULL
    next_offset bigint NOT NULL
    clean_offset bigint NOT NULL DEFAULT 0
-- table producer_state
    producer_id bigint NOT NULL
    topic_id text NOT NULL
    partition_id integer NOT NULL
    epoch integer NOT NULL
    last_sequence integer NOT NULL
    recent text NOT NULL
    updated_ms bigint NOT NULL
-- table registry_references
    schema_id bigint NOT NULL
    position integer NOT NULL
    ref_name text NOT NULL
    ref_subject text NOT NULL
    ref_version bigint NOT NULL
-- table registry_schemas
    schema_id bigint NOT NULL
    schema_type text NOT NULL
    schema_text text NOT NULL
    fingerprint text NOT NULL
-- table registry_settings
    scope text NOT NULL
    compatibility text
    normalize integer
    mode text
-- table registry_state
    singleton integer NOT NULL
    next_id bigint NOT NULL
-- table registry_versions
    subject text NOT NULL
    version bigint NOT NULL
    schema_id bigint NOT NULL
    deleted integer NOT NULL DEFAULT 0
-- table scram_credentials
    user_name text NOT NULL
    mechanism text NOT NULL
    salt text NOT NULL
    stored_key text NOT NULL
    server_key text NOT NULL
    iterations integer NOT NULL
-- table share_states
    group_id text NOT NULL
    topic_id text NOT NULL
    partition_id integer NOT NULL
    state_epoch integer NOT NULL
    leader_epoch integer NOT NULL
    start_offset bigint NOT NULL
    batches text NOT NULL
-- table topics
    name text NOT NULL
    topic_id text NOT NULL
    partitions integer NOT NULL
    configs text NOT NULL
    created_ms bigint NOT NULL
-- table transactions
    transactional_id text NOT NULL
    producer_id bigint NOT NULL
    producer_epoch integer NOT NULL
    last_producer_epoch integer NOT NULL
    state text NOT NULL
    timeout_ms integer NOT NULL
    start_ms bigint NOT NULL
    updated_ms bigint NOT NULL
-- table txn_groups
    transactional_id text NOT NULL
    group_id text NOT NULL
-- table txn_offsets
    transactional_id text NOT NULL
    group_id text NOT NULL
    topic text NOT NULL
    partition_id integer NOT NULL
    committed_offset bigint NOT NULL
    leader_epoch integer NOT NULL
    metadata text
    commit_ms bigint NOT NULL
-- table txn_partitions
    transactional_id text NOT NULL
    topic text NOT NULL
    topic_id text NOT NULL
    partition_id integer NOT NULL
-- table weft_schema
    version bigint NOT NULL
-- index aborted_txns_pkey
CREATE UNIQUE INDEX aborted_txns_pkey ON public.aborted_txns USING btree (topic_id, partition_id, last_offset)
-- index acl_version_pkey
CREATE UNIQUE INDEX acl_version_pkey ON public.acl_version USING btree (singleton)
-- index acls_pkey
CREATE UNIQUE INDEX acls_pkey ON public.acls USING btree (resource_type, resource_name, pattern_type, principal, host, operation, permission)
-- index agents_pkey
CREATE UNIQUE INDEX agents_pkey ON public.agents USING btree (node_id)
-- index batches_by_object
CREATE INDEX batches_by_object ON public.batches USING btree (object_key)
-- index batches_pkey
CREATE UNIQUE INDEX batches_pkey ON public.batches USING btree (topic_id, partition_id, base_offset)
-- index client_quotas_pkey
CREATE UNIQUE INDEX client_quotas_pkey ON public.client_quotas USING btree (user_part, client_part, quota_key)
-- index cluster_pkey
CREATE UNIQUE INDEX cluster_pkey ON public.cluster USING btree (singleton)
-- index cluster_configs_pkey
CREATE UNIQUE INDEX cluster_configs_pkey ON public.cluster_configs USING btree (name)
-- index counters_pkey
CREATE UNIQUE INDEX counters_pkey ON public.counters USING btree (name)
-- index group_configs_pkey
CREATE UNIQUE INDEX group_configs_pkey ON public.group_configs USING btree (group_id)
-- index group_offsets_pkey
CREATE UNIQUE INDEX group_offsets_pkey ON public.group_offsets USING btree (group_id, topic, partition_id)
-- index group_state_pkey
CREATE UNIQUE INDEX group_state_pkey ON public.group_state USING btree (group_id)
-- index leases_pkey
CREATE UNIQUE INDEX leases_pkey ON public.leases USING btree (name)
-- index objects_by_dead
CREATE INDEX objects_by_dead ON public.objects USING btree (dead_ms)
-- index objects_pkey
CREATE UNIQUE INDEX objects_pkey ON public.objects USING btree (object_key)
-- index open_txns_pkey
CREATE UNIQUE INDEX open_txns_pkey ON public.open_txns USING btree (topic_id, partition_id, producer_id)
-- index partitions_pkey
CREATE UNIQUE INDEX partitions_pkey ON public.partitions USING btree (topic_id, partition_id)
-- index producer_state_pkey
CREATE UNIQUE INDEX producer_state_pkey ON public.producer_state USING btree (producer_id, topic_id, partition_id)
-- index registry_references_pkey
CREATE UNIQUE INDEX registry_references_pkey ON public.registry_references USING btree (schema_id, "position")
-- index registry_references_target
CREATE INDEX registry_references_target ON public.registry_references USING btree (ref_subject, ref_version)
-- index registry_schemas_fingerprint_key
CREATE UNIQUE INDEX registry_schemas_fingerprint_key ON public.registry_schemas USING btree (fingerprint)
-- index registry_schemas_pkey
CREATE UNIQUE INDEX registry_schemas_pkey ON public.registry_schemas USING btree (schema_id)
-- index registry_settings_pkey
CREATE UNIQUE INDEX registry_settings_pkey ON public.registry_settings USING btree (scope)
-- index registry_state_pkey
CREATE UNIQUE INDEX registry_state_pkey ON public.registry_state USING btree (singleton)
-- index registry_versions_pkey
CREATE UNIQUE INDEX registry_versions_pkey ON public.registry_versions USING btree (subject, version)
-- index registry_versions_schema
CREATE INDEX registry_versions_schema ON public.registry_versions USING btree (schema_id)
-- index scram_credentials_pkey
CREATE UNIQUE INDEX scram_credentials_pkey ON public.scram_credentials USING btree (user_name, mechanism)
-- index share_states_pkey
CREATE UNIQUE INDEX share_states_pkey ON public.share_states USING btree (group_id, topic_id, partition_id)
-- index topics_pkey
CREATE UNIQUE INDEX topics_pkey ON public.topics USING btree (name)
-- index topics_topic_id_key
CREATE UNIQUE INDEX topics_topic_id_key ON public.topics USING btree (topic_id)
-- index transactions_by_producer
CREATE INDEX transactions_by_producer ON public.transactions USING btree (producer_id)
-- index transactions_pkey
CREATE UNIQUE INDEX transactions_pkey ON public.transactions USING btree (transactional_id)
-- index txn_groups_pkey
CREATE UNIQUE INDEX txn_groups_pkey ON public.txn_groups USING btree (transactional_id, group_id)
-- index txn_offsets_by_group
CREATE INDEX txn_offsets_by_group ON public.txn_offsets USING btree (group_id)
-- index txn_offsets_pkey
CREATE UNIQUE INDEX txn_offsets_pkey ON public.txn_offsets USING btree (transactional_id, group_id, topic, partition_id)
-- index txn_partitions_pkey
CREATE UNIQUE INDEX txn_partitions_pkey ON public.txn_partitions USING btree (transactional_id, topic_id, partition_id)
-- check acl_version.acl_version_singleton_check
CHECK ((singleton = 1))
-- check cluster.cluster_singleton_check
CHECK ((singleton = 1))
-- check registry_state.registry_state_singleton_check
CHECK ((singleton = 1))
-- versions [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
