//! The registry's operations over the store, free of HTTP: preparing a schema (references resolved, parsed,
//! canonical text and fingerprint), the effective settings of a subject, registering with the level's checks,
//! looking a schema up, and finding versions. Parsing and compatibility checks are CPU work that a crafted
//! schema can make slow (within the format crate's budgets): they run on tokio's blocking pool, never on the
//! async workers that serve Kafka clients.

use crate::error::ApiError;
use crate::level::{Compatibility, Mode};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use weft_meta::{Placement, Registration, SchemaContent, SchemaReference, Schemas, StoredSchema, SubjectVersion};
use weft_schema::{Dependency, Schema, SchemaType};

/// The most schemas one schema may reference, directly and transitively.
pub const MAX_REFERENCES: usize = 100;
/// How often a registration is retried when others registered under its subject in between.
const REGISTER_ATTEMPTS: usize = 8;

/// A schema as a request carries it.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub text: String,
    pub schema_type: SchemaType,
    pub references: Vec<SchemaReference>,
}

/// A submitted schema made ready to store or compare.
pub struct Prepared {
    pub parsed: Schema,
    pub content: SchemaContent,
}

/// A version reference in a path: a number or the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRef {
    Latest,
    Number(i32),
}

impl VersionRef {
    /// `latest`, `-1` or 1..=2^31-1; anything else is Confluent's 42202.
    pub fn parse(text: &str) -> Result<VersionRef, ApiError> {
        match text {
            "latest" | "-1" => Ok(VersionRef::Latest),
            _ => match text.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(VersionRef::Number(n)),
                _ => Err(ApiError::invalid_version(text)),
            },
        }
    }
}

/// The registry served by one agent; its state is all in the store, shared with the other agents.
pub struct Registry {
    store: Arc<dyn Schemas>,
}

fn fingerprint(schema_type: SchemaType, text: &str, references: &[SchemaReference]) -> String {
    let mut digest = Sha256::new();
    for part in [schema_type.as_str(), text] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    for r in references {
        for part in [r.name.as_str(), r.subject.as_str()] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        digest.update(r.version.to_be_bytes());
    }
    digest.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs CPU-bound schema work on the blocking pool, so that a slow parse or check cannot stall the agent.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::store(format!("schema work stopped: {e}")))
}

fn stored_type(stored: &StoredSchema) -> Result<SchemaType, ApiError> {
    stored.content.schema_type.parse().map_err(|e: weft_schema::UnknownSchemaType| {
        ApiError::store(format!("schema {}: unknown schema type {}", stored.id, e.0))
    })
}

impl Registry {
    pub fn new(store: Arc<dyn Schemas>) -> Self {
        Registry { store }
    }

    pub fn store(&self) -> &dyn Schemas {
        &*self.store
    }

