//! Pod rules: CrashLooping, OOMKilled, image pull failures, Running-but-NotReady,
//! Pending-unschedulable and Evicted. A pod's signals name its node and its workload as
//! parents, so they fold into a firing node or workload incident.
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::Context;
use crate::alerts::rules::{self, Rules};
use crate::alerts::signal::{Scope, Signal, fingerprint};

/// Characters of a termination message kept (Slack shows at most ~3,000).
const MESSAGE_KEEP: usize = 4000;

const PULL_REASONS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
];

/// Restart counts seen per container, to count restarts within a window.
#[derive(Default)]
pub struct PodRules {
    restarts: HashMap<String, VecDeque<(Instant, i32)>>,
}

/// The workload owning a pod: `(kind, name)`; ReplicaSets are mapped to their Deployment
/// through the `pod-template-hash` suffix.
pub fn owner(pod: &Pod) -> Option<(String, String)> {
    let o = pod
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    match o.kind.as_str() {
        "ReplicaSet" => {
            let hash = pod.metadata.labels.as_ref()?.get("pod-template-hash")?;
            let name = o.name.strip_suffix(&format!("-{hash}"))?;
            Some(("Deployment".into(), name.to_string()))
        }
        "StatefulSet" | "DaemonSet" => Some((o.kind.clone(), o.name.clone())),
        _ => None,
    }
}

pub fn workload_fingerprint(namespace: &str, kind: &str, name: &str) -> String {
    fingerprint(
        rules::WORKLOAD_UNAVAILABLE,
        &format!("{namespace}/{kind}/{name}"),
    )
}

pub fn node_parents(node: &str) -> [String; 2] {
    [
        fingerprint(rules::NODE_NOT_READY, node),
        fingerprint(rules::NODE_UNREACHABLE, node),
    ]
}

fn statuses(pod: &Pod) -> Vec<&ContainerStatus> {
    let Some(s) = pod.status.as_ref() else {
        return Vec::new();
    };
    s.init_container_statuses
        .iter()
        .flatten()
        .chain(s.container_statuses.iter().flatten())
        .collect()
}

