//! Server-side apply (field manager `vigil`) of a tenant, idempotent, with pruning by label.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use serde::Serialize;

use super::build::{
    self, MANAGED_BY_LABEL, MANAGER, Object, SecretKey, SecretValues, TENANT_LABEL,
};
use super::inventory::{self, Keep};
use super::validate::{self, PolicyMode, Problem, Redacted, Tenant, WebhookEndpoint};
use crate::cluster::{self, Capabilities};
pub use crate::kube::{Change, Outcome, apply_dry_run, apply_one};

/// Errors applying a tenant.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    /// A credential reference could not be read: input error, nothing was applied.
    #[error(transparent)]
    Credentials(validate::Error),
    #[error(
        "the cluster does not serve CiliumNetworkPolicy ({api_version}), which network policy mode \
         cilium needs; install Cilium, or choose --network-policy=kubernetes (standard \
         NetworkPolicies) or --network-policy=none"
    )]
    CiliumMissing { api_version: String },
    #[error(
        "namespace {0} exists and is not managed by vigil (no label {MANAGED_BY_LABEL}={MANAGER}); \
         choose another tenant name"
    )]
    NotManaged(String),
    #[error("tenant {0} already exists; change it with `vigil tenant apply -f FILE`")]
    Exists(String),
    #[error(
        "network policy mode kubernetes selects namespaces by the label {label}, which namespace(s) \
         {} lack (Kubernetes sets it from 1.21 on): the tenant's DNS or ingress would be \
         blocked. Label them ({}), or choose --network-policy=cilium",
        namespaces.join(", "),
        namespaces.iter().map(|n| format!("kubectl label namespace {n} {label}={n}")).collect::<Vec<_>>().join("; "),
    )]
    NamespaceLabelMissing {
        label: &'static str,
        namespaces: Vec<String>,
    },
    /// A device CIDR covers the cluster's own addresses: input error, nothing applied.
    #[error(
        "{origin}: spec.deviceCidrs: {cidr} overlaps the cluster's {what} ({range}): the \
         collector could reach the cluster's own pods and services. List the device networks \
         themselves, or pass --allow-broad-cidrs if this is really meant"
    )]
    ClusterRange {
        origin: String,
        cidr: String,
        what: &'static str,
        range: String,
    },
    #[error("cannot read the cluster's {what}")]
    ReadCluster {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read namespace {namespace}")]
    ReadNamespace {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    Build(#[from] build::Error),
}

/// The label the Kubernetes-mode policies select namespaces by (set by Kubernetes 1.21+).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The namespaces the Kubernetes-mode policies select by [`NAMESPACE_NAME_LABEL`]:
/// `kube-system` for DNS and the ingress controller's namespace.
pub fn selected_namespaces(t: &Tenant) -> Vec<String> {
    let mut out = vec!["kube-system".to_owned()];
    if let Some(i) = &t.ingress
        && !out.contains(&i.controller_namespace)
    {
        out.push(i.controller_namespace.clone());
    }
    out
}

/// The cluster's own ranges a device CIDR must not cover: every node's pod CIDRs and the
/// Service range (known by the address of the `kubernetes` Service, its first address).
async fn check_cluster_ranges(client: &Client, t: &Tenant, opts: &Options) -> Result<(), Error> {
    use ipnet::IpNet;
    use k8s_openapi::api::core::v1::{Node, Service};
    if opts.allow_broad_cidrs {
        return Ok(());
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let (nodes, api_service) = futures::try_join!(
        async {
            nodes
                .list(&Default::default())
                .await
                .map_err(|source| Error::ReadCluster {
                    what: "nodes",
                    source,
                })
        },
        async {
            services
                .get_opt("kubernetes")
                .await
                .map_err(|source| Error::ReadCluster {
                    what: "kubernetes service",
                    source,
                })
        },
    )?;
    let mut ranges: Vec<(&'static str, IpNet)> = nodes
        .items
        .iter()
        .filter_map(|n| n.spec.as_ref())
        .flat_map(|s| {
            s.pod_cidrs
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(s.pod_cidr.clone())
        })
        .filter_map(|c| match c.parse() {
            Ok(net) => Some(net),
            Err(error) => {
                tracing::warn!(pod_cidr = %c, %error, "a node's pod CIDR does not parse; device CIDRs are not checked against it");
                None
            }
        })
        .map(|net| ("pod range", net))
        .collect();
    if let Some(ip) = api_service
        .and_then(|s| s.spec)
        .and_then(|s| s.cluster_ip)
        .and_then(|ip| match ip.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(ip),
            Err(error) => {
                tracing::warn!(cluster_ip = %ip, %error, "the kubernetes service's cluster IP does not parse; device CIDRs are not checked against it");
                None
            }
        })
    {
        ranges.push(("service range", IpNet::from(ip)));
    }
    for cidr in &t.device_cidrs {
        if let Some((what, range)) = ranges
            .iter()
            .find(|(_, r)| cidr.contains(r) || r.contains(cidr))
        {
            return Err(Error::ClusterRange {
                origin: opts.origin.clone(),
                cidr: cidr.to_string(),
                what,
                range: range.to_string(),
            });
        }
    }
    Ok(())
}

/// Kubernetes-mode policies need every namespace they select to carry its name label; on
/// a cluster before 1.21 nobody sets it, and DNS would be blocked without a word. Checked
/// before anything is applied. A namespace that does not exist (an ingress controller not
/// installed yet) is not an error: nothing could reach the tenant from it anyway.
async fn check_namespace_labels(client: &Client, t: &Tenant) -> Result<(), Error> {
    if t.network_policy != PolicyMode::Kubernetes {
        return Ok(());
    }
    let api: Api<Namespace> = Api::all(client.clone());
    let mut missing = Vec::new();
    for name in selected_namespaces(t) {
        let ns = api
            .get_opt(&name)
            .await
            .map_err(|source| Error::ReadNamespace {
                namespace: name.clone(),
                source,
            })?;
        let labelled = ns.as_ref().is_none_or(|ns| {
            ns.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NAMESPACE_NAME_LABEL))
                .is_some_and(|v| *v == name)
        });
        if !labelled {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NamespaceLabelMissing {
            label: NAMESPACE_NAME_LABEL,
            namespaces: missing,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tenant: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub cilium_api_version: String,
    /// `create`: refuse to touch an existing tenant.
    pub create_only: bool,
    /// Names the input in credential errors (file path or "command line").
    pub origin: String,
    /// `--allow-broad-cidrs`: device CIDRs may overlap the cluster's pod and service ranges.
    pub allow_broad_cidrs: bool,
}

/// Reads every credential the tenant references, reporting all unreadable ones at once.
pub fn read_credentials(
    t: &Tenant,
    origin: &str,
) -> Result<BTreeMap<String, Redacted>, validate::Error> {
    let mut out = BTreeMap::new();
    let mut problems: Vec<Problem> = Vec::new();
    for (key, reference, path) in build::collector_credentials(t) {
        match reference.read(&path) {
            Ok(v) => {
                out.insert(key, v);
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(validate::Error {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// The Slack webhooks' credential keys and spec paths (the default destination and routes).
fn webhook_refs(t: &Tenant) -> impl Iterator<Item = (String, validate::CredentialRef, String)> {
    build::collector_credentials(t)
        .into_iter()
        .filter(|(_, _, path)| path.starts_with("spec.alerts.slack."))
}

/// The tenant with where its Slack webhooks post (host and port of each URL, read from the
/// credentials), which the collector's network policies allow. A value that is not an http(s)
/// URL is the operator's input error; the value itself is never shown.
pub fn with_webhook_endpoints(
    t: &Tenant,
    credentials: &BTreeMap<String, Redacted>,
    origin: &str,
) -> Result<Tenant, validate::Error> {
    let mut out = t.clone();
    let Some(slack) = out.slack.as_mut() else {
        return Ok(out);
    };
    let mut problems = Vec::new();
    for (key, reference, path) in webhook_refs(t) {
        let Some(value) = credentials.get(&key) else {
            continue;
        };
        match WebhookEndpoint::from_url(value.expose()) {
            Ok(e) => slack.webhook_endpoints.push(e),
            Err(why) => problems.push(Problem::new(
                &path,
                format!("the webhook in {reference} {why}"),
                "put the channel's incoming webhook URL in it, e.g. https://hooks.slack.com/services/…",
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(validate::Error {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// For `vigil tenant render`: the tenant with its webhook endpoints when every webhook is
/// readable here and a URL; otherwise unchanged, and the policies allow Slack's default host.
pub fn with_readable_webhook_endpoints(t: &Tenant) -> Tenant {
    let mut credentials = BTreeMap::new();
    for (key, reference, path) in webhook_refs(t) {
        match reference.read(&path) {
            Ok(v) => {
                credentials.insert(key, v);
            }
            Err(problem) => {
                // expected where the render runs without the tenant's secrets
                tracing::debug!(%problem, "a webhook is not readable here; policies allow Slack's default host");
                return t.clone();
            }
        }
    }
    with_webhook_endpoints(t, &credentials, "").unwrap_or_else(|error| {
        tracing::warn!(tenant = %t.name, %error, "a webhook is not a URL; policies allow Slack's default host");
        t.clone()
    })
}

fn managed(ns: &Namespace, tenant: &str) -> bool {
    let labels = ns.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    get(MANAGED_BY_LABEL) == Some(MANAGER) && get(TENANT_LABEL) == Some(tenant)
}

/// Gets the tenant's namespace if it exists, refusing one vigil does not manage.
pub async fn managed_namespace(client: &Client, tenant: &str) -> Result<Option<Namespace>, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = api
        .get_opt(tenant)
        .await
        .map_err(|e| cluster::api_error("get", "namespaces", None, Some(tenant), e))?;
    match ns {
        Some(ns) if !managed(&ns, tenant) => Err(Error::NotManaged(tenant.to_owned())),
        other => Ok(other),
    }
}

/// Generated values already stored in the tenant's Secrets.
async fn existing_secrets(
    client: &Client,
    t: &Tenant,
) -> Result<BTreeMap<SecretKey, Redacted>, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), t.name.as_str());
    let mut out = BTreeMap::new();
    let names: BTreeSet<&str> = SecretKey::ALL.iter().map(|k| k.secret()).collect();
    for suffix in names {
        let name = build::name(t, suffix);
        let secret = api.get_opt(&name).await.map_err(|e| {
            cluster::api_error("get", "secrets", Some(t.name.as_str()), Some(&name), e)
        })?;
        let Some(data) = secret.and_then(|s| s.data) else {
            continue;
        };
        for k in SecretKey::ALL.iter().filter(|k| k.secret() == suffix) {
            let Some(bytes) = data.get(k.key()) else {
                continue;
            };
            match String::from_utf8(bytes.0.clone()) {
                Ok(v) if !v.is_empty() => {
                    out.insert(*k, Redacted::new(v));
                }
                Ok(_) => {}
                Err(_) => {
                    // the value is a secret: neither it nor the error (which holds it) is logged
                    tracing::warn!(tenant = %t.name, secret = %name, key = k.key(), "stored value is not UTF-8; a new one is generated");
                }
            }
        }
    }
    Ok(out)
}

/// Applies the tenant: namespace first, then config and storage, then workloads; then prunes.
pub async fn apply(client: &Client, t: &Tenant, opts: &Options) -> Result<Report, Error> {
    let credentials = read_credentials(t, &opts.origin).map_err(Error::Credentials)?;
    let t = &with_webhook_endpoints(t, &credentials, &opts.origin).map_err(Error::Credentials)?;
    let tenant = t.name.as_str();
    let (caps, ns) = futures::try_join!(
        async {
            cluster::discover(client, &opts.cilium_api_version)
                .await
                .map_err(Error::from)
        },
        managed_namespace(client, tenant),
    )?;
    if t.network_policy == PolicyMode::Cilium && !caps.cilium {
        return Err(Error::CiliumMissing {
            api_version: opts.cilium_api_version.clone(),
        });
    }
    check_namespace_labels(client, t).await?;
    check_cluster_ranges(client, t, opts).await?;
    if opts.create_only && ns.is_some() {
        return Err(Error::Exists(tenant.to_owned()));
    }
    let kinds = inventory::kinds(&caps, &opts.cilium_api_version);
    let (live, existing) = if ns.is_some() {
        futures::try_join!(
            async {
                inventory::list(client, tenant, &kinds)
                    .await
                    .map_err(Error::from)
            },
            existing_secrets(client, t),
        )?
    } else {
        (BTreeMap::new(), BTreeMap::new())
    };
    let values = SecretValues::complete(existing, credentials);
    let objects = desired(t, &caps, opts, &values)?;
    if ns.is_some() {
        // An update is checked whole by the server first (immutable fields, schemas, quota,
        // permissions), so a change it would reject leaves the running tenant untouched.
        futures::future::try_join_all(objects.iter().map(|o| apply_dry_run(client, o))).await?;
    }

    let mut changes = Vec::new();
    let ns_rv = ns
        .as_ref()
        .and_then(|n| n.metadata.resource_version.clone());
    let ns_applied = ns
        .as_ref()
        .and_then(|n| super::inventory::applied_entry(&n.metadata));
    // the second this apply starts, on the API server's clock as nearly as can be had
    let started = k8s_openapi::jiff::Timestamp::now().as_second();
    let (namespace, rest) = objects.split_first().ok_or_else(|| {
        Error::Build(build::Error::Template {
            template: "namespace".into(),
            message: "no namespace object".into(),
        })
    })?;
    let applied = apply_one(client, namespace).await?;
    changes.push(Change {
        object: namespace.id(),
        outcome: outcome(
            ns_rv.as_deref().map(|rv| (rv, ns_applied.as_deref())),
            &applied,
            started,
        ),
    });

    let (workloads, config): (Vec<&Object>, Vec<&Object>) = rest
        .iter()
        .partition(|o| matches!(o.kind(), "Deployment" | "PodDisruptionBudget" | "Ingress"));
    let live_ref = &live;
    for wave in [config, workloads] {
        let results = futures::future::try_join_all(wave.iter().map(|o| async move {
            let applied = apply_one(client, o).await?;
            let before = live_ref
                .get(&(o.kind().to_owned(), o.name().to_owned()))
                .map(|(l, _)| (l.resource_version.as_str(), l.applied.as_deref()));
            Ok::<_, Error>(Change {
                object: o.id(),
                outcome: outcome(before, &applied, started),
            })
        }))
        .await?;
        changes.extend(results);
    }

    let wanted: BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| (o.kind().to_owned(), o.name().to_owned()))
        .collect();
    let stale: Vec<_> = live
        .iter()
        .filter(|(key, (_, kind))| kind.keep == Keep::No && !wanted.contains(*key))
        .collect();
    for ((kind_name, name), (_, kind)) in stale {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), tenant, &kind.resource);
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        match api.delete(name, &dp).await {
            Ok(_) => {}
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
        tracing::info!(tenant, kind = %kind_name, name = %name, "pruned");
        changes.push(Change {
            object: format!("{}/{name}", kind_name.to_lowercase()),
            outcome: Outcome::Pruned,
        });
    }
    Ok(Report {
        tenant: tenant.to_owned(),
        changes,
    })
}

/// Every object for this cluster: manifests (with its API versions) and Secrets.
pub fn desired(
    t: &Tenant,
    caps: &Capabilities,
    opts: &Options,
    values: &SecretValues,
) -> Result<Vec<Object>, Error> {
    let build_opts = build::Options {
        pdb_api_version: caps.pdb_api_version.clone(),
        cilium_api_version: opts.cilium_api_version.clone(),
    };
    let mut objects = build::manifests(t, &build_opts)?;
    // Secrets right after the namespace-level objects, before anything that mounts them.
    let at = objects
        .iter()
        .position(|o| o.kind() == "ConfigMap")
        .unwrap_or(objects.len());
    for (i, s) in build::secrets(t, values)?.into_iter().enumerate() {
        objects.insert(at + i, s);
    }
    Ok(objects)
}

/// What an apply did, from the object before and after it. A controller that updated the
/// object's status in between (the quota controller counting pods) changes its
/// resourceVersion but not vigil's managedFields entry, whose time moves on every write
/// of vigil's: with that entry the same and older than the second this apply started,
/// nothing of vigil's changed. (Two applies within one second count as configured.)
fn outcome(before: Option<(&str, Option<&str>)>, after: &DynamicObject, started: i64) -> Outcome {
    let Some((rv, applied)) = before else {
        return Outcome::Created;
    };
    if after.metadata.resource_version.as_deref() == Some(rv) {
        return Outcome::Unchanged;
    }
    let after_entry = super::inventory::applied_entry(&after.metadata);
    let older = super::inventory::vigil_entry(&after.metadata)
        .and_then(|f| f.time.as_ref())
        .is_some_and(|t| t.0.as_second() < started);
    if older && applied.is_some() && after_entry.as_deref() == applied {
        Outcome::Unchanged
    } else {
        Outcome::Configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry, Time};

    fn object(rv: &str, vigil_at: i64, controller: bool) -> DynamicObject {
        let entry = |manager: &str, op: &str, at: i64| ManagedFieldsEntry {
            manager: Some(manager.into()),
            operation: Some(op.into()),
            time: Some(Time(k8s_openapi::jiff::Timestamp::from_second(at).unwrap())),
            fields_v1: Some(FieldsV1(serde_json::json!({"f:spec": {"f:hard": {}}}))),
            ..Default::default()
        };
        let mut o = DynamicObject::new(
            "q",
            &kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::ResourceQuota>(&()),
        );
        o.metadata.resource_version = Some(rv.into());
        let mut fields = vec![entry(crate::kube::MANAGER, "Apply", vigil_at)];
        if controller {
            fields.push(entry("kube-controller-manager", "Update", vigil_at + 5));
        }
        o.metadata.managed_fields = Some(fields);
        o
    }

    #[test]
    fn a_status_update_by_a_controller_is_not_a_change_of_vigils() {
        let before = object("1", 100, false);
        let entry = super::super::inventory::applied_entry(&before.metadata);
        let b = Some(("1", entry.as_deref()));
        // the quota controller counted pods: new resourceVersion, vigil's entry as it was
        assert_eq!(outcome(b, &object("2", 100, true), 200), Outcome::Unchanged);
        // vigil's apply wrote: its entry's time moved
        assert_eq!(
            outcome(b, &object("3", 200, true), 200),
            Outcome::Configured
        );
        // the same second as the previous apply: cannot tell, so configured
        assert_eq!(
            outcome(b, &object("3", 100, false), 100),
            Outcome::Configured
        );
        assert_eq!(
            outcome(b, &object("1", 100, false), 300),
            Outcome::Unchanged
        );
        assert_eq!(
            outcome(None, &object("1", 100, false), 300),
            Outcome::Created
        );
    }
}
