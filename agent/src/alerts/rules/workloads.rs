//! Workload and storage rules: Deployments, StatefulSets and DaemonSets missing available
//! replicas; PVCs Pending or Lost.
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;

use super::Context;
use super::pods::workload_fingerprint;
use crate::alerts::rules::{self, Rules};
use crate::alerts::signal::{Scope, Signal};

/// `(kind, object, desired, available)` of the three workload kinds.
pub enum Workload<'a> {
    Deployment(&'a Deployment),
    StatefulSet(&'a StatefulSet),
    DaemonSet(&'a DaemonSet),
}

impl Workload<'_> {
    fn facts(&self) -> (&'static str, &kube::api::ObjectMeta, i32, i32) {
        match self {
            Workload::Deployment(d) => (
                "Deployment",
                &d.metadata,
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                d.status
                    .as_ref()
                    .and_then(|s| s.available_replicas)
                    .unwrap_or(0),
            ),
            Workload::StatefulSet(s) => (
                "StatefulSet",
                &s.metadata,
                s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                s.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0),
            ),
            Workload::DaemonSet(d) => (
                "DaemonSet",
                &d.metadata,
                d.status.as_ref().map_or(0, |s| s.desired_number_scheduled),
                d.status
                    .as_ref()
                    .and_then(|s| s.number_available)
                    .unwrap_or(0),
            ),
        }
    }
}

/// WorkloadUnavailable: more replicas missing than `threshold`.
pub fn workload_unavailable(w: Workload<'_>, rules: &Rules, cx: &Context, out: &mut Vec<Signal>) {
    let (kind, meta, desired, available) = w.facts();
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let Some(r) = rules
        .get(rules::WORKLOAD_UNAVAILABLE)
        .filter(|r| r.applies_to(&ns))
    else {
        return;
    };
    let missing = desired - available;
    if f64::from(missing) <= r.threshold || missing <= 0 {
        return;
    }
    let scope = Scope {
        tenant: cx.tenant(&ns, meta.labels.as_ref()),
        namespace: Some(ns.clone()),
        workload: Some(format!("{kind}/{name}")),
        object: format!("{kind}/{name}"),
        ..Default::default()
    };
    let mut s = Signal::new(rules::WORKLOAD_UNAVAILABLE, r.severity, scope, "")
        .hold(r.hold)
        .summary(format!(
            "{missing} of {desired} replicas unavailable ({available} available)"
        ))
        .fact("Desired", desired.to_string())
        .fact("Available", available.to_string());
    s.fingerprint = workload_fingerprint(&ns, kind, &name);
    out.push(s);
}

/// PvcPending and PvcLost: the claim's phase.
pub fn pvc_pending_or_lost(
    pvc: &PersistentVolumeClaim,
    rules: &Rules,
    cx: &Context,
    out: &mut Vec<Signal>,
) {
    let ns = pvc.namespace().unwrap_or_default();
    let name = pvc.name_any();
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending");
    let rule = match phase {
        "Pending" => rules::PVC_PENDING,
        "Lost" => rules::PVC_LOST,
        _ => return,
    };
    let Some(r) = rules.get(rule).filter(|r| r.applies_to(&ns)) else {
        return;
    };
    let scope = Scope {
        tenant: cx.tenant(&ns, pvc.metadata.labels.as_ref()),
        namespace: Some(ns.clone()),
        object: format!("PVC/{name}"),
        ..Default::default()
    };
    let class = pvc
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_else(|| "(default)".into());
    out.push(
        Signal::new(rule, r.severity, scope, &format!("{ns}/{name}"))
            .hold(r.hold)
            .summary(format!("volume claim is {phase}"))
            .fact("Storage class", class),
    );
}
