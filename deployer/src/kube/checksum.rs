//! The pod-template annotation value that rolls pods when their configuration changes.

/// FNV-1a of `bytes` as 16 hex digits: stable across releases and dependency-free (not for
/// security).
pub fn config_checksum(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_known_inputs() {
        assert_eq!(config_checksum(b""), "cbf29ce484222325");
        assert_eq!(config_checksum(b"a"), "af63dc4c8601ec8c");
    }
}
