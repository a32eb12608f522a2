//! Envelope encryption at rest as an object-store layer: every object written is sealed
//! ([`crate::envelope`]) with a fresh data key wrapped by the keyring's current key, and every object read is
//! opened with the key its header names.
//!
//! It sits above the metrics layer and below the fault layer and the read cache: the cache holds plaintext
//! (a hit costs no decryption), the metrics count the bytes that really cross the wire, and a retry resends
//! the same sealed bytes. A ranged read first reads the header (one small ranged GET), then only the chunks
//! that cover the range. Objects written before encryption was switched on carry no header and are read
//! as they are, so encryption can be turned on for an existing bucket; they leave as retention and
//! compaction replace them. Listings and `head` report sealed sizes. Copy and rename are refused: a sealed
//! object is bound to its key (Weft never copies or renames objects through this stack).

use crate::body;
use crate::envelope::{self, HEADER_LEN, SealError};
use crate::error::generic;
use crate::keyring::Keyring;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use std::ops::Range;
use std::sync::Arc;

/// Fills a buffer with secret random bytes (data keys and wrap nonces); `false` when none are available.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    fn fill(&self, buf: &mut [u8]) -> bool;
}

/// The operating system's cryptographic random source.
#[derive(Debug, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) -> bool {
        use aws_lc_rs::rand::SecureRandom;
        aws_lc_rs::rand::SystemRandom::new().fill(buf).is_ok()
    }
}

/// How the store encrypts at rest: the keys and the random source of data keys.
#[derive(Debug, Clone)]
pub struct Encryption {
    pub keyring: Arc<Keyring>,
    pub entropy: Arc<dyn Entropy>,
}

impl PartialEq for Encryption {
    /// Two settings are the same when they share the same keyring and source.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.keyring, &other.keyring) && Arc::ptr_eq(&self.entropy, &other.entropy)
    }
}

impl Eq for Encryption {}

/// Marker carried by `object_store::Error::Generic` when an object cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SealFailed(pub SealError);

/// Seals writes and opens reads of `inner`; without keys (`None`) writes pass through and a sealed object
/// read whole is refused rather than served as if it were plaintext (an agent started without the keyring,
/// e.g. during a rolling change, must never hand ciphertext to consumers or peers).
#[derive(Debug)]
pub(crate) struct Sealed {
    inner: Arc<dyn ObjectStore>,
    encryption: Option<Encryption>,
}

impl Sealed {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, encryption: Option<Encryption>) -> Self {
        Sealed { inner, encryption }
    }

    async fn read_whole(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let (result, data) = body::buffer(self.inner.get_opts(location, options).await?).await?;
        if !envelope::is_sealed(&data) {
            return Ok(result);
        }
        let Some(encryption) = &self.encryption else { return Err(failed(SealError::NoKeys)) };
        let plain = envelope::open(&data, location.as_ref(), &encryption.keyring).map_err(failed)?;
        Ok(respond(result, plain.clone(), 0..plain.len() as u64))
    }

    async fn read_range(&self, location: &Path, range: GetRange, options: GetOptions) -> Result<GetResult> {
        // Without keys a range is read as it is: detecting a sealed object would cost a second request on
        // every ranged read, and Weft reads segments whole (those are checked).
        let Some(encryption) = &self.encryption else {
            return self.inner.get_opts(location, GetOptions { range: Some(range), ..options }).await;
        };
        let head = GetOptions { range: Some(GetRange::Bounded(0..HEADER_LEN as u64)), ..options.clone() };
        let (_, start) = body::buffer(self.inner.get_opts(location, head).await?).await?;
        if !envelope::is_sealed(&start) {
            return self.inner.get_opts(location, GetOptions { range: Some(range), ..options }).await;
        }
        let header = envelope::header(&start).map_err(failed)?;
        let wanted = range
            .as_range(header.plain_len)
            .map_err(|e| object_store::Error::Generic { store: "sealed", source: Box::new(e) })?;
        let (chunks, bytes) = header.chunks_for(&wanted);
        let body = GetOptions { range: Some(GetRange::Bounded(bytes.clone())), ..options };
        let (result, sealed) = body::buffer(self.inner.get_opts(location, body).await?).await?;
        if sealed.len() as u64 != bytes.end - bytes.start {
            let expected = (bytes.end - bytes.start) as usize;
            return Err(failed(SealError::Length { len: sealed.len(), expected }));
        }
        let key = header.unwrap_key(location.as_ref(), &encryption.keyring).map_err(failed)?;
        let plain = header.open_chunks(&key, chunks.start, &sealed).map_err(failed)?;
        Ok(respond_range(result, plain, chunks.start * header.chunk_len as u64, wanted, header.plain_len))
    }
}

