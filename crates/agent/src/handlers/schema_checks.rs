//! Broker-side schema validation, as Confluent's `confluent.key.schema.validation` /
//! `confluent.value.schema.validation`: on a topic that enables it, every non-null key or value must carry the
//! wire format's magic byte 0 and a schema id that is a live version of the subject its strategy names (and, with
//! `weft.schema.validation.deep`, decode with that schema). Records that fail are refused one by one (KIP-467)
//! and nothing of their batch is stored. Runs after `record_checks`, so the batch is known to be well formed.

use super::record_checks::Refusal;
use crate::error::KafkaCode;
use kafka_protocol::ResponseError;
use std::collections::{BTreeMap, HashMap};
use weft_protocol::BatchHeader;
use weft_protocol::records::{MAX_LISTED_RECORD_ERRORS, Mode, walk};
use weft_registry::ids::{Found, LookupBudget, SchemaIds};
use weft_topics::schema_rules::{SchemaValidation, Side, SubjectStrategy};

/// Bytes before the payload: magic byte 0 and the schema id (big-endian i32).
const WIRE_HEADER: usize = 5;
/// Most distinct schema ids one batch may name (real producers use one or two), so a batch cannot make the
/// agent look up thousands of ids.
const MAX_IDS_PER_BATCH: usize = 64;
/// Record errors that carry a message (the indices of the rest are still listed).
const MAX_RECORD_ERROR_MESSAGES: usize = 100;

/// Whether (side, id, record name) is a live version of its subject, else the subject, per batch.
type Memberships = HashMap<(Side, i32, Option<String>), Result<(), String>>;

/// A key or value that carries a schema id.
struct Framed<'a> {
    index: u32,
    side: Side,
    strategy: SubjectStrategy,
    id: i32,
    /// The bytes after the 5-byte header.
    payload: &'a [u8],
}

/// The schema id of a key or value; `Ok(None)` for null, which is not checked (tombstones, null keys).
fn frame(bytes: Option<&[u8]>) -> Result<Option<(i32, &[u8])>, String> {
    let Some(bytes) = bytes else { return Ok(None) };
    let Some((header, payload)) = bytes.split_first_chunk::<WIRE_HEADER>() else {
        return Err(format!("is {} bytes, too short for the 5-byte schema id header", bytes.len()));
    };
    if header[0] != 0 {
        return Err(format!("does not start with the schema registry magic byte 0 (found 0x{:02x})", header[0]));
    }
    let id = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Ok(Some((id, payload)))
}

/// Checks every record of one batch (`payload`: its decompressed records) against `rules`.
pub async fn check_schemas(
    ids: &SchemaIds,
    budget: &mut LookupBudget,
    topic: &str,
    rules: &SchemaValidation,
    header: &BatchHeader,
    payload: &[u8],
) -> Result<(), Refusal> {
    let corrupt = |e: weft_protocol::records::RecordsError| Refusal::from((e.code(), e.to_string()));
    let mut errors = RecordErrors::default();
    let mut framed = Vec::new();
    let count = walk(header, payload, Mode::Producer, |r| {
        for (side, strategy) in rules.sides() {
            let bytes = if side == Side::Key { r.key } else { r.value };
            match frame(bytes) {
                Ok(Some((id, payload))) => framed.push(Framed { index: r.index, side, strategy, id, payload }),
                Ok(None) => {}
                Err(reason) => errors.add(r.index, side, format!("{} {reason}", side.as_str())),
            }
        }
    })
    .map_err(corrupt)?;
    let schemas = resolve(ids, budget, &framed).await?;
    let mut memberships = Memberships::new();
    // The id each side's last record passed with: a run of records with one id under the topic strategy (the
    // usual batch) is looked up once, unless every payload is decoded.
    let mut passed: [Option<i32>; 2] = [None, None];
    for f in &framed {
        let slot = &mut passed[f.side as usize];
        let same_subject = f.strategy == SubjectStrategy::Topic && !rules.deep;
        if same_subject && *slot == Some(f.id) {
            continue;
        }
        match check_one(ids, budget, topic, rules.deep, &schemas, &mut memberships, f).await? {
            Ok(()) => *slot = same_subject.then_some(f.id),
            Err(reason) => errors.add(f.index, f.side, format!("{} {reason}", f.side.as_str())),
        }
    }
    if errors.by_record.is_empty() {
        return Ok(());
    }
    metrics::counter!("weft_schema_validation_records_rejected_total", "topic" => topic.to_string())
        .increment(errors.by_record.len() as u64);
    Err(errors.refusal(topic, count))
}

