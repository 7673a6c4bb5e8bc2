//! Helpers for the alerting tests: a unique namespace per test, pods placed on a fake
//! kubelet's pool, the cluster agent as a child process, and its configuration.
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use vigil_tests::{ChildProcess, FakeKubelet, Sandbox, SlackRecorder};
pub use vigil_tests::{parents, replies, resolved_replies, thread_resolved, updates};

pub use vigil_tests::unique;

use crate::common::{BIN, TempDir};

pub const LONG: Duration = Duration::from_secs(90);

/// A namespace deleted when the test ends.
pub struct Ns {
    pub name: String,
    client: kube::Client,
}

impl Ns {
    pub async fn create(client: &kube::Client, prefix: &str) -> Ns {
        let name = unique(prefix);
        let api: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        api.create(&PostParams::default(), &ns).await.unwrap();
        Ns {
            name,
            client: client.clone(),
        }
    }
}

/// Runs a clean-up future to completion from `Drop`, also while a test panics.
fn cleanup(f: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(f);
        }
    })
    .join();
}

impl Drop for Ns {
    fn drop(&mut self) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let name = self.name.clone();
        cleanup(async move {
            let _ = api.delete(&name, &DeleteParams::default()).await;
        });
    }
}

/// Deletes a fake kubelet's nodes when dropped, so a failed test leaves no dead nodes
/// behind for other tests' node rules.
pub struct NodesGuard {
    pub client: kube::Client,
    pub names: Vec<String>,
}

impl NodesGuard {
    pub fn of(client: &kube::Client, kubelet: &FakeKubelet) -> NodesGuard {
        NodesGuard {
            client: client.clone(),
            names: kubelet.node_names().to_vec(),
        }
    }
}

impl Drop for NodesGuard {
    fn drop(&mut self) {
        let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client.clone());
        let names = std::mem::take(&mut self.names);
        cleanup(async move {
            for n in names {
                let _ = api.delete(&n, &DeleteParams::default()).await;
            }
        });
    }
}

/// A bare pod (one container `app`) on the kubelet's pool, optionally on a given node.
pub async fn pod(
    client: &kube::Client,
    ns: &str,
    name: &str,
    kubelet: &FakeKubelet,
    node: Option<&str>,
) {
    let (selector, toleration) = kubelet.placement();
    let mut spec = json!({
        "automountServiceAccountToken": false,
        "containers": [{"name": "app", "image": "registry.example/app:1"}],
        "nodeSelector": selector,
        "tolerations": [toleration],
    });
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    let p: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &p)
        .await
        .unwrap();
}

/// Waits until the fake kubelet runs the pod (Running and Ready).
pub async fn running(client: &kube::Client, ns: &str, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    vigil_tests::eventually(&format!("pod {ns}/{name} running"), LONG, || {
        let api = api.clone();
        async move {
            let p = api.get(name).await.map_err(|e| e.to_string())?;
            let ready = p
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            if ready {
                Ok(())
            } else {
                Err(format!("{:?}", p.status.map(|s| s.phase)))
            }
        }
    })
    .await;
}

/// The cluster agent as a child process, killed (SIGKILL) when dropped.
pub struct Agent(ChildProcess);

impl Agent {
    pub fn start(
        sb: &Sandbox,
        dir: &TempDir,
        config: &PathBuf,
        node: Option<&str>,
        tag: &str,
    ) -> Agent {
        let mut cmd = Command::new(BIN);
        cmd.arg("cluster")
            .arg("--config")
            .arg(config)
            .env("KUBECONFIG", &sb.kubeconfig)
            .env("VIGIL_LOG", "info,kube=warn")
            .env_remove("NODE_NAME")
            .env_remove("POD_NAME");
        if let Some(n) = node {
            cmd.arg("--node").arg(n);
        }
        Agent(ChildProcess::spawn(
            cmd,
            dir.path().join(format!("agent-{tag}.log")),
        ))
    }

    /// A crash: SIGKILL, nothing flushed.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    pub fn logs(&self) -> String {
        self.0.logs()
    }
}

/// A cluster agent configuration posting with a bot token to the recorder.
pub fn bot_config(
    dir: &TempDir,
    api_url: &str,
    ns: &str,
    cluster_extra: &str,
    extra: &str,
) -> PathBuf {
    let token = crate::common::secret(dir, "token", "xoxb-test-token");
    let text = format!(
        "cluster:
  name: it
  namespace: {ns}
  evaluation_interval: 200ms
  namespaces: [{ns}]
{cluster_extra}
{extra}
slack:
  default: {{bot_token: {token}, channel: C-OPS}}
  api_url: {api_url}
  min_interval: 100ms
"
    );
    dir.file("cluster.yaml", &text)
}

