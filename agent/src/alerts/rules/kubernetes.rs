//! The cluster rules over the objects the Kubernetes watchers hold: one call turns the
//! current pods, nodes, workloads and PVCs into the complete set of active signals. The
//! rules keep a little memory (restart history, Ready transitions) between calls.
use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::ResourceExt;

use super::nodes::NodeRules;
use super::pods::PodRules;
use super::workloads::{Workload, pvc_pending_or_lost, workload_unavailable};
use super::{Context, Rules};
use crate::alerts::signal::Signal;

/// What the watchers hold right now. `None` for a kind this scope does not watch.
#[derive(Debug, Default)]
pub struct Objects {
    pub pods: Option<Vec<Arc<Pod>>>,
    pub nodes: Option<Vec<Arc<Node>>>,
    pub deployments: Vec<Arc<Deployment>>,
    pub statefulsets: Vec<Arc<StatefulSet>>,
    pub daemonsets: Vec<Arc<DaemonSet>>,
    pub pvcs: Vec<Arc<PersistentVolumeClaim>>,
}

/// The pod, node, workload and PVC rules of one alerting scope.
pub struct KubeRules {
    pods: PodRules,
    nodes: NodeRules,
    rules: Arc<Rules>,
    cx: Context,
}

impl KubeRules {
    pub fn new(rules: Arc<Rules>, cx: Context) -> KubeRules {
        KubeRules {
            pods: PodRules::default(),
            nodes: NodeRules::default(),
            rules,
            cx,
        }
    }

    /// The complete set of active signals for these objects.
    pub fn signals(&mut self, objects: &Objects) -> Vec<Signal> {
        let mut out = Vec::new();
        let rules = self.rules.clone();
        if let Some(pods) = &objects.pods {
            if self.pods.has_history() {
                let live: HashSet<String> = pods
                    .iter()
                    .map(|p| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any()))
                    .collect();
                self.pods.retain(&live);
            }
            for p in pods {
                self.pods.evaluate(p, &rules, &self.cx, &mut out);
            }
        }
        if let Some(nodes) = &objects.nodes {
            let live: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
            self.nodes.retain(&live);
            for n in nodes {
                self.nodes.evaluate(n, &rules, &self.cx, &mut out);
            }
        }
        for d in &objects.deployments {
            workload_unavailable(Workload::Deployment(d), &rules, &self.cx, &mut out);
        }
        for d in &objects.statefulsets {
            workload_unavailable(Workload::StatefulSet(d), &rules, &self.cx, &mut out);
        }
        for d in &objects.daemonsets {
            workload_unavailable(Workload::DaemonSet(d), &rules, &self.cx, &mut out);
        }
        for p in &objects.pvcs {
            pvc_pending_or_lost(p, &rules, &self.cx, &mut out);
        }
        out
    }
}
