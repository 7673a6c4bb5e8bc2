//! The leader takes over the alert state of node agents that are gone: a node deleted, or
//! NotReady for longer than `cluster.adopt_after`. Without this, the pod incidents such an
//! agent opened would never be resolved and what it had queued never delivered.
//!
//! Each take-over is a conditional write first (delete, or a replace with an empty
//! document marked `vigil.dev/adopted-by`, both on the resourceVersion read), then the
//! merge into the leader's document and its save. The leader's engine then resolves the
//! adopted incidents (it watches no pod of that node) in their own threads, and its
//! deliverer sends the queued notifications once. A node agent that comes back finds its
//! ConfigMap gone or marked, and starts afresh ([`super::store::StoreError::Adopted`]).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use tokio::sync::watch;
use vigil_contract::names;

use super::live::LiveState;
use super::state::StateDoc;
use super::store::{adopted_by, document, state_config_map};

/// What a take-over moved into the leader's document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub incidents: usize,
    pub queued: usize,
}

/// Merges a node agent's document into the leader's. Incidents the leader already holds
/// (the same fingerprint) stay the leader's; queued notifications are renumbered in the
/// leader's sequence, so none is sent before the merged document is saved.
pub fn merge(into: &mut StateDoc, from: StateDoc) -> Taken {
    let mut taken = Taken::default();
    for (fp, mut inc) in from.incidents {
        if let std::collections::btree_map::Entry::Vacant(e) = into.incidents.entry(fp) {
            // its resolve says why it comes now, and from the leader
            inc.signal.summary = format!(
                "{} (closed by the leader: the node's agent is gone)",
                inc.signal.summary
            );
            e.insert(inc);
            taken.incidents += 1;
        }
    }
    for (key, delivered) in from.ledger {
        into.ledger.entry(key).or_insert(delivered);
    }
    for n in from.outbox {
        into.push(n);
        taken.queued += 1;
    }
    for (fp, times) in from.fires {
        into.fires.entry(fp).or_default().extend(times);
    }
    for (window, items) in from.silenced {
        into.silenced.entry(window).or_default().extend(items);
    }
    into.digest.extend(from.digest);
    taken
}

/// Why a node's state is taken over, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gone {
    Deleted,
    NotReady,
}

/// Whether the node has been NotReady (or Unknown) for at least `after`.
fn not_ready_for(node: &Node, after: Duration, now: Timestamp) -> bool {
    let Some(ready) = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
    else {
        return false;
    };
    if ready.status == "True" {
        return false;
    }
    let Some(since) = ready.last_transition_time.as_ref() else {
        return false;
    };
    let for_ms = now
        .as_millisecond()
        .saturating_sub(since.0.as_millisecond());
    u128::try_from(for_ms).is_ok_and(|ms| ms >= after.as_millis())
}

/// The leader's take-over of gone nodes' state, run beside its evaluation.
#[derive(Clone)]
pub struct Adoption {
    /// The state namespace's ConfigMaps.
    pub cms: Api<ConfigMap>,
    pub nodes: Api<Node>,
    /// `<prefix>-node-`: the node agents' state ConfigMaps.
    pub node_prefix: String,
    /// Recorded on a take-over (`vigil.dev/adopted-by`).
    pub identity: String,
    /// The leader's own node: never taken over.
    pub own_node: Option<String>,
    pub after: Duration,
}

