//! The sealed object format (version 1) of envelope encryption at rest: pure functions that seal and open
//! object bytes, with no I/O (the [`crate::sealed`] layer does the reads and writes).
//!
//! Each object gets its own random 256-bit data key (DEK). The DEK encrypts the object in chunks with
//! AES-256-GCM; the DEK itself is stored in the object's header, encrypted ("wrapped") by a key-encryption
//! key (KEK) from the [`Keyring`], named by id. So a copy of the bucket alone reveals nothing, and rotating
//! the KEK never rewrites data. Layout (integers big-endian):
//!
//! ```text
//! header (HEADER_LEN = 114 bytes)
//!   magic "WEFTENC\0" (8) | version 1 (1) | key id length (1) | key id, zero padded (32)
//!   chunk size (4) | plaintext length (8) | wrap nonce (12) | wrapped DEK + tag (48)
//! chunks: for i in 0..ceil(plaintext length / chunk size): ciphertext of chunk i + tag (16)
//! ```
//!
//! Why chunks: a ranged read needs only the chunks it covers (one extra small read for the header), not the
//! whole object. Why these nonces: the DEK is fresh per object, so chunk i's nonce is simply i; the wrap
//! nonce is random because one KEK wraps many DEKs. What is authenticated: the wrap's associated data is
//! the first 54 header bytes (magic to plaintext length) and the object's key, so a header edited, or an
//! object moved to another key, fails to unwrap; each chunk's associated data is its index, so chunks
//! cannot be reordered, and the authenticated plaintext length makes truncation or extension fail the
//! length check. Every length is checked against the bytes present before use.

use crate::keyring::{Keyring, MAX_ID_LEN};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use bytes::{BufMut, Bytes, BytesMut};
use std::ops::Range;

pub(crate) const MAGIC: &[u8; 8] = b"WEFTENC\0";
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const DEK_LEN: usize = 32;
/// Bytes of the header covered by the wrap's associated data (magic through plaintext length).
const AUTHENTICATED_LEN: usize = 8 + 1 + 1 + MAX_ID_LEN + 4 + 8;
pub(crate) const HEADER_LEN: usize = AUTHENTICATED_LEN + NONCE_LEN + DEK_LEN + TAG_LEN;
/// Plaintext bytes per chunk.
pub(crate) const CHUNK_LEN: u32 = 64 * 1024;
/// The chunk sizes a reader accepts (a writer always uses [`CHUNK_LEN`]; the bound keeps a forged header
/// from making a reader allocate or loop absurdly).
const CHUNK_BOUNDS: Range<u32> = 1024..(16 << 20) + 1;

/// Why sealed bytes cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed object is {len} bytes, shorter than its {HEADER_LEN}-byte header")]
    Short { len: usize },
    #[error("not a sealed object (no WEFTENC magic)")]
    NotSealed,
    #[error("sealed object version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    #[error("sealed object header is malformed: {0}")]
    Header(&'static str),
    #[error("sealed object needs key {id:?}, which the keyring does not hold")]
    UnknownKey { id: String },
    #[error("sealed object's data key does not unwrap with key {id:?} (wrong key, or header or object key altered)")]
    Unwrap { id: String },
    #[error("sealed object is {len} bytes; its header says {expected}")]
    Length { len: usize, expected: usize },
    #[error("sealed object chunk {index} failed authentication")]
    Chunk { index: u64 },
    #[error("no randomness for a data key")]
    Random,
    #[error("object is encrypted at rest but this agent has no encryption keys (--encryption-keys-file)")]
    NoKeys,
}

/// A parsed header: what a reader needs to open chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub key_id: String,
    pub chunk_len: u32,
    pub plain_len: u64,
    wrap_nonce: [u8; NONCE_LEN],
    wrapped: [u8; DEK_LEN + TAG_LEN],
    authenticated: [u8; AUTHENTICATED_LEN],
}

