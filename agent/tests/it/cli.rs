//! The command line as a user meets it: exit codes, messages, `once` output.
use std::process::Command;

use crate::common::{BIN, TempDir};

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(BIN);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_accepts_a_valid_file_and_rejects_typos_with_exit_2() {
    let dir = TempDir::new("cli-check");
    let good = dir.file("good.yaml", "devices:\n  - {name: fw1, address: 192.0.2.1, snmp: {community: {env: VIGIL_IT_COMMUNITY}}}\n");
    let (code, out, err) = run(
        &["check-config", good.to_str().unwrap()],
        &[("VIGIL_IT_COMMUNITY", "sup3r-secret")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 devices (1 SNMP, 0 ICMP)"), "{out}");
    assert!(!out.contains("sup3r-secret") && !err.contains("sup3r-secret"));

    let (code, _, err) = run(&["check-config", good.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("devices[0] (fw1).snmp.community")
            && err.contains("VIGIL_IT_COMMUNITY is not set"),
        "{err}"
    );

    let typo = dir.file(
        "typo.yaml",
        "devices:\n  - name: fw1\n    address: 192.0.2.1\n    icmp: true\n    intervall: 30s\n",
    );
    let (code, _, err) = run(&["check-config", typo.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("typo.yaml")
            && err.contains("unknown field `intervall`")
            && err.contains("line 5"),
        "{err}"
    );

    let (code, _, err) = run(&["check-config", "/nonexistent/vigil.yaml"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/vigil.yaml"), "{err}");
}

/// Settings that would make a timer panic or every request time out at once are refused
/// (exit 2, the field and the fix), instead of a collector that crashes or never writes.
#[test]
fn zero_intervals_timeouts_and_sizes_are_refused_with_exit_2() {
    let dir = TempDir::new("cli-zero");
    let output = "output: {influxdb: {url: 'http://127.0.0.1:8086', v1: {database: d}";
    let cases: &[(&str, &str)] = &[
        (
            "agent: {self_metrics_interval: 0s}\n",
            "agent.self_metrics_interval",
        ),
        ("agent: {concurrency: 0}\n", "agent.concurrency"),
        (
            "OUT, flush_interval: 0s}}\n",
            "output.influxdb.flush_interval",
        ),
        ("OUT, timeout: 0s}}\n", "output.influxdb.timeout"),
        ("OUT, batch_size: 0}}\n", "output.influxdb.batch_size"),
        (
            "OUT, parallel_writes: 0}}\n",
            "output.influxdb.parallel_writes",
        ),
        ("defaults: {interval: 0s}\n", "interval"),
        ("defaults: {snmp: {timeout: 0s}}\n", "snmp.timeout"),
        ("defaults: {icmp: {interval: 0s}}\n", "icmp.interval"),
        ("defaults: {icmp: {timeout: 0s}}\n", "icmp.timeout"),
    ];
    let community = dir.secret("community", "public");
    let mut failures = Vec::new();
    for (i, (yaml, field)) in cases.iter().enumerate() {
        let yaml = yaml.replace("OUT", output);
        let file = dir.file(
            &format!("zero-{i}.yaml"),
            &format!(
                "{yaml}devices:\n  - {{name: fw1, address: 192.0.2.1, snmp: {{community: {community}}}, icmp: true}}\n"
            ),
        );
        let (code, _, err) = run(&["check-config", file.to_str().unwrap()], &[]);
        if code != 2 || !err.contains(field) || !err.contains("must be") {
            failures.push(format!("{yaml:?}: exit {code}: {err}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn once_prints_line_protocol_for_one_device_and_writes_nothing() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("cli-once");
    let cfg = dir.file(
        "c.yaml",
        &format!(
            "output:\n  influxdb: {{url: 'http://127.0.0.1:9', v1: {{database: nowhere}}}}\nspool: {{dir: {}}}\ndevices:\n  - {{name: switch, address: {}, snmp: {{community: {{env: VIGIL_IT_C}}, port: {}}}}}\n  - {{name: up, address: {}, icmp: {{count: 2, interval: 100ms}}}}\n",
            dir.path().join("spool").display(),
            sb.snmpsim.ip(),
            sb.snmpsim.port(),
            sb.icmp_host("up")
        ),
    );
    let (code, out, err) = run(
        &[
            "once",
            "--config",
            cfg.to_str().unwrap(),
            "--device",
            "switch",
        ],
        &[("VIGIL_IT_C", "cisco-c3560")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("snmp,agent_host=") && l.contains("hostname=")),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.starts_with("interface,")).count() > 10,
        "{out}"
    );
    assert!(!out.contains("ping,"), "only the named device");
    assert!(
        !dir.path().join("spool").exists(),
        "once must not spool or write"
    );

    let (code, _, err) = run(
        &[
            "once",
            "--config",
            cfg.to_str().unwrap(),
            "--device",
            "nope",
        ],
        &[("VIGIL_IT_C", "x")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("no device named \"nope\""), "{err}");
}

#[test]
fn import_telegraf_converts_the_seed_config() {
    let dir = TempDir::new("cli-import");
    let conf = dir.file(
        "telegraf.conf",
        r#"
[[inputs.ping]]
  urls = ["198.18.1.2", "198.18.2.2"]
  count = 3

[[inputs.snmp]]
  agents = ["udp://127.0.0.1:161"]
  version = 2
  community = "public-secret"
  [[inputs.snmp.field]]
    name = "uptime"
    oid = "RFC1213-MIB::sysUpTime.0"
  [[inputs.snmp.field]]
    name = "hostname"
    oid = "RFC1213-MIB::sysName.0"
    is_tag = true
  [[inputs.snmp.table]]
    name = "interface"
    oid = "IF-MIB::ifTable"
    [[inputs.snmp.table.field]]
      oid = "IF-MIB::ifDescr"
      is_tag = true
  [[inputs.snmp.table]]
    name = "cisco_cpu"
    [[inputs.snmp.table.field]]
      name = "cpu"
      oid = "CISCO-PROCESS-MIB::cpmCPUTotal5minRev"
"#,
    );
    let (code, yaml, err) = run(&["import-telegraf", conf.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!yaml.contains("public-secret"));
    assert!(err.contains("secret: VIGIL_SNMP_COMMUNITY_1"), "{err}");
    // the converted file is checked by check-config: the unknown MIB name is reported there
    let out = dir.file("vigil.yaml", &yaml);
    let (code, _, err2) = run(
        &["check-config", out.to_str().unwrap()],
        &[("VIGIL_SNMP_COMMUNITY_1", "public-secret")],
    );
    assert_eq!(code, 2, "{yaml}");
    assert!(
        err2.contains("CISCO-PROCESS-MIB::cpmCPUTotal5minRev") && err2.contains("numeric OID"),
        "{err2}"
    );
    let fixed = yaml.replace(
        "CISCO-PROCESS-MIB::cpmCPUTotal5minRev",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.8",
    );
    let out = dir.file("vigil2.yaml", &fixed);
    let (code, stdout, err3) = run(
        &["check-config", out.to_str().unwrap()],
        &[("VIGIL_SNMP_COMMUNITY_1", "public-secret")],
    );
    assert_eq!(code, 0, "{err3}\n{fixed}");
    assert!(stdout.contains("3 devices (1 SNMP, 2 ICMP)"), "{stdout}");

    let bad = dir.file("bad.conf", "[[inputs.snmp]\n");
    let (code, _, err) = run(&["import-telegraf", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.conf") && err.contains("TOML"), "{err}");
}

#[tokio::test]
async fn run_for_a_while_prints_what_was_collected() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("cli-run-for");
    let r = vigil_tests::http()
        .post(format!("{}/query", sb.influxdb_url))
        .form(&[("q", "CREATE DATABASE vigil_it_run_for")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let cfg = dir.file(
        "c.yaml",
        &format!(
            "spool: {{dir: {}}}\noutput:\n  influxdb: {{url: '{}', v1: {{database: vigil_it_run_for}}, flush_interval: 200ms}}\ndefaults: {{interval: 2s}}\ndevices:\n  - {{name: switch, address: {}, snmp: {{community: {{env: VIGIL_IT_C}}, port: {}}}, icmp: true}}\n  - {{name: gone, address: {}, icmp: {{count: 1, timeout: 500ms}}}}\n",
            dir.path().join("spool").display(),
            sb.influxdb_url,
            sb.snmpsim.ip(),
            sb.snmpsim.port(),
            sb.icmp_host("down"),
        ),
    );
    let (code, out, err) = run(
        &["run", "--config", cfg.to_str().unwrap(), "--for", "5s"],
        &[("VIGIL_IT_C", "cisco-c3560")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("snmp  1/1 devices answering"), "{out}");
    assert!(
        out.contains("icmp  1/2 devices answering") && out.contains("(not answering: gone)"),
        "{out}"
    );
    let written: u64 = out
        .split(" collected, ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(written > 50, "{out}");
    assert!(out.contains(" written, 0 rejected, 0 dropped"), "{out}");
}
