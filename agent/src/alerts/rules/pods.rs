//! Pod rules: CrashLooping, OOMKilled, image pull failures, Running-but-NotReady,
//! Pending-unschedulable and Evicted. A pod's signals name its node and its workload as
//! parents, so they fold into a firing node or workload incident.
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::Context;
use crate::alerts::rules::{self, Rules};
use crate::alerts::signal::{Scope, Signal, fingerprint};

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

    /// Every rule over one pod.
    pub fn evaluate(&mut self, pod: &Pod, rules: &Rules, cx: &Context, out: &mut Vec<Signal>) {
        if Self::healthy(pod) {
            return;
        }
        let at = At::new(pod, cx);
        if is_evicted(pod) {
            // an evicted pod is only ever this signal
            out.extend(evicted(&at, pod, rules));
            return;
        }
        let start = out.len();
        let now = Instant::now();
        for c in statuses(pod) {
            let key = format!("{}/{}/{}", at.ns, at.name, c.name);
            out.extend(self.crash_looping(&at, c, &key, rules, now));
            out.extend(oom_killed(&at, c, &key, rules));
            out.extend(image_pull_failing(&at, c, &key, rules));
        }
        out.extend(unschedulable(&at, pod, rules));
        // NotReady only when nothing more specific explains it
        if out.len() == start {
            out.extend(not_ready(&at, pod, rules));
        }
    }

    /// PodCrashLooping: a container in CrashLoopBackOff, restarted and failing again, or
    /// restarted `threshold` times within the window — unless an OOM kill explains it.
    fn crash_looping(
        &mut self,
        at: &At,
        c: &ContainerStatus,
        key: &str,
        rules: &Rules,
        now: Instant,
    ) -> Option<Signal> {
        let r = rules
            .get(rules::POD_CRASH_LOOPING)
            .filter(|r| r.applies_to(&at.ns))?;
        let last = last_terminated(c);
        let recent = self.restarts_in(key, c.restart_count, r.window, now);
        // Between back-offs the real kubelet shows the container terminated, or running for
        // a moment, instead of CrashLoopBackOff: the loop goes on while a restarted
        // container that last failed is not ready.
        let still_failing =
            c.restart_count > 0 && !c.ready && last.is_some_and(|t| t.exit_code != 0);
        // An OOM kill explains the restarts: that incident says it better.
        let explained_by_oom = rules
            .get(rules::POD_OOM_KILLED)
            .filter(|r| r.applies_to(&at.ns))
            .is_some()
            && last.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
        let looping = waiting_reason(c) == "CrashLoopBackOff"
            || still_failing
            || f64::from(recent) >= r.threshold.max(1.0);
        if explained_by_oom || !looping {
            return None;
        }
        let mut s = at
            .signal(rules::POD_CRASH_LOOPING, r, key.to_string())
            .summary(format!(
                "container {} is crash-looping ({} restarts)",
                c.name, c.restart_count
            ))
            .fact("Restarts", c.restart_count.to_string());
        if let Some(t) = last {
            s = s.fact("Last exit code", t.exit_code.to_string());
        }
        s.message = termination_message(c);
        Some(s)
    }
}

/// The pod a signal is about: its scope and the node and workload incidents it folds into.
struct At {
    ns: String,
    name: String,
    scope: Scope,
    parents: Vec<String>,
}

impl At {
    fn new(pod: &Pod, cx: &Context) -> At {
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
        At {
            ns,
            name,
            scope,
            parents,
        }
    }

    fn signal(&self, rule: &str, r: &rules::Rule, identity: String) -> Signal {
        let mut s = Signal::new(rule, r.severity, self.scope.clone(), &identity).hold(r.hold);
        s.parents = self.parents.clone();
        s
    }

    fn pod_identity(&self) -> String {
        format!("{}/{}", self.ns, self.name)
    }
}

fn last_terminated(
    c: &ContainerStatus,
) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
}

fn waiting_reason(c: &ContainerStatus) -> &str {
    c.state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
        .unwrap_or("")
}

