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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Cluster::is_empty")]
    pub cluster: Cluster,
    /// Namespaces of tenants whose objects carry no `vigil.dev/tenant` label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenant_namespaces: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, Rule>,
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
