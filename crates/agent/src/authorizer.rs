//! The agent's authorizer: the [`Policy`] requests are decided by, kept current from the ACLs in the
//! metastore. Decisions read an immutable snapshot (no I/O, no lock held while deciding); a background task
//! polls the metastore's ACL version every [`REFRESH`] and rebuilds the snapshot when it moved, so a change
//! made through any agent is in force on every agent within about a second. The agent that made a change
//! reloads at once, before it answers.

use std::sync::{Arc, RwLock};
use std::time::Duration;
use weft_acl::{AclBinding, AclOperation, PatternType, Permission, Policy, ResourceType};
use weft_meta::{AclRecord, Acls, MetaError};

/// How often each agent asks the metastore whether the ACLs changed (one small query).
pub const REFRESH: Duration = Duration::from_secs(1);

/// The policy in force and the ACL version it was built from.
struct Current {
    version: i64,
    policy: Arc<Policy>,
}

/// The ACL authorizer of one agent (absent with `--authorizer none`).
pub struct AclAuthorizer {
    store: Arc<dyn Acls>,
    super_users: Vec<String>,
    allow_if_no_acl: bool,
    current: RwLock<Current>,
    /// Serialises reloads, so an older set never replaces a newer one.
    reload: tokio::sync::Mutex<()>,
}

impl AclAuthorizer {
    /// Loads the ACLs once; fails if the metastore cannot be read (requests must not run on no policy).
    pub async fn load(
        store: Arc<dyn Acls>,
        super_users: Vec<String>,
        allow_if_no_acl: bool,
    ) -> Result<Self, MetaError> {
        let snapshot = store.acls().await?;
        let bindings = to_bindings(&snapshot.acls);
        let policy = Arc::new(Policy::new(&bindings, super_users.clone(), allow_if_no_acl));
        tracing::info!(acls = policy.len(), super_users = ?super_users, allow_if_no_acl, "acl authorizer loaded");
        Ok(AclAuthorizer {
            store,
            super_users,
            allow_if_no_acl,
            current: RwLock::new(Current { version: snapshot.version, policy }),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).policy.clone()
    }

    fn version(&self) -> i64 {
        self.current.read().unwrap_or_else(|e| e.into_inner()).version
    }

    /// Rebuilds the policy if the stored ACLs changed since it was built.
    pub async fn refresh(&self) -> Result<(), MetaError> {
        let _one = self.reload.lock().await;
        if self.store.acl_version().await? == self.version() {
            return Ok(());
        }
        let snapshot = self.store.acls().await?;
        let bindings = to_bindings(&snapshot.acls);
        let policy = Arc::new(Policy::new(&bindings, self.super_users.clone(), self.allow_if_no_acl));
        tracing::debug!(version = snapshot.version, acls = policy.len(), "acls reloaded");
        metrics::gauge!("weft_acl_bindings").set(policy.len() as f64);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Current { version: snapshot.version, policy };
        Ok(())
    }

    /// Every stored binding, read from the metastore (not the snapshot): what DescribeAcls and DeleteAcls
    /// act on.
    pub async fn stored(&self) -> Result<Vec<AclBinding>, MetaError> {
        Ok(to_bindings(&self.store.acls().await?.acls))
    }

    /// Stores `bindings` (already validated) and brings this agent's policy up to date.
    pub async fn create(&self, bindings: &[AclBinding]) -> Result<(), MetaError> {
        let records: Vec<AclRecord> = bindings.iter().map(to_record).collect();
        self.store.create_acls(&records).await?;
        self.refresh_after_change().await;
        Ok(())
    }

    /// Removes `bindings`; returns those that were stored.
    pub async fn delete(&self, bindings: &[AclBinding]) -> Result<Vec<AclBinding>, MetaError> {
        let records: Vec<AclRecord> = bindings.iter().map(to_record).collect();
        let removed = self.store.delete_acls(&records).await?;
        self.refresh_after_change().await;
        Ok(to_bindings(&removed))
    }

    /// The change is stored; a failed reload only delays it here until the next poll.
    async fn refresh_after_change(&self) {
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "acls changed but could not be reloaded; retrying in the background");
        }
    }

    /// Polls for changes until the task is aborted.
    pub async fn follow(self: Arc<Self>) {
        let mut tick = tokio::time::interval(REFRESH);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "acls could not be reloaded; deciding with the previous ones");
            }
        }
    }
}

pub fn to_record(b: &AclBinding) -> AclRecord {
    AclRecord {
        resource_type: b.resource_type.code(),
        resource_name: b.resource_name.clone(),
        pattern_type: b.pattern_type.code(),
        principal: b.principal.clone(),
        host: b.host.clone(),
        operation: b.operation.code(),
        permission: b.permission.code(),
    }
}

pub fn to_binding(r: &AclRecord) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::from_code(r.resource_type),
        resource_name: r.resource_name.clone(),
        pattern_type: PatternType::from_code(r.pattern_type),
        principal: r.principal.clone(),
        host: r.host.clone(),
        operation: AclOperation::from_code(r.operation),
        permission: Permission::from_code(r.permission),
    }
}

fn to_bindings(records: &[AclRecord]) -> Vec<AclBinding> {
    records.iter().map(to_binding).collect()
}
