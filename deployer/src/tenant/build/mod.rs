//! Builds every Kubernetes object of a tenant from a validated [`Tenant`]. No client needed.

mod base;
mod collector;
mod grafana;
mod influxdb;
pub(crate) mod pod;
mod policies;
mod secrets;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use collector::{SLACK_WEBHOOK_KEY, credential_refs as collector_credentials};
pub use grafana::url as grafana_url;
pub use secrets::{SecretKey, SecretValues, secret_names, secrets};

use super::validate::{PolicyMode, Tenant};

pub mod embedded {
    //! Files embedded at build time by `deployer/build.rs`.
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use crate::kube::{
    COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGER, Object, TENANT_LABEL, resource, standard_labels,
    to_yaml,
};
/// Annotation on the namespace holding the spec of the last apply (no secrets in it).
pub const SPEC_ANNOTATION: &str = "vigil.dev/spec";
pub const DISPLAY_NAME_ANNOTATION: &str = "vigil.dev/display-name";
/// Annotation on the namespace: where the Slack webhooks post (`host:port`, space separated),
/// as last applied; hosts only, never a webhook's path. Drift checks read it back.
pub const SLACK_EGRESS_ANNOTATION: &str = "vigil.dev/slack-egress";

/// Errors building manifests (templates that do not render into valid objects).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("policy template {template}: {message}")]
    Template { template: String, message: String },
    #[error(transparent)]
    Object(#[from] crate::kube::ObjectError),
}

/// Which API versions to produce where clusters differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `policy/v1` (Kubernetes 1.21+) or `policy/v1beta1`.
    pub pdb_api_version: String,
    /// The CiliumNetworkPolicy group/version, `cilium.io/v2`.
    pub cilium_api_version: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            pdb_api_version: "policy/v1".into(),
            cilium_api_version: CILIUM_API_VERSION.into(),
        }
    }
}

pub const CILIUM_API_VERSION: &str = "cilium.io/v2";

/// The tenant's components; each gets its labels, ServiceAccount and place in policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Namespace-wide objects (namespace, quota, policies).
    Tenant,
    InfluxDb,
    Grafana,
    Collector,
}

impl Component {
    pub const WORKLOADS: [Component; 3] = [
        Component::InfluxDb,
        Component::Grafana,
        Component::Collector,
    ];

    /// `app.kubernetes.io/component`.
    pub fn role(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::InfluxDb => "database",
            Self::Grafana => "dashboards",
            Self::Collector => "collector",
        }
    }

    /// `app.kubernetes.io/name`.
    pub fn app(self) -> &'static str {
        match self {
            Self::Tenant => "vigil",
            Self::InfluxDb => "influxdb",
            Self::Grafana => "grafana",
            Self::Collector => "vigil-agent",
        }
    }

    /// The suffix of the component's object names.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::InfluxDb => "influxdb",
            Self::Grafana => "grafana",
            Self::Collector => "collector",
        }
    }
}

/// `{tenant}-{suffix}`.
pub fn name(t: &Tenant, suffix: &str) -> String {
    format!("{}-{suffix}", t.name)
}

/// The standard labels: `app.kubernetes.io/*` plus `vigil.dev/tenant`.
pub fn labels(t: &Tenant, c: Component) -> BTreeMap<String, String> {
    let mut l = selector(t, c);
    l.extend(standard_labels(c.app(), t.name.as_str(), c.role()));
    l
}

/// The labels pods are selected by (a stable subset of [`labels`]).
pub fn selector(t: &Tenant, c: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TENANT_LABEL.to_owned(), t.name.to_string()),
        (COMPONENT_LABEL.to_owned(), c.role().to_owned()),
    ])
}

/// Object metadata in the tenant's namespace.
pub fn meta(t: &Tenant, c: Component, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(t.name.to_string()),
        labels: Some(labels(t, c)),
        ..Default::default()
    }
}

/// Every non-secret object of the tenant, in apply order (namespace first).
pub fn manifests(t: &Tenant, opts: &Options) -> Result<Vec<Object>, Error> {
    let mut out = base::objects(t)?;
    out.extend(influxdb::objects(t, opts)?);
    out.extend(grafana::objects(t, opts)?);
    out.extend(collector::objects(t, opts)?);
    match t.network_policy {
        PolicyMode::Cilium => out.extend(policies::cilium(t, &opts.cilium_api_version)?),
        PolicyMode::Kubernetes => out.extend(policies::kubernetes(t)?),
        PolicyMode::None => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
