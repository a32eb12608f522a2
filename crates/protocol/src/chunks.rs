//! Byte sequences held as a list of shared chunks: a response frame, or one partition's record set in a
//! fetch. Stored batch bytes are served as slices of the cached objects next to small patched headers, so a
//! fetch response is written with vectored writes instead of being copied into one buffer first.

use bytes::{Bytes, BytesMut};

/// Bytes as an ordered list of chunks, with their total length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunks {
    parts: Vec<Bytes>,
    len: usize,
}

impl Chunks {
    /// No bytes.
    pub fn new() -> Self {
        Chunks::default()
    }

    /// Room for `n` chunks.
    pub fn with_capacity(n: usize) -> Self {
        Chunks { parts: Vec::with_capacity(n), len: 0 }
    }

    /// Appends a chunk (empty chunks are dropped).
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.parts.push(chunk);
        }
    }

    /// Appends every chunk of `other`.
    pub fn append(&mut self, other: &Chunks) {
        self.parts.extend(other.parts.iter().cloned());
        self.len += other.len;
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, in order.
    pub fn parts(&self) -> &[Bytes] {
        &self.parts
    }

    /// The bytes as one buffer: free for zero or one chunk, a copy otherwise.
    pub fn to_bytes(&self) -> Bytes {
        match self.parts.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            parts => {
                let mut out = BytesMut::with_capacity(self.len);
                for p in parts {
                    out.extend_from_slice(p);
                }
                out.freeze()
            }
        }
    }
}

impl From<Bytes> for Chunks {
    fn from(b: Bytes) -> Self {
        let mut c = Chunks::with_capacity(1);
        c.push(b);
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_order_and_length_and_drop_empty_parts() {
        let mut c = Chunks::new();
        c.push(Bytes::from_static(b"ab"));
        c.push(Bytes::new());
        c.push(Bytes::from_static(b"cde"));
        assert_eq!(c.len(), 5);
        assert_eq!(c.parts().len(), 2);
        assert_eq!(&c.to_bytes()[..], b"abcde");
        let mut d = Chunks::from(Bytes::from_static(b"x"));
        d.append(&c);
        assert_eq!(&d.to_bytes()[..], b"xabcde");
        assert!(Chunks::from(Bytes::new()).is_empty());
    }
}
