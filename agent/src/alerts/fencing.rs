//! Opt-in node fencing by the leader (`cluster.fencing: collectors|all`). Kubernetes never
//! deletes a pod on a dead node on its own: no kubelet confirms it, so a StatefulSet's pod
//! is never recreated elsewhere and a single-writer volume stays attached to the dead
//! node. Once a node has been NotReady for `cluster.fence_after`, the leader force-deletes
//! vigil's tenant pods there (grace period 0), deletes the VolumeAttachments of their
//! volumes on that node, and posts what it did to `slack.default`.
//!
//! The risk, and why it is off by default: a node that is only partitioned may still run
//! those pods; force-deleting them lets a second copy start elsewhere while the first
//! still writes (two collectors polling, two InfluxDB processes on one volume where the
//! storage allows it). Where the server supports the `node.kubernetes.io/out-of-service`
//! taint (1.26+), an operator tainting the node is the safer route.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams};
use tokio::sync::watch;
use vigil_contract::alerts::FencingMode;
use vigil_contract::names;

use crate::sinks::slack::Announcer;

/// The rule name in what is posted and logged.
pub const NODE_FENCED: &str = "NodeFenced";

/// How long the node has been NotReady (or Unknown), if it is.
pub fn not_ready_for(node: &Node, now: Timestamp) -> Option<Duration> {
    let ready = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    if ready.status == "True" {
        return None;
    }
    let since = ready.last_transition_time.as_ref()?;
    let ms = now
        .as_millisecond()
        .saturating_sub(since.0.as_millisecond());
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// The tenant pods `mode` fences, by their labels.
pub fn fenced_component(pod: &Pod, mode: FencingMode) -> bool {
    let labels = pod.metadata.labels.as_ref();
    let get = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
    get(names::MANAGED_BY_LABEL) == Some(names::MANAGER)
        && get(names::TENANT_LABEL).is_some()
        && get(names::COMPONENT_LABEL).is_some_and(|c| mode.components().contains(&c))
}

#[derive(Clone)]
pub struct NodeFencing {
    pub client: kube::Client,
    pub mode: FencingMode,
    pub after: Duration,
    pub announcer: Announcer,
}

impl NodeFencing {
    /// Checks every 5 s until `stop` (the leader's scope ending).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.mode == FencingMode::Off {
            return;
        }
        tracing::info!(mode = ?self.mode, after_s = self.after.as_secs(), "node fencing on");
        // pods already force-deleted, so a pod that lingers is not posted twice
        let mut done = BTreeSet::new();
        loop {
            if let Err(e) = self.check(&mut done).await {
                tracing::warn!(error = %e, "node fencing check failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return; },
            }
        }
    }

    async fn check(&self, done: &mut BTreeSet<String>) -> Result<(), kube::Error> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let now = Timestamp::now();
        let dead: Vec<(String, Duration)> = nodes
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter_map(|n| {
                let down = not_ready_for(n, now).filter(|d| *d >= self.after)?;
                Some((n.metadata.name.clone()?, down))
            })
            .collect();
        for (node, down) in dead {
            self.fence(&node, down, done).await?;
        }
        Ok(())
    }

    async fn fence(
        &self,
        node: &str,
        down: Duration,
        done: &mut BTreeSet<String>,
    ) -> Result<(), kube::Error> {
        let pods: Api<Pod> = Api::all(self.client.clone());
        let lp = ListParams::default()
            .fields(&format!("spec.nodeName={node}"))
            .labels(&format!(
                "{}={},{}",
                names::MANAGED_BY_LABEL,
                names::MANAGER,
                names::TENANT_LABEL
            ));
        let targets: Vec<Pod> = pods
            .list(&lp)
            .await?
            .items
            .into_iter()
            .filter(|p| fenced_component(p, self.mode))
            .collect();
        let mut fenced = Vec::new();
        let mut volumes = BTreeSet::new();
        for pod in targets {
            let (Some(ns), Some(name), Some(uid)) = (
                pod.metadata.namespace.clone(),
                pod.metadata.name.clone(),
                pod.metadata.uid.clone(),
            ) else {
                continue;
            };
            if done.contains(&uid) {
                continue;
            }
            // the PersistentVolumes behind its claims, to detach from the dead node
            let claims: Vec<String> = pod
                .spec
                .as_ref()
                .and_then(|s| s.volumes.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
                .collect();
            let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
            for claim in claims {
                if let Some(pv) = pvcs
                    .get_opt(&claim)
                    .await?
                    .and_then(|c| c.spec?.volume_name)
                {
                    volumes.insert(pv);
                }
            }
            let force = DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            };
            match Api::<Pod>::namespaced(self.client.clone(), &ns)
                .delete(&name, &force)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
            tracing::warn!(node, namespace = %ns, pod = %name, down_s = down.as_secs(), "fenced: pod on a dead node force-deleted");
            done.insert(uid);
            fenced.push(format!("{ns}/{name}"));
        }
        let detached = self.detach(node, &volumes).await?;
        if fenced.is_empty() && detached.is_empty() {
            return Ok(());
        }
        let text = format!(
            "node {node} has been NotReady for {} s: force-deleted {} pod(s) of vigil's tenants ({}) \
             and {} volume attachment(s) ({}), so they can start on another node. If the node \
             comes back, check that nothing there still writes to those volumes.",
            down.as_secs(),
            fenced.len(),
            fenced.join(", "),
            detached.len(),
            detached.join(", "),
        );
        if let Err(e) = self
            .announcer
            .post(&format!("{NODE_FENCED} warning"), &text)
            .await
        {
            tracing::warn!(error = %e, "cannot post {NODE_FENCED}");
        }
        Ok(())
    }

    /// Deletes the VolumeAttachments of `volumes` on `node`; returns their names.
    async fn detach(
        &self,
        node: &str,
        volumes: &BTreeSet<String>,
    ) -> Result<Vec<String>, kube::Error> {
        if volumes.is_empty() {
            return Ok(Vec::new());
        }
        let api: Api<VolumeAttachment> = Api::all(self.client.clone());
        let mut detached = Vec::new();
        let attachments: BTreeMap<String, VolumeAttachment> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|a| Some((a.metadata.name.clone()?, a)))
            .collect();
        for (name, a) in attachments {
            let on_node = a.spec.node_name == node;
            let ours = a
                .spec
                .source
                .persistent_volume_name
                .as_ref()
                .is_some_and(|pv| volumes.contains(pv));
            if !(on_node && ours) {
                continue;
            }
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(e) => return Err(e),
            }
            tracing::warn!(node, attachment = %name, "fenced: volume attachment on a dead node deleted");
            detached.push(name);
        }
        Ok(detached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(labels: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "p", "labels": labels}}))
            .unwrap()
    }

    #[test]
    fn only_the_chosen_tenant_components_are_fenced() {
        let collector = pod(serde_json::json!({
            "app.kubernetes.io/managed-by": "vigil", "vigil.dev/tenant": "acme",
            "app.kubernetes.io/component": "collector"}));
        let influx = pod(serde_json::json!({
            "app.kubernetes.io/managed-by": "vigil", "vigil.dev/tenant": "acme",
            "app.kubernetes.io/component": "database"}));
        let foreign = pod(serde_json::json!({"app.kubernetes.io/component": "collector"}));
        let agent = pod(serde_json::json!({
            "app.kubernetes.io/managed-by": "vigil", "app.kubernetes.io/component": "cluster-agent"}));
        assert!(fenced_component(&collector, FencingMode::Collectors));
        assert!(!fenced_component(&influx, FencingMode::Collectors));
        assert!(fenced_component(&influx, FencingMode::All));
        for p in [&collector, &influx, &foreign, &agent] {
            assert!(!fenced_component(p, FencingMode::Off));
        }
        assert!(!fenced_component(&foreign, FencingMode::All));
        assert!(!fenced_component(&agent, FencingMode::All));
    }
}
