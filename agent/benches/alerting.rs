//! Alerting benchmarks against the sandbox (figures for docs/benchmarks.md, section
//! "alerting"):
//!
//! * latency: a `for: 0` rule, 200 incidents; time from the pod status patch (the API
//!   change) to the Slack recorder receiving the `chat.postMessage`; p50/p99.
//! * scale: 10,000 pods on 100 fake nodes; the agent's peak RSS and steady-state CPU,
//!   standalone (every pod, every rule) and as one DaemonSet agent (its node's pods, and
//!   the leader's nodes, workloads and PVCs).
//!
//! `cargo bench -p vigil-agent --bench alerting` (`VIGIL_BENCH_PART=latency|scale`,
//! `VIGIL_BENCH_PODS=10000`, `VIGIL_BENCH_NODES=100`, `VIGIL_BENCH_INCIDENTS=200`).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use vigil_tests::{
    ChildProcess, FakeKubelet, SlackRecorder, client_from_kubeconfig, eventually, unique,
};

const BIN: &str = env!("CARGO_BIN_EXE_vigil-agent");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_agent(kubeconfig: &Path, config: &Path, node: Option<&str>, log: &Path) -> ChildProcess {
    let _ = std::fs::remove_file(log);
    let mut cmd = Command::new(BIN);
    cmd.args(["cluster", "--config"])
        .arg(config)
        .env("KUBECONFIG", kubeconfig)
        .env("VIGIL_LOG", "info,kube=warn")
        .env_remove("NODE_NAME")
        .env_remove("POD_NAME");
    if let Some(n) = node {
        cmd.arg("--node").arg(n);
    }
    ChildProcess::spawn(cmd, log.to_path_buf())
}

fn config(dir: &Path, ns: &str, api: &str, pool: &str, extra: &str) -> PathBuf {
    let token = dir.join("token");
    std::fs::write(&token, "xoxb-bench").unwrap();
    let p = dir.join("cluster.yaml");
    std::fs::write(
        &p,
        format!(
            "cluster:
  name: bench
  namespace: {ns}
  namespaces: [{ns}]
  node_selector: vigil.dev/pool={pool}
{extra}
rules: {{PodCrashLooping: {{for: 0s}}}}
slack:
  default: {{bot_token: {{file: {}}}, channel: C-BENCH}}
  api_url: {api}
  min_interval: 100ms
",
            token.display()
        ),
    )
    .unwrap();
    p
}

async fn namespace(client: &kube::Client, prefix: &str) -> String {
    let name = unique(prefix);
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    name
}

