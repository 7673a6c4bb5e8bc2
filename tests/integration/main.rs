//! The workspace's integration tests: they prove the sandbox's real peers work the way
//! vigil relies on (each product crate has its own test binary for its features).

mod dashboards;
mod icmp;
mod influxdb;
mod kubernetes;
mod snmp;
mod tenant_alerts;

/// A short suffix that keeps names unique across tests and runs sharing one sandbox.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{:06x}",
        (nanos as u64 ^ u64::from(std::process::id())) & 0xff_ffff
    )
}
