//! `agent.yaml`, vigil-agent's configuration for the `cluster` role: the wiring vigil owns
//! (health endpoint, Lease, state object, where the Slack credentials are mounted) plus the
//! operator's alerting policy as written. Names files, never secret values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;

use super::daemonset::{HEALTH_PORT, SLACK_DIR};
use super::{CONFIG_MAP, LEASE, STATE, meta};
use crate::agent::spec::{Alerting, Settings};

pub const CONFIG_DIR: &str = "/etc/vigil";
pub const CONFIG_FILE: &str = "agent.yaml";

#[derive(Debug, Serialize)]
pub struct AgentConfig {
    pub agent: AgentSection,
    pub cluster: ClusterSection,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackSection>,
    #[serde(flatten)]
    pub alerting: Alerting,
}

#[derive(Debug, Serialize)]
pub struct AgentSection {
    pub listen: String,
}

/// Where the agent keeps its leadership and durable state (both in its own namespace, which
/// it reads from `POD_NAMESPACE`).
#[derive(Debug, Serialize)]
pub struct ClusterSection {
    pub lease: String,
    pub state_config_map: String,
    pub icmp: bool,
}

#[derive(Debug, Serialize)]
pub struct SlackSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<FileRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<FileRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// A secret reference as vigil-agent reads it: `{file: PATH}`.
#[derive(Debug, Serialize)]
pub struct FileRef {
    pub file: String,
}

pub fn config(s: &Settings) -> AgentConfig {
    let file = |key: &str| FileRef {
        file: format!("{SLACK_DIR}/{key}"),
    };
    let slack = (s.slack.any() || s.slack.channel.is_some()).then(|| SlackSection {
        webhook: s.slack.webhook.then(|| file("webhook")),
        token: s.slack.token.then(|| file("token")),
        channel: s.slack.channel.clone(),
    });
    AgentConfig {
        agent: AgentSection {
            listen: format!("0.0.0.0:{HEALTH_PORT}"),
        },
        cluster: ClusterSection {
            lease: LEASE.into(),
            state_config_map: STATE.into(),
            icmp: s.icmp != crate::agent::spec::IcmpMode::Off,
        },
        slack,
        alerting: s.alerting.clone(),
    }
}

pub fn config_yaml(s: &Settings) -> String {
    serde_yaml::to_string(&config(s)).unwrap_or_default()
}

pub fn config_map(s: &Settings) -> ConfigMap {
    ConfigMap {
        metadata: meta(s, CONFIG_MAP),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), config_yaml(s))])),
        ..Default::default()
    }
}
