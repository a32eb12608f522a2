//! Arbitrary SCRAM exchanges: the input is split at its first NUL into a client-first and a client-final
//! message, run through the server exchange as the agent runs it (known and unknown users).
#![no_main]
use libfuzzer_sys::fuzz_target;
use weft_sasl::scram::{ScramExchange, ScramMechanism, messages};

fuzz_target!(|data: &[u8]| {
    let (first, last) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let _ = messages::parse_client_final(data);
    let Ok(parsed) = messages::parse_client_first(first) else { return };
    let m = ScramMechanism::Sha256;
    // One iteration keeps the fuzzer fast; the count does not change what is parsed.
    let keys = (parsed.user.len() % 2 == 0).then(|| m.keys_from_password("pw", b"salt", 1));
    if let Ok((exchange, _server_first)) = ScramExchange::start(m, parsed, keys, b"fake".to_vec(), "snonce") {
        let _ = exchange.finish(last);
    }
});
