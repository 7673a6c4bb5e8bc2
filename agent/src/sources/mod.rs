//! Where data comes from: SNMP devices and ICMP echo (polled per [`Device`]), and the
//! Kubernetes API (watched). Sources observe; they import nothing from `alerts` or `sinks`.
pub mod icmp;
pub mod kubernetes;
pub mod snmp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use icmp::config::IcmpSettings;
use snmp::config::SnmpSettings;
use snmp::profile::Profile;

/// One device as its pollers see it: resolved from the configuration by `crate::config`.
#[derive(Debug, Clone)]
pub struct Device {
    pub name: String,
    pub address: String,
    pub tags: BTreeMap<String, String>,
    pub interval: Duration,
    pub jitter: Duration,
    pub snmp: Option<SnmpSettings>,
    pub profiles: Vec<Arc<Profile>>,
    pub icmp: Option<IcmpSettings>,
}
