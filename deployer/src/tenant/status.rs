//! What a tenant looks like now: components, volumes, URL, drift; and the list of tenants.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use super::apply::{self, Error};
use super::build::{
    self, COMPONENT_LABEL, Component, DISPLAY_NAME_ANNOTATION, SLACK_EGRESS_ANNOTATION,
    SPEC_ANNOTATION, TENANT_LABEL,
};
use super::spec::{self, TenantFile, TenantSpec};
use super::validate::{self, Tenant};
use crate::cluster;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub tenant: String,
    pub display_name: String,
    pub ready: bool,
    pub terminating: bool,
    pub components: Vec<ComponentStatus>,
    pub volumes: Vec<VolumeStatus>,
    pub grafana_url: Option<String>,
    pub drift: Drift,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    pub name: String,
    pub component: String,
    pub ready: i32,
    pub desired: i32,
    pub up_to_date: bool,
    pub nodes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    pub name: String,
    pub phase: String,
    pub capacity: Option<String>,
    pub requested: Option<String>,
}

/// Whether live objects still match the last applied spec (fields vigil owns only).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub checked: bool,
    pub drifted: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The spec stored on the namespace at the last apply, validated again.
pub fn stored_tenant(ns: &Namespace, name: &str) -> Option<Tenant> {
    let raw = ns.metadata.annotations.as_ref()?.get(SPEC_ANNOTATION)?;
    let spec: TenantSpec = match serde_json::from_str(raw) {
        Ok(spec) => spec,
        Err(error) => {
            tracing::warn!(tenant = name, annotation = SPEC_ANNOTATION, %error, "the stored spec does not parse; treated as absent");
            return None;
        }
    };
    let file = TenantFile {
        api_version: spec::API_VERSION.into(),
        kind: spec::KIND.into(),
        metadata: spec::Metadata { name: name.into() },
        spec,
    };
    let mut t = match validate::validate("stored spec", &file, std::path::Path::new("/")) {
        Ok(t) => t,
        Err(error) => {
            tracing::warn!(tenant = name, annotation = SPEC_ANNOTATION, %error, "the stored spec is no longer valid; treated as absent");
            return None;
        }
    };
    // Where the webhooks posted at the last apply (their values are not read here).
    if let (Some(slack), Some(egress)) = (
        t.slack.as_mut(),
        ns.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(SLACK_EGRESS_ANNOTATION)),
    ) {
        slack.webhook_endpoints = egress
            .split_whitespace()
            .filter_map(|e| match e.parse() {
                Ok(endpoint) => Some(endpoint),
                Err(error) => {
                    tracing::warn!(tenant = name, annotation = SLACK_EGRESS_ANNOTATION, endpoint = e, %error, "a stored Slack endpoint does not parse; skipped");
                    None
                }
            })
            .collect();
    }
    Some(t)
}

pub async fn status(
    client: &Client,
    tenant: &str,
    cilium_api_version: &str,
    check_drift: bool,
) -> Result<Status, Error> {
    let ns = apply::managed_namespace(client, tenant)
        .await?
        .ok_or_else(|| Error::Cluster(not_found(tenant)))?;
    let stored = stored_tenant(&ns, tenant);
    let lp = ListParams::default().labels(&super::inventory::selector(tenant));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), tenant);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), tenant);
    let pods: Api<Pod> = Api::namespaced(client.clone(), tenant);
    let err = |what: &'static str| {
        move |e| Error::from(cluster::api_error("list", what, Some(tenant), None, e))
    };
    let pod_lp = ListParams::default().labels(&format!("{TENANT_LABEL}={tenant}"));
    // All at once; errors in a fixed order so a denial is reported the same way each run.
    let (deployments, pvcs, pods) =
        futures::join!(deployments.list(&lp), pvcs.list(&lp), pods.list(&pod_lp));
    let deployments = deployments.map_err(err("deployments"))?;
    let pvcs = pvcs.map_err(err("persistentvolumeclaims"))?;
    let pods = pods.map_err(err("pods"))?;
    let mut nodes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &pods.items {
        let component = p
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(COMPONENT_LABEL))
            .cloned()
            .unwrap_or_default();
        let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone())
            && running
            && p.metadata.deletion_timestamp.is_none()
        {
            nodes.entry(component).or_default().push(node);
        }
    }
    let components: Vec<ComponentStatus> = deployments
        .items
        .iter()
        .map(|d| component_status(d, &nodes))
        .collect();
    let volumes: Vec<VolumeStatus> = pvcs
        .items
        .iter()
        .map(|p| VolumeStatus {
            name: p.metadata.name.clone().unwrap_or_default(),
            phase: p
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".into()),
            capacity: p
                .status
                .as_ref()
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.get("storage"))
                .map(|q| q.0.clone()),
            requested: p
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .map(|q| q.0.clone()),
        })
        .collect();
    let expected = Component::WORKLOADS.len();
    let ready = components.len() == expected
        && components
            .iter()
            .all(|c| c.ready == c.desired && c.up_to_date)
        && volumes.iter().all(|v| v.phase == "Bound");
    let drift = match (&stored, check_drift) {
        (Some(t), true) => drift(client, t, cilium_api_version).await,
        (None, true) => Drift {
            checked: false,
            drifted: vec![],
            reason: Some("no stored spec on the namespace".into()),
        },
        (_, false) => Drift::default(),
    };
    Ok(Status {
        tenant: tenant.to_owned(),
        display_name: display_name(&ns),
        ready,
        terminating: ns.metadata.deletion_timestamp.is_some(),
        components,
        volumes,
        grafana_url: stored.as_ref().map(build::grafana_url),
        drift,
    })
}