impl std::fmt::Display for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({})", self.inner)
    }
}

fn failed(e: SealError) -> object_store::Error {
    generic("sealed", SealFailed(e))
}

/// `result` answering with `plain` (the object's plaintext from offset `range.start`).
fn respond(result: GetResult, plain: Bytes, range: Range<u64>) -> GetResult {
    let GetResult { mut meta, attributes, extensions, .. } = result;
    meta.size = range.end;
    let payload = GetResultPayload::Stream(futures::stream::once(async move { Ok(plain) }).boxed());
    GetResult { payload, meta, range, attributes, extensions }
}

/// `result` answering `wanted` from `plain`, the opened chunks that start at plaintext offset `from`.
fn respond_range(result: GetResult, plain: BytesMut, from: u64, wanted: Range<u64>, plain_len: u64) -> GetResult {
    let plain = plain.freeze();
    let (skip, len) = ((wanted.start - from) as usize, (wanted.end - wanted.start) as usize);
    let slice = plain.slice(skip.min(plain.len())..(skip + len).min(plain.len()));
    let mut answered = respond(result, slice, wanted);
    answered.meta.size = plain_len;
    answered
}

#[async_trait]
impl ObjectStore for Sealed {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        let Some(Encryption { keyring, entropy }) = &self.encryption else {
            return self.inner.put_opts(location, payload, opts).await;
        };
        let plain: Bytes = payload.into();
        let sealed = envelope::seal(&plain, location.as_ref(), keyring, &|buf| entropy.fill(buf)).map_err(failed)?;
        self.inner.put_opts(location, PutPayload::from_bytes(sealed), opts).await
    }

    /// Refused with keys: a multipart upload would be stored unsealed (Weft writes whole objects with `put`).
    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        if self.encryption.is_none() {
            return self.inner.put_multipart_opts(location, opts).await;
        }
        Err(object_store::Error::NotImplemented {
            operation: "put_multipart with encryption at rest".into(),
            implementer: "Sealed".into(),
        })
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            return self.inner.get_opts(location, options).await;
        }
        match options.range.clone() {
            None => self.read_whole(location, options).await,
            Some(range) => self.read_range(location, range, GetOptions { range: None, ..options }).await,
        }
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
        match self.encryption {
            None => self.inner.copy_opts(from, to, options).await,
            Some(_) => Err(not_supported("copy", from)),
        }
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        match self.encryption {
            None => self.inner.rename_opts(from, to, options).await,
            Some(_) => Err(not_supported("rename", from)),
        }
    }
}