impl Adoption {
    /// Checks every `after / 4` (1 s to 30 s) until `stop`.
    pub async fn run(self, state: Arc<LiveState>, mut stop: watch::Receiver<bool>) {
        let every = (self.after / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
        // a node must be missing from two lists in a row: a brand-new node's agent may
        // write its state before this agent's list shows the node
        let mut missing_once = BTreeSet::new();
        loop {
            if let Err(e) = self.check(&state, &mut missing_once).await {
                tracing::warn!(error = %e, "cannot check for gone nodes' alert state; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                r = stop.changed() => if r.is_err() || *stop.borrow() { return; },
            }
        }
    }

    async fn check(
        &self,
        state: &LiveState,
        missing_once: &mut BTreeSet<String>,
    ) -> Result<(), kube::Error> {
        let selector = format!(
            "{}={},{}={}",
            names::NAME_LABEL,
            names::AGENT_APP,
            names::COMPONENT_LABEL,
            names::ALERT_STATE_COMPONENT
        );
        let cms = self
            .cms
            .list(&ListParams::default().labels(&selector))
            .await?;
        let candidates: Vec<(String, ConfigMap)> = cms
            .items
            .into_iter()
            .filter_map(|cm| {
                let node = cm
                    .metadata
                    .name
                    .as_deref()?
                    .strip_prefix(&self.node_prefix)?
                    .to_string();
                (Some(&node) != self.own_node.as_ref()).then_some((node, cm))
            })
            .collect();
        if candidates.is_empty() {
            missing_once.clear();
            return Ok(());
        }
        let nodes: BTreeMap<String, Node> = self
            .nodes
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|n| Some((n.metadata.name.clone()?, n)))
            .collect();
        let now = Timestamp::now();
        let mut still_missing = BTreeSet::new();
        for (node, cm) in candidates {
            let gone = match nodes.get(&node) {
                None if missing_once.contains(&node) => Some(Gone::Deleted),
                None => {
                    still_missing.insert(node);
                    continue;
                }
                Some(n) if adopted_by(&cm).is_none() && not_ready_for(n, self.after, now) => {
                    Some(Gone::NotReady)
                }
                Some(_) => None,
            };
            if let Some(gone) = gone {
                self.take_over(state, &node, cm, gone).await;
            }
        }
        *missing_once = still_missing;
        Ok(())
    }

    /// Takes one node's state over: conditional write first, then merge and save.
    async fn take_over(&self, state: &LiveState, node: &str, cm: ConfigMap, gone: Gone) {
        let Some(name) = cm.metadata.name.clone() else {
            return;
        };
        let doc = match document(&cm) {
            Ok(doc) => doc,
            Err(error) => {
                // quarantined by its own agent if it comes back; nothing to resolve here
                tracing::warn!(configmap = %name, %error, "a gone node's alert state does not decode; left as it is");
                return;
            }
        };
        let rv = cm.metadata.resource_version.clone();
        let written = match gone {
            Gone::Deleted => {
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        resource_version: rv,
                        uid: None,
                    }),
                    ..Default::default()
                };
                self.cms.delete(&name, &dp).await.map(|_| ())
            }
            Gone::NotReady => {
                let annotations = BTreeMap::from([
                    (
                        names::STATE_ADOPTED_ANNOTATION.to_string(),
                        self.identity.clone(),
                    ),
                    (
                        names::STATE_WRITER_ANNOTATION.to_string(),
                        self.identity.clone(),
                    ),
                ]);
                let namespace = cm.metadata.namespace.clone().unwrap_or_default();
                match state_config_map(&namespace, &name, &StateDoc::default(), Some(annotations)) {
                    Ok(mut empty) => {
                        empty.metadata.resource_version = rv;
                        self.cms
                            .replace(&name, &PostParams::default(), &empty)
                            .await
                            .map(|_| ())
                    }
                    Err(error) => {
                        tracing::error!(configmap = %name, %error, "cannot encode an empty alert state");
                        return;
                    }
                }
            }
        };
        if let Err(error) = written {
            // written meanwhile (its agent is alive after all) or gone: next round decides
            tracing::info!(configmap = %name, %error, "a gone node's alert state changed under the take-over; not taken");
            return;
        }
        if doc.incidents.is_empty() && doc.outbox.is_empty() {
            tracing::info!(node = %node, reason = ?gone, configmap = %name, "a gone node's alert state removed: nothing was open");
            return;
        }
        let taken = state.with(|d| merge(d, doc));
        tracing::warn!(node = %node, reason = ?gone, incidents = taken.incidents, queued = taken.queued, "took over a gone node's alert state: its incidents resolve in their threads");
        state.outbox_changed.notify_one();
        if let Err(error) = state.save().await {
            // the evaluation's next save retries: the merge is in the document
            tracing::error!(%error, "cannot save the leader's state after a take-over");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::signal::{Scope, Severity, Signal};
    use crate::alerts::state::{Delivered, Incident, Kind, Notification};

    fn incident(fp_obj: &str) -> (String, Incident) {
        let s = Signal::new(
            "PodCrashLooping",
            Severity::Warning,
            Scope {
                object: fp_obj.into(),
                ..Default::default()
            },
            fp_obj,
        );
        let fp = s.fingerprint.clone();
        (
            fp.clone(),
            Incident {
                key: format!("{fp}@1"),
                signal: s,
                started_ms: 1,
                last_notified_ms: 1,
                folded_into: None,
                silenced_by: None,
                flapping: false,
                quiet_since_ms: None,
            },
        )
    }

    fn note(doc: &mut StateDoc, inc: &Incident, kind: Kind) {
        doc.push(Notification {
            seq: 0,
            kind,
            incident: inc.key.clone(),
            thread: inc.key.clone(),
            signal: inc.signal.clone(),
            started_ms: 1,
            at_ms: 2,
            lines: Vec::new(),
        });
    }

    #[test]
    fn a_merge_keeps_the_leaders_incidents_and_renumbers_the_queue() {
        let mut leader = StateDoc::default();
        let (fp_both, mine) = incident("Pod/shared");
        leader.incidents.insert(fp_both.clone(), mine.clone());
        note(&mut leader, &mine, Kind::Firing);
        note(&mut leader, &mine, Kind::Repeat);

        let mut node = StateDoc::default();
        let (_, theirs_same) = incident("Pod/shared");
        let mut theirs_same = theirs_same;
        theirs_same.key = "PodCrashLooping/Pod/shared@9".into();
        node.incidents.insert(fp_both.clone(), theirs_same);
        let (fp_a, a) = incident("Pod/a");
        let (fp_b, b) = incident("Pod/b");
        node.incidents.insert(fp_a.clone(), a.clone());
        node.incidents.insert(fp_b.clone(), b.clone());
        node.ledger.insert(
            a.key.clone(),
            Delivered {
                channel: "C1".into(),
                ts: Some("1.2".into()),
                at_ms: 3,
                resolved: false,
            },
        );
        note(&mut node, &b, Kind::Firing);

        let taken = merge(&mut leader, node);
        assert_eq!(
            taken,
            Taken {
                incidents: 2,
                queued: 1
            }
        );
        assert_eq!(
            leader.incidents[&fp_both].key, mine.key,
            "the leader's own stays"
        );
        assert!(leader.incidents.contains_key(&fp_a) && leader.incidents.contains_key(&fp_b));
        assert_eq!(
            leader.ledger[&a.key].ts.as_deref(),
            Some("1.2"),
            "the thread to resolve in"
        );
        let seqs: Vec<u64> = leader.outbox.iter().map(|n| n.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2], "renumbered after the leader's own");
        assert_eq!(leader.next_seq, 3);
        assert_eq!(leader.outbox[2].incident, b.key);
    }

    fn node_with_ready(status: &str, since_s_ago: i64) -> Node {
        let since = Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(since_s_ago);
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "status": {"conditions": [{
                "type": "Ready", "status": status,
                "lastTransitionTime": since.to_string(),
            }]},
        }))
        .unwrap()
    }

    #[test]
    fn only_a_node_not_ready_for_long_enough_is_gone() {
        let after = Duration::from_secs(300);
        let now = Timestamp::now();
        assert!(!not_ready_for(&node_with_ready("True", 3600), after, now));
        assert!(!not_ready_for(&node_with_ready("Unknown", 60), after, now));
        assert!(not_ready_for(&node_with_ready("Unknown", 301), after, now));
        assert!(not_ready_for(&node_with_ready("False", 3600), after, now));
        let no_status: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
        assert!(
            !not_ready_for(&no_status, after, now),
            "no condition yet: not gone"
        );
    }
}
