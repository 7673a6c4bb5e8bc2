//! One leader at a time, and a deposed leader cannot write. The leader (agent A) is cut
//! off from the API server by a forwarder that silently stalls — no reset, so only its
//! own timeouts can tell — while one incident resolves and another opens and resolves.
//! Agent B takes over and posts each exactly once; A posts nothing after the partition
//! began (each agent has its own bot token, so the recorder tells who posted); and when
//! the partition heals, A's held-back requests arrive late, yet nothing A wrote lands on
//! the state B wrote (every write of the leader's ConfigMap is watched, with its writer).
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use vigil_agent::alerts::store::Store;
use vigil_tests::{Forwarder, parents, replies, require_sandbox, wait_for};

use crate::alerts::common::{Agent, LONG, api_address, http_get, kubeconfig_via, stage};
use crate::common::secret;

const LEADER_CM: &str = "vigil-agent-leader";

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEADER_CM)
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec?.holder_identity)
}

async fn pvc(api: &Api<PersistentVolumeClaim>, name: &str) {
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "no-such-class",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }))
    .unwrap();
    api.create(&PostParams::default(), &claim).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_steps_down_posts_nothing_and_never_overwrites_the_new_one() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-lead", 2).await;
    let api = api_address(sb);
    let mut fwd = Forwarder::start(&api).await.unwrap();
    let through = kubeconfig_via(sb, &dir, fwd.addr());
    let nodes = kubelet.node_names().to_vec();
    let (a_node, b_node) = (nodes[0].clone(), nodes[1].clone());
    let a_listen = format!("127.0.0.1:{}", crate::common::free_port());
    let config = |who: &str, extra: &str| {
        let token = secret(&dir, &format!("token-{who}"), &format!("xoxb-{who}"));
        dir.file(
            &format!("cluster-{who}.yaml"),
            &format!(
                "cluster:
  name: it
  namespace: {ns}
  evaluation_interval: 200ms
  namespaces: [{ns}]
  lease_duration: 3s
  node_selector: vigil.dev/pool={pool}
{extra}
rules:
  PvcPending: {{for: 1s}}
repeat_interval: 2s
slack:
  default: {{bot_token: {token}, channel: C-OPS}}
  api_url: {api}
  min_interval: 100ms
",
                ns = ns.name,
                pool = kubelet.pool(),
                api = rec.api_url(),
            ),
        )
    };
    let a_cfg = config(
        "a",
        &format!(
            "  kubeconfig: {}\n  listen: \"{a_listen}\"",
            through.display()
        ),
    );
    let b_cfg = config("b", "");

    // every write of the leader's state, with who wrote it
    let writes: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let seen = writes.clone();
    let watching = tokio::spawn(async move {
        let cfg = watcher::Config::default().fields(&format!("metadata.name={LEADER_CM}"));
        let stream = watcher(cms, cfg).default_backoff().applied_objects();
        futures::pin_mut!(stream);
        while let Some(Ok(cm)) = stream.next().await {
            let rv = cm.metadata.resource_version.clone().unwrap_or_default();
            let by = cm
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("vigil.dev/written-by").cloned())
                .unwrap_or_default();
            let mut w = seen.lock().unwrap();
            if w.last().map(|(v, _)| v) != Some(&rv) {
                w.push((rv, by));
            }
        }
    });

    let a = Agent::start(sb, &dir, &a_cfg, Some(&a_node), "a");
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns.name);
    vigil_tests::eventually("A leads", LONG, || async {
        match holder(&leases).await {
            Some(h) if h == a_node => Ok(()),
            other => Err(format!("holder {other:?}")),
        }
    })
    .await;
    let b = Agent::start(sb, &dir, &b_cfg, Some(&b_node), "b");
    vigil_tests::eventually("B is watching", LONG, || async {
        if b.logs().contains("watchers synced") {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns.name);
    pvc(&pvcs, "before").await;
    let before = wait_for(&rec, "A posts the first incident", LONG, |reqs| {
        parents(reqs, "PVC/before")
            .first()
            .and_then(|r| r.ts.clone())
    })
    .await;

    // A has recorded that post in the leader's state (else B would post it again: the
    // documented window of one message, not what this test is about)
    let state = Store::config_map(client.clone(), &ns.name, LEADER_CM);
    vigil_tests::eventually("A's delivery saved", LONG, || async {
        let doc = state.load().await.map_err(|e| e.to_string())?;
        if doc.ledger.keys().any(|k| k.contains("/before@")) {
            Ok(())
        } else {
            Err(format!(
                "ledger {:?}",
                doc.ledger.keys().collect::<Vec<_>>()
            ))
        }
    })
    .await;

    // the partition: A's connections stay open but nothing gets through
    fwd.stall();
    pvcs.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    vigil_tests::eventually("B takes over", LONG, || async {
        match holder(&leases).await {
            Some(h) if h == b_node => Ok(()),
            other => Err(format!("holder {other:?}")),
        }
    })
    .await;
    // from here on A holds no lease: whatever it does must not reach Slack or the state
    let deposed = Instant::now();
    pvc(&pvcs, "during").await;
    let during = wait_for(&rec, "the new incident posted", LONG, |reqs| {
        parents(reqs, "PVC/during")
            .first()
            .and_then(|r| r.ts.clone())
    })
    .await;
    pvcs.delete("during", &DeleteParams::default())
        .await
        .unwrap();
    for ts in [&before, &during] {
        wait_for(&rec, "resolved in its thread", LONG, |reqs| {
            replies(reqs, ts)
                .iter()
                .any(|r| r.text().contains("resolved after"))
                .then_some(())
        })
        .await;
    }

    // the partition heals: whatever A held back arrives now
    fwd.restore().await.unwrap();
    vigil_tests::eventually("A in touch again", LONG, || async {
        match http_get(&a_listen, "/readyz").await? {
            (200, _) => Ok(()),
            (status, _) => Err(format!("/readyz {status}")),
        }
    })
    .await;
    // one more incident and its save by B, after anything late from A
    pvc(&pvcs, "after").await;
    wait_for(&rec, "B posts after the heal", LONG, |reqs| {
        parents(reqs, "PVC/after").first().map(|_| ())
    })
    .await;
    vigil_tests::eventually("B's save of its delivery", LONG, || async {
        let doc = state.load().await.map_err(|e| e.to_string())?;
        let delivered = doc.ledger.keys().any(|k| k.contains("/after@"));
        let w = writes.lock().unwrap().clone();
        match w.last() {
            Some((_, by)) if *by == b_node && delivered => Ok(()),
            _ => Err(format!("delivered {delivered}, writes {w:?}")),
        }
    })
    .await;
    watching.abort();

    let reqs = rec.delivered();
    let from_a_after: Vec<String> = reqs
        .iter()
        .filter(|r| r.at > deposed && r.authorization.as_deref() == Some("Bearer xoxb-a"))
        .map(|r| r.text())
        .collect();
    assert!(
        from_a_after.is_empty(),
        "the deposed leader posted: {from_a_after:?}\n{}",
        a.logs()
    );
    for obj in ["PVC/before", "PVC/during", "PVC/after"] {
        assert_eq!(parents(&reqs, obj).len(), 1, "{obj} posted more than once");
    }
    for ts in [&before, &during] {
        let resolves = replies(&reqs, ts)
            .iter()
            .filter(|r| r.text().contains("resolved after"))
            .count();
        assert_eq!(resolves, 1, "resolves in thread {ts}");
    }
    let w = writes.lock().unwrap().clone();
    let first_b = w
        .iter()
        .position(|(_, by)| *by == b_node)
        .expect("B wrote the state");
    assert!(
        w[first_b..].iter().all(|(_, by)| *by == b_node),
        "a write of the deposed leader landed after the new one's: {w:?}"
    );
    kubelet.shutdown().await.unwrap();
}
