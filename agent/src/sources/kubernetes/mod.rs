//! Kubernetes: kube-runtime watchers (with backoff) feed reflector stores, and a
//! [`Snapshot`] of them is what the cluster rules (`alerts::rules`) evaluate. Objects are
//! slimmed to what the rules read. A node agent watches only its node's pods; the leader
//! watches nodes, workloads, PVCs and unscheduled pods ([`leader`] elects it).
mod health;
pub mod leader;
mod slim;

pub use health::ApiContact;

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::task::JoinSet;

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

/// How long a failed watch waits before it starts again, at first and at most.
const WATCH_RETRY: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(10));

/// Where a watcher reports whether the API server answers it.
#[derive(Clone)]
struct Reporter {
    contact: ApiContact,
    scope: String,
}

/// What every watcher of one source shares: the client, the evaluation trigger, where it
/// reports contact, and the tasks it runs in.
struct Reflectors {
    client: kube::Client,
    trigger: Arc<Notify>,
    report: Reporter,
    tasks: JoinSet<()>,
}

impl Reflectors {
    /// Starts a watcher of every `K` matching `cfg`, feeding a reflector store.
    fn watch<K>(&mut self, cfg: watcher::Config) -> Store<K>
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
        let api: Api<K> = Api::all(self.client.clone());
        let trigger = self.trigger.clone();
        let report = self.report.clone();
        report.contact.register(&report.scope, &kind);
        self.tasks.spawn(async move {
        let mut writer = writer;
        // what each object looked like at the last evaluation trigger: updates that change
        // nothing the rules read (heartbeats, resync) trigger nothing
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut listed: Option<HashSet<String>> = None;
        let key = |o: &K| {
            format!(
                "{}/{}",
                o.meta().namespace.as_deref().unwrap_or(""),
                o.meta().name.as_deref().unwrap_or("")
            )
        };
        let mut backoff = WATCH_RETRY.0;
        let mut in_touch = false;
        loop {
            // a failed watch is started afresh (list, then watch) rather than resumed:
            // kube's resumed watch says nothing when it reconnects, and the list's answer
            // is how this watch is known to be back in touch with the API server
            let stream = watcher(api.clone(), cfg.clone()).modify(K::slim);
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        in_touch = false;
                        report.contact.failed(&report.scope, &kind);
                        tracing::warn!(kind = %kind, error = %e, retry_in_ms = backoff.as_millis() as u64, "watch failed; retrying with backoff");
                        break;
                    }
                };
                // told once per return to touch, not on every event of a busy cluster
                if !in_touch {
                    report.contact.answered(&report.scope, &kind);
                    in_touch = true;
                }
                backoff = WATCH_RETRY.0;
                writer.apply_watcher_event(&event);
                match event {
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                        let k = key(&o);
                        if let Some(l) = listed.as_mut() {
                            l.insert(k.clone());
                        }
                        let digest = digest(&o);
                        if seen.insert(k, digest) != Some(digest) {
                            trigger.notify_one();
                        }
                    }
                    watcher::Event::Delete(o) => {
                        seen.remove(&key(&o));
                        trigger.notify_one();
                    }
                    watcher::Event::Init => {
                        listed = Some(HashSet::new());
                        trigger.notify_one();
                    }
                    watcher::Event::InitDone => {
                        // objects deleted while the watch was down are gone from the list
                        if let Some(l) = listed.take() {
                            seen.retain(|k, _| l.contains(k));
                        }
                        trigger.notify_one();
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(WATCH_RETRY.1);
        }
    });
        reader
    }
}

fn digest<K: serde::Serialize>(o: &K) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(&serde_json::to_vec(o).unwrap_or_default());
    h.finish()
}

/// What the stores hold at one moment. `None` for a kind this source does not watch.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub pods: Option<Vec<Arc<Pod>>>,
    pub nodes: Option<Vec<Arc<Node>>>,
    pub deployments: Vec<Arc<Deployment>>,
    pub statefulsets: Vec<Arc<StatefulSet>>,
    pub daemonsets: Vec<Arc<DaemonSet>>,
    pub pvcs: Vec<Arc<PersistentVolumeClaim>>,
}

/// The watchers of one alerting scope and their stores.
pub struct KubeSource {
    pods: Option<Store<Pod>>,
    nodes: Option<Store<Node>>,
    deployments: Option<Store<Deployment>>,
    statefulsets: Option<Store<StatefulSet>>,
    daemonsets: Option<Store<DaemonSet>>,
    pvcs: Option<Store<PersistentVolumeClaim>>,
    tasks: JoinSet<()>,
    report: Reporter,
}

impl KubeSource {
    /// Starts the watchers of `scope`; `trigger` is notified on every change, `contact`
    /// told of every answer and failure.
    pub fn start(
        client: kube::Client,
        watch: &Watch,
        trigger: Arc<Notify>,
        contact: ApiContact,
        scope: &str,
    ) -> KubeSource {
        let mut r = Reflectors {
            client,
            trigger,
            report: Reporter {
                contact,
                scope: scope.to_string(),
            },
            tasks: JoinSet::new(),
        };
        let pods = watch.pods.as_ref().map(|scope| {
            r.watch::<Pod>(match scope {
                PodScope::Node(n) => {
                    watcher::Config::default().fields(&format!("spec.nodeName={n}"))
                }
                PodScope::Unscheduled => watcher::Config::default().fields("spec.nodeName="),
                PodScope::All => watcher::Config::default(),
            })
        });
        let c = watch.cluster;
        let cfg = watcher::Config::default;
        let nodes = c.then(|| {
            r.watch(match &watch.node_selector {
                Some(sel) => cfg().labels(sel),
                None => cfg(),
            })
        });
        KubeSource {
            pods,
            nodes,
            deployments: c.then(|| r.watch(cfg())),
            statefulsets: c.then(|| r.watch(cfg())),
            daemonsets: c.then(|| r.watch(cfg())),
            pvcs: c.then(|| r.watch(cfg())),
            tasks: r.tasks,
            report: r.report,
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

    /// The objects the stores hold right now.
    pub fn snapshot(&self) -> Snapshot {
        fn all<K: Resource + Clone>(s: &Option<Store<K>>) -> Vec<Arc<K>>
        where
            K::DynamicType: Eq + Hash + Clone,
        {
            s.as_ref().map(Store::state).unwrap_or_default()
        }
        Snapshot {
            pods: self.pods.as_ref().map(Store::state),
            nodes: self.nodes.as_ref().map(Store::state),
            deployments: all(&self.deployments),
            statefulsets: all(&self.statefulsets),
            daemonsets: all(&self.daemonsets),
            pvcs: all(&self.pvcs),
        }
    }
}

impl Drop for KubeSource {
    fn drop(&mut self) {
        self.tasks.abort_all();
        self.report.contact.forget_scope(&self.report.scope);
    }
}
