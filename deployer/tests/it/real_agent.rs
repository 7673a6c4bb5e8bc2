//! The cluster agent as `vigil agent install` deploys it, running as the DaemonSet on the
//! sandbox's real kubelet nodes: its real ServiceAccount token and RBAC, the kubelet probing
//! its `/readyz`, and real pod faults (a container exiting 1, one killed by the kernel for its
//! memory limit, an image that does not exist, a failing readiness probe) each reported once
//! to a Slack recorder reached from the pod network, and resolved once the workload is fixed.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use vigil_tests::{SlackRecorder, parents, require_sandbox, thread_resolved, wait_for};

use crate::agent_support::agents_ready;
use crate::real_support::{REAL, deployment, real_pod_spec};
use crate::support::{scratch, tenant_name, vigil_env};

const TOKEN: &str = "xoxb-real-nodes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nodes_agent_reports_each_pod_fault_once_and_resolves_it() {
    let sb = require_sandbox!();
    let client = sb.client().await;
    let ns = tenant_name("vr-agent");
    let tenant = tenant_name("vr-faults");
    let dir = scratch(&ns);
    let _cleanup = crate::support::Cleanup::new(sb)
        .namespace(&ns)
        .namespace(&tenant);
    let rec = SlackRecorder::start_on(sb.pod_host_addr)
        .await
        .expect("recorder on the pods' side of the host");
    // A namespace labelled as a tenant's: the agent names the tenant in its messages.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": tenant, "labels": {"vigil.dev/tenant": tenant}}}),
            )
            .expect("namespace"),
        )
        .await
        .expect("create the tenant's namespace");

    let config = dir.join("alerting.yaml");
    std::fs::write(
        &config,
        format!(
            "cluster:\n  node_selector: vigil.dev/pool={pool}\n  namespaces: [{tenant}]\n\
             slack:\n  api_url: {api}\n\
             rules:\n  PodCrashLooping: {{for: 5s, window: 1s}}\n  PodImagePullFailing: {{for: 5s}}\n\
             \x20 PodNotReady: {{for: 10s}}\n  PodOOMKilled: {{window: 2m}}\n\
             \x20 WorkloadUnavailable: {{for: 1h}}\n  PodUnschedulable: {{for: 1h}}\n",
            pool = sb.node_pool,
            api = rec.api_url(),
        ),
    )
    .expect("write alerting file");
    let selector = format!("vigil.dev/pool={}", sb.node_pool);
    let run = vigil_env(
        Some(sb),
        &[
            "agent",
            "install",
            "-n",
            &ns,
            "--image",
            &sb.images.agent,
            "--slack-token-env",
            "IT_REAL_TOKEN",
            "--slack-channel",
            "C-REAL",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--node-selector",
            &selector,
            "--wait=3m",
        ],
        &[("IT_REAL_TOKEN", TOKEN)],
    )
    .await;
    run.ok();
    // Ready means the kubelet's probe of /readyz answered 200: the agent loaded its state and
    // its watchers listed through the API server with the ServiceAccount's token.
    agents_ready(&client, &ns, &sb.nodes, &sb.images.agent).await;

    let debian = &sb.images.debian;
    let small = json!({"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}});
    let faulty = [
        (
            "crash",
            "PodCrashLooping",
            json!([{"name": "app", "image": debian, "resources": small,
                    "command": ["sh", "-c", "echo failing on purpose >&2; exit 1"]}]),
        ),
        (
            "oom",
            "PodOOMKilled",
            json!([{"name": "app", "image": debian,
                    "resources": {"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "200m", "memory": "20Mi"}},
                    "command": ["python3", "-c", "b = bytearray(200 * 1024 * 1024)\nimport time\ntime.sleep(3600)"]}]),
        ),
        (
            "noimage",
            "PodImagePullFailing",
            json!([{"name": "app", "image": "localhost/vigil-sandbox/does-not-exist:1", "resources": small}]),
        ),
        (
            "unready",
            "PodNotReady",
            json!([{"name": "app", "image": debian, "resources": small, "command": ["sleep", "3600"],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2, "failureThreshold": 1}}]),
        ),
    ];
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), &tenant);
    for (name, _, containers) in &faulty {
        let d: Deployment = serde_json::from_value(deployment(
            &tenant,
            name,
            real_pod_spec(sb, containers.clone()),
        ))
        .expect("deployment");
        deploys
            .create(&PostParams::default(), &d)
            .await
            .expect("create faulty deployment");
    }

    let mut threads = Vec::new();
    for (name, rule, _) in &faulty {
        let needle = format!("Pod/{name}-");
        let ts = wait_for(&rec, &format!("{rule} for {name}"), REAL, |reqs| {
            parents(reqs, &needle)
                .into_iter()
                .find(|r| r.text().contains(rule))
                .and_then(|r| r.ts.clone())
        })
        .await;
        threads.push((*name, *rule, ts));
    }

    // Fix every workload: a command that runs, an image that exists, no failing probe.
    for (name, _, _) in &faulty {
        let fixed = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "app", "image": debian, "command": ["sleep", "3600"],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}},
            "readinessProbe": null,
        }]}}}});
        deploys
            .patch(name, &PatchParams::default(), &Patch::Strategic(fixed))
            .await
            .expect("fix the workload");
    }
    for (name, rule, ts) in &threads {
        wait_for(
            &rec,
            &format!("{rule} on {name} resolved in its thread"),
            REAL,
            |reqs| thread_resolved(reqs, ts).then_some(()),
        )
        .await;
    }
    let reqs = rec.delivered();
    for (name, rule, _) in &threads {
        let needle = format!("Pod/{name}-");
        let of_rule: Vec<_> = parents(&reqs, &needle)
            .into_iter()
            .filter(|r| r.text().contains(rule))
            .collect();
        assert_eq!(
            of_rule.len(),
            1,
            "{rule} on {name}: exactly one incident message, got {}",
            of_rule.len()
        );
        assert_eq!(
            of_rule[0].authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(of_rule[0].channel(), Some("C-REAL"));
    }
    // No incident message beyond the four, and nothing for the namespaces' other pods.
    let incidents = parents(&reqs, "Pod/").len();
    assert_eq!(
        incidents, 4,
        "exactly one incident per fault, got {incidents}"
    );
    vigil_env(Some(sb), &["agent", "uninstall", "-n", &ns], &[])
        .await
        .ok();
    let _ = namespaces.delete(&tenant, &DeleteParams::default()).await;
    let _ = std::fs::remove_dir_all(dir);
}
