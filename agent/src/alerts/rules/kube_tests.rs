use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use serde_json::json;

use super::Context;
use super::nodes::NodeRules;
use super::pods::{PodRules, owner};
use crate::alerts::rules::{RawRule, Rules};
use vigil_contract::units::Dur;

fn node(ready: &str, taint: bool) -> Node {
    let mut n = json!({
        "metadata": {"name": "n1"},
        "status": {"conditions": [
            {"type": "Ready", "status": ready},
            {"type": "DiskPressure", "status": "True", "message": "disk <!channel> full"},
        ]},
    });
    if taint {
        n["spec"] =
            json!({"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]});
    }
    serde_json::from_value(n).unwrap()
}

fn rules() -> Rules {
    let mut raw = std::collections::BTreeMap::new();
    raw.insert(
        "NodeFlapping".to_string(),
        RawRule {
            threshold: Some(2.0),
            window: Some(Dur(Duration::from_secs(60))),
            ..Default::default()
        },
    );
    Rules::new(&raw).unwrap()
}

#[test]
fn node_conditions_taints_and_flapping() {
    let (rules, cx, mut nr) = (rules(), Context::default(), NodeRules::default());
    let mut out = Vec::new();
    nr.evaluate(&node("Unknown", true), &rules, &cx, &mut out);
    let names: Vec<&str> = out.iter().map(|s| s.rule.as_str()).collect();
    assert_eq!(
        names,
        vec!["NodeNotReady", "NodeUnreachable", "NodePressure"]
    );
    assert_eq!(
        out[1].parents,
        vec![out[0].fingerprint.clone()],
        "the taint folds into NotReady"
    );
    let mut flaps = Vec::new();
    for ready in ["True", "Unknown", "True"] {
        flaps.clear();
        nr.evaluate(&node(ready, false), &rules, &cx, &mut flaps);
    }
    assert!(
        flaps.iter().any(|s| s.rule == "NodeFlapping"),
        "3 transitions > 2"
    );
}

#[test]
fn missing_optional_fields_do_not_panic_and_owners_resolve() {
    let (rules, cx) = (Rules::defaults(), Context::default());
    let bare: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(json!({"metadata": {}})).unwrap();
    let mut out = Vec::new();
    PodRules::default().evaluate(&bare, &rules, &cx, &mut out);
    NodeRules::default().evaluate(
        &serde_json::from_value(json!({"metadata": {}})).unwrap(),
        &rules,
        &cx,
        &mut out,
    );
    assert_eq!(out.len(), 1, "a node without status is NotReady: {out:?}");
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "api-7d4b9-x2x", "labels": {"pod-template-hash": "7d4b9"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d4b9", "uid": "u", "controller": true}]},
    }))
    .unwrap();
    assert_eq!(owner(&pod), Some(("Deployment".into(), "api".into())));
}

/// A pod as the real kubelet 1.20 writes it for a container `app` (see the sandbox's real
/// nodes): `state` and `last_state` of the container, its readiness and restart count.
fn real_pod(
    state: serde_json::Value,
    last: serde_json::Value,
    ready: bool,
    restarts: i32,
) -> k8s_openapi::api::core::v1::Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "t"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [{
                "name": "app", "image": "i", "imageID": "", "ready": ready,
                "restartCount": restarts, "state": state, "lastState": last,
            }],
        },
    }))
    .unwrap()
}

fn fired(pr: &mut PodRules, pod: &k8s_openapi::api::core::v1::Pod) -> Vec<(String, String)> {
    let mut out = Vec::new();
    pr.evaluate(pod, &Rules::defaults(), &Context::default(), &mut out);
    out.into_iter().map(|s| (s.rule, s.fingerprint)).collect()
}

#[test]
fn a_real_crash_loop_holds_its_signal_between_back_offs() {
    // kubelet 1.20 flips between CrashLoopBackOff, the terminated container and a running
    // one between back-offs; the crash loop is one condition throughout, not one per flip.
    let error = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    let mut pr = PodRules::default();
    let states = [
        (
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}),
            1,
        ),
        (error.clone(), 2),
        (json!({"running": {"startedAt": "2026-12-03T10:00:00Z"}}), 2),
        (
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s"}}),
            2,
        ),
    ];
    let mut fingerprints = std::collections::BTreeSet::new();
    for (state, restarts) in states {
        let f = fired(
            &mut pr,
            &real_pod(state.clone(), error.clone(), false, restarts),
        );
        let crash: Vec<_> = f.iter().filter(|(r, _)| r == "PodCrashLooping").collect();
        assert_eq!(crash.len(), 1, "{state}: {f:?}");
        fingerprints.insert(crash[0].1.clone());
    }
    assert_eq!(fingerprints.len(), 1, "one incident for the whole loop");
    // recovered: running and ready
    let ok = real_pod(json!({"running": {}}), error, true, 2);
    assert!(
        fired(&mut pr, &ok)
            .iter()
            .all(|(r, _)| r != "PodCrashLooping")
    );
}

#[test]
fn a_real_oom_loop_is_one_oom_incident_and_no_crash_loop() {
    let oom = json!({"terminated": {"exitCode": 137, "reason": "OOMKilled",
                                     "finishedAt": k8s_openapi::jiff::Timestamp::now().to_string()}});
    let mut pr = PodRules::default();
    let mut fingerprints = std::collections::BTreeSet::new();
    for (state, restarts) in [
        (json!({"waiting": {"reason": "CrashLoopBackOff"}}), 1),
        (json!({"running": {}}), 2),
        (json!({"waiting": {"reason": "CrashLoopBackOff"}}), 3),
    ] {
        let f = fired(
            &mut pr,
            &real_pod(state.clone(), oom.clone(), false, restarts),
        );
        assert!(
            f.iter().all(|(r, _)| r != "PodCrashLooping"),
            "the OOM kill explains the restarts: {f:?}"
        );
        let o: Vec<_> = f.iter().filter(|(r, _)| r == "PodOOMKilled").collect();
        assert_eq!(o.len(), 1, "{state}: {f:?}");
        fingerprints.insert(o[0].1.clone());
    }
    assert_eq!(fingerprints.len(), 1, "one incident for the whole OOM loop");
}
