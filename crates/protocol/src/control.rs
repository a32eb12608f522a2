//! Control batches: the transaction markers (commit or abort) a coordinator writes into every partition of
//! a transaction. Consumers never see them as records; read_committed consumers use them, together with
//! Fetch's aborted-transaction lists, to drop aborted data.

use bytes::Bytes;

/// Attributes of a marker batch: transactional (bit 4) and control (bit 5), CreateTime, uncompressed.
const MARKER_ATTRIBUTES: i16 = 0x30;

/// One v2 batch holding one control record (key: version 0, type 0 abort / 1 commit; value: version 0 and
/// the coordinator epoch), at base offset 0 (patched when served like every stored batch).
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Bytes {
    let mut key = [0u8; 4];
    key[2..4].copy_from_slice(&i16::from(commit).to_be_bytes());
    let mut value = [0u8; 6];
    value[2..6].copy_from_slice(&coordinator_epoch.to_be_bytes());
    // attributes, timestamp delta 0, offset delta 0, key length 4, key, value length 6, value, no headers;
    // varints are zigzag encoded (4 -> 8, 6 -> 12).
    let mut record = vec![0u8, 0, 0, 8];
    record.extend_from_slice(&key);
    record.push(12);
    record.extend_from_slice(&value);
    record.push(0);
    let mut out = Vec::with_capacity(61 + 1 + record.len());
    out.extend_from_slice(&0i64.to_be_bytes()); // base offset
    let length_at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes()); // batch length, set below
    out.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    out.push(2); // magic
    let crc_at = out.len();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&MARKER_ATTRIBUTES.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&producer_id.to_be_bytes());
    out.extend_from_slice(&producer_epoch.to_be_bytes());
    out.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    out.extend_from_slice(&1i32.to_be_bytes()); // record count
    out.push((record.len() as u8) << 1); // record length (zigzag; the record is 16 bytes)
    out.extend_from_slice(&record);
    let length = (out.len() - 12) as i32;
    out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&out[crc_at + 4..]);
    out[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BatchHeader;

    #[test]
    fn markers_are_valid_control_batches_that_clients_decode() {
        for commit in [false, true] {
            let bytes = marker_batch(4242, 7, commit, 3, 1_700_000_000_000);
            let h = BatchHeader::parse_verified(&bytes).expect("valid batch");
            assert!(h.is_control() && h.is_transactional());
            assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence, h.record_count), (4242, 7, -1, 1));
            let set = crate::records::decode_records(&bytes).expect("decodes");
            let r = &set.records[0];
            assert!(r.control && r.transactional);
            let key = r.key.as_ref().expect("control key");
            assert_eq!(&key[..], &[0, 0, 0, u8::from(commit)]);
            assert_eq!(&r.value.as_ref().expect("value")[..], &[0, 0, 0, 0, 0, 3]);
        }
    }
}
