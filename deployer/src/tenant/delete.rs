//! `vigil tenant delete`: remove what can be rebuilt, keep data unless purging.

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use serde::Serialize;

use super::apply::{self, Error};
use super::inventory::{self, Keep};
use crate::cluster;

#[derive(Debug, Clone, Default, Serialize)]
pub struct DeleteReport {
    pub tenant: String,
    pub deleted: Vec<String>,
    pub kept: Vec<String>,
}

/// Deletes workloads, services, config and policies; keeps PVCs, Secrets and the namespace.
pub async fn delete(
    client: &Client,
    tenant: &str,
    cilium_api_version: &str,
) -> Result<DeleteReport, Error> {
    require(client, tenant).await?;
    let caps = cluster::discover(client, cilium_api_version).await?;
    let kinds = inventory::kinds(&caps, cilium_api_version);
    let live = inventory::list(client, tenant, &kinds).await?;
    let mut report = DeleteReport {
        tenant: tenant.to_owned(),
        ..Default::default()
    };
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    for ((kind_name, name), (_, kind)) in &live {
        let id = format!("{}/{name}", kind_name.to_lowercase());
        if kind.keep == Keep::Data {
            report.kept.push(id);
            continue;
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), tenant, &kind.resource);
        match api.delete(name, &dp).await {
            Ok(_) => report.deleted.push(id),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(cluster::api_error(
                    "delete",
                    &kind.resource.plural,
                    Some(tenant),
                    Some(name),
                    e,
                )
                .into());
            }
        }
    }
    report.kept.push(format!("namespace/{tenant}"));
    Ok(report)
}

/// Deletes the namespace and with it everything, data included. Returns once deletion started.
pub async fn purge(client: &Client, tenant: &str) -> Result<(), Error> {
    require(client, tenant).await?;
    let api: Api<Namespace> = Api::all(client.clone());
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..Default::default()
    };
    match api.delete(tenant, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(cluster::api_error("delete", "namespaces", None, Some(tenant), e).into()),
    }
}

/// Whether the namespace still exists.
pub async fn namespace_exists(client: &Client, tenant: &str) -> Result<bool, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    api.get_opt(tenant)
        .await
        .map(|n| n.is_some())
        .map_err(|e| cluster::api_error("get", "namespaces", None, Some(tenant), e).into())
}

async fn require(client: &Client, tenant: &str) -> Result<Namespace, Error> {
    apply::managed_namespace(client, tenant)
        .await?
        .ok_or_else(|| {
            Error::Cluster(cluster::Error::Rejected {
                verb: "find".into(),
                what: format!("tenant {tenant}"),
                code: 404,
                message: format!(
                    "namespace {tenant} not found; `vigil tenant list` shows the tenants"
                ),
            })
        })
}
