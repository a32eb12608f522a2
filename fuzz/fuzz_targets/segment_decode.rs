//! Arbitrary bytes as a segment object.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = weft_format::read_entries(data) {
        for e in entries {
            assert!(e.range.start <= e.range.end && e.range.end as usize <= data.len());
        }
    }
});
