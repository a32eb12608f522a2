//! Arbitrary bytes as a produce request's record set.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batches) = weft_protocol::batch::split_batches(&bytes::Bytes::copy_from_slice(data)) {
        let total: usize = batches.iter().map(|(h, _)| h.size).sum();
        assert_eq!(total, data.len());
    }
});
