//! `agent.yaml`: vigil-agent's `cluster` configuration. The operator's alerting settings as
//! written, plus what vigil owns: the object prefix of the Lease and state ConfigMaps, and the
//! Slack destinations, which name the files the Secret is mounted as, never values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::daemonset::{HEALTH_PORT, SLACK_DIR};
use super::{CONFIG_MAP, NAME, meta};
use crate::agent::spec::{Settings, tenant_webhook_key};

pub const CONFIG_DIR: &str = "/etc/vigil";
pub const CONFIG_FILE: &str = "agent.yaml";

/// The configuration as a JSON value (keys in vigil-agent's snake_case).
pub fn config(s: &Settings) -> Value {
    let mut doc = serde_json::to_value(&s.alerting).unwrap_or_else(|_| json!({}));
    if !doc.is_object() {
        doc = json!({});
    }
    // The Lease `vigil-agent-leader` and the state ConfigMaps `vigil-agent-*` (the Role
    // grants exactly these); the namespace comes from POD_NAMESPACE.
    doc["cluster"]["object_prefix"] = json!(NAME);
    // /healthz and /readyz for the probes.
    doc["cluster"]["listen"] = json!(format!("0.0.0.0:{HEALTH_PORT}"));
    let file = |key: &str| json!({"file": format!("{SLACK_DIR}/{key}")});
    let default = if s.slack.token {
        json!({"bot_token": file("token"), "channel": s.slack.channel})
    } else if s.slack.webhook {
        json!({"webhook": file("webhook")})
    } else {
        Value::Null
    };
    if !default.is_null() {
        doc["slack"]["default"] = default;
    }
    // `pointer_mut`, not `doc["slack"]["tenants"]`: indexing would insert `tenants: null`,
    // which vigil-agent refuses.
    if s.slack.token
        && let Some(tenants) = doc
            .pointer_mut("/slack/tenants")
            .and_then(Value::as_object_mut)
    {
        for route in tenants.values_mut() {
            route["bot_token"] = file("token");
        }
    }
    for tenant in &s.slack.tenant_webhooks {
        doc["slack"]["tenants"][tenant] = json!({"webhook": file(&tenant_webhook_key(tenant))});
    }
    doc
}

pub fn config_yaml(s: &Settings) -> String {
    serde_norway::to_string(&config(s)).unwrap_or_default()
}

pub fn config_map(s: &Settings) -> ConfigMap {
    ConfigMap {
        metadata: meta(s, CONFIG_MAP),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), config_yaml(s))])),
        ..Default::default()
    }
}
