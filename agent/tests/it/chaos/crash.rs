//! A process crash loses nothing that was handed over.
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use rand::Rng;
use vigil_tests::{ChildProcess, eventually};

use crate::common::{BIN, TempDir, influxql, rows, secret};
use crate::influxd::Influxd;

/// How many times the collector is SIGKILLed (more with `VIGIL_CHAOS_KILLS`).
fn kills() -> usize {
    std::env::var("VIGIL_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// `(device, ts)` of every "poll handed over" line in the collector's log that handed
/// points over (a failed poll, e.g. an SNMP timeout on a loaded machine, hands over none).
fn handed_over(log: &str) -> BTreeSet<(String, i64)> {
    log.lines()
        .filter(|l| l.contains("poll handed over"))
        .filter_map(|l| {
            let field = |k: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(&format!("{k}=")))
                    .map(|v| v.trim_matches('"').to_owned())
            };
            let points: usize = field("points")?.parse().ok()?;
            (points > 0).then_some(())?;
            Some((field("device")?, field("ts")?.parse().ok()?))
        })
        .collect()
}

/// Timestamps of `device` in `measurement`, with how many points each has.
async fn stored(url: &str, measurement: &str, device: &str) -> BTreeMap<i64, usize> {
    let v = influxql(
        url,
        "chaos",
        &format!("SELECT * FROM {measurement} WHERE device = '{device}'"),
    )
    .await
    .unwrap();
    let mut m = BTreeMap::new();
    for r in rows(&v) {
        *m.entry(r[0].as_i64().unwrap()).or_insert(0) += 1;
    }
    m
}

/// The collector (a 10 s flush interval, so points wait in the batcher) is SIGKILLed at
/// random moments, some of them in the middle of spool writes, and started again each time;
/// InfluxDB is killed before a random one of those runs. Then InfluxDB comes back: every
/// poll any of those processes handed over is stored, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_collector_loses_no_poll_it_handed_over() {
    let sb = vigil_tests::require_sandbox!();
    let dir = TempDir::new("chaos-crash");
    let mut influx = Influxd::start(dir.path().to_path_buf()).await;
    influx.create_db("chaos").await;
    let yaml = format!(
        r#"
agent: {{name: chaos, self_metrics_interval: 1h}}
spool: {{dir: {spool}, max_size: 64MiB}}
output:
  influxdb: {{url: "{url}", v1: {{database: chaos}}, flush_interval: 10s, timeout: 1s}}
defaults: {{interval: 2s, jitter: 0s}}
devices:
  - name: switch
    address: {sim_ip}
    snmp: {{community: {c}, port: {sim_port}}}
    profiles: [system]
  - name: up
    address: {up}
    icmp: {{count: 1}}
"#,
        spool = dir.path().join("spool").display(),
        url = influx.url,
        sim_ip = sb.snmpsim.ip(),
        sim_port = sb.snmpsim.port(),
        c = secret(&dir, "c", "cisco-c3560"),
        up = sb.icmp_host("up"),
    );
    let cfg = dir.file("vigil.yaml", &yaml);
    let log = dir.path().join("agent.log");
    let start = || {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"])
            .arg(&cfg)
            .env("VIGIL_LOG", "info,vigil_agent::scheduler=debug")
            .env("NO_COLOR", "1");
        ChildProcess::spawn(cmd, log.clone())
    };
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();

    // InfluxDB dies at a random moment too: before one of the runs, or in its middle
    let influx_dies = rand::rng().random_range(0..kills());
    for run in 0..kills() {
        if run == influx_dies {
            influx.down();
        }
        let mut agent = start();
        let before = handed_over(&read_log()).len();
        // a kill is only interesting once this process has handed something over
        eventually(
            &format!("run {run} hands polls over"),
            Duration::from_secs(20),
            || async {
                let now = handed_over(&read_log()).len();
                if now > before {
                    Ok(())
                } else {
                    Err(format!("{now} handed over"))
                }
            },
        )
        .await;
        // the fault: SIGKILL at a random moment of the poll cycle (polls, journal
        // writes, spool writes of the previous run's journal)
        let at = Duration::from_millis(rand::rng().random_range(0..4000));
        tokio::time::sleep(at).await;
        agent.kill();
    }
    let expected = handed_over(&read_log());
    assert!(
        expected.len() >= kills() * 2,
        "{} polls handed over",
        expected.len()
    );

    influx.up().await;
    // an influxd killed right after CREATE DATABASE may restart without it (its meta store
    // is not yet on disk): create it again, as an operator would (idempotent)
    influx.create_db("chaos").await;
    let mut agent = start();
    let url = influx.url.clone();
    eventually(
        "every poll handed over before the kills is stored",
        Duration::from_secs(60),
        || async {
            let mut missing = Vec::new();
            for (device, measurement) in [("switch", "snmp"), ("up", "ping")] {
                let have = stored(&url, measurement, device).await;
                missing.extend(
                    expected
                        .iter()
                        .filter(|(d, ts)| d == device && !have.contains_key(ts))
                        .map(|(d, ts)| format!("{d}@{ts}")),
                );
            }
            if missing.is_empty() {
                return Ok(());
            }
            // enough to tell a slow drain from a loss when this fails
            let spooled: Vec<String> = std::fs::read_dir(dir.path().join("spool"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            let problems: Vec<String> = read_log()
                .lines()
                .filter(|l| {
                    l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("recovered")
                })
                .map(str::to_owned)
                .collect();
            Err(format!(
                "missing {missing:?}\nspool: {spooled:?}\nlog:\n{}",
                problems.join("\n")
            ))
        },
    )
    .await;
    agent.terminate(Duration::from_secs(20));
    for (device, measurement) in [("switch", "snmp"), ("up", "ping")] {
        let have = stored(&influx.url, measurement, device).await;
        assert!(
            have.values().all(|&n| n == 1),
            "{device}: one point per timestamp"
        );
        // a process may be killed between a hand-over and its log line: at most one
        // stored poll per kill is not in the log, never more
        let extra = have
            .keys()
            .filter(|ts| !expected.contains(&(device.to_owned(), **ts)))
            .count();
        let last_run = handed_over(&read_log()).len() - expected.len();
        assert!(
            extra <= kills() + last_run,
            "{device}: {extra} stored polls nobody handed over"
        );
    }
}
