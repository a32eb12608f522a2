//! The bottom of the stack: the undecorated store named by a URL.
//!
//! The URL is parsed by `object_store` itself ([`ObjectStoreScheme`]), so each kind of store is one match
//! arm. Weft accepts `file:///abs/dir` (a local directory, created if missing, with its data folders made
//! durable once), `s3://bucket[/prefix]` (AWS S3 or any S3-compatible store, see [`crate::s3`]) and
//! `memory://` (objects kept in memory only, for tests and diagnosis). Anything else is refused with
//! [`StorageError::BadUrl`].

use crate::error::StorageError;
use crate::keys;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The undecorated store, and for a local directory its root (the durability layer fsyncs under it).
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub store: Arc<dyn ObjectStore>,
    pub local_root: Option<PathBuf>,
}

/// Opens the store named by `url`.
pub(crate) fn open(url: &str) -> Result<Base, StorageError> {
    let bad = || StorageError::BadUrl { url: url.to_string() };
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    // `memory://` has an empty host, which `object_store` does not recognise; it names the same store as
    // `memory:///`.
    let parsed = match (parsed.scheme(), parsed.host_str()) {
        ("memory", Some("")) => url::Url::parse("memory:///").map_err(|_| bad())?,
        _ => parsed,
    };
    let (scheme, _path) = ObjectStoreScheme::parse(&parsed).map_err(|_| bad())?;
    // The guards keep the spellings Weft has always accepted: lenient forms the URL parser would also take
    // (`file:/x`, `file:x`, `memory:`) stay refused, so a typo cannot point the agent somewhere unexpected.
    match scheme {
        ObjectStoreScheme::Memory if url == "memory://" || url == "memory:///" => {
            Ok(Base { store: Arc::new(InMemory::new()), local_root: None })
        }
        ObjectStoreScheme::Local if url.starts_with("file:///") => {
            let root = parsed.to_file_path().map_err(|_| bad())?;
            // Weft has always taken the directory literally as written after `file://`. A URL whose decoding
            // names another directory (percent escapes, `?`, `#`) is refused rather than moving the data.
            if url.strip_prefix("file://").map(std::path::Path::new) != Some(root.as_path()) {
                return Err(bad());
            }
            local(root)
        }
        ObjectStoreScheme::AmazonS3 => crate::s3::open(url, &parsed),
        _ => Err(bad()),
    }
}

/// A local directory store rooted at `root`, with every data folder created and made durable.
fn local(root: PathBuf) -> Result<Base, StorageError> {
    for data_dir in keys::DATA_DIRS {
        let folder = root.join(data_dir);
        std::fs::create_dir_all(&folder)
            .map_err(|source| StorageError::Sync { path: folder.display().to_string(), source })?;
        // Make the directory chain itself durable once, so later fsyncs of the data folder suffice.
        let mut dir = folder;
        loop {
            sync_dir(&dir)?;
            if dir == root || !dir.pop() {
                break;
            }
        }
    }
    let fs = LocalFileSystem::new_with_prefix(&root).map_err(|source| StorageError::Store {
        op: "open",
        key: root.display().to_string(),
        source,
    })?;
    Ok(Base { store: Arc::new(fs), local_root: Some(root) })
}

fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|source| StorageError::Sync { path: dir.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_with_and_without_the_root_slash_are_accepted() {
        for url in ["memory://", "memory:///"] {
            let base = open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(base.local_root.is_none(), "{url}");
        }
    }

    #[test]
    fn file_urls_name_an_absolute_directory_that_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("with space").join("objects");
        let base = open(&format!("file://{}", root.display())).unwrap();
        assert_eq!(base.local_root.as_deref(), Some(root.as_path()));
        for data_dir in keys::DATA_DIRS {
            assert!(root.join(data_dir).is_dir(), "{data_dir}");
        }
    }

    #[test]
    fn other_urls_are_refused() {
        for url in [
            "s4://x",
            "s3://",
            "file://relative",
            "memory://host",
            "memory:///sub",
            "memory:",
            "",
            "/abs/path",
            "file:/abs",
            "file:///a?b",
        ] {
            assert!(matches!(open(url), Err(StorageError::BadUrl { .. })), "{url}");
        }
    }
}
