//! Arbitrary request frames through the same header checks and decoders the agent uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = weft_protocol::decode_request(bytes::Bytes::copy_from_slice(data));
    let mut buf = bytes::BytesMut::from(data);
    while let Ok(Some(frame)) = weft_protocol::next_frame(&mut buf, 1 << 20) {
        let _ = weft_protocol::decode_request(frame.freeze());
    }
});
