//! `vigil agent status`: per-node agent health, the current leader (its Lease) and the last
//! Slack delivery (from the agent's state ConfigMap); and waiting for a rollout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::apply::Error;
use super::build::{AGENT_LABEL, LEASE, NAME, STATE_SELECTOR};
use crate::cluster;
use vigil_contract::alert_state::{StateSummary, stored};
use vigil_contract::names::{STATE_GZ_KEY, STATE_KEY};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub namespace: String,
    pub image: String,
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    /// Every node of the cluster, with the agent pod on it (or none).
    pub nodes: Vec<NodeAgent>,
    pub leader: Option<Leader>,
    pub last_delivery: Option<Delivery>,
    /// True when every node runs a ready agent of the current revision.
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAgent {
    pub node: String,
    pub node_ready: bool,
    pub pod: Option<String>,
    pub ready: bool,
    pub phase: String,
    pub restarts: i32,
    pub image: Option<String>,
    pub started: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leader {
    pub holder: String,
    pub renewed: Option<String>,
    pub lease_seconds: Option<i32>,
    pub transitions: Option<i32>,
    /// The holder stopped renewing: the next agent takes over.
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub channel: String,
    pub at: String,
    pub incident: String,
    /// Notifications waiting in the outbox (Slack unreachable, or rate limited).
    pub pending: usize,
}

pub fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn node_agent(node: &str, node_ready: bool, pod: Option<&Pod>) -> NodeAgent {
    let status = pod.and_then(|p| p.status.as_ref());
    NodeAgent {
        node: node.to_owned(),
        node_ready,
        pod: pod.and_then(|p| p.metadata.name.clone()),
        ready: pod.is_some_and(pod_ready),
        phase: match pod {
            None => "Missing".into(),
            Some(p) if p.metadata.deletion_timestamp.is_some() => "Terminating".into(),
            Some(_) => status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into()),
        },
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| c.restart_count).sum())
            .unwrap_or(0),
        image: pod
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone()),
        started: status
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string()),
    }
}

fn leader(lease: &Lease, now: Timestamp) -> Option<Leader> {
    let spec = lease.spec.as_ref()?;
    let holder = spec.holder_identity.clone().filter(|h| !h.is_empty())?;
    let renewed = spec.renew_time.as_ref().map(|t| t.0);
    let expired = match (renewed, spec.lease_duration_seconds) {
        (Some(t), Some(d)) => now.as_second() > t.as_second() + i64::from(d),
        _ => false,
    };
    Some(Leader {
        holder,
        renewed: renewed.map(|t| t.to_string()),
        lease_seconds: spec.lease_duration_seconds,
        transitions: spec.lease_transitions,
        expired,
    })
}

/// The newest ledger entry over the agent's state documents (`state.json.gz`, or the older
/// plain `state.json`, in each state ConfigMap), read as a [`StateSummary`]. A document that does not parse is logged and
/// skipped.
fn last_delivery(state: &[ConfigMap]) -> Option<Delivery> {
    let docs: Vec<StateSummary> = state
        .iter()
        .filter_map(|cm| {
            let gz = cm
                .binary_data
                .as_ref()
                .and_then(|b| b.get(STATE_GZ_KEY))
                .map(|b| b.0.as_slice());
            let plain = cm
                .data
                .as_ref()
                .and_then(|d| d.get(STATE_KEY))
                .map(String::as_str);
            match stored::decode(gz, plain)? {
                Ok(doc) => Some(doc),
                Err(error) => {
                    tracing::warn!(
                        configmap = cm.metadata.name.as_deref().unwrap_or_default(),
                        error = %crate::error::chain(&error),
                        "alert state does not parse; skipped"
                    );
                    None
                }
            }
        })
        .collect();
    let pending = docs.iter().map(|d| d.outbox.len()).sum();
    let (incident, entry) = docs
        .iter()
        .flat_map(|d| &d.ledger)
        .max_by_key(|(_, d)| d.at_ms)?;
    let ms = i64::try_from(entry.at_ms).ok()?;
    Some(Delivery {
        channel: entry.channel.clone(),
        at: Timestamp::from_millisecond(ms).ok()?.to_string(),
        incident: incident.clone(),
        pending,
    })
}

