//! Every object key Weft writes is made here, so the bucket layout is defined in one place.
//!
//! Layout (version 1):
//! - `v1/segments/<created_ms:013>-<nonce:016x>.seg`: one object per produce flush.

use object_store::path::Path;

/// Folder holding segment objects.
pub const SEGMENTS_DIR: &str = "v1/segments";

/// Key of a new segment object. `created_ms` first keeps listing order roughly chronological (useful for
/// the garbage collector); the nonce makes keys unique across agents.
pub fn segment_key(created_ms: i64, nonce: u64) -> String {
    format!("{SEGMENTS_DIR}/{created_ms:013}-{nonce:016x}.seg")
}

/// Converts a key string into an object store path.
pub fn to_path(key: &str) -> Path {
    Path::from(key)
}

#[cfg(test)]
mod tests {
    #[test]
    fn segment_keys_are_sortable_and_unique() {
        let a = super::segment_key(1_700_000_000_000, 1);
        let b = super::segment_key(1_700_000_000_001, 0);
        assert_eq!(a, "v1/segments/1700000000000-0000000000000001.seg");
        assert!(a < b);
    }
}
