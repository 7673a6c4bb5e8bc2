//! The configuration file as written (YAML). Every struct rejects unknown fields, so a typo
//! is reported with its location instead of being ignored. [`super::resolve`] turns this
//! into the validated [`super::Config`].
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::secret::SecretRef;
use super::units::{Bytes, Dur};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub agent: RawAgent,
    #[serde(default)]
    pub spool: RawSpool,
    pub output: Option<RawOutput>,
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Extra profile files (YAML maps of name -> profile), relative to the config file.
    #[serde(default)]
    pub profile_files: Vec<PathBuf>,
    #[serde(default)]
    pub profiles: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub devices: Vec<RawDevice>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// Name of this collector (tag `agent` on self-metrics); defaults to the host name.
    pub name: Option<String>,
    /// Address of the /healthz, /readyz and /metrics endpoint, e.g. `0.0.0.0:9273`.
    pub listen: Option<String>,
    /// At most this many devices are polled at the same time.
    pub concurrency: Option<usize>,
    /// How often the agent's own metrics are written to the output.
    pub self_metrics_interval: Option<Dur>,
    /// ICMP echo requests per second, across all targets.
    pub icmp_rate: Option<u32>,
    /// Device alerting (rules, routes, Slack) in the cluster agent's format, relative to
    /// this file; omit to collect without alerting.
    pub alerts: Option<PathBuf>,
    /// The tenant these devices belong to: routes device alerts to its channel.
    pub tenant: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    pub dir: Option<PathBuf>,
    pub max_size: Option<Bytes>,
    /// fsync every spooled batch (survives a host crash, not only an agent restart).
    pub fsync: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub influxdb: RawInflux,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInflux {
    pub url: String,
    pub v2: Option<RawInfluxV2>,
    pub v1: Option<RawInfluxV1>,
    pub batch_size: Option<usize>,
    pub flush_interval: Option<Dur>,
    pub gzip: Option<bool>,
    pub timeout: Option<Dur>,
    /// Batches in flight at once (handed out oldest first; 1 = strictly in order).
    pub parallel_writes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfluxV2 {
    pub org: String,
    pub bucket: String,
    pub token: SecretRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInfluxV1 {
    pub database: String,
    pub retention_policy: Option<String>,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub interval: Option<Dur>,
    pub jitter: Option<Dur>,
    pub snmp: Option<RawSnmp>,
    pub profiles: Option<Vec<String>>,
    pub icmp: Option<RawIcmp>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIcmp {
    pub count: Option<u16>,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnmp {
    /// `2c` or `3`.
    pub version: Option<String>,
    pub community: Option<SecretRef>,
    pub user: Option<String>,
    pub auth: Option<RawAuth>,
    #[serde(rename = "priv")]
    pub privacy: Option<RawPriv>,
    pub context: Option<String>,
    pub port: Option<u16>,
    pub timeout: Option<Dur>,
    pub retries: Option<u32>,
    pub max_repetitions: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512
    pub protocol: String,
    pub password: SecretRef,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriv {
    /// DES, AES (=AES-128), AES-192, AES-256
    pub protocol: String,
    pub password: SecretRef,
}

/// `icmp: true`, `icmp: false` or `icmp: {count: 5}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawIcmpSwitch {
    On(bool),
    With(RawIcmp),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub interval: Option<Dur>,
    pub snmp: Option<RawSnmp>,
    pub profiles: Option<Vec<String>>,
    pub icmp: Option<RawIcmpSwitch>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Measurement of the scalar fields (default `snmp`, shared with the `system` profile).
    pub measurement: Option<String>,
    #[serde(default)]
    pub fields: Vec<RawField>,
    #[serde(default)]
    pub tables: Vec<RawTable>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    /// Field or tag name; defaults to the MIB object name when `oid` is a name.
    pub name: Option<String>,
    /// Numeric (`1.3.6.1.2.1.1.5.0`) or a built-in MIB name (`SNMPv2-MIB::sysName.0`).
    pub oid: String,
    #[serde(default)]
    pub tag: bool,
    /// `int`, `float`, `float(N)` (divide by 10^N), `string`, `hwaddr`, `ipaddr`.
    pub conversion: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    /// Measurement name; defaults to the MIB table name when `oid` is a table name.
    pub name: Option<String>,
    /// A built-in table (`IF-MIB::ifTable`): all its columns become fields.
    pub oid: Option<String>,
    #[serde(default)]
    pub fields: Vec<RawField>,
    /// Tag carrying the row index (omit for none).
    pub index_tag: Option<String>,
    /// Scalar tags (such as `hostname`) copied onto every row.
    #[serde(default)]
    pub inherit_tags: Vec<String>,
}