/// Seals `plain` as the object named `location` (public for tools and fuzzing; the store seals objects
/// itself), wrapping a fresh DEK (from `random`) with the keyring's
/// current key.
pub fn seal(
    plain: &[u8],
    location: &str,
    ring: &Keyring,
    random: &dyn Fn(&mut [u8]) -> bool,
) -> Result<Bytes, SealError> {
    let (mut dek, mut wrap_nonce) = ([0u8; DEK_LEN], [0u8; NONCE_LEN]);
    if !random(&mut dek) || !random(&mut wrap_nonce) {
        return Err(SealError::Random);
    }
    let (id, kek) = ring.current();
    let chunks = chunk_count(plain.len() as u64, CHUNK_LEN);
    let mut out = BytesMut::with_capacity(HEADER_LEN + plain.len() + chunks as usize * TAG_LEN);
    out.put_slice(MAGIC);
    out.put_u8(VERSION);
    out.put_u8(id.len() as u8);
    out.put_slice(id.as_bytes());
    out.put_bytes(0, MAX_ID_LEN - id.len());
    out.put_u32(CHUNK_LEN);
    out.put_u64(plain.len() as u64);
    let mut wrapped = dek.to_vec();
    let aad = wrap_aad(&out[..AUTHENTICATED_LEN], location);
    kek.seal_in_place_append_tag(Nonce::assume_unique_for_key(wrap_nonce), Aad::from(aad), &mut wrapped)
        .map_err(|_| SealError::Random)?;
    out.put_slice(&wrap_nonce);
    out.put_slice(&wrapped);
    let data_key = data_key(&dek)?;
    for (index, chunk) in plain.chunks(CHUNK_LEN as usize).enumerate() {
        let mut sealed = chunk.to_vec();
        data_key
            .seal_in_place_append_tag(chunk_nonce(index as u64), chunk_aad(index as u64), &mut sealed)
            .map_err(|_| SealError::Random)?;
        out.put_slice(&sealed);
    }
    debug_assert_eq!(out.len(), sealed_len(plain.len() as u64, CHUNK_LEN) as usize);
    Ok(out.freeze())
}

