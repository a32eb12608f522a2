//! The table of agent options: each is declared here once, with its field, type, default, TOML key (which
//! also names its flag and `WEFT_*` variable), codec, checks and help. The first paragraph of an entry's
//! doc is its `--help` line; further paragraphs document the field for library users.

use crate::codec::{
    Choice, Millis, Minutes, NodeId, OptionalCount, OptionalMillis, OptionalPath, OptionalText, Path, PeerListenAt,
    RoleList, Same, Switchable,
};
use crate::model::ObjectStoreModel;
use crate::security::SaslMechanisms;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

options! {
    /// Kafka listener; port 0 picks a free port
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 9092)) => listen: Same<SocketAddr>;

    /// HOST:PORT given to clients in Metadata
    advertised_listener: Option<String> = None => advertised_listener: OptionalText,
        shown "the bound listener address";

    /// Kafka's listeners: NAME://HOST:PORT,... (e.g. PLAINTEXT://:9092,SSL://:9093); replaces --listen
    ///
    /// Each listener's security protocol comes from `listener_security_protocol_map`. Unset: one PLAINTEXT
    /// listener at `listen`. See [`AgentConfig::kafka_listeners`].
    listeners: Option<String> = None => listeners: OptionalText, shown "PLAINTEXT://<listen>";

    /// Kafka's advertised.listeners: NAME://HOST:PORT,... given to clients of each listener in Metadata
    advertised_listeners: Option<String> = None => advertised_listeners: OptionalText,
        shown "each listener's bound address";

    /// Kafka's listener.security.protocol.map: NAME:PROTOCOL,... with PLAINTEXT, SSL, SASL_PLAINTEXT or
    /// SASL_SSL
    listener_security_protocol_map: Option<String> = None => listener_security_protocol_map: OptionalText,
        shown "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL";

    /// PEM file with the TLS certificate chain of SSL and SASL_SSL listeners (and its private key unless
    /// --ssl-key-location is given); reloaded when it changes
    ssl_keystore_location: Option<PathBuf> = None => ssl_keystore_location: OptionalPath, shown "none";

    /// PEM file with the unencrypted private key (PKCS#8, PKCS#1 or SEC1) of the TLS certificate
    ssl_key_location: Option<PathBuf> = None => ssl_key_location: OptionalPath, shown "in the keystore file";

    /// PEM file of the CA certificates that client certificates must chain to (mTLS); reloaded when it changes
    ssl_truststore_location: Option<PathBuf> = None => ssl_truststore_location: OptionalPath, shown "none";

    /// ssl.client.auth: none, requested (a certificate is asked for, and checked if sent) or required
    ssl_client_auth: crate::SslClientAuth = crate::SslClientAuth::None => ssl_client_auth: Choice<crate::SslClientAuth>;

    /// ssl.principal.mapping.rules: RULE:pattern/replacement/[LU],...,DEFAULT mapping a client certificate's
    /// subject to a user name
    ssl_principal_mapping_rules: String = "DEFAULT".to_string() => ssl_principal_mapping_rules: Same<String>;

    /// A TLS handshake must complete within this long, else the connection is closed
    ssl_handshake_timeout: Duration = Duration::from_secs(10) => ssl_handshake_timeout_ms: Millis, check positive;

    /// Serve the admin HTTP listener over TLS with the Kafka listeners' certificate and ssl.client.auth
    admin_ssl: bool = false => admin_ssl: Same<bool>;

    /// How admin clients authenticate: none, basic (HTTP Basic against the SCRAM users and the PLAIN users
    /// file) or mtls (the client certificate; needs --admin-ssl and --ssl-client-auth required)
    ///
    /// `/healthz` and `/readyz` stay open; every other route needs the principal, and with `--authorizer acl`
    /// DESCRIBE on the cluster. See docs/security.md.
    admin_auth: crate::AdminAuth = crate::AdminAuth::None => admin_auth: Choice<crate::AdminAuth>;

    /// Admin HTTP listener for /healthz and /readyz; "off" disables it
    ///
    /// `None` disables it.
    admin_listen: Option<SocketAddr> = Some(SocketAddr::from(([127, 0, 0, 1], 9644))) => admin_listen: Switchable;

    /// Schema registry listener (Confluent's REST API, schemas kept in the metastore); "off" disables it
    ///
    /// Bounded like the admin listener (--admin-max-connections, --admin-header-timeout-ms). `None` disables it.
    schema_registry_listen: Option<SocketAddr> = Some(SocketAddr::from(([127, 0, 0, 1], 8081))) => schema_registry_listen: Switchable;

    /// Peer listener serving cached objects to agents of this zone (plain HTTP unless --peer-ssl: keep it
    /// on the private network); "auto" is the Kafka listener's host (first of --listeners, else --listen) with a free port,
    /// "off" disables it
    ///
    /// Agents of one zone each own a share of the objects (rendezvous hashing over the live agents of the zone
    /// with a peer listener) and read the others' objects from them, so an object is read from the bucket about
    /// once per zone. An agent with it off owns no objects but still reads from those that do.
    peer_listen: crate::PeerListen = crate::PeerListen::Auto => peer_listen: PeerListenAt;

    /// HOST:PORT other agents reach the peer listener at
    peer_advertised: Option<String> = None => peer_advertised: OptionalText,
        shown "the advertised Kafka host with the bound peer port";

    /// Serve peer reads over mutual TLS with the agent's certificate (--ssl-keystore-location), peers
    /// presenting theirs, both checked against --ssl-truststore-location
    ///
    /// The endpoint is registered as `https://HOST:PORT`; the reading agent verifies the owner's certificate
    /// and, with `--authorizer acl`, the owner requires CLUSTER_ACTION on the cluster of the reader's
    /// principal.
    peer_ssl: bool = false => peer_ssl: Same<bool>;

    /// A read from the agent owning an object must finish within this, else the object store is read
    peer_read_timeout: Duration = Duration::from_secs(2) => peer_read_timeout_ms: Millis, check positive;

    /// Open connections of the peer listener
    ///
    /// It stops accepting at this many.
    peer_max_connections: usize = 256 => peer_max_connections: Same<usize>, check positive;

    /// Directory of the embedded default (objects and SQLite metadata)
    data_dir: PathBuf = PathBuf::from("weft-data") => data_dir: Path, shown "./weft-data";

    /// Object store URL: file:///abs/path, s3://bucket/prefix or memory://
    ///
    /// S3 credentials, region and endpoint come from the standard `AWS_*` variables or the URL's query
    /// (`?endpoint=http://127.0.0.1:9000&region=us-east-1`).
    object_store: Option<String> = None => object_store: OptionalText, shown "file://<data-dir>/objects";

    /// Metastore URL: sqlite:///abs/path.db or postgres://user:password@host:port/database
    ///
    /// SQLite is for one agent; agents sharing a PostgreSQL metastore (and an S3 bucket) form one cluster.
    /// `?pool_size=N` (default 16) bounds the connections an agent opens to PostgreSQL.
    metastore: Option<String> = None => metastore: OptionalText, shown "sqlite://<data-dir>/meta.db";

    /// Encrypt objects at rest with the keys in this file: lines `<id> <base64 of 32 bytes>`, the first one
    /// wraps new objects (WEFT_ENCRYPTION_KEYS may hold the same text instead of a file)
    ///
    /// Envelope encryption: each object gets its own AES-256-GCM data key, wrapped by the first key; the
    /// other keys only unwrap older objects (rotation). See docs/security.md.
    encryption_keys_file: Option<PathBuf> = None => encryption_keys_file: OptionalPath, shown "none";

    /// Write the audit log (authentications, denials) to this file as JSON lines; unset: metrics only
    ///
    /// One line per SASL authentication (success or failure) and per authorization denial, with who, from
    /// where, what and the result. The file is appended to and reopened when moved away (log rotation).
    audit_log: Option<PathBuf> = None => audit_log: OptionalPath, shown "none (metrics only)";

    /// Broker id reported to clients; -1 takes the smallest id no live agent holds
    ///
    /// `None` (-1, as Kafka's broker.id) asks the agent registry in the metastore at start. Two live agents
    /// must not be given the same id: the later one fences the earlier.
    node_id: Option<i32> = None => node_id: NodeId;

    /// Availability zone of this agent (Kafka's broker.rack); clients naming weft_az=<zone> in their
    /// client.id are given this zone's agents
    zone: Option<String> = None => zone: OptionalText, shown "none";

    /// What this agent does, a comma list: kafka (serve clients), jobs (retention, compaction, GC)
    roles: crate::Roles = crate::Roles::ALL => roles: RoleList;

    /// broker.heartbeat.interval.ms: how often the agent renews its registration and coordinator leases
    broker_heartbeat_interval: Duration = Duration::from_secs(2) => broker_heartbeat_interval_ms: Millis,
        check positive;

    /// broker.session.timeout.ms: an agent without a heartbeat for this long is dead; also the coordinator
    /// lease time
    ///
    /// Partitions and coordinator shards of a dead agent move to others within this time.
    broker_session_timeout: Duration = Duration::from_secs(9) => broker_session_timeout_ms: Millis,
        check positive;

    /// Flush a segment once this many bytes are buffered
    flush_bytes: usize = 8 * 1024 * 1024 => flush_bytes: Same<usize>, check positive;

    /// Flush a segment once its oldest batch has waited this long; each flush is one PUT, so shorter means
    /// lower produce latency and more PUT requests
    ///
    /// `None` takes the default of the store ([`crate::AgentConfig::effective_flush_interval`]): 4 ms on a
    /// local directory or in memory, where a write costs nothing; 250 ms on S3 (`s3://`, or a modelled S3
    /// with `--object-store-model`), as WarpStream and Aiven's Inkless flush, because there every PUT is
    /// billed. One agent flushing every 250 ms makes at most 4 PUTs a second, about 10.4 million a month
    /// ($52 at $0.005 per 1,000); every 4 ms it would make 250 a second ($3,240 a month). Under load the
    /// 8 MiB `flush_bytes` limit comes first either way: 128 PUTs per GiB produced.
    flush_interval: Option<Duration> = None => flush_interval_ms: OptionalMillis,
        shown "4 (file://, memory://) or 250 (s3://, --object-store-model)";

    /// Produce bytes buffered before sockets stop being read
    ///
    /// Counts bytes buffered or in flight to storage (backpressure).
    max_buffered_bytes: usize = 256 * 1024 * 1024 => max_buffered_bytes: Same<usize>, check positive;

    /// Segment uploads in flight at once
    ///
    /// Commits stay in order.
    max_inflight_flushes: usize = 8 => max_inflight_flushes: Same<usize>, check positive;

    /// Largest request frame accepted, as socket.request.max.bytes
    max_frame_bytes: usize = 100 * 1024 * 1024 => max_frame_bytes: Same<usize>, check positive;

    /// Open client connections allowed
    ///
    /// Further ones are closed at accept.
    max_connections: usize = 10_000 => max_connections: Same<usize>, check positive;

    /// connections.max.idle.ms: close connections with no request activity for this long
    ///
    /// A connection with no request in progress and no bytes moved for this long is closed.
    connections_max_idle: Duration = Duration::from_secs(600) => connections_max_idle_ms: Millis, check positive;

    /// Close a connection whose started request frame stalls (no byte arrives) this long; a frame must also
    /// complete within connections.max.idle.ms
    ///
    /// The frame must finish within `connections_max_idle` of its start (time the agent spends not reading,
    /// e.g. waiting for request budget, does not count). Kafka has no such limit; its idle timeout covers it.
    request_read_timeout: Duration = Duration::from_secs(60) => request_read_timeout_ms: Millis, check positive;

    /// queued.max.request.bytes: bytes of requests being read, over all connections
    ///
    /// Frames above 64 KiB wait for a reservation of their announced size before their body is read; a
    /// frame larger than this is refused.
    queued_max_request_bytes: usize = 256 * 1024 * 1024 => queued_max_request_bytes: Same<usize>, check positive;

    /// Open connections of the admin HTTP listener
    ///
    /// It stops accepting at this many.
    admin_max_connections: usize = 64 => admin_max_connections: Same<usize>, check positive;

    /// Admin connections must send a request head within this of connecting or of their last response
    /// (also the keep-alive idle timeout)
    admin_header_timeout: Duration = Duration::from_secs(10) => admin_header_timeout_ms: Millis, check positive;

    /// How often writes to the object store and metastore are probed for /readyz
    health_check_interval: Duration = Duration::from_secs(1) => health_check_interval_ms: Millis, check positive;

    /// Requests in progress per connection
    ///
    /// The pipelining depth.
    max_inflight_per_connection: usize = 16 => max_inflight_per_connection: Same<usize>, check positive;

    /// Upper bound on a fetch's max_wait_ms
    max_fetch_wait: Duration = Duration::from_secs(30) => max_fetch_wait_ms: Millis;

    /// Bytes of segments cached in memory for reads
    ///
    /// Recently written or read segments. Objects bypass the page cache (see ARCHITECTURE.md, storage
    /// layer 2), so this is the agent's only cache of recent data. Unset: see
    /// [`AgentConfig::segment_cache_bytes`].
    cache_bytes: Option<usize> = None => cache_bytes: OptionalCount,
        shown "an eighth of the memory (the cgroup limit if lower), 512 MiB to 8 GiB";

    /// auto.create.topics.enable
    auto_create_topics: bool = true => auto_create_topics: Same<bool>;

    /// Authorizer: none (every request allowed, as Kafka without authorizer.class.name) or acl (Kafka's ACLs,
    /// kept in the metastore and managed with CreateAcls/DeleteAcls or `weft acl`)
    authorizer: crate::Authorizer = crate::Authorizer::None => authorizer: Choice<crate::Authorizer>;

    /// super.users: principals allowed everything by the acl authorizer, separated by semicolons
    /// (User:admin;User:ops)
    super_users: Option<String> = None => super_users: OptionalText, shown "none";

    /// allow.everyone.if.no.acl.found: the acl authorizer allows a request on a resource that has no ACLs
    allow_everyone_if_no_acl_found: bool = false => allow_everyone_if_no_acl_found: Same<bool>;

    /// num.partitions for auto-created topics
    default_partitions: i32 = 1 => default_partitions: Same<i32>, check positive;

    /// message.max.bytes, the default max.message.bytes of topics
    message_max_bytes: i32 = 1_048_588 => message_max_bytes: Same<i32>, check positive;

    /// group.initial.rebalance.delay.ms: how long a new group waits for more members
    group_initial_rebalance_delay_ms: u64 = 3_000 => group_initial_rebalance_delay_ms: Same<u64>;

    /// group.min.session.timeout.ms
    ///
    /// At most `group_max_session_timeout_ms`.
    group_min_session_timeout_ms: i32 = 6_000 => group_min_session_timeout_ms: Same<i32>;

    /// group.max.session.timeout.ms
    group_max_session_timeout_ms: i32 = 1_800_000 => group_max_session_timeout_ms: Same<i32>;

    /// group.max.size: members allowed in one group
    group_max_size: usize = usize::MAX => group_max_size: Same<usize>, shown "unlimited", check positive;

    /// offsets.retention.minutes: committed offsets of groups without members expire after this
    ///
    /// Zero expires them at the next check.
    offsets_retention: Duration = Duration::from_secs(7 * 24 * 3600) => offsets_retention_minutes: Minutes;

    /// producer.id.expiration.ms: idle idempotent-producer state is forgotten after this
    producer_id_expiration: Duration = Duration::from_secs(24 * 3600) => producer_id_expiration_ms: Millis;

    /// group.consumer.heartbeat.interval.ms for KIP-848 groups
    ///
    /// Less than `group_consumer_session_timeout_ms`.
    group_consumer_heartbeat_interval_ms: i32 = 5_000 => group_consumer_heartbeat_interval_ms: Same<i32>,
        check positive;

    /// group.consumer.session.timeout.ms for KIP-848 groups
    group_consumer_session_timeout_ms: u64 = 45_000 => group_consumer_session_timeout_ms: Same<u64>,
        check positive;

    /// transaction.max.timeout.ms: the largest transaction timeout a producer may ask for
    transaction_max_timeout_ms: i32 = 900_000 => transaction_max_timeout_ms: Same<i32>, check positive;

    /// transactional.id.expiration.ms: unused transactional ids are forgotten after this
    transactional_id_expiration: Duration = Duration::from_secs(7 * 24 * 3600) =>
        transactional_id_expiration_ms: Millis;

    /// How often timed-out transactions are aborted and unfinished commits completed
    ///
    /// Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms.
    transaction_check_interval: Duration = Duration::from_secs(1) => transaction_check_interval_ms: Millis,
        check positive;

    /// How often retention, log compaction, object compaction and garbage collection run (the agent holding
    /// the maintenance lease runs them)
    ///
    /// Log compaction becomes visible within this delay plus min.compaction.lag.ms.
    maintenance_interval: Duration = Duration::from_secs(5) => maintenance_interval_ms: Millis, check positive;

    /// log.segment.delete.delay.ms: unreferenced objects are deleted after this grace period
    ///
    /// Reads already in flight finish meanwhile.
    gc_grace: Duration = Duration::from_secs(60) => gc_grace_ms: Millis;

    /// Uploads never committed (crash between upload and commit) are deleted once this old
    ///
    /// A segment whose commit has not started within half of it is refused (its producers get an error),
    /// so a late upload never races the collector.
    orphan_grace: Duration = Duration::from_secs(600) => orphan_grace_ms: Millis, check positive;

    /// Flush segments younger than this are not merged by object compaction
    merge_min_age: Duration = Duration::from_secs(10) => merge_min_age_ms: Millis;

    /// Bytes object compaction copies into one per-partition object at most
    merge_target_bytes: u64 = 16 * 1024 * 1024 => merge_target_bytes: Same<u64>, check positive;

    /// Bytes per second log compaction and object compaction may read plus write (0: unlimited)
    ///
    /// A token bucket paces them so they never compete with clients for the disk or the object store.
    /// The default, 64 MiB/s, is a few percent of an SSD's bandwidth, yet lets a maintenance pass every 5 s
    /// merge 32 MiB/s of flush segments (read once, written once), more than one agent's sustained ingest
    /// in most deployments; raise it when merging falls behind (index rows per partition keep growing).
    maintenance_max_bytes_per_sec: u64 = 64 * 1024 * 1024 => maintenance_max_bytes_per_sec: Same<u64>;

    /// Bytes log compaction and object compaction read plus write per maintenance pass at most (0: unlimited)
    ///
    /// The next pass resumes with the partitions this one did not reach. The default, 256 MiB, takes
    /// about 4 s at the default byte rate, so a pass fits in the default 5 s interval.
    maintenance_max_bytes_per_pass: u64 = 256 * 1024 * 1024 => maintenance_max_bytes_per_pass: Same<u64>;

    /// Percent of wall time log compaction and object compaction may hold the metastore with index rewrites (1-100)
    ///
    /// After each index rewrite transaction a job rests in proportion to the time it took. On SQLite a
    /// rewrite holds the single writer, and produce commits arriving meanwhile wait: with the rests they find
    /// the writer free most of the time instead of queueing behind rewrites back to back. The default, 25,
    /// still switches some 3,000 index rows per second to merged objects on a busy 2-core machine; 100
    /// turns the rests off.
    maintenance_max_metastore_percent: u64 = 25 => maintenance_max_metastore_percent: Same<u64>, check percent;

    /// For tests and benchmarks: delay and fail object-store requests as S3 would (off, s3-standard or
    /// s3-express), to measure S3 latency on one machine
    ///
    /// Every request waits a latency drawn from the model's per-operation distribution, and about one in
    /// a thousand fails (503 SlowDown, 500, timeout) and is retried. A model also selects the S3
    /// `flush_interval` default. Figures and sources: `weft_storage::model` and ARCHITECTURE.md.
    object_store_model: ObjectStoreModel = ObjectStoreModel::Off => object_store_model: Choice<ObjectStoreModel>;

    /// Dollars per 1,000 PUT, COPY or LIST requests, for the cost estimate (S3 Standard us-east-1 price)
    ///
    /// <https://aws.amazon.com/s3/pricing/>; exported as `weft_object_store_cost_dollars_total`.
    object_store_put_price: f64 = 0.005 => object_store_put_price_per_1000: Same<f64>, check non_negative;

    /// Dollars per 1,000 GET or HEAD requests, for the cost estimate (S3 Standard us-east-1 price)
    object_store_get_price: f64 = 0.0004 => object_store_get_price_per_1000: Same<f64>, check non_negative;

    /// Dollars per GiB stored for a month, for the cost estimate (S3 Standard us-east-1, first 50 TB)
    object_store_storage_price: f64 = 0.023 => object_store_storage_price_per_gib_month: Same<f64>,
        check non_negative;

    /// sasl.enabled.mechanisms: the SASL mechanisms clients may use, a comma list of PLAIN, SCRAM-SHA-256,
    /// SCRAM-SHA-512, OAUTHBEARER
    sasl_enabled_mechanisms: SaslMechanisms = SaslMechanisms::default() =>
        sasl_enabled_mechanisms: SaslMechanisms;

    /// File of SASL/PLAIN users, one `name:password` per line (`#` starts a comment), checked before the
    /// users of the metastore
    ///
    /// Read at start. Users in the metastore (SCRAM credentials, `weft user create`) may also log in with
    /// PLAIN; a name listed here is checked against this file only.
    sasl_plain_users_file: Option<String> = None => sasl_plain_users_file: OptionalText, shown "none";

    /// connections.max.reauth.ms: a SASL session lasts this long, then the client must re-authenticate
    /// (KIP-368); 0 turns expiry off
    connections_max_reauth: Duration = Duration::ZERO => connections_max_reauth_ms: Millis;

    /// connection.failed.authentication.delay.ms: a failed login is answered (and its connection closed)
    /// after this delay
    connection_failed_authentication_delay: Duration = Duration::from_millis(100) =>
        connection_failed_authentication_delay_ms: Millis;

    /// sasl.server.max.receive.size: largest request accepted before a client has authenticated
    sasl_server_max_receive_size: usize = 524_288 => sasl_server_max_receive_size: Same<usize>, check positive;

    /// A client on a SASL listener must authenticate within this time of connecting, else it is
    /// disconnected
    sasl_authentication_timeout: Duration = Duration::from_secs(30) => sasl_authentication_timeout_ms: Millis,
        check positive;

    /// sasl.oauthbearer.jwks.endpoint.url: where OAUTHBEARER's signing keys are (a JWKS), file:///abs/path
    /// or an https:// (or http://) URL
    ///
    /// Needed when OAUTHBEARER is enabled. Read at start (the agent does not start without it) and again
    /// every `sasl_oauthbearer_jwks_endpoint_refresh_ms`; a failed refresh keeps the keys it has.
    sasl_oauthbearer_jwks_endpoint_url: Option<String> = None => sasl_oauthbearer_jwks_endpoint_url: OptionalText,
        shown "none";

    /// sasl.oauthbearer.jwks.endpoint.refresh.ms: how often the JWKS is read again
    sasl_oauthbearer_jwks_endpoint_refresh: Duration = Duration::from_secs(3600) =>
        sasl_oauthbearer_jwks_endpoint_refresh_ms: Millis, check positive;

    /// sasl.oauthbearer.expected.issuer: the `iss` tokens must carry; unset accepts any
    sasl_oauthbearer_expected_issuer: Option<String> = None => sasl_oauthbearer_expected_issuer: OptionalText,
        shown "any";

    /// sasl.oauthbearer.expected.audience: a comma list, one of which tokens' `aud` must name; unset accepts
    /// any
    sasl_oauthbearer_expected_audience: Option<String> = None => sasl_oauthbearer_expected_audience: OptionalText,
        shown "any";

    /// sasl.oauthbearer.sub.claim.name: the claim that names the principal (User:<value>)
    sasl_oauthbearer_sub_claim_name: Option<String> = None => sasl_oauthbearer_sub_claim_name: OptionalText,
        shown "sub";

    /// sasl.oauthbearer.clock.skew.seconds: leeway when checking a token's exp and nbf
    sasl_oauthbearer_clock_skew_seconds: u64 = 30 => sasl_oauthbearer_clock_skew_seconds: Same<u64>;
}