pub async fn status(client: &Client, namespace: &str) -> Result<Status, Error> {
    let ds_api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let ds = ds_api
        .get_opt(NAME)
        .await
        .map_err(|e| cluster::api_error("get", "daemonsets", Some(namespace), Some(NAME), e))?
        .ok_or_else(|| Error::NotInstalled(namespace.to_owned()))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let state_ns = super::build::state_namespace(namespace);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &state_ns);
    // state an older agent kept beside its configuration, until the agents move it
    let old_cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let selector = format!("{AGENT_LABEL}={namespace}");
    let (pods, nodes, lease, mut state, old_state) = futures::try_join!(
        async {
            pods.list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| cluster::api_error("list", "pods", Some(namespace), None, e))
        },
        async {
            nodes
                .list(&ListParams::default())
                .await
                .map_err(|e| cluster::api_error("list", "nodes", None, None, e))
        },
        async {
            leases
                .get_opt(LEASE)
                .await
                .map_err(|e| cluster::api_error("get", "leases", Some(namespace), Some(LEASE), e))
        },
        async {
            cms.list(&ListParams::default().labels(STATE_SELECTOR))
                .await
                .map_err(|e| cluster::api_error("list", "configmaps", Some(&state_ns), None, e))
        },
        async {
            old_cms
                .list(&ListParams::default().labels(STATE_SELECTOR))
                .await
                .map_err(|e| cluster::api_error("list", "configmaps", Some(namespace), None, e))
        },
    )?;
    state.items.extend(old_state.items);
    let mut by_node: BTreeMap<String, &Pod> = BTreeMap::new();
    for p in &pods.items {
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            // Prefer the running pod over one terminating during an update.
            let replace = by_node
                .get(&node)
                .is_none_or(|old| old.metadata.deletion_timestamp.is_some());
            if replace {
                by_node.insert(node, p);
            }
        }
    }
    let mut rows: Vec<NodeAgent> = nodes
        .items
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            node_agent(&name, node_ready(n), by_node.get(&name).copied())
        })
        .collect();
    rows.sort_by(|a, b| a.node.cmp(&b.node));
    let st = ds.status.clone().unwrap_or_default();
    let image = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let updated = st.updated_number_scheduled.unwrap_or(0);
    let available = st.number_available.unwrap_or(0);
    let current = st.observed_generation >= ds.metadata.generation;
    Ok(Status {
        namespace: namespace.to_owned(),
        healthy: current
            && updated == st.desired_number_scheduled
            && available == st.desired_number_scheduled,
        image,
        desired: st.desired_number_scheduled,
        ready: st.number_ready,
        updated,
        available,
        nodes: rows,
        leader: lease.as_ref().and_then(|l| leader(l, Timestamp::now())),
        last_delivery: last_delivery(&state.items),
    })
}

/// Rollout progress of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub desired: i32,
    pub updated: i32,
    pub available: i32,
    pub done: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(
        "timed out after {0:?} waiting for the agent in namespace {1} to run the new revision on every node; \
         `vigil agent status --namespace {1}` shows which nodes are missing"
    )]
    Timeout(Duration, String),
    #[error(
        "timed out after {0:?} waiting for namespace {1} to be deleted; \
         `kubectl get all -n {1}` shows what is left"
    )]
    NotGone(Duration, String),
    #[error(transparent)]
    Agent(#[from] Error),
}

/// Waits until every node runs an available pod of the DaemonSet's current revision.
pub async fn wait_rollout(
    client: &Client,
    namespace: &str,
    timeout: Duration,
    mut progress: impl FnMut(&Rollout),
) -> Result<Rollout, WaitError> {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let start = Instant::now();
    loop {
        let ds = api
            .get_opt(NAME)
            .await
            .map_err(|e| {
                Error::from(cluster::api_error(
                    "get",
                    "daemonsets",
                    Some(namespace),
                    Some(NAME),
                    e,
                ))
            })?
            .ok_or_else(|| Error::NotInstalled(namespace.to_owned()))?;
        let st = ds.status.unwrap_or_default();
        let r = Rollout {
            desired: st.desired_number_scheduled,
            updated: st.updated_number_scheduled.unwrap_or(0),
            available: st.number_available.unwrap_or(0),
            done: false,
        };
        let done = st.observed_generation >= ds.metadata.generation
            && r.updated == r.desired
            && r.available == r.desired;
        let r = Rollout { done, ..r };
        progress(&r);
        if done {
            return Ok(r);
        }
        if start.elapsed() >= timeout {
            return Err(WaitError::Timeout(timeout, namespace.to_owned()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(doc: serde_json::Value) -> ConfigMap {
        ConfigMap {
            data: Some(BTreeMap::from([("state.json".to_owned(), doc.to_string())])),
            ..Default::default()
        }
    }

    #[test]
    fn last_delivery_is_the_newest_over_every_state_object() {
        let node = state(serde_json::json!({
            "ledger": {"a@1": {"channel": "C1", "at_ms": 1_700_000_000_000_u64}},
            "outbox": [{}],
        }));
        let leader = state(serde_json::json!({
            "ledger": {"b@2": {"channel": "C2", "at_ms": 1_700_000_060_000_u64, "ts": "1.2"}},
            "outbox": [{}, {}],
        }));
        let broken = ConfigMap {
            data: Some(BTreeMap::from([("state.json".to_owned(), "{".to_owned())])),
            ..Default::default()
        };
        let d = last_delivery(&[node, broken, leader]).expect("a delivery");
        assert_eq!(d.channel, "C2");
        assert_eq!(d.incident, "b@2");
        assert_eq!(d.at, "2023-11-14T22:14:20Z");
        assert_eq!(d.pending, 3);
        assert!(last_delivery(&[state(serde_json::json!({}))]).is_none());
    }

    #[test]
    fn a_lease_nobody_renews_is_expired() {
        let lease = |renewed: &str| -> Lease {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "vigil-agent-leader"},
                "spec": {"holderIdentity": "vigil-agent-x", "leaseDurationSeconds": 15,
                         "renewTime": renewed}
            }))
            .expect("lease")
        };
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().expect("time");
        let fresh = leader(&lease("2026-11-21T11:59:50.000000Z"), now).expect("leader");
        assert!(!fresh.expired);
        assert_eq!(fresh.holder, "vigil-agent-x");
        let stale = leader(&lease("2026-11-21T11:59:40.000000Z"), now).expect("leader");
        assert!(stale.expired);
    }
}
