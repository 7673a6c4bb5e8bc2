//! The alert configuration: `vigil-agent cluster --config FILE` and the collector's
//! `alerts.yaml` (rules, routes, maintenance windows, the digest, where state lives and,
//! optionally, the collector's `output`/`spool` for the `alerts` measurement). Written by the
//! deployer for a tenant's collector; read by the agent, which applies defaults and checks
//! values.
//!
//! Field order is the order in which the deployer renders them; unset fields are not written.
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::alert_state::Severity;
use crate::collector::{Output, Spool};
use crate::secret::SecretRef;
use crate::units::Dur;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Cluster::is_empty")]
    pub cluster: Cluster,
    /// Namespaces of tenants whose objects carry no `vigil.dev/tenant` label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenant_namespaces: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Rule>,
    /// Device rules for the devices carrying all of `tags`, over `rules`; when several
    /// entries match, the later one wins field by field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_rules: Vec<TagRules>,
    /// Device rules for one device by name, over everything else.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub device_rules: BTreeMap<String, BTreeMap<String, Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<Flapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<Window>,
    /// Required by the agent (`slack.default` at least); absent only in a rendered
    /// configuration that has no destination yet (`vigil agent render` without credentials).
    #[serde(default, skip_serializing_if = "Slack::is_empty")]
    pub slack: Slack,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// InfluxDB for the `alerts` measurement (the collector's `output` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<Spool>,
}

/// Rule overrides for the devices that carry every one of `tags`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRules {
    pub tags: BTreeMap<String, String>,
    pub rules: BTreeMap<String, Rule>,
}

/// The rules evaluated inside a tenant's collector (the others are the cluster agent's).
pub const DEVICE_RULES: &[&str] = &[
    "DeviceDown",
    "PacketLoss",
    "LatencyHigh",
    "SnmpUnreachable",
    "InterfaceDown",
    "DeviceRebooted",
    "CpuHigh",
    "TemperatureHigh",
    "SpoolOverflow",
];

impl Rule {
    /// `self` with every field `over` sets replaced by it.
    pub fn overlay(&self, over: &Rule) -> Rule {
        Rule {
            enabled: over.enabled.or(self.enabled),
            hold: over.hold.or(self.hold),
            threshold: over.threshold.or(self.threshold),
            window: over.window.or(self.window),
            namespaces: over.namespaces.clone().or_else(|| self.namespaces.clone()),
            severity: over.severity.or(self.severity),
        }
    }
}

