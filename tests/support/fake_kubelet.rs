//! A stand-in for the kubelet: no kubelet runs in the sandbox, so tests register fake
//! nodes, keep them Ready, run the pods the real scheduler binds to them and inject the
//! failures a service desk must hear about.
//!
//! Every `FakeKubelet` owns a *pool* of nodes with a unique name. Its nodes carry the
//! label and the `NoSchedule` taint `vigil.dev/pool=<pool>`, so only workloads that
//! select and tolerate the pool (see [`pool_placement`]) land there, and tests running
//! at the same time against one cluster stay out of each other's way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The label and taint key that ties nodes to their pool.
pub const POOL_KEY: &str = "vigil.dev/pool";
const FIELD_MANAGER: &str = "fake-kubelet";

/// A failure the fake kubelet plays out on one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The container exits with an error and is restarted with back-off; the restart
    /// count rises every [`FakeKubelet::crash_period`].
    CrashLoop,
    /// The container is killed for exceeding its memory limit each time it starts: it waits in
    /// CrashLoopBackOff, its last termination OOMKilled (as a real OOM loop shows).
    OomKilled,
    /// The image cannot be pulled: the pod stays Pending.
    ImagePullBackOff,
    /// The container runs but its readiness probe fails.
    NotReady,
    /// The kubelet evicted the pod (node pressure): phase Failed, reason Evicted.
    Evicted,
}

/// Node conditions besides Ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pressure {
    Memory,
    Disk,
    Pid,
}

impl Pressure {
    fn condition(self) -> &'static str {
        match self {
            Pressure::Memory => "MemoryPressure",
            Pressure::Disk => "DiskPressure",
            Pressure::Pid => "PIDPressure",
        }
    }
}

#[derive(Default)]
struct NodeState {
    heartbeat: bool,
    pressure: HashSet<Pressure>,
}

#[derive(Default)]
struct State {
    nodes: BTreeMap<String, NodeState>,
    faults: HashMap<(String, String), (Fault, u32)>,
    /// Pods whose fault came from the [`FAULT_ANNOTATION`] (cleared when it goes).
    annotated: HashSet<(String, String)>,
}

/// A pod annotated `vigil.dev/fake-fault: crash-loop|oom-killed|image-pull-back-off|not-ready|evicted`
/// plays that fault: how the demo and people at a terminal inject failures
/// (`kubectl annotate pod P vigil.dev/fake-fault=crash-loop`).
pub const FAULT_ANNOTATION: &str = "vigil.dev/fake-fault";

/// A pod annotated `vigil.dev/fake-status: by-test` keeps the status the test wrote: the
/// fake kubelet only confirms its deletion. For scale tests that set thousands of statuses
/// once, without the kubelet's periodic restarts.
pub const STATUS_BY_TEST_ANNOTATION: &str = "vigil.dev/fake-status";

impl Fault {
    fn from_annotation(value: &str) -> Option<Fault> {
        Some(match value {
            "crash-loop" => Fault::CrashLoop,
            "oom-killed" => Fault::OomKilled,
            "image-pull-back-off" => Fault::ImagePullBackOff,
            "not-ready" => Fault::NotReady,
            "evicted" => Fault::Evicted,
            _ => return None,
        })
    }
}

struct Shared {
    client: kube::Client,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Nodes of one pool kept alive, and their pods run, until [`FakeKubelet::shutdown`].
pub struct FakeKubelet {
    pool: String,
    node_names: Vec<String>,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

/// The node selector and toleration that place a workload on a pool's nodes.
pub fn pool_placement(pool: &str) -> (BTreeMap<String, String>, Toleration) {
    (
        BTreeMap::from([(POOL_KEY.to_string(), pool.to_string())]),
        Toleration {
            key: Some(POOL_KEY.to_string()),
            operator: Some("Equal".to_string()),
            value: Some(pool.to_string()),
            effect: Some("NoSchedule".to_string()),
            ..Default::default()
        },
    )
}

impl FakeKubelet {
    /// How often node heartbeats and leases are renewed.
    pub const HEARTBEAT: Duration = Duration::from_secs(2);
    /// How often a crash-looping container's restart count rises.
    pub const CRASH_PERIOD: Duration = Duration::from_secs(5);

