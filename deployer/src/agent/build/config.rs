//! `agent.yaml`: vigil-agent's `cluster` configuration. The operator's alerting settings as
//! written, plus what vigil owns: the object prefix of the Lease and state ConfigMaps, and the
//! Slack destinations, which name the files the Secret is mounted as, never values.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use vigil_contract::SecretRef;
use vigil_contract::alerts::{self, Destination};

use super::daemonset::{HEALTH_PORT, SLACK_DIR};
use super::{CONFIG_MAP, NAME, meta, state_namespace};
use crate::agent::spec::{Settings, tenant_webhook_key};

pub const CONFIG_DIR: &str = "/etc/vigil";
pub const CONFIG_FILE: &str = "agent.yaml";

/// The configuration, in the contract's types.
pub fn config(s: &Settings) -> alerts::Config {
    let a = &s.alerting;
    let c = a.cluster.clone().unwrap_or_default();
    let file = |key: &str| SecretRef::File(format!("{SLACK_DIR}/{key}").into());
    let default = if s.slack.token {
        Destination {
            bot_token: Some(file("token")),
            channel: s.slack.channel.clone(),
            ..Default::default()
        }
    } else if s.slack.webhook {
        Destination {
            webhook: Some(file("webhook")),
            ..Default::default()
        }
    } else {
        Destination::default()
    };
    let operator = a.slack.clone().unwrap_or_default();
    let mut tenants: BTreeMap<String, Destination> = operator
        .tenants
        .iter()
        .map(|(tenant, route)| {
            let d = Destination {
                bot_token: s.slack.token.then(|| file("token")),
                channel: Some(route.channel.clone()),
                templates: route.templates.clone().map(Into::into),
                ..Default::default()
            };
            (tenant.clone(), d)
        })
        .collect();
    for tenant in &s.slack.tenant_webhooks {
        tenants.insert(
            tenant.clone(),
            Destination {
                webhook: Some(file(&tenant_webhook_key(tenant))),
                ..Default::default()
            },
        );
    }
    alerts::Config {
        cluster: alerts::Cluster {
            name: c.name,
            // The Lease `vigil-agent-leader` (its namespace comes from POD_NAMESPACE) and
            // the state ConfigMaps `vigil-agent-*` in the state namespace (the Roles grant
            // exactly these).
            object_prefix: Some(NAME.to_owned()),
            state_namespace: Some(state_namespace(&s.namespace)),
            adopt_after: c.adopt_after,
            fencing: (s.fencing != alerts::FencingMode::Off).then_some(s.fencing),
            watch_staleness: c.watch_staleness,
            degraded_after: c.degraded_after,
            fence_after: c.fence_after,
            lease_duration: c.lease_duration,
            evaluation_interval: c.evaluation_interval,
            node_selector: c.node_selector,
            // /healthz and /readyz for the probes.
            listen: Some(format!("0.0.0.0:{HEALTH_PORT}")),
            namespaces: c.namespaces,
            ..Default::default()
        },
        tenant_namespaces: a.tenant_namespaces.clone(),
        rules: a.rules.clone(),
        repeat_interval: a.repeat_interval,
        flapping: a.flapping.clone(),
        maintenance: a.maintenance.clone(),
        slack: alerts::Slack {
            default,
            tenants,
            api_url: operator.api_url,
            min_interval: operator.min_interval,
            timeout: operator.timeout,
        },
        digest: a.digest.clone(),
        output: a.output.clone(),
        spool: a.spool.clone(),
        // per tag and per device thresholds are the tenant collectors' (device rules)
        tag_rules: Vec::new(),
        device_rules: BTreeMap::new(),
    }
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