/// Whether `data` starts as a sealed object does (objects written before encryption was on do not).
pub(crate) fn is_sealed(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// Parses the header at the start of `data`.
pub(crate) fn header(data: &[u8]) -> Result<Header, SealError> {
    if data.len() < HEADER_LEN {
        return Err(if data.starts_with(MAGIC) || data.len() < MAGIC.len() && MAGIC.starts_with(data) {
            SealError::Short { len: data.len() }
        } else {
            SealError::NotSealed
        });
    }
    if !is_sealed(data) {
        return Err(SealError::NotSealed);
    }
    if data[8] != VERSION {
        return Err(SealError::Version(data[8]));
    }
    let id_len = data[9] as usize;
    if id_len == 0 || id_len > MAX_ID_LEN {
        return Err(SealError::Header("key id length out of range"));
    }
    let key_id = std::str::from_utf8(&data[10..10 + id_len]).map_err(|_| SealError::Header("key id is not utf-8"))?;
    let at = 10 + MAX_ID_LEN;
    let chunk_len = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    if !CHUNK_BOUNDS.contains(&chunk_len) {
        return Err(SealError::Header("chunk size out of range"));
    }
    let mut plain_len = [0u8; 8];
    plain_len.copy_from_slice(&data[at + 4..at + 12]);
    let mut header = Header {
        key_id: key_id.to_string(),
        chunk_len,
        plain_len: u64::from_be_bytes(plain_len),
        wrap_nonce: [0; NONCE_LEN],
        wrapped: [0; DEK_LEN + TAG_LEN],
        authenticated: [0; AUTHENTICATED_LEN],
    };
    header.authenticated.copy_from_slice(&data[..AUTHENTICATED_LEN]);
    header.wrap_nonce.copy_from_slice(&data[AUTHENTICATED_LEN..AUTHENTICATED_LEN + NONCE_LEN]);
    header.wrapped.copy_from_slice(&data[AUTHENTICATED_LEN + NONCE_LEN..HEADER_LEN]);
    Ok(header)
}

impl Header {
    /// The object's data key, unwrapped with the keyring's key of this header's id.
    pub(crate) fn unwrap_key(&self, location: &str, ring: &Keyring) -> Result<LessSafeKey, SealError> {
        let kek = ring.get(&self.key_id).ok_or_else(|| SealError::UnknownKey { id: self.key_id.clone() })?;
        let mut wrapped = self.wrapped;
        let aad = wrap_aad(&self.authenticated, location);
        let dek = kek
            .open_in_place(Nonce::assume_unique_for_key(self.wrap_nonce), Aad::from(aad), &mut wrapped)
            .map_err(|_| SealError::Unwrap { id: self.key_id.clone() })?;
        data_key(dek)
    }

    /// Length of the whole sealed object.
    pub(crate) fn sealed_len(&self) -> u64 {
        sealed_len(self.plain_len, self.chunk_len)
    }

    /// The chunks covering plaintext `range` (which must lie within the object), and the sealed bytes
    /// holding them.
    pub(crate) fn chunks_for(&self, range: &Range<u64>) -> (Range<u64>, Range<u64>) {
        let chunk = self.chunk_len as u64;
        let first = range.start / chunk;
        let last = range.end.div_ceil(chunk).max(first);
        let stride = chunk + TAG_LEN as u64;
        let start = HEADER_LEN as u64 + first * stride;
        let end = (HEADER_LEN as u64 + last * stride).min(self.sealed_len());
        (first..last, start..end)
    }

    /// Opens consecutive chunks from index `first`, given as they are stored (`sealed`), into plaintext.
    pub(crate) fn open_chunks(&self, key: &LessSafeKey, first: u64, sealed: &[u8]) -> Result<BytesMut, SealError> {
        let stride = self.chunk_len as usize + TAG_LEN;
        let mut plain = BytesMut::with_capacity(sealed.len());
        for (offset, piece) in sealed.chunks(stride).enumerate() {
            let index = first + offset as u64;
            if piece.len() <= TAG_LEN {
                return Err(SealError::Chunk { index });
            }
            let mut buf = piece.to_vec();
            let opened = key
                .open_in_place(chunk_nonce(index), chunk_aad(index), &mut buf)
                .map_err(|_| SealError::Chunk { index })?;
            plain.put_slice(opened);
        }
        Ok(plain)
    }
}

/// Opens a whole sealed object (public for tools and fuzzing; the store opens objects itself).
pub fn open(data: &[u8], location: &str, ring: &Keyring) -> Result<Bytes, SealError> {
    let header = header(data)?;
    let expected = header.sealed_len();
    if data.len() as u64 != expected {
        return Err(SealError::Length { len: data.len(), expected: expected.min(usize::MAX as u64) as usize });
    }
    let key = header.unwrap_key(location, ring)?;
    let plain = header.open_chunks(&key, 0, &data[HEADER_LEN..])?;
    if plain.len() as u64 != header.plain_len {
        return Err(SealError::Length { len: data.len(), expected: expected as usize });
    }
    Ok(plain.freeze())
}

fn chunk_count(plain_len: u64, chunk_len: u32) -> u64 {
    plain_len.div_ceil(chunk_len as u64)
}

fn sealed_len(plain_len: u64, chunk_len: u32) -> u64 {
    let tags = chunk_count(plain_len, chunk_len).saturating_mul(TAG_LEN as u64);
    (HEADER_LEN as u64).saturating_add(plain_len).saturating_add(tags)
}

fn data_key(dek: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, dek).map(LessSafeKey::new).map_err(|_| SealError::Header("bad data key"))
}

fn wrap_aad(authenticated: &[u8], location: &str) -> Vec<u8> {
    let mut aad = authenticated.to_vec();
    aad.extend_from_slice(location.as_bytes());
    aad
}

fn chunk_nonce(index: u64) -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[NONCE_LEN - 8..].copy_from_slice(&index.to_be_bytes());
    Nonce::assume_unique_for_key(nonce)
}

