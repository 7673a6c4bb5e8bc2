//! Dead nodes' state is taken over. A node agent posts a crash-looping pod of its node and
//! then its node goes away: deleted (the agent killed with it), or NotReady while the agent
//! is cut off from the API server. The leader takes the node's state ConfigMap over and
//! resolves the incident in its thread exactly once; a deleted node's ConfigMap is removed.
//! A node agent that comes back from the partition does not post again what the leader
//! took over (its conditional save finds the ConfigMap taken and it starts afresh).
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use vigil_agent::alerts::store::Store;
use vigil_tests::{FakeKubelet, Fault, Forwarder, parents, replies, require_sandbox, wait_for};

use crate::alerts::common::{Agent, LONG, Ns, api_address, kubeconfig_via, pod, running, stage};
use crate::common::{TempDir, secret};

const PREFIX: &str = "vigil-agent";

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(&format!("{PREFIX}-leader"))
        .await
        .ok()
        .flatten()
        .and_then(|l| l.spec?.holder_identity)
}

/// Each agent posts with its own bot token, so the recorder tells who posted.
#[allow(clippy::too_many_arguments)]
fn config(
    dir: &TempDir,
    who: &str,
    ns: &str,
    state_ns: &str,
    pool: &str,
    api_url: &str,
    extra: &str,
) -> std::path::PathBuf {
    let token = secret(dir, &format!("token-{who}"), &format!("xoxb-{who}"));
    dir.file(
        &format!("cluster-{who}.yaml"),
        &format!(
            "cluster:
  name: it
  namespace: {ns}
  state_namespace: {state_ns}
  evaluation_interval: 200ms
  namespaces: [{ns}]
  lease_duration: 3s
  adopt_after: 2s
  node_selector: vigil.dev/pool={pool}
{extra}
rules:
  PodCrashLooping: {{for: 1s, window: 1s}}
  NodeNotReady: {{enabled: false}}
slack:
  default: {{bot_token: {token}, channel: C-OPS}}
  api_url: {api_url}
  min_interval: 100ms
"
        ),
    )
}

