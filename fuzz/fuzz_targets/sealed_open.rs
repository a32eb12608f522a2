//! Arbitrary bytes as a sealed object (encryption at rest): opening never panics, and what is sealed opens
//! back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

const KEYS: &str = "k AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fuzz_target!(|data: &[u8]| {
    let ring = weft_storage::Keyring::parse(KEYS).expect("keyring");
    let _ = weft_storage::open_sealed(data, "o", &ring);
    let fill = |buf: &mut [u8]| {
        buf.fill(7);
        true
    };
    let sealed = weft_storage::seal_object(data, "o", &ring, &fill).expect("seal");
    assert_eq!(&weft_storage::open_sealed(&sealed, "o", &ring).expect("open")[..], data);
});
