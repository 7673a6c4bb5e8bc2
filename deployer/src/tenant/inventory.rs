//! The kinds of objects vigil manages in a tenant namespace, and listing what is live.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, PersistentVolumeClaim, ResourceQuota, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};

use super::build::{self, MANAGED_BY_LABEL, MANAGER, TENANT_LABEL};
use crate::cluster::{self, Capabilities};

/// What happens to a kind's objects the spec no longer wants, and on `delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Pruned on apply and removed by delete.
    No,
    /// Data: never pruned, kept by delete unless `--purge`.
    Data,
}

#[derive(Debug, Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub keep: Keep,
}

/// Every namespaced kind vigil creates, given what the cluster serves.
pub fn kinds(caps: &Capabilities, cilium_api_version: &str) -> Vec<Kind> {
    let k = |resource, keep| Kind { resource, keep };
    let mut out = vec![
        k(ApiResource::erase::<Deployment>(&()), Keep::No),
        k(
            build::resource(
                &caps.pdb_api_version,
                "PodDisruptionBudget",
                "poddisruptionbudgets",
            ),
            Keep::No,
        ),
        k(ApiResource::erase::<Ingress>(&()), Keep::No),
        k(ApiResource::erase::<Service>(&()), Keep::No),
        k(ApiResource::erase::<ConfigMap>(&()), Keep::No),
        k(ApiResource::erase::<NetworkPolicy>(&()), Keep::No),
        k(ApiResource::erase::<ServiceAccount>(&()), Keep::No),
        k(ApiResource::erase::<ResourceQuota>(&()), Keep::No),
        k(ApiResource::erase::<LimitRange>(&()), Keep::No),
        k(ApiResource::erase::<PersistentVolumeClaim>(&()), Keep::Data),
        k(ApiResource::erase::<Secret>(&()), Keep::Data),
    ];
    if caps.cilium {
        out.insert(
            5,
            k(
                build::resource(
                    cilium_api_version,
                    "CiliumNetworkPolicy",
                    "ciliumnetworkpolicies",
                ),
                Keep::No,
            ),
        );
    }
    out
}

/// The label selector of everything vigil made for `tenant`.
pub fn selector(tenant: &str) -> String {
    format!("{MANAGED_BY_LABEL}={MANAGER},{TENANT_LABEL}={tenant}")
}

/// A live object: kind, name, resourceVersion, and what vigil last applied to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Live {
    pub kind: String,
    pub name: String,
    pub resource_version: String,
    /// vigil's managedFields entry (time and fields), as JSON: it changes only when an
    /// apply of vigil's changed the object, not when a controller updates its status.
    pub applied: Option<String>,
}

/// vigil's server-side-apply entry in an object's managedFields.
pub fn vigil_entry(
    m: &kube::api::ObjectMeta,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry> {
    m.managed_fields
        .iter()
        .flatten()
        .find(|f| f.manager.as_deref() == Some(MANAGER) && f.operation.as_deref() == Some("Apply"))
}

/// vigil's server-side-apply entry (time and fields), as comparable text.
pub fn applied_entry(m: &kube::api::ObjectMeta) -> Option<String> {
    vigil_entry(m).and_then(|f| serde_json::to_string(&(&f.time, &f.fields_v1)).ok())
}

/// Lists the metadata of every vigil object of the tenant (no Secret data is fetched).
pub async fn list(
    client: &Client,
    tenant: &str,
    kinds: &[Kind],
) -> Result<BTreeMap<(String, String), (Live, Kind)>, cluster::Error> {
    let lp = ListParams::default().labels(&selector(tenant));
    // All at once; errors are taken in kind order so a denial is reported the same way each run.
    let lists = futures::future::join_all(kinds.iter().map(|kind| {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), tenant, &kind.resource);
        let lp = lp.clone();
        async move {
            let list = api.list_metadata(&lp).await.map_err(|e| {
                cluster::api_error("list", &kind.resource.plural, Some(tenant), None, e)
            })?;
            Ok::<_, cluster::Error>((kind.clone(), list.items))
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let mut out = BTreeMap::new();
    for (kind, items) in lists {
        for item in items {
            let name = item.metadata.name.clone().unwrap_or_default();
            let live = Live {
                kind: kind.resource.kind.clone(),
                name: name.clone(),
                resource_version: item.metadata.resource_version.clone().unwrap_or_default(),
                applied: applied_entry(&item.metadata),
            };
            out.insert((kind.resource.kind.clone(), name), (live, kind.clone()));
        }
    }
    Ok(out)
}
