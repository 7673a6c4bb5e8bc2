//! Node rules: NotReady, the unreachable taint, Memory/Disk/PID pressure and flapping
//! (more Ready transitions within a window than the threshold).
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, NodeCondition};

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

    /// Every rule over one node.
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
        out.extend(not_ready(&name, &scope, &conds, rules));
        out.extend(unreachable(&name, &scope, node, rules));
        out.extend(pressure(&name, &scope, &conds, rules));
        let ready = ready_condition(&conds).is_some_and(|c| c.status == "True");
        out.extend(self.flapping(&name, scope, ready, rules, Instant::now()));
    }

    /// NodeFlapping: more Ready transitions within the window than `threshold`.
    fn flapping(
        &mut self,
        name: &str,
        scope: Scope,
        ready: bool,
        rules: &Rules,
        now: Instant,
    ) -> Option<Signal> {
        let entry = self
            .ready
            .entry(name.to_string())
            .or_insert_with(|| (ready, VecDeque::new()));
        if entry.0 != ready {
            entry.0 = ready;
            entry.1.push_back(now);
        }
        let r = rules.get(rules::NODE_FLAPPING)?;
        while entry
            .1
            .front()
            .is_some_and(|t| now.duration_since(*t) > r.window)
        {
            entry.1.pop_front();
        }
        (entry.1.len() as f64 > r.threshold).then(|| {
            Signal::new(rules::NODE_FLAPPING, r.severity, scope, name)
                .hold(r.hold)
                .summary(format!(
                    "node changed Ready state {} times within {}s",
                    entry.1.len(),
                    r.window.as_secs()
                ))
        })
    }
}

fn ready_condition(conds: &[NodeCondition]) -> Option<&NodeCondition> {
    conds.iter().find(|c| c.type_ == "Ready")
}

/// NodeNotReady: the Ready condition is not True (or missing).
fn not_ready(name: &str, scope: &Scope, conds: &[NodeCondition], rules: &Rules) -> Option<Signal> {
    let ready_cond = ready_condition(conds);
    if ready_cond.is_some_and(|c| c.status == "True") {
        return None;
    }
    let r = rules.get(rules::NODE_NOT_READY)?;
    let (status, reason, msg) = ready_cond
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .unwrap_or(("Unknown".into(), "NoReadyCondition".into(), String::new()));
    Some(
        Signal::new(rules::NODE_NOT_READY, r.severity, scope.clone(), name)
            .hold(r.hold)
            .summary(format!(
                "node is not ready (Ready={status}, {reason}): {msg}"
            ))
            .fact("Ready", status),
    )
}

/// NodeUnreachable: the node carries the `node.kubernetes.io/unreachable` taint.
fn unreachable(name: &str, scope: &Scope, node: &Node, rules: &Rules) -> Option<Signal> {
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/unreachable"));
    if !tainted {
        return None;
    }
    let r = rules.get(rules::NODE_UNREACHABLE)?;
    Some(
        Signal::new(rules::NODE_UNREACHABLE, r.severity, scope.clone(), name)
            .hold(r.hold)
            .summary("node is unreachable: its kubelet stopped reporting")
            .parent(fingerprint(rules::NODE_NOT_READY, name)),
    )
}

/// NodePressure: MemoryPressure, DiskPressure or PIDPressure is True.
fn pressure(name: &str, scope: &Scope, conds: &[NodeCondition], rules: &Rules) -> Vec<Signal> {
    let Some(r) = rules.get(rules::NODE_PRESSURE) else {
        return Vec::new();
    };
    conds
        .iter()
        .filter(|c| {
            matches!(
                c.type_.as_str(),
                "MemoryPressure" | "DiskPressure" | "PIDPressure"
            ) && c.status == "True"
        })
        .map(|c| {
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
            .parent(fingerprint(rules::NODE_NOT_READY, name))
        })
        .collect()
}
