//! Arbitrary OAUTHBEARER client messages (RFC 7628) through the parser the agent uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = weft_sasl::oauthbearer::parse(data) {
        assert!(!m.token.is_empty());
    }
});