fn resolves(reqs: &[vigil_tests::Recorded], ts: &str) -> Vec<String> {
    replies(reqs, ts)
        .iter()
        .filter(|r| r.text().contains("resolved"))
        .map(|r| {
            format!(
                "{} by {:?}",
                r.text(),
                r.authorization.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// A (the leader) and B each on their node; a crash-looping pod on B posted by B and
/// saved in B's ledger. Returns the thread's ts.
async fn b_posts_its_pod(
    client: &kube::Client,
    kubelet: &FakeKubelet,
    ns: &Ns,
    state: &Store,
    rec: &vigil_tests::SlackRecorder,
    b_node: &str,
) -> String {
    pod(client, &ns.name, "crashy", kubelet, Some(b_node)).await;
    running(client, &ns.name, "crashy").await;
    kubelet
        .inject(&ns.name, "crashy", Fault::CrashLoop)
        .await
        .unwrap();
    let ts = wait_for(rec, "B posts the crash loop", LONG, |reqs| {
        parents(reqs, "Pod/crashy")
            .first()
            .and_then(|r| r.ts.clone())
    })
    .await;
    vigil_tests::eventually("B's delivery saved", LONG, || async {
        let doc = state.load().await.map_err(|e| e.to_string())?;
        if doc.ledger.keys().any(|k| k.contains("crashy")) {
            Ok(())
        } else {
            Err(format!(
                "ledger {:?}",
                doc.ledger.keys().collect::<Vec<_>>()
            ))
        }
    })
    .await;
    ts
}

async fn a_leads(client: &kube::Client, ns: &str, a_node: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    vigil_tests::eventually("A leads", LONG, || async {
        match holder(&leases).await {
            Some(h) if h == a_node => Ok(()),
            other => Err(format!("holder {other:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_nodes_incident_is_resolved_once_by_the_leader_and_its_state_removed() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-gone", 2).await;
    let state_ns = Ns::create(&client, "chaos-gone-state").await;
    let nodes = kubelet.node_names().to_vec();
    let (a_node, b_node) = (nodes[0].clone(), nodes[1].clone());
    let cfg = |who: &str| {
        config(
            &dir,
            who,
            &ns.name,
            &state_ns.name,
            kubelet.pool(),
            &rec.api_url(),
            "",
        )
    };
    let _a = Agent::start(sb, &dir, &cfg("a"), Some(&a_node), "a");
    a_leads(&client, &ns.name, &a_node).await;
    let mut b = Agent::start(sb, &dir, &cfg("b"), Some(&b_node), "b");
    let b_cm = format!("{PREFIX}-node-{b_node}");
    let b_state = Store::config_map(client.clone(), &state_ns.name, &b_cm);
    let ts = b_posts_its_pod(&client, &kubelet, &ns, &b_state, &rec, &b_node).await;

    // the node dies with its agent, and is deleted
    b.kill();
    kubelet.stop_heartbeat(&b_node);
    Api::<Node>::all(client.clone())
        .delete(&b_node, &DeleteParams::default())
        .await
        .unwrap();

    wait_for(&rec, "the leader resolves B's incident", LONG, |reqs| {
        (!resolves(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &state_ns.name);
    vigil_tests::eventually("B's state removed", LONG, || async {
        match cms.get_opt(&b_cm).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
    // the leader's own delivery is saved: nothing more can come of it
    let leader = Store::config_map(client.clone(), &state_ns.name, &format!("{PREFIX}-leader"));
    vigil_tests::eventually("the leader's outbox is empty", LONG, || async {
        let doc = leader.load().await.map_err(|e| e.to_string())?;
        if doc.outbox.is_empty() && doc.incidents.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} queued, {} open",
                doc.outbox.len(),
                doc.incidents.len()
            ))
        }
    })
    .await;
    let reqs = rec.delivered();
    let done = resolves(&reqs, &ts);
    assert_eq!(done.len(), 1, "resolves in B's thread: {done:?}");
    assert!(
        done[0].contains("Bearer xoxb-a"),
        "posted by the leader: {done:?}"
    );
    assert_eq!(parents(&reqs, "Pod/crashy").len(), 1);
    kubelet.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_agent_back_from_a_partition_does_not_post_what_the_leader_took_over() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-away", 2).await;
    let state_ns = Ns::create(&client, "chaos-away-state").await;
    let nodes = kubelet.node_names().to_vec();
    let (a_node, b_node) = (nodes[0].clone(), nodes[1].clone());
    let mut fwd = Forwarder::start(&api_address(sb)).await.unwrap();
    let through = kubeconfig_via(sb, &dir, fwd.addr());
    let a_cfg = config(
        &dir,
        "a",
        &ns.name,
        &state_ns.name,
        kubelet.pool(),
        &rec.api_url(),
        "",
    );
    let b_cfg = config(
        &dir,
        "b",
        &ns.name,
        &state_ns.name,
        kubelet.pool(),
        &rec.api_url(),
        &format!("  kubeconfig: {}", through.display()),
    );
    let _a = Agent::start(sb, &dir, &a_cfg, Some(&a_node), "a");
    a_leads(&client, &ns.name, &a_node).await;
    let b = Agent::start(sb, &dir, &b_cfg, Some(&b_node), "b");
    let b_cm = format!("{PREFIX}-node-{b_node}");
    let b_state = Store::config_map(client.clone(), &state_ns.name, &b_cm);
    let ts = b_posts_its_pod(&client, &kubelet, &ns, &b_state, &rec, &b_node).await;

    // B's node stops answering and B loses the API server; its agent lives on, holding
    // the open incident in memory
    fwd.cut();
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
    wait_for(&rec, "the leader resolves B's incident", LONG, |reqs| {
        (!resolves(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &state_ns.name);
    let taken = cms.get(&b_cm).await.unwrap();
    assert_eq!(
        taken
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("vigil.dev/adopted-by"))
            .map(String::as_str),
        Some(a_node.as_str()),
        "marked as taken over"
    );

    // the node and its agent come back, and the pod is healthy again: the agent must
    // not resolve (again) the incident it no longer owns
    kubelet.heal(&ns.name, "crashy").await.unwrap();
    kubelet.resume_heartbeat(&b_node).await.unwrap();
    fwd.restore().await.unwrap();
    let tombstone = taken.metadata.resource_version.clone();
    vigil_tests::eventually("B writes its state again, all delivered", LONG, || async {
        let cm = cms
            .get_opt(&b_cm)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no state")?;
        let doc = b_state.load().await.map_err(|e| e.to_string())?;
        let rewritten = cm.metadata.resource_version != tombstone;
        if rewritten && doc.outbox.is_empty() && doc.incidents.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "rewritten {rewritten}, {} queued, {} open",
                doc.outbox.len(),
                doc.incidents.len()
            ))
        }
    })
    .await;
    let reqs = rec.delivered();
    let done = resolves(&reqs, &ts);
    assert_eq!(
        done.len(),
        1,
        "resolves in B's thread: {done:?}\n{}",
        b.logs()
    );
    assert!(
        done[0].contains("Bearer xoxb-a"),
        "posted by the leader: {done:?}"
    );
    assert!(
        b.logs().contains("taken over by the leader"),
        "B noticed: {}",
        b.logs()
    );
    kubelet.shutdown().await.unwrap();
}

/// An upgrade from a release that kept the state beside the agent's configuration: the
/// agent finds none in the state namespace, reads the old ConfigMap once, goes on from it
/// (the incident it held resolves in its original thread) and writes only in the state
/// namespace from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_an_older_agent_kept_beside_its_configuration_is_carried_over() {
    use vigil_agent::alerts::signal::{Scope, Severity, Signal};
    use vigil_agent::alerts::state::{Delivered, Incident, StateDoc};

    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "chaos-move", 1).await;
    let state_ns = Ns::create(&client, "chaos-move-state").await;
    let node = kubelet.node_names()[0].clone();
    let name = format!("{PREFIX}-node-{node}");
    // what the older agent left: an open incident of a pod that is gone by now, posted
    let signal = Signal::new(
        "PodCrashLooping",
        Severity::Critical,
        Scope {
            namespace: Some(ns.name.clone()),
            object: "Pod/left-behind".into(),
            ..Default::default()
        },
        &format!("{}/left-behind", ns.name),
    )
    .summary("container app is crash-looping");
    let key = format!("{}@1000", signal.fingerprint);
    let mut old = StateDoc::default();
    old.ledger.insert(
        key.clone(),
        Delivered {
            channel: "C-OPS".into(),
            ts: Some("1600000000.000100".into()),
            at_ms: 1000,
            resolved: false,
        },
    );
    old.incidents.insert(
        signal.fingerprint.clone(),
        Incident {
            key,
            signal,
            started_ms: 1000,
            last_notified_ms: 1000,
            folded_into: None,
            silenced_by: None,
            flapping: false,
            quiet_since_ms: None,
        },
    );
    let legacy = Store::config_map(client.clone(), &ns.name, &name);
    legacy.save(&old).await.unwrap();

    let cfg = config(
        &dir,
        "a",
        &ns.name,
        &state_ns.name,
        kubelet.pool(),
        &rec.api_url(),
        "",
    );
    let a = Agent::start(sb, &dir, &cfg, Some(&node), "a");
    wait_for(
        &rec,
        "the carried-over incident resolves in its thread",
        LONG,
        |reqs| (!resolves(reqs, "1600000000.000100").is_empty()).then_some(()),
    )
    .await;
    let moved = Store::config_map(client.clone(), &state_ns.name, &name);
    vigil_tests::eventually("the state is in the state namespace", LONG, || async {
        let doc = moved.load().await.map_err(|e| e.to_string())?;
        match doc.ledger.values().next() {
            Some(d) if d.resolved && doc.outbox.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // the old copy is left for `vigil agent install` to prune; the agent never wrote it
    let left = legacy.load().await.unwrap();
    assert_eq!(left.incidents.len(), 1, "the old copy is untouched");
    assert_eq!(
        resolves(&rec.delivered(), "1600000000.000100").len(),
        1,
        "{}",
        a.logs()
    );
    assert!(a.logs().contains("read from where an older agent kept it"));
    kubelet.shutdown().await.unwrap();
}
