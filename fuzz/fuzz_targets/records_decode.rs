//! Arbitrary bytes as one batch: the record walker, the produce-path validator and the bounded decoder of
//! stored batches must never panic, and must agree (a batch the validator accepts decodes to its records).
#![no_main]
use libfuzzer_sys::fuzz_target;
use weft_protocol::BatchHeader;
use weft_protocol::records::{Mode, ValidateOptions, decode_records, validate_batch};

/// Smaller than the agent's bound, so the fuzzer spends its time on records rather than on inflating.
const LIMIT: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let decoded = decode_records(data);
    // The CRC is not what is being tested: check the header without it.
    let Ok(header) = BatchHeader::parse(data) else { return };
    for mode in [Mode::Producer, Mode::Stored] {
        let opts = ValidateOptions { mode, keys_required: true, timestamp_bounds: Some((0, i64::MAX)), max_decompressed: LIMIT };
        if let Ok(summary) = validate_batch(data, &header, &opts) {
            assert_eq!(i64::from(summary.record_count), i64::from(header.record_count));
            if mode == Mode::Stored {
                let d = decoded.as_ref().expect("a batch the validator accepts decodes");
                assert_eq!(d.records.len(), summary.record_count as usize);
            }
        }
    }
});
