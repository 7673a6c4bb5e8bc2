//! Two node agents elect a leader with a Lease and keep their state in ConfigMaps. The
//! leader is killed mid-incident: the other takes over within the lease duration, does
//! not post the incident again, and resolves it in the original thread.
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use vigil_tests::{Pressure, require_sandbox, wait_for};

use vigil_agent::alerts::store::Store;

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_continues_without_duplicates_or_missed_resolves() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-leader", 2).await;
    let nodes = kubelet.node_names().to_vec();
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &format!(
            "  lease_duration: 3s\n  node_selector: vigil.dev/pool={}",
            kubelet.pool()
        ),
        "rules: {NodePressure: {for: 0s}}",
    );
    let mut agents: Vec<Agent> = nodes
        .iter()
        .map(|n| Agent::start(sb, &dir, &cfg, Some(n), n))
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    let holder = || {
        let leases = leases.clone();
        async move {
            let l = leases
                .get_opt("vigil-agent-leader")
                .await
                .map_err(|e| e.to_string())?;
            l.and_then(|l| l.spec?.holder_identity)
                .ok_or_else(|| "no leader".to_string())
        }
    };
    let leader = vigil_tests::eventually("a leader is elected", LONG, holder).await;

    kubelet
        .set_pressure(&nodes[0], Pressure::Disk, true)
        .await
        .unwrap();
    let obj = format!("Node/{}", nodes[0]);
    let ts = wait_for(&rec, "disk pressure fired", LONG, |reqs| {
        parents(reqs, &obj).first().and_then(|r| r.ts.clone())
    })
    .await;

    ledger_persisted(
        &Store::config_map(client.clone(), &ns.name, "vigil-agent-leader"),
        1,
    )
    .await;
    let i = nodes.iter().position(|n| *n == leader).unwrap();
    agents[i].kill();
    let next = vigil_tests::eventually("the other agent takes over", LONG, || async {
        match holder().await {
            Ok(h) if h != leader => Ok(h),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_ne!(next, leader);
    kubelet
        .set_pressure(&nodes[0], Pressure::Disk, false)
        .await
        .unwrap();
    wait_for(
        &rec,
        "resolved in the original thread by the new leader",
        LONG,
        |reqs| {
            let resolved = replies(reqs, &ts)
                .iter()
                .any(|r| r.text().contains("resolved after"));
            (resolved && !updates(reqs, &ts).is_empty()).then_some(())
        },
    )
    .await;
    let reqs = rec.delivered();
    assert_eq!(
        parents(&reqs, &obj).len(),
        1,
        "the failover posted the incident again"
    );
    kubelet.shutdown().await.unwrap();
}
