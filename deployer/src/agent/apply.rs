//! Install, upgrade and uninstall: server-side apply (field manager `vigil`) of the agent's
//! objects, idempotent, pruning by the install's label; uninstall deletes only what carries it.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PropagationPolicy};
use serde::Serialize;

use super::build::{
    self, AGENT_LABEL, CONFIG_MAP, NAME, SETTINGS_ANNOTATION, SLACK_SECRET, STATE_PREFIX,
    STATE_SELECTOR, install_selector,
};
use super::spec::{self, Alerting, Credentials, Settings};
use crate::cluster;
use crate::kube::{Change, MANAGED_BY_LABEL, MANAGER, Object, Outcome, apply_one};
use crate::tenant::validate;

/// Errors installing, upgrading or removing the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cluster(#[from] cluster::Error),
    #[error(transparent)]
    Build(#[from] crate::kube::ObjectError),
    /// A credential could not be read: input error, nothing was applied.
    #[error(transparent)]
    Input(validate::Error),
    #[error(
        "namespace {0} exists and is not managed by vigil's agent install (no labels \
         {MANAGED_BY_LABEL}={MANAGER}, {AGENT_LABEL}={0}); choose another --namespace"
    )]
    NotManaged(String),
    #[error(
        "namespace {0} exists and is not managed by vigil's agent install (no labels \
         {MANAGED_BY_LABEL}={MANAGER}, {AGENT_LABEL}={1}); the install in {1} keeps its alert \
         state there: remove it, or choose another --namespace"
    )]
    StateNotManaged(String, String),
    #[error(
        "vigil agent is not installed in namespace {0}; install it with `vigil agent install --namespace {0}`"
    )]
    NotInstalled(String),
    #[error(
        "the settings recorded on daemonset {0}/{NAME} (annotation {SETTINGS_ANNOTATION}) cannot be read; \
         run `vigil agent install --namespace {0}` with the settings you want"
    )]
    Settings(String, #[source] serde_json::Error),
    #[error(
        "namespace {0} is being deleted (an uninstall is still finishing); wait until it is gone, \
         or install into another --namespace"
    )]
    Terminating(String),
    #[error("cannot read the API server's version")]
    Version(#[source] kube::Error),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub namespace: String,
    pub changes: Vec<Change>,
    /// Other installs of the agent in this cluster (each would post every alert again).
    pub other_installs: Vec<String>,
}

/// Namespaces of other agent installs in the cluster.
async fn other_installs(client: &Client, namespace: &str) -> Result<Vec<String>, Error> {
    let api: Api<DaemonSet> = Api::all(client.clone());
    let lp = ListParams::default().labels(&format!(
        "{MANAGED_BY_LABEL}={MANAGER},app.kubernetes.io/component={}",
        build::COMPONENT
    ));
    let list = api
        .list_metadata(&lp)
        .await
        .map_err(|e| cluster::api_error("list", "daemonsets", None, None, e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|d| d.metadata.namespace)
        .filter(|ns| ns != namespace)
        .collect())
}

/// What `upgrade` may change; everything else stays as installed.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    pub image: Option<String>,
    pub alerting: Option<Alerting>,
    pub slack_channel: Option<String>,
    pub credentials: Credentials,
}

/// Every kind an install creates, namespaced or not.
fn kinds() -> Vec<(ApiResource, bool)> {
    vec![
        (ApiResource::erase::<DaemonSet>(&()), true),
        (ApiResource::erase::<ConfigMap>(&()), true),
        (ApiResource::erase::<Secret>(&()), true),
        (ApiResource::erase::<ServiceAccount>(&()), true),
        (ApiResource::erase::<Role>(&()), true),
        (ApiResource::erase::<RoleBinding>(&()), true),
        (ApiResource::erase::<ClusterRoleBinding>(&()), false),
        (ApiResource::erase::<ClusterRole>(&()), false),
        (ApiResource::erase::<PriorityClass>(&()), false),
    ]
}

/// (kind, name) → (fingerprint, resource, namespace if namespaced). Names are unique across
/// the install's two namespaces (the state namespace's Role is `vigil-agent-state`).
type Live = BTreeMap<(String, String), (String, ApiResource, Option<String>)>;

