//! What reaches Slack: untrusted text from the cluster (here a termination message) cannot
//! mention, link or break the payload, and a 10,000-character message stays within
//! Slack's Block Kit limits.
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use vigil_agent::sinks::slack::limits;
use vigil_tests::{SlackRecorder, client_from_kubeconfig, require_sandbox, wait_for};

use super::common::*;
use crate::common::TempDir;

const EVIL: &str =
    "<!channel> <!here> <@U024BE7LH> <https://evil.example/login|click here> \"}]} & done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_huge_termination_messages_arrive_escaped_and_within_limits() {
    let sb = require_sandbox!();
    let client = client_from_kubeconfig(&sb.kubeconfig).await;
    let ns = Ns::create(&client, "al-content").await;
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("alerts-content");
    let cfg = bot_config(
        &dir,
        &rec.api_url(),
        &ns.name,
        &standalone(&dir, &unique("none")),
        "rules: {PodCrashLooping: {for: 0s}}",
    );
    let _agent = Agent::start(sb, &dir, &cfg, None, "a");
    // bound to a node no kubelet serves, so the status below stays as written
    let ghost = unique("ghost-node");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    for name in ["evil", "huge"] {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns.name},
            "spec": {"nodeName": ghost, "automountServiceAccountToken": false, "containers": [{"name": "app", "image": "registry.example/app:1"}]},
        }))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        let message = if name == "evil" {
            EVIL.to_string()
        } else {
            format!("{EVIL}\n{}", "panic: out of cheese ".repeat(500))
        };
        assert!(name == "evil" || message.len() > 10_000);
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{
                "name": "app", "image": "registry.example/app:1", "imageID": "", "ready": false,
                "restartCount": 6,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "lastState": {"terminated": {"exitCode": 2, "reason": "Error", "message": message}},
            }],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }
    for name in ["evil", "huge"] {
        let msg = wait_for(&rec, &format!("{name} posted"), LONG, |reqs| {
            parents(reqs, &format!("Pod/{name}"))
                .first()
                .map(|r| (*r).clone())
        })
        .await;
        let raw = msg.body.to_string();
        for bad in ["<!channel>", "<!here>", "<@U024BE7LH>", "<https://evil"] {
            assert!(
                !raw.contains(bad),
                "{name}: {bad} reached slack unescaped: {raw}"
            );
        }
        assert!(
            msg.text().contains("&lt;!channel&gt;"),
            "{name}: the text is still shown"
        );
        assert!(
            limits::violations(&msg.body).is_empty(),
            "{name}: {:?}",
            limits::violations(&msg.body)
        );
        for b in msg.body["blocks"].as_array().unwrap() {
            if let Some(t) = b.pointer("/text/text").and_then(|t| t.as_str()) {
                assert!(t.chars().count() <= 3000);
            }
        }
        if name == "huge" {
            assert!(msg.text().contains('…'), "the cut is marked");
        }
    }
}
