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
    let v: serde_norway::Value = serde_norway::from_str(&yaml).expect("YAML");
    let v1 = &v["output"]["influxdb"]["v1"];
    assert_eq!(v1["password"]["env"], "VIGIL_INFLUXDB_PASSWORD", "{yaml}");
    assert_eq!(v1["username"], "collector");
    assert_eq!(v["devices"][0]["address"], "10.0.0.1");
    assert_eq!(v["defaults"]["tags"]["tenant"], "acme");
}

const SLACK: &str = "  alerts:\n    slack:\n      webhook: {env: VIGIL_UNIT_HOOK}\n      channel: '#noc'\n      routes: [{tags: {role: core}, channel: '#core', webhook: {env: VIGIL_UNIT_CORE_HOOK}}]\n";

fn with_hooks(t: &Tenant, default: &str, route: &str) -> Result<Tenant, validate::Error> {
    let credentials = std::collections::BTreeMap::from([
        (
            SLACK_WEBHOOK_KEY.to_owned(),
            validate::Redacted::new(default.into()),
        ),
        (
            format!("{SLACK_WEBHOOK_KEY}-route-0"),
            validate::Redacted::new(route.into()),
        ),
    ]);
    crate::tenant::apply::with_webhook_endpoints(t, &credentials, "t.yaml")
}

#[test]
fn slack_egress_follows_the_webhook_hosts_and_never_their_paths() {
    let t = with_hooks(
        &tenant(SLACK),
        "https://hooks.slack.com/services/T0/B0/s3cr3t",
        "https://[2001:db8::7]:8443/hook/s3cr3t",
    )
    .expect("URLs");
    let egress: Vec<String> = t
        .slack
        .as_ref()
        .expect("slack")
        .egress()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(egress, ["hooks.slack.com:443", "[2001:db8::7]:8443"]);
    let yaml = to_yaml(&objects(&t)).expect("YAML");
    assert!(yaml.contains("matchName: hooks.slack.com"), "{yaml}");
    assert!(yaml.contains("- 2001:db8::7/128"), "{yaml}");
    assert!(!yaml.contains("s3cr3t") && !yaml.contains("/services/"));
}

#[test]
fn a_webhook_that_is_not_a_url_is_refused_without_showing_it() {
    let err =
        with_hooks(&tenant(SLACK), "s3cr3t-not-a-url", "ftp://x/s3cr3t").expect_err("not URLs");
    let text = err.to_string();
    assert_eq!(err.problems.len(), 2, "{text}");
    assert!(text.contains("spec.alerts.slack.webhook"), "{text}");
    assert!(
        text.contains("spec.alerts.slack.routes[0].webhook"),
        "{text}"
    );
    assert!(
        text.contains("environment variable VIGIL_UNIT_HOOK is not an http"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn the_applied_webhook_hosts_are_read_back_for_drift_checks() {
    // status compares a dry run of the stored tenant with the live objects: it must render
    // the same collector policy as apply did, without reading the webhooks.
    let applied = with_hooks(
        &tenant(SLACK),
        "https://relay.example.com:8443/x",
        "http://192.0.2.9/y",
    )
    .expect("URLs");
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(serde_json::to_value(&objects(&applied)[0].object).expect("JSON"))
            .expect("namespace");
    let stored = crate::tenant::status::stored_tenant(&ns, "acme").expect("stored tenant");
    assert_eq!(
        stored.slack.as_ref().map(|s| s.egress()),
        applied.slack.as_ref().map(|s| s.egress())
    );
    assert_eq!(
        to_yaml(&objects(&stored)).expect("YAML"),
        to_yaml(&objects(&applied)).expect("YAML")
    );
}

#[test]
fn slack_egress_cidrs_are_network_addresses() {
    let file = spec::parse(
        "t.yaml",
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  alerts:\n    slack: {webhook: {env: X}, channel: '#noc', egressCidrs: [34.224.0.1/12, nope]}\n  devices:\n  - {name: r1, address: 10.0.0.1}\n",
    )
    .expect("parses");
    let err = validate::validate("t.yaml", &file, Path::new("/")).expect_err("invalid");
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.alerts.slack.egressCidrs[0]",
            "spec.alerts.slack.egressCidrs[1]"
        ]
    );
    let ok = tenant(
        "  networkPolicy: {mode: kubernetes}\n  alerts:\n    slack: {webhook: {env: X}, channel: '#noc', egressCidrs: [34.224.0.0/12]}\n",
    );
    let yaml = to_yaml(&objects(&ok)).expect("YAML");
    assert!(yaml.contains("cidr: 34.224.0.0/12"), "{yaml}");
    assert!(!yaml.contains("except:\n        - 10.0.0.0/8\n        - 172.16.0.0/12\n        - 192.168.0.0/16\n        - 100.64.0.0/10\n        - 169.254.0.0/16\n        - 127.0.0.0/8"), "the collector's rule is narrowed");
}
