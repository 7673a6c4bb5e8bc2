//! Helpers of the agent's sandbox tests: object versions, agents Ready per node, sampling a
//! rollout.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::json;
use vigil_tests::eventually;

/// What identifies each object's version: resourceVersion, and for the DaemonSet (whose
/// status the controller keeps updating) its generation and pod template.
pub async fn snapshot(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let cluster = format!("vigil-agent-{ns}");
    let rv = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.resource_version.clone().unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    let nsa: Api<Namespace> = Api::all(client.clone());
    out.insert(
        "namespace".into(),
        rv(&nsa.get(ns).await.expect("ns").metadata),
    );
    let pc: Api<PriorityClass> = Api::all(client.clone());
    out.insert(
        "priorityclass".into(),
        rv(&pc.get(&cluster).await.expect("pc").metadata),
    );
    let cr: Api<ClusterRole> = Api::all(client.clone());
    out.insert(
        "clusterrole".into(),
        rv(&cr.get(&cluster).await.expect("cr").metadata),
    );
    let crb: Api<ClusterRoleBinding> = Api::all(client.clone());
    out.insert(
        "clusterrolebinding".into(),
        rv(&crb.get(&cluster).await.expect("crb").metadata),
    );
    let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    out.insert(
        "serviceaccount".into(),
        rv(&sa.get("vigil-agent").await.expect("sa").metadata),
    );
    let role: Api<Role> = Api::namespaced(client.clone(), ns);
    out.insert(
        "role".into(),
        rv(&role.get("vigil-agent").await.expect("role").metadata),
    );
    let rb: Api<RoleBinding> = Api::namespaced(client.clone(), ns);
    out.insert(
        "rolebinding".into(),
        rv(&rb.get("vigil-agent").await.expect("rb").metadata),
    );
    let cm: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    out.insert(
        "configmap".into(),
        rv(&cm.get("vigil-agent-config").await.expect("cm").metadata),
    );
    let secret: Api<Secret> = Api::namespaced(client.clone(), ns);
    out.insert(
        "secret".into(),
        rv(&secret
            .get("vigil-agent-slack")
            .await
            .expect("secret")
            .metadata),
    );
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
    let ds = ds.get("vigil-agent").await.expect("ds");
    out.insert(
        "daemonset".into(),
        json!([ds.metadata.generation, ds.spec.map(|s| s.template)]).to_string(),
    );
    out
}

pub fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits until each of `nodes` runs a Ready agent pod of `image`.
pub async fn agents_ready(client: &Client, ns: &str, nodes: &[String], image: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let selector = format!("vigil.dev/agent={ns}");
    eventually(
        &format!("an agent of {image} Ready on each of {nodes:?}"),
        Duration::from_secs(120),
        || {
            let pods = pods.clone();
            let selector = selector.clone();
            async move {
                let list = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(|e| e.to_string())?;
                let missing: Vec<&String> = nodes
                    .iter()
                    .filter(|n| {
                        !list.items.iter().any(|p| {
                            let spec = p.spec.as_ref();
                            spec.and_then(|s| s.node_name.as_deref()) == Some(n.as_str())
                                && spec.and_then(|s| s.containers[0].image.as_deref())
                                    == Some(image)
                                && p.metadata.deletion_timestamp.is_none()
                                && pod_ready(p)
                        })
                    })
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(format!("no ready agent yet on {missing:?}"))
                }
            }
        },
    )
    .await;
}

/// Samples the agents on `nodes` until told to stop: the most nodes seen at once without a
/// ready agent, and when each node first had a ready agent of `image`.
pub async fn sample_rollout(
    client: Client,
    ns: String,
    nodes: Vec<String>,
    image: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (usize, BTreeMap<String, std::time::Instant>) {
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    let lp = ListParams::default().labels(&format!("vigil.dev/agent={ns}"));
    let mut most_missing = 0;
    let mut upgraded = BTreeMap::new();
    while !*stop.borrow() {
        if let Ok(list) = pods.list(&lp).await {
            let ready_on = |n: &str, image: Option<&str>| {
                list.items.iter().any(|p| {
                    let spec = p.spec.as_ref();
                    spec.and_then(|s| s.node_name.as_deref()) == Some(n)
                        && p.metadata.deletion_timestamp.is_none()
                        && pod_ready(p)
                        && image.is_none_or(|i| {
                            spec.and_then(|s| s.containers[0].image.as_deref()) == Some(i)
                        })
                })
            };
            let missing = nodes.iter().filter(|n| !ready_on(n, None)).count();
            most_missing = most_missing.max(missing);
            for n in &nodes {
                if ready_on(n, Some(&image)) {
                    upgraded
                        .entry(n.clone())
                        .or_insert_with(std::time::Instant::now);
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => {}
        }
    }
    (most_missing, upgraded)
}

/// The data of the agent's Slack Secret in `ns`.
pub async fn slack_secret(client: &Client, ns: &str) -> BTreeMap<String, k8s_openapi::ByteString> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    api.get("vigil-agent-slack")
        .await
        .expect("secret")
        .data
        .expect("data")
}

/// The agent's `agent.yaml` as installed in `ns`.
pub async fn installed_agent_yaml(client: &Client, ns: &str) -> String {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    api.get("vigil-agent-config")
        .await
        .expect("cm")
        .data
        .expect("data")["agent.yaml"]
        .clone()
}

/// Creates bare tenants (no network policies) for the agent's tests.
pub async fn create_tenants(sandbox: &vigil_tests::Sandbox, tenants: &[&str]) {
    for t in tenants {
        crate::support::vigil_env(
            Some(sandbox),
            &["tenant", "create", t, "--network-policy", "none"],
            &[],
        )
        .await
        .ok();
    }
}

/// Removes what an agent test made: the agent in `ns`, the tenants (purged) and `dir`.
pub async fn clean_up(
    sandbox: &vigil_tests::Sandbox,
    ns: &str,
    tenants: &[&str],
    dir: std::path::PathBuf,
) {
    crate::support::vigil_env(Some(sandbox), &["agent", "uninstall", "-n", ns], &[])
        .await
        .ok();
    for t in tenants {
        crate::support::vigil_env(
            Some(sandbox),
            &["tenant", "delete", t, "--purge", "--yes"],
            &[],
        )
        .await
        .ok();
    }
    let _ = std::fs::remove_dir_all(dir);
}
