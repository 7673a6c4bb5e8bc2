//! The rendered tenant manifests provision exactly the dashboards of `dashboards/`, byte for
//! byte, through Grafana's file provider, with the datasource uid every panel references.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{self, DATASOURCE_UID};
use crate::find;

const TENANT: &str = "acme-dash";

fn manifests() -> Vec<(String, String, Value)> {
    let yaml = format!(
        "apiVersion: vigil.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: {TENANT}\nspec:\n  devices:\n  - name: core-sw-1\n    address: 10.20.0.1\n    snmp:\n      version: v2c\n      community: {{env: ACME_SNMP_COMMUNITY}}\n"
    );
    crate::render(&yaml, std::env::temp_dir()).1
}

/// `key: value` of a flat line in a small YAML document.
fn yaml_value<'a>(doc: &'a str, key: &str) -> Option<&'a str> {
    doc.lines().find_map(|l| {
        l.trim_start_matches([' ', '-'])
            .strip_prefix(&format!("{key}:"))
            .map(str::trim)
    })
}

#[test]
fn rendered_tenant_mounts_exactly_these_dashboards_read_only() {
    let objects = manifests();

    // the dashboards ConfigMap holds every dashboards/*.json, unchanged, and nothing else
    let cm = find(
        &objects,
        "ConfigMap",
        &format!("{TENANT}-grafana-dashboards"),
    );
    let data: BTreeMap<String, String> =
        serde_json::from_value(cm["data"].clone()).expect("string data");
    let files: BTreeMap<String, String> = model::load_all()
        .into_iter()
        .map(|d| {
            let text =
                std::fs::read_to_string(model::dir().join(&d.file)).expect("readable dashboard");
            (d.file, text)
        })
        .collect();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "the ConfigMap's keys are the dashboard files"
    );
    // a ConfigMap holds at most 1 MiB; leave room for the dashboards to grow
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    assert!(
        size < 768 * 1024,
        "the dashboards ConfigMap holds {size} bytes, close to the 1 MiB limit of a ConfigMap"
    );
    for (file, text) in &files {
        assert!(
            data[file] == *text,
            "{file} in the ConfigMap differs from dashboards/{file}"
        );
    }

    // Grafana mounts that ConfigMap where the provider reads dashboards from
    let config = find(&objects, "ConfigMap", &format!("{TENANT}-grafana-config"));
    let provider = config["data"]["dashboards.yaml"]
        .as_str()
        .expect("a dashboard provider");
    let path = yaml_value(provider, "path").expect("the provider has a path");
    assert_eq!(yaml_value(provider, "type"), Some("file"), "{provider}");
    // read-only in Grafana: changes come through vigil
    assert_eq!(
        yaml_value(provider, "allowUiUpdates"),
        Some("false"),
        "{provider}"
    );
    assert_eq!(
        yaml_value(provider, "disableDeletion"),
        Some("true"),
        "{provider}"
    );
    assert!(
        yaml_value(provider, "folder") == Some(format!("\"{TENANT}\"").as_str()),
        "dashboards go into a folder named after the tenant: {provider}"
    );

    let deployment = find(&objects, "Deployment", &format!("{TENANT}-grafana"));
    let pod = &deployment["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["configMap"]["name"] == format!("{TENANT}-grafana-dashboards"))
        .expect("a volume from the dashboards ConfigMap");
    assert!(
        volume["configMap"]["items"].is_null(),
        "every key of the ConfigMap is mounted: {volume}"
    );
    let mounts: Vec<&Value> = pod["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
        .filter(|m| m["name"] == volume["name"])
        .collect();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(
        mounts[0]["mountPath"], path,
        "mounted where the provider reads"
    );
    assert_eq!(mounts[0]["readOnly"], true);

    // the datasource every panel references is provisioned with that uid, for InfluxQL
    let datasources = config["data"]["datasources.yaml"]
        .as_str()
        .expect("a datasource");
    assert_eq!(
        yaml_value(datasources, "uid"),
        Some(DATASOURCE_UID),
        "{datasources}"
    );
    assert_eq!(
        yaml_value(datasources, "type"),
        Some("influxdb"),
        "{datasources}"
    );
    assert!(
        yaml_value(datasources, "version").is_none_or(|v| !v.eq_ignore_ascii_case("flux")),
        "InfluxQL, not Flux: {datasources}"
    );
}