/// The metadata of every object labelled as part of the install in `namespace`: the
/// cluster-scoped ones, and with `in_namespaces` the namespaced ones in each of those.
pub(super) async fn live(
    client: &Client,
    namespace: &str,
    in_namespaces: &[&str],
) -> Result<Live, Error> {
    let lp = ListParams::default().labels(&install_selector(namespace));
    let mut wanted: Vec<(ApiResource, Option<String>)> = Vec::new();
    for (resource, namespaced) in kinds() {
        if namespaced {
            for ns in in_namespaces {
                wanted.push((resource.clone(), Some((*ns).to_owned())));
            }
        } else {
            wanted.push((resource, None));
        }
    }
    let lists = futures::future::try_join_all(wanted.into_iter().map(|(resource, ns)| {
        let lp = lp.clone();
        async move {
            let api: Api<DynamicObject> = match &ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            let items = api
                .list_metadata(&lp)
                .await
                .map_err(|e| cluster::api_error("list", &resource.plural, ns.as_deref(), None, e))?
                .items;
            Ok::<_, Error>((resource, ns, items))
        }
    }))
    .await?;
    let mut out = BTreeMap::new();
    for (resource, ns, items) in lists {
        for item in items {
            let name = item.metadata.name.clone().unwrap_or_default();
            let rv = fingerprint(&resource.kind, &item.metadata);
            out.insert(
                (resource.kind.clone(), name),
                (rv, resource.clone(), ns.clone()),
            );
        }
    }
    Ok(out)
}

/// Whether `ns` carries the labels of the install in `namespace` (its own namespace, or
/// its state namespace).
pub(super) fn managed(ns: &Namespace, namespace: &str) -> bool {
    let labels = ns.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    get(MANAGED_BY_LABEL) == Some(MANAGER) && get(AGENT_LABEL) == Some(namespace)
}

/// The install's state namespace if it exists; refuses one the install does not own.
pub(super) async fn owned_state_namespace(
    client: &Client,
    namespace: &str,
) -> Result<Option<Namespace>, Error> {
    let state = build::state_namespace(namespace);
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = api
        .get_opt(&state)
        .await
        .map_err(|e| cluster::api_error("get", "namespaces", None, Some(&state), e))?;
    match ns {
        Some(ns) if !managed(&ns, namespace) => {
            Err(Error::StateNotManaged(state, namespace.to_owned()))
        }
        other => Ok(other),
    }
}

/// The agent's namespace if it exists; refuses one the install does not own.
pub(super) async fn owned_namespace(
    client: &Client,
    namespace: &str,
) -> Result<Option<Namespace>, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = api
        .get_opt(namespace)
        .await
        .map_err(|e| cluster::api_error("get", "namespaces", None, Some(namespace), e))?;
    match ns {
        Some(ns) if !managed(&ns, namespace) => Err(Error::NotManaged(namespace.to_owned())),
        other => Ok(other),
    }
}

/// The settings recorded by the last install or upgrade, if the agent is installed.
pub async fn installed(client: &Client, namespace: &str) -> Result<Option<Settings>, Error> {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let ds = api
        .get_opt(NAME)
        .await
        .map_err(|e| cluster::api_error("get", "daemonsets", Some(namespace), Some(NAME), e))?;
    let Some(ds) = ds else { return Ok(None) };
    let raw = ds
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SETTINGS_ANNOTATION))
        .cloned()
        .unwrap_or_default();
    serde_json::from_str(&raw)
        .map(Some)
        .map_err(|e| Error::Settings(namespace.to_owned(), e))
}

/// `1.minor` of the API server (for ICMP `auto`).
pub async fn server_minor(client: &Client) -> Result<u32, Error> {
    let info = client.apiserver_version().await.map_err(Error::Version)?;
    Ok(info
        .minor
        .trim_end_matches('+')
        .parse::<u32>()
        .unwrap_or_else(|error| {
            tracing::warn!(minor = %info.minor, %error, "the API server's minor version does not parse; taken as the newest");
            u32::MAX
        }))
}

/// Installs or converges the agent; a second identical install changes nothing.
pub async fn install(
    client: &Client,
    settings: Settings,
    credentials: Credentials,
) -> Result<Report, Error> {
    converge(client, settings, credentials).await
}

/// Changes only the image, the configuration and (if given) the Slack credentials.
pub async fn upgrade(client: &Client, namespace: &str, u: &Upgrade) -> Result<Report, Error> {
    let credentials = u.credentials.clone();
    let Some(mut settings) = installed(client, namespace).await? else {
        return Err(Error::NotInstalled(namespace.to_owned()));
    };
    if let Some(image) = &u.image {
        settings.image = image.clone();
    }
    if let Some(alerting) = &u.alerting {
        settings.alerting = alerting.clone();
    }
    if let Some(channel) = &u.slack_channel {
        settings.slack.channel = Some(channel.clone());
    }
    converge(client, settings, credentials).await
}

