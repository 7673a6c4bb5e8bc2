//! Builds every Kubernetes object of the cluster agent from checked [`Settings`]. No client.

mod config;
mod daemonset;
mod rbac;

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vigil_contract::names;

pub use config::{config, config_yaml};
pub use daemonset::{HEALTH_PORT, UID, daemonset};
pub use rbac::{cluster_role, role, state_role};

use super::spec::{Credentials, Settings};
use crate::kube::{
    COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER, Object, ObjectError, standard_labels,
};

/// The install's label: `vigil.dev/agent=<namespace>` (like `vigil.dev/tenant` for tenants).
pub const AGENT_LABEL: &str = "vigil.dev/agent";
pub const COMPONENT: &str = "cluster-agent";
pub const APP: &str = names::AGENT_APP;
/// DaemonSet, ServiceAccount, Role and RoleBinding in the agent's namespace.
pub const NAME: &str = "vigil-agent";
pub const CONFIG_MAP: &str = "vigil-agent-config";
pub const SLACK_SECRET: &str = "vigil-agent-slack";
/// Made by the agent itself: its leader Lease (in the install's namespace), and state
/// ConfigMaps labelled [`STATE_SELECTOR`] (`vigil-agent-leader`, `vigil-agent-node-<node>`)
/// in the [`state_namespace`].
pub const LEASE: &str = "vigil-agent-leader";
/// The Role and RoleBinding in the state namespace.
pub const STATE_ROLE: &str = "vigil-agent-state";
/// Appended to the install's namespace to name the state namespace.
pub const STATE_NAMESPACE_SUFFIX: &str = "-state";
pub const STATE_PREFIX: &str = "vigil-agent-";
pub const STATE_SELECTOR: &str =
    "app.kubernetes.io/name=vigil-agent,app.kubernetes.io/component=alert-state";
/// Annotation on the DaemonSet with the install's [`Settings`] (JSON, no secrets).
pub const SETTINGS_ANNOTATION: &str = "vigil.dev/agent-settings";
/// Pod-template annotations that roll the pods when the configuration or credentials change.
pub use vigil_contract::names::CONFIG_CHECKSUM_ANNOTATION;
pub const CREDENTIALS_ANNOTATION: &str = "vigil.dev/credentials-version";

/// Cluster-scoped objects (ClusterRole, ClusterRoleBinding, PriorityClass) carry the namespace
/// in their name, so installs in two namespaces never share one.
pub fn cluster_name(s: &Settings) -> String {
    format!("{NAME}-{}", s.namespace)
}

/// The namespace of the agent's state ConfigMaps: `<namespace>-state`. It holds nothing
/// else, so the agent may write ConfigMaps there and none where its configuration lives.
pub fn state_namespace(namespace: &str) -> String {
    format!("{namespace}{STATE_NAMESPACE_SUFFIX}")
}

/// The standard labels plus [`AGENT_LABEL`].
pub fn labels(s: &Settings) -> BTreeMap<String, String> {
    let mut l = standard_labels(APP, &s.namespace, COMPONENT);
    l.insert(AGENT_LABEL.into(), s.namespace.clone());
    l
}

/// The labels the DaemonSet selects its pods by (stable across upgrades).
pub fn selector(s: &Settings) -> BTreeMap<String, String> {
    BTreeMap::from([
        (AGENT_LABEL.to_owned(), s.namespace.clone()),
        (COMPONENT_LABEL.to_owned(), COMPONENT.to_owned()),
    ])
}

/// The label selector of every object of the install in `namespace`.
pub fn install_selector(namespace: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGER},{AGENT_LABEL}={namespace}")
}

pub fn meta(s: &Settings, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(s.namespace.clone()),
        labels: Some(labels(s)),
        ..Default::default()
    }
}

fn cluster_meta(s: &Settings) -> ObjectMeta {
    ObjectMeta {
        name: Some(cluster_name(s)),
        labels: Some(labels(s)),
        ..Default::default()
    }
}

/// The namespace, labelled for Pod Security admission (enforced on clusters that have it):
/// `restricted`. NET_RAW is outside even `baseline`, so with `--icmp net-raw` nothing can be
/// enforced; audit and warn stay `restricted`, so the exception remains visible.
pub fn namespace(s: &Settings) -> Namespace {
    let enforce = if daemonset::needs_net_raw(s) {
        "privileged"
    } else {
        "restricted"
    };
    let mut l = labels(s);
    for (mode, level) in [
        ("enforce", enforce),
        ("audit", "restricted"),
        ("warn", "restricted"),
    ] {
        l.insert(format!("pod-security.kubernetes.io/{mode}"), level.into());
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(s.namespace.clone()),
            labels: Some(l),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The state namespace: the install's labels, and Pod Security `restricted` (no pod ever
/// runs there).
pub fn state_namespace_object(s: &Settings) -> Namespace {
    let mut l = labels(s);
    for mode in ["enforce", "audit", "warn"] {
        l.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            "restricted".into(),
        );
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(state_namespace(&s.namespace)),
            labels: Some(l),
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn priority_class(s: &Settings) -> PriorityClass {
    PriorityClass {
        metadata: cluster_meta(s),
        value: s.priority,
        // globalDefault is left out: Kubernetes 1.20 rewrites a PriorityClass on every apply
        // that says `globalDefault: false` (the default).
        global_default: None,
        preemption_policy: Some("PreemptLowerPriority".into()),
        description: Some(
            "vigil-agent: watches node and pod health; evicted after ordinary workloads".into(),
        ),
    }
}

/// The agent's identity; its token is mounted (it talks to the API server).
pub fn service_account(s: &Settings) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(s, NAME),
        automount_service_account_token: Some(true),
        ..Default::default()
    }
}

/// Slack credentials, one key per credential (`webhook`, `token`, `tenant.NAME.webhook`).
pub fn slack_secret(s: &Settings, c: &Credentials) -> Secret {
    let mut data = BTreeMap::new();
    if let Some(w) = &c.webhook {
        data.insert(
            "webhook".to_owned(),
            ByteString(w.expose().as_bytes().to_vec()),
        );
    }
    if let Some(t) = &c.token {
        data.insert(
            "token".to_owned(),
            ByteString(t.expose().as_bytes().to_vec()),
        );
    }
    for (tenant, w) in &c.tenant_webhooks {
        data.insert(
            crate::agent::spec::tenant_webhook_key(tenant),
            ByteString(w.expose().as_bytes().to_vec()),
        );
    }
    Secret {
        metadata: meta(s, SLACK_SECRET),
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

/// Every object but the Secret, in apply order: namespaces, cluster-scoped, RBAC, config,
/// DaemonSet.
/// `credentials_version` is the Slack Secret's resourceVersion (none when rendering).
pub fn manifests(
    s: &Settings,
    credentials_version: Option<&str>,
) -> Result<Vec<Object>, ObjectError> {
    let (cluster_role, cluster_binding) = rbac::cluster_role(s);
    let (role, binding) = rbac::role(s);
    let (state_role, state_binding) = rbac::state_role(s);
    Ok(vec![
        Object::typed(&namespace(s))?,
        Object::typed(&state_namespace_object(s))?,
        Object::typed(&priority_class(s))?,
        Object::typed(&cluster_role)?,
        Object::typed(&cluster_binding)?,
        Object::typed(&service_account(s))?,
        Object::typed(&role)?,
        Object::typed(&binding)?,
        Object::typed(&state_role)?,
        Object::typed(&state_binding)?,
        Object::typed(&config::config_map(s))?,
        Object::typed(&daemonset::daemonset(s, credentials_version))?,
    ])
}

#[cfg(test)]
mod tests;