/// Waits until the agent has recorded a delivery in its persisted ledger: from then on a
/// crash cannot make it post that message again.
pub async fn ledger_persisted(store: &vigil_agent::alerts::store::Store, incidents: usize) {
    vigil_tests::eventually("the delivery is in the persisted ledger", LONG, || async {
        let doc = store.load().await.map_err(|e| e.to_string())?;
        if doc.ledger.len() >= incidents {
            Ok(())
        } else {
            Err(format!("{} ledger entries", doc.ledger.len()))
        }
    })
    .await;
}

/// What the Kubernetes alerting tests start from, all named after `prefix`: a client, a fake
/// kubelet with `nodes` nodes of its own pool, a namespace, the Slack recorder, a temporary
/// directory and the guard that deletes the kubelet's nodes when the test ends.
pub async fn stage(
    sb: &Sandbox,
    prefix: &str,
    nodes: usize,
) -> (
    kube::Client,
    FakeKubelet,
    Ns,
    SlackRecorder,
    TempDir,
    NodesGuard,
) {
    let client = vigil_tests::client_from_kubeconfig(&sb.kubeconfig).await;
    let kubelet = FakeKubelet::start(client.clone(), prefix, nodes)
        .await
        .unwrap();
    let guard = NodesGuard::of(&client, &kubelet);
    let ns = Ns::create(&client, prefix).await;
    let rec = SlackRecorder::start().await.unwrap();
    (client, kubelet, ns, rec, TempDir::new(prefix), guard)
}

/// A Deployment `name` of `replicas` pods (`app=NAME`, plus `labels` on it and its pods) on
/// the kubelet's pool; returns once every replica is available.
pub async fn available_deployment(
    client: &kube::Client,
    ns: &str,
    name: &str,
    replicas: i32,
    kubelet: &FakeKubelet,
    labels: serde_json::Value,
) -> Api<Deployment> {
    let (selector, toleration) = kubelet.placement();
    let mut pod_labels = labels.clone();
    pod_labels["app"] = json!(name);
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "automountServiceAccountToken": false,
                    "containers": [{"name": "app", "image": format!("registry.example/{name}:1")}],
                    "nodeSelector": selector, "tolerations": [toleration],
                },
            },
        },
    }))
    .unwrap();
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), ns);
    deploys
        .create(&PostParams::default(), &deploy)
        .await
        .unwrap();
    vigil_tests::eventually("deployment available", LONG, || async {
        let d = deploys.get(name).await.map_err(|e| e.to_string())?;
        let a = d.status.and_then(|s| s.available_replicas).unwrap_or(0);
        if a == replicas {
            Ok(())
        } else {
            Err(format!("{a} available"))
        }
    })
    .await;
    deploys
}

/// The `cluster:` lines of a standalone agent: state in `dir/state.json`, only the nodes of
/// `pool` (other tests' fake nodes are not this test's business).
pub fn standalone(dir: &TempDir, pool: &str) -> String {
    format!(
        "  state_file: {}\n  node_selector: vigil.dev/pool={pool}",
        dir.path().join("state.json").display()
    )
}

/// The sandbox API server's `host:port`, from its kubeconfig.
pub fn api_address(sb: &Sandbox) -> String {
    let kubeconfig = std::fs::read_to_string(&sb.kubeconfig).unwrap();
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .unwrap()
        .to_string()
}

/// A kubeconfig for the sandbox whose server is `via` (a forwarder's address) instead.
pub fn kubeconfig_via(sb: &Sandbox, dir: &TempDir, via: std::net::SocketAddr) -> PathBuf {
    let kubeconfig = std::fs::read_to_string(&sb.kubeconfig).unwrap();
    dir.file(
        "kubeconfig",
        &kubeconfig.replace(&api_address(sb), &via.to_string()),
    )
}

/// `GET http://{addr}{path}`: status and body (an agent's /healthz, /readyz, /metrics).
pub async fn http_get(addr: &str, path: &str) -> Result<(u16, String), String> {
    let r = vigil_tests::http()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.map_err(|e| e.to_string())?))
}
