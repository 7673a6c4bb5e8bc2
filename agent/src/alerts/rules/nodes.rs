//! Node rules: NotReady, the unreachable taint, Memory/Disk/PID pressure and flapping
//! (more Ready transitions within a window than the threshold).
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use k8s_openapi::api::core::v1::Node;

use super::Context;
use crate::alerts::rules::{self, Rules};
use crate::alerts::signal::{Scope, Signal, fingerprint};

#[derive(Default)]
pub struct NodeRules {
    /// Last Ready status and the times it changed.
    ready: HashMap<String, (bool, VecDeque<Instant>)>,
}

impl NodeRules {
    pub fn retain(&mut self, live: &std::collections::HashSet<String>) {
        self.ready.retain(|k, _| live.contains(k));
    }

    pub fn evaluate(&mut self, node: &Node, rules: &Rules, cx: &Context, out: &mut Vec<Signal>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let scope = Scope {
            tenant: cx.tenant("", node.metadata.labels.as_ref()),
            node: Some(name.clone()),
            object: format!("Node/{name}"),
            ..Default::default()
        };
        let conds = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let ready_cond = conds.iter().find(|c| c.type_ == "Ready");
        let ready = ready_cond.is_some_and(|c| c.status == "True");
        let not_ready_fp = fingerprint(rules::NODE_NOT_READY, &name);
        if !ready && let Some(r) = rules.get(rules::NODE_NOT_READY) {
            let (status, reason, msg) = ready_cond
                .map(|c| {
                    (
                        c.status.clone(),
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default(),
                    )
                })
                .unwrap_or(("Unknown".into(), "NoReadyCondition".into(), String::new()));
            out.push(
                Signal::new(rules::NODE_NOT_READY, r.severity, scope.clone(), &name)
                    .hold(r.hold)
                    .summary(format!(
                        "node is not ready (Ready={status}, {reason}): {msg}"
                    ))
                    .fact("Ready", status),
            );
        }
        let unreachable = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/unreachable"));
        if unreachable && let Some(r) = rules.get(rules::NODE_UNREACHABLE) {
            out.push(
                Signal::new(rules::NODE_UNREACHABLE, r.severity, scope.clone(), &name)
                    .hold(r.hold)
                    .summary("node is unreachable: its kubelet stopped reporting")
                    .parent(not_ready_fp.clone()),
            );
        }
        if let Some(r) = rules.get(rules::NODE_PRESSURE) {
            for c in &conds {
                if matches!(
                    c.type_.as_str(),
                    "MemoryPressure" | "DiskPressure" | "PIDPressure"
                ) && c.status == "True"
                {
                    out.push(
                        Signal::new(
                            rules::NODE_PRESSURE,
                            r.severity,
                            scope.clone(),
                            &format!("{name}/{}", c.type_),
                        )
                        .hold(r.hold)
                        .summary(format!(
                            "node has {}: {}",
                            c.type_,
                            c.message.clone().unwrap_or_default()
                        ))
                        .fact("Condition", c.type_.clone())
                        .parent(not_ready_fp.clone()),
                    );
                }
            }
        }
        let now = Instant::now();
        let entry = self
            .ready
            .entry(name.clone())
            .or_insert_with(|| (ready, VecDeque::new()));
        if entry.0 != ready {
            entry.0 = ready;
            entry.1.push_back(now);
        }
        if let Some(r) = rules.get(rules::NODE_FLAPPING) {
            while entry
                .1
                .front()
                .is_some_and(|t| now.duration_since(*t) > r.window)
            {
                entry.1.pop_front();
            }
            if entry.1.len() as f64 > r.threshold {
                out.push(
                    Signal::new(rules::NODE_FLAPPING, r.severity, scope, &name)
                        .hold(r.hold)
                        .summary(format!(
                            "node changed Ready state {} times within {}s",
                            entry.1.len(),
                            r.window.as_secs()
                        )),
                );
            }
        }
    }
}
