//! Tenants' own Slack webhooks, copied into the agent's Secret at install time (by the
//! operator running vigil: the agent itself never reads a Secret).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, ListParams};

use super::apply::Error;
use crate::cluster;
use crate::input::Redacted;
use crate::kube::{MANAGED_BY_LABEL, MANAGER, TENANT_LABEL};

/// The Secret and key where `vigil tenant` keeps a tenant's `spec.alerts.slack.webhook`.
fn location(tenant: &str) -> (String, &'static str) {
    (format!("{tenant}-collector-credentials"), "slack-webhook")
}

/// Every tenant's Slack webhook, by tenant name (tenants without one are left out).
pub async fn webhooks(client: &Client) -> Result<BTreeMap<String, Redacted>, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGER},{TENANT_LABEL}"));
    let tenants: Vec<String> = namespaces
        .list_metadata(&lp)
        .await
        .map_err(|e| cluster::api_error("list", "namespaces", None, None, e))?
        .items
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .filter_map(|n| n.metadata.labels?.get(TENANT_LABEL).cloned())
        .collect();
    let mut out = BTreeMap::new();
    for tenant in tenants {
        let (name, key) = location(&tenant);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &tenant);
        let secret = secrets
            .get_opt(&name)
            .await
            .map_err(|e| cluster::api_error("get", "secrets", Some(&tenant), Some(&name), e))?;
        let value = secret
            .and_then(|s| s.data)
            .and_then(|d| d.get(key).cloned())
            .and_then(|b| match String::from_utf8(b.0) {
                Ok(v) => Some(v),
                Err(_) => {
                    // a credential: neither it nor the error (which holds it) is logged
                    tracing::warn!(tenant = %tenant, secret = %name, key, "the tenant's Slack webhook is not UTF-8; skipped");
                    None
                }
            })
            .filter(|v| !v.is_empty());
        if let Some(v) = value {
            out.insert(tenant, Redacted::new(v));
        }
    }
    Ok(out)
}