impl Config {
    /// The rule overrides in force for one device, field by field: the device's own over
    /// the matching tag entries (later over earlier) over the file's `rules`. What none of
    /// them sets is the catalogue's default.
    pub fn rules_for(
        &self,
        device: &str,
        tags: &BTreeMap<String, String>,
    ) -> BTreeMap<String, Rule> {
        let mut out = self.rules.clone();
        let layers = self
            .tag_rules
            .iter()
            .filter(|t| t.tags.iter().all(|(k, v)| tags.get(k) == Some(v)))
            .map(|t| &t.rules)
            .chain(self.device_rules.get(device));
        for layer in layers {
            for (name, r) in layer {
                let merged = out.get(name).cloned().unwrap_or_default().overlay(r);
                out.insert(name.clone(), merged);
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Shown in every message (default `kubernetes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The agent's namespace: its Lease (default: $POD_NAMESPACE, else `vigil-system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Where the state ConfigMaps live (default: `namespace`). `vigil agent install` gives
    /// them a namespace that holds nothing else (`<namespace>-state`), so the agent may
    /// write there and nowhere near its own configuration. State still found in
    /// `namespace` (written by an older agent) is read once, when none is here yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_namespace: Option<String>,
    /// Standalone: keep state in this file instead of ConfigMaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// Prefix of the state ConfigMaps and the Lease (default `vigil-agent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<Dur>,
    /// `/readyz` fails once a watch has been out of touch with the API server this long
    /// (default 2m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_staleness: Option<Dur>,
    /// `AlertingDegraded` is posted (directly, not through the state) once the API server
    /// has been out of reach, or the state could not be saved, this long (default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_after: Option<Dur>,
    /// The leader takes over the state of a node's agent once the node has been deleted,
    /// or NotReady this long (default 5m): its open incidents are resolved in their
    /// threads and its queued messages delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_after: Option<Dur>,
    /// Opt-in: the leader force-deletes vigil's tenant pods (and their volumes'
    /// attachments) on a node NotReady for `fence_after`, so a StatefulSet's pod or a
    /// single-writer volume can start elsewhere. Default `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing: Option<FencingMode>,
    /// How long a node must be NotReady before fencing acts (default 60s: the tenant
    /// pods' 30 s toleration plus as much again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_after: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Only alert on nodes matching this label selector (e.g. `pool=prod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    /// Address of /healthz, /readyz and /metrics (e.g. `0.0.0.0:9274`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Default namespace scope of pod, workload and PVC rules (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
}

/// Which of vigil's tenant pods the leader force-deletes on a dead node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FencingMode {
    #[default]
    Off,
    /// The collectors only (`app.kubernetes.io/component=collector`).
    Collectors,
    /// The collectors, InfluxDB and Grafana.
    All,
}

impl FencingMode {
    /// The `app.kubernetes.io/component` values of the tenant pods fenced.
    pub fn components(self) -> &'static [&'static str] {
        match self {
            FencingMode::Off => &[],
            FencingMode::Collectors => &["collector"],
            FencingMode::All => &["collector", "database", "dashboards"],
        }
    }
}

impl Cluster {
    fn is_empty(&self) -> bool {
        *self == Cluster::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet: Option<Dur>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// A crontab schedule in UTC (`0 8 * * 1-5`, `@daily`; see [`crate::schedule`]).
    pub cron: String,
}

/// A rule as configured (`rules: {PodCrashLooping: {for: 30s}}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub hold: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
    /// Only these namespaces (pod, workload and PVC rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Severity override: critical, warning or info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// A maintenance window: a schedule plus a duration, scoped by tenant, namespace,
/// device and rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub name: String,
    /// A crontab schedule in UTC (`0 2 * * Sun`, `@weekly`; see [`crate::schedule`]).
    pub cron: String,
    pub duration: Dur,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slack {
    pub default: Destination,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Destination>,
    /// Web API base URL (default `https://slack.com/api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    /// At most one message per channel per this interval (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<Dur>,
    /// Per-request timeout (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Slack {
    pub fn is_empty(&self) -> bool {
        *self == Slack::default()
    }
}

/// `{webhook: {env: VAR}}` or `{bot_token: {file: PATH}, channel: C123}`, optionally with
/// a directory of template overrides and the least severity posted there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<PathBuf>,
    /// Alerts less severe than this are not posted here (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// `{tags: {role: core}, webhook: {file: PATH}, min_severity: critical}`: alerts of devices
/// carrying all these tags go to this webhook (or bot channel) instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_token: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_severity: Option<Severity>,
}

#[cfg(test)]
mod precedence_tests {
    use super::*;

    fn rule(threshold: Option<f64>, enabled: Option<bool>, hold_s: Option<u64>) -> Rule {
        Rule {
            threshold,
            enabled,
            hold: hold_s.map(|s| Dur(std::time::Duration::from_secs(s))),
            ..Default::default()
        }
    }

    #[test]
    fn device_over_tag_over_tenant_field_by_field() {
        let config = Config {
            rules: BTreeMap::from([
                ("CpuHigh".to_string(), rule(Some(80.0), None, Some(300))),
                ("LatencyHigh".to_string(), rule(Some(50.0), None, None)),
            ]),
            tag_rules: vec![
                TagRules {
                    tags: BTreeMap::from([("role".into(), "core".into())]),
                    rules: BTreeMap::from([("CpuHigh".to_string(), rule(Some(90.0), None, None))]),
                },
                TagRules {
                    tags: BTreeMap::from([
                        ("role".into(), "core".into()),
                        ("site".into(), "paris".into()),
                    ]),
                    rules: BTreeMap::from([("CpuHigh".to_string(), rule(Some(95.0), None, None))]),
                },
            ],
            device_rules: BTreeMap::from([(
                "core-1".to_string(),
                BTreeMap::from([("InterfaceDown".to_string(), rule(None, Some(false), None))]),
            )]),
            ..Default::default()
        };
        let core_paris = BTreeMap::from([
            ("role".to_string(), "core".to_string()),
            ("site".to_string(), "paris".to_string()),
        ]);
        let core = BTreeMap::from([("role".to_string(), "core".to_string())]);

        // tenant only
        let plain = config.rules_for("edge-1", &BTreeMap::new());
        assert_eq!(plain["CpuHigh"], rule(Some(80.0), None, Some(300)));
        assert!(!plain.contains_key("InterfaceDown"));
        // one tag entry: its threshold, the tenant's `for` kept
        assert_eq!(
            config.rules_for("edge-2", &core)["CpuHigh"],
            rule(Some(90.0), None, Some(300))
        );
        // two matching tag entries: the later wins
        let r = config.rules_for("core-1", &core_paris);
        assert_eq!(r["CpuHigh"], rule(Some(95.0), None, Some(300)));
        // the device's own, on top
        assert_eq!(r["InterfaceDown"], rule(None, Some(false), None));
        assert_eq!(r["LatencyHigh"], rule(Some(50.0), None, None));
        // a device's entry affects only that device
        assert!(
            !config
                .rules_for("core-2", &core_paris)
                .contains_key("InterfaceDown")
        );
    }
}
