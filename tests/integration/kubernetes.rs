//! The control plane: server-side apply, the real scheduler, the node lifecycle controller.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use vigil_tests::{FakeKubelet, eventually, require_sandbox};

use crate::unique;

async fn apply_namespace(client: &kube::Client, name: &str) -> Namespace {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply("vigil-smoke"), &Patch::Apply(ns))
        .await
        .expect("applying a namespace")
}

async fn delete_namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    api.delete(name, &DeleteParams::default())
        .await
        .expect("deleting the test namespace");
}

#[tokio::test]
async fn server_side_apply_unchanged_keeps_resource_version() {
    let sandbox = require_sandbox!();
    let client = sandbox.client().await;
    let ns = unique("smoke-ssa");
    // A 1.20 quirk: a Namespace created by server-side apply gets no managedFields; the
    // first re-apply records them (one write, attributed to "before-first-apply"). From
    // then on an unchanged apply is a no-op, which is what vigil relies on.
    apply_namespace(&client, &ns).await;
    let first_ns = apply_namespace(&client, &ns).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns},
        "data": {"retention": "30d"},
    });
    let pp = PatchParams::apply("vigil-smoke");
    let first = cms
        .patch("settings", &pp, &Patch::Apply(cm.clone()))
        .await
        .expect("first apply");
    let second = cms
        .patch("settings", &pp, &Patch::Apply(cm))
        .await
        .expect("second apply");
    assert_eq!(
        first.metadata.resource_version, second.metadata.resource_version,
        "re-applying an unchanged ConfigMap must not write it"
    );
    let second_ns = apply_namespace(&client, &ns).await;
    assert_eq!(
        first_ns.metadata.resource_version,
        second_ns.metadata.resource_version
    );

    let changed = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": ns},
        "data": {"retention": "90d"},
    });
    let third = cms
        .patch("settings", &pp, &Patch::Apply(changed))
        .await
        .expect("changed apply");
    assert_ne!(
        second.metadata.resource_version,
        third.metadata.resource_version
    );
    assert_eq!(
        third
            .data
            .and_then(|d| d.get("retention").cloned())
            .as_deref(),
        Some("90d")
    );
    delete_namespace(&client, &ns).await;
}

#[tokio::test]
async fn scheduler_honours_required_anti_affinity() {
    let sandbox = require_sandbox!();
    let client = sandbox.client().await;
    let kubelet = FakeKubelet::start(client.clone(), "smoke-aa", 2)
        .await
        .expect("starting the fake kubelet");
    let ns = unique("smoke-aa");
    apply_namespace(&client, &ns).await;
    let (selector, toleration) = kubelet.placement();
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "spread", "namespace": ns},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "spread"}},
            "template": {
                "metadata": {"labels": {"app": "spread"}},
                "spec": {
                    "nodeSelector": selector,
                    "tolerations": [toleration],
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": {"matchLabels": {"app": "spread"}},
                        "topologyKey": "kubernetes.io/hostname",
                    }]}},
                    "containers": [{"name": "app", "image": "registry.invalid/app:1"}],
                },
            },
        },
    });
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .patch(
            "spread",
            &PatchParams::apply("vigil-smoke"),
            &Patch::Apply(deployment),
        )
        .await
        .expect("applying the deployment");

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let nodes = eventually(
        "2 pods Running on distinct nodes, 1 Pending unschedulable",
        Duration::from_secs(60),
        || {
            let pods = pods.clone();
            async move {
                let list = pods
                    .list(&Default::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let phase = |p: &Pod| {
                    p.status
                        .as_ref()
                        .and_then(|s| s.phase.clone())
                        .unwrap_or_default()
                };
                let running: Vec<String> = list
                    .items
                    .iter()
                    .filter(|p| phase(p) == "Running")
                    .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
                    .collect();
                let unschedulable = list
                    .items
                    .iter()
                    .filter(|p| phase(p) == "Pending")
                    .filter(|p| {
                        p.status
                            .as_ref()
                            .and_then(|s| s.conditions.as_ref())
                            .is_some_and(|cs| {
                                cs.iter().any(|c| {
                                    c.type_ == "PodScheduled"
                                        && c.status == "False"
                                        && c.reason.as_deref() == Some("Unschedulable")
                                })
                            })
                    })
                    .count();
                if list.items.len() == 3 && running.len() == 2 && unschedulable == 1 {
                    Ok(running)
                } else {
                    Err(format!(
                        "{} pods, running on {running:?}, {unschedulable} unschedulable",
                        list.items.len()
                    ))
                }
            }
        },
    )
    .await;
    assert_ne!(
        nodes[0], nodes[1],
        "anti-affinity must spread the running pods"
    );
    for node in &nodes {
        assert!(
            kubelet.node_names().contains(node),
            "{node} is not one of the pool's nodes"
        );
    }
    delete_namespace(&client, &ns).await;
    kubelet.shutdown().await.expect("stopping the fake kubelet");
}

fn ready_status(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

fn has_taint(node: &Node, key: &str) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key == key))
}

