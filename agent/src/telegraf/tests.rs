use super::*;
use crate::config::Config;

const SEED: &str = r#"
[agent]
  interval = "60s"

[[outputs.influxdb]]
  urls = ["http://127.0.0.1:8086"]
  database = "telegraf"

[[inputs.ping]]
  urls = ["198.18.1.2", "198.18.2.2", "fw1.example.net"]
  count = 4
  ping_interval = 1.0
  timeout = 2.0

[[inputs.snmp]]
  agents = ["udp://fw1.example.net:161"]
  version = 2
  community = "s3cret"
  name = "snmp"
  [[inputs.snmp.field]]
    name = "uptime"
    oid = "RFC1213-MIB::sysUpTime.0"
  [[inputs.snmp.field]]
    name = "hostname"
    oid = "RFC1213-MIB::sysName.0"
    is_tag = true
  [[inputs.snmp.table]]
    name = "interface"
    inherit_tags = ["hostname"]
    oid = "IF-MIB::ifTable"
    [[inputs.snmp.table.field]]
      name = "ifDescr"
      oid = "IF-MIB::ifDescr"
      is_tag = true

[[inputs.cpu]]
  percpu = true
"#;

#[test]
fn seed_style_config_converts_and_validates() {
    let root: toml::Table = SEED.parse().unwrap();
    let out = convert(&root).unwrap();
    assert!(
        !out.yaml.contains("s3cret"),
        "secrets are never copied:\n{}",
        out.yaml
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("inputs.cpu")),
        "{:?}",
        out.warnings
    );
    assert!(
        out.secrets
            .iter()
            .any(|s| s.starts_with("VIGIL_SNMP_COMMUNITY_1"))
    );
    // the result is a valid vigil configuration once the secret is provided (here by file)
    let secret = std::env::temp_dir().join(format!("vigil-import-{}", std::process::id()));
    std::fs::write(&secret, "s3cret\n").unwrap();
    let yaml = out.yaml.replace(
        "env: VIGIL_SNMP_COMMUNITY_1",
        &format!("file: {}", secret.display()),
    );
    let cfg = Config::parse(&yaml, std::path::Path::new("imported.yaml")).unwrap();
    let fw = cfg.device("fw1.example.net").unwrap();
    assert!(fw.icmp.is_some() && fw.snmp.is_some());
    assert_eq!(fw.icmp.as_ref().unwrap().count, 4);
    let p = &fw.profiles[0];
    let uptime = p.scalars.iter().find(|s| s.name == "uptime").unwrap();
    assert_eq!(uptime.oid.to_string(), ".1.3.6.1.2.1.1.3.0");
    assert!(p.scalars.iter().any(|s| s.name == "hostname" && s.tag));
    let t = &p.tables[0];
    assert_eq!(t.measurement, "interface");
    assert!(t.columns.iter().any(|c| c.name == "ifDescr" && c.tag));
    assert!(t.columns.iter().any(|c| c.name == "ifInOctets" && !c.tag));
    assert_eq!(t.inherit_tags, vec!["hostname".to_string()]);
    assert_eq!(cfg.devices.len(), 3);
    assert!(cfg.device("198.18.2.2").unwrap().snmp.is_none());
}

#[test]
fn imported_seed_passes_check_config() {
    let root: toml::Table = SEED.parse().unwrap();
    let out = convert(&root).unwrap();
    let dir = std::env::temp_dir().join(format!("vigil-import-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("community");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let file = dir.join("imported.yaml");
    let yaml = out.yaml.replace(
        "env: VIGIL_SNMP_COMMUNITY_1",
        &format!("file: {}", secret.display()),
    );
    std::fs::write(&file, yaml).unwrap();
    let summary = crate::commands::check_config(&file).unwrap();
    assert!(summary.contains("3 devices (1 SNMP, 3 ICMP)"), "{summary}");
    assert!(summary.contains("InfluxDB v1 http://127.0.0.1:8086 database=telegraf"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn durations_vigil_cannot_read_are_reported_not_copied() {
    let root: toml::Table =
        "[agent]\ninterval = \"1m30s\"\n[[inputs.ping]]\nurls = [\"a\"]\ntimeout = 2\n"
            .parse()
            .unwrap();
    let out = convert(&root).unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("[agent]: interval")),
        "{:?}",
        out.warnings
    );
    assert!(!out.yaml.contains("1m30s"), "{}", out.yaml);
    assert!(out.yaml.contains("timeout: 2s"), "{}", out.yaml);
}

#[test]
fn an_agent_port_that_is_not_a_number_is_reported() {
    let root: toml::Table =
        "[[inputs.snmp]]\nagents = [\"udp://10.0.0.1:snmp\"]\ncommunity = \"c\"\n"
            .parse()
            .unwrap();
    let out = convert(&root).unwrap();
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("\"udp://10.0.0.1:snmp\"") && w.contains("161")),
        "{:?}",
        out.warnings
    );
    assert!(out.yaml.contains("address: 10.0.0.1"), "{}", out.yaml);
}
