use std::path::Path;

use super::CommandError;
use crate::config::{Config, InfluxApi};

/// Validates a configuration and returns a short summary of it.
pub fn check_config(path: &Path) -> Result<String, CommandError> {
    let c = Config::load(path)?;
    let snmp = c.devices.iter().filter(|d| d.snmp.is_some()).count();
    let icmp = c.devices.iter().filter(|d| d.icmp.is_some()).count();
    let output = match &c.output {
        None => "none (only `once` can run)".to_string(),
        Some(o) => match &o.api {
            InfluxApi::V2 { org, bucket, .. } => {
                format!("InfluxDB v2 {} org={org} bucket={bucket}", o.url)
            }
            InfluxApi::V1 { database, .. } => format!("InfluxDB v1 {} database={database}", o.url),
        },
    };
    Ok(format!(
        "{}: OK — {} devices ({snmp} SNMP, {icmp} ICMP), output: {output}, spool: {} (max {} bytes)",
        path.display(),
        c.devices.len(),
        c.spool.dir.display(),
        c.spool.max_bytes
    ))
}
