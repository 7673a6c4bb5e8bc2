//! `vigil-agent cluster --config FILE`: the cluster agent. In a DaemonSet (`--node`, or
//! `NODE_NAME` from the downward API) each agent evaluates the pods of its own node and
//! keeps that state in a ConfigMap `<prefix>-node-<node>`; the agent holding the Lease
//! `<prefix>-leader` also evaluates nodes, workloads, PVCs and unscheduled pods, with
//! its state in `<prefix>-leader`. Without a node it runs standalone: every rule in one
//! process, state in `cluster.state_file` (or the ConfigMap `<prefix>-cluster`).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use tokio::sync::{Notify, watch};

use super::CommandError;
use super::alerting::{Outputs, announce, run_scope};
use super::shutdown_signal;
use crate::alerts::adopt::Adoption;
use crate::alerts::fencing::NodeFencing;
use crate::alerts::health::{Episode, api_trouble};
use crate::alerts::live::LiveState;
use crate::alerts::rules::Context;
use crate::alerts::rules::kubernetes::{KubeRules, Objects};
use crate::alerts::runner::{self, Evaluation};
use crate::alerts::store::{Fence, Store, follow_remote};
use crate::config::alerting::AlertingConfig;
use crate::sinks::influxdb::{Output, Running};
use crate::sinks::slack::{Announcer, Renderer};
use crate::sources::kubernetes::leader::Election;
use crate::sources::kubernetes::{ApiContact, KubeSource, PodScope, Snapshot, Watch};
use crate::telemetry::Metrics;

async fn client(cfg: &AlertingConfig) -> Result<kube::Client, CommandError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let opts = kube::config::KubeConfigOptions {
        context: cfg.context.clone(),
        ..Default::default()
    };
    let config = match &cfg.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path).map_err(|source| {
                CommandError::Kubeconfig {
                    path: path.clone(),
                    source,
                }
            })?;
            kube::Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(CommandError::KubeConfig)?
        }
        None if cfg.context.is_some() => kube::Config::from_kubeconfig(&opts)
            .await
            .map_err(CommandError::KubeConfig)?,
        None => kube::Config::infer()
            .await
            .map_err(CommandError::KubeInfer)?,
    };
    kube::Client::try_from(config).map_err(CommandError::KubeClient)
}

