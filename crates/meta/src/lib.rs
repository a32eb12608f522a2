//! The metadata store: topics, partitions, the offset index of every stored batch, groups, group configs,
//! producers, transactions, objects, leases, the agent registry, users' SCRAM credentials, client quotas, ACLs,
//! the schema registry and share-group partition state.
//!
//! The store is split by capability ([`Catalog`], [`Log`], [`LogMaintenance`], [`Groups`], [`Producers`],
//! [`GroupConfigs`], [`Transactions`], [`Objects`], [`Leases`], [`Agents`], [`Health`], [`Changes`],
//! [`Credentials`], [`Quotas`], [`Acls`], [`Schemas`], [`ShareStates`]); [`Metastore`] is all of
//! them together, and an `Arc<dyn Metastore>` upcasts to any one. `use weft_meta::prelude::*;` brings every
//! capability trait into scope. One SQL implementation ([`SqlMetastore`]) runs on SQLite (the embedded
//! default, one process) and PostgreSQL (shared by several agents). Kafka semantics (offset assignment, log
//! start/end) live in these transactions once, not once per backend. `conformance` (cargo feature `testsuite`) is the suite every backend must pass, one test per
//! case through the `metastore_conformance!` macro.

mod capability;
#[cfg(any(test, feature = "testsuite"))]
pub mod conformance;
mod producer_state;
mod quota;
mod record_set;
mod schema;
mod sql;
mod txn;
mod types;

pub use capability::{
    AclRecord, AclSnapshot, Acls, AgentEndpoint, AgentIncarnation, AgentRecord, AgentRegistration, Agents, Catalog,
    Change, Changes, Credentials, GroupConfigs, Groups, Health, Leases, Log, LogMaintenance, Metastore, Objects,
    Producers, Quotas, ScramCredential, StoredGroupConfigs, Transactions,
};
pub use capability::{
    Deletion, Placement, Registration, RegistryConfig, SchemaContent, SchemaReference, Schemas, StoredSchema,
    SubjectVersion,
};
pub use capability::{
    ShareEpochs, SharePartitionKey, ShareStartOffset, ShareStateBatch, ShareStateRecord, ShareStates,
};
pub use quota::{QuotaEntity, QuotaName, QuotaRecord};
pub use sql::SqlMetastore;
pub use txn::*;
pub use types::*;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("topic {name:?} already exists")]
    TopicExists { name: String },
    #[error("topic {name:?} does not exist")]
    UnknownTopic { name: String },
    #[error("topic {name:?} has {current} partitions; cannot change to {requested}")]
    BadPartitionCount { name: String, current: i32, requested: i32 },
    /// The url is shown with its password hidden.
    #[error(
        "unsupported metastore url {url:?} (expected sqlite:///abs/path.db or postgres://user:password@host:port/database)"
    )]
    BadUrl { url: String },
    #[error("metastore schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("metastore data is corrupt: {0}")]
    Corrupt(String),
    #[error("{reason}; writes are refused until the agent restarts")]
    FilesChanged { reason: String },
    #[error("object {key:?} is already recorded (fenced as an orphan or committed before); its commit is refused")]
    ObjectFenced { key: String },
    /// The connection failed around COMMIT and whether the commit landed could not be learnt: nothing may be
    /// acknowledged (the caller answers a retriable error).
    #[error("outcome of the metastore commit of {object_key} is unknown: {reason}")]
    CommitUnknown { object_key: String, reason: String },
    #[error("metastore query failed: {0}")]
    Sql(#[from] sqlx::Error),
}

pub type Result<T> = std::result::Result<T, MetaError>;

/// Opens the metastore named by `url`: `sqlite:///abs/path.db` or `postgres://user:password@host:port/db`
/// (also `postgresql://`; `?pool_size=N` bounds its connections).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Metastore>> {
    Ok(std::sync::Arc::new(SqlMetastore::open(url).await?))
}

/// `url` as it may be shown in logs and errors: any password replaced by `***`.
pub fn url_shown(url: &str) -> String {
    sql::redact(url)
}

/// Every capability trait, for call sites that use a concrete backend or several capabilities:
/// `use weft_meta::prelude::*;`.
pub mod prelude {
    pub use crate::capability::{
        Acls, Agents, Catalog, Changes, Credentials, GroupConfigs, Groups, Health, Leases, Log, LogMaintenance,
        Metastore, Objects, Producers, Quotas, Schemas, ShareStates, Transactions,
    };
}
