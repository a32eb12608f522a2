//! The object-store stack an agent opens, from its options: the latency model and encryption at rest.

use crate::config::AgentConfig;
use crate::server::{ENCRYPTION_KEYS_VAR, StartError};
use std::sync::Arc;
use weft_clock::IdSource;

/// The object-store stack's options: the default retries, and the `--object-store-model` (seeded from the
/// id source, so an injected one replays the same delays).
pub(crate) fn store_options(
    config: &AgentConfig,
    ids: &Arc<dyn IdSource>,
) -> Result<weft_storage::StoreOptions, StartError> {
    use weft_config::ObjectStoreModel;
    use weft_storage::{ModelOptions, StoreModel};
    let model = match config.object_store_model {
        ObjectStoreModel::Off => None,
        ObjectStoreModel::S3Standard => Some(StoreModel::S3Standard),
        ObjectStoreModel::S3Express => Some(StoreModel::S3Express),
    };
    if let Some(model) = model {
        tracing::warn!(
            ?model,
            "object-store requests are delayed and failed as the model says (for tests and benchmarks)"
        );
    }
    let model = model.map(|model| ModelOptions { model, seed: ids.nonce() });
    let encryption = encryption(config)?;
    Ok(weft_storage::StoreOptions { model, encryption, ..Default::default() })
}

/// Encryption at rest, when keys are given by file or variable.
fn encryption(config: &AgentConfig) -> Result<Option<weft_storage::Encryption>, StartError> {
    let from_var = std::env::var(ENCRYPTION_KEYS_VAR).ok().filter(|text| !text.trim().is_empty());
    let keyring = match (&config.encryption_keys_file, from_var) {
        (Some(_), Some(_)) => return Err(StartError::KeysTwice),
        (Some(path), None) => weft_storage::Keyring::from_file(path)?,
        (None, Some(text)) => weft_storage::Keyring::parse(&text)?,
        (None, None) => return Ok(None),
    };
    tracing::info!(current = keyring.current_id(), keys = ?keyring.ids(), "objects are encrypted at rest");
    let entropy: Arc<dyn weft_storage::Entropy> = Arc::new(weft_storage::SystemEntropy);
    Ok(Some(weft_storage::Encryption { keyring: Arc::new(keyring), entropy }))
}

/// An object store URL as errors show it: without its query, which may carry credentials.
pub(crate) fn storage_url_shown(url: &str) -> String {
    url.split_once('?').map_or(url, |(base, _)| base).to_string()
}
