//! The DaemonSet layout: one agent per node, each watching only its node's pods, plus the
//! leader's workload rules. A crash-looping pod of a Deployment that is missing a replica is
//! folded by its node's agent into the leader's workload incident thread: one incident.
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::json;
use vigil_tests::{
    FakeKubelet, Fault, SlackRecorder, client_from_kubeconfig, list_pods, require_sandbox, wait_for,
};

use crate::alerts_common::*;
use crate::common::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_agents_fold_their_pods_into_the_leaders_workload_incident() {
    let sb = require_sandbox!();
    let client = client_from_kubeconfig(&sb.kubeconfig).await;
    let kubelet = FakeKubelet::start(client.clone(), "al-ds", 2)
        .await
        .unwrap();
    let _nodes = NodesGuard::of(&client, &kubelet);
    let ns = Ns::create(&client, "al-ds").await;
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("alerts-ds");
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &format!(
            "  lease_duration: 3s\n  node_selector: vigil.dev/pool={}",
            kubelet.pool()
        ),
        "rules:\n  WorkloadUnavailable: {for: 1s}\n  PodCrashLooping: {for: 4s, window: 1s}",
    );
    let (selector, toleration) = kubelet.placement();
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": ns.name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "automountServiceAccountToken": false,
                    "containers": [{"name": "app", "image": "registry.example/web:1"}],
                    "nodeSelector": selector, "tolerations": [toleration],
                },
            },
        },
    }))
    .unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    deploys
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();
    vigil_tests::eventually("deployment available", LONG, || async {
        let d = deploys.get("web").await.map_err(|e| e.to_string())?;
        let a = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
        if a == 2 {
            Ok(())
        } else {
            Err(format!("{a} available"))
        }
    })
    .await;
    let _agents: Vec<Agent> = kubelet
        .node_names()
        .iter()
        .map(|n| Agent::start(sb, &dir, &cfg, Some(n), n))
        .collect();
    let victim = list_pods(&client, &ns.name, "app=web").await.unwrap()[0]
        .metadata
        .name
        .clone()
        .unwrap();
    kubelet
        .inject(&ns.name, &victim, Fault::CrashLoop)
        .await
        .unwrap();
    let ts = wait_for(&rec, "the leader's workload incident", LONG, |reqs| {
        parents(reqs, "Deployment/web")
            .first()
            .and_then(|r| r.ts.clone())
    })
    .await;
    let pod_obj = format!("Pod/{victim}");
    wait_for(
        &rec,
        "the node agent's pod alert in the workload's thread",
        LONG,
        |reqs| {
            replies(reqs, &ts)
                .iter()
                .any(|r| r.text().contains("PodCrashLooping") && r.text().contains(&pod_obj))
                .then_some(())
        },
    )
    .await;
    kubelet.heal(&ns.name, &victim).await.unwrap();
    wait_for(&rec, "both resolved in the thread", LONG, |reqs| {
        let rs = replies(reqs, &ts);
        let workload = rs.iter().any(|r| r.text().contains("resolved after"));
        let pod = rs
            .iter()
            .any(|r| r.text().contains(&pod_obj) && r.text().contains("PodCrashLooping resolved"));
        (workload && pod && !updates(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    let reqs = rec.delivered();
    assert!(
        parents(&reqs, &pod_obj).is_empty(),
        "the pod was posted on its own"
    );
    assert_eq!(parents(&reqs, "Deployment/web").len(), 1);
    kubelet.shutdown().await.unwrap();
}
