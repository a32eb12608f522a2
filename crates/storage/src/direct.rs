//! Writes of a local directory store that bypass the page cache (`O_DIRECT`).
//!
//! Why: a profile of the producer benchmark put 45% of the agent's CPU in the kernel's copy of each
//! segment into the page cache (BENCHMARKS.md, "Issue 21"), and a merge's 16 MiB writes into the page
//! cache were what the busy end-to-end tail coincided with. A direct write hands the buffer to the device
//! instead: on this machine's disk, 4 MiB objects written and `fdatasync`'d went from 250-560 MB/s with
//! 1.2-3.6 s of system CPU per GiB to 1.3-1.5 GB/s with under 0.1 s. The copy in the page cache would
//! have been a second copy anyway: what consumers read next is in the segment cache, which `put_durable`
//! fills, and reads of older objects still go through the page cache.
//!
//! How: the payload is written as whole aligned blocks ([`Blocks`]: from where it lies when it is one chunk
//! starting on a block boundary, as segments are built, with only its last partial block copied; otherwise
//! copied into a buffer aligned to [`ALIGN`] and padded to a multiple of it) from offset 0 into a staging file (`<name>#<digits>`, a name object_store's listing skips), the file is
//! cut back to the payload's length, its data synced (`fdatasync`) and then it is renamed into place. The
//! caller syncs the directory. Background objects are written and synced in steps (see [`finish`]). A file
//! system that refuses `O_DIRECT` (`EINVAL`) gets [`Written::Refused`]
//! and the caller writes through the page cache as before.

use bytes::Bytes;
use std::alloc::{Layout, alloc, dealloc};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// Alignment of a direct write's buffer, length and offset: covers 512-byte and 4 KiB logical blocks.
const ALIGN: usize = 4096;

/// Bytes written between syncs of a background object (a multiple of [`ALIGN`]).
const STEP: usize = 1 << 20;

/// Staging file numbers, so concurrent writers of one key never open the same staging file.
static STAGING: AtomicU64 = AtomicU64::new(1);

/// What became of a direct write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The file is in place and its data synced; `e_tag` as object_store's local store computes it.
    Direct { e_tag: String },
    /// The file system refused `O_DIRECT`; nothing was left behind.
    Refused,
}

/// Why a direct write failed: the write itself, or the sync that makes its data durable.
#[derive(Debug)]
pub(crate) enum Failure {
    Write(io::Error),
    Sync(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Write(e)
    }
}