/// The last termination's message, bounded: it is stored in the state until delivered.
fn termination_message(c: &ContainerStatus) -> Option<String> {
    last_terminated(c)
        .and_then(|t| t.message.as_deref())
        .filter(|m| !m.is_empty())
        .map(|m| vigil_contract::alert_state::excerpt(m.to_string()))
}

fn condition<'a>(
    pod: &'a Pod,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_evicted(pod: &Pod) -> bool {
    phase(pod) == "Failed"
        && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

/// PodEvicted: the pod failed with reason Evicted.
fn evicted(at: &At, pod: &Pod, rules: &Rules) -> Option<Signal> {
    let r = rules
        .get(rules::POD_EVICTED)
        .filter(|r| r.applies_to(&at.ns))?;
    let msg = pod
        .status
        .as_ref()
        .and_then(|s| s.message.clone())
        .unwrap_or_default();
    Some(
        at.signal(rules::POD_EVICTED, r, at.pod_identity())
            .summary(format!("pod was evicted: {msg}")),
    )
}

/// PodOOMKilled: a container's last termination was OOMKilled, recently or it is not
/// ready again yet. One incident per container however often it is killed.
fn oom_killed(at: &At, c: &ContainerStatus, key: &str, rules: &Rules) -> Option<Signal> {
    let r = rules
        .get(rules::POD_OOM_KILLED)
        .filter(|r| r.applies_to(&at.ns))?;
    let t = last_terminated(c).filter(|t| t.reason.as_deref() == Some("OOMKilled"))?;
    let recent = t
        .finished_at
        .as_ref()
        .is_none_or(|f| ms_ago(f) < r.window.as_millis() as u64);
    if !recent && c.ready {
        return None;
    }
    let mut s = at
        .signal(rules::POD_OOM_KILLED, r, format!("{key}/oom"))
        .summary(format!(
            "container {} was killed for exceeding its memory limit",
            c.name
        ))
        .fact("Restarts", c.restart_count.to_string());
    s.message = termination_message(c);
    Some(s)
}

/// PodImagePullFailing: a container waits with an image pull or configuration error.
fn image_pull_failing(at: &At, c: &ContainerStatus, key: &str, rules: &Rules) -> Option<Signal> {
    let reason = waiting_reason(c);
    if !PULL_REASONS.contains(&reason) {
        return None;
    }
    let r = rules
        .get(rules::POD_IMAGE_PULL)
        .filter(|r| r.applies_to(&at.ns))?;
    let mut s = at
        .signal(rules::POD_IMAGE_PULL, r, key.to_string())
        .summary(format!("container {} cannot start: {reason}", c.name))
        .fact("Image", c.image.clone());
    s.message = c
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.message.clone());
    Some(s)
}

/// PodUnschedulable: Pending, and the scheduler says Unschedulable.
fn unschedulable(at: &At, pod: &Pod, rules: &Rules) -> Option<Signal> {
    let c = condition(pod, "PodScheduled")?;
    if phase(pod) != "Pending"
        || c.status != "False"
        || c.reason.as_deref() != Some("Unschedulable")
    {
        return None;
    }
    let r = rules
        .get(rules::POD_UNSCHEDULABLE)
        .filter(|r| r.applies_to(&at.ns))?;
    Some(
        at.signal(rules::POD_UNSCHEDULABLE, r, at.pod_identity())
            .summary(format!(
                "pod cannot be scheduled: {}",
                c.message.clone().unwrap_or_default()
            )),
    )
}

/// PodNotReady: running, every container running, and not Ready.
fn not_ready(at: &At, pod: &Pod, rules: &Rules) -> Option<Signal> {
    let all_running = statuses(pod)
        .iter()
        .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()));
    let c = condition(pod, "Ready").filter(|c| c.status != "True")?;
    if phase(pod) != "Running" || !all_running {
        return None;
    }
    let r = rules
        .get(rules::POD_NOT_READY)
        .filter(|r| r.applies_to(&at.ns))?;
    Some(
        at.signal(rules::POD_NOT_READY, r, at.pod_identity())
            .summary(format!(
                "pod is running but not ready{}",
                c.message
                    .clone()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            )),
    )
}