    /// Registers `nodes` Ready nodes in a new pool named after `prefix` and starts
    /// running the pods bound to them.
    pub async fn start(client: kube::Client, prefix: &str, nodes: usize) -> anyhow::Result<Self> {
        Self::start_with(client, prefix, nodes, &[], &[]).await
    }

    /// Like [`FakeKubelet::start`], with extra labels and taints (`(key, value, effect)`) on
    /// every node of the pool, e.g. to play control-plane nodes.
    pub async fn start_with(
        client: kube::Client,
        prefix: &str,
        nodes: usize,
        labels: &[(&str, &str)],
        taints: &[(&str, &str, &str)],
    ) -> anyhow::Result<Self> {
        let pool = crate::unique(prefix);
        let node_names: Vec<String> = (0..nodes).map(|i| format!("{pool}-{i}")).collect();
        let api: Api<Node> = Api::all(client.clone());
        for (i, name) in node_names.iter().enumerate() {
            let mut node_labels = json!({
                POOL_KEY: pool,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                // Zones of the pool's own: the node lifecycle controller slows or stops
                // evictions in a zone where many nodes are down, so pools must not share one.
                "topology.kubernetes.io/zone": format!("{pool}-zone-{}", i % 3),
            });
            for (k, v) in labels {
                node_labels[*k] = json!(v);
            }
            let mut node_taints =
                vec![json!({"key": POOL_KEY, "value": pool, "effect": "NoSchedule"})];
            for (k, v, effect) in taints {
                node_taints.push(json!({"key": k, "value": v, "effect": effect}));
            }
            let node: Node = serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": node_labels},
                "spec": {"taints": node_taints}
            }))?;
            api.create(&PostParams::default(), &node).await?;
        }
        let shared = Arc::new(Shared {
            client,
            state: Mutex::new(State {
                nodes: node_names
                    .iter()
                    .map(|n| {
                        (
                            n.clone(),
                            NodeState {
                                heartbeat: true,
                                ..Default::default()
                            },
                        )
                    })
                    .collect(),
                faults: HashMap::new(),
                annotated: HashSet::new(),
            }),
        });
        for name in &node_names {
            heartbeat(&shared, name).await?;
        }
        let tasks = vec![
            tokio::spawn(heartbeat_loop(shared.clone())),
            tokio::spawn(pod_loop(shared.clone())),
        ];
        Ok(Self {
            pool,
            node_names,
            shared,
            tasks,
        })
    }

    /// The pool's unique name (label and taint value).
    pub fn pool(&self) -> &str {
        &self.pool
    }

    pub fn node_names(&self) -> &[String] {
        &self.node_names
    }

    /// Node selector and toleration for this pool.
    pub fn placement(&self) -> (BTreeMap<String, String>, Toleration) {
        pool_placement(&self.pool)
    }

    /// Stops renewing the node's status and lease, as if it lost power; its pods are
    /// left as they are. The controller-manager marks it NotReady/Unknown after its
    /// grace period and taints it unreachable.
    pub fn stop_heartbeat(&self, node: &str) {
        if let Some(n) = self.shared.state().nodes.get_mut(node) {
            n.heartbeat = false;
        }
    }

    pub async fn resume_heartbeat(&self, node: &str) -> anyhow::Result<()> {
        if let Some(n) = self.shared.state().nodes.get_mut(node) {
            n.heartbeat = true;
        }
        heartbeat(&self.shared, node).await?;
        // A kubelet coming back reconciles its pods: deletions that happened while it was
        // gone are confirmed now, statuses reported again.
        let pods: Api<Pod> = Api::all(self.shared.client.clone());
        let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
        for pod in pods.list(&on_node).await?.items {
            sync_pod(&self.shared, &pod).await?;
        }
        Ok(())
    }

    /// Sets or clears a pressure condition on a node (reported on the next heartbeat, and now).
    pub async fn set_pressure(
        &self,
        node: &str,
        pressure: Pressure,
        on: bool,
    ) -> anyhow::Result<()> {
        if let Some(n) = self.shared.state().nodes.get_mut(node) {
            if on {
                n.pressure.insert(pressure);
            } else {
                n.pressure.remove(&pressure);
            }
        }
        heartbeat(&self.shared, node).await
    }

    /// Plays `fault` on a pod from now on (until [`FakeKubelet::heal`]).
    pub async fn inject(&self, namespace: &str, pod: &str, fault: Fault) -> anyhow::Result<()> {
        let restarts = if fault == Fault::OomKilled { 1 } else { 0 };
        self.shared
            .state()
            .faults
            .insert((namespace.to_string(), pod.to_string()), (fault, restarts));
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), namespace);
        let current = api.get(pod).await?;
        sync_pod(&self.shared, &current).await
    }

    /// Ends a fault: the pod runs normally again (restart counts stay as they were).
    pub async fn heal(&self, namespace: &str, pod: &str) -> anyhow::Result<()> {
        self.shared
            .state()
            .faults
            .remove(&(namespace.to_string(), pod.to_string()));
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), namespace);
        let current = api.get(pod).await?;
        sync_pod(&self.shared, &current).await
    }

    /// Stops the kubelet and deletes its nodes.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        let api: Api<Node> = Api::all(self.shared.client.clone());
        for name in &self.node_names {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

impl Drop for FakeKubelet {
    /// A test that panics never reaches [`FakeKubelet::shutdown`]: its nodes would stay
    /// behind, dead, and the controller-manager would keep tainting and evicting on them.
    /// Remove them from a thread of our own (the test's runtime is going away), with a
    /// fresh client from the sandbox's kubeconfig, bounded in time.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if self.tasks.is_empty() {
            return; // shut down already
        }
        let (pool, nodes) = (self.pool.clone(), self.node_names.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(sandbox) = crate::Sandbox::load() else {
                return;
            };
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let client = crate::client_from_kubeconfig(&sandbox.kubeconfig).await;
                let api: Api<Node> = Api::all(client);
                let params = DeleteParams::default();
                for name in &nodes {
                    let delete = api.delete(name, &params);
                    let _ = tokio::time::timeout(Duration::from_secs(5), delete).await;
                }
            });
            eprintln!("fake kubelet: removed the nodes of pool {pool} left by a failed test");
        });
        let _ = cleanup.join();
    }
}