/// The credentials in the stored Slack Secret.
fn stored_credentials(secret: &Secret) -> Credentials {
    let mut out = Credentials::default();
    let value = |key: &str, b: &k8s_openapi::ByteString| match String::from_utf8(b.0.clone()) {
        Ok(v) => Some(crate::input::Redacted::new(v)),
        Err(_) => {
            // a credential: neither it nor the error (which holds it) is logged
            tracing::warn!(
                secret = secret.metadata.name.as_deref().unwrap_or_default(),
                key,
                "stored Slack credential is not UTF-8; treated as absent"
            );
            None
        }
    };
    for (key, bytes) in secret.data.iter().flatten() {
        match key.as_str() {
            "webhook" => out.webhook = value(key, bytes),
            "token" => out.token = value(key, bytes),
            other => {
                if let Some(tenant) = other
                    .strip_prefix("tenant.")
                    .and_then(|k| k.strip_suffix(".webhook"))
                    && let Some(v) = value(key, bytes)
                {
                    out.tenant_webhooks.insert(tenant.to_owned(), v);
                }
            }
        }
    }
    out
}

/// What identifies a version of an object as vigil sees it: its resourceVersion, except for
/// the DaemonSet, whose status the controller updates all the time (there: generation,
/// labels and vigil's annotations).
fn fingerprint(kind: &str, m: &ObjectMeta) -> String {
    if kind == "DaemonSet" {
        let ours: BTreeMap<&String, &String> = m
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("vigil.dev/"))
            .collect();
        serde_json::json!([m.generation, m.labels, ours]).to_string()
    } else {
        m.resource_version.clone().unwrap_or_default()
    }
}

fn outcome(kind: &str, before: Option<&str>, after: &DynamicObject) -> Outcome {
    match before {
        None => Outcome::Created,
        Some(b) if fingerprint(kind, &after.metadata) == b => Outcome::Unchanged,
        Some(_) => Outcome::Configured,
    }
}

async fn converge(
    client: &Client,
    mut settings: Settings,
    credentials: Credentials,
) -> Result<Report, Error> {
    let namespace = settings.namespace.clone();
    let state_ns = build::state_namespace(&namespace);
    let (minor, ns, state) = futures::try_join!(
        server_minor(client),
        owned_namespace(client, &namespace),
        owned_state_namespace(client, &namespace)
    )?;
    settings.icmp = settings.icmp.resolve(minor);
    for (name, n) in [(&namespace, &ns), (&state_ns, &state)] {
        if n.as_ref()
            .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
        {
            return Err(Error::Terminating(name.clone()));
        }
    }
    let mut present: Vec<&str> = Vec::new();
    if ns.is_some() {
        present.push(&namespace);
    }
    if state.is_some() {
        present.push(&state_ns);
    }
    let live = live(client, &namespace, &present).await?;
    // Stored credentials are kept; new ones replace those of the same kind (the default
    // transport as a whole, a tenant's webhook).
    let stored = if ns.is_some() {
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        api.get_opt(SLACK_SECRET).await.map_err(|e| {
            cluster::api_error("get", "secrets", Some(&namespace), Some(SLACK_SECRET), e)
        })?
    } else {
        None
    };
    let mut merged = stored.as_ref().map(stored_credentials).unwrap_or_default();
    if credentials.webhook.is_some() || credentials.token.is_some() {
        merged.webhook = credentials.webhook.clone();
        merged.token = credentials.token.clone();
    }
    merged
        .tenant_webhooks
        .extend(credentials.tenant_webhooks.clone());
    settings.slack.webhook = merged.webhook.is_some();
    settings.slack.token = merged.token.is_some();
    settings.slack.tenant_webhooks = merged.tenant_webhooks.keys().cloned().collect();
    let kept_secret = if credentials.is_empty() { stored } else { None };
    let credentials = merged;
    let rewrite_secret = kept_secret.is_none() && !credentials.is_empty();
    spec::check_slack(&settings).map_err(Error::Input)?;

    let before = |o: &Object| {
        live.get(&(o.kind().to_owned(), o.name().to_owned()))
            .map(|(rv, _, _)| rv.as_str())
    };
    let mut changes = Vec::new();
    // Namespace first; a new namespace is applied twice (Kubernetes 1.20 writes its
    // managedFields on the first re-apply, so the next install is a no-op).
    let ns_object = Object::typed(&build::namespace(&settings))?;
    let mut applied = apply_one(client, &ns_object).await?;
    if ns.is_none() {
        applied = apply_one(client, &ns_object).await?;
    }
    let ns_rv = ns.and_then(|n| n.metadata.resource_version);
    changes.push(Change {
        object: ns_object.id(),
        outcome: outcome("Namespace", ns_rv.as_deref(), &applied),
    });
    let state_object = Object::typed(&build::state_namespace_object(&settings))?;
    let mut applied = apply_one(client, &state_object).await?;
    if state.is_none() {
        applied = apply_one(client, &state_object).await?;
    }
    let state_rv = state.and_then(|n| n.metadata.resource_version);
    changes.push(Change {
        object: state_object.id(),
        outcome: outcome("Namespace", state_rv.as_deref(), &applied),
    });

    // The Secret before the DaemonSet: its resourceVersion rolls the pods when it changes.
    let kept_secret_present = kept_secret.is_some();
    let mut secret_rv = kept_secret.and_then(|s| s.metadata.resource_version);
    let mut wanted: BTreeSet<(String, String)> = BTreeSet::new();
    if rewrite_secret {
        let secret = Object::typed(&build::slack_secret(&settings, &credentials))?;
        let applied = apply_one(client, &secret).await?;
        secret_rv = applied.metadata.resource_version.clone();
        changes.push(Change {
            object: secret.id(),
            outcome: outcome("Secret", before(&secret), &applied),
        });
    }
    if kept_secret_present {
        changes.push(Change {
            object: format!("secret/{SLACK_SECRET}"),
            outcome: Outcome::Unchanged,
        });
    }
    if settings.slack.any() {
        wanted.insert(("Secret".into(), SLACK_SECRET.into()));
    }
    let objects = build::manifests(&settings, secret_rv.as_deref())?;
    for o in objects.iter().filter(|o| o.kind() != "Namespace") {
        let mut applied = apply_one(client, o).await?;
        if before(o).is_none() {
            // Kubernetes 1.20 writes a new object once more on its first re-apply (seen for
            // PriorityClasses and DaemonSets); do it now, so the next install is a no-op.
            applied = apply_one(client, o).await?;
        }
        changes.push(Change {
            object: o.id(),
            outcome: outcome(o.kind(), before(o), &applied),
        });
    }
    wanted.extend(
        objects
            .iter()
            .map(|o| (o.kind().to_owned(), o.name().to_owned())),
    );
    for ((kind, name), (_, resource, in_ns)) in &live {
        // The agent's own state is never pruned, whatever labels it carries.
        let own_state = kind == "ConfigMap" && name != CONFIG_MAP && name.starts_with(STATE_PREFIX);
        if wanted.contains(&(kind.clone(), name.clone())) || own_state {
            continue;
        }
        delete(client, resource, in_ns.as_deref(), name).await?;
        tracing::info!(namespace = %namespace, kind = %kind, name = %name, "pruned");
        changes.push(Change {
            object: format!("{}/{name}", kind.to_lowercase()),
            outcome: Outcome::Pruned,
        });
    }
    changes.extend(prune_moved_state(client, &namespace, &state_ns).await?);
    let other_installs = other_installs(client, &namespace).await?;
    Ok(Report {
        namespace,
        changes,
        other_installs,
    })
}

