//! `collector.yaml`: the configuration of `vigil-agent run` (devices, profiles, output).
//! Written by the deployer for a tenant's collector and by `vigil-agent import-telegraf`;
//! read by the agent, which resolves defaults and checks values (`vigil-agent check-config`).
//!
//! Field order is the order in which the deployer renders them (the config checksum and the
//! golden manifests depend on it); unset fields are not written.
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::secret::SecretRef;
use crate::units::{Bytes, Dur};

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Agent::is_empty")]
    pub agent: Agent,
    #[serde(default, skip_serializing_if = "Spool::is_empty")]
    pub spool: Spool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// Extra profile files (YAML maps of name -> profile), relative to the config file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profile_files: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    pub devices: Vec<Device>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Name of this collector (tag `agent` on self-metrics); defaults to the host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address of the /healthz, /readyz and /metrics endpoint, e.g. `0.0.0.0:9273`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// The tenant these devices belong to: routes device alerts to its channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Device alerting (rules, routes, Slack) in the cluster agent's format, relative to
    /// this file; omit to collect without alerting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<PathBuf>,
    /// At most this many devices are polled at the same time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// How often the agent's own metrics are written to the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_metrics_interval: Option<Dur>,
    /// ICMP echo requests per second, across all targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_rate: Option<u32>,
}

impl Agent {
    fn is_empty(&self) -> bool {
        *self == Agent::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spool {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<Bytes>,
    /// fsync every spooled batch (survives a host crash, not only an agent restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<bool>,
}

impl Spool {
    fn is_empty(&self) -> bool {
        *self == Spool::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    pub influxdb: Influx,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Influx {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2: Option<InfluxV2>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v1: Option<InfluxV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flush_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gzip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    /// Batches in flight at once (handed out oldest first; 1 = strictly in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_writes: Option<usize>,
    /// On SIGTERM, how long to go on delivering what is spooled (default 10s); the rest
    /// waits in the spool for the next start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_timeout: Option<Dur>,
}

impl Influx {
    /// An output to `url` with every tunable left to the agent's default.
    pub fn new(url: impl Into<String>) -> Self {
        Influx {
            url: url.into(),
            v2: None,
            v1: None,
            batch_size: None,
            flush_interval: None,
            gzip: None,
            timeout: None,
            parallel_writes: None,
            drain_timeout: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxV2 {
    pub org: String,
    pub bucket: String,
    pub token: SecretRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxV1 {
    pub database: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<Snmp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<Icmp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl Defaults {
    fn is_empty(&self) -> bool {
        *self == Defaults::default()
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Icmp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Icmp {
    pub fn is_empty(&self) -> bool {
        *self == Icmp::default()
    }
}

/// SNMP settings of a device, or their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snmp {
    /// `2c` or `3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(default, rename = "priv", skip_serializing_if = "Option::is_none")]
    pub privacy: Option<Priv>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_repetitions: Option<u32>,
}

/// The SNMP versions, as written in `snmp.version`.
pub const SNMP_V2C: &str = "2c";
pub const SNMP_V3: &str = "3";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512
    pub protocol: String,
    pub password: SecretRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priv {
    /// DES, AES (=AES-128), AES-192, AES-256
    pub protocol: String,
    pub password: SecretRef,
}

/// `icmp: true`, `icmp: false` or `icmp: {count: 5}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IcmpSwitch {
    On(bool),
    With(Icmp),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<Snmp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpSwitch>,
}

impl Device {
    /// A device polled with the defaults only.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        Device {
            name: name.into(),
            address: address.into(),
            tags: BTreeMap::new(),
            interval: None,
            snmp: None,
            profiles: None,
            icmp: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Measurement of the scalar fields (default `snmp`, shared with the `system` profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Field or tag name; defaults to the MIB object name when `oid` is a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Numeric (`1.3.6.1.2.1.1.5.0`) or a built-in MIB name (`SNMPv2-MIB::sysName.0`).
    pub oid: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tag: bool,
    /// `int`, `float`, `float(N)` (divide by 10^N), `string`, `hwaddr`, `ipaddr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Measurement name; defaults to the MIB table name when `oid` is a table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A built-in table (`IF-MIB::ifTable`): all its columns become fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// Tag carrying the row index (omit for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_tag: Option<String>,
    /// Scalar tags (such as `hostname`) copied onto every row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit_tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_are_not_written_and_what_is_written_reads_back() {
        let mut d = Device::new("r1", "10.0.0.1");
        d.icmp = Some(IcmpSwitch::On(true));
        d.snmp = Some(Snmp {
            version: Some(SNMP_V2C.into()),
            port: Some(161),
            community: Some(SecretRef::File("/c".into())),
            ..Snmp::default()
        });
        let c = Config {
            devices: vec![d],
            ..Config::default()
        };
        let text = serde_norway::to_string(&c).unwrap();
        assert_eq!(
            text,
            "devices:\n- name: r1\n  address: 10.0.0.1\n  snmp:\n    version: 2c\n    port: 161\n    community:\n      file: /c\n  icmp: true\n"
        );
        assert_eq!(serde_norway::from_str::<Config>(&text).unwrap(), c);
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_location() {
        let e = serde_norway::from_str::<Config>("devices:\n- name: a\n  address: b\n  tagz: {}\n")
            .unwrap_err();
        assert!(e.to_string().contains("tagz"), "{e}");
        assert!(e.to_string().contains("line 4"), "{e}");
    }
}
