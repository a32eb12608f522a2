//! Durability for a local directory store: a write is acknowledged only once the file and its directory
//! are fsync'd, so an acknowledged object survives a crash or power loss.
//!
//! Only local directories need this layer (cloud stores acknowledge durable writes themselves), so the
//! stack inserts it only when the base store has a local root. Deletes are not fsync'd: a delete lost in a
//! crash leaves an object the garbage collector deletes again.

use crate::error::{SyncFailed, generic};
use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, Result, UploadPart,
};
use std::path::PathBuf;
use std::sync::Arc;

/// Fsyncs every write of `inner`, a store whose objects are files under `root`.
#[derive(Debug)]
pub(crate) struct Durable {
    inner: Arc<dyn ObjectStore>,
    root: PathBuf,
}

impl Durable {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, root: PathBuf) -> Self {
        Durable { inner, root }
    }
}

impl std::fmt::Display for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Durable({})", self.inner)
    }
}

/// Fsyncs the file of `location` under `root`, then its directory (so the new name is durable too).
async fn sync_object(root: &std::path::Path, location: &Path) -> Result<()> {
    let file = root.join(location.as_ref());
    let key = location.to_string();
    tokio::task::spawn_blocking(move || {
        sync_path(&file)?;
        match file.parent() {
            Some(dir) => sync_path(dir),
            None => Ok(()),
        }
    })
    .await
    .map_err(|e| generic("durability", SyncFailed { path: key, source: std::io::Error::other(e) }))?
}

fn sync_path(p: &std::path::Path) -> Result<()> {
    std::fs::File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|source| generic("durability", SyncFailed { path: p.display().to_string(), source }))
}

#[async_trait]
impl ObjectStore for Durable {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let put = self.inner.put_opts(location, payload, opts).await?;
        sync_object(&self.root, location).await?;
        Ok(put)
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(DurableUpload { inner, root: self.root.clone(), location: location.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(&self, prefix: Option<&Path>, offset: &Path) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await?;
        sync_object(&self.root, to).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await?;
        sync_object(&self.root, to).await
    }
}

/// A multipart upload whose completion is acknowledged only once the assembled file is fsync'd.
#[derive(Debug)]
struct DurableUpload {
    inner: Box<dyn MultipartUpload>,
    root: PathBuf,
    location: Path,
}

#[async_trait]
impl MultipartUpload for DurableUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        let put = self.inner.complete().await?;
        sync_object(&self.root, &self.location).await?;
        Ok(put)
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::carries;
    use object_store::ObjectStoreExt;
    use object_store::local::LocalFileSystem;

    fn durable(root: &std::path::Path) -> Durable {
        let fs = LocalFileSystem::new_with_prefix(root).unwrap();
        Durable::new(Arc::new(fs), root.to_path_buf())
    }

    #[tokio::test]
    async fn an_acknowledged_put_is_a_file_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = durable(dir.path());
        store.put(&Path::from("v1/segments/a.seg"), PutPayload::from_static(b"abc")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("v1/segments/a.seg")).unwrap(), b"abc");
        let mut upload = store.put_multipart(&Path::from("v1/merged/b.seg")).await.unwrap();
        upload.put_part(PutPayload::from_static(b"de")).await.unwrap();
        upload.complete().await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("v1/merged/b.seg")).unwrap(), b"de");
    }

    #[tokio::test]
    async fn a_failed_fsync_fails_the_put() {
        let dir = tempfile::tempdir().unwrap();
        let fs: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        // The store writes under one root while the layer fsyncs under another, where the file is missing.
        let store = Durable::new(fs, dir.path().join("elsewhere"));
        let err = store.put(&Path::from("a"), PutPayload::from_static(b"x")).await.unwrap_err();
        assert!(carries::<SyncFailed>(&err), "{err}");
    }
}
