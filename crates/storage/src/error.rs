//! The one error type callers of [`crate::ObjectStorage`] see, and the translation from the
//! `object_store` errors the layers return.
//!
//! Layers speak `object_store::Error` to each other (that is the trait they implement). When a layer
//! needs to report something Weft-specific (an injected fault, a failed fsync, a timed-out attempt) it
//! boxes one of the small marker errors below into `object_store::Error::Generic`, and [`from_store`]
//! unboxes it again at the top, so callers still match on [`StorageError::Injected`] or
//! [`StorageError::Sync`].

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported object store url {url:?} (expected file:///abs/path, s3://bucket/prefix or memory://)")]
    BadUrl { url: String },
    #[error("invalid s3 object store url {url:?}: {reason}")]
    BadS3 { url: String, reason: String },
    #[error("object {key} not found")]
    NotFound { key: String },
    #[error("object store {op} of {key} failed: {source}")]
    Store {
        op: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("local fsync of {path} failed: {source}")]
    Sync {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("injected fault in object store {op} of {key}")]
    Injected { op: &'static str, key: String },
    #[error("range {start}..{end} is outside object {key} of {len} bytes")]
    BadRange { key: String, start: u64, end: u64, len: usize },
    /// An object could not be sealed or opened (encryption at rest): a missing or wrong key, or altered bytes.
    #[error("object {key}: {source}")]
    Sealed {
        key: String,
        #[source]
        source: crate::envelope::SealError,
    },
}

/// Marker carried by `object_store::Error::Generic` when the faults layer fails an operation.
#[derive(Debug, thiserror::Error)]
#[error("injected fault in object store {op}")]
pub(crate) struct InjectedFault {
    pub op: &'static str,
}

/// Marker carried by `object_store::Error::Generic` when the durability layer cannot fsync.
#[derive(Debug, thiserror::Error)]
#[error("local fsync of {path} failed: {source}")]
pub(crate) struct SyncFailed {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Marker carried by `object_store::Error::Generic` when one attempt outlives the retry layer's timeout.
#[derive(Debug, thiserror::Error)]
#[error("object store {op} attempt timed out after {after_ms} ms")]
pub(crate) struct AttemptTimedOut {
    pub op: &'static str,
    pub after_ms: u128,
}

/// Wraps a marker error the way layers return it.
pub(crate) fn generic(
    store: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> object_store::Error {
    object_store::Error::Generic { store, source: Box::new(source) }
}

/// Whether `e` carries a marker of type `T`.
pub(crate) fn carries<T: std::error::Error + 'static>(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::Generic { source, .. } if source.is::<T>())
}

/// Translates a layer's error for the operation `op` on `key` into a [`StorageError`].
pub(crate) fn from_store(op: &'static str, key: &str, e: object_store::Error) -> StorageError {
    let key = key.to_string();
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound { key },
        object_store::Error::Generic { store, source } => match source.downcast::<InjectedFault>() {
            Ok(_) => StorageError::Injected { op, key },
            Err(source) => match source.downcast::<SyncFailed>() {
                Ok(sync) => StorageError::Sync { path: sync.path, source: sync.source },
                Err(source) => match source.downcast::<crate::sealed::SealFailed>() {
                    Ok(sealed) => StorageError::Sealed { key, source: sealed.0 },
                    Err(source) => {
                        StorageError::Store { op, key, source: object_store::Error::Generic { store, source } }
                    }
                },
            },
        },
        source => StorageError::Store { op, key, source },
    }
}

/// A copy of `e` for the callers that shared one read (single-flight): the kind is kept (not found, injected,
/// bounds), while a store error's source, which cannot be cloned, is kept as its message.
pub(crate) fn share(e: &StorageError) -> StorageError {
    match e {
        StorageError::BadUrl { url } => StorageError::BadUrl { url: url.clone() },
        StorageError::BadS3 { url, reason } => StorageError::BadS3 { url: url.clone(), reason: reason.clone() },
        StorageError::NotFound { key } => StorageError::NotFound { key: key.clone() },
        StorageError::Injected { op, key } => StorageError::Injected { op, key: key.clone() },
        StorageError::BadRange { key, start, end, len } => {
            StorageError::BadRange { key: key.clone(), start: *start, end: *end, len: *len }
        }
        StorageError::Sync { path, source } => {
            StorageError::Sync { path: path.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
        }
        StorageError::Sealed { key, source } => StorageError::Sealed { key: key.clone(), source: source.clone() },
        StorageError::Store { op, key, source } => StorageError::Store {
            op,
            key: key.clone(),
            source: object_store::Error::Generic { store: "shared read", source: source.to_string().into() },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_markers_become_the_errors_callers_match_on() {
        let injected = from_store("put", "k", generic("faults", InjectedFault { op: "put" }));
        assert!(matches!(injected, StorageError::Injected { op: "put", ref key } if key == "k"));
        let sync = SyncFailed { path: "/d/k".into(), source: std::io::Error::other("eio") };
        assert!(
            matches!(from_store("put", "k", generic("durability", sync)), StorageError::Sync { ref path, .. } if path == "/d/k")
        );
        let missing = object_store::Error::NotFound { path: "k".into(), source: "gone".into() };
        assert!(matches!(from_store("get", "k", missing), StorageError::NotFound { .. }));
        let other = from_store("get", "k", generic("scripted", std::io::Error::other("reset")));
        assert!(matches!(other, StorageError::Store { op: "get", .. }));
        assert!(matches!(share(&other), StorageError::Store { op: "get", .. }));
        assert!(share(&other).to_string().contains("reset"), "{}", share(&other));
    }
}