    /// The referenced schemas, transitively, each once, those referenced deepest first.
    pub async fn resolve(&self, references: &[SchemaReference]) -> Result<Vec<Dependency>, ApiError> {
        let mut queue: Vec<SchemaReference> = references.to_vec();
        let mut seen: Vec<(String, i32)> = Vec::new();
        let mut out: Vec<Dependency> = Vec::new();
        let mut next = 0;
        while next < queue.len() {
            let r = queue[next].clone();
            next += 1;
            if seen.contains(&(r.subject.clone(), r.version)) {
                continue;
            }
            if seen.len() >= MAX_REFERENCES {
                return Err(ApiError::invalid_schema(format!("more than {MAX_REFERENCES} references")));
            }
            seen.push((r.subject.clone(), r.version));
            let version = VersionRef::Number(r.version);
            // Soft-deleted versions still resolve (as Confluent's): a reference keeps its target readable.
            let found = self.find_version(&r.subject, version, true).await;
            let missing = || {
                ApiError::invalid_schema(format!(
                    "reference {:?} ({} version {}) not found",
                    r.name, r.subject, r.version
                ))
            };
            // Only a missing subject or version is the submitter's fault; a store failure stays a 50001.
            let row = found.map_err(|e| if e.status.is_server_error() { e } else { missing() })?;
            let stored = self.store.schema_by_id(row.schema_id).await?.ok_or_else(missing)?;
            queue.extend(stored.content.references.iter().cloned());
            if !out.iter().any(|d| d.name == r.name) {
                out.push(Dependency {
                    name: r.name.clone(),
                    schema_type: stored_type(&stored)?,
                    text: stored.content.text,
                });
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Resolves, parses and fingerprints a submitted schema.
    pub async fn prepare(&self, submitted: &Submitted, normalize: bool) -> Result<Prepared, ApiError> {
        if submitted.text.trim().is_empty() {
            return Err(ApiError::invalid_schema("empty schema"));
        }
        if submitted.references.len() > MAX_REFERENCES {
            return Err(ApiError::invalid_schema(format!("more than {MAX_REFERENCES} references")));
        }
        let deps = self.resolve(&submitted.references).await?;
        let (schema_type, text) = (submitted.schema_type, submitted.text.clone());
        let (parsed, text) = off_thread(move || {
            let parsed = Schema::parse(schema_type, &text, &deps)?;
            let canonical = parsed.canonical(normalize);
            Ok::<_, weft_schema::SchemaError>((parsed, canonical))
        })
        .await?
        .map_err(ApiError::invalid_schema)?;
        let content = SchemaContent {
            schema_type: submitted.schema_type.as_str().to_string(),
            fingerprint: fingerprint(submitted.schema_type, &text, &submitted.references),
            text,
            references: submitted.references.clone(),
        };
        Ok(Prepared { parsed, content })
    }

    /// A stored schema parsed again (for compatibility checks).
    pub async fn parse_stored(&self, stored: &StoredSchema) -> Result<Schema, ApiError> {
        let deps = self.resolve(&stored.content.references).await?;
        let (schema_type, text, id) = (stored_type(stored)?, stored.content.text.clone(), stored.id);
        off_thread(move || Schema::parse(schema_type, &text, &deps))
            .await?
            .map_err(|e| ApiError::store(format!("stored schema {id} no longer parses: {e}")))
    }

    pub async fn schema(&self, id: i32) -> Result<StoredSchema, ApiError> {
        self.store.schema_by_id(id).await?.ok_or_else(ApiError::schema_not_found)
    }

    /// The level and normalize flag in force for `subject`: its own, else the global ones, else the defaults.
    pub async fn effective_config(&self, subject: Option<&str>) -> Result<(Compatibility, bool), ApiError> {
        let global = self.store.registry_config(None).await?;
        let own = match subject {
            Some(s) => self.store.registry_config(Some(s)).await?,
            None => Default::default(),
        };
        let level = own.compatibility.or(global.compatibility);
        let level = level.and_then(|l| l.parse().ok()).unwrap_or_default();
        Ok((level, own.normalize.or(global.normalize).unwrap_or(false)))
    }

    /// The mode in force for `subject`: its own, else the global one, else READWRITE.
    pub async fn effective_mode(&self, subject: Option<&str>) -> Result<Mode, ApiError> {
        let own = match subject {
            Some(s) => self.store.registry_mode(Some(s)).await?,
            None => None,
        };
        let mode = match own {
            Some(mode) => Some(mode),
            None => self.store.registry_mode(None).await?,
        };
        Ok(mode.and_then(|m| m.parse().ok()).unwrap_or_default())
    }

    /// Refuses writes to `subject` in READONLY mode.
    pub async fn writable(&self, subject: &str) -> Result<Mode, ApiError> {
        let mode = self.effective_mode(Some(subject)).await?;
        if mode == Mode::ReadOnly {
            return Err(ApiError::not_permitted(format!("Subject {subject} is in read-only mode")));
        }
        Ok(mode)
    }

    /// A version of `subject`: soft-deleted ones only with `include_deleted`. No visible version at all is
    /// 40401, no such version 40402.
    pub async fn find_version(
        &self,
        subject: &str,
        version: VersionRef,
        include_deleted: bool,
    ) -> Result<SubjectVersion, ApiError> {
        let visible: Vec<SubjectVersion> =
            self.store.subject_versions(subject).await?.into_iter().filter(|v| include_deleted || !v.deleted).collect();
        let found = match version {
            VersionRef::Latest => visible.last().cloned(),
            VersionRef::Number(n) => visible.iter().find(|v| v.version == n).cloned(),
        };
        match (found, version) {
            (Some(v), _) => Ok(v),
            (None, _) if visible.is_empty() => Err(ApiError::subject_not_found(subject)),
            (None, VersionRef::Number(n)) => Err(ApiError::version_not_found(n)),
            (None, VersionRef::Latest) => Err(ApiError::subject_not_found(subject)),
        }
    }

    /// The live versions of `subject`, oldest first.
    pub async fn live_versions(&self, subject: &str) -> Result<Vec<SubjectVersion>, ApiError> {
        Ok(self.store.subject_versions(subject).await?.into_iter().filter(|v| !v.deleted).collect())
    }

    /// What `level` finds wrong with `new` against `versions` (oldest first).
    pub async fn violations(
        &self,
        level: Compatibility,
        new: &Schema,
        versions: &[SubjectVersion],
    ) -> Result<Vec<String>, ApiError> {
        let mut previous = Vec::new();
        for v in level.targets(versions) {
            previous.push(self.parse_stored(&self.schema(v.schema_id).await?).await?);
        }
        self.check(level, new, previous).await
    }

    /// What `level` finds wrong with `new` against `previous`, checked on the blocking pool.
    pub async fn check(
        &self,
        level: Compatibility,
        new: &Schema,
        previous: Vec<Schema>,
    ) -> Result<Vec<String>, ApiError> {
        let new = new.clone();
        off_thread(move || level.violations(&new, &previous)).await
    }

    /// Registers `submitted` under `subject` (Confluent's POST /subjects/{s}/versions): an existing live
    /// version of equal content answers its id; otherwise the level is checked against the live versions and
    /// the new version is written only on top of the version checked against (retried if others won).
    pub async fn register(
        &self,
        subject: &str,
        submitted: &Submitted,
        placement: Placement,
        normalize: Option<bool>,
    ) -> Result<i32, ApiError> {
        let mode = self.writable(subject).await?;
        if placement.id.is_some() && mode != Mode::Import {
            return Err(ApiError::not_permitted(format!(
                "Overwrite new schema with id {} is not permitted unless the subject is in IMPORT mode",
                placement.id.unwrap_or_default()
            )));
        }
        let (level, configured) = self.effective_config(Some(subject)).await?;
        let prepared = self.prepare(submitted, normalize == Some(true) || configured).await?;
        for _ in 0..REGISTER_ATTEMPTS {
            let live = self.live_versions(subject).await?;
            let existing = self.store.schema_id_by_fingerprint(&prepared.content.fingerprint).await?;
            if let Some(id) = existing
                && placement.id.is_none()
                && live.iter().any(|v| v.schema_id == id)
            {
                return Ok(id);
            }
            let expect = if mode == Mode::Import || level == Compatibility::None {
                None
            } else {
                let found = self.violations(level, &prepared.parsed, &live).await?;
                if !found.is_empty() {
                    return Err(ApiError::incompatible(subject, &found));
                }
                Some(live.last().map(|v| v.version))
            };
            match self.store.register_schema(subject, &prepared.content, placement, expect).await? {
                Registration::Registered { id, version } => {
                    tracing::info!(subject, id, version, "schema registered");
                    return Ok(id);
                }
                Registration::Existing { id, .. } => return Ok(id),
                Registration::Stale { .. } => continue,
                Registration::Conflict { reason } => return Err(ApiError::not_permitted(reason)),
            }
        }
        Err(ApiError::busy(subject))
    }

    /// The version of `subject` holding `submitted` (Confluent's POST /subjects/{s}).
    pub async fn lookup(
        &self,
        subject: &str,
        submitted: &Submitted,
        normalize: Option<bool>,
        include_deleted: bool,
    ) -> Result<(SubjectVersion, StoredSchema), ApiError> {
        let versions: Vec<SubjectVersion> =
            self.store.subject_versions(subject).await?.into_iter().filter(|v| include_deleted || !v.deleted).collect();
        if versions.is_empty() {
            return Err(ApiError::subject_not_found(subject));
        }
        let (_, configured) = self.effective_config(Some(subject)).await?;
        let prepared = self.prepare(submitted, normalize == Some(true) || configured).await?;
        let id = self.store.schema_id_by_fingerprint(&prepared.content.fingerprint).await?;
        let found = id.and_then(|id| versions.iter().rev().find(|v| v.schema_id == id).cloned());
        let version = found.ok_or_else(ApiError::schema_not_found)?;
        let stored = self.schema(version.schema_id).await?;
        Ok((version, stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_confluent_allows() {
        assert_eq!(VersionRef::parse("latest"), Ok(VersionRef::Latest));
        assert_eq!(VersionRef::parse("-1"), Ok(VersionRef::Latest));
        assert_eq!(VersionRef::parse("7"), Ok(VersionRef::Number(7)));
        for bad in ["0", "-2", "x", "", "2147483648"] {
            assert_eq!(VersionRef::parse(bad).map_err(|e| e.code), Err(42202), "{bad}");
        }
    }

    #[test]
    fn fingerprints_separate_type_text_and_references() {
        let r = |v| SchemaReference { name: "n".into(), subject: "s".into(), version: v };
        let base = fingerprint(SchemaType::Avro, "x", &[]);
        assert_eq!(base, fingerprint(SchemaType::Avro, "x", &[]));
        assert_ne!(base, fingerprint(SchemaType::Json, "x", &[]));
        assert_ne!(base, fingerprint(SchemaType::Avro, "y", &[]));
        assert_ne!(fingerprint(SchemaType::Avro, "x", &[r(1)]), fingerprint(SchemaType::Avro, "x", &[r(2)]));
    }
}
