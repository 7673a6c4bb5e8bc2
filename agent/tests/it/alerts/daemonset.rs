//! The DaemonSet layout: one agent per node, each watching only its node's pods, plus the
//! leader's workload rules. A crash-looping pod of a Deployment that is missing a replica is
//! folded by its node's agent into the leader's workload incident thread: one incident.
//! `/readyz` waits for the watchers to sync.
use serde_json::json;
use vigil_tests::{Fault, SlackRecorder, list_pods, require_sandbox, wait_for};

use super::common::*;
use crate::common::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_agents_fold_their_pods_into_the_leaders_workload_incident() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-ds", 2).await;
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
    available_deployment(&client, &ns.name, "web", 2, &kubelet, json!({})).await;
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

async fn probe(listen: &str, path: &str) -> Result<u16, String> {
    http_get(listen, path).await.map(|(status, _)| status)
}

/// `/readyz` means "the alert state is loaded and every watcher has listed", which a
/// DaemonSet rollout waits for: with the API server out of reach the agent is live
/// (`/healthz` 200) but not ready (503); once the API server can be reached it becomes ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_200_only_once_the_watchers_have_synced() {
    let sb = require_sandbox!();
    let dir = TempDir::new("alerts-readyz");
    let rec = SlackRecorder::start().await.unwrap();
    let api = api_address(sb);
    // the API server is out of reach until the forwarder listens
    let mut fwd = vigil_tests::Forwarder::start(&api).await.unwrap();
    fwd.cut();
    let unreachable = kubeconfig_via(sb, &dir, fwd.addr());
    let listen = format!("127.0.0.1:{}", crate::common::free_port());
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        "default",
        &format!(
            "  kubeconfig: {}\n  listen: \"{listen}\"\n  state_file: {}",
            unreachable.display(),
            dir.path().join("state.json").display()
        ),
        "",
    );
    let agent = Agent::start(sb, &dir, &cfg, None, "a");
    vigil_tests::eventually(
        "the agent tried the API server and failed",
        LONG,
        || async {
            let live = probe(&listen, "/healthz").await?;
            let failed = agent.logs().contains("watch failed");
            if live == 200 && failed {
                Ok(())
            } else {
                Err(format!("/healthz {live}, watch failed logged: {failed}"))
            }
        },
    )
    .await;
    assert_eq!(
        probe(&listen, "/readyz").await,
        Ok(503),
        "ready without the API"
    );

    fwd.restore().await.unwrap();
    vigil_tests::eventually("/readyz answers 200", LONG, || async {
        match probe(&listen, "/readyz").await? {
            200 => Ok(()),
            s => Err(format!("/readyz {s}")),
        }
    })
    .await;
    assert!(agent.logs().contains("watchers synced"), "{}", agent.logs());
}