fn component_status(d: &Deployment, nodes: &BTreeMap<String, Vec<String>>) -> ComponentStatus {
    let component = d
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(COMPONENT_LABEL))
        .cloned()
        .unwrap_or_default();
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.as_ref();
    let observed =
        st.and_then(|s| s.observed_generation).unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    let updated = st.and_then(|s| s.updated_replicas).unwrap_or(0);
    let total = st.and_then(|s| s.replicas).unwrap_or(0);
    let mut on = nodes.get(&component).cloned().unwrap_or_default();
    on.sort();
    ComponentStatus {
        name: d.metadata.name.clone().unwrap_or_default(),
        ready: st.and_then(|s| s.ready_replicas).unwrap_or(0),
        desired,
        up_to_date: observed && updated == desired && total == desired,
        nodes: on,
        component,
    }
}

pub fn display_name(ns: &Namespace) -> String {
    ns.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DISPLAY_NAME_ANNOTATION))
        .cloned()
        .unwrap_or_default()
}

fn not_found(tenant: &str) -> cluster::Error {
    cluster::Error::Rejected {
        verb: "find".into(),
        what: format!("tenant {tenant}"),
        code: 404,
        message: format!("namespace {tenant} not found; `vigil tenant list` shows the tenants"),
    }
}

/// Dry-run applies every non-secret object of the stored spec and compares with the live one.
async fn drift(client: &Client, t: &Tenant, cilium_api_version: &str) -> Drift {
    let caps = match cluster::discover(client, cilium_api_version).await {
        Ok(c) => c,
        Err(e) => {
            return Drift {
                checked: false,
                drifted: vec![],
                reason: Some(format!("{e:#}")),
            };
        }
    };
    let opts = build::Options {
        pdb_api_version: caps.pdb_api_version.clone(),
        cilium_api_version: cilium_api_version.to_owned(),
    };
    let objects = match build::manifests(t, &opts) {
        Ok(o) => o,
        Err(e) => {
            return Drift {
                checked: false,
                drifted: vec![],
                reason: Some(e.to_string()),
            };
        }
    };
    let checks = objects.iter().map(|o| async move {
        let ns = o.object.metadata.namespace.as_deref();
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &o.resource),
            None => Api::all_with(client.clone(), &o.resource),
        };
        let live = api.get_opt(o.name()).await.ok().flatten();
        let planned = apply::apply_dry_run(client, o).await.ok();
        match (live, planned) {
            (Some(live), Some(planned)) if comparable(&live) == comparable(&planned) => None,
            _ => Some(o.id()),
        }
    });
    let drifted: Vec<String> = futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .collect();
    Drift {
        checked: true,
        drifted,
        reason: None,
    }
}

fn comparable(o: &DynamicObject) -> serde_json::Value {
    let mut data = o.data.clone();
    if let Some(m) = data.as_object_mut() {
        m.remove("status");
    }
    serde_json::json!({ "labels": o.metadata.labels, "annotations": o.metadata.annotations, "data": data })
}

/// One row of `vigil tenant list`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub tenant: String,
    pub display_name: String,
    pub ready: String,
    pub state: String,
    pub created: Option<String>,
}

pub async fn list(client: &Client) -> Result<Vec<Summary>, Error> {
    let lp =
        ListParams::default().labels(&format!("{}={}", build::MANAGED_BY_LABEL, build::MANAGER));
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    // Both at once, but the namespaces' error first, so a denial always names the same verb.
    let (namespaces, deployments) = futures::join!(namespaces.list(&lp), deployments.list(&lp));
    let namespaces = namespaces
        .map_err(|e| Error::from(cluster::api_error("list", "namespaces", None, None, e)))?;
    let deployments = deployments
        .map_err(|e| Error::from(cluster::api_error("list", "deployments", None, None, e)))?;
    let mut counts: BTreeMap<String, (i32, i32, usize)> = BTreeMap::new();
    for d in &deployments.items {
        let Some(tenant) = d.metadata.labels.as_ref().and_then(|l| l.get(TENANT_LABEL)) else {
            continue;
        };
        let e = counts.entry(tenant.clone()).or_default();
        e.0 += d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        e.1 += d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        e.2 += 1;
    }
    let mut out: Vec<Summary> = namespaces
        .items
        .iter()
        .filter_map(|ns| {
            let tenant = ns.metadata.labels.as_ref()?.get(TENANT_LABEL)?.clone();
            let (ready, desired, n) = counts.get(&tenant).copied().unwrap_or_default();
            let state = if ns.metadata.deletion_timestamp.is_some() {
                "Terminating"
            } else if n == 0 {
                "Deleted (data kept)"
            } else if ready == desired {
                "Ready"
            } else {
                "Progressing"
            };
            Some(Summary {
                display_name: display_name(ns),
                ready: format!("{ready}/{desired}"),
                state: state.into(),
                created: ns
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string()),
                tenant,
            })
        })
        .collect();
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Ok(out)
}

/// Age as kubectl prints it (`42s`, `5m`, `3h`, `2d`).
pub fn age(created: &str, now: Timestamp) -> String {
    let Ok(t) = created.parse::<Timestamp>() else {
        return "?".into();
    };
    let secs = now.as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
