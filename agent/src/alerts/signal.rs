//! A [`Signal`] is one condition a rule sees as true right now (a pod crash-looping, a node
//! NotReady). Sources produce the complete set of active signals on every evaluation; the
//! [`super::engine::Engine`] turns their appearance and disappearance into incidents.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What a signal is about: used for routing (tenant), grouping, folding and maintenance
/// scopes. All values come from the cluster or devices and are untrusted text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `Deployment/name`, `StatefulSet/name`, `DaemonSet/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The object the signal is about, e.g. `Pod/web-0`, `Node/n1`, `PVC/data`.
    pub object: String,
    /// The device's tags (from the collector's configuration): Slack routes match them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One active condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Stable identity: the same condition on the same object always has the same one.
    pub fingerprint: String,
    pub rule: String,
    pub severity: Severity,
    pub scope: Scope,
    /// One line, e.g. `container api is in CrashLoopBackOff (7 restarts)`.
    pub summary: String,
    /// Extra facts shown as fields (`restarts`, `reason`...).
    #[serde(default)]
    pub facts: Vec<(String, String)>,
    /// Long free text (a termination message), truncated when rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the condition must hold before it fires.
    #[serde(skip)]
    pub hold: Duration,
    /// Fingerprints of incidents this signal folds into while they are firing
    /// (the pod's workload, its node; a device's DeviceDown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
}

impl Signal {
    pub fn new(rule: &str, severity: Severity, scope: Scope, identity: &str) -> Signal {
        Signal {
            fingerprint: fingerprint(rule, identity),
            rule: rule.to_string(),
            severity,
            scope,
            summary: String::new(),
            facts: Vec::new(),
            message: None,
            hold: Duration::ZERO,
            parents: Vec::new(),
        }
    }

    pub fn summary(mut self, s: impl Into<String>) -> Self {
        self.summary = s.into();
        self
    }

    pub fn fact(mut self, k: &str, v: impl Into<String>) -> Self {
        self.facts.push((k.to_string(), v.into()));
        self
    }

    pub fn hold(mut self, d: Duration) -> Self {
        self.hold = d;
        self
    }

    pub fn parent(mut self, fp: String) -> Self {
        self.parents.push(fp);
        self
    }
}

/// `rule/identity`: readable in logs and in the state object, stable across restarts.
pub fn fingerprint(rule: &str, identity: &str) -> String {
    format!("{rule}/{identity}")
}