async fn heartbeat_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(FakeKubelet::HEARTBEAT);
    let mut since_crash = Duration::ZERO;
    loop {
        tick.tick().await;
        let alive: Vec<String> = shared
            .state()
            .nodes
            .iter()
            .filter(|(_, n)| n.heartbeat)
            .map(|(name, _)| name.clone())
            .collect();
        for node in alive {
            if let Err(e) = heartbeat(&shared, &node).await {
                tracing::warn!(node = %node, error = %e, "fake kubelet heartbeat failed");
            }
        }
        since_crash += FakeKubelet::HEARTBEAT;
        if since_crash >= FakeKubelet::CRASH_PERIOD {
            since_crash = Duration::ZERO;
            if let Err(e) = advance_crash_loops(&shared).await {
                tracing::warn!(error = %e, "fake kubelet crash loop update failed");
            }
        }
    }
}

async fn advance_crash_loops(shared: &Arc<Shared>) -> anyhow::Result<()> {
    let crashing: Vec<(String, String)> = {
        let mut state = shared.state();
        state
            .faults
            .iter_mut()
            .filter(|(_, (fault, _))| *fault == Fault::CrashLoop)
            .map(|(key, (_, restarts))| {
                *restarts += 1;
                key.clone()
            })
            .collect()
    };
    for (namespace, name) in crashing {
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &namespace);
        if let Some(pod) = api.get_opt(&name).await? {
            sync_pod(shared, &pod).await?;
        }
    }
    Ok(())
}