fn pod_json(ns: &str, name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "bench"}},
        "spec": {"nodeName": node, "automountServiceAccountToken": false,
                 "containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn latency(sb: &vigil_tests::Sandbox, client: &kube::Client, dir: &Path) {
    let n = env_usize("VIGIL_BENCH_INCIDENTS", 200);
    let ns = namespace(client, "bench-lat").await;
    let rec = SlackRecorder::start().await.unwrap();
    // a node object without a kubelet: the statuses below stay as written, and the pod
    // garbage collector leaves pods on an existing node alone
    let ghost = unique("bench-ghost");
    let node: k8s_openapi::api::core::v1::Node =
        serde_json::from_value(json!({"metadata": {"name": ghost}})).unwrap();
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let cfg = config(
        dir,
        &ns,
        &rec.api_url(),
        &unique("none"),
        &format!("  state_file: {}", dir.join("lat-state.json").display()),
    );
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for i in 0..n {
        pods.create(
            &PostParams::default(),
            &pod_json(&ns, &format!("lat-{i}"), &ghost),
        )
        .await
        .unwrap();
    }
    let log = dir.join("agent-latency.log");
    let _agent = start_agent(&sb.kubeconfig, &cfg, None, &log);
    eventually("agent evaluating", Duration::from_secs(60), || async {
        let l = std::fs::read_to_string(&log).unwrap_or_default();
        if l.contains("alert evaluation running") {
            Ok(())
        } else {
            Err(l)
        }
    })
    .await;
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("lat-{i}");
        let status = json!({"status": {"phase": "Running",
            "containerStatuses": [{"name": "app", "image": "registry.example/app:1", "imageID": "",
                "ready": false, "restartCount": 3,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}});
        let t0 = Instant::now();
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        let obj = format!("Pod/{name}`");
        let at = eventually(&format!("{name} posted"), Duration::from_secs(30), || {
            let r = rec
                .delivered()
                .into_iter()
                .find(|r| r.method == "chat.postMessage" && r.text().contains(&obj))
                .map(|r| r.at)
                .ok_or_else(|| "not yet".to_string());
            async move { r }
        })
        .await;
        lat.push(at.duration_since(t0));
        // pacing: stay under the channel's min_interval so the rate limit is not measured
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    lat.sort();
    println!(
        "latency over {n} incidents (for: 0): p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.9).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        lat.last().unwrap().as_secs_f64() * 1000.0
    );
    let _ = pods
        .delete_collection(
            &DeleteParams::default().grace_period(0),
            &Default::default(),
        )
        .await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    let _ = nodes.delete(&ghost, &DeleteParams::default()).await;
}

/// (peak RSS MiB, CPU seconds so far) of a process.
fn usage(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (hwm, ticks / 100.0)
}

async fn scale(sb: &vigil_tests::Sandbox, client: &kube::Client, dir: &Path) {
    let (n_pods, n_nodes) = (
        env_usize("VIGIL_BENCH_PODS", 10_000),
        env_usize("VIGIL_BENCH_NODES", 100),
    );
    let kubelet = FakeKubelet::start(client.clone(), "bench-scale", n_nodes)
        .await
        .unwrap();
    let nodes = kubelet.node_names().to_vec();
    let ns = namespace(client, "bench-scale").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let t = Instant::now();
    futures::stream::iter(0..n_pods)
        .for_each_concurrent(16, |i| {
            let pods = pods.clone();
            let p = pod_json(&ns, &format!("s-{i}"), &nodes[i % nodes.len()]);
            async move {
                pods.create(&PostParams::default(), &p).await.unwrap();
            }
        })
        .await;
    eprintln!(
        "created {n_pods} pods in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    // steady state means the fake kubelet has reported every pod
    eventually("every pod running", Duration::from_secs(900), || async {
        let l = pods
            .list(&Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let running = l
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running == n_pods {
            Ok(())
        } else {
            Err(format!("{running} running"))
        }
    })
    .await;
    eprintln!("all running after {:.0} s", t.elapsed().as_secs_f64());
    let rec = SlackRecorder::start().await.unwrap();
    let mut results = Vec::new();
    for (mode, node) in [
        ("standalone (all pods, all rules)", None),
        ("DaemonSet agent + leader", Some(nodes[0].clone())),
    ] {
        let extra = match node {
            None => format!("  state_file: {}", dir.join("scale-state.json").display()),
            Some(_) => "  lease_duration: 15s".to_string(),
        };
        let cfg = config(dir, &ns, &rec.api_url(), kubelet.pool(), &extra);
        let log = dir.join("agent-scale.log");
        let agent = start_agent(&sb.kubeconfig, &cfg, node.as_deref(), &log);
        let pid = agent.id();
        let t = Instant::now();
        let want = if node.is_some() { 2 } else { 1 };
        eventually("watchers synced", Duration::from_secs(300), || async {
            let l = std::fs::read_to_string(&log).unwrap_or_default();
            let n = l.matches("alert evaluation running").count();
            if n >= want {
                Ok(())
            } else {
                Err(format!("{n} scopes running"))
            }
        })
        .await;
        let sync = t.elapsed();
        // steady state: no changes, the fake kubelet keeps heartbeating
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (_, cpu0) = usage(pid);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (hwm, cpu1) = usage(pid);
        let cpu = (cpu1 - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
        results.push((mode, sync, hwm, cpu));
        drop(agent);
    }
    println!("| agent | pods watched | initial sync | peak RSS | steady-state CPU |");
    println!("| --- | --- | --- | --- | --- |");
    for (mode, sync, hwm, cpu) in results {
        let watched = if mode.starts_with("standalone") {
            n_pods
        } else {
            n_pods / n_nodes
        };
        println!(
            "| {mode} | {watched} | {:.1} s | {hwm:.1} MiB | {cpu:.2} % of a core |",
            sync.as_secs_f64()
        );
    }
    let _ = pods
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await;
    eventually("pods gone", Duration::from_secs(600), || async {
        let left = pods
            .list(&Default::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(1);
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} left"))
        }
    })
    .await;
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    kubelet.shutdown().await.unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(sb) = vigil_tests::sandbox() else {
        eprintln!("the alerting benchmark needs the sandbox: scripts/sandbox up");
        std::process::exit(1);
    };
    let client = client_from_kubeconfig(&sb.kubeconfig).await;
    let dir = std::env::temp_dir().join(unique("vigil-bench-alerting"));
    std::fs::create_dir_all(&dir).unwrap();
    let part = std::env::var("VIGIL_BENCH_PART").unwrap_or_else(|_| "all".into());
    if part == "all" || part == "latency" {
        latency(sb, &client, &dir).await;
    }
    if part == "all" || part == "scale" {
        scale(sb, &client, &dir).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
