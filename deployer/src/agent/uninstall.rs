//! `vigil agent uninstall`: removes what carries the install's label (cluster-scoped objects,
//! the DaemonSet and its pods) and then the namespace with everything in it, the agent's own
//! Lease included, and the state namespace with the agents' state. Nothing else.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, ListParams, PropagationPolicy};

use super::apply::{Error, delete, live, owned_namespace, owned_state_namespace};
use super::build::{AGENT_LABEL, NAME};
use super::status::{WaitError, node_ready};
use crate::cluster;

/// Deletes the cluster-scoped objects (the binding first: the agents lose their permissions
/// before anything else goes) and the DaemonSet, leaving its pods to [`wait_gone`].
/// Returns what was deleted and whether the namespace exists.
pub async fn uninstall(client: &Client, namespace: &str) -> Result<(Vec<String>, bool), Error> {
    let ns = owned_namespace(client, namespace).await?;
    let state = owned_state_namespace(client, namespace).await?;
    let live = live(client, namespace, &[]).await?;
    let mut deleted = Vec::new();
    let mut cluster_objects: Vec<_> = live.iter().collect();
    cluster_objects.sort_by_key(|((kind, _), _)| match kind.as_str() {
        "ClusterRoleBinding" => 0,
        "ClusterRole" => 1,
        _ => 2,
    });
    for ((kind, name), (_, resource, _)) in cluster_objects {
        if delete(client, resource, None, name).await? {
            deleted.push(format!("{}/{name}", kind.to_lowercase()));
        }
    }
    if ns.is_some() {
        // Orphan the pods: they are deleted below, where dead nodes are taken care of.
        let api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Default::default()
        };
        match api.delete(NAME, &dp).await {
            Ok(_) => deleted.push(format!("daemonset/{NAME}")),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(cluster::api_error(
                    "delete",
                    "daemonsets",
                    Some(namespace),
                    Some(NAME),
                    e,
                )
                .into());
            }
        }
    }
    if state.is_some() {
        // nothing runs there: the agents' state goes with the install
        let state_ns = super::build::state_namespace(namespace);
        let resource = ApiResource::erase::<Namespace>(&());
        if delete(client, &resource, None, &state_ns).await? {
            deleted.push(format!("namespace/{state_ns}"));
        }
    }
    Ok((deleted, ns.is_some()))
}

fn api_err(
    verb: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
    e: kube::Error,
) -> WaitError {
    WaitError::Agent(Error::from(cluster::api_error(verb, resource, ns, name, e)))
}

/// Deletes the agent's pods, then the namespace, and waits until it is gone. A pod on a node
/// that is not Ready is removed at once (grace period 0): no kubelet is there to confirm its
/// end, and it would hold the namespace in Terminating for as long as the node is dead.
pub async fn wait_gone(
    client: &Client,
    namespace: &str,
    timeout: Duration,
    mut progress: impl FnMut(Duration),
) -> Result<(), WaitError> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let nodes: Api<Node> = Api::all(client.clone());
    let selector = format!("{AGENT_LABEL}={namespace}");
    let start = Instant::now();
    let mut namespace_deleted = false;
    loop {
        let ns = namespaces
            .get_opt(namespace)
            .await
            .map_err(|e| api_err("get", "namespaces", None, Some(namespace), e))?;
        if ns.is_none() {
            // and the state namespace, deleted by `uninstall` (no pod holds it)
            let state_ns = super::build::state_namespace(namespace);
            let state = namespaces
                .get_opt(&state_ns)
                .await
                .map_err(|e| api_err("get", "namespaces", None, Some(&state_ns), e))?;
            if state.is_none_or(|s| !super::apply::managed(&s, namespace)) {
                return Ok(());
            }
        }
        progress(start.elapsed());
        if start.elapsed() >= timeout {
            return Err(WaitError::NotGone(timeout, namespace.to_owned()));
        }
        let remaining = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| api_err("list", "pods", Some(namespace), None, e))?
            .items;
        for pod in &remaining {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            let alive = match &node {
                Some(node) => nodes
                    .get_opt(node)
                    .await
                    .map_err(|e| api_err("get", "nodes", None, Some(node), e))?
                    .is_some_and(|n| node_ready(&n)),
                None => false,
            };
            let dp = if alive {
                if pod.metadata.deletion_timestamp.is_some() {
                    continue;
                }
                DeleteParams::default()
            } else {
                tracing::info!(namespace, pod = %name, node = ?node, "removing a pod no kubelet can confirm");
                DeleteParams::default().grace_period(0)
            };
            match pods.delete(&name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(api_err("delete", "pods", Some(namespace), Some(&name), e)),
            }
        }
        if remaining.is_empty() && !namespace_deleted {
            let resource = ApiResource::erase::<Namespace>(&());
            delete(client, &resource, None, namespace).await?;
            namespace_deleted = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
