//! Fuzzes the decoding of SNMP responses (message, PDU, varbinds, value conversions).
//! Run for a fixed time: `cargo +nightly fuzz run snmp_decode -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vigil_agent::sources::snmp::value::decode_message(data);
});
