//! The contract between `vigil` and `vigil-agent` (crate `vigil-contract`), proven end to
//! end without a cluster: what the deployer renders for the golden tenants is what the agent
//! reads. The credentials it names are written to a temporary directory first, as the
//! collector's Secret volume would hold them.
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigil_agent::config::Config;
use vigil_agent::config::alerting::AlertingConfig;
use vigil_contract::names;

/// Where the collector finds its credentials (the Secret's mount in its pod).
const CREDENTIALS_DIR: &str = "/etc/vigil/credentials/";
const PASSWORD_ENV: &str = "env: VIGIL_INFLUXDB_PASSWORD";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deployer/tests/golden")
}

/// The rendered file `key` of the tenant's collector ConfigMap, with its credentials moved
/// to `dir`.
fn rendered(tenant: &str, key: &str, dir: &Path) -> Option<String> {
    let spec = std::fs::read_to_string(golden_dir().join(format!("{tenant}.tenant.yaml")))
        .expect("golden tenant");
    let (t, objects) = super::render(&spec, golden_dir());
    let cm = super::find(
        &objects,
        "ConfigMap",
        &format!("{}-collector-config", t.name),
    );
    let text = cm["data"][key].as_str()?;
    // one value fits every credential: a webhook URL, also a long enough SNMP password
    for (file, _, _) in vigil_deployer::tenant::build::collector_credentials(&t) {
        std::fs::write(
            dir.join(file),
            "https://hooks.example/services/T/B/credential\n",
        )
        .expect("write credential");
    }
    std::fs::write(dir.join("influxdb-password"), "password\n").expect("write password");
    let moved = format!("{}/", dir.display());
    Some(text.replace(CREDENTIALS_DIR, &moved).replace(
        PASSWORD_ENV,
        &format!("file: {}", dir.join("influxdb-password").display()),
    ))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(super::unique(&format!("vigil-contract-{name}")));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn what_the_deployer_renders_for_the_golden_tenants_parses_in_the_agent() {
    for tenant in ["small", "full"] {
        let dir = temp_dir(tenant);
        let text = rendered(tenant, names::COLLECTOR_CONFIG_FILE, &dir).expect("collector.yaml");
        let config = Config::parse(&text, Path::new("collector.yaml"))
            .unwrap_or_else(|e| panic!("{tenant}: the agent refuses collector.yaml: {e}\n{text}"));
        assert!(!config.devices.is_empty(), "{tenant}: devices");
        assert!(config.output.is_some(), "{tenant}: output");
        assert_eq!(config.agent.tenant.as_deref(), Some(tenant_name(tenant)));
        if let Some(alerts) = rendered(tenant, names::COLLECTOR_ALERTS_FILE, &dir) {
            let c = AlertingConfig::parse(&alerts, Path::new("alerts.yaml")).unwrap_or_else(|e| {
                panic!("{tenant}: the agent refuses alerts.yaml: {e}\n{alerts}")
            });
            assert!(
                !c.engine.digest.as_ref().is_some_and(|d| d.is_legacy()),
                "{tenant}: the digest is rendered as crontab, not the deprecated six fields"
            );
            assert!(config.agent.alerts.is_some(), "{tenant}: alerts file named");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

fn tenant_name(golden: &str) -> &'static str {
    match golden {
        "small" => "smallco",
        _ => "acme",
    }
}

/// The cluster agent's `agent.yaml` as `vigil agent render` writes it (the golden files the
/// deployer's tests pin) parses in the agent, with the Slack credentials where the Secret
/// would be mounted.
#[test]
fn what_vigil_agent_install_renders_parses_in_the_agent() {
    for golden in ["agent-full"] {
        let text = std::fs::read_to_string(golden_dir().join(format!("{golden}.golden.yaml")))
            .expect("golden install");
        let cm = serde_norway::Deserializer::from_str(&text)
            .filter_map(|d| serde_json::Value::deserialize(d).ok())
            .find(|v| v["kind"] == "ConfigMap" && v["metadata"]["name"] == "vigil-agent-config")
            .expect("the agent's ConfigMap");
        let yaml = cm["data"]["agent.yaml"].as_str().expect("agent.yaml");
        let dir = temp_dir(golden);
        std::fs::write(dir.join("token"), "xoxb-credential\n").expect("token");
        for file in ["webhook", "tenant.globex.webhook"] {
            std::fs::write(dir.join(file), "https://hooks.example/services/T/B/X\n")
                .expect("webhook");
        }
        let yaml = yaml.replace("/etc/vigil-slack/", &format!("{}/", dir.display()));
        let c = AlertingConfig::parse(&yaml, Path::new("agent.yaml"))
            .unwrap_or_else(|e| panic!("{golden}: the agent refuses agent.yaml: {e}\n{yaml}"));
        assert_eq!(c.name, "prod-eu-1");
        assert_eq!(c.engine.windows.len(), 1, "{golden}: maintenance window");
        assert!(c.engine.digest.is_some(), "{golden}: digest");
        std::fs::remove_dir_all(&dir).ok();
    }
}