/// Renews the node's Ready status and its lease.
async fn heartbeat(shared: &Arc<Shared>, node: &str) -> anyhow::Result<()> {
    let pressure = match shared.state().nodes.get(node) {
        Some(n) => n.pressure.clone(),
        None => return Ok(()),
    };
    let now = Timestamp::now().to_string();
    let mut conditions = vec![json!({
        "type": "Ready", "status": "True", "reason": "KubeletReady",
        "message": "fake kubelet is posting ready status",
        "lastHeartbeatTime": now, "lastTransitionTime": now,
    })];
    for p in [Pressure::Memory, Pressure::Disk, Pressure::Pid] {
        let on = pressure.contains(&p);
        conditions.push(json!({
            "type": p.condition(),
            "status": if on { "True" } else { "False" },
            "reason": if on { format!("KubeletHas{}", p.condition()) } else { format!("KubeletHasNo{}", p.condition()) },
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        }));
    }
    let status = json!({
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"},
            "conditions": conditions,
            "nodeInfo": {
                "kubeletVersion": "v1.20.2-fake", "kubeProxyVersion": "v1.20.2-fake",
                "operatingSystem": "linux", "architecture": "amd64",
                "containerRuntimeVersion": "fake://1.0", "osImage": "fake", "kernelVersion": "fake",
                "machineID": "", "systemUUID": "", "bootID": "",
            },
        }
    });
    let nodes: Api<Node> = Api::all(shared.client.clone());
    nodes
        .patch_status(node, &PatchParams::default(), &Patch::Strategic(status))
        .await?;
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()},
    });
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), "kube-node-lease");
    leases
        .patch(
            node,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(lease),
        )
        .await?;
    Ok(())
}

/// Watches every pod and runs those bound to this kubelet's live nodes.
async fn pod_loop(shared: Arc<Shared>) {
    let pods: Api<Pod> = Api::all(shared.client.clone());
    let stream = watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(pod)) => {
                if let Err(e) = sync_pod(&shared, &pod).await {
                    tracing::debug!(error = %e, "fake kubelet pod sync failed");
                }
            }
            Ok(None) => return,
            Err(e) => tracing::debug!(error = %e, "fake kubelet pod watch error"),
        }
    }
}

/// Brings one pod's status to what a kubelet would report for it.
async fn sync_pod(shared: &Arc<Shared>, pod: &Pod) -> anyhow::Result<()> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(());
    };
    let Some(node) = spec.node_name.as_deref() else {
        return Ok(());
    };
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let fault = {
        let mut state = shared.state();
        match state.nodes.get(node) {
            Some(n) if n.heartbeat => {}
            // Not ours, or a dead node: a dead kubelet reports nothing.
            _ => return Ok(()),
        }
        let key = (namespace.clone(), name.clone());
        let annotated = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(FAULT_ANNOTATION))
            .and_then(|v| Fault::from_annotation(v));
        match annotated {
            Some(fault) if state.faults.get(&key).map(|f| &f.0) != Some(&fault) => {
                let restarts = if fault == Fault::OomKilled { 1 } else { 0 };
                state.faults.insert(key.clone(), (fault, restarts));
                state.annotated.insert(key.clone());
            }
            None if state.annotated.remove(&key) => {
                state.faults.remove(&key);
            }
            _ => {}
        }
        state.faults.get(&key).cloned()
    };
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &namespace);
    if pod.metadata.deletion_timestamp.is_some() {
        // The containers stop at once: confirm the deletion as the kubelet does.
        match api
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    let by_test = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(STATUS_BY_TEST_ANNOTATION))
        .is_some_and(|v| v == "by-test");
    if by_test {
        return Ok(());
    }
    let desired = pod_status(pod, node, fault.as_ref());
    if status_matches(pod, &desired) {
        return Ok(());
    }
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": desired })),
    )
    .await?;
    Ok(())
}

