//! Arbitrary SASL/PLAIN client messages through the parser the agent uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = weft_sasl::plain::parse(data) {
        assert!(!m.user.is_empty() && !m.password.is_empty());
    }
});
