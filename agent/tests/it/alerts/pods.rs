//! Pod rules end to end: the real control plane, the fake kubelet playing faults, the
//! cluster agent as a process and the Slack recorder. Each rule fires exactly once and
//! resolves exactly once in its thread; a blip shorter than `for` fires nothing.
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use vigil_tests::{Fault, require_sandbox, wait_for};

use super::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pod_rule_fires_once_and_resolves_once_in_its_thread() {
    let sb = require_sandbox!();
    let (client, kubelet, ns, rec, dir, _nodes) = stage(sb, "al-pods", 1).await;
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &standalone(&dir, kubelet.pool()),
        "rules:
  PodCrashLooping: {for: 2s, window: 1s}
  PodImagePullFailing: {for: 2s}
  PodNotReady: {for: 4s}
  PodUnschedulable: {for: 2s}
  PodOOMKilled: {window: 2s}
",
    );
    let faults = [
        ("crash", Fault::CrashLoop, "PodCrashLooping"),
        ("oom", Fault::OomKilled, "PodOOMKilled"),
        ("pull", Fault::ImagePullBackOff, "PodImagePullFailing"),
        ("unready", Fault::NotReady, "PodNotReady"),
        ("evicted", Fault::Evicted, "PodEvicted"),
    ];
    for name in [
        "crash", "oom", "pull", "unready", "evicted", "blip", "sentinel",
    ] {
        pod(&client, &ns.name, name, &kubelet, None).await;
    }
    for name in [
        "crash", "oom", "pull", "unready", "evicted", "blip", "sentinel",
    ] {
        running(&client, &ns.name, name).await;
    }
    // a pod no node can take: Pending-unschedulable
    let unsched: Pod = serde_json::from_value(json!({
        "metadata": {"name": "unsched", "namespace": ns.name},
        "spec": {"automountServiceAccountToken": false, "containers": [{"name": "app", "image": "registry.example/app:1"}],
                 "nodeSelector": {"vigil.dev/pool": "no-such-pool"}},
    }))
    .unwrap();
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    pods.create(&PostParams::default(), &unsched).await.unwrap();
    for (name, fault, _) in &faults {
        kubelet.inject(&ns.name, name, fault.clone()).await.unwrap();
    }
    // a blip: NotReady for well under its 4 s `for`
    kubelet
        .inject(&ns.name, "blip", Fault::NotReady)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await; // the stimulus, not a wait
    kubelet.heal(&ns.name, "blip").await.unwrap();
    kubelet
        .inject(&ns.name, "sentinel", Fault::NotReady)
        .await
        .unwrap();

    let mut threads = Vec::new();
    for (name, _, rule) in faults
        .iter()
        .chain([&("unsched", Fault::NotReady, "PodUnschedulable")])
    {
        let needle = format!("Pod/{name}");
        let ts = wait_for(&rec, &format!("{rule} fired for {name}"), LONG, |reqs| {
            parents(reqs, &needle)
                .iter()
                .find(|r| r.text().contains(rule))
                .and_then(|r| r.ts.clone())
        })
        .await;
        threads.push((name.to_string(), rule.to_string(), ts));
    }
    // the sentinel fired after the blip's `for` had long passed: the blip fired nothing
    wait_for(&rec, "sentinel fired", LONG, |reqs| {
        (!parents(reqs, "Pod/sentinel").is_empty()).then_some(())
    })
    .await;
    assert!(
        parents(&rec.delivered(), "Pod/blip").is_empty(),
        "a blip shorter than `for` fired"
    );

    for (name, _, _) in &faults {
        kubelet.heal(&ns.name, name).await.unwrap();
    }
    kubelet.heal(&ns.name, "sentinel").await.unwrap();
    pods.delete("unsched", &DeleteParams::default())
        .await
        .unwrap();
    for (name, rule, ts) in &threads {
        wait_for(
            &rec,
            &format!("{rule} on {name} resolved in its thread"),
            LONG,
            |reqs| thread_resolved(reqs, ts).then_some(()),
        )
        .await;
    }
    wait_for(&rec, "sentinel resolved", LONG, |reqs| {
        let ts = parents(reqs, "Pod/sentinel").first()?.ts.clone()?;
        (!updates(reqs, &ts).is_empty()).then_some(())
    })
    .await;
    let reqs = rec.delivered();
    for (name, rule, ts) in &threads {
        let ps: Vec<_> = parents(&reqs, &format!("Pod/{name}"));
        assert_eq!(
            ps.len(),
            1,
            "{rule} on {name}: exactly one incident message, got {}",
            ps.len()
        );
        assert_eq!(
            resolved_replies(&reqs, ts),
            1,
            "{rule} on {name}: resolved exactly once"
        );
        assert!(ps[0].authorization.as_deref() == Some("Bearer xoxb-test-token"));
        assert_eq!(ps[0].channel(), Some("C-OPS"));
    }
    kubelet.shutdown().await.unwrap();
}