fn chunk_aad(index: u64) -> Aad<[u8; 8]> {
    Aad::from(index.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::tests::line;
    use proptest::prelude::*;

    fn ring(text: &str) -> Keyring {
        Keyring::parse(text).unwrap()
    }

    fn counter() -> impl Fn(&mut [u8]) -> bool {
        let next = std::sync::atomic::AtomicU8::new(1);
        move |buf: &mut [u8]| {
            buf.fill(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            true
        }
    }

    #[test]
    fn sealed_objects_open_with_the_key_and_only_at_their_location() {
        let ring = ring(&line("k1", 7));
        let plain: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let sealed = seal(&plain, "a/b", &ring, &counter()).unwrap();
        assert_eq!(sealed.len(), HEADER_LEN + plain.len() + 4 * TAG_LEN);
        assert!(!sealed.windows(64).any(|w| plain.windows(64).next() == Some(w)), "no plaintext left");
        assert_eq!(&open(&sealed, "a/b", &ring).unwrap()[..], &plain[..]);
        assert_eq!(open(&sealed, "a/c", &ring), Err(SealError::Unwrap { id: "k1".into() }));
        let other = Keyring::parse(&line("k1", 8)).unwrap();
        assert_eq!(open(&sealed, "a/b", &other), Err(SealError::Unwrap { id: "k1".into() }));
        let absent = Keyring::parse(&line("k2", 7)).unwrap();
        assert_eq!(open(&sealed, "a/b", &absent), Err(SealError::UnknownKey { id: "k1".into() }));
    }

    #[test]
    fn old_objects_open_after_rotation_and_new_ones_use_the_new_key() {
        let old = ring(&line("k1", 1));
        let sealed = seal(b"before", "o", &old, &counter()).unwrap();
        let rotated = ring(&format!("{}\n{}", line("k2", 2), line("k1", 1)));
        assert_eq!(&open(&sealed, "o", &rotated).unwrap()[..], b"before");
        let after = seal(b"after", "o", &rotated, &counter()).unwrap();
        assert_eq!(header(&after).unwrap().key_id, "k2");
        assert!(open(&after, "o", &old).is_err());
    }

    #[test]
    fn tampering_anywhere_is_detected() {
        let ring = ring(&line("k", 3));
        let plain = vec![5u8; 70_000];
        let sealed = seal(&plain, "o", &ring, &counter()).unwrap();
        for at in [9, 42, 50, HEADER_LEN - 1, HEADER_LEN, HEADER_LEN + 66_000, sealed.len() - 1] {
            let mut bad = sealed.to_vec();
            bad[at] ^= 1;
            assert!(open(&bad, "o", &ring).is_err(), "flip at {at}");
        }
        assert!(matches!(open(&sealed[..sealed.len() - 1], "o", &ring), Err(SealError::Length { .. })));
        assert_eq!(open(b"WEFTSEG\0 plain", "o", &ring), Err(SealError::NotSealed));
        assert_eq!(open(b"WEFTENC\0", "o", &ring), Err(SealError::Short { len: 8 }));
        assert_eq!(&open(&seal(b"", "e", &ring, &counter()).unwrap(), "e", &ring).unwrap()[..], b"");
    }

    #[test]
    fn a_range_needs_only_its_chunks() {
        let ring = ring(&line("k", 4));
        let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&plain, "o", &ring, &counter()).unwrap();
        let h = header(&sealed).unwrap();
        let key = h.unwrap_key("o", &ring).unwrap();
        for range in [0..1, 65_535..65_537, 131_072..262_144, 299_999..300_000, 10..10] {
            let (chunks, bytes) = h.chunks_for(&range);
            let opened = h.open_chunks(&key, chunks.start, &sealed[bytes.start as usize..bytes.end as usize]).unwrap();
            let skip = (range.start - chunks.start * CHUNK_LEN as u64) as usize;
            let len = (range.end - range.start) as usize;
            assert_eq!(&opened[skip..skip + len], &plain[range.start as usize..range.end as usize], "{range:?}");
        }
    }

    proptest! {
        #[test]
        fn headers_of_arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&data);
            let ring = ring(&line("k", 1));
            let _ = open(&bytes, "o", &ring);
            let _ = open(&data, "o", &ring);
        }
    }
}