#[tokio::test]
async fn node_without_heartbeat_turns_not_ready_and_tainted() {
    let sandbox = require_sandbox!();
    let client = sandbox.client().await;
    let kubelet = FakeKubelet::start(client.clone(), "smoke-hb", 2)
        .await
        .expect("starting the fake kubelet");
    let nodes: Api<Node> = Api::all(client.clone());
    let (dead, alive) = (
        kubelet.node_names()[0].clone(),
        kubelet.node_names()[1].clone(),
    );
    eventually("both nodes Ready", Duration::from_secs(30), || {
        let nodes = nodes.clone();
        let (dead, alive) = (dead.clone(), alive.clone());
        async move {
            for name in [&dead, &alive] {
                let node = nodes.get(name).await.map_err(|e| e.to_string())?;
                if ready_status(&node).as_deref() != Some("True")
                    || has_taint(&node, "node.kubernetes.io/not-ready")
                {
                    return Err(format!("{name} not Ready yet"));
                }
            }
            Ok(())
        }
    })
    .await;

    kubelet.stop_heartbeat(&dead);
    let stopped = std::time::Instant::now();
    // The controller notices after the grace period; it checks every 5 s (node-monitor-period).
    let deadline = sandbox.node_monitor_grace + Duration::from_secs(15);
    eventually(
        "the silent node Unknown and tainted unreachable",
        deadline,
        || {
            let nodes = nodes.clone();
            let dead = dead.clone();
            async move {
                let node = nodes.get(&dead).await.map_err(|e| e.to_string())?;
                let ready = ready_status(&node);
                if ready.as_deref() == Some("Unknown")
                    && has_taint(&node, "node.kubernetes.io/unreachable")
                {
                    Ok(())
                } else {
                    Err(format!(
                        "Ready={ready:?}, unreachable taint: {}",
                        has_taint(&node, "node.kubernetes.io/unreachable")
                    ))
                }
            }
        },
    )
    .await;
    let elapsed = stopped.elapsed();
    assert!(
        elapsed + Duration::from_secs(1) >= sandbox.node_monitor_grace,
        "the node was marked after {elapsed:?}, before the grace period: something else changed it"
    );
    let other = nodes.get(&alive).await.expect("reading the live node");
    assert_eq!(
        ready_status(&other).as_deref(),
        Some("True"),
        "the heartbeating node must stay Ready"
    );
    kubelet.shutdown().await.expect("stopping the fake kubelet");
}

#[tokio::test]
async fn fake_kubelet_plays_pod_failures() {
    use vigil_tests::Fault;
    let sandbox = require_sandbox!();
    let client = sandbox.client().await;
    let kubelet = FakeKubelet::start(client.clone(), "smoke-faults", 1)
        .await
        .expect("starting the fake kubelet");
    let ns = unique("smoke-faults");
    apply_namespace(&client, &ns).await;
    let (selector, toleration) = kubelet.placement();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for name in ["crashy", "oomy", "pully"] {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "nodeSelector": selector, "tolerations": [toleration],
                "containers": [{"name": "main", "image": format!("registry.invalid/{name}:1")}],
            },
        });
        // A new namespace's default ServiceAccount gets its token a moment later, and
        // 1.20's admission refuses pods until then (it says to retry).
        eventually(
            &format!("pod {name} accepted"),
            Duration::from_secs(30),
            || {
                let (pods, pod) = (pods.clone(), pod.clone());
                async move {
                    pods.patch(name, &PatchParams::apply("vigil-smoke"), &Patch::Apply(pod))
                        .await
                        .map_err(|e| e.to_string())
                }
            },
        )
        .await;
    }
    let container = |pod: &Pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.first().cloned())
    };
    for name in ["crashy", "oomy", "pully"] {
        eventually(
            &format!("{name} Running and Ready"),
            Duration::from_secs(30),
            || {
                let pods = pods.clone();
                async move {
                    let pod = pods.get(name).await.map_err(|e| e.to_string())?;
                    match container(&pod) {
                        Some(c) if c.ready => Ok(()),
                        other => Err(format!("{other:?}")),
                    }
                }
            },
        )
        .await;
    }
    kubelet
        .inject(&ns, "crashy", Fault::CrashLoop)
        .await
        .expect("injecting a crash loop");
    kubelet
        .inject(&ns, "oomy", Fault::OomKilled)
        .await
        .expect("injecting an OOM kill");
    kubelet
        .inject(&ns, "pully", Fault::ImagePullBackOff)
        .await
        .expect("injecting a pull failure");

    let oomy = pods.get("oomy").await.expect("reading oomy");
    let c = container(&oomy).expect("a container status");
    let last = c
        .last_state
        .and_then(|s| s.terminated)
        .expect("a last termination");
    assert_eq!(last.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(last.exit_code, 137);
    assert!(c.restart_count >= 1);

    let pully = pods.get("pully").await.expect("reading pully");
    assert_eq!(
        pully.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    let waiting = container(&pully)
        .and_then(|c| c.state)
        .and_then(|s| s.waiting);
    assert_eq!(
        waiting.and_then(|w| w.reason).as_deref(),
        Some("ImagePullBackOff")
    );

    // A crash loop keeps restarting: the count rises while the fault lasts.
    eventually(
        "crashy in CrashLoopBackOff with a rising restart count",
        Duration::from_secs(30),
        || {
            let pods = pods.clone();
            async move {
                let pod = pods.get("crashy").await.map_err(|e| e.to_string())?;
                let c = container(&pod).ok_or("no container status")?;
                let reason = c
                    .state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.clone());
                if reason.as_deref() == Some("CrashLoopBackOff") && c.restart_count >= 2 && !c.ready
                {
                    Ok(())
                } else {
                    Err(format!("reason {reason:?}, restarts {}", c.restart_count))
                }
            }
        },
    )
    .await;

    kubelet.heal(&ns, "crashy").await.expect("healing");
    let healed = pods.get("crashy").await.expect("reading crashy");
    assert!(
        container(&healed).is_some_and(|c| c.ready),
        "a healed pod is Ready again"
    );
    delete_namespace(&client, &ns).await;
    kubelet.shutdown().await.expect("stopping the fake kubelet");
}
