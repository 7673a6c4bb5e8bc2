//! Kubernetes health: kube-runtime watchers (with backoff) feed reflector stores; on
//! every evaluation the rules in [`pods`], [`nodes`] and [`workloads`] turn the stores'
//! current objects into signals. A node agent watches only its node's pods; the leader
//! watches nodes, workloads, PVCs and unscheduled pods ([`leader`] elects it).
pub mod leader;
pub mod nodes;
pub mod pods;
mod slim;
pub mod workloads;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::alerts::rules::Rules;
use crate::alerts::signal::Signal;
use nodes::NodeRules;
use pods::PodRules;
use workloads::{Workload, evaluate_pvc, evaluate_workload};

/// The label that names an object's tenant (set by `vigil tenant`).
pub use vigil_contract::names::TENANT_LABEL;

/// Tenant lookup: the object's `vigil.dev/tenant` label, else the configured
/// namespace → tenant map.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub namespaces: BTreeMap<String, String>,
}

impl Context {
    pub fn tenant(&self, ns: &str, labels: Option<&BTreeMap<String, String>>) -> Option<String> {
        labels
            .and_then(|l| l.get(TENANT_LABEL).cloned())
            .or_else(|| self.namespaces.get(ns).cloned())
    }
}

/// Which pods a source watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodScope {
    /// Pods bound to this node (a DaemonSet agent).
    Node(String),
    /// Pods not bound to any node (the leader: Pending-unschedulable).
    Unscheduled,
    /// Every pod (standalone).
    All,
}

/// What one source watches.
#[derive(Debug, Clone)]
pub struct Watch {
    pub pods: Option<PodScope>,
    /// Nodes, workloads and PVCs.
    pub cluster: bool,
    /// Label selector limiting the watched nodes.
    pub node_selector: Option<String>,
}

fn reflect<K>(
    api: Api<K>,
    cfg: watcher::Config,
    trigger: Arc<Notify>,
    tasks: &mut JoinSet<()>,
) -> Store<K>
where
    K: Resource
        + Clone
        + DeserializeOwned
        + serde::Serialize
        + Debug
        + Send
        + Sync
        + slim::Slim
        + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store();
    let kind = K::kind(&K::DynamicType::default()).to_string();
    tasks.spawn(async move {
        let stream = watcher(api, cfg)
            .default_backoff()
            .modify(K::slim)
            .reflect(writer);
        futures::pin_mut!(stream);
        // what each object looked like at the last evaluation trigger: updates that change
        // nothing the rules read (heartbeats, resync) trigger nothing
        let mut seen: HashMap<String, u64> = HashMap::new();
        let key = |o: &K| {
            format!(
                "{}/{}",
                o.meta().namespace.as_deref().unwrap_or(""),
                o.meta().name.as_deref().unwrap_or("")
            )
        };
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    let digest = digest(&o);
                    if seen.insert(key(&o), digest) != Some(digest) {
                        trigger.notify_one();
                    }
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(&key(&o));
                    trigger.notify_one();
                }
                Ok(_) => trigger.notify_one(),
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "watch failed; retrying with backoff")
                }
            }
        }
    });
    reader
}

fn digest<K: serde::Serialize>(o: &K) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(&serde_json::to_vec(o).unwrap_or_default());
    h.finish()
}

/// Watched objects plus the rules' memory (restart history, Ready transitions).
pub struct KubeSource {
    pods: Option<Store<Pod>>,
    nodes: Option<Store<Node>>,
    deployments: Option<Store<Deployment>>,
    statefulsets: Option<Store<StatefulSet>>,
    daemonsets: Option<Store<DaemonSet>>,
    pvcs: Option<Store<PersistentVolumeClaim>>,
    pod_rules: PodRules,
    node_rules: NodeRules,
    rules: Arc<Rules>,
    cx: Context,
    tasks: JoinSet<()>,
}

