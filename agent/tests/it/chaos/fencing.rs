//! Opt-in node fencing: a node dies with a tenant's collector on it (its volume attached
//! there). With `fencing: collectors`, once the node has been NotReady for `fence_after`
//! the leader force-deletes the collector pod and its volume's attachment on that node,
//! leaves InfluxDB's pod alone (not in `collectors`), leaves another node's attachment
//! alone, and posts what it did once.
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vigil_tests::{require_sandbox, unique, wait_for};

use crate::alerts::common::{Agent, LONG, bot_config, stage};

async fn tenant_pod(
    client: &kube::Client,
    ns: &str,
    name: &str,
    component: &str,
    node: &str,
    claim: &str,
    placement: &(
        std::collections::BTreeMap<String, String>,
        k8s_openapi::api::core::v1::Toleration,
    ),
) {
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "labels": {
            "app.kubernetes.io/managed-by": "vigil", "vigil.dev/tenant": "acme",
            "app.kubernetes.io/component": component}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": false,
            "nodeSelector": placement.0, "tolerations": [placement.1],
            "containers": [{"name": "app", "image": "registry.example/app:1"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &p)
        .await
        .unwrap();
}

async fn claim(client: &kube::Client, ns: &str, name: &str, pv: &str) {
    let c: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": pv,
                 "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}},
    }))
    .unwrap();
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &c)
        .await
        .unwrap();
}

async fn attachment(client: &kube::Client, name: &str, pv: &str, node: &str) {
    let a: VolumeAttachment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"attacher": "csi.vigil.test", "nodeName": node,
                 "source": {"persistentVolumeName": pv}},
    }))
    .unwrap();
    Api::<VolumeAttachment>::all(client.clone())
        .create(&PostParams::default(), &a)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_fences_a_dead_nodes_collector_and_its_volume_once() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-fence", 2).await;
    let nodes = kubelet.node_names().to_vec();
    let (a_node, b_node) = (nodes[0].clone(), nodes[1].clone());
    let placement = kubelet.placement();
    let pv = unique("pv-fence");
    let (va_dead, va_alive) = (unique("va-dead"), unique("va-alive"));
    claim(&client, &ns.name, "data-collector", &pv).await;
    claim(&client, &ns.name, "data-influxdb", &format!("{pv}-db")).await;
    tenant_pod(
        &client,
        &ns.name,
        "acme-collector-0",
        "collector",
        &b_node,
        "data-collector",
        &placement,
    )
    .await;
    tenant_pod(
        &client,
        &ns.name,
        "acme-influxdb",
        "database",
        &b_node,
        "data-influxdb",
        &placement,
    )
    .await;
    attachment(&client, &va_dead, &pv, &b_node).await;
    attachment(&client, &va_alive, &pv, &a_node).await;

    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &format!(
            "  lease_duration: 3s\n  node_selector: vigil.dev/pool={}\n  fencing: collectors\n  fence_after: 2s",
            kubelet.pool()
        ),
        "rules:\n  NodeNotReady: {enabled: false}\n  NodeUnreachable: {enabled: false}",
    );
    let leader = Agent::start(sb, &dir, &cfg, Some(&a_node), "a");

    // node B dies: no heartbeat, NotReady (as the node controller would say) for long
    kubelet.stop_heartbeat(&b_node);
    let long_ago = (k8s_openapi::jiff::Timestamp::now()
        - k8s_openapi::jiff::SignedDuration::from_secs(600))
    .to_string();
    Api::<Node>::all(client.clone())
        .patch_status(
            &b_node,
            &PatchParams::default(),
            &Patch::Strategic(json!({"status": {"conditions": [{
                "type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                "lastHeartbeatTime": long_ago, "lastTransitionTime": long_ago,
            }]}})),
        )
        .await
        .unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    let vas: Api<VolumeAttachment> = Api::all(client.clone());
    vigil_tests::eventually(
        "the collector pod and its attachment gone",
        LONG,
        || async {
            let pod = pods
                .get_opt("acme-collector-0")
                .await
                .map_err(|e| e.to_string())?;
            let va = vas.get_opt(&va_dead).await.map_err(|e| e.to_string())?;
            match (pod, va) {
                (None, None) => Ok(()),
                (p, v) => Err(format!(
                    "pod there: {}, attachment there: {}",
                    p.is_some(),
                    v.is_some()
                )),
            }
        },
    )
    .await;
    let posted = wait_for(&rec, "what was fenced is posted", LONG, |reqs| {
        let texts: Vec<String> = reqs
            .iter()
            .map(|r| r.text())
            .filter(|t| t.contains("NodeFenced"))
            .collect();
        (!texts.is_empty()).then_some(texts)
    })
    .await;
    assert!(
        posted[0].contains(&format!("{}/acme-collector-0", ns.name))
            && posted[0].contains(&va_dead),
        "{posted:?}"
    );
    assert!(
        pods.get_opt("acme-influxdb").await.unwrap().is_some(),
        "InfluxDB is not fenced with `collectors`"
    );
    assert!(
        vas.get_opt(&va_alive).await.unwrap().is_some(),
        "another node's attachment stays"
    );
    let fenced_posts = rec
        .delivered()
        .iter()
        .filter(|r| r.text().contains("NodeFenced"))
        .count();
    assert_eq!(fenced_posts, 1, "{}", leader.logs());
    let _ = vas.delete(&va_alive, &Default::default()).await;
    kubelet.shutdown().await.unwrap();
}