/// The collector's InfluxDB output for the `alerts` measurement, if `output` is configured.
/// It counts into `metrics`, the registry `/metrics` serves.
fn influx(
    cfg: &AlertingConfig,
    metrics: &Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Option<Running>, CommandError> {
    let Some(output) = &cfg.output else {
        return Ok(None);
    };
    Ok(Some(
        Output::open(output, &cfg.spool)?.start(metrics.clone(), stop),
    ))
}

/// The watched objects, as the cluster rules read them.
fn objects(s: Snapshot) -> Objects {
    Objects {
        pods: s.pods,
        nodes: s.nodes,
        deployments: s.deployments,
        statefulsets: s.statefulsets,
        daemonsets: s.daemonsets,
        pvcs: s.pvcs,
    }
}

struct Parts {
    client: kube::Client,
    cfg: Arc<AlertingConfig>,
    outputs: Outputs,
    contact: ApiContact,
}

impl Parts {
    fn evaluation(&self, name: &str) -> Evaluation {
        Evaluation {
            name: name.to_string(),
            engine: self.cfg.engine.clone(),
            evaluation_interval: self.cfg.evaluation_interval,
            changes: None,
        }
    }

    /// Loads state, starts watchers, waits for their lists and evaluates until `stop`.
    /// `ready`, if given, is set once the state is loaded and every watcher has listed:
    /// from then on `/readyz` answers 200 (a DaemonSet rollout waits for it).
    async fn run_scope(
        &self,
        name: &str,
        store: Store,
        watch: Watch,
        stop: watch::Receiver<bool>,
        on_state: impl FnOnce(Arc<LiveState>),
        ready: Option<Arc<Metrics>>,
    ) {
        let mut stop_load = stop.clone();
        let Some(state) = runner::load(&store, name, &mut stop_load).await else {
            return;
        };
        on_state(state.clone());
        let trigger = Arc::new(Notify::new());
        let source = KubeSource::start(
            self.client.clone(),
            &watch,
            trigger.clone(),
            self.contact.clone(),
            name,
        );
        let mut s = stop.clone();
        tokio::select! {
            _ = source.ready() => {}
            _ = async { while s.changed().await.is_ok() && !*s.borrow() {} } => return,
        }
        tracing::info!(scope = %name, "watchers synced");
        if let Some(m) = ready {
            m.ready.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let mut rules = KubeRules::new(
            Arc::new(self.cfg.rules.clone()),
            Context {
                namespaces: self.cfg.tenant_namespaces.clone(),
            },
        );
        let signals = move || rules.signals(&objects(source.snapshot()));
        run_scope(
            self.evaluation(name),
            state,
            signals,
            trigger,
            self.outputs.clone(),
            stop,
        )
        .await;
    }
}

pub async fn cluster(
    cfg: AlertingConfig,
    node: Option<String>,
    identity: Option<String>,
) -> Result<(), CommandError> {
    let client = client(&cfg).await?;
    let renderer =
        Arc::new(Renderer::new(&cfg.name, &cfg.routes.templates).map_err(CommandError::Templates)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    // one registry: the output's write and spool counters are served on /metrics too
    let health = Arc::new(Metrics::new(&cfg.name));
    let output = influx(&cfg, &health, stop_rx.clone())?;
    if let Some(addr) = cfg.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| CommandError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        tokio::spawn(crate::telemetry::serve(listener, health.clone()));
    }
    let cfg = Arc::new(cfg);
    let contact = ApiContact::default();
    let announcer =
        Announcer::new(&cfg.routes, &cfg.name).map_err(|e| CommandError::Alerting(e.into()))?;
    let parts = Arc::new(Parts {
        client: client.clone(),
        cfg: cfg.clone(),
        outputs: Outputs {
            routes: Arc::new(cfg.routes.clone()),
            renderer,
            influx: output.as_ref().map(Running::handle),
            announcer: announcer.clone(),
            degraded_after: cfg.degraded_after,
            metrics: health.clone(),
        },
        contact: contact.clone(),
    });
    // standalone, this agent is the only one; in a DaemonSet, the last leader speaks
    let last_leader = Arc::new(AtomicBool::new(node.is_none()));
    watch_api(
        &contact,
        &health,
        &cfg,
        announcer,
        last_leader.clone(),
        stop_rx.clone(),
    );
    // state in its own namespace; where an older agent kept it is read once
    let cm = |suffix: &str| {
        Store::config_map(
            client.clone(),
            &cfg.state_namespace,
            &format!("{}-{suffix}", cfg.prefix),
        )
        .migrating_from(client.clone(), &cfg.namespace)
    };
    let mut tasks = tokio::task::JoinSet::new();
    match node {
        None => {
            let store = match &cfg.state_file {
                Some(p) => Store::File(p.clone()),
                None => cm("cluster"),
            };
            let p = parts.clone();
            let stop = stop_rx.clone();
            let ready = health.clone();
            tasks.spawn(async move {
                let watch = Watch {
                    pods: Some(PodScope::All),
                    cluster: true,
                    node_selector: p.cfg.node_selector.clone(),
                };
                p.run_scope("cluster", store, watch, stop, |_| {}, Some(ready))
                    .await;
            });
        }
        Some(node) => {
            let identity = identity.unwrap_or_else(|| node.clone());
            let own_node = node.clone();
            let store = match &cfg.state_file {
                Some(p) => {
                    Store::File(p.with_file_name(format!("{}-node-{node}.json", cfg.prefix)))
                }
                // conditional: the leader may have taken it over while this node was away
                None => cm(&format!("node-{node}")).fenced(Fence::owner(&identity)),
            };
            let leader_store = match &cfg.state_file {
                Some(p) => Store::File(p.with_file_name(format!("{}-leader.json", cfg.prefix))),
                None => cm("leader"),
            };
            {
                let p = parts.clone();
                let stop = stop_rx.clone();
                let scope = format!("node/{node}");
                let remote_api: Api<ConfigMap> =
                    Api::namespaced(client.clone(), &cfg.state_namespace);
                let remote_name = format!("{}-leader", cfg.prefix);
                let remote_stop = stop_rx.clone();
                let ready = health.clone();
                tasks.spawn(async move {
                    let watch = Watch {
                        pods: Some(PodScope::Node(node)),
                        cluster: false,
                        node_selector: None,
                    };
                    p.run_scope(
                        &scope,
                        store,
                        watch,
                        stop,
                        move |state| {
                            tokio::spawn(follow_remote(
                                remote_api,
                                remote_name,
                                state,
                                remote_stop,
                            ));
                        },
                        Some(ready),
                    )
                    .await;
                });
            }
            let (lead_tx, lead_rx) = watch::channel(false);
            // only the lease holder writes the leader's state, conditionally
            let leader_store = leader_store.fenced(Fence::new(lead_rx.clone(), &identity));
            let election = Election {
                api: Api::<Lease>::namespaced(client.clone(), &cfg.namespace),
                name: format!("{}-leader", cfg.prefix),
                identity: identity.clone(),
                duration: cfg.lease_duration,
                contact: contact.clone(),
                last_leader: last_leader.clone(),
            };
            tasks.spawn(election.run(lead_tx, stop_rx.clone()));
            let adoption = Adoption {
                cms: Api::namespaced(client.clone(), &cfg.state_namespace),
                nodes: Api::all(client.clone()),
                node_prefix: format!("{}-node-", cfg.prefix),
                identity: identity.clone(),
                own_node: Some(own_node),
                after: cfg.adopt_after,
            };
            let p = parts.clone();
            tasks.spawn(lead(p, leader_store, adoption, lead_rx));
        }
    }
    shutdown_signal().await;
    health
        .ready
        .store(false, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("shutting down: persisting alert state");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// Starts the API check: `vigil_watch_age_seconds{scope,kind}` on /metrics, `/readyz`
/// failing past `watch_staleness`, and `AlertingDegraded` posted directly by the last
/// leader (or the standalone agent) once the API server has been out of reach for
/// `degraded_after` — only one agent speaks, whatever the number of nodes.
fn watch_api(
    contact: &ApiContact,
    metrics: &Arc<Metrics>,
    cfg: &AlertingConfig,
    announcer: Announcer,
    last_leader: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let (contact, metrics) = (contact.clone(), metrics.clone());
    let (staleness, after) = (cfg.watch_staleness, cfg.degraded_after);
    tokio::spawn(async move {
        let mut episode = Episode::default();
        loop {
            let ages = contact.ages();
            let series: Vec<(Vec<(&str, &str)>, f64)> = ages
                .iter()
                .map(|(s, k, a)| {
                    (
                        vec![("scope", s.as_str()), ("kind", k.as_str())],
                        a.as_secs_f64(),
                    )
                })
                .collect();
            metrics.set_gauges(
                "vigil_watch_age_seconds",
                "How long each watch of the API server has been out of touch (0 while connected).",
                &series,
            );
            let worst = contact.worst();
            let stale = worst > staleness;
            if metrics.stale.swap(stale, Ordering::Relaxed) != stale {
                tracing::warn!(
                    stale,
                    worst_s = worst.as_secs(),
                    "API server contact changed /readyz"
                );
            }
            let trouble = if last_leader.load(Ordering::Relaxed) {
                api_trouble(contact.unreachable_for(), after)
            } else {
                None
            };
            let now = Instant::now();
            if let Some(n) = episode.observe(now, trouble)
                && announce(&announcer, "cluster", &n).await
            {
                episode.posted(&n);
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return; },
            }
        }
    });
}

/// Runs the leader scope while this agent leads (with the take-over of gone nodes' state,
/// and node fencing if it is on);
/// stops it the moment leadership is lost.
async fn lead(
    parts: Arc<Parts>,
    store: Store,
    adoption: Adoption,
    mut leading: watch::Receiver<bool>,
) {
    loop {
        while !*leading.borrow() {
            if leading.changed().await.is_err() {
                return;
            }
        }
        let (tx, rx) = watch::channel(false);
        let p = parts.clone();
        let s = store.clone();
        let adoption = adoption.clone();
        let task = tokio::spawn(async move {
            let watch = Watch {
                pods: Some(PodScope::Unscheduled),
                cluster: true,
                node_selector: p.cfg.node_selector.clone(),
            };
            let stop = rx.clone();
            let adopt = move |state| {
                tokio::spawn(adoption.run(state, stop));
            };
            let fencing = NodeFencing {
                client: p.client.clone(),
                mode: p.cfg.fencing,
                after: p.cfg.fence_after,
                announcer: p.outputs.announcer.clone(),
            };
            tokio::spawn(fencing.run(rx.clone()));
            p.run_scope("leader", s, watch, rx, adopt, None).await;
        });
        while *leading.borrow() {
            if leading.changed().await.is_err() {
                break;
            }
        }
        let _ = tx.send(true);
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            abort.abort();
        }
        tracing::info!("leader scope stopped");
    }
}
