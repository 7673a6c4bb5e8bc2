use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use serde_json::json;

use super::Context;
use super::nodes::NodeRules;
use super::pods::{PodRules, owner};
use crate::alerts::rules::{RawRule, Rules};
use crate::config::units::Dur;

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
