//! An alert storm during a Slack outage: 2,000 crash-looping pods, each with a
//! 4,000-character termination message, spread over a pool of 20 nodes (no node runs
//! more than the kubelet's 110), with one cluster agent per node, while Slack answers 500
//! for five minutes. Every node's state document stays under 75 % of a ConfigMap's limit
//! the whole time (every version of every state ConfigMap is watched), no save fails,
//! nothing says `AlertingDegraded`, and once Slack is back every incident is posted,
//! exactly once.
//!
//! The pods' statuses are written once by the test (the fake kubelet leaves them alone),
//! so the storm is the agents', not the fake kubelet's. `VIGIL_STORM_PODS` and
//! `VIGIL_STORM_OUTAGE_S` scale it down for a quick local run (default 2000 and 300).
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use vigil_tests::{STATUS_BY_TEST_ANNOTATION, SlackFailure, require_sandbox};

use crate::alerts::common::{Agent, NodesGuard, Ns};
use crate::common::{TempDir, secret};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A termination message as a crashing JVM leaves it: 4,000 characters of stack trace,
/// different for every pod.
fn termination_message(i: usize) -> String {
    let mut m = format!(
        "Exception in thread \"main\" java.net.ConnectException: connection to \
         db-{}.acme.internal:5432 refused (attempt {i})\n",
        i % 37
    );
    let mut k = i;
    while m.len() < 4000 {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        m.push_str(&format!(
            "\tat com.acme.shop.service.Handler{}.handle(Handler{}.java:{})\n",
            (k >> 33) % 50,
            (k >> 40) % 50,
            (k >> 20) % 900 + 10
        ));
    }
    m.chars().take(4000).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_during_a_slack_outage_stays_under_the_limit_and_is_delivered_once() {
    let sb = require_sandbox!();
    let pods_n = env_or("VIGIL_STORM_PODS", 2000) as usize;
    let outage = Duration::from_secs(env_or("VIGIL_STORM_OUTAGE_S", 300));
    let nodes_n = pods_n.div_ceil(100).max(1);
    let client = vigil_tests::client_from_kubeconfig(&sb.kubeconfig).await;
    let kubelet = vigil_tests::FakeKubelet::start(client.clone(), "storm", nodes_n)
        .await
        .unwrap();
    let _nodes = NodesGuard::of(&client, &kubelet);
    let ns = Ns::create(&client, "storm").await;
    let rec = vigil_tests::SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("storm");
    rec.set_down(Some(SlackFailure::ServerError));
    let outage_began = Instant::now();

    // every version of every state ConfigMap: the largest one
    let largest: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let seen = largest.clone();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let watching = tokio::spawn(async move {
        let cfg = watcher::Config::default().labels("app.kubernetes.io/component=alert-state");
        let stream = watcher(cms, cfg).default_backoff().applied_objects();
        futures::pin_mut!(stream);
        while let Some(Ok(cm)) = stream.next().await {
            let size = cm
                .data
                .iter()
                .flatten()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                + cm.binary_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| k.len() + v.0.len())
                    .sum::<usize>();
            let name = cm.metadata.name.unwrap_or_default();
            let mut l = seen.lock().unwrap();
            let e = l.entry(name).or_default();
            *e = (*e).max(size);
        }
    });

    let token = secret(&dir, "token", "xoxb-storm");
    let cfg = dir.file(
        "cluster.yaml",
        &format!(
            "cluster:
  name: it
  namespace: {ns}
  evaluation_interval: 500ms
  namespaces: [{ns}]
  node_selector: vigil.dev/pool={pool}
rules:
  PodCrashLooping: {{for: 1s}}
  PodNotReady: {{enabled: false}}
repeat_interval: 60s
slack:
  default: {{bot_token: {token}, channel: C-OPS}}
  api_url: {api}
  min_interval: 10ms
",
            ns = ns.name,
            pool = kubelet.pool(),
            api = rec.api_url(),
        ),
    );
    let nodes = kubelet.node_names().to_vec();
    let agents: Vec<Agent> = nodes
        .iter()
        .map(|n| Agent::start(sb, &dir, &cfg, Some(n), n))
        .collect();

    // the storm: every pod crash-looping with a long message, written once
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    let name = |i: usize| format!("storm-{i:05}");
    futures::stream::iter(0..pods_n)
        .map(|i| {
            let pods = pods.clone();
            let node = nodes[i % nodes.len()].clone();
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name(i), "labels": {"app": "storm"},
                                 "annotations": {STATUS_BY_TEST_ANNOTATION: "by-test"}},
                    "spec": {"nodeName": node, "automountServiceAccountToken": false,
                             "containers": [{"name": "app", "image": "registry.example/shop:1"}]},
                }))
                .unwrap();
                pods.create(&PostParams::default(), &pod).await?;
                let now = k8s_openapi::jiff::Timestamp::now().to_string();
                let status = json!({"status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
                    "containerStatuses": [{
                        "name": "app", "image": "registry.example/shop:1", "imageID": "",
                        "ready": false, "started": false, "restartCount": 7,
                        "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": "back-off 5m0s restarting failed container"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                      "message": termination_message(i),
                                      "startedAt": now, "finishedAt": now}},
                    }],
                }});
                pods.patch_status(&name(i), &PatchParams::default(), &Patch::Merge(status))
                    .await?;
                Ok::<_, kube::Error>(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();

    // every incident open and queued in its node's state while Slack is down
    let states: Vec<vigil_agent::alerts::store::Store> = nodes
        .iter()
        .map(|n| {
            vigil_agent::alerts::store::Store::config_map(
                client.clone(),
                &ns.name,
                &format!("vigil-agent-node-{n}"),
            )
        })
        .collect();
    vigil_tests::eventually(
        "every incident queued",
        Duration::from_secs(300),
        || async {
            let mut queued = 0;
            for s in &states {
                let doc = s.load().await.map_err(|e| e.to_string())?;
                queued += doc.incidents.len();
            }
            if queued == pods_n {
                Ok(())
            } else {
                Err(format!("{queued} of {pods_n} incidents"))
            }
        },
    )
    .await;
    assert!(rec.delivered().is_empty(), "Slack was down");
    tokio::time::sleep_until((outage_began + outage).into()).await;
    rec.set_down(None);

    let posted = vigil_tests::eventually(
        "every incident posted after the outage",
        Duration::from_secs(300),
        || async {
            let mut by_pod: BTreeMap<String, usize> = BTreeMap::new();
            for r in rec.delivered() {
                if r.method == "chat.postMessage" && r.thread_ts().is_none() {
                    let text = r.text();
                    if let Some(at) = text.find("Pod/storm-") {
                        let pod = text[at + 4..at + 4 + "storm-00000".len()].to_string();
                        *by_pod.entry(pod).or_default() += 1;
                    }
                }
            }
            if by_pod.len() == pods_n {
                Ok(by_pod)
            } else {
                Err(format!("{} of {pods_n} posted", by_pod.len()))
            }
        },
    )
    .await;
    watching.abort();
    let twice: Vec<_> = posted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "posted more than once: {twice:?}");
    let limit = 1024 * 1024 * 3 / 4;
    let largest = largest.lock().unwrap().clone();
    assert_eq!(
        largest.len(),
        nodes_n + usize::from(largest.keys().any(|k| k.ends_with("-leader")))
    );
    let over: Vec<_> = largest.iter().filter(|(_, s)| **s >= limit).collect();
    assert!(over.is_empty(), "state past 75 % of a ConfigMap: {over:?}");
    eprintln!(
        "storm: {pods_n} pods on {nodes_n} nodes, outage {}s; largest state ConfigMap {} bytes",
        outage.as_secs(),
        largest.values().max().unwrap_or(&0)
    );
    for a in &agents {
        let logs = a.logs();
        assert!(
            !logs.contains("cannot persist") && !logs.contains("alerting is degraded"),
            "{logs}"
        );
    }
    kubelet.shutdown().await.unwrap();
}