/// The schema of every distinct id the batch names (at most [`MAX_IDS_PER_BATCH`]).
async fn resolve(
    ids: &SchemaIds,
    budget: &mut LookupBudget,
    framed: &[Framed<'_>],
) -> Result<HashMap<i32, Found>, Refusal> {
    let mut schemas = HashMap::new();
    for f in framed {
        if schemas.contains_key(&f.id) {
            continue;
        }
        if schemas.len() == MAX_IDS_PER_BATCH {
            let message = format!("a batch may name at most {MAX_IDS_PER_BATCH} distinct schema ids");
            return Err((ResponseError::InvalidRecord.code(), message).into());
        }
        let found = if f.id <= 0 { Found::Unknown } else { ids.schema(f.id, budget).await.map_err(unavailable)? };
        schemas.insert(f.id, found);
    }
    Ok(schemas)
}

/// One key or value: its id names a schema, live under the strategy's subject, and (deep) the payload decodes.
/// The outer error is the registry being unavailable; the inner one the record's refusal.
#[allow(clippy::too_many_arguments)]
async fn check_one(
    ids: &SchemaIds,
    budget: &mut LookupBudget,
    topic: &str,
    deep: bool,
    schemas: &HashMap<i32, Found>,
    memberships: &mut Memberships,
    f: &Framed<'_>,
) -> Result<Result<(), String>, Refusal> {
    let schema = match schemas.get(&f.id) {
        Some(Found::Schema(schema)) => schema,
        Some(Found::Unusable(reason)) => {
            return Ok(Err(format!("has schema id {} that cannot be used: {reason}", f.id)));
        }
        Some(Found::Unknown) | None => return Ok(Err(format!("has schema id {}, which is not registered", f.id))),
    };
    // The topic strategy's subject is the same for every record of a side: keyed without allocating.
    let name = (f.strategy != SubjectStrategy::Topic).then(|| schema.record_name_for(f.payload)).flatten();
    let key = (f.side, f.id, name);
    let membership = match memberships.get(&key) {
        Some(known) => known.clone(),
        None => {
            let Some(subject) = f.strategy.subject(topic, f.side, key.2.as_deref()) else {
                let reason = "which has no record name for the subject name strategy";
                return Ok(Err(format!("has schema id {}, {reason}", f.id)));
            };
            let live = ids.subject_has(&subject, f.id, budget).await.map_err(unavailable)?;
            let known = if live { Ok(()) } else { Err(subject) };
            memberships.insert(key, known.clone());
            known
        }
    };
    if let Err(subject) = membership {
        return Ok(Err(format!("has schema id {}, which is not a version of subject {subject}", f.id)));
    }
    if deep && let Err(reason) = schema.validate_payload(f.payload) {
        return Ok(Err(format!("does not match schema id {}: {reason}", f.id)));
    }
    Ok(Ok(()))
}

/// The registry's store could not answer: a retriable error, nothing stored.
fn unavailable(e: weft_registry::ids::LookupError) -> Refusal {
    tracing::warn!(error = %e, "schema validation: lookup failed");
    (ResponseError::KafkaStorageError.code(), format!("schema validation could not look schemas up: {e}")).into()
}

/// The refused records, one error each (the key's before the value's).
#[derive(Default)]
struct RecordErrors {
    by_record: BTreeMap<u32, (Side, String)>,
}

impl RecordErrors {
    fn add(&mut self, index: u32, side: Side, message: String) {
        match self.by_record.get(&index) {
            Some((held, _)) if *held <= side => {}
            _ => {
                self.by_record.insert(index, (side, message));
            }
        }
    }

    /// INVALID_RECORD naming the records (the first `MAX_LISTED_RECORD_ERRORS`, messages for the first 100).
    fn refusal(self, topic: &str, count: u32) -> Refusal {
        let rejected = self.by_record.len();
        let (first_index, first) = match self.by_record.first_key_value() {
            Some((i, (_, m))) => (*i, m.clone()),
            None => (0, String::new()),
        };
        let message = format!(
            "{rejected} of {count} records rejected by schema validation of topic {topic}; the first, record \
             {first_index}: {first}"
        );
        let record_errors = self
            .by_record
            .into_iter()
            .take(MAX_LISTED_RECORD_ERRORS)
            .enumerate()
            .map(|(n, (i, (_, m)))| (i as i32, (n < MAX_RECORD_ERROR_MESSAGES).then_some(m)))
            .collect();
        Refusal { code: ResponseError::InvalidRecord.code(), message, record_errors }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_needs_magic_and_id() {
        assert_eq!(frame(None), Ok(None));
        assert_eq!(frame(Some(&[0, 0, 0, 1, 7, 42])), Ok(Some((263, &[42u8][..]))));
        assert_eq!(frame(Some(&[0, 0, 0, 0, 1])), Ok(Some((1, &[][..]))));
        assert!(frame(Some(b"{\"a\":1}")).unwrap_err().contains("magic byte 0 (found 0x7b)"));
        assert!(frame(Some(&[0, 0, 1])).unwrap_err().contains("3 bytes"));
    }

    #[test]
    fn one_error_per_record_key_first() {
        let mut e = RecordErrors::default();
        e.add(4, Side::Value, "value bad".into());
        e.add(4, Side::Key, "key bad".into());
        e.add(4, Side::Value, "value worse".into());
        e.add(1, Side::Value, "value bad".into());
        let r = e.refusal("t", 10);
        assert_eq!(r.code, ResponseError::InvalidRecord.code());
        assert_eq!(r.record_errors, vec![(1, Some("value bad".into())), (4, Some("key bad".into()))]);
        assert!(r.message.starts_with("2 of 10 records rejected by schema validation of topic t; the first, record 1"));
    }
}
