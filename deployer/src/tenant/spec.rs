//! The tenant file as written by people: `apiVersion: vigil.dev/v1alpha1`, `kind: Tenant`.
//!
//! These types mirror the YAML one to one and reject unknown fields; they carry no meaning yet.
//! [`super::validate`] turns them into a [`super::validate::Tenant`] whose values are known good.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The only `apiVersion` this release understands.
pub const API_VERSION: &str = "vigil.dev/v1alpha1";
/// The only `kind`.
pub const KIND: &str = "Tenant";

/// Errors reading a tenant file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The YAML is malformed or does not match the schema (unknown or mistyped field).
    #[error("{origin}: {message}{location}; see docs/tenants.md for the fields a Tenant accepts")]
    Schema {
        origin: String,
        message: String,
        location: Location,
    },
    /// The document is not a `vigil.dev/v1alpha1` `Tenant`.
    #[error(
        "{origin}: unsupported {field} {found:?}; this vigil reads apiVersion: {API_VERSION}, kind: {KIND}"
    )]
    Version {
        origin: String,
        field: &'static str,
        found: String,
    },
}

/// A position in the file, printed as ` at line L column C` (empty when unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location(pub Option<(usize, usize)>);

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some((line, column)) => write!(f, " at line {line} column {column}"),
            None => Ok(()),
        }
    }
}

/// A whole tenant document.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantFile {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: TenantSpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
}

/// Everything below `spec:`. Every field is optional except what a collector needs to be useful.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<ImagesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<FailoverSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<PlacementSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<CollectorSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cidrs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourcesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<ComponentResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<ComponentResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<ComponentResources>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComponentResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<CpuMemory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<CpuMemory>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuMemory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressSpec {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Namespace of the ingress controller pods that may reach Grafana (network policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackSpec>,
    /// Device rule thresholds for every device of the tenant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, RuleSpec>,
    /// Device rule thresholds for the devices carrying all of `tags` (later entries win).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_tags: Vec<TagRulesSpec>,
}

/// One rule's overrides: `{threshold: 80, for: 5m}`, `{enabled: false}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A number in the rule's unit (percent, °C, failed rounds), or for LatencyHigh a
    /// duration such as `50ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<ThresholdSpec>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ThresholdSpec {
    Number(f64),
    Text(String),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRulesSpec {
    pub tags: BTreeMap<String, String>,
    pub rules: BTreeMap<String, RuleSpec>,
}

/// `devices[].alerts`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceAlertsSpec {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, RuleSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackSpec {
    pub webhook: SecretRef,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<SlackRoute>,
    /// Cron schedule (5 fields, UTC) of the daily/weekly digest of open alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_schedule: Option<String>,
    /// Kubernetes policy mode: the CIDRs the webhook hosts given by name may be reached in
    /// (standard NetworkPolicies cannot name a host; the default is every public address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_cidrs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackRoute {
    /// Devices carrying all these tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<String>,
    /// Only for the service desk's reading: the webhook decides where messages land.
    pub channel: String,
    /// The incoming webhook of `channel` (a webhook posts only to its own channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SecretRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailoverSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlacementSpec {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<TolerationSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TolerationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectorSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceSpec {
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp: Option<SnmpSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<bool>,
    /// This device's own rule thresholds, over its tags' and the tenant's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<DeviceAlertsSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnmpSpec {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<SnmpKeySpec>,
    #[serde(default, rename = "priv", skip_serializing_if = "Option::is_none")]
    pub privacy: Option<SnmpKeySpec>,
}

/// SNMPv3 authentication or privacy: a protocol and a password by reference.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnmpKeySpec {
    pub protocol: String,
    pub password: SecretRef,
}

/// Where a secret value comes from: `{env: NAME}` or `{file: PATH}`. Inline values are refused
/// at parse time so that tenant files can live in Git.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a reference {env: NAME} or {file: PATH}")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(
                    "inline secret values are not accepted; reference an environment variable \
                     ({env: NAME}) or a file ({file: /path}) instead",
                ))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SecretRef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SecretRef, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut out = SecretRef::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "env" => out.env = Some(map.next_value()?),
                        "file" => out.file = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["env", "file"])),
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(RefVisitor)
    }
}

/// Only the header, read first so that a future apiVersion gets a version error, not a field error.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Parses one tenant document. `origin` names the source in messages (a file path or `flags`).
pub fn parse(origin: &str, text: &str) -> Result<TenantFile, Error> {
    let schema = |e: serde_norway::Error| Error::Schema {
        origin: origin.to_owned(),
        location: Location(e.location().map(|l| (l.line(), l.column()))),
        message: strip_location(&e.to_string()),
    };
    let header: Header = serde_norway::from_str(text).map_err(schema)?;
    let version = |field, found: Option<String>| Error::Version {
        origin: origin.to_owned(),
        field,
        found: found.unwrap_or_default(),
    };
    if header.api_version.as_deref() != Some(API_VERSION) {
        return Err(version("apiVersion", header.api_version));
    }
    if header.kind.as_deref() != Some(KIND) {
        return Err(version("kind", header.kind));
    }
    serde_norway::from_str(text).map_err(schema)
}

/// serde_norway appends " at line L column C" itself; we print the location in one place.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_has_line_and_column() {
        let text = "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: a\nspec:\n  retension: 30d\n";
        let err = parse("t.yaml", text).unwrap_err().to_string();
        assert!(err.contains("unknown field `retension`"), "{err}");
        assert!(err.contains("line 6 column 3"), "{err}");
        assert!(err.starts_with("t.yaml: spec: "), "{err}");
    }

    #[test]
    fn inline_secret_is_refused() {
        let text = "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata: {name: a}\nspec:\n  devices:\n  - name: r1\n    address: 10.0.0.1\n    snmp: {version: v2c, community: public}\n";
        let err = parse("t.yaml", text).unwrap_err().to_string();
        assert!(
            err.contains("inline secret values are not accepted"),
            "{err}"
        );
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn wrong_version_is_named() {
        let text = "apiVersion: vigil.dev/v2\nkind: Tenant\nmetadata: {name: a}\n";
        let err = parse("t.yaml", text).unwrap_err().to_string();
        assert!(
            err.contains("unsupported apiVersion \"vigil.dev/v2\""),
            "{err}"
        );
    }
}
