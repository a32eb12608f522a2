//! Record payloads: a pseudo-random pool generated once and sliced at varying
//! offsets, plus the small header the e2e phase embeds in each record.

/// Bytes in the pool beyond one record. Larger than the default batch size
/// and the LZ4 window, so slices rarely overlap inside one compressed batch
/// and payloads stay effectively incompressible.
const POOL_SLACK: usize = 8 * 1024 * 1024;

/// Magic prefix identifying e2e records.
const E2E_MAGIC: [u8; 8] = *b"WEFTE2E1";
/// Size of the e2e header: magic, run id, send timestamp.
pub(crate) const E2E_HEADER_LEN: usize = 24;

/// One step of Marsaglia's xorshift64 generator (state must be non-zero).
pub(crate) fn xorshift64(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// SplitMix64 finaliser: a bijective scramble of `x`, used to pick offsets.
pub(crate) fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with xorshift64 output derived from `seed`.
pub(crate) fn fill_pseudo_random(buf: &mut [u8], seed: u64) {
    let mut state = mix64(seed) | 1;
    for chunk in buf.chunks_mut(8) {
        let bytes = xorshift64(&mut state).to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

/// A pool of pseudo-random bytes from which record payloads are sliced.
#[derive(Debug)]
pub(crate) struct PayloadPool {
    buf: Vec<u8>,
    record_size: usize,
    /// Payloads start at multiples of `record_size`, each with Confluent's schema id header written there.
    framed: bool,
}

/// Bytes of Confluent's wire-format header: magic byte 0, then the schema id (big-endian).
pub(crate) const SCHEMA_HEADER_LEN: usize = 5;

impl PayloadPool {
    pub(crate) fn new(record_size: usize, seed: u64) -> Self {
        Self::with_slack(record_size, POOL_SLACK, seed)
    }

    fn with_slack(record_size: usize, slack: usize, seed: u64) -> Self {
        let mut buf = vec![0u8; record_size.saturating_add(slack)];
        fill_pseudo_random(&mut buf, seed);
        PayloadPool { buf, record_size, framed: false }
    }

    /// A pool whose payloads are framed as Confluent's serializers frame them, with `schema_id` (so an agent
    /// validating schema ids accepts them); the bytes after the header stay pseudo-random.
    pub(crate) fn framed(record_size: usize, seed: u64, schema_id: i32) -> Self {
        let mut pool = Self::with_slack(record_size.max(SCHEMA_HEADER_LEN), POOL_SLACK, seed);
        let mut header = [0u8; SCHEMA_HEADER_LEN];
        header[1..].copy_from_slice(&schema_id.to_be_bytes());
        for chunk in pool.buf.chunks_exact_mut(pool.record_size) {
            chunk[..SCHEMA_HEADER_LEN].copy_from_slice(&header);
        }
        pool.framed = true;
        pool
    }

    pub(crate) fn record_size(&self) -> usize {
        self.record_size
    }

    /// Payload of record `index`: `record_size` bytes at a pseudo-random offset.
    pub(crate) fn payload(&self, index: u64) -> &[u8] {
        let start = self.offset(index);
        &self.buf[start..start + self.record_size]
    }

    fn offset(&self, index: u64) -> usize {
        if self.framed {
            let slots = (self.buf.len() / self.record_size) as u64;
            return (mix64(index) % slots) as usize * self.record_size;
        }
        let starts = (self.buf.len() - self.record_size + 1) as u64;
        (mix64(index) % starts) as usize
    }
}

/// Writes the e2e header (magic, run id, send time) into the start of `buf`,
/// which must be at least [`E2E_HEADER_LEN`] bytes long.
pub(crate) fn encode_e2e_header(buf: &mut [u8], run_id: u64, send_ns: u64) {
    buf[..8].copy_from_slice(&E2E_MAGIC);
    buf[8..16].copy_from_slice(&run_id.to_le_bytes());
    buf[16..24].copy_from_slice(&send_ns.to_le_bytes());
}

/// Returns the send time embedded in `payload` if it is an e2e record of run
/// `run_id`, `None` for anything else.
pub(crate) fn decode_e2e_header(payload: &[u8], run_id: u64) -> Option<u64> {
    decode_group_e2e_header(payload, run_id, 1).map(|(_, ns)| ns)
}

/// The producer group and send time in `payload` if it is an e2e record of run `run_id` whose header id is
/// `run_id + group` for a group below `groups`; `None` for anything else.
pub(crate) fn decode_group_e2e_header(payload: &[u8], run_id: u64, groups: usize) -> Option<(usize, u64)> {
    let header = payload.get(..E2E_HEADER_LEN)?;
    if header[..8] != E2E_MAGIC {
        return None;
    }
    let read = |range: std::ops::Range<usize>| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&header[range]);
        u64::from_le_bytes(bytes)
    };
    let group = usize::try_from(read(8..16).wrapping_sub(run_id)).ok().filter(|&g| g < groups)?;
    Some((group, read(16..24)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn xorshift_is_deterministic_and_nonzero() {
        let mut a = 1;
        let mut b = 1;
        for _ in 0..1000 {
            let x = xorshift64(&mut a);
            assert_eq!(x, xorshift64(&mut b));
            assert_ne!(x, 0);
        }
    }

    #[test]
    fn payloads_have_the_requested_size() {
        let pool = PayloadPool::with_slack(100, 4096, 7);
        assert_eq!(pool.record_size(), 100);
        for i in 0..1000 {
            assert_eq!(pool.payload(i).len(), 100);
        }
        let one = PayloadPool::with_slack(1, 0, 7);
        assert_eq!(one.payload(12345).len(), 1);
    }

    #[test]
    fn framed_payloads_carry_the_schema_id() {
        let pool = PayloadPool::framed(100, 7, 0x0102_0304);
        for i in 0..1000 {
            let p = pool.payload(i);
            assert_eq!((p.len(), &p[..5]), (100, &[0u8, 1, 2, 3, 4][..]));
        }
        assert_ne!(pool.payload(1)[5..], pool.payload(2)[5..]);
    }

    #[test]
    fn payloads_vary_between_records() {
        let pool = PayloadPool::with_slack(64, 64 * 1024, 42);
        let distinct: HashSet<&[u8]> = (0..200).map(|i| pool.payload(i)).collect();
        assert!(distinct.len() > 190, "only {} distinct payloads", distinct.len());
    }

    #[test]
    fn pool_bytes_look_random() {
        let mut buf = vec![0u8; 1 << 16];
        fill_pseudo_random(&mut buf, 3);
        let mut counts = [0u32; 256];
        for &b in &buf {
            counts[b as usize] += 1;
        }
        // Every byte value appears, none dominates (expected 256 each).
        assert!(counts.iter().all(|&c| c > 128 && c < 512), "{counts:?}");
        // No long runs of one byte value.
        assert!(buf.windows(8).all(|w| w.iter().any(|&b| b != w[0])));
    }

    #[test]
    fn fill_handles_lengths_not_multiple_of_eight() {
        let mut buf = vec![0u8; 13];
        fill_pseudo_random(&mut buf, 9);
        assert!(buf.iter().any(|&b| b != 0));
    }

    #[test]
    fn e2e_header_roundtrip() {
        let mut buf = vec![0xAAu8; 64];
        encode_e2e_header(&mut buf, 77, 123_456_789);
        assert_eq!(decode_e2e_header(&buf, 77), Some(123_456_789));
        assert_eq!(decode_e2e_header(&buf, 78), None, "other run");
        assert_eq!(decode_e2e_header(&buf[..10], 77), None, "too short");
        assert_eq!(decode_e2e_header(&[0u8; 64], 77), None, "no magic");
    }

    #[test]
    fn group_headers_carry_the_producer_group() {
        let mut buf = [0u8; E2E_HEADER_LEN];
        encode_e2e_header(&mut buf, 41u64.wrapping_add(2), 99);
        assert_eq!(decode_group_e2e_header(&buf, 41, 3), Some((2, 99)));
        assert_eq!(decode_group_e2e_header(&buf, 41, 2), None, "not one of the run's groups");
        assert_eq!(decode_group_e2e_header(&buf, 40, 3), None);
    }
}
