use std::path::Path;

use super::*;

fn parse(yaml: &str) -> Result<Config, ConfigError> {
    Config::parse(yaml, Path::new("test.yaml"))
}

fn secret_file(value: &str) -> String {
    let p = std::env::temp_dir().join(format!(
        "vigil-cfg-secret-{}-{}",
        std::process::id(),
        value.len()
    ));
    std::fs::write(&p, value).unwrap();
    p.display().to_string()
}

#[test]
fn a_full_configuration_loads_with_defaults_applied() {
    let c = secret_file("public-community");
    let yaml = format!(
        r#"
agent: {{name: coll-1, listen: "127.0.0.1:9273"}}
spool: {{dir: /tmp/x, max_size: 64MiB}}
output:
  influxdb:
    url: http://127.0.0.1:8086/
    v1: {{database: vigil}}
defaults:
  interval: 30s
  snmp: {{community: {{file: {c}}}, timeout: 1s}}
  tags: {{tenant: acme}}
profiles:
  cisco-cpu:
    fields:
      - {{name: cpu5min, oid: 1.3.6.1.4.1.9.9.109.1.1.1.1.8.1}}
devices:
  - name: fw1
    address: 192.0.2.1
    tags: {{site: ams}}
    snmp: {{retries: 3}}
    profiles: [system, if-mib, cisco-cpu]
    icmp: true
  - name: pinged
    address: 2001:db8::1
    icmp: {{count: 2}}
"#
    );
    let cfg = parse(&yaml).unwrap();
    assert_eq!(cfg.agent.name, "coll-1");
    assert_eq!(cfg.spool.max_bytes, 64 << 20);
    let out = cfg.output.as_ref().unwrap();
    assert_eq!(out.url, "http://127.0.0.1:8086");
    let fw = cfg.device("fw1").unwrap();
    assert_eq!(fw.interval, Duration::from_secs(30));
    assert_eq!(fw.tags["tenant"], "acme");
    assert_eq!(fw.tags["site"], "ams");
    let snmp = fw.snmp.as_ref().unwrap();
    assert_eq!(
        (snmp.retries, snmp.timeout, snmp.port),
        (3, Duration::from_secs(1), 161)
    );
    assert!(
        matches!(&snmp.credentials, SnmpCredentials::V2c { community } if community.expose() == "public-community")
    );
    assert_eq!(fw.profiles.len(), 3);
    let p = cfg.device("pinged").unwrap();
    assert_eq!(p.icmp.as_ref().unwrap().count, 2);
    assert!(p.snmp.is_none());
    // secrets never appear in Debug output
    assert!(!format!("{cfg:?}").contains("public-community"));
}

#[test]
fn unknown_fields_are_rejected_with_their_location() {
    let e =
        parse("devices:\n  - name: a\n    address: 10.0.0.1\n    icmp: true\n    comunity: x\n")
            .unwrap_err()
            .to_string();
    assert!(e.contains("comunity") && e.contains("line"), "{e}");
    let e = parse("output:\n  influxdb:\n    url: http://x\n    v2: {org: a, bucket: b, token: {env: X}, tokn: 1}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tokn"), "{e}");
}

#[test]
fn invalid_values_name_the_device_and_field() {
    let f = secret_file("abcdefgh");
    let cases = [
        (
            "devices:\n  - {name: a, address: 'not an address!', icmp: true}\n",
            "devices[0] (a).address",
        ),
        (
            "devices:\n  - {name: a, address: 10.0.0.1}\n",
            "nothing to collect",
        ),
        (
            "devices:\n  - {name: a, address: 10.0.0.1, icmp: true}\n  - {name: a, address: 10.0.0.2, icmp: true}\n",
            "used twice",
        ),
        (
            "devices:\n  - {name: a, address: 10.0.0.1, icmp: true, tags: {device: x}}\n",
            "set by the agent",
        ),
        (
            &format!(
                "devices:\n  - {{name: a, address: 10.0.0.1, snmp: {{version: '3', user: u, auth: {{protocol: SHA-999, password: {{file: {f}}}}}}}}}\n"
            ),
            "auth.protocol",
        ),
        (
            &format!(
                "devices:\n  - {{name: a, address: 10.0.0.1, snmp: {{community: {{file: {f}}}}}, profiles: [nope]}}\n"
            ),
            "unknown profile \"nope\"",
        ),
        (
            "devices:\n  - {name: a, address: 10.0.0.1, snmp: {community: {env: VIGIL_TEST_UNSET_X}}}\n",
            "VIGIL_TEST_UNSET_X is not set",
        ),
        (
            "devices:\n  - {name: a, address: 10.0.0.1, interval: 5, icmp: true}\n",
            "duration",
        ),
    ];
    for (yaml, want) in cases {
        let e = parse(yaml).unwrap_err().to_string();
        assert!(e.contains(want), "for {yaml:?}: {e}");
        assert!(e.starts_with("test.yaml"), "{e}");
    }
}

#[test]
fn user_profiles_resolve_mib_names_and_tables() {
    let f = secret_file("community1");
    let yaml = format!(
        r#"
profiles:
  ifaces:
    tables:
      - oid: IF-MIB::ifXTable
        fields: [{{oid: IF-MIB::ifName, tag: true}}]
  bad:
    fields: [{{oid: 1.3.6.1.2.1.1.5.0}}]
devices:
  - {{name: a, address: 10.0.0.1, snmp: {{community: {{file: {f}}}}}, profiles: [ifaces]}}
"#
    );
    let e = parse(&yaml).unwrap_err().to_string();
    assert!(
        e.contains("profiles.bad") && e.contains("`name` is required"),
        "{e}"
    );
    let cfg = parse(&yaml.replace("  bad:\n    fields: [{oid: 1.3.6.1.2.1.1.5.0}]\n", "")).unwrap();
    let t = &cfg.device("a").unwrap().profiles[0].tables[0];
    assert_eq!(t.measurement, "ifXTable");
    assert!(t.columns.iter().any(|c| c.name == "ifName" && c.tag));
    assert!(t.columns.iter().any(|c| c.name == "ifHCInOctets" && !c.tag));
}
