//! Device rules on the collector's real measurements: the sandbox's namespace hosts are
//! polled by the collector's own ICMP path and every round is handed to device alerting.
//! The host that never answers is DeviceDown after three rounds; the +50 ms host is
//! LatencyHigh; the 30 %-loss host is PacketLoss; the healthy host raises nothing.
use std::path::Path;
use std::time::Duration;

use tokio::sync::watch;
use vigil_agent::commands::alerting::start_devices;
use vigil_agent::config::alerting::AlertingConfig;
use vigil_agent::telemetry::Metrics;
use vigil_tests::{SlackRecorder, require_sandbox, wait_for};

use crate::common::{TempDir, collect, config, secret};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_hosts_raise_the_device_rules_they_should() {
    let sb = require_sandbox!();
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("alerts-devices");
    let mut yaml =
        String::from("defaults:\n  icmp: {count: 10, interval: 20ms, timeout: 500ms}\ndevices:\n");
    for (dev, host) in [
        ("fw", "down"),
        ("core", "up"),
        ("wan", "slow"),
        ("branch", "lossy"),
    ] {
        yaml.push_str(&format!(
            "  - {{name: {dev}, address: {}, icmp: true}}\n",
            sb.icmp_host(host)
        ));
    }
    let collector = config(&dir, &yaml);
    let hook = secret(&dir, "hook", &rec.webhook_url("acme"));
    let alerts = AlertingConfig::parse(
        &format!(
            "cluster: {{name: collector, state_file: {}, evaluation_interval: 200ms}}
rules: {{LatencyHigh: {{threshold: 40}}, PacketLoss: {{threshold: 20}}}}
slack: {{default: {{webhook: {hook}}}, min_interval: 100ms}}",
            dir.path().join("alerts.json").display()
        ),
        Path::new("alerts.yaml"),
    )
    .unwrap();
    let metrics = std::sync::Arc::new(Metrics::new("collector-it"));
    let (_stop, stop_rx) = watch::channel(false);
    let alerting = start_devices(
        &alerts,
        "collector-it",
        Some("acme".into()),
        Default::default(),
        &metrics,
        None,
        stop_rx,
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let (points, _) = collect(&collector).await;
        alerting.observe(&points);
    }
    for (rule, object) in [
        ("DeviceDown", "Device/fw"),
        ("LatencyHigh", "Device/wan"),
        ("PacketLoss", "Device/branch"),
    ] {
        wait_for(
            &rec,
            &format!("{rule} for {object}"),
            Duration::from_secs(30),
            |reqs| {
                reqs.iter()
                    .any(|r| r.text().contains(rule) && r.text().contains(&format!("{object}`")))
                    .then_some(())
            },
        )
        .await;
    }
    let reqs = rec.delivered();
    assert!(
        !reqs.iter().any(|r| r.text().contains("Device/core`")),
        "the healthy host raised an alert"
    );
    assert_eq!(
        reqs.iter()
            .filter(|r| r.text().contains("DeviceDown"))
            .count(),
        1,
        "DeviceDown once"
    );
    assert!(reqs.iter().all(|r| r.method == "webhook/acme"));
}

/// The whole path in the real binary: `vigil-agent run` with `agent.alerts` polls the host
/// that never answers and posts DeviceDown to the tenant's Slack webhook; the healthy host
/// raises nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_with_agent_alerts_posts_device_down() {
    let sb = require_sandbox!();
    let rec = SlackRecorder::start().await.unwrap();
    let dir = TempDir::new("alerts-run");
    let hook = secret(&dir, "hook", &rec.webhook_url("acme"));
    let alerts = dir.file(
        "alerts.yaml",
        &format!(
            "cluster: {{name: collector, state_file: {}, evaluation_interval: 200ms}}\n\
             slack: {{default: {{webhook: {hook}}}, min_interval: 100ms}}\n",
            dir.path().join("alerts-state.json").display()
        ),
    );
    let collector = dir.file(
        "vigil.yaml",
        &format!(
            "agent: {{name: acme-collector, tenant: acme, alerts: {alerts}}}\n\
             spool: {{dir: {spool}}}\n\
             output: {{influxdb: {{url: {url}, v1: {{database: vigil_alerts_run}}}}}}\n\
             defaults:\n  interval: 1s\n  jitter: 0s\n  icmp: {{count: 2, interval: 50ms, timeout: 300ms}}\n\
             devices:\n\
             - {{name: fw, address: {down}, icmp: true}}\n\
             - {{name: core, address: {up}, icmp: true}}\n",
            alerts = alerts.display(),
            spool = dir.path().join("spool").display(),
            url = sb.influxdb_url,
            down = sb.icmp_host("down"),
            up = sb.icmp_host("up"),
        ),
    );
    let mut agent = tokio::process::Command::new(env!("CARGO_BIN_EXE_vigil-agent"))
        .arg("run")
        .arg("--config")
        .arg(&collector)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for(&rec, "DeviceDown for fw", Duration::from_secs(30), |reqs| {
        reqs.iter()
            .any(|r| r.text().contains("DeviceDown") && r.text().contains("Device/fw`"))
            .then_some(())
    })
    .await;
    let _ = agent.start_kill();
    let _ = agent.wait().await;
    let reqs = rec.delivered();
    assert!(
        !reqs.iter().any(|r| r.text().contains("Device/core`")),
        "the answering host raised an alert"
    );
    assert_eq!(
        reqs.iter()
            .filter(|r| r.text().contains("DeviceDown") && r.text().contains("Device/fw`"))
            .count(),
        1,
        "DeviceDown posted exactly once"
    );
}