fn ms_ago(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> u64 {
    let now = k8s_openapi::jiff::Timestamp::now().as_millisecond();
    u64::try_from(now - t.0.as_millisecond()).unwrap_or(0)
}

impl PodRules {
    fn restarts_in(&mut self, key: &str, count: i32, window: Duration, now: Instant) -> i32 {
        let h = self.restarts.entry(key.to_string()).or_default();
        if h.back().is_none_or(|(_, c)| *c != count) {
            h.push_back((now, count));
        }
        // keep one entry older than the window as the baseline
        while h.len() > 1
            && h.get(1)
                .is_some_and(|(t, _)| now.duration_since(*t) > window)
        {
            h.pop_front();
        }
        let base = h.front().map_or(count, |(_, c)| *c);
        (count - base).max(0)
    }

    /// Forgets containers of pods that are gone.
    pub fn retain(&mut self, live: &std::collections::HashSet<String>) {
        self.restarts
            .retain(|k, _| live.contains(k.rsplit_once('/').map_or(k.as_str(), |x| x.0)));
    }

    /// Whether no rule can fire for the pod: running, every container ready and running,
    /// never restarted. Most pods of a cluster, skipped without allocating.
    fn healthy(pod: &Pod) -> bool {
        let Some(status) = pod.status.as_ref() else {
            return false;
        };
        status.phase.as_deref() == Some("Running")
            && status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True")
            && statuses(pod).iter().all(|c| {
                c.ready
                    && c.restart_count == 0
                    && c.state.as_ref().is_some_and(|s| s.running.is_some())
                    && c.last_state.as_ref().is_none_or(|s| s.terminated.is_none())
            })
    }

    /// Whether restart history is kept for any container (see [`PodRules::retain`]).
    pub fn has_history(&self) -> bool {
        !self.restarts.is_empty()
    }

    pub fn evaluate(&mut self, pod: &Pod, rules: &Rules, cx: &Context, out: &mut Vec<Signal>) {
        if Self::healthy(pod) {
            return;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let workload = owner(pod);
        let scope = Scope {
            tenant: cx.tenant(&ns, pod.metadata.labels.as_ref()),
            namespace: Some(ns.clone()),
            workload: workload.as_ref().map(|(k, n)| format!("{k}/{n}")),
            node: node.clone(),
            device: None,
            object: format!("Pod/{name}"),
            tags: Default::default(),
        };
        let mut parents: Vec<String> = Vec::new();
        if let Some((k, n)) = &workload {
            parents.push(workload_fingerprint(&ns, k, n));
        }
        if let Some(n) = &node {
            parents.extend(node_parents(n));
        }
        let start = out.len();
        let mk = |rule: &str, r: &rules::Rule, identity: String| {
            let mut s = Signal::new(rule, r.severity, scope.clone(), &identity).hold(r.hold);
            s.parents = parents.clone();
            s
        };
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
        let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("");
        if phase == "Failed" && reason == "Evicted" {
            if let Some(r) = rules.get(rules::POD_EVICTED).filter(|r| r.applies_to(&ns)) {
                let msg = status.and_then(|s| s.message.clone()).unwrap_or_default();
                out.push(
                    mk(rules::POD_EVICTED, r, format!("{ns}/{name}"))
                        .summary(format!("pod was evicted: {msg}")),
                );
            }
            return;
        }
        let now = Instant::now();
        for c in statuses(pod) {
            let key = format!("{ns}/{name}/{}", c.name);
            let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
            let wreason = waiting.and_then(|w| w.reason.as_deref()).unwrap_or("");
            let last = c.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            // bounded here: it is stored in the state object until delivered
            let term_msg = last
                .and_then(|t| t.message.as_deref())
                .filter(|m| !m.is_empty())
                .map(|m| m.chars().take(MESSAGE_KEEP).collect::<String>());
            let oom_rule = rules
                .get(rules::POD_OOM_KILLED)
                .filter(|r| r.applies_to(&ns));
            let oom_last = last.filter(|t| t.reason.as_deref() == Some("OOMKilled"));
            if let Some(r) = rules
                .get(rules::POD_CRASH_LOOPING)
                .filter(|r| r.applies_to(&ns))
            {
                let recent = self.restarts_in(&key, c.restart_count, r.window, now);
                // Between back-offs the real kubelet shows the container terminated, or
                // running for a moment, instead of CrashLoopBackOff: the loop goes on while a
                // restarted container that last failed is not ready.
                let still_failing =
                    c.restart_count > 0 && !c.ready && last.is_some_and(|t| t.exit_code != 0);
                // An OOM kill explains the restarts: that incident says it better.
                let explained_by_oom = oom_rule.is_some() && oom_last.is_some();
                if !explained_by_oom
                    && (wreason == "CrashLoopBackOff"
                        || still_failing
                        || f64::from(recent) >= r.threshold.max(1.0))
                {
                    let exit = last.map(|t| t.exit_code.to_string()).unwrap_or_default();
                    let mut s = mk(rules::POD_CRASH_LOOPING, r, key.clone())
                        .summary(format!(
                            "container {} is crash-looping ({} restarts)",
                            c.name, c.restart_count
                        ))
                        .fact("Restarts", c.restart_count.to_string());
                    if !exit.is_empty() {
                        s = s.fact("Last exit code", exit);
                    }
                    s.message = term_msg.clone();
                    out.push(s);
                }
            }
            if let Some(r) = oom_rule
                && let Some(t) = oom_last
            {
                let recent = t
                    .finished_at
                    .as_ref()
                    .is_none_or(|f| ms_ago(f) < r.window.as_millis() as u64);
                if recent || !c.ready {
                    // One incident per container: a container killed again and again (the
                    // real kubelet restarts it with back-off) is one OOM loop, not one
                    // message per kill.
                    let mut s = mk(rules::POD_OOM_KILLED, r, format!("{key}/oom"))
                        .summary(format!(
                            "container {} was killed for exceeding its memory limit",
                            c.name
                        ))
                        .fact("Restarts", c.restart_count.to_string());
                    s.message = term_msg.clone();
                    out.push(s);
                }
            }
            if PULL_REASONS.contains(&wreason)
                && let Some(r) = rules
                    .get(rules::POD_IMAGE_PULL)
                    .filter(|r| r.applies_to(&ns))
            {
                let mut s = mk(rules::POD_IMAGE_PULL, r, key.clone())
                    .summary(format!("container {} cannot start: {wreason}", c.name))
                    .fact("Image", c.image.clone());
                s.message = waiting.and_then(|w| w.message.clone());
                out.push(s);
            }
        }
        let cond = |t: &str| {
            status
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == t))
        };
        if phase == "Pending"
            && let Some(c) = cond("PodScheduled")
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && let Some(r) = rules
                .get(rules::POD_UNSCHEDULABLE)
                .filter(|r| r.applies_to(&ns))
        {
            out.push(
                mk(rules::POD_UNSCHEDULABLE, r, format!("{ns}/{name}")).summary(format!(
                    "pod cannot be scheduled: {}",
                    c.message.clone().unwrap_or_default()
                )),
            );
        }
        // NotReady only when nothing more specific explains it
        let all_running = statuses(pod)
            .iter()
            .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
        if out.len() == start
            && phase == "Running"
            && all_running
            && cond("Ready").is_some_and(|c| c.status != "True")
            && let Some(r) = rules
                .get(rules::POD_NOT_READY)
                .filter(|r| r.applies_to(&ns))
        {
            let c = cond("Ready");
            out.push(
                mk(rules::POD_NOT_READY, r, format!("{ns}/{name}")).summary(format!(
                    "pod is running but not ready{}",
                    c.and_then(|c| c.message.clone())
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )),
            );
        }
    }
}
