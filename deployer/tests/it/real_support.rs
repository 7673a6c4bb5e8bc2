//! Helpers of the tests on the sandbox's real kubelet nodes: workloads placed there, pods
//! waited for by their real status, and the node a pod runs on.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};
use vigil_tests::{Sandbox, eventually};

/// Real pods start in seconds, but images are unpacked and probes run on a 2-core machine
/// shared with other tests.
pub const REAL: Duration = Duration::from_secs(180);

/// `spec.placement` of a tenant file that puts the tenant on the real nodes.
pub fn real_placement_yaml(sb: &Sandbox) -> String {
    crate::support::placement_yaml(&sb.real_placement())
}

/// A pod template spec on the real nodes, with the given containers.
pub fn real_pod_spec(sb: &Sandbox, containers: Value) -> Value {
    let (selector, toleration) = sb.real_placement();
    json!({
        "automountServiceAccountToken": false,
        "terminationGracePeriodSeconds": 2,
        "nodeSelector": selector,
        "tolerations": [toleration],
        "containers": containers,
    })
}

/// A one-replica Deployment `name` (pods labelled `app=NAME`) of `pod_spec`.
pub fn deployment(ns: &str, name: &str, pod_spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    })
}

pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn node_of(p: &Pod) -> Option<String> {
    p.spec.as_ref().and_then(|s| s.node_name.clone())
}

/// Waits until the pods matching `selector` in `ns` are `count` Running and Ready pods on real
/// nodes; returns them.
pub async fn ready_pods(
    client: &Client,
    sb: &Sandbox,
    ns: &str,
    selector: &str,
    count: usize,
) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    eventually(
        &format!("{count} ready pods {selector} in {ns} on real nodes"),
        REAL,
        || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels(selector))
                    .await
                    .map_err(|e| e.to_string())?;
                let seen: Vec<String> = list
                    .items
                    .iter()
                    .map(|p| {
                        let st = p.status.as_ref();
                        format!(
                            "{} on {:?}: {:?} {}",
                            p.metadata.name.as_deref().unwrap_or_default(),
                            node_of(p),
                            st.and_then(|s| s.phase.clone()),
                            serde_json::to_string(&st.and_then(|s| s.container_statuses.clone()))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let ready: Vec<Pod> = list
                    .items
                    .into_iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .filter(|p| node_of(p).is_some_and(|n| sb.nodes.contains(&n)))
                    .filter(pod_ready)
                    .collect();
                if ready.len() == count {
                    Ok(ready)
                } else {
                    Err(format!("{} ready; {seen:?}", ready.len()))
                }
            }
        },
    )
    .await
}
