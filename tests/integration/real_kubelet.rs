//! The fake kubelet stays honest: the same four faults played by the real kubelet 1.20 on the
//! sandbox's real nodes and by the fake kubelet must give the pod-status fields the alert
//! rules read, and the same rules firing.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use vigil_agent::alerts::rules::Context;
use vigil_agent::alerts::rules::pods::PodRules;
use vigil_tests::{FakeKubelet, Fault, eventually, require_sandbox};

const REAL: Duration = Duration::from_secs(180);

/// What the pod rules read, with the kubelet's free-text messages left out.
fn projection(p: &Pod) -> Value {
    let s = p.status.clone().unwrap_or_default();
    let ready = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone());
    let containers: Vec<Value> = s
        .container_statuses
        .iter()
        .flatten()
        .map(|c| {
            let state = c.state.clone().unwrap_or_default();
            let kind = if state.running.is_some() {
                "running"
            } else if state.terminated.is_some() {
                "terminated"
            } else {
                "waiting"
            };
            let last = c.last_state.as_ref().and_then(|l| l.terminated.as_ref());
            json!({
                "ready": c.ready,
                "state": kind,
                "waiting_reason": state.waiting.and_then(|w| w.reason),
                "last_reason": last.and_then(|t| t.reason.clone()),
                "last_exit_code": last.map(|t| t.exit_code),
                "restarted": c.restart_count > 0,
            })
        })
        .collect();
    json!({"phase": s.phase, "ready": ready, "containers": containers})
}

fn rules_fired(p: &Pod) -> BTreeSet<String> {
    let mut out = Vec::new();
    PodRules::default().evaluate(
        p,
        &vigil_agent::alerts::rules::Rules::defaults(),
        &Context::default(),
        &mut out,
    );
    out.into_iter().map(|s| s.rule).collect()
}

fn container(state: &Pod) -> Value {
    projection(state)["containers"][0].clone()
}

/// The steady state of each fault as the real kubelet shows it (it also passes through
/// others: ErrImagePull before ImagePullBackOff, a terminated container between back-offs).
fn settled(fault: &str, p: &Pod) -> bool {
    let c = container(p);
    match fault {
        "crash" => {
            c["waiting_reason"] == "CrashLoopBackOff"
                && c["last_reason"] == "Error"
                && c["restarted"] == true
        }
        "oom" => c["waiting_reason"] == "CrashLoopBackOff" && c["last_reason"] == "OOMKilled",
        "pull" => c["waiting_reason"] == "ImagePullBackOff",
        "unready" => c["state"] == "running" && c["ready"] == false,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_nodes_fake_kubelet_writes_what_the_real_kubelet_writes() {
    let sb = require_sandbox!();
    let client = sb.client().await;
    let ns = crate::unique("real-kubelet");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
        )
        .await
        .expect("namespace");
    let fake = FakeKubelet::start(client.clone(), "rk", 1)
        .await
        .expect("fake kubelet");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let debian = &sb.images.debian;
    let limits = json!({"requests": {"cpu": "10m", "memory": "20Mi"}, "limits": {"cpu": "200m", "memory": "20Mi"}});
    let faults = [
        (
            "crash",
            Fault::CrashLoop,
            json!({"name": "app", "image": debian, "command": ["sh", "-c", "exit 1"]}),
        ),
        (
            "oom",
            Fault::OomKilled,
            json!({"name": "app", "image": debian, "resources": limits,
            "command": ["python3", "-c", "b = bytearray(200 * 1024 * 1024)"]}),
        ),
        (
            "pull",
            Fault::ImagePullBackOff,
            json!({"name": "app", "image": "localhost/vigil-sandbox/does-not-exist:1"}),
        ),
        (
            "unready",
            Fault::NotReady,
            json!({"name": "app", "image": debian, "command": ["sleep", "3600"],
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2, "failureThreshold": 1}}),
        ),
    ];
    for (name, _, c) in &faults {
        for (placement, suffix) in [(sb.real_placement(), "real"), (fake.placement(), "fake")] {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": {"name": format!("{name}-{suffix}"), "namespace": ns},
                "spec": {"automountServiceAccountToken": false, "terminationGracePeriodSeconds": 1,
                         "nodeSelector": placement.0, "tolerations": [placement.1], "containers": [c]},
            }))
            .expect("pod");
            pods.create(&PostParams::default(), &pod)
                .await
                .expect("create pod");
        }
    }
    for (name, fault, _) in &faults {
        let fake_name = format!("{name}-fake");
        eventually(&format!("{fake_name} running"), REAL, || async {
            let p = pods.get(&fake_name).await.map_err(|e| e.to_string())?;
            (p.status.and_then(|s| s.phase).as_deref() == Some("Running"))
                .then_some(())
                .ok_or_else(|| "not yet".to_owned())
        })
        .await;
        fake.inject(&ns, &fake_name, fault.clone())
            .await
            .expect("inject");
    }
    let mut differences = Vec::new();
    for (name, _, _) in &faults {
        let settled_pod = |kubelet: &'static str| {
            let pods = pods.clone();
            async move {
                eventually(
                    &format!("{name} settled on the {kubelet} kubelet"),
                    REAL,
                    || async {
                        let p = pods
                            .get(&format!("{name}-{kubelet}"))
                            .await
                            .map_err(|e| e.to_string())?;
                        if settled(name, &p) {
                            Ok(p)
                        } else {
                            Err(format!("{}", projection(&p)))
                        }
                    },
                )
                .await
            }
        };
        let real = settled_pod("real").await;
        let fake_pod = settled_pod("fake").await;
        let (r, f) = (projection(&real), projection(&fake_pod));
        if r != f {
            differences.push(format!("{name}: real {r}\n      fake {f}"));
        }
        let (rr, fr) = (rules_fired(&real), rules_fired(&fake_pod));
        if rr != fr {
            differences.push(format!("{name}: rules on real {rr:?}, on fake {fr:?}"));
        }
    }
    assert!(
        differences.is_empty(),
        "the fake kubelet differs from the real one:\n{}",
        differences.join("\n")
    );
    fake.shutdown().await.expect("fake kubelet stops");
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}