impl KubeSource {
    /// Starts the watchers; `trigger` is notified on every change.
    pub fn start(
        client: kube::Client,
        watch: &Watch,
        rules: Arc<Rules>,
        cx: Context,
        trigger: Arc<Notify>,
    ) -> KubeSource {
        let mut tasks = JoinSet::new();
        let pods = watch.pods.as_ref().map(|scope| {
            let cfg = match scope {
                PodScope::Node(n) => {
                    watcher::Config::default().fields(&format!("spec.nodeName={n}"))
                }
                PodScope::Unscheduled => watcher::Config::default().fields("spec.nodeName="),
                PodScope::All => watcher::Config::default(),
            };
            reflect(
                Api::<Pod>::all(client.clone()),
                cfg,
                trigger.clone(),
                &mut tasks,
            )
        });
        let c = watch.cluster;
        let cfg = watcher::Config::default;
        KubeSource {
            pods,
            nodes: c.then(|| {
                let ncfg = match &watch.node_selector {
                    Some(sel) => cfg().labels(sel),
                    None => cfg(),
                };
                reflect(Api::all(client.clone()), ncfg, trigger.clone(), &mut tasks)
            }),
            deployments: c
                .then(|| reflect(Api::all(client.clone()), cfg(), trigger.clone(), &mut tasks)),
            statefulsets: c
                .then(|| reflect(Api::all(client.clone()), cfg(), trigger.clone(), &mut tasks)),
            daemonsets: c
                .then(|| reflect(Api::all(client.clone()), cfg(), trigger.clone(), &mut tasks)),
            pvcs: c.then(|| reflect(Api::all(client.clone()), cfg(), trigger.clone(), &mut tasks)),
            pod_rules: PodRules::default(),
            node_rules: NodeRules::default(),
            rules,
            cx,
            tasks,
        }
    }

    /// Waits until every store holds its initial list (so nothing is resolved by mistake
    /// right after a start).
    pub async fn ready(&self) {
        macro_rules! wait {
            ($s:expr) => {
                if let Some(s) = &$s {
                    let _ = s.wait_until_ready().await;
                }
            };
        }
        wait!(self.pods);
        wait!(self.nodes);
        wait!(self.deployments);
        wait!(self.statefulsets);
        wait!(self.daemonsets);
        wait!(self.pvcs);
    }

    /// The complete set of active signals right now.
    pub fn signals(&mut self) -> Vec<Signal> {
        let mut out = Vec::new();
        let rules = self.rules.clone();
        if let Some(pods) = &self.pods {
            let state = pods.state();
            if self.pod_rules.has_history() {
                let live: HashSet<String> = state
                    .iter()
                    .map(|p| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()))
                    .collect();
                self.pod_rules.retain(&live);
            }
            for p in state {
                self.pod_rules.evaluate(&p, &rules, &self.cx, &mut out);
            }
        }
        if let Some(nodes) = &self.nodes {
            let state = nodes.state();
            let live: HashSet<String> = state.iter().map(|n| n.name_any()).collect();
            self.node_rules.retain(&live);
            for n in state {
                self.node_rules.evaluate(&n, &rules, &self.cx, &mut out);
            }
        }
        for d in self.deployments.iter().flat_map(|s| s.state()) {
            evaluate_workload(Workload::Deployment(&d), &rules, &self.cx, &mut out);
        }
        for d in self.statefulsets.iter().flat_map(|s| s.state()) {
            evaluate_workload(Workload::StatefulSet(&d), &rules, &self.cx, &mut out);
        }
        for d in self.daemonsets.iter().flat_map(|s| s.state()) {
            evaluate_workload(Workload::DaemonSet(&d), &rules, &self.cx, &mut out);
        }
        for p in self.pvcs.iter().flat_map(|s| s.state()) {
            evaluate_pvc(&p, &rules, &self.cx, &mut out);
        }
        out
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

#[cfg(test)]
mod tests;
