//! Unit tests of the builders on a parsed spec (no cluster).

use std::path::Path;

use super::*;
use crate::tenant::{spec, validate};

fn tenant(extra: &str) -> Tenant {
    let text = format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: acme\nspec:\n  devices:\n  - {{name: r1, address: 10.0.0.1}}\n{extra}"
    );
    let file = spec::parse("t.yaml", &text).expect("parses");
    validate::validate("t.yaml", &file, Path::new("/")).expect("valid")
}

fn objects(t: &Tenant) -> Vec<Object> {
    manifests(t, &Options::default()).expect("builds")
}

fn deployment(t: &Tenant, name: &str) -> k8s_openapi::api::apps::v1::Deployment {
    let o = objects(t)
        .into_iter()
        .find(|o| o.kind() == "Deployment" && o.name() == name)
        .expect("deployment");
    serde_json::from_value(serde_json::to_value(&o.object).expect("json")).expect("typed")
}

#[test]
fn failover_tolerations_default_to_30_seconds() {
    let d = deployment(&tenant(""), "acme-grafana");
    let tolerations = d
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.tolerations)
        .expect("tolerations");
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let t = tolerations
            .iter()
            .find(|t| t.key.as_deref() == Some(key))
            .expect(key);
        assert_eq!(t.toleration_seconds, Some(30));
        assert_eq!(t.effect.as_deref(), Some("NoExecute"));
    }
}

#[test]
fn collector_replicas_are_required_apart_single_writers_recreate() {
    let t = tenant("  collector: {replicas: 2}\n");
    let collector = deployment(&t, "acme-collector");
    let anti = collector
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.affinity.clone())
        .and_then(|a| a.pod_anti_affinity)
        .expect("anti-affinity");
    let required = anti
        .required_during_scheduling_ignored_during_execution
        .expect("required");
    assert_eq!(required[0].topology_key, "kubernetes.io/hostname");
    for single in ["acme-influxdb", "acme-grafana"] {
        let d = deployment(&t, single);
        assert_eq!(
            d.spec
                .and_then(|s| s.strategy)
                .and_then(|s| s.type_)
                .as_deref(),
            Some("Recreate")
        );
    }
}

#[test]
fn every_object_has_the_standard_labels_and_the_tenant_namespace() {
    for o in objects(&tenant("")) {
        let labels = o.object.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(TENANT_LABEL).map(String::as_str),
            Some("acme"),
            "{}",
            o.id()
        );
        assert_eq!(
            labels.get(MANAGED_BY_LABEL).map(String::as_str),
            Some("vigil"),
            "{}",
            o.id()
        );
        if o.kind() != "Namespace" {
            assert_eq!(
                o.object.metadata.namespace.as_deref(),
                Some("acme"),
                "{}",
                o.id()
            );
        }
    }
}

#[test]
fn secrets_are_completed_never_regenerated() {
    let first = SecretValues::complete(Default::default(), Default::default());
    assert_eq!(first.generated.len(), SecretKey::ALL.len());
    let again = SecretValues::complete(first.generated.clone(), Default::default());
    assert_eq!(again.generated, first.generated);
    let other = SecretValues::complete(Default::default(), Default::default());
    assert_ne!(
        other.generated[&SecretKey::InfluxAdminToken],
        first.generated[&SecretKey::InfluxAdminToken]
    );
    assert!(first.generated[&SecretKey::InfluxAdminToken].expose().len() >= 40);
    assert_eq!(
        format!("{:?}", first.generated[&SecretKey::InfluxAdminToken]),
        "[redacted]"
    );
}

#[test]
fn policy_modes_select_templates() {
    let count = |extra: &str, kind: &str| {
        objects(&tenant(extra))
            .iter()
            .filter(|o| o.kind() == kind)
            .count()
    };
    assert_eq!(count("", "CiliumNetworkPolicy"), 5);
    assert_eq!(
        count("  networkPolicy: {mode: kubernetes}\n", "NetworkPolicy"),
        5
    );
    assert_eq!(
        count("  networkPolicy: {mode: none}\n", "NetworkPolicy")
            + count("  networkPolicy: {mode: none}\n", "CiliumNetworkPolicy"),
        0
    );
}

#[test]
fn collector_config_holds_paths_not_secrets() {
    let t = tenant("");
    let cm = objects(&t)
        .into_iter()
        .find(|o| o.name() == "acme-collector-config")
        .expect("config");
    let yaml = cm.object.data["data"]["collector.yaml"]
        .as_str()
        .expect("collector.yaml")
        .to_owned();
    let v: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("YAML");
    let v1 = &v["output"]["influxdb"]["v1"];
    assert_eq!(v1["password"]["env"], "VIGIL_INFLUXDB_PASSWORD", "{yaml}");
    assert_eq!(v1["username"], "collector");
    assert_eq!(v["devices"][0]["address"], "10.0.0.1");
    assert_eq!(v["defaults"]["tags"]["tenant"], "acme");
}