fn not_supported(op: &str, from: &Path) -> object_store::Error {
    let reason = format!("{op} of {from} refused: a sealed object is bound to its key");
    object_store::Error::NotSupported { source: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::tests::line;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[derive(Debug)]
    struct Counting(std::sync::atomic::AtomicU8);

    impl Entropy for Counting {
        fn fill(&self, buf: &mut [u8]) -> bool {
            buf.fill(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            true
        }
    }

    fn sealed(inner: Arc<InMemory>, keys: &str) -> Sealed {
        let encryption = Encryption {
            keyring: Arc::new(Keyring::parse(keys).unwrap()),
            entropy: Arc::new(Counting(std::sync::atomic::AtomicU8::new(1))),
        };
        Sealed::new(inner, Some(encryption))
    }

    fn plain() -> Vec<u8> {
        (0..150_000u32).map(|i| (i % 241) as u8).collect()
    }

    #[tokio::test]
    async fn the_bucket_holds_ciphertext_and_reads_give_plaintext() {
        let inner = Arc::new(InMemory::new());
        let store = sealed(inner.clone(), &line("k1", 9));
        let (path, plain) = (Path::from("segments/a"), plain());
        store.put(&path, PutPayload::from(plain.clone())).await.unwrap();
        let raw = inner.get(&path).await.unwrap().bytes().await.unwrap();
        assert!(raw.starts_with(b"WEFTENC\0") && !raw.windows(32).any(|w| w == &plain[..32]));
        assert_eq!(&store.get(&path).await.unwrap().bytes().await.unwrap()[..], &plain[..]);
        for range in [0..10, 65_530..65_600, 140_000..150_000, 149_999..200_000] {
            let got = store.get_range(&path, range.clone()).await.unwrap();
            let end = range.end.min(150_000) as usize;
            assert_eq!(&got[..], &plain[range.start as usize..end], "{range:?}");
        }
        let tail = store.get_opts(&path, GetOptions::default().with_range(Some(GetRange::Suffix(5)))).await.unwrap();
        assert_eq!(tail.range, 149_995..150_000);
        assert_eq!(&tail.bytes().await.unwrap()[..], &plain[149_995..]);
        assert!(store.get_range(&path, 150_000..150_001).await.is_err(), "past the end");
    }

    #[tokio::test]
    async fn objects_from_before_encryption_and_rotated_keys_stay_readable() {
        let inner = Arc::new(InMemory::new());
        inner.put(&Path::from("old"), PutPayload::from_static(b"plain old object")).await.unwrap();
        sealed(inner.clone(), &line("k1", 1)).put(&Path::from("k1obj"), PutPayload::from_static(b"one")).await.unwrap();
        let rotated = sealed(inner.clone(), &format!("{}\n{}", line("k2", 2), line("k1", 1)));
        assert_eq!(&rotated.get(&Path::from("old")).await.unwrap().bytes().await.unwrap()[..], b"plain old object");
        assert_eq!(&rotated.get_range(&Path::from("old"), 6..9).await.unwrap()[..], b"old");
        assert_eq!(&rotated.get(&Path::from("k1obj")).await.unwrap().bytes().await.unwrap()[..], b"one");
        let lost = sealed(inner, &line("k2", 2));
        let err = lost.get(&Path::from("k1obj")).await.unwrap_err().to_string();
        assert!(err.contains("\"k1\""), "{err}");
    }

    #[tokio::test]
    async fn without_keys_writes_pass_through_and_sealed_objects_are_refused() {
        let inner = Arc::new(InMemory::new());
        sealed(inner.clone(), &line("k1", 1)).put(&Path::from("s"), PutPayload::from_static(b"secret")).await.unwrap();
        let keyless = Sealed::new(inner.clone(), None);
        keyless.put(&Path::from("p"), PutPayload::from_static(b"plain")).await.unwrap();
        assert_eq!(&inner.get(&Path::from("p")).await.unwrap().bytes().await.unwrap()[..], b"plain");
        assert_eq!(&keyless.get(&Path::from("p")).await.unwrap().bytes().await.unwrap()[..], b"plain");
        let err = keyless.get(&Path::from("s")).await.unwrap_err().to_string();
        assert!(err.contains("no encryption keys"), "{err}");
    }

    #[tokio::test]
    async fn copies_and_multipart_uploads_are_refused() {
        let store = sealed(Arc::new(InMemory::new()), &line("k", 1));
        assert!(store.copy(&Path::from("a"), &Path::from("b")).await.is_err());
        assert!(store.put_multipart(&Path::from("a")).await.is_err());
    }
}
