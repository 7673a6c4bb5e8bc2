//! Node rules against the real node lifecycle controller: memory pressure fires and
//! resolves once; a node that stops heartbeating with five pods on it is one incident,
//! its unreachable taint and its pods' alerts folded into that incident's thread.
use vigil_tests::{Pressure, require_sandbox, wait_for};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressure_and_a_dead_node_with_five_pods_are_one_incident_each() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-nodes", 2).await;
    let (dead, pressured) = (
        kubelet.node_names()[0].clone(),
        kubelet.node_names()[1].clone(),
    );
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &standalone(&dir, kubelet.pool()),
        "rules:
  NodeNotReady: {for: 0s}
  NodePressure: {for: 1s}
  PodNotReady: {for: 3s}
",
    );
    let pods: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    for p in &pods {
        pod(&client, &ns.name, p, &kubelet, Some(&dead)).await;
    }
    for p in &pods {
        running(&client, &ns.name, p).await;
    }
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");

    kubelet
        .set_pressure(&pressured, Pressure::Memory, true)
        .await
        .unwrap();
    let node_obj = format!("Node/{pressured}");
    let pts = wait_for(&rec, "memory pressure fired", LONG, |reqs| {
        parents(reqs, &node_obj)
            .iter()
            .find(|r| r.text().contains("NodePressure"))
            .and_then(|r| r.ts.clone())
    })
    .await;
    kubelet
        .set_pressure(&pressured, Pressure::Memory, false)
        .await
        .unwrap();
    wait_for(&rec, "memory pressure resolved", LONG, |reqs| {
        (!updates(reqs, &pts).is_empty()).then_some(())
    })
    .await;

    kubelet.stop_heartbeat(&dead);
    let dead_obj = format!("Node/{dead}");
    let ts = wait_for(
        &rec,
        "dead node fired",
        LONG + sb.node_monitor_grace,
        |reqs| {
            parents(reqs, &dead_obj)
                .iter()
                .find(|r| r.text().contains("NodeNotReady"))
                .and_then(|r| r.ts.clone())
        },
    )
    .await;
    wait_for(
        &rec,
        "five pods folded into the node's thread",
        LONG,
        |reqs| {
            let folded = replies(reqs, &ts)
                .iter()
                .filter(|r| r.text().contains("PodNotReady"))
                .count();
            (folded == 5).then_some(())
        },
    )
    .await;
    let reqs = rec.delivered();
    assert_eq!(
        parents(&reqs, &dead_obj).len(),
        1,
        "one incident for the dead node (unreachable taint folded)"
    );
    for p in &pods {
        assert!(
            parents(&reqs, &format!("Pod/{p}")).is_empty(),
            "pod {p} posted on its own"
        );
    }

    kubelet.resume_heartbeat(&dead).await.unwrap();
    wait_for(&rec, "node recovery resolved in its thread", LONG, |reqs| {
        let resolved = replies(reqs, &ts)
            .iter()
            .any(|r| r.text().contains("resolved after"));
        (resolved && !updates(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    kubelet.shutdown().await.unwrap();
}