/// State ConfigMaps an older agent kept in the install's own namespace, deleted once the
/// agent has moved them to the state namespace (a same-named ConfigMap is there) or their
/// node is gone. The agent reads the old one only while none is in the state namespace.
async fn prune_moved_state(
    client: &Client,
    namespace: &str,
    state_ns: &str,
) -> Result<Vec<Change>, Error> {
    let old: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let new: Api<ConfigMap> = Api::namespaced(client.clone(), state_ns);
    let lp = ListParams::default().labels(STATE_SELECTOR);
    let list = |api: &Api<ConfigMap>, ns: &str| {
        let (api, ns, lp) = (api.clone(), ns.to_owned(), lp.clone());
        async move {
            api.list_metadata(&lp)
                .await
                .map_err(|e| cluster::api_error("list", "configmaps", Some(&ns), None, e))
                .map(|l| {
                    l.items
                        .into_iter()
                        .filter_map(|m| m.metadata.name)
                        .collect::<BTreeSet<String>>()
                })
        }
    };
    let (olds, news) = futures::try_join!(list(&old, namespace), list(&new, state_ns))?;
    if olds.is_empty() {
        return Ok(Vec::new());
    }
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let node_names: BTreeSet<String> = nodes
        .list_metadata(&ListParams::default())
        .await
        .map_err(|e| cluster::api_error("list", "nodes", None, None, e))?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let resource = ApiResource::erase::<ConfigMap>(&());
    let mut changes = Vec::new();
    for name in olds {
        let node_gone = name
            .strip_prefix(&format!("{NAME}-node-"))
            .is_some_and(|n| !node_names.contains(n));
        if name == CONFIG_MAP || !(news.contains(&name) || node_gone) {
            continue;
        }
        if delete(client, &resource, Some(namespace), &name).await? {
            tracing::info!(namespace = %namespace, configmap = %name, "alert state moved to {state_ns}: old copy pruned");
            changes.push(Change {
                object: format!("configmap/{name}"),
                outcome: Outcome::Pruned,
            });
        }
    }
    Ok(changes)
}

pub(super) async fn delete(
    client: &Client,
    resource: &ApiResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<bool, Error> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => {
            Err(cluster::api_error("delete", &resource.plural, namespace, Some(name), e).into())
        }
    }
}
