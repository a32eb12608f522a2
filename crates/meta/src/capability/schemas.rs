//! The schema registry's state: schemas under global ids, the versions of each subject, and the registry's
//! global and per-subject settings (compatibility level, normalize, mode). Every agent sharing the store serves
//! the same registry from it.

use crate::Result;
use async_trait::async_trait;

/// A reference from one schema to a version of another subject, by the name the referring schema uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A schema's content: its identity is (type, text, references), summarised by `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaContent {
    /// `AVRO`, `PROTOBUF` or `JSON`.
    pub schema_type: String,
    /// The canonical text, as stored and returned.
    pub text: String,
    pub references: Vec<SchemaReference>,
    /// A digest of type, text and references, computed by the caller; equal content has equal fingerprints.
    pub fingerprint: String,
}

/// A stored schema and its global id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchema {
    pub id: i32,
    pub content: SchemaContent,
}

/// One version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub schema_id: i32,
    /// Soft-deleted: hidden from reads unless deleted versions are asked for.
    pub deleted: bool,
}

/// How a registration asks for its id and version (IMPORT mode gives both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement {
    /// The id to register under; `None` reuses the id of equal content or allocates the next one.
    pub id: Option<i32>,
    /// The version to register as; `None` is the subject's next version.
    pub version: Option<i32>,
}

/// What a registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// A new version of the subject (the id may be shared with other subjects).
    Registered { id: i32, version: i32 },
    /// The content already is a live version of the subject; nothing changed.
    Existing { id: i32, version: i32 },
    /// The subject's latest live version is no longer the one the caller checked compatibility against.
    Stale { latest: Option<i32> },
    /// An explicit id or version clashes with what is stored.
    Conflict { reason: String },
}

/// What a deletion did, or why it did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The versions deleted (soft or permanently).
    Deleted(Vec<i32>),
    NoSubject,
    NoVersion,
    /// A soft delete of what is soft-deleted already.
    AlreadySoftDeleted,
    /// A permanent delete of what is not soft-deleted first.
    NotSoftDeleted,
    /// Other schemas reference it (the ids of those schemas).
    Referenced(Vec<i32>),
}

/// Compatibility settings of the registry or of one subject; `None` fields are unset (inherited).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    pub compatibility: Option<String>,
    pub normalize: Option<bool>,
}

/// What the schema registry owns.
///
/// `subject = None` names the registry-wide (global) settings. Ids are global, start at 1 and never change;
/// equal content (the same fingerprint) has one id whichever subjects register it. Versions of a subject start
/// at 1 and grow.
///
/// Invariants: every write is one transaction and registry writes are serialised across all agents sharing the
/// store, so concurrent registrations never give one content two ids, one id two contents, or one subject one
/// version twice. A registration can be made conditional on the subject's latest live version (the one its
/// compatibility was checked against), so no version slips in between a check and a write.
///
/// Used by: the schema registry's REST API (`crates/registry`).
#[async_trait]
pub trait Schemas: Send + Sync + 'static {
    /// Registers `content` under `subject`. When `expect_latest` is `Some(v)`, refuses with
    /// [`Registration::Stale`] unless the subject's latest live version is `v` (`Some(None)`: no live version).
    async fn register_schema(
        &self,
        subject: &str,
        content: &SchemaContent,
        placement: Placement,
        expect_latest: Option<Option<i32>>,
    ) -> Result<Registration>;

    /// The schema with global id `id`.
    async fn schema_by_id(&self, id: i32) -> Result<Option<StoredSchema>>;

    /// The id of the content with this fingerprint, if stored.
    async fn schema_id_by_fingerprint(&self, fingerprint: &str) -> Result<Option<i32>>;

    /// Every subject with a version, sorted; with `include_deleted`, also subjects whose versions are all
    /// soft-deleted.
    async fn subjects(&self, include_deleted: bool) -> Result<Vec<String>>;

    /// Every version of `subject`, soft-deleted ones included, by version.
    async fn subject_versions(&self, subject: &str) -> Result<Vec<SubjectVersion>>;

    /// Every subject version using schema `id`, soft-deleted ones included, by subject then version.
    async fn schema_usages(&self, id: i32) -> Result<Vec<SubjectVersion>>;

    /// The ids of the schemas that reference `subject` version `version`, sorted.
    async fn referenced_by(&self, subject: &str, version: i32) -> Result<Vec<i32>>;

    /// Deletes one version: soft, or permanently (only once soft-deleted).
    async fn delete_schema_version(&self, subject: &str, version: i32, permanent: bool) -> Result<Deletion>;

    /// Deletes every version of a subject: soft (the live ones), or permanently (only once all are
    /// soft-deleted; the subject's settings go too).
    async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Deletion>;

    /// The compatibility settings of `subject` (or the global ones), as set.
    async fn registry_config(&self, subject: Option<&str>) -> Result<RegistryConfig>;

    /// Replaces the compatibility settings of `subject` (or the global ones); an all-`None` config clears them.
    async fn set_registry_config(&self, subject: Option<&str>, config: &RegistryConfig) -> Result<()>;

    /// The mode of `subject` (or the global one), as set.
    async fn registry_mode(&self, subject: Option<&str>) -> Result<Option<String>>;

    /// Sets (or with `None` clears) the mode of `subject` (or the global one).
    async fn set_registry_mode(&self, subject: Option<&str>, mode: Option<&str>) -> Result<()>;
}
