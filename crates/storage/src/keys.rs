//! Every object key Weft writes is made here, so the bucket layout is defined in one place.
//!
//! Layout (version 1):
//! - `v1/segments/<created_ms:013>-<nonce:016x>.seg`: one object per produce flush (many partitions).
//! - `v1/merged/<created_ms:013>-<nonce:016x>.seg`: one object per rewrite of one partition (object
//!   compaction and log compaction), in the same segment format.
//! - `v1/probes/<agent>.probe`: a readiness write probe, deleted right after it is written.
//!
//! Every key starts with its creation time, so the garbage collector can tell an upload that is still
//! waiting for its commit from one whose commit will never come, without reading the object.

use object_store::path::Path;

/// Folder holding segment objects.
pub const SEGMENTS_DIR: &str = "v1/segments";

/// Key of a new segment object. `created_ms` first keeps listing order roughly chronological (useful for
/// the garbage collector); the nonce makes keys unique across agents.
pub fn segment_key(created_ms: i64, nonce: u64) -> String {
    format!("{SEGMENTS_DIR}/{created_ms:013}-{nonce:016x}.seg")
}

/// Folder holding objects written by compaction.
pub const MERGED_DIR: &str = "v1/merged";

/// Folders holding data objects (the garbage collector lists these).
pub const DATA_DIRS: [&str; 2] = [SEGMENTS_DIR, MERGED_DIR];

/// Key of a new object written by compaction.
pub fn merged_key(created_ms: i64, nonce: u64) -> String {
    format!("{MERGED_DIR}/{created_ms:013}-{nonce:016x}.seg")
}

/// Whether a key names a produce-flush segment (as opposed to a compaction output).
pub fn is_flush_segment(key: &str) -> bool {
    key.starts_with(SEGMENTS_DIR)
}

/// A key of data directory `dir` that sorts before every key of `dir` created at or after `ms` and after every
/// key created before it (keys start with the 13-digit creation time), for listings that skip older objects.
pub fn created_from(dir: &str, ms: i64) -> String {
    format!("{dir}/{:013}", ms.max(0))
}

/// The creation time encoded in a data object's key, if it is one of ours.
pub fn created_ms(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    let (ms, rest) = name.split_once('-')?;
    if !rest.ends_with(".seg") || ms.len() != 13 {
        return None;
    }
    ms.parse().ok()
}

/// Whether `key` is exactly a data object key this module makes (`<data dir>/<13 digits>-<16 hex>.seg`), so
/// a key from the network can be checked before it is used: anything else (other folders, `..`, extra
/// slashes, other names) is refused.
pub fn is_data_key(key: &str) -> bool {
    let Some((dir, name)) = key.rsplit_once('/') else {
        return false;
    };
    let Some((ms, rest)) = name.split_once('-') else {
        return false;
    };
    let Some(nonce) = rest.strip_suffix(".seg") else {
        return false;
    };
    DATA_DIRS.contains(&dir)
        && ms.len() == 13
        && ms.bytes().all(|b| b.is_ascii_digit())
        && nonce.len() == 16
        && nonce.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Folder holding the write probes of readiness checks (never data; the garbage collector ignores it).
pub const PROBES_DIR: &str = "v1/probes";

/// Key of the write probe of one agent (`owner` is unique per agent run), written and deleted again.
pub fn probe_key(owner: &str) -> String {
    let owner: String = owner.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("{PROBES_DIR}/{owner}.probe")
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
        assert_eq!(super::created_ms(&a), Some(1_700_000_000_000));
        let m = super::merged_key(1_700_000_000_002, 3);
        assert_eq!(super::created_ms(&m), Some(1_700_000_000_002));
        assert!(super::is_flush_segment(&a) && !super::is_flush_segment(&m));
        assert_eq!(super::created_ms("v1/segments/notes.txt"), None);
        let p = super::probe_key("3f1c-a/b");
        assert_eq!(p, "v1/probes/3f1c-a_b.probe");
        assert!(!super::DATA_DIRS.iter().any(|d| p.starts_with(d)), "probes are not data");
        assert_eq!(super::created_ms(&p), None);
    }

    #[test]
    fn only_data_keys_made_here_are_data_keys() {
        assert!(super::is_data_key(&super::segment_key(1_700_000_000_000, u64::MAX)));
        assert!(super::is_data_key(&super::merged_key(0, 0)));
        for key in [
            "",
            "v1/segments/",
            "v1/probes/1700000000000-0000000000000001.seg",
            "v1/segments/../merged/1700000000000-0000000000000001.seg",
            "v1/segments/x/1700000000000-0000000000000001.seg",
            "/v1/segments/1700000000000-0000000000000001.seg",
            "v1/segments/1700000000000-000000000000000G.seg",
            "v1/segments/1700000000000-0000000000000001.seg.tmp",
            "v1/segments/170000000000-0000000000000001.seg",
            "v1/segments/1700000000000-00000000000000001.seg",
            "v1/segments/1700000000000-0000000000000001",
            "v1/segments/+700000000000-0000000000000001.seg",
        ] {
            assert!(!super::is_data_key(key), "{key:?}");
        }
    }
}