/// Writes `chunks` as the file `path` (creating its missing parent directories, each made durable), syncs
/// its data with `sync` (given the staging file's path) and renames it into place; the caller syncs
/// `path`'s directory.
pub(crate) fn write(
    path: &Path,
    chunks: &[Bytes],
    stepped: bool,
    sync: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<Written, Failure> {
    let len: usize = chunks.iter().map(Bytes::len).sum();
    let blocks = Blocks::of(len, chunks)?;
    let Some((file, staging)) = open_staging(path)? else {
        return Ok(Written::Refused);
    };
    let written = finish(file, &staging, path, (&blocks, len, stepped), sync);
    if !matches!(written, Ok(Written::Direct { .. })) {
        let _ = std::fs::remove_file(&staging);
    }
    written
}

/// A payload as whole aligned blocks: written from where it lies when it is one chunk that starts on a
/// block boundary (segments are built so, `weft_format::SegmentBuilder`), with only its last partial block
/// copied; otherwise copied whole into an aligned buffer.
enum Blocks<'a> {
    InPlace { whole: &'a [u8], tail: Option<AlignedBuf> },
    Copied(AlignedBuf),
}

impl<'a> Blocks<'a> {
    fn of(len: usize, chunks: &'a [Bytes]) -> io::Result<Self> {
        match chunks {
            [one] if (one.as_ptr() as usize).is_multiple_of(ALIGN) && !one.is_empty() => {
                let cut = one.len() / ALIGN * ALIGN;
                let tail = (cut < one.len()).then(|| AlignedBuf::filled(one.len() - cut, &[one.slice(cut..)]));
                Ok(Blocks::InPlace { whole: &one[..cut], tail: tail.transpose()? })
            }
            _ => Ok(Blocks::Copied(AlignedBuf::filled(len, chunks)?)),
        }
    }

    /// The aligned pieces to write, in order; together at least the payload's length.
    fn pieces(&self) -> Vec<&[u8]> {
        match self {
            Blocks::InPlace { whole, tail } => {
                let mut pieces = vec![*whole];
                pieces.extend(tail.as_ref().map(AlignedBuf::as_slice));
                pieces
            }
            Blocks::Copied(buf) => vec![buf.as_slice()],
        }
    }
}

/// Writes `blocks` into the staging file, trims the padding, syncs the data and renames it to `path`.
/// `stepped` (background objects): written in [`STEP`]s, each synced before the next. On this machine's
/// virtual disk a sync makes the host write back everything written before it, so one 16 MiB merged object
/// held a produce commit's sync for 10-20 ms (BENCHMARKS.md); in steps, a commit waits for one step at most.
fn finish(
    mut file: File,
    staging: &Path,
    path: &Path,
    (blocks, len, stepped): (&Blocks, usize, bool),
    sync: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<Written, Failure> {
    let mut written = 0;
    for piece in blocks.pieces() {
        if len == 0 {
            break;
        }
        let step = if stepped { STEP } else { piece.len().max(1) };
        for part in piece.chunks(step) {
            match file.write_all(part) {
                Err(e) if refused(&e) => return Ok(Written::Refused),
                other => other?,
            }
            if stepped {
                file.sync_data().map_err(Failure::Sync)?;
            }
            written += part.len();
        }
    }
    if written != len {
        file.set_len(len as u64)?;
    }
    sync(staging).map_err(Failure::Sync)?;
    let e_tag = e_tag(&file.metadata()?);
    std::fs::rename(staging, path)?;
    Ok(Written::Direct { e_tag })
}

/// Opens a new staging file beside `path` for direct writes; `None` when the file system refuses them.
fn open_staging(path: &Path) -> io::Result<Option<(File, PathBuf)>> {
    let mut made_parents = false;
    loop {
        let staging = staging_path(path, STAGING.fetch_add(1, Ordering::Relaxed));
        match open_direct(&staging) {
            Ok(file) => return Ok(Some((file, staging))),
            Err(e) if refused(&e) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !made_parents => {
                create_parents(path)?;
                made_parents = true;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_DIRECT).open(path)
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<File> {
    Err(io::Error::from_raw_os_error(libc::EINVAL))
}

/// Whether `e` is a file system's refusal of `O_DIRECT` or of the buffer's alignment.
fn refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

fn staging_path(path: &Path, n: u64) -> PathBuf {
    let mut staging = path.as_os_str().to_owned();
    staging.push(format!("#{n}"));
    staging.into()
}

/// Creates `path`'s missing parent directories and makes each new entry durable (the parent's own sync,
/// for the file, is the caller's).
fn create_parents(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent() else { return Ok(()) };
    let mut existing = parent;
    while !existing.exists() {
        match existing.parent() {
            Some(up) => existing = up,
            None => break,
        }
    }
    std::fs::create_dir_all(parent)?;
    let mut dir = parent;
    while let Some(up) = dir.parent() {
        File::open(up)?.sync_all()?;
        if up == existing {
            break;
        }
        dir = up;
    }
    Ok(())
}

/// The e-tag object_store's local store gives a file (inode, modification time, size), so a put's answer
/// matches what a later listing says.
fn e_tag(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    let mtime =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default().as_micros();
    format!("\"{:x}-{mtime:x}-{:x}\"", meta.ino(), meta.len())
}

/// A heap buffer aligned to [`ALIGN`], whose length is a positive multiple of it, every byte initialised.
struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer is owned memory with no interior sharing, like a `Box<[u8]>`.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    /// `chunks` (`len` bytes in all) followed by zeros up to the next multiple of [`ALIGN`].
    fn filled(len: usize, chunks: &[Bytes]) -> io::Result<Self> {
        let size = len.div_ceil(ALIGN).max(1) * ALIGN;
        let layout = Layout::from_size_align(size, ALIGN).map_err(io::Error::other)?;
        // SAFETY: `layout` has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc(layout) }).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let mut at = 0;
        for chunk in chunks {
            assert!(at + chunk.len() <= len, "chunks hold more than the {len} bytes counted");
            // SAFETY: `at + chunk.len() <= len <= size`, and a fresh allocation overlaps no chunk.
            unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), ptr.as_ptr().add(at), chunk.len()) };
            at += chunk.len();
        }
        // SAFETY: bytes `len..size` lie inside the allocation; after this every byte is initialised.
        unsafe { std::ptr::write_bytes(ptr.as_ptr().add(len), 0, size - len) };
        Ok(AlignedBuf { ptr, layout })
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `filled` initialised all `layout.size()` bytes, which stay owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `filled` with this same layout, freed once.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_sync(p: &Path) -> io::Result<()> {
        File::open(p)?.sync_data()
    }

    fn put(path: &Path, parts: &[&[u8]]) -> Written {
        write(path, &chunks(parts), false, &data_sync).unwrap()
    }

    fn chunks(parts: &[&[u8]]) -> Vec<Bytes> {
        parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
    }

    #[test]
    fn a_buffer_is_aligned_padded_with_zeros_and_holds_the_chunks_in_order() {
        for len in [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, 3 * ALIGN + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            let (a, b) = data.split_at(len / 3);
            let buf = AlignedBuf::filled(len, &chunks(&[a, b])).unwrap();
            let s = buf.as_slice();
            assert_eq!(s.as_ptr() as usize % ALIGN, 0);
            assert_eq!(s.len(), len.div_ceil(ALIGN).max(1) * ALIGN, "len {len}");
            assert_eq!(&s[..len], &data[..]);
            assert!(s[len..].iter().all(|&x| x == 0));
        }
    }

    #[test]
    fn a_write_leaves_exactly_the_payload_and_no_staging_file() {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in [("empty", 0), ("small", 10), ("page", ALIGN), ("odd", 2 * ALIGN + 3)] {
            let data: Vec<u8> = (0..len).map(|i| (i % 13) as u8).collect();
            let path = dir.path().join(name);
            let written = put(&path, &[&data[..len / 2], &data[len / 2..]]);
            // A file system without O_DIRECT (tmpfs on older kernels) refuses and leaves nothing.
            if written == Written::Refused {
                assert!(!path.exists());
                continue;
            }
            assert_eq!(std::fs::read(&path).unwrap(), data, "{name}");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().contains('#')), "{names:?}");
    }

    #[test]
    fn a_write_replaces_an_existing_file_and_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1/segments/new/a.seg");
        if put(&path, &[b"first version"]) == Written::Refused {
            return;
        }
        assert_ne!(put(&path, &[b"second"]), Written::Refused);
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }

    #[test]
    fn the_e_tag_is_the_one_a_listing_reports() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        let Written::Direct { e_tag } = put(&path, &[b"abc"]) else { return };
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let meta = rt.block_on(object_store::ObjectStoreExt::head(&store, &object_store::path::Path::from("a")));
        assert_eq!(meta.unwrap().e_tag.as_deref(), Some(e_tag.as_str()));
    }

    /// A payload in one chunk starting on a block boundary, at every length around a block.
    #[test]
    fn an_aligned_payload_is_written_in_place_with_its_tail_copied() {
        let dir = tempfile::tempdir().unwrap();
        for len in [1, ALIGN - 1, ALIGN, ALIGN + 1, 5 * ALIGN + 77, 2 * STEP, 2 * STEP + 3 * ALIGN + 5] {
            let data: Vec<u8> = (0..len).map(|i| (i % 199) as u8 + 1).collect();
            let mut room = bytes::BytesMut::with_capacity(len + ALIGN);
            let skip = room.as_ptr().align_offset(ALIGN);
            room.resize(skip, 0);
            let _ = room.split_to(skip);
            room.extend_from_slice(&data);
            let chunk = room.freeze();
            assert_eq!(chunk.as_ptr() as usize % ALIGN, 0);
            let chunks = [chunk];
            assert!(matches!(Blocks::of(len, &chunks).unwrap(), Blocks::InPlace { .. }));
            let path = dir.path().join(format!("f{len}"));
            if write(&path, &chunks, len % 2 == 0, &data_sync).unwrap() == Written::Refused {
                return;
            }
            assert_eq!(std::fs::read(&path).unwrap(), data, "len {len}");
        }
    }
}