fn status_matches(pod: &Pod, desired: &Value) -> bool {
    let Ok(current) = serde_json::to_value(pod.status.clone().unwrap_or_default()) else {
        return false;
    };
    let key = |v: &Value| {
        let containers: Vec<Value> = v["containerStatuses"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!([
                            c["name"],
                            c["ready"],
                            c["restartCount"],
                            c["state"]
                                .as_object()
                                .map(|o| o.keys().cloned().collect::<Vec<_>>()),
                            c["state"]["waiting"]["reason"],
                            c["lastState"]["terminated"]["reason"]
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ready = v["conditions"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "Ready")
                .map(|c| c["status"].clone())
        });
        json!([v["phase"], v["reason"], ready, containers])
    };
    key(&current) == key(desired)
}

fn pod_ip(pod: &Pod) -> String {
    // Fake addresses from the benchmarking range: nothing is ever sent to them.
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let h = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("198.19.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

/// kubelet's CrashLoopBackOff message.
fn back_off(pod: &Pod, container: &str) -> String {
    let m = &pod.metadata;
    format!(
        "back-off 10s restarting failed container={container} pod={}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

fn pod_status(pod: &Pod, node: &str, fault: Option<&(Fault, u32)>) -> Value {
    let now = Timestamp::now().to_string();
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| now.clone());
    let containers = pod
        .spec
        .as_ref()
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    let (phase, reason, ready) = match fault.map(|f| &f.0) {
        None => ("Running", None, true),
        Some(Fault::ImagePullBackOff) => ("Pending", None, false),
        Some(Fault::Evicted) => ("Failed", Some("Evicted"), false),
        Some(_) => ("Running", None, false),
    };
    let restarts = fault.map(|f| f.1).unwrap_or(0);
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let (state, last_state) = match fault.map(|f| &f.0) {
                None | Some(Fault::NotReady) => (json!({"running": {"startedAt": started}}), json!({})),
                // As kubelet 1.20 writes them (compared with the real kubelet by
                // tests/integration/real_kubelet.rs): a container that keeps failing waits in
                // CrashLoopBackOff with its last termination beside it.
                Some(Fault::CrashLoop) => (
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": back_off(pod, &c.name)}}),
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": now}}),
                ),
                Some(Fault::OomKilled) => (
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": back_off(pod, &c.name)}}),
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": started, "finishedAt": now}}),
                ),
                Some(Fault::ImagePullBackOff) => (
                    json!({"waiting": {"reason": "ImagePullBackOff",
                        "message": format!("Back-off pulling image \"{image}\"")}}),
                    json!({}),
                ),
                Some(Fault::Evicted) => (
                    json!({"terminated": {"exitCode": 137, "reason": "Evicted", "startedAt": started, "finishedAt": now}}),
                    json!({}),
                ),
            };
            json!({
                "name": c.name, "image": image, "imageID": format!("fake://{image}"),
                "containerID": format!("fake://{}", c.name),
                "ready": ready, "started": ready, "restartCount": restarts,
                "state": state, "lastState": last_state,
            })
        })
        .collect();
    let cond = |t: &str, ok: bool| json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": now});
    let mut status = json!({
        "phase": phase,
        "hostIP": "198.18.255.1",
        "podIP": pod_ip(pod),
        "startTime": started,
        "conditions": [
            cond("Initialized", true), cond("Ready", ready),
            cond("ContainersReady", ready), cond("PodScheduled", true),
        ],
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    });
    if let Some(reason) = reason {
        status["reason"] = json!(reason);
        status["message"] = json!(format!("The node {node} was low on resource: memory."));
    }
    status
}

/// The pods matching a label selector in a namespace.
pub async fn list_pods(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> anyhow::Result<Vec<Pod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .list(&ListParams::default().labels(selector))
        .await?
        .items)
}
