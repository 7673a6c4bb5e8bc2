//! The operator's alerting file (`--config`): vigil-agent's `cluster` settings as written,
//! without what vigil owns and without anything that looks like a credential.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_contract::units::Dur;
use vigil_contract::{alerts, collector};

use crate::input::Problem;

/// The operator's alerting policy (`--config FILE`) in vigil-agent's `cluster` format (see
/// docs/alerts.md), typed with the contract's types (`vigil_contract::alerts`): rules,
/// maintenance windows, the digest, tenant routes... The keys vigil owns (where state lives,
/// the Slack credentials) are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<AlertingCluster>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenant_namespaces: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rules: BTreeMap<String, alerts::Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flapping: Option<alerts::Flapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintenance: Vec<alerts::Window>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<alerts::Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<AlertingSlack>,
    /// InfluxDB for the `alerts` measurement (the collector's `output` format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<collector::Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool: Option<collector::Spool>,
}

/// `cluster:` keys the operator may set (namespace, state and credentials are vigil's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingCluster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_duration: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// A NotReady node's alert state is taken over by the leader after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopt_after: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_staleness: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_after: Option<Dur>,
    /// With `--fencing`: how long a node must be NotReady before its pods are fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence_after: Option<Dur>,
}

/// `slack:` keys the operator may set: the default destination is made from the install's
/// credentials; a tenant route names a channel (posted with the install's bot token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingSlack {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, TenantRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRoute {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
}

/// Reads the alerting file: unknown top-level keys are rejected with their line and column,
/// and a Slack credential written inline is refused (it would land in a ConfigMap).
pub fn read_alerting(path: &Path) -> Result<Alerting, Problem> {
    let where_ = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problem::new(
            "--config",
            format!("cannot read {where_}: {e}"),
            "give the path of a readable YAML file with the alerting settings (docs/install.md)",
        )
    })?;
    parse_alerting(&where_, &text)
}

pub fn parse_alerting(origin: &str, text: &str) -> Result<Alerting, Problem> {
    if text.trim().is_empty() {
        return Ok(Alerting::default());
    }
    let alerting: Alerting = serde_norway::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default();
        Problem::new(
            &format!("{origin}{at}"),
            e.to_string(),
            "the file holds vigil-agent's alerting settings (rules, maintenance, digest, \
             slack.tenants, ...); the Slack credentials and where state lives are set by vigil \
             (see docs/install.md)",
        )
    })?;
    let value = serde_json::to_value(&alerting).unwrap_or_default();
    if let Some(at) = inline_secret(&value, String::new()) {
        return Err(Problem::new(
            &format!("{origin}: {at}"),
            "looks like a Slack credential written inline (it would be stored in a ConfigMap)",
            "remove it and pass it with --slack-webhook-file/--slack-webhook-env or \
             --slack-token-file/--slack-token-env; it is then stored in a Secret",
        ));
    }
    Ok(alerting)
}

/// The path of the first string that looks like a Slack webhook URL or token.
fn inline_secret(v: &serde_json::Value, at: String) -> Option<String> {
    match v {
        serde_json::Value::String(s) => {
            let s = s.trim();
            (s.contains("hooks.slack.com/")
                || ["xoxb-", "xoxp-", "xoxa-", "xoxs-"]
                    .iter()
                    .any(|p| s.starts_with(p)))
            .then_some(at)
        }
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| inline_secret(x, format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            inline_secret(x, p)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerting_file_rejects_unknown_keys_and_inline_secrets() {
        let e = parse_alerting("a.yaml", "rules: {}\nslack:\n  default: x\n").expect_err("unknown");
        assert!(e.path.contains("line 3"), "{e}");
        let e = parse_alerting(
            "a.yaml",
            "maintenance:\n- name: https://hooks.slack.com/services/T/B/X\n  cron: '0 2 * * *'\n  duration: 1h\n",
        )
        .expect_err("inline");
        assert_eq!(e.path, "a.yaml: maintenance[0].name");
        let ok = parse_alerting("a.yaml", "rules:\n  PodCrashLooping: {for: 30s}\n").expect("ok");
        assert!(ok.rules.contains_key("PodCrashLooping"));
    }
}
